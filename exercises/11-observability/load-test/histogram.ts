/**
 * A latency recorder in the shape of Gil Tene's HdrHistogram: counts in buckets whose width grows with
 * the value, so every value is kept to a fixed number of significant decimal digits whatever its size
 * (1 µs apart at 1 ms, 1 ms apart at 1 s with 3 digits), in memory that depends only on the range,
 * never on how many values were recorded.
 *
 * **The layout.** With `d` significant digits, `subBucketCount` is the smallest power of two of at
 * least 2 × 10^d (2,048 for 3 digits). Bucket 0 counts the values 0 .. subBucketCount - 1 one by one
 * (in units of `lowest`, rounded down to a power of two); bucket k ≥ 1 covers the next doubling,
 * subBucketCount / 2 slots each 2^k units wide. A slot is never wider than 1 / 10^d of the values in
 * it, which is where the precision guarantee comes from. The counts of all buckets live in one flat
 * array, indexed exactly as HdrHistogram indexes it, so every percentile agrees with
 * `hdr-histogram-js`'s.
 *
 * **Why percentiles only from counts.** A p99 is a property of the whole set of values: two hosts'
 * p99s cannot be averaged into the fleet's p99, but two histograms with the same layout add slot by
 * slot into the histogram of both sets, from which any percentile is then exact to `d` digits.
 */

/** Options of {@link LatencyHistogram}; all integers. */
export interface LatencyHistogramOptions {
  /** The smallest value told apart from 0 (the unit of the first bucket): an integer ≥ 1. Default 1. */
  readonly lowest?: number;
  /**
   * The largest value `record` accepts: an integer ≥ 2 × lowest, at most `Number.MAX_SAFE_INTEGER`.
   * Default 3,600,000,000 (an hour in microseconds, the unit the load generators record in).
   */
  readonly highest?: number;
  /** Significant decimal digits every value is kept to: 1 to 5. Default 3 (0.1 % relative error). */
  readonly significantDigits?: 1 | 2 | 3 | 4 | 5;
}

export const DEFAULT_LOWEST = 1;
export const DEFAULT_HIGHEST = 3_600_000_000;
export const DEFAULT_SIGNIFICANT_DIGITS = 3;

const todo = (fn: string) =>
  new Error(`${fn} is not implemented yet: open exercises/11-observability/load-test/histogram.ts`);

/**
 * Records integer values (latencies in microseconds, say) and answers percentiles to a stated number of
 * significant digits.
 *
 * **Recording.** `record` takes an integer from 0 to `highest`. Anything else (a negative or
 * fractional number, `NaN`, `Infinity`, a value above `highest`) throws a `RangeError` that names the
 * value, and the histogram is left as it was: round before you record, and size `highest` for the
 * worst latency you can get (this histogram neither clamps nor resizes, so a value it cannot hold is
 * never silently misreported).
 *
 * **Reading.** `count`, `min` and `max` are exact, and so is `mean` (the sum of the recorded values
 * over the count). `percentile(p)` is HdrHistogram's `getValueAtPercentile(p)`: the smallest slot
 * below or at which at least `p` % of the values lie (`max(1, ⌈p / 100 × count⌉)` values, with the
 * ceiling taken one ulp below the product so that `7 / 100 × 100` counts as 7), answered as the
 * highest value equivalent to that slot (its lowest for `p` = 0). So the answer `v` for an exact value
 * `x` at that rank satisfies `x ≤ v ≤ x × (1 + 10^-significantDigits)`, and `percentile(100)` may
 * exceed `max` by as much. An empty histogram answers 0 to all of them.
 *
 * **Combining.** `merge(other)` adds another histogram with the same options into this one: the result
 * is what recording both sets of values into one histogram gives. Averaging percentiles is not a merge.
 */
export class LatencyHistogram {
  /** The options in force, defaults filled in. */
  readonly lowest: number;
  readonly highest: number;
  readonly significantDigits: number;

  /**
   * A histogram with the given options (defaults above). An option out of range throws a `RangeError`
   * that names it and its value.
   */
  constructor(options: LatencyHistogramOptions = {}) {
    void options;
    throw todo('the LatencyHistogram constructor');
  }

  /** How many values were recorded. */
  get count(): number {
    throw todo('count');
  }

  /** The smallest value recorded, exactly; 0 when empty. */
  get min(): number {
    throw todo('min');
  }

  /** The largest value recorded, exactly; 0 when empty. */
  get max(): number {
    throw todo('max');
  }

  /** The arithmetic mean of the recorded values, exactly; 0 when empty. */
  get mean(): number {
    throw todo('mean');
  }

  /** Records one value: an integer from 0 to `highest`, else a `RangeError` naming it. */
  record(value: number): void {
    throw todo(`record(${value})`);
  }

  /**
   * HdrHistogram's `recordValueWithExpectedInterval`: records `value`, then, when `expectedInterval`
   * is positive, the samples a stalled measurement loop failed to take while it waited for it:
   * `value - expectedInterval`, `value - 2 × expectedInterval`, ... down to the last one that is still
   * ≥ `expectedInterval`. So `recordCorrected(207, 100)` records 207 and 107 (count 2, min 107), and
   * a value below twice the interval is recorded alone. `expectedInterval` is an integer ≥ 0 (0: no
   * correction); `value` follows `record`'s rules; either one wrong throws a `RangeError` naming it,
   * before anything is recorded.
   */
  recordCorrected(value: number, expectedInterval: number): void {
    throw todo(`recordCorrected(${value}, ${expectedInterval})`);
  }

  /**
   * The value at percentile `p` (0 to 100), as HdrHistogram's `getValueAtPercentile` answers it (see
   * the class). `p` outside 0..100 or `NaN` throws a `RangeError` naming it.
   */
  percentile(p: number): number {
    throw todo(`percentile(${p})`);
  }

  /**
   * Adds every value recorded in `other` into this histogram. Both must have the same `lowest`,
   * `highest` and `significantDigits`, else a `RangeError` that says which differs. `other` is
   * unchanged.
   */
  merge(other: LatencyHistogram): void {
    void other;
    throw todo('merge');
  }

  /** Forgets every value: back to the state of a new histogram with the same options. */
  reset(): void {
    throw todo('reset');
  }
}
