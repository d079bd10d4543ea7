/**
 * The queue simulator's model: pure, deterministic (seeded), no DOM. A job queue on a Redis stream
 * with one consumer group, as chapter 05's job-queue exercise builds it, played in ticks of
 * {@link TICK_MS}:
 *
 * - producers XADD jobs at a seeded rate; each job carries its own `attempts` and `backoff` (as
 *   `queue.add(data, { attempts, backoff })` does), and a share of them are poison (fail every attempt);
 * - three workers ({@link WORKERS}) with concurrency 1 read with XREADGROUP `>`: the entry goes into the
 *   pending entries list (PEL) with its owner, delivery time and a delivery count of 1;
 * - a finished job is XACKed; a failed attempt is XACKed too, in the same step as either scheduling a
 *   retry in the delayed set (due after the backoff; the worker is free meanwhile) or, with no attempts
 *   left, an XADD to the dead-letter stream with the job's id, attempts made and last error;
 * - a free worker first runs XAUTOCLAIM: a pending entry idle for `minIdleMs` or longer changes owner,
 *   its idle time restarts and its delivery count rises; an entry whose count would pass
 *   {@link MAX_DELIVERIES} (it keeps stalling its workers) goes to the dead-letter stream instead;
 * - the reader crashes a worker: dead (its job stays pending until reclaimed) or, with "crash means
 *   slow", frozen for {@link STALL_MS} and then carrying on as if nothing happened. A frozen worker's
 *   job is reclaimed like a dead one's, so when it wakes the job completes twice: at-least-once
 *   delivery means duplicates, and nothing in the queue can tell slow from dead.
 *
 * XACK names the group and the entry, not the consumer (as in Redis): a worker that wakes up acks an
 * entry even after another worker claimed it. The stream is trimmed only of entries that are delivered
 * and acknowledged (the rule the exercise states: trimming a pending entry loses its job).
 */

import { mulberry32Step as mulberry32 } from '../../testing/sim/prng';

export const TICK_MS = 250;
/** The consumer group's workers, each with concurrency 1. */
export const WORKERS = ['w1', 'w2', 'w3'] as const;
export type WorkerName = (typeof WORKERS)[number];
/** Each attempt takes between these (ms), seeded, in whole ticks. */
export const WORK_MS = { min: 1_000, max: 3_000 } as const;
/** How long a worker "crashed" while crash means slow stays frozen before it carries on. */
export const STALL_MS = 15_000;
/** A claim that would raise an entry's delivery count past this dead-letters it instead (BullMQ's maxStalledCount). */
export const MAX_DELIVERIES = 3;
/** Delivered, acknowledged entries the stream keeps (older ones are trimmed). */
export const STREAM_KEEP = 20;
/** Dead-letter entries and events kept for the view (the counters count them all). */
export const DEAD_KEEP = 50;
export const EVENTS_KEEP = 8;

export type BackoffType = 'fixed' | 'exponential';

export interface Backoff {
  type: BackoffType;
  /** fixed: the wait before every retry; exponential: the wait before the first one (ms). */
  delayMs: number;
}

export interface SimConfig {
  /** Jobs the producers add per second (seeded arrivals; 0 stops them). */
  ratePerSecond: number;
  /** Share of new jobs (0-100) that are poison: every attempt fails. */
  poisonPercent: number;
  /** Chance (0-100) that an attempt of an ordinary job fails (a flaky downstream). */
  flakyPercent: number;
  /** Attempts per job, given to jobs added from now on (1 = no retry). */
  attempts: number;
  /** Backoff between attempts, given to jobs added from now on. */
  backoff: Backoff;
  /** XAUTOCLAIM's min-idle-time: how long an entry stays pending before a free worker takes it over. */
  minIdleMs: number;
  /** When true, crashing a worker freezes it for {@link STALL_MS} instead of killing it. */
  crashMeansSlow: boolean;
}

