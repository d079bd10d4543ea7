import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, useRedis } from '../../../src/testing/index.js';
import { createRedisLimiter } from './redis-limiter.js';

const redis = useRedis();
const MINUTE = 60_000;
const HOUR = 3_600_000;
/** Midnight UTC on a Thursday, a whole number of weeks after the epoch: a boundary of every window. */
const WEEK_BOUNDARY = 2811 * 7 * 24 * HOUR;

/** Asks `n` times for `key` and returns how many were admitted. */
async function admitted(
  limiter: { take(key: string): Promise<{ allowed: boolean }> },
  key: string,
  n: number,
) {
  let count = 0;
  for (let i = 0; i < n; i++) if ((await limiter.take(key)).allowed) count++;
  return count;
}

describe('a rate limiter on Redis', () => {
  beforeEach(() => redis.flush());

  it('admits limit requests per window, counting remaining down, then denies', async () => {
    const clock = new ManualClock();
    const limiter = createRedisLimiter(redis.client(), { limit: 3, windowMs: MINUTE, clock });
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.take('alice'));
    expect(
      decisions.map((d) => d.allowed),
      'three pass, the fourth is denied',
    ).toEqual([true, true, true, false]);
    expect(
      decisions.map((d) => d.remaining),
      'remaining after each request',
    ).toEqual([2, 1, 0, 0]);
    expect(
      decisions.every((d) => d.limit === 3),
      'every decision carries the limit',
    ).toBe(true);
    expect(decisions[0]!.retryAfterMs, 'an admitted request has nothing to wait for').toBe(0);
    const denied = decisions[3]!;
    expect(denied.retryAfterMs, 'all three were admitted at this instant: a whole window to wait').toBe(
      MINUTE,
    );
    expect(denied.resetMs, 'and a whole window until the quota is full again').toBe(MINUTE);
    expect(decisions[0]!.resetMs, 'the request just admitted counts for a whole window').toBe(MINUTE);
    expect(denied.retryAfterMs, 'a denied request learns how long to wait').toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(MINUTE);
    expect(denied.resetMs, 'the quota is full again within a window').toBeGreaterThan(0);
    expect(denied.resetMs).toBeLessThanOrEqual(MINUTE);
  });

  it('keeps separate counts per key', async () => {
    const clock = new ManualClock();
    const limiter = createRedisLimiter(redis.client(), { limit: 2, windowMs: MINUTE, clock });
    await limiter.take('alice');
    await limiter.take('alice');
    expect((await limiter.take('alice')).allowed, 'alice used her two').toBe(false);
    expect((await limiter.take('bob')).allowed, 'bob has his own quota').toBe(true);
  });

  it('admits again once the window has passed, and after retryAfterMs', async () => {
    const clock = new ManualClock();
    const limiter = createRedisLimiter(redis.client(), { limit: 5, windowMs: 10_000, clock });
    for (let i = 0; i < 5; i++) {
      await limiter.take('k');
      clock.advance(1000);
    }
    const denied = await limiter.take('k');
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs, 'requests at 0, 1, 2, 3, 4 s; at 5 s the one from 0 s leaves at 10 s').toBe(
      5000,
    );
    expect(denied.resetMs, 'and the one from 4 s leaves at 14 s: the quota is full again in 9 s').toBe(9000);
    clock.advance(denied.retryAfterMs - 1);
    expect((await limiter.take('k')).allowed, '1 ms before retryAfterMs is still too early').toBe(false);
    clock.advance(1);
    expect((await limiter.take('k')).allowed, 'after waiting retryAfterMs, one request passes').toBe(true);
    clock.advance(10_000);
    const fresh = [];
    for (let i = 0; i < 5; i++) fresh.push((await limiter.take('k')).allowed);
    expect(fresh, 'a whole window later, the full limit is back').toEqual([true, true, true, true, true]);
    expect((await limiter.take('k')).allowed).toBe(false);
  });

  it('does not let a client double its rate at a window boundary, wherever the window is aligned', {
    timeout: 60_000,
  }, async () => {
    // Fixed windows reset at a boundary: of the second, the minute or the hour, of a multiple of
    // windowMs since the epoch. WEEK_BOUNDARY is all of these at once (and 30 minutes later is an
    // hour boundary in zones like +05:30). A sliding window admits nothing new 2 ms after a burst.
    const connection = redis.client();
    for (const boundary of [WEEK_BOUNDARY, WEEK_BOUNDARY + HOUR / 2]) {
      for (const windowMs of [1000, 7000, MINUTE, HOUR]) {
        const clock = new ManualClock(boundary - 1);
        const limiter = createRedisLimiter(connection, { limit: 10, windowMs, clock });
        const key = `burst-${boundary}-${windowMs}`;
        expect(await admitted(limiter, key, 10), 'a burst of the limit, 1 ms before a boundary').toBe(10);
        clock.advance(2);
        expect(
          await admitted(limiter, key, 10),
          `windowMs ${windowMs}, 1 ms after the boundary at ${new Date(boundary).toISOString()}: a fixed ` +
            'window would admit 10 more (20 in 2 ms); a sliding window admits none',
        ).toBe(0);
      }
    }
  });

  it('does not restart the window at the window length after a key’s first request', async () => {
    const clock = new ManualClock();
    const limiter = createRedisLimiter(redis.client(), { limit: 5, windowMs: 10_000, clock });
    expect(await admitted(limiter, 'early', 1), 'the first request, at 0 s').toBe(1);
    clock.advance(9_999);
    expect(await admitted(limiter, 'early', 5), 'four more fit just before 10 s').toBe(4);
    clock.advance(1);
    expect(
      await admitted(limiter, 'early', 5),
      'at 10 s only the request from 0 s has left the window: one more, not a fresh window of 5',
    ).toBe(1);
  });

  it('counts a request for exactly windowMs: it stops counting at t + windowMs, not a millisecond later', async () => {
    const clock = new ManualClock();
    const limiter = createRedisLimiter(redis.client(), { limit: 1, windowMs: 1000, clock });
    expect((await limiter.take('edge')).allowed).toBe(true);
    clock.advance(999);
    const denied = await limiter.take('edge');
    expect(denied.allowed, '999 ms later the request still counts').toBe(false);
    expect(denied.retryAfterMs, 'it stops counting in 1 ms').toBe(1);
    clock.advance(1);
    expect((await limiter.take('edge')).allowed, 'at exactly 1000 ms it no longer counts').toBe(true);
  });

  it('property: decides exactly like a sliding log, for any schedule of requests and keys', {
    timeout: 120_000,
  }, async () => {
    let run = 0;
    const connection = redis.client();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(1000, 7000, MINUTE),
        fc.integer({ min: 0, max: HOUR }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1500 }), fc.constantFrom('p', 'q')), { maxLength: 24 }),
        async (limit, windowMs, offset, schedule) => {
          run++;
          const clock = new ManualClock(WEEK_BOUNDARY + offset);
          const limiter = createRedisLimiter(connection, {
            limit,
            windowMs,
            clock,
            prefix: `model-${run}:`,
          });
          const log = new Map<string, number[]>([
            ['p', []],
            ['q', []],
          ]);
          for (const [waitMs, key] of schedule) {
            clock.advance(Math.floor((waitMs * windowMs) / 1000));
            const now = clock.now();
            const inWindow = log.get(key)!.filter((t) => t > now - windowMs);
            const decision = await limiter.take(key);
            const what = `key ${key} at +${now - WEEK_BOUNDARY - offset} ms, limit ${limit} per ${windowMs} ms, admitted before at +[${inWindow.map((t) => t - WEEK_BOUNDARY - offset)}]`;
            expect(decision.allowed, `${what}: allowed`).toBe(inWindow.length < limit);
            if (decision.allowed) {
              inWindow.push(now);
              expect(decision.remaining, `${what}: remaining`).toBe(limit - inWindow.length);
              expect(decision.retryAfterMs, `${what}: retryAfterMs`).toBe(0);
            } else {
              expect(decision.remaining, `${what}: remaining`).toBe(0);
              expect(decision.retryAfterMs, `${what}: retryAfterMs`).toBe(inWindow[0]! + windowMs - now);
              expect(decision.resetMs, `${what}: resetMs`).toBe(inWindow.at(-1)! + windowMs - now);
            }
            log.set(key, inWindow);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('does not count denied requests: hammering a closed door does not extend the lockout', async () => {
    const clock = new ManualClock();
    const limiter = createRedisLimiter(redis.client(), { limit: 2, windowMs: 1000, clock });
    await limiter.take('eager');
    await limiter.take('eager');
    for (let i = 0; i < 20; i++) {
      clock.advance(40);
      expect((await limiter.take('eager')).allowed).toBe(false);
    }
    clock.advance(1000);
    expect((await limiter.take('eager')).allowed, 'a window after the last admitted request, it passes').toBe(
      true,
    );
  });

  it('is atomic: 4 connections firing 100 concurrent requests each admit exactly the limit of 50', async () => {
    const clock = new ManualClock(); // one instant for all 400: the result cannot depend on timing
    const limiters = Array.from({ length: 4 }, () =>
      createRedisLimiter(redis.client(), { limit: 50, windowMs: MINUTE, clock }),
    );
    const decisions = await Promise.all(
      Array.from({ length: 400 }, (_, i) => limiters[i % 4]!.take('stampede')),
    );
    expect(
      decisions.filter((d) => d.allowed).length,
      'a GET-then-SET limiter races and admits more; one script per decision admits exactly 50',
    ).toBe(50);
    const remaining = decisions.filter((d) => d.allowed).map((d) => d.remaining);
    expect(new Set(remaining).size, 'each admitted request saw a different remaining (49 down to 0)').toBe(
      50,
    );
  });

  it('lets two limiters share one connection, each with its own limit, window and prefix', async () => {
    const clock = new ManualClock();
    const shared = redis.client();
    const strict = createRedisLimiter(shared, { limit: 2, windowMs: MINUTE, clock, prefix: 'strict:' });
    const loose = createRedisLimiter(shared, { limit: 5, windowMs: 1000, clock, prefix: 'loose:' });
    expect(await admitted(strict, 'carol', 2), 'the strict limiter admits its 2').toBe(2);
    expect(
      await admitted(loose, 'carol', 6),
      'the loose one admits its own 5, whatever the strict one did',
    ).toBe(5);
    expect(await admitted(strict, 'carol', 1), 'the loose limiter’s requests do not count here').toBe(0);
    clock.advance(1000);
    expect(await admitted(loose, 'carol', 5), 'the loose limiter’s window is 1 s').toBe(5);
    expect(await admitted(strict, 'carol', 1), 'the strict limiter’s window is a minute').toBe(0);
  });

  it('lets its keys expire, so idle clients cost no memory', async () => {
    const limiter = createRedisLimiter(redis.client(), { limit: 5, windowMs: 30_000, prefix: 'rl-test:' });
    for (const key of ['a', 'b', 'c']) await limiter.take(key);
    for (let i = 0; i < 6; i++) await limiter.take('a');
    const client = redis.client();
    const keys = await client.keys('*');
    expect(keys.length, 'the limiter wrote something for a, b and c').toBeGreaterThanOrEqual(3);
    for (const key of keys) {
      expect(key.startsWith('rl-test:'), `every key starts with the prefix (found ${key})`).toBe(true);
      const ttl = await client.pttl(key);
      expect(ttl, `${key} must expire (PTTL -1 means never)`).toBeGreaterThan(0);
      expect(ttl, `${key} need not outlive the window`).toBeLessThanOrEqual(30_000);
    }
  });

  it('uses the prefix "ratelimit:" by default', async () => {
    const limiter = createRedisLimiter(redis.client(), { limit: 5, windowMs: 30_000 });
    await limiter.take('someone');
    const keys = await redis.client().keys('*');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.startsWith('ratelimit:'), key).toBe(true);
  });

  it('rejects bad options at once and an empty key as a rejection', async () => {
    const client = redis.client();
    for (const limit of [0, -1, 2.5, Number.NaN]) {
      expect(() => createRedisLimiter(client, { limit, windowMs: 1000 }), `limit ${limit}`).toThrow(
        RangeError,
      );
    }
    for (const windowMs of [0, -5, 0.5]) {
      expect(() => createRedisLimiter(client, { limit: 1, windowMs }), `windowMs ${windowMs}`).toThrow(
        RangeError,
      );
    }
    expect(() => createRedisLimiter(client, { limit: 0, windowMs: 1000 }), 'name the option').toThrow(
      /limit/,
    );
    expect(() => createRedisLimiter(client, { limit: 1, windowMs: 0 }), 'name the option').toThrow(
      /windowMs/,
    );
    const limiter = createRedisLimiter(client, { limit: 1, windowMs: 1000 });
    let taken: Promise<unknown> | undefined;
    expect(() => {
      taken = limiter.take('');
    }, 'take() must report an empty key as a rejected promise, not throw before returning one').not.toThrow();
    await expect(taken, 'an empty key').rejects.toThrow(TypeError);
  });
});
