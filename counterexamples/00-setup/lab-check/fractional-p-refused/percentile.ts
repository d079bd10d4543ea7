/**
 * Latency percentiles, the numbers every dashboard and SLO is written in.
 *
 * A mean hides the slow requests your users remember; a percentile shows them. p99 = 250 ms means
 * 99 % of requests took 250 ms or less, and 1 in 100 took longer.
 */

/** What {@link summarize} reports about a list of samples (all in the samples' unit, e.g. ms). */
export interface LatencySummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * The `p`-th percentile of `samples` by the nearest-rank method: sort ascending, then take the
 * value at rank `ceil(p / 100 * n)` (ranks count from 1); `p = 0` gives the smallest sample.
 * The result is always one of the samples, never an interpolation.
 *
 * Does not modify `samples`.
 *
 * @example percentile([15, 20, 35, 40, 50], 40) === 20   // rank ceil(0.4 * 5) = 2
 * @throws {RangeError} when `samples` is empty, when a sample is not a finite number, or when `p` is
 * not a number from 0 to 100
 */
export function percentile(samples: readonly number[], p: number): number {
  return rankOf(sortedCopy(samples), p);
}

/**
 * Count, min, max, mean and the p50/p95/p99 of `samples` (nearest rank, as {@link percentile}).
 * Does not modify `samples`.
 *
 * @throws {RangeError} when `samples` is empty or a sample is not a finite number
 */
export function summarize(samples: readonly number[]): LatencySummary {
  // Sort once and read every percentile from the same sorted copy: O(n log n), not O(k n log n).
  const sorted = sortedCopy(samples);
  const sum = sorted.reduce((total, x) => total + x, 0);
  return {
    count: sorted.length,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    mean: sum / sorted.length,
    p50: rankOf(sorted, 50),
    p95: rankOf(sorted, 95),
    p99: rankOf(sorted, 99),
  };
}

function sortedCopy(samples: readonly number[]): number[] {
  if (samples.length === 0) throw new RangeError('cannot take a percentile of no samples');
  const bad = samples.find((x) => !Number.isFinite(x));
  if (bad !== undefined) throw new RangeError(`every sample must be a finite number, got ${bad}`);
  // The default sort compares as strings ([100, 20].sort() is [100, 20]); compare as numbers.
  return [...samples].sort((a, b) => a - b);
}

function rankOf(sorted: readonly number[], p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > 100)
    throw new RangeError(`p must be a number from 0 to 100, got ${p}`);
  // p * n first: (7 / 100) * 100 is 7.000000000000001 in floating point, and its ceiling is 8.
  const rank = Math.max(1, Math.ceil((p * sorted.length) / 100));
  return sorted[rank - 1] as number;
}
