import fc from 'fast-check';
import { build } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './histogram.js';

/** Property tests run tens of cases; a loaded machine (or a mutation run) stretches them. */
const PROPERTY_TIMEOUT_MS = 60_000;

const PERCENTILES = [0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100];

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

function expectRangeError(fn: () => unknown, mentions: string, why: string): void {
  const error = thrown(fn);
  expect(error, why).toBeInstanceOf(RangeError);
  expect((error as Error).message, `the message should name ${mentions}`).toContain(mentions);
}

/** hdr-histogram-js's plain-JS histogram with the same layout (no auto-resize, no WebAssembly). */
function reference(lowest: number, highest: number, digits: number) {
  return build({
    lowestDiscernibleValue: lowest,
    highestTrackableValue: highest,
    numberOfSignificantValueDigits: digits as 1 | 2 | 3 | 4 | 5,
    bitBucketSize: 64,
    autoResize: false,
    useWebAssembly: false,
  });
}

function recordAll(h: LatencyHistogram, values: readonly number[]): LatencyHistogram {
  for (const v of values) h.record(v);
  return h;
}

/** The exact value at the rank HdrHistogram's percentile walks to. */
function exactAtRank(sorted: readonly number[], p: number): number {
  const rank = Math.max(Math.ceil((p / 100) * sorted.length - 1e-9), 1);
  return sorted[rank - 1] as number;
}

describe('LatencyHistogram: options and input', () => {
  it('defaults to lowest 1, highest 3,600,000,000 and 3 significant digits', () => {
    const h = new LatencyHistogram();
    expect(h.lowest, 'default lowest').toBe(1);
    expect(h.highest, 'default highest: an hour in microseconds').toBe(3_600_000_000);
    expect(h.significantDigits, 'default significant digits').toBe(3);
    h.record(0);
    h.record(3_600_000_000);
    expect(h.count, 'both ends of the default range must be recorded').toBe(2);
    expectRangeError(() => h.record(3_600_000_001), '3600000001', 'a value above highest must be rejected');
    expect(h.count, 'a rejected value must not be counted').toBe(2);
  });

  it.each([
    [{ lowest: 0 }, 'lowest'],
    [{ lowest: 1.5 }, 'lowest'],
    [{ lowest: Number.NaN }, 'lowest'],
    [{ lowest: 10, highest: 19 }, 'highest'],
    [{ highest: 2.5 }, 'highest'],
    [{ highest: Number.POSITIVE_INFINITY }, 'highest'],
    [{ significantDigits: 0 }, 'significantDigits'],
    [{ significantDigits: 6 }, 'significantDigits'],
    [{ significantDigits: 2.5 }, 'significantDigits'],
  ])('rejects the options %o with a RangeError naming %s', (options, name) => {
    expectRangeError(
      () => new LatencyHistogram(options as never),
      name,
      `${JSON.stringify(options)} is out of range`,
    );
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1001])(
    'record(%s) throws a RangeError naming the value and records nothing',
    (value) => {
      const h = new LatencyHistogram({ highest: 1000 });
      h.record(5);
      expectRangeError(() => h.record(value), String(value), `record(${value}) must be rejected`);
      expect([h.count, h.min, h.max], 'the histogram must be left as it was').toEqual([1, 5, 5]);
    },
  );

  it.each([-1, 101, Number.NaN])('percentile(%s) throws a RangeError naming it', (p) => {
    const h = recordAll(new LatencyHistogram(), [1, 2, 3]);
    expectRangeError(() => h.percentile(p), String(p), `percentile(${p}) is outside 0..100`);
  });

  it('an empty histogram answers 0 for count, min, max, mean and every percentile', () => {
    const h = new LatencyHistogram();
    expect([h.count, h.min, h.max, h.mean], 'count, min, max, mean of nothing').toEqual([0, 0, 0, 0]);
    expect(
      PERCENTILES.map((p) => h.percentile(p)),
      'percentiles of nothing',
    ).toEqual(PERCENTILES.map(() => 0));
  });
});

