// How far behind the write side is a projection? A writer appends deposits to a global log (entry id
// `0-<position>`); a projector in a worker thread (its own event loop and connection, as a separate process
// would have) tails the log with XREAD BLOCK and applies each batch in one MULTI/EXEC together with its
// checkpoint. The lag of an event is the time from just before its XADD to the EXEC that made it visible.
// Two workloads: a steady 1,000 events/s for 5 s, then a burst of 50,000 events written as fast as possible.
// REDIS_URL=redis://127.0.0.1:6379 node docs/04-cqrs/projection-lag.mjs
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const LOG = 'lag:all';
const CHECKPOINT = 'lag:proj:balances:checkpoint';
/** Milliseconds on a clock both threads share (the worker's performance.now() has its own origin). */
const now = () => performance.timeOrigin + performance.now();

if (!isMainThread) {
  // The projector: read after the checkpoint, apply the batch and move the checkpoint in one transaction.
  const redis = new Redis(url);
  let checkpoint = Number((await redis.get(CHECKPOINT)) ?? 0);
  const lags = [];
  for (;;) {
    const reply = await redis.xread(
      'COUNT',
      workerData.batch,
      'BLOCK',
      1000,
      'STREAMS',
      LOG,
      `0-${checkpoint}`,
    );
    if (reply === null) continue;
    const entries = reply[0][1];
    const tx = redis.multi();
    let stop = false;
    for (const [, fields] of entries) {
      const event = Object.fromEntries(
        fields.map((v, i, all) => (i % 2 ? [] : [v, all[i + 1]])).filter((p) => p.length),
      );
      if (event.type === 'Stop') stop = true;
      else tx.hincrby(`lag:proj:balances:${event.account}`, 'balance', Number(event.amount));
    }
    checkpoint = Number(entries.at(-1)[0].split('-')[1]);
    tx.set(CHECKPOINT, checkpoint);
    await tx.exec();
    const visible = now();
    for (const [, fields] of entries) {
      const at = fields[fields.indexOf('at') + 1];
      if (at !== undefined && fields.includes('MoneyDeposited')) lags.push(visible - Number(at));
    }
    if (stop) {
      parentPort.postMessage({ lags, caughtUpAt: visible });
      break;
    }
  }
  redis.disconnect();
} else {
  const redis = new Redis(url);
  const at = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const info = await redis.info('server');
  console.log(
    `Node ${process.version}, Redis ${info.match(/redis_version:(\S+)/)[1]}, XREAD COUNT = projector batch`,
  );
  console.log(
    'workload                               | batch | events/s written | lag p50 ms | p99 ms | max ms | after the last write, caught up in',
  );

  let position = 0;
  const append = (pipeline, type, extra = []) =>
    pipeline.xadd(LOG, `0-${++position}`, 'type', type, ...extra);

  async function run(label, batch, write) {
    await redis.del(LOG, CHECKPOINT);
    await redis.eval("for _, k in ipairs(redis.call('KEYS', 'lag:proj:*')) do redis.call('DEL', k) end", 0);
    position = 0;
    const worker = new Worker(new URL(import.meta.url), { workerData: { batch } });
    const done = new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the projector connect and block
    const started = now();
    const count = await write();
    const lastWritten = now();
    const stop = redis.pipeline();
    append(stop, 'Stop');
    await stop.exec();
    const { lags, caughtUpAt } = await done;
    lags.sort((a, b) => a - b);
    console.log(
      `${label.padEnd(38)} | ${String(batch).padStart(5)} | ` +
        `${Math.round((count / (lastWritten - started)) * 1000)
          .toLocaleString('en')
          .padStart(16)} | ` +
        `${at(lags, 0.5).toFixed(1).padStart(10)} | ${at(lags, 0.99).toFixed(1).padStart(6)} | ${lags.at(-1).toFixed(1).padStart(6)} | ` +
        `${(caughtUpAt - lastWritten).toFixed(0)} ms`,
    );
    await worker.terminate();
  }

  // Steady: 10 events every 10 ms for 5 s (1,000 events/s), each tick scheduled from the start time.
  await run('steady 1,000 events/s for 5 s', 100, async () => {
    let written = 0;
    const start = now();
    for (let tick = 0; tick < 500; tick++) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + tick * 10 - now())));
      const p = redis.pipeline();
      for (let i = 0; i < 10; i++) {
        append(p, 'MoneyDeposited', ['account', `acc-${written % 50}`, 'amount', '100', 'at', String(now())]);
        written++;
      }
      await p.exec();
    }
    return written;
  });

  // Burst: 50,000 events in pipelines of 1,000, as fast as Redis takes them; projector batches of 100, then 1,000.
  const burst = async () => {
    let written = 0;
    for (let chunk = 0; chunk < 50; chunk++) {
      const p = redis.pipeline();
      for (let i = 0; i < 1000; i++) {
        append(p, 'MoneyDeposited', ['account', `acc-${written % 50}`, 'amount', '100', 'at', String(now())]);
        written++;
      }
      await p.exec();
    }
    return written;
  };
  await run('burst of 50,000 events', 100, burst);
  await run('burst of 50,000 events', 1000, burst);

  const balances = await redis.hget('lag:proj:balances:acc-0', 'balance');
  console.log(`check: acc-0 received 1,000 deposits of 100 in the burst; its read model says ${balances}`);
  await redis.del(LOG, CHECKPOINT);
  await redis.eval("for _, k in ipairs(redis.call('KEYS', 'lag:proj:*')) do redis.call('DEL', k) end", 0);
  redis.disconnect();
}
