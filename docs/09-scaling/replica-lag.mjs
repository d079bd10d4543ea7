// Read-your-writes against a Redis replica: write on the primary, then read the same key at once from the
// replica. Asynchronous replication sends the write to the replica after the primary has answered, so the read
// can come back stale. Then the same with WAIT 1 100 after each write (block until 1 replica has acknowledged
// the write, or 100 ms), and with the read sent to the primary instead. Each case runs twice: on idle servers,
// and while another connection bulk-loads 16 KB values into the primary (a batch import), which is when
// replicas fall behind.
// Start a replica next to your Redis first, for example:
//   redis-server --port 6380 --save '' --appendonly no --replicaof 127.0.0.1 6379
// REDIS_URL=redis://127.0.0.1:6379 REPLICA_URL=redis://127.0.0.1:6380 node docs/09-scaling/replica-lag.mjs
import os from 'node:os';
import { Redis } from 'ioredis';

const TRIES = 2000;
const primary = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const replica = new Redis(process.env.REPLICA_URL ?? 'redis://127.0.0.1:6380');
const role = (await replica.info('replication')).match(/role:(\S+)/)[1];
const link = (await replica.info('replication')).match(/master_link_status:(\S+)/)?.[1];
if (role !== 'slave' || link !== 'up')
  throw new Error(`REPLICA_URL is not a connected replica (role ${role}, link ${link})`);
const version = (await primary.info('server')).match(/redis_version:(\S+)/)[1];
console.log(
  `Node ${process.version}, Redis ${version}, primary and replica on this machine (loopback), ` +
    `${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(2)}; ${TRIES} writes each`,
);
const key = `lag:${process.pid}`;

async function run(label, afterWrite, reader) {
  let stale = 0;
  const start = performance.now();
  for (let i = 1; i <= TRIES; i++) {
    await primary.set(key, String(i));
    await afterWrite();
    if ((await reader.get(key)) !== String(i)) stale++;
  }
  const ms = (performance.now() - start) / TRIES;
  console.log(
    `${label.padEnd(46)} stale reads ${String(stale).padStart(4)} of ${TRIES} (${((100 * stale) / TRIES).toFixed(1)}%)` +
      `   ${ms.toFixed(3)} ms per write+read`,
  );
}
const loader = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const replicaInfo = new Redis(process.env.REPLICA_URL ?? 'redis://127.0.0.1:6380');
const blob = 'x'.repeat(16_384);
let loading = false;
let maxLagBytes = 0;
/** Pipelines batches of 50 SETs of 16 KB (into 500 keys, overwritten) until stopped; samples the lag. */
async function bulkLoad() {
  for (let batch = 0; loading && batch < 100_000; batch++) {
    const p = loader.pipeline();
    for (let i = 0; i < 50; i++) p.set(`${key}:bulk:${(batch * 50 + i) % 500}`, blob);
    await p.exec();
    if (batch % 20 === 0) {
      // The primary's offset first, then how far the replica has applied (its own INFO, not the once-a-second ACK).
      const primaryOffset = Number((await loader.info('replication')).match(/master_repl_offset:(\d+)/)[1]);
      const replicaOffset = Number(
        (await replicaInfo.info('replication')).match(/slave_repl_offset:(\d+)/)[1],
      );
      maxLagBytes = Math.max(maxLagBytes, primaryOffset - replicaOffset);
    }
  }
}
for (const busy of [false, true]) {
  console.log(busy ? 'while another connection bulk-loads 16 KB values into the primary:' : 'idle servers:');
  loading = busy;
  const load = busy ? bulkLoad() : Promise.resolve();
  await run('  SET on primary, GET on replica', async () => {}, replica);
  await run('  SET, WAIT 1 100 on primary, GET on replica', () => primary.wait(1, 100), replica);
  await run('  SET on primary, GET on primary', async () => {}, primary);
  loading = false;
  await load;
}
console.log(
  `largest replication lag seen during the bulk load: ${(maxLagBytes / 1024).toFixed(0)} KB behind the primary`,
);
await primary.del(key, ...Array.from({ length: 500 }, (_, i) => `${key}:bulk:${i}`));
await loader.quit();
await replicaInfo.quit();
console.log(`load average after: ${os.loadavg()[0].toFixed(2)}`);
await primary.quit();
await replica.quit();