export const DEFAULT_CONFIG: SimConfig = {
  ratePerSecond: 1,
  poisonPercent: 10,
  flakyPercent: 0,
  attempts: 3,
  backoff: { type: 'exponential', delayMs: 2_000 },
  minIdleMs: 10_000,
  crashMeansSlow: false,
};

export interface Job {
  /** 1, 2, 3, ... in the order added. */
  id: number;
  addedAt: number;
  poison: boolean;
  attempts: number;
  backoff: Backoff;
}

/** An entry of the job stream. A retry is a new entry for the same job. */
export interface StreamEntry {
  /** Orders entries; `id` is its Redis-style spelling. */
  seq: number;
  /** `<ms>-<n>`, as XADD would give it on the simulated clock. */
  id: string;
  jobId: number;
  /** Attempts the job had made before this entry (0 for a new job). */
  attemptsMade: number;
}

/** An entry of the group's pending entries list (what XPENDING shows). */
export interface PendingEntry {
  seq: number;
  id: string;
  jobId: number;
  attemptsMade: number;
  consumer: WorkerName;
  /** When it was last delivered (XREADGROUP or a claim): idle = now - deliveredAt. */
  deliveredAt: number;
  deliveries: number;
}

/** A retry waiting in the delayed set (a sorted set scored by due time). */
export interface DelayedRetry {
  jobId: number;
  attemptsMade: number;
  dueAt: number;
}

export interface DeadEntry {
  id: string;
  jobId: number;
  attemptsMade: number;
  error: string;
  at: number;
}

export interface Task {
  seq: number;
  entryId: string;
  jobId: number;
  /** 1 for the first attempt. */
  attempt: number;
  workLeftMs: number;
  fails: boolean;
  /** Taken over from another worker by XAUTOCLAIM. */
  claimed: boolean;
}

export type WorkerState = 'idle' | 'busy' | 'crashed' | 'frozen';

export interface Worker {
  name: WorkerName;
  state: WorkerState;
  task?: Task;
  /** While frozen: when it carries on. */
  frozenUntil?: number;
}

export interface Totals {
  added: number;
  /** Jobs completed at least once. */
  completed: number;
  /** Completions of a job that had already completed. */
  duplicates: number;
  failedAttempts: number;
  retried: number;
  reclaimed: number;
  dead: number;
}

export type EventKind = 'complete' | 'duplicate' | 'retry' | 'dead' | 'reclaim' | 'crash' | 'restart';

export interface SimEvent {
  /** 1, 2, 3, ... over the whole run. */
  n: number;
  at: number;
  kind: EventKind;
  text: string;
}

export interface SimState {
  readonly seed: number;
  rngState: number;
  /** Simulated time, ms. */
  now: number;
  ticks: number;
  /** Every job added, by id - 1. */
  jobs: Job[];
  /** Completions per job, by id - 1. */
  completions: number[];
  /** The stream's retained entries, oldest first. */
  stream: StreamEntry[];
  nextSeq: number;
  /** The group's last-delivered-id, as a seq: XREADGROUP `>` reads after it. */
  lastDeliveredSeq: number;
  /** The pending entries list, in entry order. */
  pending: PendingEntry[];
  /** The delayed set, by due time. */
  delayed: DelayedRetry[];
  /** The dead-letter stream's latest entries, oldest first. */
  dead: DeadEntry[];
  workers: Worker[];
  totals: Totals;
  /** The latest events, oldest first. */
  events: SimEvent[];
  eventsLogged: number;
  /** Ids given out this millisecond, for `<ms>-<n>`. */
  idClock: { ms: number; n: number };
}

/** mulberry32 (shared with the other simulators): returns [value in [0,1), next state]. */
export const random = mulberry32;

/**
 * The wait before the retry that follows `attemptsMade` failed attempts (1 after the first failure):
 * fixed waits `delayMs` every time; exponential waits `delayMs × 2^(attemptsMade-1)` (BullMQ's formula).
 */
