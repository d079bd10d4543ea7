/**
 * The load balancing simulator's model: pure, deterministic (seeded), no DOM. Time moves in ticks.
 * Each tick some requests arrive, each with a cost (units of work) and a client key; the strategy
 * picks a backend; every backend works through its queue at its own speed, one request at a time.
 * A request's latency is the number of ticks from arrival to completion, so queueing shows up
 * directly in the tail (p95, p99).
 */

import { mulberry32Step as mulberry32 } from '../../testing/sim/prng';

export type Strategy =
  | 'round-robin'
  | 'weighted-round-robin'
  | 'least-connections'
  | 'power-of-two'
  | 'consistent-hashing';

export const STRATEGIES: { id: Strategy; label: string; summary: string }[] = [
  { id: 'round-robin', label: 'Round robin', summary: 'Each backend in turn, whatever its speed or queue.' },
  {
    id: 'weighted-round-robin',
    label: 'Weighted round robin',
    summary: 'In turn, but in proportion to each backend’s configured weight (smooth WRR, as nginx does).',
  },
  {
    id: 'least-connections',
    label: 'Least connections',
    summary: 'The backend with the fewest requests in flight right now.',
  },
  {
    id: 'power-of-two',
    label: 'Power of two choices',
    summary:
      'Pick two backends at random and send to the less busy one: nearly as good as least connections, with no global view.',
  },
  {
    id: 'consistent-hashing',
    label: 'Consistent hashing',
    summary:
      'The client key picks the backend on a hash ring (100 virtual nodes each): sticky, and only a dead backend’s keys move.',
  },
];

export interface BackendConfig {
  name: string;
  /** Units of work per tick. */
  speed: number;
  /** Weight for weighted round robin (usually proportional to speed). */
  weight: number;
}

export const DEFAULT_BACKENDS: BackendConfig[] = [
  { name: 'A', speed: 4, weight: 4 },
  { name: 'B', speed: 2, weight: 2 },
  { name: 'C', speed: 2, weight: 2 },
  { name: 'D', speed: 1, weight: 1 },
];

interface Request {
  id: number;
  cost: number;
  remaining: number;
  key: string;
  arrivedAt: number;
}

export interface BackendState {
  readonly config: BackendConfig;
  alive: boolean;
  queue: Request[];
  served: number;
  /** Ticks spent working. */
  busyTicks: number;
  maxQueue: number;
  /** WRR bookkeeping. */
  currentWeight: number;
}

export interface SimState {
  strategy: Strategy;
  seed: number;
  tick: number;
  rngState: number;
  nextId: number;
  rrIndex: number;
  backends: BackendState[];
  sent: number;
  completed: number;
  failed: number;
  /** Latencies (ticks) of completed requests. */
  latencies: number[];
}

/** mulberry32 (shared with the other simulators): returns [value in [0,1), next state]. */
export const random = mulberry32;

/** FNV-1a, 32 bit: the ring's hash. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const VIRTUAL_NODES = 100;
const ringCache = new WeakMap<BackendConfig[], { point: number; backend: number }[]>();

function ring(configs: BackendConfig[]) {
  let points = ringCache.get(configs);
  if (!points) {
    points = configs
      .flatMap((c, backend) =>
        Array.from({ length: VIRTUAL_NODES }, (_, v) => ({ point: hash(`${c.name}#${v}`), backend })),
      )
      .sort((a, b) => a.point - b.point);
    ringCache.set(configs, points);
  }
  return points;
}

export function createSim(
  strategy: Strategy,
  seed: number,
  configs: BackendConfig[] = DEFAULT_BACKENDS,
): SimState {
  return {
    strategy,
    seed,
    tick: 0,
    rngState: seed >>> 0,
    nextId: 0,
    rrIndex: 0,
    backends: configs.map((config) => ({
      config,
      alive: true,
      queue: [],
      served: 0,
      busyTicks: 0,
      maxQueue: 0,
      currentWeight: 0,
    })),
    sent: 0,
    completed: 0,
    failed: 0,
    latencies: [],
  };
}

function rand(sim: SimState): number {
  const [value, next] = random(sim.rngState);
  sim.rngState = next;
  return value;
}

/** Mostly cheap requests with a heavy tail: 80% cost 1-3, 20% cost 6-15. */
function drawCost(sim: SimState): number {
  return rand(sim) < 0.8 ? 1 + Math.floor(rand(sim) * 3) : 6 + Math.floor(rand(sim) * 10);
}

const inFlight = (b: BackendState) => b.queue.length;

