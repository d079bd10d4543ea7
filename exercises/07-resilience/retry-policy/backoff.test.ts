import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decorrelatedJitter, equalJitter, exponentialCeiling, fullJitter } from './backoff.js';

/** The largest double below 1: what a random source may return at the top of its range. */
const ALMOST_ONE = 1 - 2 ** -53;

/** A random source that returns `value` every time. */
const always = (value: number) => () => value;

/** Random values a source may return, ends included: [0, 1). */
const unit = fc.oneof(
  fc.constantFrom(0, ALMOST_ONE, 0.5),
  fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
);

/** A base and a cap ≥ base, in milliseconds, from sub-millisecond to a day. */
const baseAndCap = fc
  .tuple(fc.double({ min: 0.001, max: 60_000, noNaN: true }), fc.double({ min: 1, max: 1440, noNaN: true }))
  .map(([base, factor]) => ({ base, cap: base * factor }));

/** Asserts `fn` throws a RangeError whose message names `name` and shows `value`. */
function expectRangeError(fn: () => unknown, name: string, value: unknown, why: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${why}: must throw a RangeError`).toBeInstanceOf(RangeError);
  const message = (thrown as Error).message;
  expect(message, `${why}: the message must name ${name}`).toContain(name);
  expect(message, `${why}: the message must show the bad value`).toContain(String(value));
}

describe('exponentialCeiling: min(capMs, baseMs · 2^retry)', () => {
  it('starts at baseMs for the first retry (retry 0) and doubles up to capMs', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6].map((retry) => exponentialCeiling(retry, 100, 1000));
    expect(ceilings, 'retry 0 is the first retry: 100, then 200, 400, 800, then the cap').toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
    expect(exponentialCeiling(3, 0.5, 1e6), 'fractional bases double too').toBe(4);
    expect(exponentialCeiling(0, 250, 250), 'a cap equal to the base is allowed').toBe(250);
  });

  it('stays exact past 31 doublings and gives capMs for any retry, however large', () => {
    for (let retry = 0; retry <= 60; retry++) {
      expect(exponentialCeiling(retry, 1, 2 ** 60), `retry ${retry} with base 1 is 2^${retry}`).toBe(
        2 ** retry,
      );
    }
    for (const retry of [61, 100, 1023, 1024, 1075, 2000, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      const ceiling = exponentialCeiling(retry, 100, 30_000);
      expect(ceiling, `retry ${retry} must give the cap, not Infinity, NaN or a wrapped-around value`).toBe(
        30_000,
      );
    }
  });

  it('property: finite, between baseMs and capMs, never falling as retry grows', () => {
    fc.assert(
      fc.property(fc.nat({ max: 5000 }), baseAndCap, (retry, { base, cap }) => {
        const here = exponentialCeiling(retry, base, cap);
        const next = exponentialCeiling(retry + 1, base, cap);
        expect(Number.isFinite(here), `retry ${retry}: a finite ceiling`).toBe(true);
        expect(here).toBeGreaterThanOrEqual(base);
        expect(here).toBeLessThanOrEqual(cap);
        expect(next, 'the ceiling never falls from one retry to the next').toBeGreaterThanOrEqual(here);
        if (base * 2 ** retry <= cap)
          expect(here, 'below the cap it is exactly base · 2^retry').toBe(base * 2 ** retry);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a retry that is not a non-negative integer, naming it and its value', () => {
    for (const retry of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expectRangeError(() => exponentialCeiling(retry, 100, 1000), 'retry', retry, `retry ${retry}`);
    }
  });

  it('refuses a baseMs that is not a finite number > 0, and a capMs below baseMs or not finite', () => {
    for (const baseMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectRangeError(() => exponentialCeiling(1, baseMs, 1000), 'baseMs', baseMs, `baseMs ${baseMs}`);
    }
    for (const capMs of [99, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectRangeError(
        () => exponentialCeiling(1, 100, capMs),
        'capMs',
        capMs,
        `capMs ${capMs} with baseMs 100`,
      );
    }
  });
});

describe('fullJitter: random() · ceiling, in [0, ceiling)', () => {
  it('scales the ceiling by the random value', () => {
    expect(fullJitter(0, 100, 1000, always(0)), 'random 0 gives no wait').toBe(0);
    expect(fullJitter(2, 100, 1000, always(0.5)), 'half of the ceiling 400').toBe(200);
    expect(fullJitter(9, 100, 1000, always(0.25)), 'a quarter of the cap').toBe(250);
  });

  it('property: every wait is in [0, min(cap, base · 2^retry)), with a seeded random source', () => {
    fc.assert(
      fc.property(fc.nat({ max: 80 }), baseAndCap, unit, (retry, { base, cap }, r) => {
        const ceiling = Math.min(cap, base * 2 ** retry);
        const wait = fullJitter(retry, base, cap, always(r));
        expect(wait).toBeGreaterThanOrEqual(0);
        expect(wait, `random ${r}: the wait stays strictly below the ceiling ${ceiling}`).toBeLessThan(
          ceiling,
        );
        expect(wait).toBeCloseTo(r * ceiling, 6);
      }),
      { seed: 20150304, numRuns: 800 },
    );
  });

  it('uses Math.random by default', () => {
    for (let i = 0; i < 200; i++) {
      const wait = fullJitter(3, 100, 1000);
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(800);
    }
  });

  it('refuses a random source that returns something outside [0, 1), naming random() and the value', () => {
    for (const bad of [1, 1.5, -0.25, Number.NaN]) {
      expectRangeError(
        () => fullJitter(1, 100, 1000, always(bad)),
        'random()',
        bad,
        `random() returning ${bad}`,
      );
    }
  });

  it('validates its arguments as exponentialCeiling does', () => {
    expectRangeError(() => fullJitter(-1, 100, 1000, always(0.5)), 'retry', -1, 'retry -1');
    expectRangeError(() => fullJitter(1, Number.NaN, 1000, always(0.5)), 'baseMs', Number.NaN, 'baseMs NaN');
    expectRangeError(() => fullJitter(1, 100, 50, always(0.5)), 'capMs', 50, 'capMs below baseMs');
  });
});

describe('equalJitter: ceiling / 2 + random() · ceiling / 2, in [ceiling / 2, ceiling]', () => {
  it('keeps half of the ceiling and jitters the other half', () => {
    expect(equalJitter(2, 100, 1000, always(0)), 'random 0: half of 400').toBe(200);
    expect(equalJitter(2, 100, 1000, always(0.5)), 'random 0.5: 200 + 100').toBe(300);
    expect(equalJitter(8, 100, 1000, always(0.5)), 'at the cap: 500 + 250').toBe(750);
  });

  it('property: every wait is ceiling / 2 + random · ceiling / 2, in [ceiling / 2, ceiling]', () => {
    fc.assert(
      fc.property(fc.nat({ max: 80 }), baseAndCap, unit, (retry, { base, cap }, r) => {
        const ceiling = Math.min(cap, base * 2 ** retry);
        const wait = equalJitter(retry, base, cap, always(r));
        expect(wait).toBeGreaterThanOrEqual(ceiling / 2);
        expect(wait, `random ${r}: never above the ceiling ${ceiling}`).toBeLessThanOrEqual(ceiling);
        expect(wait).toBeCloseTo(ceiling / 2 + (r * ceiling) / 2, 6);
      }),
      { seed: 7, numRuns: 500 },
    );
  });

  it('refuses a bad random source and bad arguments with a RangeError', () => {
    expectRangeError(() => equalJitter(1, 100, 1000, always(1)), 'random()', 1, 'random() returning 1');
    expectRangeError(() => equalJitter(0.5, 100, 1000, always(0.5)), 'retry', 0.5, 'retry 0.5');
    expectRangeError(() => equalJitter(1, 100, Number.NaN, always(0.5)), 'capMs', Number.NaN, 'capMs NaN');
  });
});

describe('decorrelatedJitter: min(cap, base + random() · (3 · previous − base))', () => {
  it('grows from the previous wait, not from a counter', () => {
    expect(decorrelatedJitter(100, 100, 10_000, always(0)), 'random 0 gives the base').toBe(100);
    expect(decorrelatedJitter(1000, 100, 10_000, always(0.5)), '100 + 0.5 · (3000 − 100)').toBe(1550);
    expect(decorrelatedJitter(5000, 100, 10_000, always(0.9)), 'capped: 100 + 0.9 · 14 900 > 10 000').toBe(
      10_000,
    );
  });

  it('property: a chain started at base stays in [base, min(cap, 3 · previous)]', () => {
    fc.assert(
      fc.property(baseAndCap, fc.array(unit, { minLength: 1, maxLength: 40 }), ({ base, cap }, draws) => {
        let previous = base;
        for (const r of draws) {
          const wait = decorrelatedJitter(previous, base, cap, always(r));
          expect(wait).toBeGreaterThanOrEqual(base);
          expect(wait, `never above the cap ${cap}`).toBeLessThanOrEqual(cap);
          if (3 * previous <= cap) {
            expect(wait, 'at most 3 · the previous wait').toBeLessThanOrEqual(3 * previous);
            expect(wait).toBeCloseTo(base + r * (3 * previous - base), 6);
          }
          previous = wait;
        }
      }),
      { seed: 2015, numRuns: 300 },
    );
  });

  it('property: a previous wait near the cap never yields more than the cap', () => {
    fc.assert(
      fc.property(baseAndCap, unit, ({ base, cap }, r) => {
        expect(decorrelatedJitter(cap, base, cap, always(r))).toBeLessThanOrEqual(cap);
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('refuses a previousMs below baseMs or not finite, a bad random source and bad base or cap', () => {
    for (const previousMs of [99, 0, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectRangeError(
        () => decorrelatedJitter(previousMs, 100, 1000, always(0.5)),
        'previousMs',
        previousMs,
        `previousMs ${previousMs} with baseMs 100`,
      );
    }
    expectRangeError(
      () => decorrelatedJitter(100, 100, 1000, always(-0.1)),
      'random()',
      -0.1,
      'random() −0.1',
    );
    expectRangeError(() => decorrelatedJitter(100, 0, 1000, always(0.5)), 'baseMs', 0, 'baseMs 0');
    expectRangeError(() => decorrelatedJitter(100, 100, 10, always(0.5)), 'capMs', 10, 'capMs below baseMs');
  });
});
