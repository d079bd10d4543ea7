import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  crash,
  createSim,
  DEFAULT_CONFIG,
  entryState,
  idleMs,
  MAX_DELIVERIES,
  restart,
  run,
  type SimConfig,
  type SimState,
  STALL_MS,
  STREAM_KEEP,
  step,
  TICK_MS,
  WORK_MS,
  type Worker,
  waiting,
} from './model';

const healthy: SimConfig = { ...DEFAULT_CONFIG, poisonPercent: 0, flakyPercent: 0 };
const quiet = (config: SimConfig): SimConfig => ({ ...config, ratePerSecond: 0 });

/** Steps until `done` holds, failing after `limitSeconds` of simulated time. */
function until(sim: SimState, config: SimConfig, done: () => boolean, limitSeconds = 120) {
  const limit = sim.now + limitSeconds * 1000;
  while (!done()) {
    if (sim.now >= limit) throw new Error(`condition not reached within ${limitSeconds} s`);
    step(sim, config);
  }
}

/** Runs until nothing is left to do: no waiting, pending, delayed or in-flight work. */
function drain(sim: SimState, config: SimConfig) {
  until(
    sim,
    quiet(config),
    () =>
      waiting(sim) === 0 &&
      sim.pending.length === 0 &&
      sim.delayed.length === 0 &&
      sim.workers.every((w) => !w.task),
    600,
  );
}

function busyWorker(sim: SimState): Worker {
  const w = sim.workers.find((x) => x.state === 'busy');
  if (!w?.task) throw new Error('no busy worker');
  return w;
}

