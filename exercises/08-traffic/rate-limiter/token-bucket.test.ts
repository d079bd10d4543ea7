import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/testing/index.js';
import { TokenBucket } from './token-bucket.js';

const bucket = (capacity: number, refillPerSecond: number, clock = new ManualClock()) => ({
  clock,
  bucket: new TokenBucket({ capacity, refillPerSecond, clock }),
});

describe('TokenBucket (in memory, injected clock)', () => {
  it('starts full and admits a burst of exactly capacity requests', () => {
    const { bucket: b } = bucket(5, 1);
    expect(b.tokens(), 'a new bucket is full').toBe(5);
    const admitted = Array.from({ length: 7 }, () => b.tryTake());
    expect(admitted, 'five at once pass, the sixth and seventh do not').toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(b.tokens()).toBe(0);
  });

  it('refills continuously at refillPerSecond, fractions included', () => {
    const { bucket: b, clock } = bucket(10, 2);
    for (let i = 0; i < 10; i++) b.tryTake();
    clock.advance(250);
    expect(b.tokens(), '250 ms at 2 tokens/s is half a token').toBeCloseTo(0.5, 9);
    expect(b.tryTake(), 'half a token is not enough for a request that costs 1').toBe(false);
    expect(b.tokens(), 'a refused request takes nothing').toBeCloseTo(0.5, 9);
    clock.advance(250);
    expect(b.tryTake(), 'after another 250 ms there is a whole token').toBe(true);
    expect(b.tokens()).toBeCloseTo(0, 9);
  });

  it('adds up many small refills without losing a token to rounding', () => {
    const { bucket: b, clock } = bucket(1, 10);
    b.tryTake();
    for (let i = 0; i < 10; i++) {
      clock.advance(10);
      expect(b.tryTake(), `${(i + 1) * 10} ms is not yet 100 ms`).toBe(i === 9);
    }
    const { bucket: c, clock: clockC } = bucket(1, 0.1);
    c.tryTake();
    for (let i = 0; i < 9; i++) {
      clockC.advance(1000);
      expect(c.tryTake(), `${i + 1} s at 0.1 tokens/s is not a whole token yet`).toBe(false);
    }
    clockC.advance(1000);
    // Ten refills of 0.1 add up to 0.9999999999999999 in floating point: compare with a tolerance.
    expect(c.tryTake(), 'ten refills of 0.1 token make one token').toBe(true);
  });

  it('never holds more than capacity, however long it sits idle', () => {
    const { bucket: b, clock } = bucket(3, 100);
    clock.advance(3_600_000);
    expect(b.tokens(), 'an hour idle still means at most 3 tokens').toBe(3);
    b.tryTake();
    clock.advance(5);
    expect(b.tokens(), '5 ms at 100/s adds half a token').toBeCloseTo(2.5, 9);
  });

  it('charges the cost of a request and takes nothing when it cannot pay it all', () => {
    const { bucket: b, clock } = bucket(10, 1);
    expect(b.tryTake(4), 'an expensive request costs 4').toBe(true);
    expect(b.tokens()).toBe(6);
    expect(b.tryTake(7), '7 is more than the 6 left').toBe(false);
    expect(b.tokens(), 'the refused request took nothing').toBe(6);
    expect(b.tryTake(6), 'exactly the 6 left').toBe(true);
    expect(b.tryTake(0.5), 'a fractional cost works too, but there is nothing left').toBe(false);
    clock.advance(500);
    expect(b.tryTake(0.5), 'half a token after 500 ms').toBe(true);
    expect(b.tryTake(11), 'a request that costs more than capacity can never pass').toBe(false);
  });

  it('says how long until a request would pass', () => {
    const { bucket: b, clock } = bucket(4, 2);
    expect(b.msUntil(), 'a full bucket: now').toBe(0);
    for (let i = 0; i < 4; i++) b.tryTake();
    expect(b.msUntil(), 'one token at 2/s takes 500 ms').toBe(500);
    expect(b.msUntil(3), 'three tokens take 1500 ms').toBe(1500);
    expect(b.msUntil(4), 'exactly the capacity: wait for a full bucket, 2000 ms').toBe(2000);
    clock.advance(200);
    expect(b.msUntil(), '0.4 tokens in, 300 ms to go').toBe(300);
    expect(b.msUntil(5), 'more than capacity: never').toBe(Number.POSITIVE_INFINITY);
    const { bucket: slow } = bucket(1, 3);
    slow.tryTake();
    expect(slow.msUntil(), '1/3 of a second is 333.33 ms: round up, or the client comes back too early').toBe(
      334,
    );
    clock.advance(300);
    expect(b.tryTake(), 'the promised time has come').toBe(true);
    expect(b.msUntil(), 'asking does not take anything').toBe(500);
    expect(b.msUntil()).toBe(500);
  });

  it('earns nothing while the clock goes backwards, and does not count that time twice', () => {
    const { bucket: b, clock } = bucket(10, 1);
    for (let i = 0; i < 10; i++) b.tryTake();
    clock.advance(2000);
    expect(b.tokens()).toBeCloseTo(2, 9);
    const t = clock.now();
    clock.set(t - 60_000);
    expect(b.tokens(), 'the clock jumped back a minute: no tokens are lost or made').toBeCloseTo(2, 9);
    expect(b.tryTake(), 'the tokens already earned are still there').toBe(true);
    clock.set(t);
    expect(b.tokens(), 'back at the old time: still nothing new').toBeCloseTo(1, 9);
    clock.advance(1000);
    expect(b.tokens(), 'one second after the old time: one more token').toBeCloseTo(2, 9);
  });

  it('uses the system clock when none is given', async () => {
    // 10 tokens/s: a token every 100 ms, so the two back-to-back calls below cannot see a refill
    // (at 1000/s a single millisecond tick between them refilled the bucket and the test flaked).
    const b = new TokenBucket({ capacity: 1, refillPerSecond: 10 });
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake(), 'empty right after').toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(b.tryTake(), 'at 10 tokens/s, 150 ms of real time refills it').toBe(true);
  });

  it('rejects a capacity, refill rate or cost that is not a positive finite number', () => {
    const clock = new ManualClock();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new TokenBucket({ capacity: bad, refillPerSecond: 1, clock }), `capacity ${bad}`).toThrow(
        RangeError,
      );
      expect(() => new TokenBucket({ capacity: 1, refillPerSecond: bad, clock }), `refill ${bad}`).toThrow(
        RangeError,
      );
    }
    const b = new TokenBucket({ capacity: 2, refillPerSecond: 1, clock });
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => b.tryTake(bad), `cost ${bad}`).toThrow(RangeError);
      expect(() => b.msUntil(bad), `msUntil(${bad})`).toThrow(RangeError);
    }
    expect(b.tokens(), 'nothing was taken by the bad calls').toBe(2);
    expect(
      () => new TokenBucket({ capacity: -3, refillPerSecond: 1, clock }),
      'the message shows the value',
    ).toThrow(/-3/);
    expect(() => new TokenBucket({ capacity: 0, refillPerSecond: 1, clock }), 'name the option').toThrow(
      /capacity/,
    );
    expect(() => new TokenBucket({ capacity: 1, refillPerSecond: 0, clock }), 'name the option').toThrow(
      /refillPerSecond/,
    );
    expect(
      () => new TokenBucket({ capacity: 1, refillPerSecond: -7, clock }),
      'the message shows the value',
    ).toThrow(/-7/);
    expect(() => b.tryTake(-2), 'the message names the cost').toThrow(/cost/);
    expect(() => b.tryTake(-2), 'the message shows the value').toThrow(/-2/);
    expect(() => b.msUntil(-2), 'the message names the cost').toThrow(/cost/);
    expect(() => b.msUntil(-2), 'the message shows the value').toThrow(/-2/);
  });

  it('property: over any schedule, admitted cost never exceeds capacity + rate × elapsed time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 5 })), {
          maxLength: 80,
        }),
        (capacity, rate, schedule) => {
          const { bucket: b, clock } = bucket(capacity, rate);
          let admitted = 0;
          let elapsed = 0;
          for (const [waitMs, cost] of schedule) {
            clock.advance(waitMs);
            elapsed += waitMs;
            const before = b.tokens();
            const ok = b.tryTake(cost);
            expect(ok, `with ${before} tokens, a request costing ${cost}`).toBe(before + 1e-9 >= cost);
            if (ok) admitted += cost;
            expect(admitted).toBeLessThanOrEqual(capacity + (rate * elapsed) / 1000 + 1e-6);
            expect(b.tokens()).toBeGreaterThanOrEqual(0);
            expect(b.tokens()).toBeLessThanOrEqual(capacity);
          }
        },
      ),
    );
  });
});
