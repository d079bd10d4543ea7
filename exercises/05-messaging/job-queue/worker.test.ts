import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, sleep, startFaultProxy, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  connection,
  deadLetters,
  delayed,
  gate,
  keys,
  pendingEntries,
  reports,
  startWorker,
  streamEntries,
  useQueueName,
  watchTimers,
} from './harness.js';
import { createQueue, createWorker, GROUP, type Job, type WorkerOptions } from './job-queue.js';

/** An options object as text for a failure message (JSON, with BigInts as `3n`). */
const shown = (value: unknown) =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

const redis = useRedis();
const name = useQueueName('worker');
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

function queue(clock = new ManualClock(), maxLen?: number) {
  return createQueue({ redis: admin, name: name.current, clock, ...(maxLen ? { maxLen } : {}) });
}

async function worker<T>(options: Partial<WorkerOptions<T>> & Pick<WorkerOptions<T>, 'handler'>) {
  return startWorker<T>({
    redis: await connection(redis.url),
    queue: name.current,
    concurrency: 1,
    minIdleMs: 60_000,
    ...options,
  });
}

/** A handler that fails every time, recording each attempt. */
function alwaysFails(calls: Job[]) {
  return (job: Job) => {
    calls.push(job);
    throw new Error(`attempt ${job.attemptsMade + 1} failed`);
  };
}

describe('createWorker: bad options', () => {
  it('rejects bad options with a TypeError or RangeError naming the option and the value', async () => {
    const base: WorkerOptions = {
      redis: admin,
      queue: 'q',
      concurrency: 1,
      minIdleMs: 1000,
      handler: () => {},
    };
    const bad: [Partial<WorkerOptions>, ErrorConstructor, RegExp][] = [
      [{ queue: '' }, TypeError, /queue/],
      [{ queue: 'a b' }, TypeError, /queue/],
      [{ consumer: '' }, TypeError, /consumer/],
      [{ consumer: 42 as unknown as string }, TypeError, /consumer.*42/],
      [{ handler: 'run' as unknown as WorkerOptions['handler'] }, TypeError, /handler.*"run"/],
      [{ handler: {} as unknown as WorkerOptions['handler'] }, TypeError, /handler.*an object/],
      [{ concurrency: 0 }, RangeError, /concurrency.*0/],
      [{ concurrency: 1.5 }, RangeError, /concurrency.*1\.5/],
      [{ minIdleMs: 2 }, RangeError, /minIdleMs.*2/],
      [{ minIdleMs: Number.NaN }, RangeError, /minIdleMs.*NaN/],
      [{ concurrency: 4n as unknown as number }, RangeError, /concurrency.*4n/],
      [{ blockMs: 0 }, RangeError, /blockMs.*0/],
      [{ reclaimIntervalMs: -1 }, RangeError, /reclaimIntervalMs.*-1/],
      [{ maxDeliveries: 0 }, RangeError, /maxDeliveries.*0/],
    ];
    for (const [change, type, message] of bad) {
      expect(() => createWorker({ ...base, ...change }), `options ${shown(change)}`).toThrow(type);
      expect(() => createWorker({ ...base, ...change })).toThrow(message);
    }
    const w = await worker({ handler: () => {} });
    expect(() => w.close({ timeoutMs: -1 })).toThrow(RangeError);
    expect(() => w.close({ timeoutMs: -1 })).toThrow(/timeoutMs.*-1/);
  });
});

