import { describe, expect, it } from 'vitest';
import { percentile, summarize } from './percentile.js';

describe('percentile (nearest rank)', () => {
  it('takes the value at rank ceil(p/100 * n) of the sorted samples', () => {
    const samples = [15, 20, 35, 40, 50];
    expect(percentile(samples, 5), 'p5 of 5 samples is rank 1').toBe(15);
    expect(percentile(samples, 30), 'p30 of 5 samples is rank ceil(1.5) = 2').toBe(20);
    expect(percentile(samples, 40), 'p40 of 5 samples is rank 2').toBe(20);
    expect(percentile(samples, 50), 'p50 of 5 samples is rank ceil(2.5) = 3').toBe(35);
    expect(percentile(samples, 100), 'p100 is the largest sample').toBe(50);
  });

  it('rounds the rank up, never to the nearest: p21 of 10 samples is rank 3', () => {
    const oneToTen = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(percentile(oneToTen, 21), 'rank ceil(2.1) = 3, not round(2.1) = 2').toBe(3);
    expect(percentile(oneToTen, 11), 'rank ceil(1.1) = 2').toBe(2);
    expect(percentile(oneToTen, 94), 'rank ceil(9.4) = 10').toBe(10);
  });

  it('agrees with the definition for every p from 0 to 100 in steps of 0.5, and 1 to 40 samples', () => {
    // Nearest rank by definition: the smallest sample such that at least p% of the samples are less
    // than or equal to it (the smallest sample for p = 0). Counted in integers, so nothing rounds.
    for (let n = 1; n <= 40; n++) {
      const samples = Array.from({ length: n }, (_, i) => (i + 1) * 10); // 10, 20, ..., rank r is r * 10
      for (let halves = 0; halves <= 200; halves++) {
        const p = halves / 2;
        let rank = 1;
        while (rank * 200 < halves * n) rank++; // rank / n >= p / 100, i.e. rank * 200 >= halves * n
        const got = percentile(samples, p);
        if (got !== rank * 10) {
          expect(
            got,
            `p${p} of ${n} samples is rank ${rank} (ceil(${p} / 100 * ${n})), the value ${rank * 10}`,
          ).toBe(rank * 10);
        }
      }
    }
  });

  it('computes the rank without floating-point drift', () => {
    const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);
    // (7 / 100) * 100 is 7.000000000000001 in floating point; its ceiling would be rank 8.
    expect(percentile(oneToHundred, 7), 'p7 of 1..100 is rank 7, the value 7').toBe(7);
    expect(percentile(oneToHundred, 57), 'p57 of 1..100 is the value 57').toBe(57);
  });

  it('gives the smallest sample for p = 0', () => {
    expect(percentile([7, 3, 9], 0)).toBe(3);
  });

  it('sorts numbers as numbers, not as strings', () => {
    // [9, 10, 80, 700].sort() is [10, 700, 80, 9]: the default sort compares strings.
    const samples = [700, 9, 80, 10];
    expect(percentile(samples, 0), 'the smallest number is 9').toBe(9);
    expect(percentile(samples, 50), 'p50 of 4 samples is rank 2: the value 10').toBe(10);
    expect(percentile(samples, 100), 'the largest number is 700').toBe(700);
  });

  it('does not modify the samples it is given', () => {
    const samples = [3, 1, 2];
    percentile(samples, 50);
    expect(samples, 'the caller’s array must keep its order').toEqual([3, 1, 2]);
  });

  it('finds the p99 that a single slow request in a hundred produces', () => {
    const samples = [...Array.from({ length: 99 }, () => 10), 900];
    expect(percentile(samples, 99), '99 of 100 requests took 10 ms, so p99 is 10').toBe(10);
    expect(percentile(samples, 99.5), 'p99.5 reaches the one slow request').toBe(900);
  });

  it('rejects an empty list, a p outside 0-100 and samples that are not finite numbers', () => {
    expect(() => percentile([], 50), 'no samples').toThrow(RangeError);
    expect(() => percentile([1, 2], -1), 'p below 0').toThrow(RangeError);
    expect(() => percentile([1, 2], 101), 'p above 100').toThrow(RangeError);
    expect(() => percentile([1, 2], Number.NaN), 'p is NaN').toThrow(RangeError);
    expect(() => percentile([1, Number.NaN], 50), 'a NaN sample').toThrow(RangeError);
    expect(() => percentile([1, Number.POSITIVE_INFINITY], 50), 'an infinite sample').toThrow(RangeError);
    expect(() => percentile([Number.NEGATIVE_INFINITY, 1], 50), 'a sample of -Infinity').toThrow(RangeError);
    expect(() => percentile([1, 2], Number.POSITIVE_INFINITY), 'p is Infinity').toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('reports count, min, max, mean and p50/p95/p99', () => {
    const samples = Array.from({ length: 200 }, (_, i) => 200 - i); // 200, 199, ..., 1
    expect(summarize(samples)).toEqual({
      count: 200,
      min: 1,
      max: 200,
      mean: 100.5,
      p50: 100,
      p95: 190,
      p99: 198,
    });
  });

  it('handles a single sample', () => {
    expect(summarize([42])).toEqual({ count: 1, min: 42, max: 42, mean: 42, p50: 42, p95: 42, p99: 42 });
  });

  it('rejects an empty list and non-finite samples, and leaves the input alone', () => {
    expect(() => summarize([]), 'no samples').toThrow(RangeError);
    expect(() => summarize([1, Number.NaN]), 'a NaN sample').toThrow(RangeError);
    expect(() => summarize([1, Number.POSITIVE_INFINITY]), 'an infinite sample').toThrow(RangeError);
    expect(() => summarize([Number.NEGATIVE_INFINITY, 1]), 'a sample of -Infinity').toThrow(RangeError);
    const samples = [5, 1, 3];
    summarize(samples);
    expect(samples).toEqual([5, 1, 3]);
  });
});