export function backoffDelay(backoff: Backoff, attemptsMade: number): number {
  if (backoff.type === 'fixed') return backoff.delayMs;
  return Math.round(backoff.delayMs * 2 ** Math.max(0, attemptsMade - 1));
}

export function createSim(seed: number): SimState {
  return {
    seed,
    rngState: seed >>> 0,
    now: 0,
    ticks: 0,
    jobs: [],
    completions: [],
    stream: [],
    nextSeq: 1,
    lastDeliveredSeq: 0,
    pending: [],
    delayed: [],
    dead: [],
    workers: WORKERS.map((name) => ({ name, state: 'idle' })),
    totals: { added: 0, completed: 0, duplicates: 0, failedAttempts: 0, retried: 0, reclaimed: 0, dead: 0 },
    events: [],
    eventsLogged: 0,
    idClock: { ms: -1, n: 0 },
  };
}

function rand(sim: SimState): number {
  const [value, next] = random(sim.rngState);
  sim.rngState = next;
  return value;
}

function log(sim: SimState, kind: EventKind, text: string) {
  sim.events.push({ n: ++sim.eventsLogged, at: sim.now, kind, text });
  if (sim.events.length > EVENTS_KEEP) sim.events.shift();
}

/** `12.5 s` */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

function nextId(sim: SimState): string {
  if (sim.idClock.ms === sim.now) sim.idClock.n++;
  else sim.idClock = { ms: sim.now, n: 0 };
  return `${sim.now}-${sim.idClock.n}`;
}

function xadd(sim: SimState, jobId: number, attemptsMade: number) {
  sim.stream.push({ seq: sim.nextSeq++, id: nextId(sim), jobId, attemptsMade });
}

function xack(sim: SimState, seq: number) {
  sim.pending = sim.pending.filter((p) => p.seq !== seq);
}

function deadLetter(sim: SimState, jobId: number, attemptsMade: number, error: string) {
  sim.dead.push({ id: nextId(sim), jobId, attemptsMade, error, at: sim.now });
  if (sim.dead.length > DEAD_KEEP) sim.dead.shift();
  sim.totals.dead++;
}

function job(sim: SimState, jobId: number): Job {
  return sim.jobs[jobId - 1] as Job;
}

/** Entries added but not yet delivered to any worker. */
export function waiting(sim: SimState): number {
  return sim.stream.filter((e) => e.seq > sim.lastDeliveredSeq).length;
}

/** How long a pending entry has gone without a delivery, as XPENDING reports it. */
export function idleMs(sim: SimState, entry: PendingEntry): number {
  return sim.now - entry.deliveredAt;
}

/** Whether an entry is still in the stream and in which state: waiting, pending or acknowledged. */
export function entryState(sim: SimState, entry: StreamEntry): 'waiting' | 'pending' | 'acked' {
  if (entry.seq > sim.lastDeliveredSeq) return 'waiting';
  return sim.pending.some((p) => p.seq === entry.seq) ? 'pending' : 'acked';
}

function start(sim: SimState, config: SimConfig, worker: Worker, entry: PendingEntry, claimed: boolean) {
  const spread = (WORK_MS.max - WORK_MS.min) / TICK_MS;
  const workLeftMs = WORK_MS.min + Math.floor(rand(sim) * (spread + 1)) * TICK_MS;
  const flaky = rand(sim) * 100 < config.flakyPercent;
  worker.state = 'busy';
  worker.task = {
    seq: entry.seq,
    entryId: entry.id,
    jobId: entry.jobId,
    attempt: entry.attemptsMade + 1,
    workLeftMs,
    fails: job(sim, entry.jobId).poison || flaky,
    claimed,
  };
}