describe('Worker: running jobs', () => {
  it('hands the handler the job, acknowledges it, then emits completed', async () => {
    const q = queue();
    const data = { to: 'ada@example.com', n: [1, 2] };
    await q.add(data, { attempts: 3, backoff: { type: 'fixed', delayMs: 10 } });
    const [entry] = await streamEntries(admin, name.current);
    const seen: Job[] = [];
    const w = await worker({ handler: (job) => void seen.push(job) });
    let pendingAtCompletion: number | undefined;
    w.on('completed', () => {
      pendingEntries(admin, name.current).then((p) => {
        pendingAtCompletion ??= p.length;
      });
    });
    const r = reports(w);
    await waitFor('the job to complete', () => r.completed.length === 1);
    expect(seen).toEqual([
      {
        id: '1',
        data,
        attempts: 3,
        attemptsMade: 0,
        backoff: { type: 'fixed', delayMs: 10 },
        deliveries: 1,
        entryId: entry?.id,
      },
    ]);
    expect(r.completed[0]?.id).toBe('1');
    await waitFor('the check made at completion', () => pendingAtCompletion !== undefined);
    expect(pendingAtCompletion, 'the entry is acknowledged before completed is emitted').toBe(0);
  });

  it('runs jobs that were added before any worker existed', async () => {
    const q = queue();
    for (let i = 0; i < 5; i++) await q.add({ i });
    const w = await worker({ handler: () => {}, concurrency: 2 });
    const r = reports(w);
    await waitFor('the 5 jobs added before the worker started to complete', () => r.completed.length === 5, {
      timeoutMs: 3000,
    });
  });

  it('runs at most `concurrency` jobs at once, and refills a free slot while the others still run', async () => {
    const q = queue();
    const gates = new Map<string, ReturnType<typeof gate>>();
    let running = 0;
    let most = 0;
    const w = await worker({
      concurrency: 3,
      handler: async (job) => {
        running++;
        most = Math.max(most, running);
        const g = gate();
        gates.set(job.id, g);
        await g.promise;
        running--;
      },
    });
    const r = reports(w);
    for (let i = 0; i < 9; i++) await q.add({ i });
    await waitFor('3 jobs to be running', () => running === 3);
    await sleep(300);
    expect(running, 'with 3 jobs running and 6 waiting, no fourth starts').toBe(3);
    gates.get('1')?.open();
    await waitFor('a fourth job to start in the freed slot while jobs 2 and 3 still run', () =>
      gates.has('4'),
    );
    expect(running).toBe(3);
    for (let n = 2; n <= 9; n++) {
      await waitFor(`job ${n} to start`, () => gates.has(String(n)));
      gates.get(String(n))?.open();
    }
    await waitFor('all 9 to complete', () => r.completed.length === 9);
    expect(most, 'never more than 3 at once').toBe(3);
    expect(r.errors, 'reads that time out empty are not errors').toEqual([]);
  });

  it('runs every job of a flood three times maxLen long (trimming never drops a waiting job)', async () => {
    const q = queue(new ManualClock(), 10);
    for (let i = 0; i < 30; i++) await q.add({ i });
    const done = new Set<number>();
    const w = await worker({
      concurrency: 5,
      handler: (job: Job<{ i: number }>) => void done.add(job.data.i),
    });
    const r = reports(w);
    await waitFor('all 30 jobs to complete', () => r.completed.length === 30, { timeoutMs: 5000 });
    expect(done.size).toBe(30);
  });
});

