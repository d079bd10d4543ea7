/**
 * `npm run bench -- 11-observability/metrics-registry`: your registry against prom-client 15
 * (`Histogram`, `Counter`, `register.metrics()`), the metrics library most Node.js services install,
 * on the same workloads:
 *
 * 1. `observe` per second on a histogram with the default 11 buckets and one label, cycling through
 *    1 label value and then 10 (finding the series costs something: a key built per call);
 * 2. the exposition of 1,000 series: 100 metrics (50 counters, 50 histograms with 5 buckets) × 10
 *    label sets each, `expose()` against `await register.metrics()`, in expositions per second.
 *
 * Each phase runs for a fifth of `--duration` (default 1 s), in 3 alternating rounds, and the best
 * round counts: on a shared machine the load changes from second to second, and the best round is
 * the one least disturbed by others. Every loop is bounded by that time and by a count.
 */
import { Counter as PromCounter, Histogram as PromHistogram, Registry as PromRegistry } from 'prom-client';
import type { BenchContext } from '../../../src/testing/index.js';
import { Registry } from './registry.js';

const ROUNDS = 3;
const BATCH = 10_000;
const MAX_OPERATIONS = 50_000_000;
const ROUTES = Array.from({ length: 10 }, (_, i) => `/route/${i}`);
const VALUES = Array.from({ length: 1024 }, (_, i) => ((i * 7919) % 1000) / 250); // 0 to 4 s, spread over the buckets

interface Row {
  readonly label: string;
  readonly perSecond: number;
}

/** Runs `batch()` (which does `size` operations) until `seconds` pass or MAX_OPERATIONS are done. */
async function rate(seconds: number, size: number, batch: () => unknown): Promise<number> {
  let operations = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end && operations < MAX_OPERATIONS) {
    await batch();
    operations += size;
  }
  return operations / ((performance.now() - start) / 1000);
}

function observePhase(labelValues: number) {
  const routes = ROUTES.slice(0, labelValues);
  const mine = new Registry().histogram({ name: 'bench_seconds', help: 'Bench.', labelNames: ['route'] });
  const theirs = new PromHistogram({
    name: 'bench_seconds',
    help: 'Bench.',
    labelNames: ['route'],
    registers: [new PromRegistry()],
  });
  const run = (observe: (labels: { route: string }, value: number) => void) => () => {
    for (let i = 0; i < BATCH; i++)
      observe({ route: routes[i % routes.length] as string }, VALUES[i & 1023] as number);
  };
  return [
    {
      label: `your observe, ${labelValues} label value${labelValues > 1 ? 's' : ''}`,
      size: BATCH,
      batch: run((l, v) => mine.observe(l, v)),
    },
    {
      label: `prom-client observe, ${labelValues} label value${labelValues > 1 ? 's' : ''}`,
      size: BATCH,
      batch: run((l, v) => theirs.observe(l, v)),
    },
  ];
}

function exposePhase() {
  const mine = new Registry();
  const theirs = new PromRegistry();
  for (let m = 0; m < 100; m++) {
    const labelNames = ['route', 'status'];
    const labelSets = Array.from({ length: 10 }, (_, i) => ({
      route: `/api/v1/items/${i}`,
      status: String(200 + (i % 3)),
    }));
    if (m % 2 === 0) {
      const name = `bench_events_${m}_total`;
      const a = mine.counter({ name, help: 'Events.', labelNames });
      const b = new PromCounter({ name, help: 'Events.', labelNames, registers: [theirs] });
      labelSets.forEach((labels, i) => {
        a.inc(labels, i + 1);
        b.inc(labels, i + 1);
      });
    } else {
      const name = `bench_latency_${m}_seconds`;
      const buckets = [0.01, 0.05, 0.1, 0.5, 1];
      const a = mine.histogram({ name, help: 'Latency.', labelNames, buckets });
      const b = new PromHistogram({ name, help: 'Latency.', labelNames, buckets, registers: [theirs] });
      labelSets.forEach((labels, i) => {
        for (let k = 0; k < 5; k++) {
          a.observe(labels, (VALUES[i * 5 + k] as number) / 4);
          b.observe(labels, (VALUES[i * 5 + k] as number) / 4);
        }
      });
    }
  }
  const lines = mine.expose().split('\n').length - 1;
  return {
    lines,
    contenders: [
      { label: 'your expose()', size: 1, batch: () => mine.expose() },
      { label: 'prom-client register.metrics()', size: 1, batch: () => theirs.metrics() },
    ],
  };
}

function table(rows: readonly Row[], unit: string): string[] {
  const [mine, theirs] = rows;
  const fmt = (r: Row) =>
    `  ${r.label.padEnd(36)} ${Math.round(r.perSecond).toLocaleString('en-US').padStart(14)} ${unit}`;
  const ratio = mine && theirs && theirs.perSecond > 0 ? (mine.perSecond / theirs.perSecond).toFixed(2) : '–';
  return [...rows.map(fmt), `  ratio yours / prom-client: ${ratio}×`];
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const seconds = Math.max(0.2, ctx.durationSeconds / 5);
  const { lines, contenders: exposeContenders } = exposePhase();
  ctx.log(`prom-client 15.1.3 as the baseline; ${seconds} s per phase, best of ${ROUNDS} alternating rounds`);
  const phases = [
    { title: 'histogram observe, 1 label value', unit: 'observations/s', contenders: observePhase(1) },
    { title: 'histogram observe, 10 label values', unit: 'observations/s', contenders: observePhase(10) },
    {
      title: `exposition of 1,000 series (100 metrics × 10 label sets, ${lines} lines)`,
      unit: 'expositions/s',
      contenders: exposeContenders,
    },
  ];
  for (const phase of phases) {
    const best = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? phase.contenders : [...phase.contenders].reverse();
      for (const c of order)
        best.set(c.label, Math.max(best.get(c.label) ?? 0, await rate(seconds, c.size, c.batch)));
    }
    ctx.log(`${phase.title}:`);
    for (const line of table(
      phase.contenders.map((c) => ({ label: c.label, perSecond: best.get(c.label) ?? 0 })),
      phase.unit,
    )) {
      ctx.log(line);
    }
  }
}