/** A worker's attempt is over: ack it, together with the retry or the dead letter a failure calls for. */
function finish(sim: SimState, worker: Worker, task: Task) {
  worker.state = 'idle';
  worker.task = undefined;
  const j = job(sim, task.jobId);
  xack(sim, task.seq);
  if (!task.fails) {
    const before = sim.completions[task.jobId - 1] ?? 0;
    sim.completions[task.jobId - 1] = before + 1;
    if (before === 0) {
      sim.totals.completed++;
      // Plain first-attempt completions are the counter's business; the log keeps what is worth reading.
      if (task.attempt > 1 || task.claimed)
        log(
          sim,
          'complete',
          `${worker.name} completed job ${j.id} on attempt ${task.attempt}${task.claimed ? ', after a reclaim' : ''}`,
        );
    } else {
      sim.totals.duplicates++;
      log(
        sim,
        'duplicate',
        `${worker.name} completed job ${j.id} again: a duplicate (completed ${before + 1} times)`,
      );
    }
    return;
  }
  sim.totals.failedAttempts++;
  const error = j.poison ? 'poison: fails every attempt' : 'flaky downstream: timed out';
  if (task.attempt < j.attempts) {
    const wait = backoffDelay(j.backoff, task.attempt);
    sim.delayed.push({ jobId: j.id, attemptsMade: task.attempt, dueAt: sim.now + wait });
    sim.delayed.sort((a, b) => a.dueAt - b.dueAt || a.jobId - b.jobId);
    sim.totals.retried++;
    log(
      sim,
      'retry',
      `job ${j.id} failed attempt ${task.attempt} of ${j.attempts} on ${worker.name}: retry in ${seconds(wait)}`,
    );
  } else {
    deadLetter(sim, j.id, task.attempt, error);
    log(sim, 'dead', `job ${j.id} failed all ${j.attempts} attempts: moved to the dead-letter stream`);
  }
}

/**
 * XAUTOCLAIM for one free worker, COUNT 1: the oldest entry idle for `minIdleMs` or more. An entry
 * whose delivery count would pass {@link MAX_DELIVERIES} is dead-lettered and acked instead, and the
 * scan goes on.
 */
function reclaim(sim: SimState, worker: Worker, config: SimConfig): boolean {
  for (;;) {
    const entry = sim.pending.find((p) => idleMs(sim, p) >= config.minIdleMs);
    if (!entry) return false;
    if (entry.deliveries + 1 > MAX_DELIVERIES) {
      xack(sim, entry.seq);
      deadLetter(sim, entry.jobId, entry.attemptsMade, `stalled: delivered ${entry.deliveries} times`);
      log(
        sim,
        'dead',
        `job ${entry.jobId} stalled ${entry.deliveries} workers: moved to the dead-letter stream`,
      );
      continue;
    }
    const from = entry.consumer;
    const idle = idleMs(sim, entry);
    entry.consumer = worker.name;
    entry.deliveredAt = sim.now;
    entry.deliveries++;
    sim.totals.reclaimed++;
    log(
      sim,
      'reclaim',
      `${worker.name} reclaimed job ${entry.jobId} from ${from} after ${seconds(idle)} idle (delivery ${entry.deliveries})`,
    );
    start(sim, config, worker, entry, true);
    return true;
  }
}

/** XREADGROUP `>` COUNT 1 for one free worker. */
function readNew(sim: SimState, config: SimConfig, worker: Worker): boolean {
  const entry = sim.stream.find((e) => e.seq > sim.lastDeliveredSeq);
  if (!entry) return false;
  sim.lastDeliveredSeq = entry.seq;
  const pending: PendingEntry = { ...entry, consumer: worker.name, deliveredAt: sim.now, deliveries: 1 };
  sim.pending.push(pending);
  start(sim, config, worker, pending, false);
  return true;
}

/** Trims delivered, acknowledged entries beyond the newest {@link STREAM_KEEP}; never a pending or waiting one. */
function trim(sim: SimState) {
  let acked = sim.stream.filter((e) => entryState(sim, e) === 'acked').length;
  if (acked <= STREAM_KEEP) return;
  sim.stream = sim.stream.filter((e) => {
    if (acked <= STREAM_KEEP || entryState(sim, e) !== 'acked') return true;
    acked--;
    return false;
  });
}

