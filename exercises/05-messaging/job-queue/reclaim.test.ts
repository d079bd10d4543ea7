/**
 * Takeovers. A worker that died leaves its jobs pending on its consumer name, which is all Redis
 * knows of it; the tests play such a worker with a "ghost" consumer that read jobs and never came
 * back, and set how long its entries look idle with XCLAIM … IDLE (no test waits for Redis's clock,
 * except the heartbeat's, which is about real time).
 */
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { sleep, startFaultProxy, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  addRaw,
  connection,
  deadLetters,
  delayed,
  gate,
  ghostRead,
  keys,
  pendingEntries,
  reports,
  setIdle,
  startWorker,
  streamEntries,
  useQueueName,
} from './harness.js';
import { createQueue, type Job, type WorkerOptions } from './job-queue.js';

const redis = useRedis();
const name = useQueueName('reclaim');
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

const MIN_IDLE = 60_000;

function queue() {
  return createQueue({ redis: admin, name: name.current });
}

async function worker<T>(options: Partial<WorkerOptions<T>> & Pick<WorkerOptions<T>, 'handler'>) {
  return startWorker<T>({
    redis: await connection(redis.url),
    queue: name.current,
    concurrency: 2,
    minIdleMs: MIN_IDLE,
    ...options,
  });
}

/** Adds jobs and has the ghost read them all: jobs of a worker that died holding them. */
async function ghostJobs(count: number, data: (i: number) => unknown = (i) => ({ i })): Promise<string[]> {
  const q = queue();
  for (let i = 0; i < count; i++) await q.add(data(i));
  return ghostRead(admin, name.current, 'ghost', count);
}

describe('Worker: taking over the jobs of a worker that died', () => {
  it('takes a job over only once it has been idle minIdleMs, raising its delivery count', async () => {
    const [entry] = await ghostJobs(1);
    await setIdle(admin, name.current, 'ghost', [entry!], MIN_IDLE - 10_000);
    const ran: Job[] = [];
    const w = await worker({ consumer: 'heir', handler: (job) => void ran.push(job) });
    const r = reports(w);
    await queue().add({ canary: true });
    await waitFor(
      'the worker to run a new job (so it has looked for idle jobs already)',
      () => ran.length === 1,
    );
    await sleep(200); // a few more takeover passes (reclaimIntervalMs is 50)
    expect(
      ran.map((j) => j.data),
      'a job idle for less than minIdleMs is left alone',
    ).toEqual([{ canary: true }]);
    expect((await pendingEntries(admin, name.current)).map((p) => p.consumer)).toEqual(['ghost']);

    await setIdle(admin, name.current, 'ghost', [entry!], MIN_IDLE + 1000);
    await waitFor('the idle job to be taken over and run', () => ran.length === 2, { timeoutMs: 3000 });
    expect(ran[1]).toMatchObject({ id: '1', data: { i: 0 }, entryId: entry, deliveries: 2 });
    expect(
      r.reclaimed.map((j) => j.id),
      'reclaimed is emitted for it',
    ).toEqual(['1']);
    await waitFor('it to complete', () => r.completed.length === 2);
    expect(await pendingEntries(admin, name.current)).toEqual([]);
  });

  it('follows the XAUTOCLAIM cursor past empty pages to an idle job behind 1,500 live ones', async () => {
    const stream = keys(name.current).stream;
    await addRaw(
      admin,
      name.current,
      Array.from({ length: 1500 }, (_, i) => ({ id: `live-${i}`, data: { live: i } })),
    );
    await ghostRead(admin, name.current, 'busy', 1500); // pending and fresh: a live worker's jobs
    await addRaw(admin, name.current, [{ id: 'orphan', data: { orphan: true } }]);
    const [orphan] = await ghostRead(admin, name.current, 'ghost', 1);
    await setIdle(admin, name.current, 'ghost', [orphan!], MIN_IDLE + 1000);
    expect(await admin.xlen(stream)).toBe(1501);
    const ran: string[] = [];
    const w = await worker({ concurrency: 1, handler: (job) => void ran.push(job.id) });
    const r = reports(w);
    await waitFor(
      'the orphan job to run: XAUTOCLAIM looks at COUNT × 10 pending entries per call, so the first pages come back empty with a cursor that is not 0-0',
      () => r.completed.length === 1,
      { timeoutMs: 4000 },
    );
    expect(ran).toEqual(['orphan']);
  });

  it('runs a job delivered maxDeliveries times, and dead-letters one that would be delivered more often (reason stalled)', async () => {
    const [once, twice] = await ghostJobs(2, (i) => ({ poison: i === 1 }));
    await setIdle(admin, name.current, 'ghost', [once!], MIN_IDLE + 1000, 1);
    await setIdle(admin, name.current, 'ghost', [twice!], MIN_IDLE + 1000, 2);
    const ran: Job[] = [];
    const w = await worker({ maxDeliveries: 2, handler: (job) => void ran.push(job) });
    const r = reports(w);
    await waitFor(
      'one job to complete and one to go dead',
      () => r.completed.length === 1 && r.dead.length === 1,
      {
        timeoutMs: 3000,
      },
    );
    expect(
      ran.map((j) => [j.id, j.deliveries]),
      'delivery 2 of 2 runs; the handler never sees delivery 3',
    ).toEqual([['1', 2]]);
    expect(r.dead.map(([job, reason]) => [job.id, reason])).toEqual([['2', 'stalled']]);
    const [letter] = await deadLetters(admin, name.current);
    expect(letter?.fields).toMatchObject({
      job: '2',
      data: '{"poison":true}',
      reason: 'stalled',
      attemptsMade: '0',
    });
    expect(letter?.fields.error, 'the error says it stalled').toMatch(/stall/);
    expect(
      await pendingEntries(admin, name.current),
      'the stalled job is acknowledged in the source',
    ).toEqual([]);
  });

  it('reports entries deleted while pending (the third element of XAUTOCLAIM’s reply) and runs the others', async () => {
    const [gone, kept] = await ghostJobs(2);
    await setIdle(admin, name.current, 'ghost', [gone!, kept!], MIN_IDLE + 1000);
    await admin.xdel(keys(name.current).stream, gone!);
    const w = await worker({ handler: () => {} });
    const r = reports(w);
    await waitFor('the kept job to complete', () => r.completed.length === 1, { timeoutMs: 3000 });
    await waitFor('missing to be emitted for the deleted entry', () => r.missing.length > 0);
    expect(r.missing).toEqual([gone]);
    expect(r.completed.map((j) => j.entryId)).toEqual([kept]);
    expect(await pendingEntries(admin, name.current)).toEqual([]);
  });

  it('takes over no more jobs than it has free slots', async () => {
    const ids = await ghostJobs(5);
    await setIdle(admin, name.current, 'ghost', ids, MIN_IDLE + 1000);
    const gates: ReturnType<typeof gate>[] = [];
    let running = 0;
    let most = 0;
    const w = await worker({
      concurrency: 2,
      handler: async () => {
        running++;
        most = Math.max(most, running);
        const g = gate();
        gates.push(g);
        await g.promise;
        running--;
      },
    });
    const r = reports(w);
    await waitFor('2 taken-over jobs to run', () => running === 2, { timeoutMs: 3000 });
    await sleep(200);
    expect(running, 'a worker with 2 slots runs 2, however many are idle').toBe(2);
    const onWorker = (await pendingEntries(admin, name.current)).filter((p) => p.consumer === w.consumer);
    expect(onWorker.length, 'and claims no more than it runs').toBe(2);
    for (let released = 0; released < 5; released++) {
      await waitFor(`job ${released + 1} to start`, () => gates.length > released, { timeoutMs: 3000 });
      gates[released]?.open();
    }
    await waitFor('all 5 to complete', () => r.completed.length === 5);
    expect(most).toBe(2);
    expect(r.errors, 'a full worker stops paging (XAUTOCLAIM takes no COUNT 0)').toEqual([]);
  });
});

