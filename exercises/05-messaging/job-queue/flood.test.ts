/**
 * A flood: thousands of jobs added at once by eight producers on eight connections while two workers
 * run them, some of the jobs added by every producer under the same `jobId` at the same moment.
 * No worker dies and none is cut off, so every job must run exactly once; the history checker of
 * history.ts reads what happened.
 */
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, useRedis, waitFor } from '../../../src/testing/index.js';
import { connection, delayed, keys, pendingEntries, startWorker, useQueueName } from './harness.js';
import { checkHistory, type HistoryEvent } from './history.js';
import { createQueue } from './job-queue.js';
import { recordWorker } from './job-script.js';

const redis = useRedis();
const name = useQueueName('flood');
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

const PRODUCERS = 8;
const PLAIN_PER_PRODUCER = 500;
const SHARED_IDS = 50;
const MAX_LEN = 100;

describe('Queue and workers: a flood', () => {
  it('4,000 jobs and 50 jobIds added by 8 producers at once, 2 workers: each job runs once, and the stream is trimmed back under maxLen', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const history: HistoryEvent[] = [];
    const record = (event: HistoryEvent) => history.push(event);
    const starts = new Map<string, number>();
    for (const worker of ['w1', 'w2']) {
      const w = startWorker({
        redis: await connection(redis.url),
        queue: name.current,
        consumer: worker,
        concurrency: 8,
        minIdleMs: 60_000,
        clock,
        handler: (job) => {
          starts.set(job.id, (starts.get(job.id) ?? 0) + 1);
          record({ event: 'start', job: job.id, worker, time: Date.now() });
        },
      });
      recordWorker(w, worker, record);
    }
    const producers = await Promise.all(
      Array.from({ length: PRODUCERS }, async () =>
        createQueue({ redis: await connection(redis.url), name: name.current, clock, maxLen: MAX_LEN }),
      ),
    );

    // Every add starts in the same tick. The shared jobs wait in the delayed set (the clock stands
    // still), so each of their ids is live while all eight producers add it.
    const sharedAdded = new Set<string>();
    await Promise.all(
      producers.flatMap((q, p) => [
        ...Array.from({ length: PLAIN_PER_PRODUCER }, (_, i) =>
          q.add({ p, i }).then((job) => record({ event: 'add', job, attempts: 1, time: Date.now() })),
        ),
        ...Array.from({ length: SHARED_IDS }, (_, k) =>
          q.add({ k, p }, { jobId: `order-${k}`, delayMs: 1000 }).then((job) => {
            if (sharedAdded.has(job)) return;
            sharedAdded.add(job);
            record({ event: 'add', job, attempts: 1, time: Date.now() });
          }),
        ),
      ]),
    );
    expect(
      (await delayed(admin, name.current)).length,
      'each of the 50 jobIds is added once while it is live, however many producers add it at the same moment (the check and the write are one script)',
    ).toBe(SHARED_IDS);

    clock.advance(1000);
    const total = PRODUCERS * PLAIN_PER_PRODUCER + SHARED_IDS;
    const completed = () => history.filter((e) => e.event === 'complete').length;
    await waitFor(`all ${total} jobs to complete`, () => completed() >= total, { timeoutMs: 30_000 });

    const verdict = checkHistory(history);
    expect(verdict.summary, 'the history checker finds no anomaly').toBe('no anomalies');
    expect(verdict.counts).toMatchObject({ added: total, completed: total, dead: 0 });
    const twice = [...starts].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice, 'with no worker killed or cut off, no job runs twice').toEqual([]);
    expect(starts.size).toBe(total);

    expect(await pendingEntries(admin, name.current), 'nothing is left pending').toEqual([]);
    expect(await admin.scard(keys(name.current).ids), 'every jobId is released').toBe(0);
    expect(await admin.zcard(keys(name.current).delayed)).toBe(0);
    await producers[0]?.add({ after: 'the flood' });
    expect(
      await admin.xlen(keys(name.current).stream),
      `once the flood has been run, the next add trims the stream back under maxLen (${MAX_LEN}): its memory is bounded`,
    ).toBeLessThanOrEqual(MAX_LEN);
  }, 45_000);
});
