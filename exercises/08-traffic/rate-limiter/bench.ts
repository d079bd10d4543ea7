/**
 * `npm run bench -- 08-traffic/rate-limiter`: decisions per second of the Redis limiter against the
 * cheapest thing that talks to Redis at all, a bare `INCR` round trip, on the same number of
 * connections and the same concurrency. The ratio is the price of the script (the sorted-set
 * update, the expiry) over one network round trip.
 */
import { Redis } from 'ioredis';
import type { BenchContext } from '../../../src/testing/index.js';
import { comparisonTable, loopLoad } from '../../../src/testing/index.js';
import { createRedisLimiter } from './redis-limiter.js';

const CONNECTIONS = 4;
const KEYS = 1000;

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis: start one (see chapter 00) or set REDIS_URL');
  const connections = Array.from({ length: CONNECTIONS }, () => new Redis(ctx.redisUrl!));
  try {
    const prefix = `bench:${process.pid}:`;
    // A limit no key reaches: every decision does the full work of an admitted request.
    const limiters = connections.map((c) =>
      createRedisLimiter(c, { limit: 1_000_000, windowMs: 10_000, prefix: `${prefix}rl:` }),
    );
    let n = 0;
    const options = { concurrency: ctx.connections, durationSeconds: ctx.durationSeconds };
    ctx.log(
      `${CONNECTIONS} Redis connections, ${ctx.connections} requests in flight, ${ctx.durationSeconds} s per phase, ${KEYS} keys`,
    );
    const incr = await loopLoad(
      'bare INCR',
      () => {
        n++;
        return connections[n % CONNECTIONS]!.incr(`${prefix}incr:${n % KEYS}`);
      },
      options,
    );
    const limiter = await loopLoad(
      'Redis limiter',
      () => {
        n++;
        return limiters[n % CONNECTIONS]!.take(`client-${n % KEYS}`);
      },
      options,
    );
    for (const line of comparisonTable([incr, limiter])) ctx.log(line);
    const stale = await connections[0]!.keys(`${prefix}*`);
    for (let i = 0; i < stale.length; i += 500) await connections[0]!.del(...stale.slice(i, i + 500));
  } finally {
    for (const c of connections) c.disconnect();
  }
}