describe('Worker: a live worker keeps its jobs', () => {
  it('keeps a job that runs far longer than minIdleMs (heartbeat), also while close() waits for it', async () => {
    const minIdleMs = 600; // a beat every 200 ms: the test process may stall that long on a busy machine
    const q = queue();
    const g = gate();
    let started = false;
    const owner = await worker({
      minIdleMs,
      consumer: 'owner',
      handler: async () => {
        started = true;
        await g.promise;
      },
    });
    const rOwner = reports(owner);
    const other = await worker({ minIdleMs, consumer: 'other', reclaimIntervalMs: 20, handler: () => {} });
    const rOther = reports(other);
    await q.add({ long: true });
    await waitFor('the owner to start the job', () => started);
    await sleep(minIdleMs * 1.5);
    const closing = owner.close();
    await sleep(minIdleMs * 1.5);
    expect(rOther.reclaimed, 'a job whose worker is alive is never taken over').toEqual([]);
    expect((await pendingEntries(admin, name.current)).map((p) => [p.consumer, p.deliveries])).toEqual([
      ['owner', 1],
    ]);
    g.open();
    await closing;
    expect(rOwner.completed.map((j) => [j.id, j.deliveries])).toEqual([['1', 1]]);
  });
});

describe('Worker: settling a job it no longer owns', () => {
  /** Starts a worker on one job, moves the job to consumer 'thief' while the handler runs, then lets it finish. */
  async function stolenWhileRunning(outcome: 'resolve' | 'throw', attempts: number) {
    const q = queue();
    const g = gate();
    let started = false;
    const w = await worker({
      minIdleMs: 150, // the heartbeat beats every 50 ms while the job runs
      reclaimIntervalMs: 60_000, // one takeover pass, at start: the thief is alive, nobody takes the job back from it
      handler: async () => {
        started = true;
        await g.promise;
        if (outcome === 'throw') throw new Error('failed after losing the job');
      },
    });
    const r = reports(w);
    await q.add({}, { attempts, backoff: { type: 'fixed', delayMs: 10 } });
    await waitFor('the job to start', () => started);
    const [entry] = await streamEntries(admin, name.current);
    await admin.xclaim(keys(name.current).stream, 'workers', 'thief', 0, entry!.id, 'JUSTID');
    await sleep(200); // several heartbeats: none may take the job back
    g.open();
    await waitFor('lost to be emitted', () => r.lost.length === 1);
    return { r, entry: entry! };
  }

  it('a handler that resolves after a takeover: lost, not completed, and the entry stays the new owner’s', async () => {
    const { r, entry } = await stolenWhileRunning('resolve', 1);
    expect(r.completed).toEqual([]);
    expect((await pendingEntries(admin, name.current)).map((p) => [p.id, p.consumer])).toEqual([
      [entry.id, 'thief'],
    ]);
  });

  it('a handler that throws after a takeover: lost, and no retry is written', async () => {
    const { r } = await stolenWhileRunning('throw', 3);
    expect(r.failed).toEqual([]);
    expect(await delayed(admin, name.current)).toEqual([]);
    expect((await streamEntries(admin, name.current)).length, 'no new entry in the stream').toBe(1);
    expect((await pendingEntries(admin, name.current)).map((p) => p.consumer)).toEqual(['thief']);
  });

  it('a last attempt that throws after a takeover: lost, and no dead letter is written', async () => {
    const { r } = await stolenWhileRunning('throw', 1);
    expect(r.dead).toEqual([]);
    expect(await deadLetters(admin, name.current)).toEqual([]);
    expect((await pendingEntries(admin, name.current)).map((p) => p.consumer)).toEqual(['thief']);
  });
});

