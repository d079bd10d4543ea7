/**
 * The chaos run: 200 jobs (some failing once, some poison), workers in this process and in child
 * processes, one child killed with SIGKILL while it holds jobs and another started in its place,
 * Redis paused for longer than minIdleMs under one worker. Every producer and worker records what it
 * saw, and the checker in history.ts reads the whole history at the end.
 */
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { sleep, startFaultProxy, useChildProcesses, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  connection,
  deadLetters,
  delayed,
  pendingEntries,
  startChildWorker,
  startWorker,
  useQueueName,
} from './harness.js';
import { checkHistory, type HistoryEvent } from './history.js';
import { createQueue } from './job-queue.js';
import { recordWorker, type ScriptedJob, scriptedHandler } from './job-script.js';

const redis = useRedis();
const name = useQueueName('chaos');
const children = useChildProcesses();
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

const t = 0;
const add = (job: string, attempts = 1): HistoryEvent => ({ event: 'add', job, attempts, time: t });
const at = (event: 'start' | 'complete' | 'fail', job: string, worker = 'w'): HistoryEvent => ({
  event,
  job,
  worker,
  time: t,
});

/** The given checker finds each kind of anomaly in a known-bad history, and none in a good one. */
function checkTheChecker(): void {
  const good: HistoryEvent[] = [
    add('a', 2),
    at('start', 'a', 'w1'),
    at('fail', 'a', 'w1'),
    at('start', 'a', 'w2'),
    { event: 'crash', worker: 'w2', time: t },
    at('start', 'a', 'w3'),
    at('complete', 'a', 'w3'),
    add('b'),
    at('start', 'b'),
    at('fail', 'b'),
    { event: 'dead', job: 'b', worker: 'w', reason: 'failed', time: t },
  ];
  expect(checkHistory(good).summary).toBe('no anomalies');
  const bad: HistoryEvent[] = [
    add('lost'),
    at('start', 'lost'),
    add('twice'),
    at('complete', 'twice', 'w1'),
    at('complete', 'twice', 'w2'),
    add('over', 1),
    at('fail', 'over'),
    at('fail', 'over'),
    { event: 'dead', job: 'over', worker: 'w', reason: 'failed', time: t },
    add('early', 3),
    at('fail', 'early'),
    { event: 'dead', job: 'early', worker: 'w', reason: 'failed', time: t },
    add('again'),
    at('complete', 'again'),
    at('start', 'again'),
    add('buried-twice'),
    { event: 'dead', job: 'buried-twice', worker: 'w1', reason: 'stalled', time: t },
    { event: 'dead', job: 'buried-twice', worker: 'w2', reason: 'stalled', time: t },
    at('complete', 'ghost'),
    add('both', 2),
    at('complete', 'both'),
    { event: 'dead', job: 'both', worker: 'w', reason: 'stalled', time: t },
  ];
  const { anomalies, valid } = checkHistory(bad);
  expect(valid).toBe(false);
  expect(anomalies).toMatchObject({
    lost: ['lost'],
    duplicated: ['twice'],
    overAttempted: ['over'],
    gaveUpEarly: ['early'],
    afterEnd: ['again', 'buried-twice'],
    completedAndDead: ['both'],
    phantom: ['ghost'],
  });
}