describe('Worker: failures, retries and dead letters', () => {
  it('retries with a fixed backoff on the injected clock, then dead-letters the job after its last attempt', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const q = queue(clock);
    const calls: Job[] = [];
    const w = await worker({ clock, handler: alwaysFails(calls) });
    const r = reports(w);
    const id = await q.add({ report: 7 }, { attempts: 3, backoff: { type: 'fixed', delayMs: 1000 } });

    await waitFor('the first failure to be recorded', () => r.failed.length === 1);
    expect(
      (await delayed(admin, name.current)).map((d) => [d.dueAt, d.fields.attemptsMade]),
      'retry 1 due in 1000 ms',
    ).toEqual([[1_700_000_001_000, '1']]);
    expect(await pendingEntries(admin, name.current), 'the failed attempt is acknowledged').toEqual([]);
    clock.advance(999);
    expect(await q.promote(), 'not due 1 ms early').toBe(0);
    clock.advance(1);
    await waitFor('the second attempt', () => calls.length === 2);
    expect(calls[1]?.attemptsMade).toBe(1);
    expect(calls[1]?.entryId, 'a retry is a new stream entry').not.toBe(calls[0]?.entryId);
    await waitFor('the second failure', () => r.failed.length === 2);
    expect(
      (await delayed(admin, name.current)).map((d) => d.dueAt),
      'fixed: 1000 ms again',
    ).toEqual([1_700_000_002_000]);
    clock.advance(1000);
    await waitFor('the job to go dead after its third attempt', () => r.dead.length === 1);

    expect(
      calls.map((j) => j.attemptsMade),
      'exactly 3 attempts',
    ).toEqual([0, 1, 2]);
    expect(r.failed.map(([j, e]) => [j.attemptsMade, e.message])).toEqual([
      [0, 'attempt 1 failed'],
      [1, 'attempt 2 failed'],
      [2, 'attempt 3 failed'],
    ]);
    expect(r.dead[0]?.[0].id).toBe(id);
    expect(r.dead[0]?.slice(1)).toEqual(['failed', 'attempt 3 failed']);
    const letters = await deadLetters(admin, name.current);
    expect(letters.map((l) => l.fields)).toEqual([
      {
        job: id,
        data: '{"report":7}',
        attempts: '3',
        attemptsMade: '3',
        error: 'attempt 3 failed',
        reason: 'failed',
        failedAt: String(1_700_000_002_000),
      },
    ]);
    expect(
      await pendingEntries(admin, name.current),
      'the last attempt is acknowledged in the source',
    ).toEqual([]);
    expect(await delayed(admin, name.current)).toEqual([]);
    await sleep(200);
    expect(calls.length, 'a dead job is not run again').toBe(3);
  });

  it('waits delayMs, then 2×, then 4× with an exponential backoff', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const q = queue(clock);
    const calls: Job[] = [];
    const w = await worker({ clock, handler: alwaysFails(calls) });
    const r = reports(w);
    await q.add({}, { attempts: 4, backoff: { type: 'exponential', delayMs: 100 } });
    const waits: number[] = [];
    for (let failure = 1; failure <= 3; failure++) {
      await waitFor(`failure ${failure}`, () => r.failed.length === failure);
      const [due] = await delayed(admin, name.current);
      waits.push((due?.dueAt ?? 0) - clock.now());
      clock.advance(waits.at(-1) ?? 0);
    }
    expect(waits, 'BullMQ’s formula: delayMs × 2^(attemptsMade − 1)').toEqual([100, 200, 400]);
    await waitFor('the fourth failure to dead-letter the job', () => r.dead.length === 1);
    expect(calls.length).toBe(4);
  });

  it('retries at once without a backoff, and a retry that succeeds completes the job', async () => {
    const q = queue();
    const calls: Job[] = [];
    const w = await worker({
      handler: (job) => {
        calls.push(job);
        if (job.attemptsMade < 2) throw new Error('not yet');
      },
    });
    const r = reports(w);
    const delayedAtFailure: Promise<number>[] = [];
    w.on('failed', () => delayedAtFailure.push(admin.zcard(keys(name.current).delayed)));
    await q.add({}, { attempts: 5 });
    await waitFor('the third attempt to complete the job', () => r.completed.length === 1);
    expect(calls.map((j) => j.attemptsMade)).toEqual([0, 1, 2]);
    expect(r.dead).toEqual([]);
    expect(
      await Promise.all(delayedAtFailure),
      'no backoff: each retry goes straight into the stream, not through the delayed set',
    ).toEqual([0, 0]);
  });

  it('sends a job with the default single attempt to the dead-letter stream at its first failure', async () => {
    const q = queue();
    const calls: Job[] = [];
    const w = await worker({ handler: alwaysFails(calls) });
    const r = reports(w);
    const id = await q.add({ once: true });
    await waitFor('the job to go dead', () => r.dead.length === 1);
    expect(r.failed.length, 'failed is emitted for the attempt too').toBe(1);
    expect(
      (await deadLetters(admin, name.current)).map((l) => [l.fields.job, l.fields.attemptsMade]),
    ).toEqual([[id, '1']]);
    expect(calls.length).toBe(1);
  });

  it('keeps the slot free while a retry waits for its backoff: a later job runs meanwhile', async () => {
    const clock = new ManualClock();
    const q = queue(clock);
    const ran: string[] = [];
    const w = await worker({
      clock,
      concurrency: 1,
      handler: (job: Job<{ fail?: boolean }>) => {
        ran.push(job.id);
        if (job.data.fail) throw new Error('try again in a minute');
      },
    });
    const r = reports(w);
    await q.add({ fail: true }, { attempts: 2, backoff: { type: 'fixed', delayMs: 60_000 } });
    await waitFor('the first attempt to fail', () => r.failed.length === 1, { timeoutMs: 3000 });
    await q.add({ fail: false });
    await waitFor(
      'the second job to run while the first waits for its retry',
      () => r.completed.length === 1,
      {
        timeoutMs: 3000,
      },
    );
    expect(ran).toEqual(['1', '2']);
    expect(
      (await delayed(admin, name.current)).map((d) => d.fields.job),
      'the retry waits in the delayed set',
    ).toEqual(['1']);
  });

  it('lets a jobId be used again once its job has completed or gone dead', async () => {
    const q = queue();
    const ran: string[] = [];
    const w = await worker({
      handler: (job: Job<{ fail: boolean }>) => {
        ran.push(`${job.id}:${job.data.fail}`);
        if (job.data.fail) throw new Error('no');
      },
    });
    const r = reports(w);
    await q.add({ fail: false }, { jobId: 'nightly' });
    await waitFor('the first nightly job to complete', () => r.completed.length === 1);
    expect(
      await admin.sismember(keys(name.current).ids, 'nightly'),
      'a completed job’s id leaves <name>:ids',
    ).toBe(0);
    await q.add({ fail: true }, { jobId: 'nightly' });
    await waitFor('the second to go dead', () => r.dead.length === 1);
    await q.add({ fail: false }, { jobId: 'nightly' });
    await waitFor('the third to complete', () => r.completed.length === 2);
    expect(ran).toEqual(['nightly:false', 'nightly:true', 'nightly:false']);
  });
});

