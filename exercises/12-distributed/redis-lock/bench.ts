/**
 * `npm run bench -- 12-distributed/redis-lock [--target solutions] [--duration S] [--connections N]`
 *
 * What safety costs, on the same Redis, in one run (no lock library is installed, so the baseline is
 * the unsafe lock a first attempt writes):
 *
 * 1. a lock cycle (acquire, then release) through your `RedisLock`: one script each, with a token
 *    check and a fence; against `SET key value NX PX` then `DEL key`, the same two round trips with no
 *    token check and no fence. One client on one resource, then N clients each on a resource of its own.
 * 2. a fenced write through your `FencedStore` (a script that compares fences) against a plain `HSET`.
 *
 * Each timed phase runs for at most 2 s (less with `--duration`). Everything the bench writes is under
 * the `bench-lock-<pid>:` prefix and is deleted at the end.
 */
import { Redis } from 'ioredis';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, loopLoad } from '../../../src/testing/index.js';
import { FencedStore, RedisLock } from './redis-lock.js';

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const redis = new Redis(ctx.redisUrl);
  const prefix = `bench-lock-${process.pid}:`;
  const lock = new RedisLock(redis, { prefix });
  const store = new FencedStore(redis, { prefix: `${prefix}store:` });
  const seconds = Math.min(ctx.durationSeconds, 2);
  const clients = Math.min(ctx.connections, 50);
  try {
    ctx.log(`${seconds} s per phase; ${clients} concurrent loops in the concurrent phases; one connection`);
    // Warm-up: load the scripts and let the JIT see every path.
    for (let i = 0; i < 300; i++) {
      const lease = await lock.acquire('warm-up', 10_000);
      if (lease) await lock.release(lease);
      await store.write('warm-up', 'x', i + 1);
      await redis.set(`${prefix}plain:warm-up`, 'x', 'PX', 10_000, 'NX');
      await redis.del(`${prefix}plain:warm-up`);
    }

    const cycle = async (resource: string) => {
      const lease = await lock.acquire(resource, 10_000);
      if (!lease) throw new Error(`${resource} was held: the bench gives each loop a resource of its own`);
      if (!(await lock.release(lease))) throw new Error(`release of ${resource} failed`);
    };
    const plainCycle = async (resource: string) => {
      const key = `${prefix}plain:${resource}`;
      if ((await redis.set(key, 'token', 'PX', 10_000, 'NX')) !== 'OK') throw new Error(`${key} was held`);
      await redis.del(key);
    };
    const perLoop = (run: (resource: string) => Promise<void>, concurrency: number) => {
      const free = Array.from({ length: concurrency }, (_, i) => `r-${concurrency}-${i}`);
      return async () => {
        const resource = free.pop() as string;
        try {
          await run(resource);
        } finally {
          free.push(resource);
        }
      };
    };

    for (const concurrency of [1, clients]) {
      const rows: Measurement[] = [
        await loopLoad(`SET NX PX + DEL (unsafe), ${concurrency} loop(s)`, perLoop(plainCycle, concurrency), {
          concurrency,
          durationSeconds: seconds,
        }),
        await loopLoad(`acquire + release, ${concurrency} loop(s)`, perLoop(cycle, concurrency), {
          concurrency,
          durationSeconds: seconds,
        }),
      ];
      for (const line of comparisonTable(rows)) ctx.log(line);
      ctx.log('');
    }

    let fence = 0;
    let plainN = 0;
    const rows: Measurement[] = [
      await loopLoad(
        `plain HSET, ${clients} loops`,
        () => redis.hset(`${prefix}plain:data`, 'value', `v${++plainN}`, 'fence', plainN),
        { concurrency: clients, durationSeconds: seconds },
      ),
      await loopLoad(
        `FencedStore.write, ${clients} loops`,
        () => {
          fence += 1;
          return store.write('data', `v${fence}`, fence);
        },
        { concurrency: clients, durationSeconds: seconds },
      ),
    ];
    for (const line of comparisonTable(rows)) ctx.log(line);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
}
