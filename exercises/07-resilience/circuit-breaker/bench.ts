/**
 * `npm run bench -- 07-resilience/circuit-breaker`: what a breaker costs while the dependency is
 * healthy. An async function that resolves at once is called bare, through your `CircuitBreaker`,
 * through opossum 10 and through cockatiel 4, in one run, on the same workload; then the same with
 * one call in ten failing (below every breaker's threshold, so all of them stay closed and count).
 *
 * The dependency does no work, so the difference between a row and the bare call is the breaker's
 * own cost per call, printed in microseconds: the price of protection when nothing is wrong. Real
 * dependencies take milliseconds; a microsecond on top is noise, tens of microseconds are not.
 *
 * Every contender is set up alike: trip at 50% failures over a 10 s window of 10 buckets, at least
 * 20 calls (cockatiel: 2 calls/s over the window), 30 s open. opossum does two more things by
 * default, so it gets two rows: its defaults, which is what most installations run, and with both
 * turned off. It starts a timer per call (`timeout`, 10 s), and it keeps every call's latency in its
 * rolling window (`rollingPercentilesEnabled`): each failure then reads `circuit.stats`, which
 * concatenates and sorts all the latencies in the window (node_modules/opossum/lib/status.js), so a
 * failure costs more the more calls the window holds.
 *
 * Each contender runs twice (in order, then in reverse order) after a warm-up, and the better run
 * counts. Besides calls per second, the bench reads the CPU time the process spent per call
 * (`process.cpuUsage`): on a machine busy with other work, throughput measures the machine as much as
 * the breaker, while CPU time per call stays close to what the breaker itself costs.
 */
import os from 'node:os';
import { circuitBreaker, handleAll, SamplingBreaker } from 'cockatiel';
import Opossum from 'opossum';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, measurementOf } from '../../../src/testing/index.js';
import { CircuitBreaker } from './circuit-breaker.js';

const THRESHOLD = 0.5;
const WINDOW_MS = 10_000;
const BUCKETS = 10;
const MINIMUM_REQUESTS = 20;
const OPEN_MS = 30_000;

/** The one error the failing workload throws (made once: the cost of a stack trace is not the breaker's). */
const dependencyDown = new Error('dependency failed');

interface Workload {
  readonly name: string;
  /** The dependency: an async function that answers at once. */
  readonly dependency: () => Promise<number>;
}

interface Contender {
  readonly label: string;
  /** One call through the breaker; resolves when the call settled as the workload expects. */
  readonly call: () => Promise<unknown>;
  readonly dispose?: () => void;
}

/** A call that fails as the dependency failed is a completed call; any other error (a breaker that opened) counts as an error. */
const expected = (p: Promise<unknown>) =>
  p.catch((error: unknown) => {
    if (error !== dependencyDown) throw error;
  });

function contenders(dependency: () => Promise<number>): Contender[] {
  const yours = new CircuitBreaker({
    failureRateThreshold: THRESHOLD,
    minimumRequests: MINIMUM_REQUESTS,
    windowMs: WINDOW_MS,
    buckets: BUCKETS,
    openMs: OPEN_MS,
    halfOpenProbes: 1,
  });
  const opossumOptions = {
    errorThresholdPercentage: THRESHOLD * 100,
    rollingCountTimeout: WINDOW_MS,
    rollingCountBuckets: BUCKETS,
    volumeThreshold: MINIMUM_REQUESTS,
    resetTimeout: OPEN_MS,
  };
  const opossumDefault = new Opossum(dependency, opossumOptions);
  const opossumLean = new Opossum(dependency, {
    ...opossumOptions,
    timeout: false,
    rollingPercentilesEnabled: false,
  });
  const cockatiel = circuitBreaker(handleAll, {
    halfOpenAfter: OPEN_MS,
    breaker: new SamplingBreaker({
      threshold: THRESHOLD,
      duration: WINDOW_MS,
      minimumRps: MINIMUM_REQUESTS / (WINDOW_MS / 1000),
    }),
  });
  return [
    { label: 'bare call', call: () => expected(dependency()) },
    { label: 'your CircuitBreaker', call: () => expected(yours.execute(dependency)) },
    {
      label: 'opossum (defaults)',
      call: () => expected(opossumDefault.fire()),
      dispose: () => opossumDefault.shutdown(),
    },
    {
      label: 'opossum (no timeout, no percentiles)',
      call: () => expected(opossumLean.fire()),
      dispose: () => opossumLean.shutdown(),
    },
    { label: 'cockatiel', call: () => expected(cockatiel.execute(dependency)) },
  ];
}