describe('Worker: chaos', () => {
  it('200 jobs, a worker SIGKILLed holding jobs and replaced, Redis paused under another: no job lost, none completed twice', async () => {
    checkTheChecker();
    const minIdleMs = 300;
    const history: HistoryEvent[] = [];
    const record = (event: HistoryEvent) => history.push(event);
    const q = createQueue({ redis: admin, name: name.current });
    const adds: Promise<void>[] = [];
    const addJob = (data: ScriptedJob, attempts: number) =>
      adds.push(
        q
          .add(data, { attempts, backoff: { type: 'fixed', delayMs: 20 } })
          .then((job) => void record({ event: 'add', job, attempts, time: Date.now() })),
      );
    const settled = () => {
      const verdict = checkHistory(history);
      return verdict.counts.added === 200 && verdict.anomalies.lost.length === 0;
    };
    const completions = () => history.filter((e) => e.event === 'complete').length;
    const base = { redisUrl: redis.url, queue: name.current, minIdleMs, blockMs: 50, reclaimIntervalMs: 50 };

    // w3 (a child) takes the three trap jobs first and hangs in them: killed mid-job, for certain.
    const w3 = await startChildWorker(
      children,
      { ...base, consumer: 'w3', concurrency: 3, trap: true },
      record,
    );
    for (let i = 0; i < 3; i++) addJob({ n: i, trap: true }, 3);
    await w3.waitFor(
      'w3 to hold three jobs',
      () => w3.events.filter((e) => e.event === 'start').length === 3,
    );
    const trapIds = w3.events.filter((e) => e.event === 'start').map((e) => (e as { job: string }).job);

    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    try {
      const inProcess = [
        ['w1', `redis://127.0.0.1:${proxy.port}/${redis.db}`],
        ['w2', redis.url],
      ] as const;
      const workers = await Promise.all(
        inProcess.map(async ([worker, url]) => {
          const w = startWorker({
            redis: await connection(url),
            queue: name.current,
            consumer: worker,
            concurrency: 4,
            minIdleMs,
            handler: scriptedHandler({ worker, trap: false, record }),
          });
          recordWorker(w, worker, record);
          return w;
        }),
      );
      for (let i = 3; i < 200; i++) {
        const poison = i % 40 === 0;
        addJob({ n: i, sleepMs: 2 + (i % 7) * 2, failTimes: i % 7 === 0 ? 1 : 0, poison }, 3);
      }
      await Promise.all(adds);

      await waitFor('60 completions', () => completions() >= 60, { timeoutMs: 10_000 });
      await w3.child.kill('SIGKILL');
      record({ event: 'crash', worker: 'w3', time: Date.now() });
      const w4 = await startChildWorker(
        children,
        { ...base, consumer: 'w4', concurrency: 4, trap: false },
        record,
      );

      // The jobs w3 died holding are taken over after minIdleMs and completed. Waiting for them keeps
      // the pause below from catching one on w1 a second time (a third delivery: dead as stalled).
      await waitFor(
        'the three jobs w3 died holding to be completed by other workers',
        () => trapIds.every((id) => history.some((e) => e.event === 'complete' && e.job === id)),
        { timeoutMs: 10_000 },
      );
      await waitFor('120 completions', () => completions() >= 120, { timeoutMs: 10_000 });
      proxy.pause(); // w1 goes silent for twice minIdleMs: its jobs are taken over
      await sleep(minIdleMs * 2);
      proxy.resume();

      await waitFor('every added job to complete or go dead', settled, { timeoutMs: 15_000 });
      await Promise.all(workers.map((w) => w.close()));
      w4.child.kill('SIGTERM');
      expect(await w4.child.exited, 'w4 closes gracefully on SIGTERM').toEqual({ code: 0, signal: null });
    } finally {
      await proxy.close();
    }

    // The child workers' events reach this process through a pipe, late by as much as the machine is
    // busy: w4's `fail` of attempt 2 can arrive after w2's `dead` for attempt 3. Each event carries
    // the time its own process saw it (one machine, one clock), so the checker reads them in that order.
    const ordered = [...history].sort((a, b) => a.time - b.time);
    const verdict = checkHistory(ordered);
    const jobsFound = new Set(Object.values(verdict.anomalies).flat());
    expect(
      verdict.summary,
      `the history checker finds no anomaly; the events of the jobs it names:\n${ordered
        .filter((e) => 'job' in e && jobsFound.has(e.job))
        .map((e) => JSON.stringify(e))
        .join('\n')}`,
    ).toBe('no anomalies');
    expect(verdict.counts, '4 poison jobs (n = 40, 80, 120, 160) dead, the rest completed').toMatchObject({
      added: 200,
      completed: 196,
      dead: 4,
      crashes: 1,
    });
    const trapCompletions = history.filter((e) => e.event === 'complete' && trapIds.includes(e.job));
    expect(trapCompletions.length, 'each job w3 died holding was completed by another worker').toBe(3);
    expect(await pendingEntries(admin, name.current), 'nothing is left pending').toEqual([]);
    expect(await delayed(admin, name.current), 'nothing is left waiting for a retry').toEqual([]);
    const letters = await deadLetters(admin, name.current);
    const byN = letters
      .map((l) => [JSON.parse(l.fields.data ?? '{}').n, l.fields.attemptsMade, l.fields.reason])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(byN, 'the dead-letter stream holds exactly the poison jobs, each after 3 attempts').toEqual(
      [40, 80, 120, 160].map((n) => [n, '3', 'failed']),
    );
  }, 40_000);
});
