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

/** The gap to the next representable double above x, as HdrHistogram uses it to round counts. */
function ulp(x: number): number {
  return 2 ** (Math.floor(Math.log2(x)) - 52);
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

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
  readonly lowest: number;
  readonly highest: number;
  readonly significantDigits: number;

  /** Slots of one fixed width: 65,536 of them across the whole range. */
  readonly #width: number;
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  constructor(options: LatencyHistogramOptions = {}) {
    const lowest = options.lowest ?? DEFAULT_LOWEST;
    const highest = options.highest ?? DEFAULT_HIGHEST;
    const digits = options.significantDigits ?? DEFAULT_SIGNIFICANT_DIGITS;
    requireInteger('lowest', lowest, 1, Number.MAX_SAFE_INTEGER);
    requireInteger('highest', highest, 2 * lowest, Number.MAX_SAFE_INTEGER);
    requireInteger('significantDigits', digits, 1, 5);
    this.lowest = lowest;
    this.highest = highest;
    this.significantDigits = digits;
    this.#width = Math.max(lowest, Math.ceil((highest + 1) / 65_536));
    this.#counts = new Float64Array(Math.floor(highest / this.#width) + 1);
  }

  get count(): number {
    return this.#count;
  }

  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  get max(): number {
    return this.#count === 0 ? 0 : this.#max;
  }

  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  record(value: number): void {
    this.#check(value, 'value');
    this.#add(value);
  }

  recordCorrected(value: number, expectedInterval: number): void {
    this.#check(value, 'value');
    if (!Number.isInteger(expectedInterval) || expectedInterval < 0) {
      throw new RangeError(`expectedInterval must be an integer ≥ 0, got ${expectedInterval}`);
    }
    this.#add(value);
    if (expectedInterval === 0) return;
    for (let missing = value - expectedInterval; missing >= expectedInterval; missing -= expectedInterval) {
      this.#add(missing);
    }
  }

  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) {
      throw new RangeError(`percentile must be a number from 0 to 100, got ${p}`);
    }
    if (this.#count === 0) return 0;
    const exactCount = (p / 100) * this.#count;
    const countAtPercentile = Math.max(Math.ceil(exactCount - ulp(exactCount)), 1);
    let seen = 0;
    for (let index = 0; index < this.#counts.length; index++) {
      seen += this.#counts[index] as number;
      if (seen >= countAtPercentile) {
        return p === 0 ? index * this.#width : (index + 1) * this.#width - 1;
      }
    }
    return this.#max;
  }

  merge(other: LatencyHistogram): void {
    for (const option of ['lowest', 'highest', 'significantDigits'] as const) {
      if (other[option] !== this[option]) {
        throw new RangeError(
          `merge needs histograms with the same options: ${option} is ${this[option]} here and ${other[option]} in the other`,
        );
      }
    }
    if (other.#count === 0) return;
    other.#counts.forEach((n, index) => {
      this.#counts[index] = (this.#counts[index] as number) + n;
    });
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = Number.NEGATIVE_INFINITY;
  }

  #check(value: number, name: string): void {
    if (!Number.isInteger(value) || value < 0 || value > this.highest) {
      throw new RangeError(`${name} must be an integer from 0 to highest (${this.highest}), got ${value}`);
    }
  }

  #add(value: number): void {
    const index = Math.floor(value / this.#width);
    this.#counts[index] = (this.#counts[index] as number) + 1;
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }
}
