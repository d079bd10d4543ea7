/**
 * `npm run bench -- 07-resilience/circuit-breaker`: what a breaker costs on the happy path. Calls per
 * second of an async function that resolves at once, called bare, through your `CircuitBreaker`,
 * through opossum 10 and through cockatiel 4, in one run, on the same workload; then the same with
 * one call in ten failing (below every breaker's threshold, so all of them stay closed and count).
 *
 * The dependency does no work, so the difference between a row and the bare call is the breaker's
 * own cost per call, printed in microseconds: the price of protection when nothing is wrong. Real
 * dependencies take milliseconds; a few microseconds on top is noise, tens of microseconds is not.
 *
 * Every contender is set up alike: trip at 50% failures over a 10 s window of 10 buckets, at least
 * 20 calls (cockatiel: 2 calls/s over the window), 30 s open. opossum does two more things by
 * default, so it gets two rows: its defaults, which is what most installations run, and with both
 * turned off. It starts a timer per call (`timeout`, 10 s), and it keeps every call's latency in its
 * rolling window (`rollingPercentilesEnabled`): each failure then reads `circuit.stats`, which
 * concatenates and sorts all the latencies in the window (node_modules/opossum/lib/status.js), so a
 * failure costs more the more calls the window holds.
 *
 * Each contender runs twice (in order, then in reverse order) after a warm-up, and the faster run
 * counts, which keeps other work on the machine from deciding the ranking.
 */
import { circuitBreaker, handleAll, SamplingBreaker } from 'cockatiel';
import Opossum from 'opossum';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, loopLoad } from '../../../src/testing/index.js';
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

/** Measures every contender twice (forward, then backward) after a warm-up, and keeps the faster run. */
async function measure(list: readonly Contender[], ctx: BenchContext): Promise<Measurement[]> {
  const options = { concurrency: ctx.connections, durationSeconds: ctx.durationSeconds };
  for (const c of list) await loopLoad(c.label, c.call, { ...options, durationSeconds: 0.5 });
  const best = new Map<string, Measurement>();
  for (const order of [list, [...list].reverse()]) {
    for (const c of order) {
      const m = await loopLoad(c.label, c.call, options);
      const prev = best.get(c.label);
      if (!prev || m.perSecond > prev.perSecond) best.set(c.label, m);
    }
  }
  return list.map((c) => best.get(c.label) as Measurement);
}

/** Microseconds each call costs on top of the bare call, from the throughputs. */
function overheadLines(rows: readonly Measurement[]): string[] {
  const bare = rows[0] as Measurement;
  const perCall = (m: Measurement) => 1e6 / m.perSecond;
  const width = Math.max(...rows.map((r) => r.label.length));
  return [
    `per call: bare ${perCall(bare).toFixed(2)} µs; added by the breaker:`,
    ...rows.slice(1).map((r) => `  ${r.label.padEnd(width)}  +${(perCall(r) - perCall(bare)).toFixed(2)} µs`),
  ];
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
  ctx.log(
    `Node ${process.version}; ${ctx.connections} calls in flight; each contender measured twice for ${ctx.durationSeconds} s, the faster run shown`,
  );
  for (const workload of workloads) {
    const list = contenders(workload.dependency);
    try {
      ctx.log('');
      ctx.log(`Workload: ${workload.name}`);
      const rows = await measure(list, ctx);
      for (const line of comparisonTable(rows)) ctx.log(line);
      for (const line of overheadLines(rows)) ctx.log(line);
    } finally {
      for (const c of list) c.dispose?.();
    }
  }
}
