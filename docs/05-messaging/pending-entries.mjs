// What a consumer group's pending entries list (PEL) does when consumers die, with real Redis:
//   1. XAUTOCLAIM scans at most COUNT x 10 PEL entries per call, so a page can come back empty while the
//      cursor is not 0-0: 200 live entries (just claimed by a live worker) sit in front of 20 stale ones.
//   2. Every claim adds one to an entry's delivery count (JUSTID does not), and so does re-reading one's own
//      pending entries; a live worker can restart its entry's idle time by claiming it for itself.
//   3. Trimming the stream (XADD ... MAXLEN) removes entries that are still pending: the PEL keeps their
//      ids, XREADGROUP 0 hands them back without fields, and XAUTOCLAIM drops them and reports them in
//      its third reply element (Redis 7.0+).
// REDIS_URL=redis://127.0.0.1:6379 node docs/05-messaging/pending-entries.mjs
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(url);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const key = `pel:${process.pid}`;
const version = (await redis.info('server')).match(/redis_version:(\S+)/)[1];
console.log(`Redis ${version}, Node ${process.version}`);

// 1. The scan limit. 220 jobs, all read by worker "dead"; 300 ms later a live worker claims the first 200
//    (their idle time restarts at 0), so the PEL is 200 fresh entries followed by 20 stale ones.
await redis.del(key);
await redis.xgroup('CREATE', key, 'workers', '$', 'MKSTREAM');
const ids = [];
for (let i = 1; i <= 220; i++) ids.push(await redis.xadd(key, '*', 'job', String(i)));
await redis.xreadgroup('GROUP', 'workers', 'dead', 'COUNT', 220, 'STREAMS', key, '>');
await sleep(300);
await redis.xclaim(key, 'workers', 'live', 0, ...ids.slice(0, 200), 'JUSTID');
console.log('\n1. XAUTOCLAIM min-idle 250 ms, COUNT 10, over 200 fresh + 20 stale pending entries');
let cursor = '0-0';
let page = 0;
let claimed = 0;
do {
  const [next, entries, deleted] = await redis.xautoclaim(
    key,
    'workers',
    'rescuer',
    250,
    cursor,
    'COUNT',
    10,
  );
  page++;
  claimed += entries.length;
  const at = (id) => (id === '0-0' ? '0-0' : `job ${ids.indexOf(id) + 1}`);
  console.log(
    `   page ${page}: start ${at(cursor).padEnd(7)} -> ${String(entries.length).padStart(2)} claimed, ` +
      `${deleted.length} deleted, next cursor ${at(next)}`,
  );
  cursor = next;
} while (cursor !== '0-0');
console.log(
  `   ${claimed} stale entries claimed in ${page} calls; a loop that stopped at the first empty page claims none`,
);

// 2. Delivery counts: read once, then two more claims.
const [first] = ids;
const count = async () => (await redis.xpending(key, 'workers', first, first, 1))[0][3];
console.log('\n2. delivery count of job 1 (XPENDING, 4th field)');
console.log(`   after XREADGROUP by "dead", then XCLAIM ... JUSTID by "live" (step 1): ${await count()}`);
await redis.xclaim(key, 'workers', 'other', 0, first);
console.log(`   after one more XCLAIM: ${await count()}`);
await redis.xclaim(key, 'workers', 'other', 0, first, 'JUSTID');
console.log(`   after an XCLAIM ... JUSTID: ${await count()} (unchanged)`);
await redis.xreadgroup('GROUP', 'workers', 'other', 'STREAMS', key, '0');
console.log(`   after "other" re-reads its own pending entries with XREADGROUP ... 0: ${await count()}`);

// A slow but live worker can keep its entry from looking abandoned: claiming its own entry with min-idle 0
// and JUSTID restarts the idle time and leaves the delivery count alone (a heartbeat, like a lock renewal).
await sleep(300);
const before = (await redis.xpending(key, 'workers', first, first, 1))[0];
await redis.xclaim(key, 'workers', before[1], 0, first, 'JUSTID');
const after = (await redis.xpending(key, 'workers', first, first, 1))[0];
console.log(
  `   heartbeat: "${before[1]}" runs XCLAIM ... ${before[1]} 0 <id> JUSTID on its own entry: ` +
    `idle ${before[2]} ms -> ${after[2]} ms, delivery count ${before[3]} -> ${after[3]}`,
);

// 3. Trimming entries that are still pending.
await redis.del(key);
await redis.xgroup('CREATE', key, 'workers', '$', 'MKSTREAM');
for (let i = 1; i <= 10; i++) await redis.xadd(key, '*', 'job', String(i));
await redis.xreadgroup('GROUP', 'workers', 'w1', 'COUNT', 4, 'STREAMS', key, '>'); // jobs 1-4 in flight
await redis.xadd(key, 'MAXLEN', 5, '*', 'job', '11'); // exact trim to 5 entries: jobs 1-6 go
const [total] = await redis.xpending(key, 'workers');
console.log('\n3. 11 jobs, 1-4 delivered to w1 and not acked, then XADD ... MAXLEN 5');
console.log(`   XLEN ${await redis.xlen(key)}, XPENDING still counts ${total} pending`);
const reread = (await redis.xreadgroup('GROUP', 'workers', 'w1', 'STREAMS', key, '0'))[0][1];
console.log(`   w1's XREADGROUP ... 0 returns ${reread.length} entries: ${JSON.stringify(reread[0])} ...`);
await sleep(20);
const [next, entries, deleted] = await redis.xautoclaim(key, 'workers', 'rescuer', 10, '0-0', 'COUNT', 10);
console.log(
  `   XAUTOCLAIM: cursor ${next}, ${entries.length} claimed, ${deleted.length} ids in the deleted element`,
);
console.log(
  `   XPENDING afterwards: ${(await redis.xpending(key, 'workers'))[0]} pending; the four jobs are gone for good`,
);

// 4. MAXLEN ~ trims whole macro nodes only, so it keeps at least what you asked, and usually more.
await redis.del(key);
const [, nodeMax] = await redis.config('GET', 'stream-node-max-entries');
let lowest = Infinity;
let highest = 0;
for (let i = 1; i <= 5000; i++) {
  await redis.xadd(key, 'MAXLEN', '~', 1000, '*', 'job', String(i));
  if (i >= 1000) {
    const length = await redis.xlen(key);
    lowest = Math.min(lowest, length);
    highest = Math.max(highest, length);
  }
}
console.log(`\n4. 5,000 XADD ... MAXLEN ~ 1000 (stream-node-max-entries ${nodeMax})`);
console.log(`   XLEN after each XADD from the 1,000th on: between ${lowest} and ${highest}`);

await redis.del(key);
redis.disconnect();
