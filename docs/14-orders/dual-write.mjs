// What a dual write loses, with real Redis and real SIGKILLs. A child process places orders in a loop,
// each one two writes: the order hash, and its OrderPlaced event on a stream. The parent kills the child
// with SIGKILL at a seeded random moment, ROUNDS times per variant, then counts what disagrees:
//   order-then-publish   HSET order, then XADD events          (the usual dual write)
//   publish-then-order   XADD events, then HSET order          (the "fix" that swaps the failure)
//   outbox               MULTI { HSET order; XADD outbox } EXEC, then a relay copies outbox -> events
// REDIS_URL=redis://127.0.0.1:6379 node docs/14-orders/dual-write.mjs [ROUNDS=50] [SEED=14]
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

if (process.argv[2] === '--child') {
  const [, , , variant, prefix] = process.argv;
  const redis = new Redis(url);
  await redis.ping();
  process.send('ready');
  for (let n = 1; ; n++) {
    const id = `${n}`;
    const order = ['status', 'placed', 'totalCents', '2797'];
    const event = ['type', 'OrderPlaced', 'orderId', id];
    if (variant === 'order-then-publish') {
      await redis.hset(`${prefix}:order:${id}`, ...order);
      await redis.xadd(`${prefix}:events`, '*', ...event);
    } else if (variant === 'publish-then-order') {
      await redis.xadd(`${prefix}:events`, '*', ...event);
      await redis.hset(`${prefix}:order:${id}`, ...order);
    } else {
      // One MULTI/EXEC: Redis runs both or, if the connection drops before EXEC, neither.
      await redis
        .multi()
        .hset(`${prefix}:order:${id}`, ...order)
        .xadd(`${prefix}:outbox`, '*', ...event)
        .exec();
    }
  }
} else {
  const rounds = Number(process.argv[2] ?? 50);
  const seed = Number(process.argv[3] ?? 14);
  const require = createRequire(import.meta.url);
  const redis = new Redis(url);
  const version = (await redis.info('server')).match(/redis_version:(\S+)/)[1];
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`REDIS_URL=${url} node docs/14-orders/dual-write.mjs ${rounds} ${seed}`);
  console.log(
    `Node ${process.version}, ioredis ${require('ioredis/package.json').version}, Redis ${version}, ` +
      `${os.cpus().length} cores, load ${load()}`,
  );

  // mulberry32: the kill delays come from the seed, so a run can be repeated.
  let s = seed >>> 0;
  const random = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** The order ids that have an order hash, and the order ids named by events on `stream`. */
  async function census(prefix, stream) {
    const orders = new Set();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:order:*`, 'COUNT', 1000);
      for (const k of keys) orders.add(k.slice(k.lastIndexOf(':') + 1));
      cursor = next;
    } while (cursor !== '0');
    const events = new Set((await redis.xrange(`${prefix}:${stream}`, '-', '+')).map(([, f]) => f[3]));
    return { orders, events };
  }

  console.log(`${rounds} SIGKILLs per variant, each 5-40 ms after the child is ready (seed ${seed})\n`);
  for (const variant of ['order-then-publish', 'publish-then-order', 'outbox']) {
    let orphans = 0;
    let ghosts = 0;
    let placed = 0;
    const keys = [];
    for (let round = 0; round < rounds; round++) {
      const prefix = `dw:${process.pid}:${variant}:${round}`;
      keys.push(prefix);
      const child = fork(new URL(import.meta.url).pathname, ['--child', variant, prefix]);
      await new Promise((resolve) => child.once('message', resolve));
      await sleep(5 + random() * 35);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const { orders, events } = await census(prefix, variant === 'outbox' ? 'outbox' : 'events');
      placed += orders.size;
      for (const id of orders) if (!events.has(id)) orphans++;
      for (const id of events) if (!orders.has(id)) ghosts++;
    }
    console.log(
      `${variant.padEnd(19)} ${placed.toLocaleString('en-US').padStart(7)} orders written   ` +
        `${String(orphans).padStart(3)} orders without their event   ${String(ghosts).padStart(3)} events without their order`,
    );
    if (variant === 'outbox') {
      // The relay: copy every outbox entry to the events stream (a polling publisher, in one pass here).
      let missing = 0;
      for (const prefix of keys) {
        for (const [, fields] of await redis.xrange(`${prefix}:outbox`, '-', '+'))
          await redis.xadd(`${prefix}:events`, '*', ...fields);
        const { orders, events } = await census(prefix, 'events');
        for (const id of orders) if (!events.has(id)) missing++;
      }
      console.log(
        `${'  after the relay'.padEnd(19)} ${String(missing).padStart(3)} orders without their OrderPlaced on the events stream`,
      );
    }
    // Clean up this variant's keys.
    for (const prefix of keys) {
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (found.length) await redis.del(...found);
        cursor = next;
      } while (cursor !== '0');
    }
  }
  console.log(`\nload after: ${load()}`);
  redis.disconnect();
}