describe('Worker: Redis goes away', () => {
  it('reports the failed commands as errors while Redis is unreachable, and runs jobs again once it is back', async () => {
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    try {
      const q = queue();
      const ran: string[] = [];
      const w = startWorker({
        // No retries, no waiting: a command fails at once while Redis cannot be reached.
        redis: await connection(`redis://127.0.0.1:${proxy.port}/${redis.db}`, {
          maxRetriesPerRequest: 0,
          retryStrategy: () => 20,
        }),
        queue: name.current,
        concurrency: 1,
        minIdleMs: MIN_IDLE,
        handler: (job) => void ran.push(job.id),
      });
      const r = reports(w);
      await q.add({});
      await waitFor('the first job to complete', () => r.completed.length === 1);
      proxy.refuse(true);
      proxy.cut();
      await waitFor('an error event while Redis is unreachable', () => r.errors.length > 0, {
        timeoutMs: 3000,
      });
      proxy.refuse(false);
      await q.add({});
      await waitFor('the worker to recover and run the next job', () => r.completed.length === 2, {
        timeoutMs: 5000,
      });
      expect(ran).toEqual(['1', '2']);
    } finally {
      await proxy.close();
    }
  });

  it('joins the group again when Redis has lost it (restarted without persistence): jobs added afterwards run', async () => {
    const q = queue();
    const ran: Job[] = [];
    const w = await worker({ handler: (job) => void ran.push(job) });
    const r = reports(w);
    await q.add({ before: 'the restart' });
    await waitFor('the first job to complete', () => r.completed.length === 1);
    const k = keys(name.current);
    await admin.del(k.stream, k.delayed, k.dead, k.ids, `${name.current}:seq`); // every key, group and all
    await q.add({ after: 'the restart' });
    await waitFor(
      'the job added after Redis lost the group to run: the worker creates the group again when Redis says NOGROUP',
      () => r.completed.length === 2,
      { timeoutMs: 5000 },
    );
    expect(ran.map((j) => j.data)).toEqual([{ before: 'the restart' }, { after: 'the restart' }]);
  });

  it('with no error listener: goes on quietly, and runs again the job whose acknowledgement failed while Redis was away', async () => {
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const q = queue();
      const g = gate();
      const ran: Job[] = [];
      const completed: Job[] = [];
      const w = startWorker({
        redis: await connection(`redis://127.0.0.1:${proxy.port}/${redis.db}`, {
          maxRetriesPerRequest: 0,
          retryStrategy: () => 20,
        }),
        queue: name.current,
        concurrency: 1,
        minIdleMs: 300,
        handler: async (job) => {
          ran.push(job);
          if (ran.length === 1) await g.promise;
        },
      });
      w.on('completed', (job) => completed.push(job)); // and no 'error' listener
      await q.add({});
      await waitFor('the job to start', () => ran.length === 1);
      proxy.refuse(true);
      proxy.cut();
      g.open(); // the handler resolves while Redis cannot be reached: the XACK fails
      await sleep(300);
      proxy.refuse(false);
      await waitFor(
        'the job to be taken over after minIdleMs (by the same worker) and completed',
        () => completed.length === 1,
        { timeoutMs: 5000 },
      );
      expect(
        ran.map((j) => [j.id, j.deliveries]),
        'the first run was never acknowledged, so the job ran again',
      ).toEqual([
        ['1', 1],
        ['1', 2],
      ]);
      expect(unhandled, "an 'error' event without a listener throws: nothing may be thrown").toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await proxy.close();
    }
  });
});
