/**
 * The circuit breaker simulator's model: pure, deterministic (seeded), no DOM. Time moves in ticks
 * of {@link TICK_MS}. Each tick a seeded number of calls arrives at a client that calls one
 * dependency, optionally through a circuit breaker. The dependency fails a configurable share of
 * calls and takes a configurable time to answer; the client gives up on a call after
 * {@link TIMEOUT_MS} (a timeout counts as a failure). What the reader should see:
 *
 * - without a breaker, a slow dependency piles calls up in flight (Little's law: in flight =
 *   arrival rate x time per call), and every caller waits the full timeout for its failure;
 * - with one, once the failure rate in the window passes the threshold, calls are rejected at
 *   once, nothing piles up, and after the cool-down a few probes test whether it recovered.
 *
 * The breaker follows the rules of chapter 07's exercise: a rolling window of buckets, a failure
 * rate threshold with a minimum volume, an open cool-down, exactly {@link BREAKER}.probes probes in
 * half-open, and outcomes of calls admitted in an earlier state ignored (a generation counter).
 */

import { mulberry32Step as mulberry32 } from '../../testing/sim/prng';

export const TICK_MS = 100;
/** The client's timeout per call. */
export const TIMEOUT_MS = 2_000;
/** Calls per second the client makes. */
export const RATE_PER_SECOND = 40;
/** Seconds of history the chart keeps. */
export const HISTORY_SECONDS = 60;

export const BREAKER = {
  /** Open when failures / calls in the window reach this share... */
  threshold: 0.5,
  /** ...and the window holds at least this many calls. */
  minimumCalls: 20,
  windowMs: 10_000,
  buckets: 10,
  /** How long the breaker stays open before it lets probes through. */
  openMs: 5_000,
  /** Probes admitted in half-open; all must succeed to close. */
  probes: 3,
} as const;

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface SimConfig {
  /** Share of calls the dependency fails, 0-100. */
  failurePercent: number;
  /** The dependency's typical time to answer, in ms (each call takes 0.5x to 1.5x of it). */
  latencyMs: number;
  /** Whether calls go through the breaker. */
  breaker: boolean;
}

interface InFlight {
  doneAt: number;
  ok: boolean;
  timedOut: boolean;
  generation: number;
  probe: boolean;
}

interface Bucket {
  start: number;
  ok: number;
  failed: number;
}

/** One second of the chart. */
export interface Column {
  second: number;
  ok: number;
  failed: number;
  rejected: number;
  /** The breaker's state at the end of the second. */
  state: BreakerState;
}

export interface Totals {
  sent: number;
  ok: number;
  failed: number;
  timedOut: number;
  rejected: number;
}

export interface SimState {
  readonly seed: number;
  rngState: number;
  /** Simulated time, ms. */
  now: number;
  state: BreakerState;
  openedAt: number;
  generation: number;
  probesAdmitted: number;
  probesSucceeded: number;
  buckets: Bucket[];
  inFlight: InFlight[];
  maxInFlight: number;
  totals: Totals;
  history: Column[];
  /** Every transition so far, oldest first. */
  transitions: { at: number; from: BreakerState; to: BreakerState }[];
}

/** mulberry32 (shared with the other simulators): returns [value in [0,1), next state]. */
export const random = mulberry32;

export function createSim(seed: number): SimState {
  return {
    seed,
    rngState: seed >>> 0,
    now: 0,
    state: 'closed',
    openedAt: 0,
    generation: 0,
    probesAdmitted: 0,
    probesSucceeded: 0,
    buckets: [],
    inFlight: [],
    maxInFlight: 0,
    totals: { sent: 0, ok: 0, failed: 0, timedOut: 0, rejected: 0 },
    history: [],
    transitions: [],
  };
}

function rand(sim: SimState): number {
  const [value, next] = random(sim.rngState);
  sim.rngState = next;
  return value;
}

/** The calls that arrive in one tick: the rate's share of a tick, spread by the seed (0-2x). */
function arrivals(sim: SimState): number {
  const mean = (RATE_PER_SECOND * TICK_MS) / 1000;
  return Math.floor(mean * 2 * rand(sim) + rand(sim));
}

/** Calls and failures in the rolling window (buckets older than the window are dropped). */
export function windowCounts(sim: SimState): { calls: number; failed: number } {
  let calls = 0;
  let failed = 0;
  for (const b of sim.buckets) {
    if (b.start <= sim.now - BREAKER.windowMs) continue;
    calls += b.ok + b.failed;
    failed += b.failed;
  }
  return { calls, failed };
}

