import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/testing/index.js';
import { createLinkCache } from './link-cache.js';

describe('an LRU cache with a TTL for hot links', () => {
  it('returns what was set, and undefined for what was not', () => {
    const cache = createLinkCache<string>({ maxEntries: 10, ttlMs: 1000, clock: new ManualClock() });
    cache.set('abc', 'https://example.com/');
    expect(cache.get('abc')).toBe('https://example.com/');
    expect(cache.get('nope'), 'a key never set is a miss').toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = createLinkCache<number>({ maxEntries: 2, ttlMs: 60_000, clock: new ManualClock() });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a'), 'reading a makes it the most recently used').toBe(1);
    cache.set('c', 3);
    expect(cache.get('b'), 'b was the least recently used, so c pushed it out').toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size, 'never more than maxEntries').toBe(2);
  });

  it('setting an existing key replaces it without growing', () => {
    const cache = createLinkCache<number>({ maxEntries: 2, ttlMs: 60_000, clock: new ManualClock() });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 10);
    cache.set('c', 3);
    expect(cache.get('a'), 'updating a made it recent, so b went').toBe(10);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('updating a key in a full cache evicts nothing', () => {
    const cache = createLinkCache<number>({ maxEntries: 3, ttlMs: 60_000, clock: new ManualClock() });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.set('c', 30); // c is already the most recent entry: a, the least recent, must stay
    expect(cache.size, 'the cache is full, not beyond its bound: nothing to evict').toBe(3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')], 'all three keys are still there').toEqual([
      1, 2, 30,
    ]);
  });

  it('forgets entries after ttlMs', () => {
    const clock = new ManualClock();
    const cache = createLinkCache<number>({ maxEntries: 10, ttlMs: 1000, clock });
    cache.set('a', 1);
    clock.advance(999);
    expect(cache.get('a'), 'fresh until ttlMs has passed').toBe(1);
    clock.advance(1);
    expect(cache.get('a'), 'stale at ttlMs: a hit must not be served').toBeUndefined();
    expect(cache.size, 'a stale entry found on read is dropped').toBe(0);
  });

  it('takes a shorter TTL per entry but never a longer one', () => {
    const clock = new ManualClock();
    const cache = createLinkCache<number>({ maxEntries: 10, ttlMs: 1000, clock });
    cache.set('short', 1, 100);
    cache.set('long', 2, 5000);
    clock.advance(100);
    expect(cache.get('short'), 'an entry set for 100 ms is gone at 100 ms').toBeUndefined();
    expect(cache.get('long')).toBe(2);
    clock.advance(900);
    expect(cache.get('long'), "an entry never outlives the cache's ttlMs").toBeUndefined();
  });

  it('serves an entry set with a TTL of 0 (or less) never: it is stale at once', () => {
    const cache = createLinkCache<number>({ maxEntries: 10, ttlMs: 1000, clock: new ManualClock() });
    cache.set('now', 1, 0);
    cache.set('past', 2, -50);
    expect(cache.get('now'), 'a TTL of 0 is not "the default TTL": fresh for 0 ms').toBeUndefined();
    expect(cache.get('past'), 'a negative TTL (a link that already expired)').toBeUndefined();
  });

  it('a read does not extend the TTL', () => {
    const clock = new ManualClock();
    const cache = createLinkCache<number>({ maxEntries: 10, ttlMs: 1000, clock });
    cache.set('a', 1);
    clock.advance(600);
    expect(cache.get('a')).toBe(1);
    clock.advance(600);
    expect(cache.get('a'), 'freshness counts from set, not from the last read').toBeUndefined();
  });

  it('deletes and clears', () => {
    const cache = createLinkCache<number>({ maxEntries: 10, ttlMs: 1000, clock: new ManualClock() });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.delete('a'), 'delete says the key was there').toBe(true);
    expect(cache.delete('a'), 'and that it is not any more').toBe(false);
    expect(cache.get('a')).toBeUndefined();
    cache.clear();
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('refuses a bad size or TTL', () => {
    for (const maxEntries of [0, -1, 1.5])
      expect(() => createLinkCache({ maxEntries, ttlMs: 1000 }), `maxEntries ${maxEntries}`).toThrow(
        RangeError,
      );
    for (const ttlMs of [0, -5, Number.NaN])
      expect(() => createLinkCache({ maxEntries: 1, ttlMs }), `ttlMs ${ttlMs}`).toThrow(RangeError);
  });
});
