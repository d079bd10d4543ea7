/**
 * `npm run bench -- 11-observability/load-test`: your `LatencyHistogram` against hdr-histogram-js
 * (its plain-JS `build()`, 32-bit counts, no WebAssembly), the library a Node.js load tester
 * installs (autocannon records with it), on the same pre-generated values; then the closed and open
 * loops against the simulated stalling server of the tests, on the virtual clock, so the p99s it
 * prints are exact and the same on every machine.
 *
 * Values are latencies in microseconds drawn from a seeded log-normal distribution (median 1 ms, a
 * long tail to a few seconds), as real latencies roughly are. Each contender records them all, three
 * times, and the fastest pass counts (a busy machine only ever adds time). "Percentiles" is the time
 * to answer p50, p90, p99, p99.9, p99.99 and p100 of a histogram holding 1,000,000 values.
 */
import { build } from 'hdr-histogram-js';
import type { BenchContext } from '../../../src/testing/index.js';
import { mulberry32 } from '../../../src/testing/sim/prng.js';
import { stallingServer, VirtualClock } from './harness.js';
import { LatencyHistogram } from './histogram.js';
import { closedLoop, openLoop } from './load.js';

const VALUES = 1_000_000;
const PASSES = 3;
const PERCENTILES = [50, 90, 99, 99.9, 99.99, 100];

/** Log-normal latencies in µs: median 1,000, sigma 1.2, capped at an hour. */
function latencies(n: number): Float64Array {
  const random = mulberry32(42);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    out[i] = Math.min(3_600_000_000, Math.round(1000 * Math.exp(1.2 * normal)));
  }
  return out;
}

interface Recorder {
  record(value: number): void;
  percentile(p: number): number;
}

interface Contender {
  readonly label: string;
  readonly make: () => Recorder;
}

const contenders: readonly Contender[] = [
  {
    label: 'your LatencyHistogram',
    make: () => {
      const h = new LatencyHistogram();
      return { record: (v) => h.record(v), percentile: (p) => h.percentile(p) };
    },
  },
  {
    label: 'hdr-histogram-js 3.0.1 (JS)',
    make: () => {
      const h = build({
        lowestDiscernibleValue: 1,
        highestTrackableValue: 3_600_000_000,
        numberOfSignificantValueDigits: 3,
        autoResize: false,
        useWebAssembly: false,
      });
      return { record: (v) => h.recordValue(v), percentile: (p) => h.getValueAtPercentile(p) };
    },
  },
];

function measure(contender: Contender, values: Float64Array) {
  let bestRecordMs = Number.POSITIVE_INFINITY;
  let bestPercentileMs = Number.POSITIVE_INFINITY;
  let answers: number[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    const h = contender.make();
    const t0 = performance.now();
    for (let i = 0; i < values.length; i++) h.record(values[i] as number);
    const t1 = performance.now();
    answers = PERCENTILES.map((p) => h.percentile(p));
    const t2 = performance.now();
    bestRecordMs = Math.min(bestRecordMs, t1 - t0);
    bestPercentileMs = Math.min(bestPercentileMs, t2 - t1);
  }
  return { recordsPerSecond: (values.length / bestRecordMs) * 1000, percentileMs: bestPercentileMs, answers };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

export default async function bench(ctx: BenchContext): Promise<void> {
  const values = latencies(VALUES);
  ctx.log(`recording ${fmt(VALUES)} log-normal latencies (µs), best of ${PASSES} passes`);
  const results = contenders.map((c) => ({ label: c.label, ...measure(c, values) }));
  const [yours, library] = results as [(typeof results)[0], (typeof results)[0]];
  for (const r of results) {
    ctx.log(
      `  ${r.label.padEnd(30)} record ${fmt(r.recordsPerSecond / 1e6, 1).padStart(5)} M/s   6 percentiles of 1M values ${fmt(r.percentileMs, 2).padStart(6)} ms`,
    );
  }
  ctx.log(
    `  ratio (yours / library): record ${fmt(yours.recordsPerSecond / library.recordsPerSecond, 2)}x, percentiles ${fmt(library.percentileMs / yours.percentileMs, 2)}x as fast`,
  );
  const agree = yours.answers.every((v, i) => v === library.answers[i]);
  ctx.log(
    `  p${PERCENTILES.join('/p')}: ${yours.answers.map((v) => fmt(v)).join(' / ')} µs ${agree ? '(the same as the library)' : `(library: ${library.answers.map((v) => fmt(v)).join(' / ')}: they differ)`}`,
  );

  ctx.log('');
  ctx.log('a server that stalls 1 s in every 10 s (1 ms per call otherwise), 60 virtual seconds:');
  const closedClock = new VirtualClock();
  const closedServer = stallingServer(closedClock);
  // The closed loop's own samples, also recorded with HdrHistogram's correction for its 1 ms pace.
  const corrected = new LatencyHistogram();
  const correctedCall = async () => {
    const t = closedClock.now();
    await closedServer.call();
    corrected.recordCorrected(Math.round((closedClock.now() - t) * 1000), 1000);
  };
  const closed = await closedClock.run(
    closedLoop({ call: correctedCall, concurrency: 1, durationMs: 60_000, clock: closedClock }),
  );
  const openClock = new VirtualClock();
  const openServer = stallingServer(openClock);
  const open = await openClock.run(
    openLoop({ call: openServer.call, ratePerSecond: 100, durationMs: 60_000, clock: openClock }),
  );
  for (const [label, r] of [
    ['closed loop, 1 user  ', closed],
    ['open loop, 100/s     ', open],
  ] as const) {
    const ms = (p: number) => fmt(r.latency.percentile(p) / 1000, 3);
    ctx.log(
      `  ${label} sent ${fmt(r.sent).padStart(6)}   p50 ${ms(50)} ms   p99 ${ms(99)} ms   p99.9 ${ms(99.9)} ms   max ${fmt(r.latency.max / 1000, 3)} ms   mean ${fmt(r.latency.mean / 1000, 3)} ms`,
    );
  }
  ctx.log(
    `  the open loop's p99 is ${fmt(open.latency.percentile(99) / closed.latency.percentile(99))}x the closed loop's: the closed loop hid the stalls`,
  );
  ctx.log(
    `  closed loop, corrected with recordCorrected(latency, 1 ms): p99 ${fmt(corrected.percentile(99) / 1000, 3)} ms over ${fmt(corrected.count)} samples (back-filled)`,
  );
}
