/**
 * `npm run bench -- 05-messaging/idempotent-consumer [--target solutions] [--duration S] [--connections N]`
 *
 * What an exactly-once effect costs, on the same Redis, in one run. The effect is the same in every
 * row: `INCR` a counter and `RPUSH` to a log, in one MULTI/EXEC.
 *
 * 1. the effect alone (`multi().incr().rpush().exec()`, no dedup): the floor;
 * 2. your `process()` with a new id each time (WATCH, GET, the effect and the record in one EXEC);
 * 3. your `process()` with ids already applied (WATCH, GET, UNWATCH: the duplicate path);
 * 4. your `process()` when every message arrives 4 times at once (an at-least-once storm): each
 *    operation is one delivery; 1 in 4 applies, and up to 3 in 4 run their handler for an EXEC that
 *    Redis refuses.
 *
 * Each at 1 delivery in flight and at N (`--connections`, at most 50). Each phase runs at most 3 s,
 * so the bench stays under a minute. Everything it writes is under `bench-ic-<pid>` and is deleted at
 * the end.
 */
import { Redis } from 'ioredis';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, loopLoad } from '../../../src/testing/index.js';
import { createIdempotentConsumer, type Handler } from './idempotent-consumer.js';

const BODY = JSON.stringify({ order: 'o-1', amount: 1250, currency: 'EUR', note: 'x'.repeat(100) });

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const redis = new Redis(ctx.redisUrl);
  const namespace = `bench-ic-${process.pid}`;
  const counter = `${namespace}-fx:count`;
  const log = `${namespace}-fx:log`;
  const handler: Handler = (m, tx) => {
    tx.incr(counter);
    tx.rpush(log, m.id);
  };
  const consumer = createIdempotentConsumer({ redis, namespace, windowMs: 600_000, handler });
  const seconds = Math.min(ctx.durationSeconds, 3);
  const wide = Math.max(1, Math.min(ctx.connections, 50));
  let next = 0;
  try {
    ctx.log(`${seconds} s per phase; deliveries in flight: 1, then ${wide}`);
    for (let i = 0; i < 300; i++) await consumer.process({ id: `warm-${i}`, body: BODY }); // connections, JIT
    const rows: Measurement[] = [];
    for (const concurrency of [1, wide]) {
      const options = { concurrency, durationSeconds: seconds };
      rows.push(
        await loopLoad(
          `effect alone (MULTI/EXEC), ${concurrency} in flight`,
          () => redis.multi().incr(counter).rpush(log, 'plain').exec(),
          options,
        ),
      );
      const fresh: string[] = [];
      rows.push(
        await loopLoad(
          `process(), new ids, ${concurrency} in flight`,
          () => {
            const id = `m-${next++}`;
            fresh.push(id);
            return consumer.process({ id, body: BODY });
          },
          options,
        ),
      );
      let replay = 0;
      rows.push(
        await loopLoad(
          `process(), duplicates, ${concurrency} in flight`,
          () => consumer.process({ id: fresh[replay++ % fresh.length]!, body: BODY }),
          options,
        ),
      );
      let storm = 0;
      rows.push(
        await loopLoad(
          `process(), each message 4× at once, ${concurrency} in flight`,
          () => consumer.process({ id: `s-${concurrency}-${Math.floor(storm++ / 4)}`, body: BODY }),
          options,
        ),
      );
      await redis.del(log);
    }
    for (const line of comparisonTable(rows)) ctx.log(line);
    ctx.log('');
    ctx.log('An applied process() is 3 round trips (WATCH, GET, then MULTI…EXEC in one write) against the');
    ctx.log("effect's one; a duplicate is 3 too (WATCH, GET, UNWATCH) and writes nothing.");
  } finally {
    await consumer.close();
    let cursor = '0';
    do {
      const [after, keys] = await redis.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = after;
    } while (cursor !== '0');
    redis.disconnect();
  }
}
