/**
 * `npm run bench -- 04-cqrs/event-store [--target solutions] [--duration S] [--connections N]`
 *
 * On the same Redis, in one run:
 *
 * 1. appends per second through your `appendToStream` with an exact expected version, one event per
 *    append: one writer on one stream, then N writers on N streams at once;
 * 2. the same payload written with a plain `XADD <key> * ...` (no check, no global log): the floor,
 *    and the ratio that says what the expected-version check and the second write cost;
 * 3. replay: streams of 1k, 10k and 100k events read back with `readStream` in pages of 1,000 and
 *    folded with a trivial evolve (a running balance), the time each takes. That is the cost of
 *    loading an aggregate without a snapshot: where it passes what a request can afford, snapshots pay.
 *
 * Each timed phase runs for at most 3 s (less with `--duration`), so the whole bench stays under a
 * minute. Everything it writes is under the `bench-es-<pid>` namespace and is deleted at the end.
 */
import { Redis } from 'ioredis';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, loopLoad } from '../../../src/testing/index.js';
import { createEventStore, type NewEvent } from './event-store.js';

const PAGE = 1000;
const REPLAY_SIZES = [1_000, 10_000, 100_000];

const deposit = (i: number): NewEvent => ({
  type: 'MoneyDeposited',
  data: { amount: 1250, note: `deposit ${i}` },
  metadata: { commandId: `cmd-${i}` },
});

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const redis = new Redis(ctx.redisUrl);
  const namespace = `bench-es-${process.pid}`;
  const store = createEventStore({ redis, namespace });
  const seconds = Math.min(ctx.durationSeconds, 3);
  const writers = Math.min(ctx.connections, 50);
  try {
    ctx.log(
      `${seconds} s per phase, one event per append, ${writers} concurrent writers in the concurrent phases`,
    );
    const rows: Measurement[] = [];
    // Warm-up: load the script, open the connection's buffers, let the JIT see both paths.
    for (let i = 0; i < 300; i++) {
      await redis.xadd(`${namespace}:warm-up`, '*', 'n', String(i));
      await store.appendToStream('warm-up', [deposit(i)], { expectedVersion: i });
    }

    let plainSeq = 0;
    const plain = (key: string) => {
      const event = deposit(plainSeq++);
      return redis.xadd(
        key,
        '*',
        'type',
        event.type,
        'data',
        JSON.stringify(event.data),
        'metadata',
        JSON.stringify(event.metadata),
        'eventId',
        `e-${plainSeq}`,
        'streamName',
        key,
        'streamVersion',
        String(plainSeq),
        'position',
        String(plainSeq),
        'recordedAt',
        new Date().toISOString(),
      );
    };
    rows.push(
      await loopLoad('plain XADD, 1 writer', () => plain(`${namespace}:plain:one`), {
        concurrency: 1,
        durationSeconds: seconds,
      }),
    );
    rows.push(await appendLoad(`appendToStream (exact version), 1 writer`, 1));
    let plainWriter = 0;
    rows.push(
      await loopLoad(
        `plain XADD, ${writers} writers`,
        () => plain(`${namespace}:plain:${plainWriter++ % writers}`),
        {
          concurrency: writers,
          durationSeconds: seconds,
        },
      ),
    );
    rows.push(await appendLoad(`appendToStream (exact version), ${writers} writers`, writers));
    for (const line of comparisonTable([rows[0]!, rows[1]!])) ctx.log(line);
    ctx.log('');
    for (const line of comparisonTable([rows[2]!, rows[3]!])) ctx.log(line);

    ctx.log('');
    ctx.log('replay (readStream in pages of 1,000, folded into a balance):');
    ctx.log('  events      fill s   replay ms   events/s');
    for (const size of REPLAY_SIZES) {
      const stream = `replay-${size}`;
      const fillStarted = performance.now();
      for (let v = 0; v < size; v += PAGE) {
        const batch = Array.from({ length: Math.min(PAGE, size - v) }, (_, i) => deposit(v + i));
        await store.appendToStream(stream, batch, { expectedVersion: v });
      }
      const fillSeconds = (performance.now() - fillStarted) / 1000;
      const started = performance.now();
      let balance = 0;
      let read = 0;
      for (let from = 1; ; from += PAGE) {
        const page = await store.readStream(stream, { fromVersion: from, maxCount: PAGE });
        for (const event of page) balance += event.data.amount as number; // evolve
        read += page.length;
        if (page.length < PAGE) break;
      }
      const ms = performance.now() - started;
      if (read !== size || balance !== size * 1250) throw new Error(`replay of ${size} read ${read} events`);
      ctx.log(
        `  ${size.toLocaleString('en-US').padStart(7)}  ${fillSeconds.toFixed(2).padStart(9)}  ${ms.toFixed(0).padStart(10)}  ${Math.round(
          (size / ms) * 1000,
        )
          .toLocaleString('en-US')
          .padStart(9)}`,
      );
    }
  } finally {
    await store.close();
    await deleteNamespace(redis, namespace);
    redis.disconnect();
  }

  /**
   * `concurrency` writers, each on a stream of its own, each passing the version its last append
   * returned: no conflicts, so the phase measures the check, not retries.
   */
  async function appendLoad(label: string, concurrency: number): Promise<Measurement> {
    // One slot per concurrent loop: a call takes a free stream and gives it back when done.
    const free = Array.from({ length: concurrency }, (_, i) => ({
      stream: `load-${concurrency}-${i}`,
      version: 0,
    }));
    return loopLoad(
      label,
      async () => {
        const slot = free.pop()!;
        try {
          const result = await store.appendToStream(slot.stream, [deposit(slot.version)], {
            expectedVersion: slot.version,
          });
          slot.version = result.nextExpectedVersion;
        } finally {
          free.push(slot);
        }
      },
      { concurrency, durationSeconds: seconds },
    );
  }
}

async function deleteNamespace(redis: Redis, namespace: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', '1000');
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