describe('Worker.close', () => {
  it('cuts the blocked read, waits for the jobs in flight to be acknowledged, takes no job after, leaves no timer', async () => {
    const q = queue();
    const g = gate();
    const ran: string[] = [];
    const timers = watchTimers();
    const w = await worker({
      concurrency: 2,
      blockMs: 5000,
      handler: async (job) => {
        ran.push(job.id);
        if (job.id === '1') await g.promise;
      },
    });
    const r = reports(w);
    await q.add({});
    await waitFor('job 1 to start', () => ran.length === 1);
    let closed = false;
    const closing = w.close({ timeoutMs: 5000 }).then(() => {
      closed = true;
    });
    expect(w.close(), 'a second call returns the first one’s promise').toBe(w.close());
    await sleep(200);
    expect(closed, 'close() must wait while a job is in flight').toBe(false);
    g.open();
    const cut = Date.now();
    await closing;
    expect(
      Date.now() - cut,
      'close() cuts the blocked read (BLOCK 5000) instead of waiting for it',
    ).toBeLessThan(4000);
    expect(
      r.completed.map((j) => j.id),
      'the job in flight completed before close resolved',
    ).toEqual(['1']);
    expect(timers.pending(), 'no timer of the worker is left once close() has resolved').toEqual([]);
    await waitFor('the reading connection to be closed', async () => {
      const clients = String(await admin.client('LIST')).split('\n');
      return !clients.some((c) => c.includes(` db=${redis.db} `) && c.includes(' cmd=xreadgroup'));
    });
    expect(await pendingEntries(admin, name.current)).toEqual([]);
    await q.add({});
    await sleep(300);
    expect(ran, 'a closed worker takes no new job').toEqual(['1']);
    const consumers = (await admin.xinfo('CONSUMERS', keys(name.current).stream, GROUP)) as unknown[];
    expect(consumers.length, 'a worker that closed holding nothing leaves the group').toBe(0);
    expect(r.errors, 'the read that close() cut is not reported as an error').toEqual([]);
  });

  it('gives up while its settlements are stuck on the way to Redis: once close() has resolved, no event, and the consumer stays', async () => {
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    try {
      const q = queue();
      const g = gate();
      const started = new Set<string>();
      const w = startWorker({
        redis: await connection(`redis://127.0.0.1:${proxy.port}/${redis.db}`),
        queue: name.current,
        consumer: 'stuck',
        concurrency: 3,
        minIdleMs: 60_000,
        handler: async (job: Job<{ outcome: string }>) => {
          started.add(job.id);
          await g.promise;
          if (job.data.outcome !== 'complete') throw new Error(`${job.data.outcome} it`);
        },
      });
      const r = reports(w);
      await q.add({ outcome: 'complete' });
      await q.add({ outcome: 'retry' }, { attempts: 2 });
      await q.add({ outcome: 'bury' });
      await waitFor('the 3 jobs to start', () => started.size === 3);
      proxy.pause(); // a stalled network: what the worker sends now waits in the proxy
      g.open(); // the three settlement scripts are sent, and stick
      await sleep(100);
      await w.close({ timeoutMs: 200 });
      proxy.resume();
      await waitFor('the stuck settlements to reach Redis', async () => {
        return (await pendingEntries(admin, name.current)).length === 0;
      });
      await sleep(300);
      expect(
        [r.completed, r.failed, r.dead, r.lost].map((events) => events.length),
        'no completed, failed, dead or lost event once close() has resolved, even for the scripts that land later',
      ).toEqual([0, 0, 0, 0]);
      const consumers = (await admin.xinfo('CONSUMERS', keys(name.current).stream, GROUP)) as unknown[][];
      expect(
        consumers.map((c) => c[1]),
        'a close that gave up sends nothing more: not even the removal of its consumer',
      ).toEqual(['stuck']);
    } finally {
      await proxy.close();
    }
  });

  it('gives up after timeoutMs: the job stays pending on the worker, and its late outcome is ignored', async () => {
    const q = queue();
    const g = gate();
    let started = false;
    const w = await worker({
      consumer: 'quitter',
      minIdleMs: 150, // it beats every 50 ms while the job runs
      handler: async () => {
        started = true;
        await g.promise;
      },
    });
    const r = reports(w);
    await q.add({});
    await waitFor('the job to start', () => started);
    await w.close({ timeoutMs: 100 });
    expect(
      (await pendingEntries(admin, name.current)).map((p) => p.consumer),
      'still pending on the worker',
    ).toEqual(['quitter']);
    await sleep(400);
    const [left] = await pendingEntries(admin, name.current);
    expect(
      left?.idleMs,
      'after giving up, the worker stops refreshing the job (no heartbeat)',
    ).toBeGreaterThanOrEqual(250);
    g.open();
    await sleep(200);
    expect(r.completed, 'no event after close resolved').toEqual([]);
    expect(
      (await pendingEntries(admin, name.current)).map((p) => p.consumer),
      'no acknowledgement after close resolved: another worker will take the job over',
    ).toEqual(['quitter']);
  });
});