/** Picks a backend index for a request, or -1 when none is alive. */
export function pick(sim: SimState, key: string): number {
  const alive = sim.backends.map((b, i) => (b.alive ? i : -1)).filter((i) => i >= 0);
  if (alive.length === 0) return -1;
  switch (sim.strategy) {
    case 'round-robin': {
      for (let n = 0; n < sim.backends.length; n++) {
        const i = sim.rrIndex++ % sim.backends.length;
        if (sim.backends[i]!.alive) return i;
      }
      return -1;
    }
    case 'weighted-round-robin': {
      // Smooth weighted round robin: add each weight, pick the largest, subtract the total.
      let best = -1;
      let total = 0;
      for (const i of alive) {
        const b = sim.backends[i]!;
        b.currentWeight += b.config.weight;
        total += b.config.weight;
        if (best < 0 || b.currentWeight > sim.backends[best]!.currentWeight) best = i;
      }
      sim.backends[best]!.currentWeight -= total;
      return best;
    }
    case 'least-connections':
      return alive.reduce((best, i) =>
        inFlight(sim.backends[i]!) < inFlight(sim.backends[best]!) ? i : best,
      );
    case 'power-of-two': {
      if (alive.length === 1) return alive[0]!;
      const a = alive[Math.floor(rand(sim) * alive.length)]!;
      let b = a;
      while (b === a) b = alive[Math.floor(rand(sim) * alive.length)]!;
      return inFlight(sim.backends[b]!) < inFlight(sim.backends[a]!) ? b : a;
    }
    case 'consistent-hashing': {
      const points = ring(sim.backends.map((b) => b.config));
      const h = hash(key);
      let start = points.findIndex((p) => p.point >= h);
      if (start < 0) start = 0;
      for (let n = 0; n < points.length; n++) {
        const p = points[(start + n) % points.length]!;
        if (sim.backends[p.backend]!.alive) return p.backend;
      }
      return -1;
    }
  }
}

/** Sends `count` requests now (client keys from a pool of 40 clients). */
export function send(sim: SimState, count: number): void {
  for (let n = 0; n < count; n++) {
    const key = `client-${Math.floor(rand(sim) * 40)}`;
    const cost = drawCost(sim);
    const request: Request = { id: sim.nextId++, cost, remaining: cost, key, arrivedAt: sim.tick };
    sim.sent++;
    const target = pick(sim, key);
    if (target < 0) {
      sim.failed++;
      continue;
    }
    const backend = sim.backends[target]!;
    backend.queue.push(request);
    backend.maxQueue = Math.max(backend.maxQueue, backend.queue.length);
  }
}

/**
 * Advances one tick: `rate` requests arrive (a fractional rate adds one more with that probability),
 * then every alive backend spends its speed on the head of its queue.
 */
export function step(sim: SimState, rate: number): void {
  const whole = Math.floor(rate);
  send(sim, whole + (rate > whole && rand(sim) < rate - whole ? 1 : 0));
  sim.tick++;
  for (const backend of sim.backends) {
    if (!backend.alive || backend.queue.length === 0) continue;
    backend.busyTicks++;
    let budget = backend.config.speed;
    while (budget > 0 && backend.queue.length > 0) {
      const head = backend.queue[0]!;
      const spent = Math.min(budget, head.remaining);
      head.remaining -= spent;
      budget -= spent;
      if (head.remaining === 0) {
        backend.queue.shift();
        backend.served++;
        sim.completed++;
        sim.latencies.push(sim.tick - head.arrivedAt);
      }
    }
  }
}

/** Kills or revives a backend. Killing it fails everything queued on it (connections reset). */
export function setAlive(sim: SimState, index: number, alive: boolean): void {
  const backend = sim.backends[index];
  if (!backend || backend.alive === alive) return;
  backend.alive = alive;
  if (!alive) {
    sim.failed += backend.queue.length;
    backend.queue = [];
    backend.currentWeight = 0;
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface Summary {
  strategy: Strategy;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  maxQueue: number;
  failed: number;
}

export function summarize(sim: SimState): Summary {
  return {
    strategy: sim.strategy,
    p50: percentile(sim.latencies, 50),
    p95: percentile(sim.latencies, 95),
    p99: percentile(sim.latencies, 99),
    max: sim.latencies.reduce((a, b) => Math.max(a, b), 0),
    maxQueue: sim.backends.reduce((a, b) => Math.max(a, b.maxQueue), 0),
    failed: sim.failed,
  };
}

/**
 * The same seeded workload through every strategy: `ticks` ticks at `perTick` arrivals, then drained.
 * With `killAt`, backend A dies at that tick.
 */
export function compareStrategies(seed: number, perTick: number, ticks = 200, killAt?: number): Summary[] {
  return STRATEGIES.map(({ id }) => {
    const sim = createSim(id, seed);
    for (let t = 0; t < ticks; t++) {
      if (t === killAt) setAlive(sim, 0, false);
      step(sim, perTick);
    }
    for (let t = 0; t < 2000 && sim.backends.some((b) => b.queue.length > 0); t++) step(sim, 0);
    return summarize(sim);
  });
}
