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
  throw new Error('percentile() is not implemented yet: open exercises/00-setup/lab-check/percentile.ts');
}

/**
 * Count, min, max, mean and the p50/p95/p99 of `samples` (nearest rank, as {@link percentile}).
 * Does not modify `samples`.
 *
 * @throws {RangeError} when `samples` is empty or a sample is not a finite number
 */
export function summarize(samples: readonly number[]): LatencySummary {
  throw new Error('summarize() is not implemented yet: open exercises/00-setup/lab-check/percentile.ts');
}
