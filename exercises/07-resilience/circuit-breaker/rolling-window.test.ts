import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/testing/index.js';
import { RollingWindow } from './rolling-window.js';

/** 1 000 ms in 10 buckets of 100 ms. START is 50 ms into a bucket, so edges are visible. */
const START = 1_700_000_000_050;
const window10 = (clock = new ManualClock(START)) => ({
  clock,
  window: new RollingWindow({ windowMs: 1000, buckets: 10, clock }),
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('RollingWindow: options', () => {
  it('rejects a windowMs that is not a positive whole number, naming it and the value', () => {
    for (const windowMs of [0, -1000, 1000.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        () => new RollingWindow({ windowMs, buckets: 1, clock: new ManualClock() }),
        `windowMs ${windowMs} must be refused`,
      ).toThrow(RangeError);
      expect(() => new RollingWindow({ windowMs, buckets: 1, clock: new ManualClock() })).toThrow(
        new RegExp(`windowMs.*${String(windowMs)}`),
      );
    }
  });

  it('rejects a buckets count that is not a positive integer, naming it and the value', () => {
    for (const buckets of [0, -2, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        () => new RollingWindow({ windowMs: 1000, buckets, clock: new ManualClock() }),
        `buckets ${buckets} must be refused (2.5 divides 1000, but half a bucket is not a bucket)`,
      ).toThrow(RangeError);
      expect(() => new RollingWindow({ windowMs: 1000, buckets, clock: new ManualClock() })).toThrow(
        new RegExp(`buckets.*${String(buckets)}`),
      );
    }
  });

  it('rejects buckets that do not divide the window, and accepts the edge cases that do', () => {
    expect(
      () => new RollingWindow({ windowMs: 1000, buckets: 3, clock: new ManualClock() }),
      '1000 ms cannot be cut into 3 whole-millisecond buckets',
    ).toThrow(RangeError);
    expect(() => new RollingWindow({ windowMs: 1000, buckets: 3, clock: new ManualClock() })).toThrow(
      /buckets/,
    );
    const one = new RollingWindow({ windowMs: 1000, buckets: 1, clock: new ManualClock() });
    expect(one.bucketMs, 'one bucket is the whole window').toBe(1000);
    const fine = new RollingWindow({ windowMs: 1000, buckets: 1000, clock: new ManualClock() });
    expect(fine.bucketMs, '1000 buckets of 1 ms').toBe(1);
    expect([fine.windowMs, fine.buckets]).toEqual([1000, 1000]);
  });
});

describe('RollingWindow: counting', () => {
  it('starts empty and counts successes and failures separately', () => {
    const { window } = window10();
    expect(window.counts(), 'a new window is empty').toEqual({ successes: 0, failures: 0, total: 0 });
    window.record('success');
    window.record('failure');
    window.record('failure');
    expect(window.counts()).toEqual({ successes: 1, failures: 2, total: 3 });
    expect(window.counts(), 'reading does not change the counts').toEqual({
      successes: 1,
      failures: 2,
      total: 3,
    });
  });

  it('drops a bucket exactly when it leaves the window: buckets are aligned to floor(t / bucketMs)', () => {
    const { window, clock } = window10();
    // START is 50 ms into a bucket: this failure belongs to the bucket [START-50, START+50).
    window.record('failure');
    clock.advance(949); // START + 949: 9 buckets later, still inside the 10-bucket window
    expect(window.counts().failures, 'ten buckets back from now still holds the failure').toBe(1);
    clock.advance(1); // START + 950 = the first instant of the 11th bucket: the failure's bucket leaves
    expect(
      window.counts().failures,
      'the failure was recorded 950 ms ago, but its bucket started 1000 ms ago: it is out',
    ).toBe(0);
  });

  it('keeps an outcome at least windowMs - bucketMs and less than windowMs, wherever in its bucket it fell', () => {
    for (const offset of [0, 1, 50, 99]) {
      const clock = new ManualClock(1_700_000_000_000 + offset);
      const window = new RollingWindow({ windowMs: 1000, buckets: 10, clock });
      window.record('success');
      clock.advance(899);
      expect(window.counts().successes, `recorded ${offset} ms into its bucket: counted 899 ms later`).toBe(
        1,
      );
      clock.set(1_700_000_000_999);
      expect(window.counts().successes, `recorded ${offset} ms into its bucket: counted at 999`).toBe(1);
      clock.set(1_700_000_001_000);
      expect(window.counts().successes, `recorded ${offset} ms into its bucket: gone at 1000`).toBe(0);
    }
  });

  it('slides bucket by bucket and wraps around the ring (cockatiel: "correctly wraps around")', () => {
    const { window, clock } = window10(new ManualClock(1_700_000_000_000));
    // One failure in each of 25 consecutive buckets, and one success every fifth bucket.
    for (let b = 0; b < 25; b++) {
      window.record('failure');
      if (b % 5 === 0) window.record('success');
      const inWindow = Math.min(b + 1, 10);
      const successes = Array.from({ length: inWindow }, (_, i) => b - i).filter((x) => x % 5 === 0).length;
      expect(window.counts(), `after bucket ${b}: the last ${inWindow} buckets`).toEqual({
        successes,
        failures: inWindow,
        total: successes + inWindow,
      });
      clock.advance(100);
    }
  });

  it('reads as empty after an idle gap, and does not count buckets the ring never reused', () => {
    const { window, clock } = window10(new ManualClock(1_700_000_000_000));
    window.record('failure'); // bucket 0
    clock.advance(300);
    window.record('failure'); // bucket 3
    clock.advance(300);
    window.record('success'); // bucket 6
    expect(window.counts().total).toBe(3);
    clock.advance(5_000 + 100); // idle for five windows; now in a bucket whose slot is 7
    expect(window.counts(), 'five windows later nothing is left').toEqual({
      successes: 0,
      failures: 0,
      total: 0,
    });
    window.record('failure');
    expect(
      window.counts(),
      'the new failure is the only outcome: slots 0, 3 and 6 hold outcomes from 5 s ago',
    ).toEqual({ successes: 0, failures: 1, total: 1 });
  });

  it('forgets everything when the clock jumps far ahead, and counts normally afterwards', () => {
    const { window, clock } = window10();
    for (let i = 0; i < 10; i++) {
      window.record(i % 2 ? 'success' : 'failure');
      clock.advance(37);
    }
    clock.advance(1e12);
    expect(window.counts().total, 'a jump of 30 years leaves nothing').toBe(0);
    window.record('success');
    clock.advance(100);
    window.record('failure');
    expect(window.counts()).toEqual({ successes: 1, failures: 1, total: 2 });
  });

  it('does not move back, or lose outcomes, when the clock goes back', () => {
    const { window, clock } = window10(new ManualClock(1_700_000_000_000));
    window.record('failure');
    window.record('failure');
    clock.advance(250);
    window.record('success'); // bucket 2, the newest
    clock.set(1_700_000_000_000 - 7_750); // back 8 s: same ring slot as the newest bucket
    expect(window.counts(), 'the window stays where it was').toEqual({ successes: 1, failures: 2, total: 3 });
    window.record('failure');
    expect(window.counts(), 'an outcome recorded in the past is counted in the newest bucket').toEqual({
      successes: 1,
      failures: 3,
      total: 4,
    });
    clock.set(1_700_000_000_999);
    expect(window.counts().total, 'back at the old time: everything is still there').toBe(4);
    clock.set(1_700_000_001_000);
    expect(window.counts(), 'bucket 0 leaves at 1000 ms; bucket 2 holds the rest').toEqual({
      successes: 1,
      failures: 1,
      total: 2,
    });
    clock.set(1_700_000_001_200);
    expect(window.counts().total, 'bucket 2 leaves at 1200 ms').toBe(0);
  });

  it('reset() forgets every outcome and the window keeps counting afterwards', () => {
    const { window, clock } = window10();
    window.record('failure');
    clock.advance(100);
    window.record('success');
    window.reset();
    expect(window.counts()).toEqual({ successes: 0, failures: 0, total: 0 });
    window.record('failure');
    expect(window.counts()).toEqual({ successes: 0, failures: 1, total: 1 });
    clock.advance(1000);
    expect(window.counts().total, 'and still evicts').toBe(0);
  });

  it('uses performance.now() when no clock is given', () => {
    let now = 5_000_000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const window = new RollingWindow({ windowMs: 1000, buckets: 10 });
    window.record('failure');
    now += 999;
    expect(window.counts().failures, 'still in the window by performance.now()').toBe(1);
    now += 1;
    expect(window.counts().failures, 'gone 1000 ms later by performance.now()').toBe(0);
  });

  it('agrees with a one-line model on random histories (records, small steps, jumps and clock set back)', () => {
    type Op =
      | { kind: 'record'; outcome: 'success' | 'failure' }
      | { kind: 'advance'; ms: number }
      | { kind: 'back'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.constantFrom('success', 'failure').map((outcome): Op => ({ kind: 'record', outcome })),
      },
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 400 }).map((ms): Op => ({ kind: 'advance', ms })) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 5000 }).map((ms): Op => ({ kind: 'advance', ms })) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((ms): Op => ({ kind: 'back', ms })) },
    );
    const config = fc.constantFrom([1000, 10], [1000, 4], [600, 3], [100, 1], [70, 7]);
    fc.assert(
      fc.property(
        config,
        fc.integer({ min: 0, max: 999 }),
        fc.array(op, { maxLength: 80 }),
        ([w, b], start, ops) => {
          const windowMs = w as number;
          const buckets = b as number;
          const bucketMs = windowMs / buckets;
          const clock = new ManualClock(1_700_000_000_000 + start);
          const window = new RollingWindow({ windowMs, buckets, clock });
          // The model: each outcome remembers its bucket number; the newest bucket seen never goes back.
          const log: { bucket: number; outcome: string }[] = [];
          let newest = Number.NEGATIVE_INFINITY;
          const current = () => {
            newest = Math.max(newest, Math.floor(clock.now() / bucketMs));
            return newest;
          };
          for (const o of ops) {
            if (o.kind === 'record') {
              window.record(o.outcome);
              log.push({ bucket: current(), outcome: o.outcome });
            } else if (o.kind === 'advance') clock.advance(o.ms);
            else clock.set(clock.now() - o.ms);
            const now = current();
            const inWindow = log.filter((e) => e.bucket > now - buckets);
            const failures = inWindow.filter((e) => e.outcome === 'failure').length;
            expect(window.counts()).toEqual({
              successes: inWindow.length - failures,
              failures,
              total: inWindow.length,
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
