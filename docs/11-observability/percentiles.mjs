// Why percentiles cannot be averaged across instances, and why histograms can be summed.
// Two instances of one service see different latency distributions: A is healthy (90% of the traffic),
// B is having a bad day (10% of the traffic, 4% of its requests hit a 300-900 ms stall). The script
// prints, for p50 and p99:
//   - the exact percentile of each instance and of the union of all requests;
//   - the mean of the two instances' percentiles (what a dashboard that averages a "p99" gauge shows);
//   - Prometheus's histogram_quantile() over the SUM of the two instances' bucket counters, with
//     prom-client's default buckets and with buckets chosen around the SLO, and its error.
// histogram_quantile is re-implemented as Prometheus documents it: find the bucket that holds the rank,
// interpolate linearly inside it (https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile).
// node docs/11-observability/percentiles.mjs [SEED=1]
const [seed = 1] = process.argv.slice(2).map(Number);

function mulberry32(s) {
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(seed);
/** Log-normal latency in seconds with the given median; sigma sets the spread. */
const logNormal = (median, sigma) => {
  const u = 1 - random();
  const v = random();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
};

const a = Array.from({ length: 90_000 }, () => logNormal(0.02, 0.5));
const b = Array.from({ length: 10_000 }, () =>
  random() < 0.04 ? 0.3 + random() * 0.6 : logNormal(0.03, 0.6),
);

const exact = (values, q) => {
  const s = [...values].sort((x, y) => x - y);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
};
/** Cumulative counts per upper bound (the _bucket series of one instance), +Inf last. */
const bucketize = (values, bounds) => bounds.map((le) => values.filter((v) => v <= le).length);
/** Prometheus's histogram_quantile over cumulative buckets (bounds end with Infinity). */
function histogramQuantile(q, bounds, cumulative) {
  const total = cumulative.at(-1);
  const rank = q * total;
  const i = cumulative.findIndex((c) => c >= rank);
  if (bounds[i] === Infinity) return bounds[i - 1]; // the +Inf bucket: Prometheus returns the highest finite bound
  const lower = i === 0 ? 0 : bounds[i - 1];
  const below = i === 0 ? 0 : cumulative[i - 1];
  return lower + ((bounds[i] - lower) * (rank - below)) / (cumulative[i] - below);
}

const promClientDefault = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Infinity];
const aroundSlo = [0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1, Infinity];
const ms = (s) => `${(s * 1000).toFixed(1).padStart(6)} ms`;

console.log(`Node ${process.version}; seed ${seed}; A: ${a.length} requests, B: ${b.length} requests`);
for (const q of [0.5, 0.99]) {
  const pa = exact(a, q);
  const pb = exact(b, q);
  const truth = exact([...a, ...b], q);
  console.log(`\np${q * 100}`);
  console.log(`  instance A                 ${ms(pa)}`);
  console.log(`  instance B                 ${ms(pb)}`);
  console.log(`  union of all requests      ${ms(truth)}   <- the truth`);
  const mean = (pa + pb) / 2;
  console.log(
    `  mean of the two p${q * 100}s       ${ms(mean)}   error ${(((mean - truth) / truth) * 100).toFixed(0).padStart(4)}%`,
  );
  for (const [name, bounds] of [
    ['default buckets', promClientDefault],
    ['buckets around the SLO', aroundSlo],
  ]) {
    const summed = bucketize(a, bounds).map((c, i) => c + bucketize(b, bounds)[i]);
    const est = histogramQuantile(q, bounds, summed);
    console.log(
      `  histogram_quantile, summed, ${`${name} (${bounds.length - 1})`.padEnd(27)} ${ms(est)}   error ${(((est - truth) / truth) * 100).toFixed(0).padStart(4)}%`,
    );
  }
}