/** Advances the simulation by one tick. */
export function step(sim: SimState, config: SimConfig): void {
  sim.now += TICK_MS;
  sim.ticks++;

  for (const w of sim.workers) {
    if (w.state === 'frozen' && (w.frozenUntil ?? 0) <= sim.now) wake(sim, w, 'woke up');
  }
  for (const w of sim.workers) {
    if (w.state !== 'busy' || !w.task) continue;
    w.task.workLeftMs -= TICK_MS;
    if (w.task.workLeftMs <= 0) finish(sim, w, w.task);
  }

  // The scheduler: due retries move into the stream (one atomic step in the exercise's Lua).
  while (sim.delayed[0] && sim.delayed[0].dueAt <= sim.now) {
    const due = sim.delayed.shift() as DelayedRetry;
    xadd(sim, due.jobId, due.attemptsMade);
  }

  // Producers. E[floor(x + U)] = x for U uniform in [0,1), so the mean is the rate's share of a tick.
  const mean = (config.ratePerSecond * TICK_MS) / 1000;
  const arrivals = Math.floor(mean * 2 * rand(sim) + rand(sim));
  for (let i = 0; i < arrivals; i++) {
    const id = sim.jobs.length + 1;
    sim.jobs.push({
      id,
      addedAt: sim.now,
      poison: rand(sim) * 100 < config.poisonPercent,
      attempts: config.attempts,
      backoff: { ...config.backoff },
    });
    sim.completions.push(0);
    sim.totals.added++;
    xadd(sim, id, 0);
  }

  // Free workers, starting with a different one each tick: reclaim first, then new entries.
  for (let i = 0; i < sim.workers.length; i++) {
    const w = sim.workers[(sim.ticks + i) % sim.workers.length] as Worker;
    if (w.state !== 'idle') continue;
    if (!reclaim(sim, w, config)) readNew(sim, config, w);
  }
  trim(sim);
}

/** Advances by `secondsToRun` of simulated time. */
export function run(sim: SimState, config: SimConfig, secondsToRun: number): void {
  for (let i = 0; i < (secondsToRun * 1000) / TICK_MS; i++) step(sim, config);
}

function wake(sim: SimState, w: Worker, how: string) {
  w.frozenUntil = undefined;
  w.state = w.task ? 'busy' : 'idle';
  const task = w.task;
  if (!task) return log(sim, 'restart', `${w.name} ${how}`);
  const stillMine = sim.pending.some((p) => p.seq === task.seq && p.consumer === w.name);
  log(
    sim,
    'restart',
    `${w.name} ${how} and carries on with job ${task.jobId}${stillMine ? '' : ', unaware that another worker took it over'}`,
  );
}

/**
 * The reader crashes a worker. Dead: its job is dropped and the entry stays pending under its name.
 * With `crashMeansSlow`: frozen for {@link STALL_MS}, job in hand, then it carries on.
 */
export function crash(sim: SimState, name: WorkerName, config: SimConfig): void {
  const w = sim.workers.find((x) => x.name === name);
  if (!w || w.state === 'crashed' || w.state === 'frozen') return;
  const holding = w.task ? ` holding job ${w.task.jobId}` : '';
  if (config.crashMeansSlow) {
    w.state = 'frozen';
    w.frozenUntil = sim.now + STALL_MS;
    log(sim, 'crash', `${w.name} froze${holding} (a long GC pause, a hung call): it looks dead`);
    return;
  }
  w.state = 'crashed';
  w.task = undefined;
  log(sim, 'crash', `${w.name} crashed${holding}${holding ? ': the entry stays pending' : ''}`);
}

/** Brings a crashed worker back (same consumer name, reading new entries) or wakes a frozen one now. */
export function restart(sim: SimState, name: WorkerName): void {
  const w = sim.workers.find((x) => x.name === name);
  if (!w) return;
  if (w.state === 'frozen') wake(sim, w, 'woke up early');
  else if (w.state === 'crashed') {
    w.state = 'idle';
    log(sim, 'restart', `${w.name} restarted`);
  }
}
