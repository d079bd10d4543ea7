/**
 * Kill, not close: workers run in child processes (YOUR job-queue.ts, started by the suite) and are
 * killed with SIGKILL in the middle of a job. No `finally`, no `close()`, no last command: the job
 * stays pending on a consumer that will never speak again, and only another worker's takeover
 * brings it back. Redis's idle time is real time here, so minIdleMs is 400 ms.
 */
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { useChildProcesses, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  connection,
  deadLetters,
  pendingEntries,
  reports,
  startChildWorker,
  startWorker,
  useQueueName,
} from './harness.js';
import { createQueue, type Job } from './job-queue.js';

const redis = useRedis();
const name = useQueueName('kill');
const children = useChildProcesses();
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

const minIdleMs = 400;

function childConfig(consumer: string) {
  return {
    redisUrl: redis.url,
    queue: name.current,
    consumer,
    concurrency: 1,
    minIdleMs,
    blockMs: 50,
    reclaimIntervalMs: 50,
    trap: true, // `trap` jobs hang in the child until it is killed
  };
}

describe('Worker: killed with SIGKILL mid-job', () => {
  it('leaves the job pending; another worker takes it over after minIdleMs, not before', async () => {
    const q = createQueue({ redis: admin, name: name.current });
    const doomed = await startChildWorker(children, childConfig('doomed'));
    const id = await q.add({ trap: true });
    await doomed.waitFor('the child worker to start the job', (e) => e.event === 'start' && e.job === id);
    expect(await doomed.child.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const [left] = await pendingEntries(admin, name.current);
    expect(left, 'the killed worker’s job is pending on its consumer').toMatchObject({
      consumer: 'doomed',
      deliveries: 1,
    });

    const ran: Job[] = [];
    const heir = startWorker({
      redis: await connection(redis.url),
      queue: name.current,
      consumer: 'heir',
      concurrency: 1,
      minIdleMs,
      handler: (job) => void ran.push(job),
    });
    const r = reports(heir);
    await q.add({ canary: true });
    await waitFor('the heir to run a new job (it has made a takeover attempt already)', () =>
      ran.some((j) => (j.data as { canary?: boolean }).canary),
    );
    const [stillThere] = await pendingEntries(admin, name.current);
    if (stillThere && stillThere.idleMs < minIdleMs) {
      expect(stillThere.consumer, 'a takeover attempt made before minIdleMs leaves the job alone').toBe(
        'doomed',
      );
    }
    await waitFor('the heir to take the job over and run it', () => r.completed.some((j) => j.id === id), {
      timeoutMs: 5000,
    });
    expect(ran.find((j) => j.id === id)).toMatchObject({ entryId: left?.id, deliveries: 2 });
    expect(r.reclaimed.map((j) => j.id)).toEqual([id]);
    expect(await pendingEntries(admin, name.current)).toEqual([]);
  });

  it('a job that kills every worker that runs it: delivered twice, then dead-lettered as stalled', async () => {
    const q = createQueue({ redis: admin, name: name.current });
    const first = await startChildWorker(children, childConfig('first'));
    const second = await startChildWorker(children, childConfig('second'));
    const id = await q.add({ trap: true });
    const victims = [first, second];
    const starts = () =>
      victims.flatMap((v) => v.events.filter((e) => e.event === 'start' && e.job === id).map(() => v));
    await waitFor('one child to start the poison job', () => starts().length === 1);
    const [taken] = starts();
    await taken?.child.kill('SIGKILL');
    const other = victims.find((v) => v !== taken);
    await other?.waitFor(
      'the other child to take it over after minIdleMs',
      (e) => e.event === 'start' && e.job === id,
      5000,
    );
    expect(
      (await pendingEntries(admin, name.current)).map((p) => p.deliveries),
      'the takeover raised the delivery count',
    ).toEqual([2]);
    await other?.child.kill('SIGKILL');

    const ran: Job[] = [];
    const judge = startWorker({
      redis: await connection(redis.url),
      queue: name.current,
      concurrency: 1,
      minIdleMs,
      maxDeliveries: 2,
      handler: (job) => void ran.push(job),
    });
    const r = reports(judge);
    await waitFor('the third takeover to dead-letter the job', () => r.dead.length === 1, {
      timeoutMs: 5000,
    });
    expect(ran, 'a third delivery never reaches a handler').toEqual([]);
    expect(r.dead.map(([job, reason]) => [job.id, reason, job.deliveries])).toEqual([[id, 'stalled', 3]]);
    expect((await deadLetters(admin, name.current)).map((l) => [l.fields.job, l.fields.reason])).toEqual([
      [id, 'stalled'],
    ]);
    expect(await pendingEntries(admin, name.current)).toEqual([]);
  });
});
