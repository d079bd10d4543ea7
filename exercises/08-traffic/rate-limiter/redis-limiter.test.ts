import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, useRedis } from '../../../src/testing/index.js';
import { createRedisLimiter } from './redis-limiter.js';

const redis = useRedis();
const MINUTE = 60_000;

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
    clock.advance(denied.retryAfterMs);
    expect((await limiter.take('k')).allowed, 'after waiting retryAfterMs, one request passes').toBe(true);
    clock.advance(10_000);
    const fresh = [];
    for (let i = 0; i < 5; i++) fresh.push((await limiter.take('k')).allowed);
    expect(fresh, 'a whole window later, the full limit is back').toEqual([true, true, true, true, true]);
    expect((await limiter.take('k')).allowed).toBe(false);
  });

  it('does not let a client double its rate at a window boundary (no fixed windows)', async () => {
    const clock = new ManualClock(1_700_000_000_000 - 1); // a minute boundary is 1 ms away
    const limiter = createRedisLimiter(redis.client(), { limit: 10, windowMs: MINUTE, clock });
    for (let i = 0; i < 10; i++) expect((await limiter.take('burst')).allowed).toBe(true);
    clock.advance(2);
    const after = [];
    for (let i = 0; i < 10; i++) after.push((await limiter.take('burst')).allowed);
    expect(
      after.filter(Boolean).length,
      '2 ms later a fixed window would admit 10 more (20 in 2 ms); a sliding window or GCRA admits none',
    ).toBe(0);
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
    await expect(limiter.take(''), 'an empty key').rejects.toThrow(TypeError);
  });
});