describe('LatencyHistogram: recording and percentiles', () => {
  it('keeps small values exactly: 1..100 gives p50 = 50, p7 = 7 (not 8: 7 % of 100 is 7), p0 = 1, p100 = 100', () => {
    const h = recordAll(
      new LatencyHistogram(),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    expect(h.percentile(50), 'p50 of 1..100 is the 50th value').toBe(50);
    expect(
      h.percentile(7),
      '7 / 100 × 100 is 7.000000000000001 in floating point; the 7th value is meant',
    ).toBe(7);
    expect(h.percentile(99), 'p99 of 1..100').toBe(99);
    expect(h.percentile(0), 'p0 is the lowest value recorded').toBe(1);
    expect(h.percentile(100), 'p100 is the highest value recorded').toBe(100);
    expect(h.percentile(0.5), 'a percentile below one value still reaches the first value').toBe(1);
    expect([h.count, h.min, h.max, h.mean], 'count, min, max and the exact mean').toEqual([
      100, 1, 100, 50.5,
    ]);
  });

  it('counts repeated values and zeros, and the mean is exact', () => {
    const h = recordAll(new LatencyHistogram(), [0, 0, 7, 7, 7, 1_000_000]);
    expect(h.count, 'six values recorded').toBe(6);
    expect(h.min, 'zero is a value like any other').toBe(0);
    expect(h.max, 'max is exact').toBe(1_000_000);
    expect(h.mean, 'the mean is the exact sum over the count').toBeCloseTo(1_000_021 / 6, 9);
    expect(h.percentile(30), 'two zeros are a third of the values').toBe(0);
    expect(h.percentile(50), 'the median').toBe(7);
  });

  it('answers a large value as the highest value of its slot, within 10^-digits of it', () => {
    const h = new LatencyHistogram();
    h.record(1_000_000);
    expect(h.max, 'max is the exact value').toBe(1_000_000);
    // At 1,000,000 the 3-digit slots are 512 wide: 999,936 .. 1,000,447.
    expect(h.percentile(100), 'p100 is the highest value equivalent to 1,000,000').toBe(1_000_447);
    expect(h.percentile(0), 'p0 is the lowest value equivalent to 1,000,000').toBe(999_936);
    const coarse = new LatencyHistogram({ significantDigits: 1 });
    coarse.record(1_000);
    // With 1 digit the slots at 1,000 are 32 wide: 992 .. 1,023.
    expect(coarse.percentile(50), 'one significant digit: within 10 % of the value').toBe(1_023);
  });

  it('honours lowest: values are kept in units of lowest rounded down to a power of two', () => {
    const h = new LatencyHistogram({ lowest: 1000, highest: 100_000_000 });
    h.record(1_234_567);
    h.record(999);
    expect([h.min, h.max], 'min and max stay exact').toEqual([999, 1_234_567]);
    const ref = reference(1000, 100_000_000, 3);
    ref.recordValue(1_234_567);
    ref.recordValue(999);
    for (const p of PERCENTILES) {
      expect(h.percentile(p), `p${p} with lowest 1000, as hdr-histogram-js answers it`).toBe(
        ref.getValueAtPercentile(p),
      );
    }
  });
});

describe('LatencyHistogram: the edges of the layout', () => {
  it.each([2048, 4096, 2 ** 20, 2 ** 32, 2 ** 40])(
    'a histogram whose highest is %s records it, and answers as hdr-histogram-js does',
    (highest) => {
      const h = new LatencyHistogram({ highest });
      const ref = reference(1, highest, 3);
      for (const v of [highest, highest - 1, 2 ** 32, 2 ** 32 - 1, 2047, 2048, 1]) {
        if (v > highest) continue;
        h.record(v);
        ref.recordValue(v);
      }
      expect([h.count, h.max], `count and max with highest ${highest}`).toEqual([ref.totalCount, highest]);
      for (const p of PERCENTILES) {
        expect(h.percentile(p), `p${p} with highest ${highest}`).toBe(ref.getValueAtPercentile(p));
      }
    },
  );
});

describe('LatencyHistogram: coordinated-omission correction (HdrHistogram vectors)', () => {
  it('recordCorrected(207, 100) records 207 and 107: count 2, min 107, max 207', () => {
    const h = new LatencyHistogram();
    h.recordCorrected(207, 100);
    expect([h.count, h.min, h.max], 'HdrHistogram: count 2, min 107, max 207').toEqual([2, 107, 207]);
  });

  it('recordCorrected(100000, 100) back-fills 99,900, 99,800 ... 100: 1,000 values', () => {
    const h = new LatencyHistogram();
    h.recordCorrected(100_000, 100);
    const ref = reference(1, 3_600_000_000, 3);
    ref.recordValueWithExpectedInterval(100_000, 100);
    expect([h.count, h.min, h.max], 'the value and 999 back-filled samples, the smallest 100').toEqual([
      1000, 100, 100_000,
    ]);
    expect(h.mean, 'the mean of 100, 200, ..., 100,000').toBeCloseTo(50_050, 6);
    for (const p of PERCENTILES) {
      expect(h.percentile(p), `p${p} as hdr-histogram-js answers it`).toBe(ref.getValueAtPercentile(p));
    }
  });

  it('records the value alone when it is below twice the interval, or the interval is 0', () => {
    const h = new LatencyHistogram();
    h.recordCorrected(150, 100);
    h.recordCorrected(5000, 0);
    h.recordCorrected(200, 100);
    expect([h.count, h.min, h.max], '150 alone, 5000 alone, then 200 and 100').toEqual([4, 100, 5000]);
  });

  it.each([
    [-1, 100, '-1'],
    [50, -5, '-5'],
    [50, 2.5, '2.5'],
    [50, Number.NaN, 'NaN'],
  ])(
    'recordCorrected(%s, %s) throws a RangeError naming %s and records nothing',
    (value, interval, named) => {
      const h = new LatencyHistogram();
      expectRangeError(() => h.recordCorrected(value, interval), named, 'the bad argument must be rejected');
      expect(h.count, 'nothing may be recorded').toBe(0);
    },
  );
});

describe('LatencyHistogram: against hdr-histogram-js 3.0.1 (random values)', {
  timeout: PROPERTY_TIMEOUT_MS,
}, () => {
  const layout = fc
    .record({
      lowest: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 5000 })),
      digits: fc.integer({ min: 1, max: 3 }),
      magnitude: fc.integer({ min: 1, max: 36 }),
    })
    .map(({ lowest, digits, magnitude }) => ({
      lowest,
      digits,
      highest: Math.max(2 * lowest, Math.min(2 ** magnitude, 2 ** 40)),
    }));
  const sample = layout.chain((l) =>
    fc.record({
      l: fc.constant(l),
      values: fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: Math.min(l.highest, 3000) }),
          fc.integer({ min: 0, max: l.highest }),
        ),
        { minLength: 1, maxLength: 300 },
      ),
      extra: fc.double({ min: 0, max: 100, noNaN: true }),
    }),
  );

  it('gives the same count and the same percentiles, and exact min, max and mean', () => {
    fc.assert(
      fc.property(sample, ({ l, values, extra }) => {
        const h = recordAll(
          new LatencyHistogram({ lowest: l.lowest, highest: l.highest, significantDigits: l.digits as 1 }),
          values,
        );
        const ref = reference(l.lowest, l.highest, l.digits);
        for (const v of values) ref.recordValue(v);
        expect(h.count, 'count').toBe(ref.totalCount);
        expect(h.min, 'min is the smallest value recorded').toBe(Math.min(...values));
        expect(h.max, 'max is the largest value recorded').toBe(Math.max(...values));
        expect(h.mean, 'mean is exact').toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
        for (const p of [...PERCENTILES, extra]) {
          expect(h.percentile(p), `p${p} must equal hdr-histogram-js's getValueAtPercentile`).toBe(
            ref.getValueAtPercentile(p),
          );
        }
      }),
      { numRuns: 40 },
    );
  });

  it('keeps every percentile within 10^-digits above the exact value at its rank', () => {
    fc.assert(
      fc.property(sample, ({ l, values, extra }) => {
        if (l.lowest !== 1) return;
        const h = recordAll(
          new LatencyHistogram({ highest: l.highest, significantDigits: l.digits as 1 }),
          values,
        );
        const sorted = [...values].sort((a, b) => a - b);
        for (const p of [...PERCENTILES.filter((q) => q > 0), extra || 50]) {
          const exact = exactAtRank(sorted, p);
          const got = h.percentile(p);
          expect(got, `p${p}: never below the exact value ${exact}`).toBeGreaterThanOrEqual(exact);
          expect(
            got - exact,
            `p${p}: at most ${10 ** -l.digits} relative error above ${exact}`,
          ).toBeLessThanOrEqual(exact * 10 ** -l.digits);
        }
      }),
      { numRuns: 40 },
    );
  });

  it.each([4, 5])('with %s significant digits too', (digits) => {
    const values = fc.sample(fc.integer({ min: 0, max: 10_000_000 }), { numRuns: 500, seed: digits });
    const h = recordAll(
      new LatencyHistogram({ highest: 10_000_000, significantDigits: digits as 4 }),
      values,
    );
    const ref = reference(1, 10_000_000, digits);
    for (const v of values) ref.recordValue(v);
    for (const p of PERCENTILES) {
      expect(h.percentile(p), `p${p} with ${digits} digits`).toBe(ref.getValueAtPercentile(p));
    }
  });
});