describe('queue simulator model', () => {
  it('is deterministic: the same seed and actions give the same run, another seed another', () => {
    const play = (seed: number) => {
      const sim = createSim(seed);
      const config = { ...DEFAULT_CONFIG, flakyPercent: 20 };
      run(sim, config, 20);
      crash(sim, 'w2', config);
      run(sim, config, 20);
      restart(sim, 'w2');
      run(sim, config, 20);
      return sim;
    };
    expect(play(7)).toEqual(play(7));
    expect(play(8).totals, 'a different seed must give a different run').not.toEqual(play(7).totals);
  });

  it('adds jobs at about the configured rate', () => {
    const sim = createSim(1);
    run(sim, { ...healthy, ratePerSecond: 1 }, 200);
    expect(sim.totals.added).toBeGreaterThan(160);
    expect(sim.totals.added).toBeLessThan(240);
  });

  it('completes every job exactly once when nothing fails or crashes, and leaves nothing pending', () => {
    const sim = createSim(2);
    run(sim, healthy, 60);
    drain(sim, healthy);
    expect(sim.totals.added).toBeGreaterThan(30);
    expect(sim.completions.every((n) => n === 1)).toBe(true);
    expect(sim.totals).toMatchObject({
      completed: sim.totals.added,
      duplicates: 0,
      retried: 0,
      reclaimed: 0,
      dead: 0,
    });
  });

  it('never gives a worker more than one job, and falls behind when jobs come faster than 3 workers finish them', () => {
    const sim = createSim(3);
    const flood = { ...healthy, ratePerSecond: 3 };
    let mostBusy = 0;
    for (let i = 0; i < (90 * 1000) / TICK_MS; i++) {
      step(sim, flood);
      const busy = sim.workers.filter((w) => w.state === 'busy');
      mostBusy = Math.max(mostBusy, busy.length);
      // Each worker holds at most one task and owns at most one pending entry while alive.
      for (const w of busy) expect(sim.pending.filter((p) => p.consumer === w.name).length).toBe(1);
    }
    expect(mostBusy).toBe(3);
    // 3 workers x 1 job per ~2 s = ~1.5 jobs/s against 3 added: the backlog grows.
    expect(waiting(sim)).toBeGreaterThan(60);
  });

  it('computes backoff as BullMQ does: fixed every time, exponential delay x 2^(attemptsMade-1)', () => {
    expect([1, 2, 3].map((n) => backoffDelay({ type: 'fixed', delayMs: 2000 }, n))).toEqual([
      2000, 2000, 2000,
    ]);
    expect([1, 2, 3, 4].map((n) => backoffDelay({ type: 'exponential', delayMs: 1000 }, n))).toEqual([
      1000, 2000, 4000, 8000,
    ]);
  });

  it('schedules a retry after the backoff, frees the worker meanwhile, and dead-letters after the last attempt', () => {
    const config: SimConfig = {
      ...healthy,
      poisonPercent: 100,
      attempts: 3,
      backoff: { type: 'exponential', delayMs: 2000 },
    };
    const sim = createSim(4);
    until(sim, config, () => sim.jobs.length > 0);
    const poison = sim.jobs[0]!;
    const seen: number[] = [];
    const quietConfig = quiet(config);
    until(sim, quietConfig, () => {
      const retry = sim.delayed.find((d) => d.jobId === poison.id && !seen.includes(d.attemptsMade));
      if (retry) {
        // Scheduled in this very tick: due exactly one backoff from now, and no worker holds the job.
        expect(retry.dueAt - sim.now).toBe(backoffDelay(config.backoff, retry.attemptsMade));
        expect(sim.workers.some((w) => w.task?.jobId === poison.id)).toBe(false);
        expect(
          sim.pending.some((p) => p.jobId === poison.id),
          'a failed attempt is acked',
        ).toBe(false);
        seen.push(retry.attemptsMade);
      }
      return sim.dead.some((d) => d.jobId === poison.id);
    });
    expect(seen).toEqual([1, 2]);
    expect(sim.dead.find((d) => d.jobId === poison.id)).toMatchObject({
      attemptsMade: 3,
      error: expect.stringMatching(/poison/),
    });
    drain(sim, config);
    expect(sim.totals.dead).toBe(sim.totals.added);
    expect(sim.totals.retried).toBe(2 * sim.totals.added);
    expect(sim.totals.completed).toBe(0);
  });

  it('gives attempts and backoff to jobs added after the change, not to those already queued', () => {
    const sim = createSim(5);
    const oneAttempt = { ...healthy, poisonPercent: 100, attempts: 1 };
    until(sim, oneAttempt, () => sim.jobs.length > 0);
    const threeAttempts = { ...oneAttempt, attempts: 3 };
    until(sim, threeAttempts, () => sim.jobs.length > 1);
    expect(sim.jobs[0]!.attempts).toBe(1);
    expect(sim.jobs.at(-1)!.attempts).toBe(3);
  });

  it('retries flaky jobs until they succeed, so most complete and few go dead', () => {
    const config = { ...healthy, flakyPercent: 30, attempts: 5, backoff: { type: 'fixed', delayMs: 1000 } };
    const sim = createSim(6);
    run(sim, config as SimConfig, 60);
    drain(sim, config as SimConfig);
    expect(sim.totals.retried).toBeGreaterThan(5);
    expect(sim.totals.completed + sim.totals.dead).toBe(sim.totals.added);
    expect(sim.totals.dead).toBeLessThan(sim.totals.added / 20);
  });

  it('keeps a crashed worker’s entry pending, reclaims it only after minIdleMs, and completes it once', () => {
    const config = { ...healthy, minIdleMs: 10_000 };
    const sim = createSim(7);
    until(sim, config, () => sim.workers.some((w) => w.state === 'busy'));
    const victim = busyWorker(sim);
    const jobId = victim.task!.jobId;
    crash(sim, victim.name, config);
    expect(victim.state).toBe('crashed');
    const entry = () => sim.pending.find((p) => p.jobId === jobId);
    expect(entry(), 'the crashed worker’s entry stays in the PEL under its name').toMatchObject({
      consumer: victim.name,
      deliveries: 1,
    });
    const deliveredAt = entry()!.deliveredAt;
    // Stepped one tick at a time: the claim happens at the first tick another worker was free after min-idle.
    until(sim, config, () => entry()?.consumer !== victim.name);
    const claimed = entry()!;
    expect(claimed.deliveries, 'a claim raises the delivery count').toBe(2);
    expect(claimed.deliveredAt, 'a claim restarts the idle time').toBe(sim.now);
    expect(sim.now - deliveredAt, 'claimed only once idle for minIdleMs').toBeGreaterThanOrEqual(
      config.minIdleMs,
    );
    expect(sim.now - deliveredAt).toBeLessThanOrEqual(config.minIdleMs + WORK_MS.max + TICK_MS);
    expect(sim.totals.reclaimed).toBe(1);
    drain(sim, config);
    expect(sim.completions[jobId - 1]).toBe(1);
    expect(sim.totals.duplicates).toBe(0);
    expect(
      sim.completions.every((n) => n === 1),
      'no job is lost when a worker dies',
    ).toBe(true);
  });

  it('reports idle time as time since the last delivery', () => {
    const sim = createSim(8);
    until(sim, healthy, () => sim.pending.length > 0);
    const entry = sim.pending[0]!;
    expect(entryState(sim, sim.stream.find((e) => e.seq === entry.seq)!)).toBe('pending');
    step(sim, healthy);
    step(sim, healthy);
    // An attempt takes at least WORK_MS.min (4 ticks): still pending, idle for exactly two ticks.
    expect(idleMs(sim, entry)).toBe(2 * TICK_MS);
  });

  it('dead-letters a job that stalls its workers more than MAX_DELIVERIES times', () => {
    const config = { ...healthy, ratePerSecond: 0.2, minIdleMs: 5_000 };
    const sim = createSim(9);
    until(sim, config, () => sim.workers.some((w) => w.state === 'busy'));
    const jobId = busyWorker(sim).task!.jobId;
    // Kill whichever worker holds the job, each time it is delivered, then bring the worker back.
    until(sim, config, () => {
      const holder = sim.workers.find((w) => w.task?.jobId === jobId);
      if (holder) {
        crash(sim, holder.name, config);
        restart(sim, holder.name);
      }
      return sim.dead.some((d) => d.jobId === jobId);
    });
    expect(sim.dead.find((d) => d.jobId === jobId)).toMatchObject({
      error: `stalled: delivered ${MAX_DELIVERIES} times`,
    });
    expect(sim.pending.some((p) => p.jobId === jobId)).toBe(false);
    expect(sim.completions[jobId - 1]).toBe(0);
  });

  it('crash means slow: the frozen worker’s job is reclaimed, and when it wakes the job completes twice', () => {
    const config = { ...healthy, minIdleMs: 10_000, crashMeansSlow: true };
    const sim = createSim(10);
    until(sim, config, () => sim.workers.some((w) => w.state === 'busy'));
    const victim = busyWorker(sim);
    const jobId = victim.task!.jobId;
    crash(sim, victim.name, config);
    expect(victim.state).toBe('frozen');
    expect(victim.task?.jobId, 'a frozen worker keeps its job in hand').toBe(jobId);
    until(sim, config, () => sim.completions[jobId - 1] === 1);
    expect(sim.totals.reclaimed).toBe(1);
    until(sim, config, () => victim.state !== 'frozen');
    drain(sim, config);
    expect(sim.completions[jobId - 1], 'at-least-once: the job ran to completion on two workers').toBe(2);
    expect(sim.totals.duplicates).toBe(1);
  });

  it('crash means slow, with minIdleMs longer than the pause: nothing is reclaimed and nothing duplicated', () => {
    const config = { ...healthy, minIdleMs: 30_000, crashMeansSlow: true };
    expect(config.minIdleMs).toBeGreaterThan(STALL_MS);
    const sim = createSim(10);
    until(sim, config, () => sim.workers.some((w) => w.state === 'busy'));
    crash(sim, busyWorker(sim).name, config);
    run(sim, config, 40);
    drain(sim, config);
    expect(sim.totals.reclaimed).toBe(0);
    expect(sim.totals.duplicates).toBe(0);
    expect(sim.completions.every((n) => n === 1)).toBe(true);
  });

  it('wakes a frozen worker early on restart, and a restarted dead worker takes new jobs', () => {
    const config = { ...healthy, crashMeansSlow: true };
    const sim = createSim(11);
    until(sim, config, () => sim.workers.some((w) => w.state === 'busy'));
    const victim = busyWorker(sim);
    crash(sim, victim.name, config);
    restart(sim, victim.name);
    expect(victim.state).toBe('busy');
    crash(sim, 'w3', { ...config, crashMeansSlow: false });
    const w3 = sim.workers.find((w) => w.name === 'w3')!;
    expect(['crashed', 'frozen']).toContain(w3.state);
    restart(sim, 'w3');
    run(sim, config, 40);
    expect(w3.state === 'busy' || sim.events.some((e) => e.text.startsWith('w3 completed'))).toBe(true);
  });

  it('trims acknowledged entries but never a pending one', () => {
    // min-idle 30 s: the dead worker's entry stays pending while more than STREAM_KEEP others are acked.
    const config = { ...healthy, ratePerSecond: 1.2, minIdleMs: 30_000 };
    const sim = createSim(12);
    until(sim, config, () => sim.workers.some((w) => w.state === 'busy'));
    const victim = busyWorker(sim);
    const seq = victim.task!.seq;
    crash(sim, victim.name, config);
    run(sim, config, 28);
    expect(sim.pending.some((p) => p.seq === seq)).toBe(true);
    expect(
      sim.stream.some((e) => e.seq < seq),
      'older acked entries are trimmed by now',
    ).toBe(false);
    expect(
      sim.stream.some((e) => e.seq === seq),
      'a pending entry must stay in the stream',
    ).toBe(true);
    expect(sim.stream.filter((e) => e.seq > seq && entryState(sim, e) === 'acked').length).toBe(STREAM_KEEP);
    run(sim, config, 200);
    const acked = sim.stream.filter((e) => entryState(sim, e) === 'acked').length;
    expect(acked).toBeLessThanOrEqual(STREAM_KEEP);
    expect(sim.totals.added).toBeGreaterThan(STREAM_KEEP * 5);
  });
  // docs/maintainers/simulators.mdx "What learners should see" walks through this run: keep them in step.
  it('plays the documented walkthrough (seed 42): crash w2 at 6 s, reclaimed at 15.75 s; frozen, a duplicate', () => {
    const walk = (config: SimConfig) => {
      const sim = createSim(42);
      run(sim, config, 6);
      const w2 = sim.workers.find((w) => w.name === 'w2')!;
      expect(w2.task?.jobId).toBe(4);
      crash(sim, 'w2', config);
      run(sim, config, 40);
      return sim;
    };
    const dead = walk(DEFAULT_CONFIG);
    expect(dead.events.find((e) => e.kind === 'reclaim')).toMatchObject({
      at: 15_750,
      text: expect.stringMatching(/^w3 reclaimed job 4 from w2/),
    });
    expect(dead.totals.duplicates).toBe(0);
    const frozen = walk({ ...DEFAULT_CONFIG, crashMeansSlow: true });
    expect(frozen.events.find((e) => e.kind === 'duplicate')).toMatchObject({
      at: 23_250,
      text: expect.stringMatching(/^w2 completed job 4 again/),
    });
    const patient = walk({ ...DEFAULT_CONFIG, crashMeansSlow: true, minIdleMs: 30_000 });
    expect(patient.totals).toMatchObject({ reclaimed: 0, duplicates: 0 });
  });
});
