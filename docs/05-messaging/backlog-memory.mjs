// What a backlog costs in Redis memory: 100,000 queued notifications (an 89-byte JSON payload each) in a
// list, in a stream, and in the same stream once a consumer group has read them all without acking (every
// entry is then also in the group's pending entries list). Reads MEMORY USAGE (SAMPLES 0: every nested value
// sampled) and the server's used_memory before and after.
// REDIS_URL=redis://127.0.0.1:6379 node docs/05-messaging/backlog-memory.mjs [count=100000]
import { Redis } from 'ioredis';

const [count = 100_000] = process.argv.slice(2).map(Number);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `backlog:${process.pid}`;
const payload = (i) =>
  JSON.stringify({
    to: '+4915112345678',
    template: 'order-shipped',
    orderId: `ord_${String(i).padStart(10, '0')}`,
    attempt: 1,
  });
const usedMemory = async () => Number((await redis.info('memory')).match(/used_memory:(\d+)/)[1]);
const perEntry = (bytes) => `${(bytes / count).toFixed(1)} B/message`;

console.log(
  `Redis ${(await redis.info('server')).match(/redis_version:(\S+)/)[1]}, ${count.toLocaleString('en')} messages, ` +
    `payload ${Buffer.byteLength(payload(1))} bytes`,
);

async function fill(write) {
  for (let i = 0; i < count; i += 1000) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(count, i + 1000); j++) write(p, j);
    await p.exec();
  }
}

const list = `${prefix}:list`;
let before = await usedMemory();
await fill((p, i) => p.lpush(list, payload(i)));
const listUsage = await redis.memory('USAGE', list, 'SAMPLES', 0);
console.log(
  `list (LPUSH):                      MEMORY USAGE ${perEntry(listUsage)}, used_memory +${perEntry((await usedMemory()) - before)}`,
);
await redis.del(list);

const stream = `${prefix}:stream`;
before = await usedMemory();
await fill((p, i) => p.xadd(stream, '*', 'data', payload(i)));
const streamUsage = await redis.memory('USAGE', stream, 'SAMPLES', 0);
const afterStream = await usedMemory();
console.log(
  `stream (XADD, one field):          MEMORY USAGE ${perEntry(streamUsage)}, used_memory +${perEntry(afterStream - before)}`,
);

await redis.xgroup('CREATE', stream, 'workers', '0');
for (let read = 0; read < count; read += 1000) {
  await redis.xreadgroup('GROUP', 'workers', 'w1', 'COUNT', 1000, 'STREAMS', stream, '>');
}
const pendingUsage = await redis.memory('USAGE', stream, 'SAMPLES', 0);
const [pending] = await redis.xpending(stream, 'workers');
console.log(
  `same stream, all ${Number(pending).toLocaleString('en')} pending in a group: MEMORY USAGE ${perEntry(pendingUsage)}, ` +
    `used_memory +${perEntry((await usedMemory()) - before)} (the PEL adds ${perEntry((await usedMemory()) - afterStream)})`,
);
await redis.del(stream);
redis.disconnect();