function record(sim: SimState, ok: boolean) {
  sim.buckets = sim.buckets.filter((b) => b.start > sim.now - BREAKER.windowMs);
  const bucketMs = BREAKER.windowMs / BREAKER.buckets;
  const start = Math.floor(sim.now / bucketMs) * bucketMs;
  let bucket = sim.buckets.at(-1);
  if (!bucket || bucket.start !== start) {
    bucket = { start, ok: 0, failed: 0 };
    sim.buckets.push(bucket);
  }
  if (ok) bucket.ok++;
  else bucket.failed++;
}

function moveTo(sim: SimState, to: BreakerState) {
  if (sim.state === to) return;
  sim.transitions.push({ at: sim.now, from: sim.state, to });
  sim.state = to;
  sim.generation++;
  if (to === 'open') sim.openedAt = sim.now;
  if (to === 'half-open') {
    sim.probesAdmitted = 0;
    sim.probesSucceeded = 0;
  }
  if (to === 'closed') sim.buckets = [];
}

/** Whether the breaker lets a call through now; `probe` when it is one of half-open's probes. */
function admit(sim: SimState, config: SimConfig): { admitted: boolean; probe: boolean } {
  if (!config.breaker) return { admitted: true, probe: false };
  if (sim.state === 'open' && sim.now - sim.openedAt >= BREAKER.openMs) moveTo(sim, 'half-open');
  if (sim.state === 'closed') return { admitted: true, probe: false };
  if (sim.state === 'half-open' && sim.probesAdmitted < BREAKER.probes) {
    sim.probesAdmitted++;
    return { admitted: true, probe: true };
  }
  return { admitted: false, probe: false };
}

/** A call's outcome reached the client: count it, and let the breaker decide. */
function settle(sim: SimState, call: InFlight, config: SimConfig, column: Column) {
  if (call.ok) {
    sim.totals.ok++;
    column.ok++;
  } else {
    sim.totals.failed++;
    column.failed++;
    if (call.timedOut) sim.totals.timedOut++;
  }
  if (!config.breaker || call.generation !== sim.generation) return; // admitted in an earlier state
  if (sim.state === 'closed') {
    record(sim, call.ok);
    const { calls, failed } = windowCounts(sim);
    if (!call.ok && calls >= BREAKER.minimumCalls && failed / calls >= BREAKER.threshold) moveTo(sim, 'open');
  } else if (sim.state === 'half-open' && call.probe) {
    if (!call.ok) moveTo(sim, 'open');
    else if (++sim.probesSucceeded >= BREAKER.probes) moveTo(sim, 'closed');
  }
}

/** Advances the simulation by one tick. */
export function step(sim: SimState, config: SimConfig): void {
  sim.now += TICK_MS;
  const second = Math.ceil(sim.now / 1000);
  let column = sim.history.at(-1);
  if (!column || column.second !== second) {
    column = { second, ok: 0, failed: 0, rejected: 0, state: sim.state };
    sim.history.push(column);
    if (sim.history.length > HISTORY_SECONDS) sim.history.shift();
  }

  const done = sim.inFlight.filter((c) => c.doneAt <= sim.now).sort((a, b) => a.doneAt - b.doneAt);
  sim.inFlight = sim.inFlight.filter((c) => c.doneAt > sim.now);
  for (const call of done) settle(sim, call, config, column);

  for (let i = arrivals(sim); i > 0; i--) {
    sim.totals.sent++;
    const { admitted, probe } = admit(sim, config);
    if (!admitted) {
      sim.totals.rejected++;
      column.rejected++;
      continue;
    }
    const takes = Math.max(1, Math.round(config.latencyMs * (0.5 + rand(sim))));
    const fails = rand(sim) * 100 < config.failurePercent;
    const timedOut = takes > TIMEOUT_MS;
    sim.inFlight.push({
      doneAt: sim.now + Math.min(takes, TIMEOUT_MS),
      ok: !fails && !timedOut,
      timedOut,
      generation: sim.generation,
      probe,
    });
  }
  if (config.breaker && sim.state === 'open' && sim.now - sim.openedAt >= BREAKER.openMs)
    moveTo(sim, 'half-open');
  sim.maxInFlight = Math.max(sim.maxInFlight, sim.inFlight.length);
  column.state = sim.state;
}

/** Advances by `seconds` of simulated time. */
export function run(sim: SimState, config: SimConfig, seconds: number): void {
  for (let i = 0; i < (seconds * 1000) / TICK_MS; i++) step(sim, config);
}
