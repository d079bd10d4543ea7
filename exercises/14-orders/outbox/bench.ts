/**
 * `npm run bench -- 14-orders/outbox [--target solutions] [--duration S]`
 *
 * What the outbox's safety costs, end to end, on the same Redis, in one run: orders placed, their
 * `OrderPlaced` event published to a broker stream, and applied by a consumer.
 *
 * 1. the plain dual write (the baseline, unsafe): `HSET` the order, `XADD` the event straight to the
 *    broker stream, then a consumer applies it with the same effect the inbox has (`HSET` the view,
 *    `RPUSH` the feed) but no dedup;
 * 2. the outbox: your `placeOrder` (one script), your relay (`runOnce` in a loop, one publish and one
 *    mark per event) publishing to the broker stream, and your inbox applying each event (one script).
 *
 * Each phase writes a fixed number of orders (1,000 per `--duration` second, at most 5,000) from 16
 * writers while the pipeline behind them runs, and ends when the consumer has applied the last
 * event; the rate is events applied per second from the first write to the last apply. No production
 * library does this job in this course's dependencies (Debezium, the usual answer, tails a database's
 * log and is a JVM service): the baseline is the unsafe code it replaces. Everything it writes is
 * under `bench-ob-<pid>` and is deleted at the end.
 */
import { Redis } from 'ioredis';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, measurementOf } from '../../../src/testing/index.js';
import { createInbox, createOrderStore, createOutboxRelay, type OutboxEvent } from './outbox.js';

const WRITERS = 16;

/** Fields of an event in the broker stream. */
function fields(event: OutboxEvent): string[] {
  return [
    ...['id', event.id, 'type', event.type, 'order', event.orderId, 'seq', String(event.seq)],
    ...['payload', event.payload, 'at', String(event.occurredAt)],
  ];
}

/** Reads up to 500 broker events after `after` and hands each to `apply`; returns the last id read. */
async function consume(
  redis: Redis,
  key: string,
  after: string,
  apply: (event: OutboxEvent) => Promise<unknown>,
): Promise<{ last: string; count: number }> {
  const entries = (await redis.xrange(key, `(${after}`, '+', 'COUNT', 500)) as [string, string[]][];
  // All of a read at once: one connection sends them in order, so Redis applies them in order.
  await Promise.all(
    entries.map(([, f]) => {
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < f.length; i += 2) map.set(f[i]!, f[i + 1]!);
      return apply({
        id: map.get('id')!,
        type: map.get('type') as OutboxEvent['type'],
        orderId: map.get('order')!,
        seq: Number(map.get('seq')),
        payload: map.get('payload')!,
        occurredAt: Number(map.get('at')),
      });
    }),
  );
  return { last: entries.at(-1)?.[0] ?? after, count: entries.length };
}

/**
 * `total` writes from {@link WRITERS} writers, and a drain behind them until all `total` events are
 * applied (or 60 s have passed: then the shortfall shows as errors). The rate is events applied per
 * second from the first write to the last apply; p50/p99 are of the writes.
 */
async function phase(
  label: string,
  total: number,
  write: (n: number) => Promise<void>,
  drain: () => Promise<number>,
): Promise<Measurement> {
  const started = performance.now();
  const latencies: number[] = [];
  let next = 0;
  const writers = Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (next < total) {
        const t0 = performance.now();
        await write(next++);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  let applied = 0;
  const limit = started + 60_000; // the drain stops by itself
  while (applied < total && performance.now() < limit) {
    const got = await drain();
    applied += got;
    if (got === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await writers;
  const seconds = (performance.now() - started) / 1000;
  const m = measurementOf(label, latencies, seconds, total - applied);
  return { ...m, operations: applied, perSecond: applied / seconds };
}

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const redis = new Redis(ctx.redisUrl);
  const reader = new Redis(ctx.redisUrl);
  const ns = `bench-ob-${process.pid}`;
  // --duration scales the work: 1,000 orders per second asked, at most 5,000 per phase.
  const total = Math.min(Math.max(Math.round(ctx.durationSeconds * 1000), 500), 5000);
  try {
    ctx.log(`${total} orders per phase from ${WRITERS} writers; rate = events applied end to end per second`);
    const rows: Measurement[] = [];

    // 1. the dual write, straight to the broker, a consumer without dedup.
    const plainBroker = `${ns}-plain:events`;
    let plainAfter = '0-0';
    rows.push(
      await phase(
        'dual write (HSET + XADD, no outbox, no dedup)',
        total,
        async (n) => {
          const id = `p-${n}`;
          const payload = JSON.stringify({ customer: 'ada', totalCents: 1250 });
          await redis.hset(`${ns}-plain:order:${id}`, {
            id,
            customer: 'ada',
            totalCents: 1250,
            status: 'placed',
          });
          await redis.xadd(
            plainBroker,
            '*',
            ...fields({
              id: `${id}:1`,
              type: 'OrderPlaced',
              orderId: id,
              seq: 1,
              payload,
              occurredAt: Date.now(),
            }),
          );
        },
        async () => {
          const { last, count } = await consume(reader, plainBroker, plainAfter, (e) =>
            reader
              .multi()
              .hset(
                `${ns}-plain:view:${e.orderId}`,
                'seq',
                '1',
                'customer',
                'ada',
                'totalCents',
                '1250',
                'status',
                'placed',
              )
              .rpush(`${ns}-plain:feed`, e.id)
              .exec(),
          );
          plainAfter = last;
          return count;
        },
      ),
    );

    // 2. the outbox, the relay and the inbox.
    const store = createOrderStore({ redis, namespace: ns });
    const broker = `${ns}-broker:events`;
    const publishing = new Redis(ctx.redisUrl);
    const relayConnection = new Redis(ctx.redisUrl);
    const relay = createOutboxRelay({
      redis: relayConnection,
      namespace: ns,
      owner: 'bench',
      leaseMs: 10_000,
      batchSize: 200,
      publisher: {
        async publish(event) {
          await publishing.xadd(broker, '*', ...fields(event));
        },
      },
    });
    const inbox = createInbox({ redis: reader, namespace: ns, consumer: 'bench' });
    let outboxAfter = '0-0';
    let relaying = true;
    const relayLoop = (async () => {
      while (relaying) {
        const pass = await relay.runOnce();
        if (pass.published === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    rows.push(
      await phase(
        'outbox (placeOrder script → relay → inbox script)',
        total,
        async (n) => {
          await store.placeOrder({ id: `o-${n}`, customer: 'ada', totalCents: 1250 });
        },
        async () => {
          const { last, count } = await consume(reader, broker, outboxAfter, (e) => inbox.handle(e));
          outboxAfter = last;
          return count;
        },
      ),
    );
    relaying = false;
    await relayLoop;
    const lag = await relay.lag();
    await relay.stop();
    publishing.disconnect();
    relayConnection.disconnect();

    for (const line of comparisonTable(rows)) ctx.log(line);
    ctx.log('');
    ctx.log(`relay lag at the end: ${lag.unsent} unsent, oldest ${lag.oldestUnsentAgeMs} ms`);
    ctx.log('The outbox costs one script per write, then per event a publish and a mark (2 round trips in');
    ctx.log(
      'the relay) and one script in the inbox: that is the price of never losing or doubling an event.',
    );
  } finally {
    let cursor = '0';
    do {
      const [after, keys] = await redis.scan(cursor, 'MATCH', `${ns}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = after;
    } while (cursor !== '0');
    redis.disconnect();
    reader.disconnect();
  }
}