/** One measured phase: the kit's measurement, and the CPU time this process spent per call. */
interface Phase {
  readonly measurement: Measurement;
  /** User + system CPU microseconds per call: unlike throughput, barely moved by other processes. */
  readonly cpuMicros: number;
}

/**
 * Calls `call` from `concurrency` loops for `durationSeconds`, timing each call (as the kit's
 * `loopLoad` does) and the process's CPU time over the whole phase (`process.cpuUsage`).
 */
async function phase(
  label: string,
  call: () => Promise<unknown>,
  concurrency: number,
  durationSeconds: number,
): Promise<Phase> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationSeconds * 1000;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const { user, system } = process.cpuUsage(cpu);
  const elapsedSeconds = (performance.now() - started) / 1000;
  return {
    measurement: measurementOf(label, latencies, elapsedSeconds, errors),
    cpuMicros: (user + system) / (latencies.length + errors),
  };
}

/**
 * Measures every contender twice (forward, then backward) after a warm-up, and keeps the better run
 * of each: the higher throughput, and the lower CPU time per call.
 */
async function measure(list: readonly Contender[], ctx: BenchContext): Promise<Phase[]> {
  for (const c of list) await phase(c.label, c.call, ctx.connections, 0.5);
  const best = new Map<string, Phase>();
  for (const order of [list, [...list].reverse()]) {
    for (const c of order) {
      const run = await phase(c.label, c.call, ctx.connections, ctx.durationSeconds);
      const prev = best.get(c.label);
      best.set(c.label, {
        measurement:
          prev && prev.measurement.perSecond > run.measurement.perSecond ? prev.measurement : run.measurement,
        cpuMicros: Math.min(prev?.cpuMicros ?? Number.POSITIVE_INFINITY, run.cpuMicros),
      });
    }
  }
  return list.map((c) => best.get(c.label) as Phase);
}

/**
 * The CPU table: microseconds of CPU per call, what the breaker adds to the bare call, and calls per
 * CPU-second relative to the bare call (the throughput ratio on a machine with nothing else to do).
 */
function cpuTable(rows: readonly Phase[]): string[] {
  const bare = rows[0] as Phase;
  const header = ['CPU per call', 'µs', 'added µs', 'vs bare call'];
  const body = rows.map((r, i) => [
    r.measurement.label,
    r.cpuMicros.toFixed(2),
    i === 0 ? '–' : `+${(r.cpuMicros - bare.cpuMicros).toFixed(2)}`,
    `${(bare.cpuMicros / r.cpuMicros).toFixed(2)}×`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => (row[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ');
  return [line(header), ...body.map(line)];
}

export default async function bench(ctx: BenchContext): Promise<void> {
  let n = 0;
  const workloads: Workload[] = [
    {
      name: 'an async function that resolves at once (closed, every call succeeds)',
      dependency: async () => 1,
    },
    {
      name: 'one call in ten fails (10% < the 50% threshold: every breaker stays closed and counts)',
      dependency: async () => {
        if (++n % 10 === 0) throw dependencyDown;
        return 1;
      },
    },
  ];
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  ctx.log(
    `Node ${process.version}, ${os.availableParallelism()} cores, load average ${load}; ${ctx.connections} calls in flight; each contender measured twice for ${ctx.durationSeconds} s, the better run shown`,
  );
  for (const workload of workloads) {
    const list = contenders(workload.dependency);
    try {
      ctx.log('');
      ctx.log(`Workload: ${workload.name}`);
      const rows = await measure(list, ctx);
      for (const line of comparisonTable(rows.map((r) => r.measurement))) ctx.log(line);
      ctx.log('');
      for (const line of cpuTable(rows)) ctx.log(line);
    } finally {
      for (const c of list) c.dispose?.();
    }
  }
}