describe('LatencyHistogram: merge and reset', { timeout: PROPERTY_TIMEOUT_MS }, () => {
  const values = fc.array(fc.integer({ min: 0, max: 10_000_000 }), { maxLength: 200 });

  it('merging equals recording both sets into one histogram (percentiles add, they do not average)', () => {
    fc.assert(
      fc.property(values, values, (a, b) => {
        const left = recordAll(new LatencyHistogram(), a);
        const right = recordAll(new LatencyHistogram(), b);
        const both = recordAll(new LatencyHistogram(), [...a, ...b]);
        left.merge(right);
        expect([left.count, left.min, left.max], 'count, min, max after merge').toEqual([
          both.count,
          both.min,
          both.max,
        ]);
        expect(left.mean, 'mean after merge').toBeCloseTo(both.mean, 6);
        for (const p of PERCENTILES) {
          expect(left.percentile(p), `p${p} after merge`).toBe(both.percentile(p));
        }
        expect(right.count, 'the merged-in histogram is unchanged').toBe(b.length);
      }),
      { numRuns: 40 },
    );
  });

  it('a fast host and a stalled one: the merged p99 is the stall, not the average of the two p99s', () => {
    const fast = recordAll(new LatencyHistogram(), Array<number>(980).fill(1000));
    const slow = recordAll(new LatencyHistogram(), [
      ...Array<number>(80).fill(1000),
      ...Array<number>(20).fill(900_000),
    ]);
    fast.merge(slow);
    // 20 of 1,080 values (1.9 %) are the stall, so the p99 is one of them.
    expect(fast.percentile(99), 'p99 of the merged set lies in the stall').toBeGreaterThanOrEqual(900_000);
    expect(fast.percentile(50), 'the median of the merged set').toBe(1000);
  });

  it('merge rejects a histogram with other options with a RangeError naming the option', () => {
    const h = new LatencyHistogram();
    expectRangeError(
      () => h.merge(new LatencyHistogram({ significantDigits: 2 })),
      'significantDigits',
      'different digits',
    );
    expectRangeError(() => h.merge(new LatencyHistogram({ highest: 1000 })), 'highest', 'different highest');
    expectRangeError(() => h.merge(new LatencyHistogram({ lowest: 8 })), 'lowest', 'different lowest');
  });

  it('merging an empty histogram changes nothing; merging into an empty one copies', () => {
    const h = recordAll(new LatencyHistogram(), [5, 50]);
    h.merge(new LatencyHistogram());
    expect([h.count, h.min, h.max, h.mean], 'empty merged in').toEqual([2, 5, 50, 27.5]);
    const empty = new LatencyHistogram();
    empty.merge(h);
    expect([empty.count, empty.min, empty.max, empty.percentile(50)], 'merged into empty').toEqual([
      2, 5, 50, 5,
    ]);
  });

  it('reset forgets everything, and recording starts afresh', () => {
    const h = recordAll(new LatencyHistogram(), [1, 2, 3, 1_000_000]);
    h.reset();
    expect([h.count, h.min, h.max, h.mean, h.percentile(99)], 'after reset').toEqual([0, 0, 0, 0, 0]);
    h.record(500);
    h.record(700);
    expect([h.count, h.min, h.max, h.mean, h.percentile(100)], 'after reset and two records').toEqual([
      2, 500, 700, 600, 700,
    ]);
  });
});
