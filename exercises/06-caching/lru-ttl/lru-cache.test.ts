import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/testing/index.js';
import { type EvictionReason, LruCache, type LruCacheOptions } from './lru-cache.js';

const T0 = 1_700_000_000_000;

type Event<V> = [key: string, value: V, reason: EvictionReason];

/** A cache of 3 entries on a manual clock, recording every `onEvict` call. */
function setup<V = string>(options: Partial<LruCacheOptions<string, V>> = {}) {
  const clock = new ManualClock(T0);
  const events: Event<V>[] = [];
  const cache = new LruCache<string, V>({
    maxEntries: 3,
    clock,
    onEvict: (key, value, reason) => events.push([key, value, reason]),
    ...options,
  });
  return { clock, cache, events };
}

/** A size-bounded cache whose values are strings and whose sizes are their lengths. */
function sized(maxSize: number, options: Partial<LruCacheOptions<string, string>> = {}) {
  return setup<string>({ maxEntries: 100, maxSize, sizeOf: (value) => value.length, ...options });
}

/** Events sorted, for operations whose contract fixes which entries are reported but not in what order. */
const sortedEvents = <V>(events: Event<V>[]) => [...events].sort((a, b) => a[0].localeCompare(b[0]));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

describe('LruCache: options', () => {
  it.each([0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects maxEntries %s with a RangeError that names the option and the value',
    (maxEntries) => {
      const error = thrown(() => new LruCache({ maxEntries }));
      expect(error, `maxEntries ${maxEntries} is not a positive integer`).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain('maxEntries');
      expect((error as Error).message).toContain(String(maxEntries));
    },
  );

  it.each([0, -4, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects maxSize %s with a RangeError that names the option and the value',
    (maxSize) => {
      const error = thrown(() => new LruCache<string, string>({ maxEntries: 10, maxSize, sizeOf: () => 1 }));
      expect(error, `maxSize ${maxSize} is not a positive integer`).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain('maxSize');
      expect((error as Error).message).toContain(String(maxSize));
    },
  );

  it.each([0, -1, Number.NaN, Number.NEGATIVE_INFINITY, '100' as unknown as number])(
    'rejects ttlMs %s with a RangeError that names the option and the value',
    (ttlMs) => {
      const error = thrown(() => new LruCache({ maxEntries: 10, ttlMs }));
      expect(error, `ttlMs ${ttlMs} is not a positive number`).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain('ttlMs');
      expect((error as Error).message).toContain(String(ttlMs));
    },
  );

  it('rejects maxSize without sizeOf, and a sizeOf that is not a function, with a TypeError', () => {
    expect(
      () => new LruCache({ maxEntries: 10, maxSize: 100 }),
      'maxSize needs sizeOf to know what an entry weighs',
    ).toThrow(TypeError);
    expect(
      () =>
        new LruCache<string, string>({
          maxEntries: 10,
          maxSize: 100,
          sizeOf: 'length' as unknown as (value: string) => number,
        }),
      'sizeOf must be a function',
    ).toThrow(TypeError);
  });

  it('accepts maxEntries 1, ttlMs Infinity and a fractional ttlMs', () => {
    const one = new LruCache<string, number>({ maxEntries: 1 });
    one.set('a', 1);
    one.set('b', 2);
    expect(one.keys(), 'a cache of one entry keeps the last one set').toEqual(['b']);
    expect(() => new LruCache({ maxEntries: 10, ttlMs: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => new LruCache({ maxEntries: 10, ttlMs: 0.5 })).not.toThrow();
  });
});

describe('LruCache: get, peek, has, keys', () => {
  it('returns what was set, and undefined / false for a key never set', () => {
    const { cache } = setup();
    cache.set('a', 'A');
    expect(cache.get('a')).toBe('A');
    expect(cache.peek('a')).toBe('A');
    expect(cache.has('a')).toBe(true);
    expect(cache.get('zz')).toBeUndefined();
    expect(cache.peek('zz')).toBeUndefined();
    expect(cache.has('zz')).toBe(false);
  });

  it('compares keys as a Map does: object keys by identity, and NaN finds NaN', () => {
    const cache = new LruCache<unknown, string>({ maxEntries: 10 });
    const key = { id: 1 };
    cache.set(key, 'object');
    cache.set(Number.NaN, 'nan');
    expect(cache.get(key)).toBe('object');
    expect(cache.get({ id: 1 }), 'an equal-looking but different object is a different key').toBeUndefined();
    expect(cache.get(Number.NaN)).toBe('nan');
  });

  it('get makes the entry the most recently used, so the next eviction spares it', () => {
    const { cache, events } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    expect(cache.get('a')).toBe('A');
    cache.set('d', 'D');
    expect(events, 'after get(a), b is the least recently used and set(d) must evict it').toEqual([
      ['b', 'B', 'evict'],
    ]);
    expect(cache.has('a'), 'a was just read: it must still be cached').toBe(true);
  });

  it('peek does not change recency: the peeked entry is still the next to go', () => {
    const { cache, events } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    expect(cache.peek('a')).toBe('A');
    cache.set('d', 'D');
    expect(events, 'peek(a) must leave a least recently used, so set(d) evicts a').toEqual([
      ['a', 'A', 'evict'],
    ]);
  });

  it('has does not change recency: the checked entry is still the next to go', () => {
    const { cache, events } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    expect(cache.has('a')).toBe(true);
    cache.set('d', 'D');
    expect(events, 'has(a) must leave a least recently used, so set(d) evicts a').toEqual([
      ['a', 'A', 'evict'],
    ]);
  });

  it('keys() lists the keys from the most recently used to the least', () => {
    const { cache } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    cache.get('a');
    cache.peek('b');
    expect(cache.keys(), 'a was read last (peek does not count), c set last before it').toEqual([
      'a',
      'c',
      'b',
    ]);
  });
});

describe('LruCache: set and eviction', () => {
  it('returns true and evicts the least recently used entries one by one beyond maxEntries', () => {
    const { cache, events } = setup();
    for (const key of ['a', 'b', 'c', 'd', 'e']) expect(cache.set(key, key.toUpperCase())).toBe(true);
    expect(events, 'a then b were the least recently used when d and e arrived').toEqual([
      ['a', 'A', 'evict'],
      ['b', 'B', 'evict'],
    ]);
    expect(cache.keys()).toEqual(['e', 'd', 'c']);
    expect(cache.size).toBe(3);
  });

  it('replacing a key makes it the most recently used (a Map keeps an existing key in its old place)', () => {
    const { cache, events } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    cache.set('a', 'A2');
    expect(cache.keys(), 'a was written last').toEqual(['a', 'c', 'b']);
    cache.set('d', 'D');
    expect(events, 'the replaced value is reported as set, then b is evicted, not a').toEqual([
      ['a', 'A', 'set'],
      ['b', 'B', 'evict'],
    ]);
    expect(cache.get('a')).toBe('A2');
  });

  it('replacing a key in a full cache evicts nothing', () => {
    const { cache, events } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    cache.set('b', 'B2');
    expect(events, 'only the old value of b leaves the cache, as a replacement').toEqual([['b', 'B', 'set']]);
    expect(cache.size).toBe(3);
    expect(cache.keys()).toEqual(['b', 'c', 'a']);
  });

  it('without sizeOf every entry has size 1: totalSize is the count', () => {
    const { cache } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('a', 'A2');
    expect(cache.totalSize).toBe(2);
    expect(cache.size).toBe(2);
  });
});

describe('LruCache: TTL', () => {
  it.each(['get', 'peek', 'has'] as const)(
    '%s: an entry is fresh at set time + ttlMs - 1 and absent at exactly set time + ttlMs',
    (method) => {
      const { cache, clock } = setup({ ttlMs: 1000 });
      cache.set('a', 'A');
      clock.advance(999);
      const fresh = method === 'has' ? cache.has('a') : cache[method]('a');
      expect(fresh, `${method} 999 ms after a set with ttlMs 1000 must still find the entry`).toBe(
        method === 'has' ? true : 'A',
      );
      clock.advance(1);
      const gone = method === 'has' ? cache.has('a') : cache[method]('a');
      expect(gone, `${method} at exactly set time + ttlMs must miss: the entry has expired`).toBe(
        method === 'has' ? false : undefined,
      );
    },
  );

  it('delete returns true for a fresh entry and false (reporting expire) for one that reached its TTL', () => {
    const first = setup({ ttlMs: 1000 });
    first.cache.set('a', 'A');
    first.clock.advance(999);
    expect(first.cache.delete('a'), 'at ttlMs - 1 the entry is fresh: delete removes it').toBe(true);
    expect(first.events).toEqual([['a', 'A', 'delete']]);

    const second = setup({ ttlMs: 1000 });
    second.cache.set('a', 'A');
    second.clock.advance(1000);
    expect(
      second.cache.delete('a'),
      'at exactly ttlMs the entry has expired: there was nothing to delete',
    ).toBe(false);
    expect(second.events, 'the expired entry delete met is reported as expire').toEqual([
      ['a', 'A', 'expire'],
    ]);
    expect(second.cache.delete('a'), 'a key never set, or gone: false').toBe(false);
  });

  it('size, totalSize and keys() leave out expired entries', () => {
    const { cache, clock } = setup({ maxEntries: 10, ttlMs: 1000 });
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C', { ttlMs: 2000 });
    clock.advance(999);
    expect(cache.size).toBe(3);
    clock.advance(1);
    expect(cache.size, 'a and b expired at 1000 ms: only c is fresh').toBe(1);
    expect(cache.totalSize).toBe(1);
    expect(cache.keys()).toEqual(['c']);
  });

  it('totalSize leaves out expired entries even when nothing else was read', () => {
    const { cache, clock } = sized(100, { ttlMs: 1000 });
    cache.set('a', 'aaaa');
    cache.set('b', 'bbb', { ttlMs: 5000 });
    clock.advance(1000);
    expect(cache.totalSize, 'a (size 4) expired: only b (size 3) counts').toBe(3);
  });

  it('a per-entry ttlMs overrides the default, shorter or longer, and Infinity never expires', () => {
    const { cache, clock } = setup({ maxEntries: 10, ttlMs: 1000 });
    cache.set('short', 'S', { ttlMs: 50 });
    cache.set('long', 'L', { ttlMs: 5000 });
    cache.set('default', 'D');
    cache.set('forever', 'F', { ttlMs: Number.POSITIVE_INFINITY });
    clock.advance(50);
    expect(cache.keys(), 'short expired at 50 ms').toEqual(['forever', 'default', 'long']);
    clock.advance(950);
    expect(cache.keys(), 'default expired at 1000 ms').toEqual(['forever', 'long']);
    clock.advance(4000);
    expect(cache.keys(), 'long expired at 5000 ms').toEqual(['forever']);
    clock.advance(1e12);
    expect(cache.get('forever'), 'ttlMs Infinity never expires').toBe('F');
  });

  it('without a default TTL entries never expire, unless set with a ttlMs of their own', () => {
    const { cache, clock } = setup({ maxEntries: 10 });
    cache.set('kept', 'K');
    cache.set('brief', 'B', { ttlMs: 100 });
    clock.advance(100);
    expect(cache.has('brief')).toBe(false);
    clock.advance(1e12);
    expect(cache.get('kept')).toBe('K');
  });

  it('accepts a fractional ttlMs', () => {
    const { cache, clock } = setup({ ttlMs: 0.5 });
    cache.set('a', 'A');
    clock.advance(0.25);
    expect(cache.get('a')).toBe('A');
    clock.advance(0.25);
    expect(cache.get('a')).toBeUndefined();
  });

  it.each(['get', 'peek', 'has'] as const)('%s never extends a TTL', (method) => {
    const { cache, clock } = setup({ ttlMs: 1000 });
    cache.set('a', 'A');
    clock.advance(900);
    cache[method]('a');
    clock.advance(100);
    expect(cache.has('a'), `a ${method} at 900 ms must not keep the entry alive past 1000 ms`).toBe(false);
  });

  it('a new set of a key starts its TTL again, and a set over an expired entry reports it as expired', () => {
    const { cache, clock, events } = setup({ ttlMs: 1000 });
    cache.set('a', 'A');
    clock.advance(600);
    cache.set('a', 'A2');
    clock.advance(600);
    expect(cache.get('a'), 'set again at 600 ms, a lives until 1600 ms').toBe('A2');
    clock.advance(400);
    expect(cache.get('a')).toBeUndefined();
    cache.set('b', 'B');
    clock.advance(1000);
    cache.set('b', 'B2');
    expect(events).toEqual([
      ['a', 'A', 'set'],
      ['a', 'A2', 'expire'],
      ['b', 'B', 'expire'],
    ]);
  });

  it('purgeStale removes every expired entry once, never a fresh one, and returns how many it removed', () => {
    const { cache, clock, events } = setup({ maxEntries: 10, ttlMs: 100 });
    cache.set('a', 'A');
    cache.set('b', 'B', { ttlMs: 50 });
    cache.set('c', 'C');
    cache.set('d', 'D', { ttlMs: 1000 });
    clock.advance(49);
    expect(cache.purgeStale(), 'nothing has expired at 49 ms').toBe(0);
    expect(events).toEqual([]);
    clock.advance(51);
    expect(cache.purgeStale(), 'a, b and c have expired at 100 ms').toBe(3);
    expect(sortedEvents(events)).toEqual([
      ['a', 'A', 'expire'],
      ['b', 'B', 'expire'],
      ['c', 'C', 'expire'],
    ]);
    expect(cache.purgeStale(), 'a second purge finds nothing more').toBe(0);
    expect(events).toHaveLength(3);
    expect(cache.keys()).toEqual(['d']);
  });

  it('reports each expired entry exactly once, however many operations meet it', () => {
    const { cache, clock, events } = setup({ ttlMs: 100 });
    cache.set('a', 'A');
    cache.set('b', 'B');
    clock.advance(100);
    cache.get('a');
    cache.peek('a');
    cache.has('b');
    cache.purgeStale();
    cache.delete('a');
    expect(cache.size).toBe(0);
    expect(sortedEvents(events)).toEqual([
      ['a', 'A', 'expire'],
      ['b', 'B', 'expire'],
    ]);
  });
});

describe('LruCache: TTLs after many rewrites', () => {
  /**
   * Sets `once` keys once, then rewrites five others thousands of times (so whatever keeps the
   * deadlines has had to drop the dead ones while the first keys were alive), then checks that every
   * key expires exactly at the deadline of its last set.
   */
  function rewriteThenExpire(ttlOf: (i: number) => number | undefined, once = 5) {
    const { cache, clock, events } = setup<number>({ maxEntries: once + 5, ttlMs: 1000 });
    const deadline = new Map<string, number>();
    const write = (key: string, i: number) => {
      const ttlMs = ttlOf(i);
      cache.set(key, i, ttlMs === undefined ? {} : { ttlMs });
      deadline.set(key, clock.now() + (ttlMs ?? 1000));
    };
    for (let i = 0; i < once; i++) write(`once${i}`, i);
    for (let i = 0; i < 3000; i++) {
      write(`often${i % 5}`, i);
      if (i % 100 === 99) clock.advance(1);
    }
    expect(
      events.filter(([, , reason]) => reason !== 'set'),
      'only replacements so far',
    ).toEqual([]);
    const last = Math.max(...deadline.values());
    while (clock.now() <= last) {
      const fresh = [...deadline].filter(([, at]) => at > clock.now()).map(([key]) => key);
      expect(cache.size, `at +${clock.now() - T0} ms the keys whose last set has not expired: ${fresh}`).toBe(
        fresh.length,
      );
      clock.advance(25);
    }
    cache.purgeStale();
    expect(
      events
        .filter(([, , reason]) => reason === 'expire')
        .map(([key]) => key)
        .sort(),
    ).toEqual([...deadline.keys()].sort());
  }

  it('with one TTL for all', () => rewriteThenExpire(() => undefined));

  it('with TTLs of their own, shorter and longer than the default', () =>
    rewriteThenExpire((i) => (i % 2 === 0 ? undefined : 200 + (i % 7) * 250)));

  it('with one key on a TTL of its own among keys on the default', () =>
    rewriteThenExpire((i) => (i === 3 ? 300 : undefined)));

  it('with many keys on TTLs of their own, in no particular order', () =>
    rewriteThenExpire((i) => 100 + ((i * 37) % 23) * 40, 25));
});

describe('LruCache: expired entries never cost a fresh entry its place', () => {
  it('when the cache is full, an expired entry goes before the least recently used fresh one', () => {
    const { cache, clock, events } = setup({ maxEntries: 3 });
    cache.set('a', 'A', { ttlMs: 10_000 });
    cache.set('b', 'B', { ttlMs: 1000 });
    cache.set('c', 'C', { ttlMs: 10_000 });
    clock.advance(1000);
    cache.set('d', 'D', { ttlMs: 10_000 });
    expect(events, 'b had expired, so it makes the room; a is fresh and stays (lru-cache #189)').toEqual([
      ['b', 'B', 'expire'],
    ]);
    expect(cache.keys()).toEqual(['d', 'c', 'a']);
  });

  it('with mixed TTLs: every expired entry is removed first, then the least recently used fresh ones', () => {
    const { cache, clock, events } = setup({ maxEntries: 4 });
    cache.set('a', 'A', { ttlMs: 10_000 });
    cache.set('b', 'B', { ttlMs: 100 });
    cache.set('c', 'C', { ttlMs: 10_000 });
    cache.set('d', 'D', { ttlMs: 200 });
    clock.advance(250);
    cache.get('a');
    cache.set('e', 'E', { ttlMs: 10_000 });
    expect(sortedEvents(events), 'b and d had expired: they make room for e').toEqual([
      ['b', 'B', 'expire'],
      ['d', 'D', 'expire'],
    ]);
    cache.set('f', 'F', { ttlMs: 10_000 });
    expect(events, 'there was room for f').toHaveLength(2);
    cache.set('g', 'G', { ttlMs: 10_000 });
    expect(events.slice(2), 'now c, the least recently used fresh entry, is evicted').toEqual([
      ['c', 'C', 'evict'],
    ]);
    expect(cache.keys()).toEqual(['g', 'f', 'e', 'a']);
  });

  it('an expired entry set after a longer-lived one also frees its place (deadlines are not in set order)', () => {
    const { cache, clock, events } = setup({ maxEntries: 3, ttlMs: 10_000 });
    cache.set('long', 'L');
    cache.set('short', 'S', { ttlMs: 100 });
    cache.set('other', 'O');
    clock.advance(100);
    expect(cache.size, 'short expired at 100 ms, though long was set before it').toBe(2);
    cache.set('new', 'N');
    expect(events).toEqual([['short', 'S', 'expire']]);
    expect(cache.keys()).toEqual(['new', 'other', 'long']);
  });

  it('under a size limit, an expired entry frees its size before a fresh one is evicted', () => {
    const { cache, clock, events } = sized(10);
    cache.set('a', 'aaaa', { ttlMs: 10_000 });
    cache.set('b', 'bbbb', { ttlMs: 100 });
    clock.advance(100);
    cache.set('c', 'cccc', { ttlMs: 10_000 });
    expect(events, 'b (size 4) had expired: removing it makes room for c without evicting a').toEqual([
      ['b', 'bbbb', 'expire'],
    ]);
    expect(cache.totalSize).toBe(8);
    expect(cache.keys()).toEqual(['c', 'a']);
  });
});

describe('LruCache: sizes', () => {
  it('calls sizeOf with the value and the key, and totalSize is the sum of the sizes', () => {
    const sizeOf = vi.fn((value: string, _key: string) => value.length);
    const { cache } = setup({ maxEntries: 10, maxSize: 100, sizeOf });
    cache.set('a', 'xyz');
    cache.set('b', 'hello');
    expect(sizeOf).toHaveBeenCalledWith('xyz', 'a');
    expect(sizeOf).toHaveBeenCalledWith('hello', 'b');
    expect(cache.totalSize).toBe(8);
  });

  it('sizeOf without maxSize measures entries without limiting them', () => {
    const { cache } = setup<string>({ maxEntries: 10, sizeOf: (value) => value.length });
    cache.set('a', 'x'.repeat(1000));
    cache.set('b', 'y'.repeat(2000));
    expect(cache.totalSize).toBe(3000);
    expect(cache.size).toBe(2);
  });

  it('evicts least recently used entries until the sizes fit maxSize; an entry of exactly maxSize fits', () => {
    const { cache, events } = sized(10);
    cache.set('a', 'aaaa');
    cache.set('b', 'bbbb');
    cache.set('c', 'cccc');
    expect(events, '12 > 10: a, the least recently used, goes').toEqual([['a', 'aaaa', 'evict']]);
    expect(cache.totalSize).toBe(8);
    cache.set('big', 'x'.repeat(10));
    expect(events.slice(1), 'an entry of size 10 needs all the room').toEqual([
      ['b', 'bbbb', 'evict'],
      ['c', 'cccc', 'evict'],
    ]);
    expect(cache.keys()).toEqual(['big']);
    expect(cache.totalSize).toBe(10);
  });

  it('replacing a key counts only the new size: a smaller or equal value evicts nothing, a larger one may', () => {
    const { cache, events } = sized(10);
    cache.set('a', 'aaaa');
    cache.set('b', 'bbbb');
    cache.set('a', 'AAAAAA');
    expect(events, 'a grows from 4 to 6: 10 in all, nothing to evict').toEqual([['a', 'aaaa', 'set']]);
    expect(cache.totalSize).toBe(10);
    cache.set('b', 'BBBBBB');
    expect(events.slice(1), 'b grows to 6: 12 in all, so a, now least recently used, is evicted').toEqual([
      ['b', 'bbbb', 'set'],
      ['a', 'AAAAAA', 'evict'],
    ]);
    expect(cache.totalSize).toBe(6);
  });

  it('a value larger than maxSize is not stored, evicts nothing, and is not reported', () => {
    const { cache, events } = sized(10);
    cache.set('a', 'aaaa');
    expect(cache.set('huge', 'x'.repeat(11)), 'set returns false for a value it did not store').toBe(false);
    expect(cache.has('huge')).toBe(false);
    expect(cache.get('a'), 'nothing was evicted for a value that was refused').toBe('aaaa');
    expect(events).toEqual([]);
  });

  it('a value larger than maxSize under an existing key removes the old value too', () => {
    const { cache, events } = sized(10);
    cache.set('a', 'aaaa');
    cache.set('b', 'bbbb');
    expect(cache.set('a', 'x'.repeat(11))).toBe(false);
    expect(cache.get('a'), 'the caller replaced a: serving the old value would be serving stale data').toBe(
      undefined,
    );
    expect(events).toEqual([['a', 'aaaa', 'set']]);
    expect(cache.totalSize).toBe(4);
    expect(cache.keys()).toEqual(['b']);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'a sizeOf result of %s throws a RangeError naming the key, and leaves the cache unchanged',
    (bad) => {
      const { cache, events } = setup<number>({ maxEntries: 10, maxSize: 100, sizeOf: (value) => value });
      cache.set('bad-key', 5);
      const error = thrown(() => cache.set('bad-key', bad));
      expect(error, `a size of ${bad} is not a positive integer`).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain('bad-key');
      expect((error as Error).message).toContain(String(bad));
      expect(cache.get('bad-key'), 'a set that throws must not have removed the old value').toBe(5);
      expect(cache.totalSize).toBe(5);
      expect(events).toEqual([]);
    },
  );

  it.each([0, -5, Number.NaN])(
    'a per-entry ttlMs of %s throws a RangeError naming ttlMs, and leaves the cache unchanged',
    (ttlMs) => {
      const { cache, events } = setup();
      cache.set('a', 'A');
      const error = thrown(() => cache.set('a', 'A2', { ttlMs }));
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain('ttlMs');
      expect(cache.get('a')).toBe('A');
      expect(events).toEqual([]);
    },
  );
});

describe('LruCache: delete, clear and onEvict', () => {
  it('delete removes a fresh entry and reports it; false for a key that is not there', () => {
    const { cache, events } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a'), 'already deleted').toBe(false);
    expect(cache.delete('never')).toBe(false);
    expect(events).toEqual([['a', 'A', 'delete']]);
    expect(cache.keys()).toEqual(['b']);
    expect(cache.totalSize).toBe(1);
  });

  it('clear removes everything, reporting fresh entries as delete and expired ones as expire', () => {
    const { cache, clock, events } = setup({ maxEntries: 10, ttlMs: 1000 });
    cache.set('fresh', 'F', { ttlMs: 5000 });
    cache.set('old', 'O');
    cache.set('also', 'A', { ttlMs: 5000 });
    clock.advance(1000);
    cache.clear();
    expect(sortedEvents(events)).toEqual([
      ['also', 'A', 'delete'],
      ['fresh', 'F', 'delete'],
      ['old', 'O', 'expire'],
    ]);
    expect(cache.size).toBe(0);
    expect(cache.totalSize).toBe(0);
    expect(cache.keys()).toEqual([]);
  });

  it('works as new after clear, TTLs included', () => {
    const { cache, clock, events } = setup({ ttlMs: 100 });
    cache.set('a', 'A');
    cache.clear();
    cache.set('b', 'B');
    clock.advance(100);
    expect(cache.purgeStale()).toBe(1);
    expect(events).toEqual([
      ['a', 'A', 'delete'],
      ['b', 'B', 'expire'],
    ]);
    for (const key of ['c', 'd', 'e', 'f']) cache.set(key, key);
    expect(cache.keys()).toEqual(['f', 'e', 'd']);
  });

  it('calls onEvict once for every entry that leaves the cache, with its own value and reason', () => {
    const { cache, clock, events } = setup<{ id: number }>({ maxEntries: 2, ttlMs: 100 });
    const value = (id: number) => ({ id });
    cache.set('a', value(0));
    cache.set('a', value(1)); // replaces #0
    cache.set('b', value(2));
    cache.delete('a'); // deletes #1
    cache.set('c', value(3));
    cache.set('d', value(4)); // evicts b (#2)
    clock.advance(100); // c and d expire
    cache.set('e', value(5));
    cache.purgeStale();
    const seen = events.map(([key, v, reason]) => `${key}#${v.id}:${reason}`);
    expect(seen.slice(0, 3)).toEqual(['a#0:set', 'a#1:delete', 'b#2:evict']);
    expect(seen.slice(3).sort(), 'c and d expired together: either order').toEqual([
      'c#3:expire',
      'd#4:expire',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Model-based test: random operations against a plain array-based LRU written from the contract.
// ---------------------------------------------------------------------------------------------------

interface Item {
  readonly id: number;
  readonly size: number;
}

interface ModelEntry {
  readonly key: string;
  readonly value: Item;
  readonly expiresAt: number;
}

type Op =
  | { op: 'set'; key: string; size: number; ttlMs: number | undefined }
  | { op: 'get' | 'peek' | 'has' | 'delete'; key: string }
  | { op: 'advance'; ms: number }
  | { op: 'purgeStale' | 'size' | 'totalSize' | 'keys' | 'clear' };

/**
 * The contract, written the slow and obvious way: an array from least to most recently used, holding
 * fresh entries only. Entries that expired move to `pending`: the cache may report them whenever it
 * likes after their expiry, and must have reported them by the end of an operation that meets them.
 */
class Model {
  fresh: ModelEntry[] = [];
  pending = new Map<Item, ModelEntry>();
  now = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxSize: number,
    readonly ttlMs: number,
  ) {}

  advance(ms: number) {
    this.now += ms;
    for (const e of this.fresh.filter((e) => e.expiresAt <= this.now)) this.pending.set(e.value, e);
    this.fresh = this.fresh.filter((e) => e.expiresAt > this.now);
  }

  find(key: string) {
    return this.fresh.find((e) => e.key === key);
  }

  remove(entry: ModelEntry) {
    this.fresh = this.fresh.filter((e) => e !== entry);
  }

  total() {
    return this.fresh.reduce((sum, e) => sum + e.value.size, 0);
  }

  pendingFor(key: string) {
    return [...this.pending.values()].filter((e) => e.key === key);
  }
}

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
      size: fc.integer({ min: 1, max: 7 }),
      ttlMs: fc.constantFrom(undefined, 20, 60, 150, Number.POSITIVE_INFINITY),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constantFrom('get' as const, 'peek' as const, 'has' as const, 'delete' as const),
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 80 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom(
        'purgeStale' as const,
        'size' as const,
        'totalSize' as const,
        'keys' as const,
        'clear' as const,
      ),
    }),
  },
);

describe('LruCache: against a model', () => {
  it('agrees with a plain array-based LRU on random operations, sizes, TTLs and clock advances', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.option(fc.integer({ min: 4, max: 14 }), { nil: undefined }),
        fc.option(fc.constantFrom(30, 100), { nil: undefined }),
        fc.array(opArbitrary, { maxLength: 250 }),
        (maxEntries, maxSize, ttlMs, ops) => {
          const clock = new ManualClock(0);
          const events: Event<Item>[] = [];
          const cache = new LruCache<string, Item>({
            maxEntries,
            clock,
            onEvict: (key, value, reason) => events.push([key, value, reason]),
            ...(maxSize === undefined ? {} : { maxSize, sizeOf: (value: Item) => value.size }),
            ...(ttlMs === undefined ? {} : { ttlMs }),
          });
          const model = new Model(
            maxEntries,
            maxSize ?? Number.POSITIVE_INFINITY,
            ttlMs ?? Number.POSITIVE_INFINITY,
          );
          let nextId = 0;
          const trace: string[] = [];
          for (const op of ops) {
            trace.push(JSON.stringify(op));
            const at = `after ${trace.join(', ')}`;
            events.length = 0;
            /** Model events other than 'expire', in the order the contract fixes. */
            const expected: Event<Item>[] = [];
            /** Expired entries this operation must have reported by the time it returns. */
            let mustReport: ModelEntry[] = [];
            let purged: number | undefined;
            switch (op.op) {
              case 'advance':
                clock.advance(op.ms);
                model.advance(op.ms);
                break;
              case 'set': {
                const value = { id: nextId++, size: op.size };
                const stored = cache.set(op.key, value, op.ttlMs === undefined ? {} : { ttlMs: op.ttlMs });
                mustReport = model.pendingFor(op.key);
                const old = model.find(op.key);
                if (old) {
                  model.remove(old);
                  expected.push([old.key, old.value, 'set']);
                }
                const fits = op.size <= model.maxSize;
                expect(stored, `${at}: set returns whether the value was stored`).toBe(fits);
                if (!fits) break;
                model.fresh.push({ key: op.key, value, expiresAt: model.now + (op.ttlMs ?? model.ttlMs) });
                if (model.fresh.length > model.maxEntries || model.total() > model.maxSize) {
                  // Fresh entries must go: every expired one must have gone first.
                  mustReport = [...model.pending.values()];
                }
                while (model.fresh.length > model.maxEntries || model.total() > model.maxSize) {
                  const lru = model.fresh.shift() as ModelEntry;
                  expected.push([lru.key, lru.value, 'evict']);
                }
                break;
              }
              case 'get':
              case 'peek':
              case 'has': {
                const entry = model.find(op.key);
                const got = op.op === 'has' ? cache.has(op.key) : cache[op.op](op.key);
                expect(got, `${at}: ${op.op}(${op.key})`).toEqual(
                  op.op === 'has' ? entry !== undefined : entry?.value,
                );
                if (entry && op.op === 'get') {
                  model.remove(entry);
                  model.fresh.push(entry);
                }
                mustReport = model.pendingFor(op.key);
                break;
              }
              case 'delete': {
                const entry = model.find(op.key);
                expect(cache.delete(op.key), `${at}: delete(${op.key}) is true only for a fresh entry`).toBe(
                  entry !== undefined,
                );
                if (entry) {
                  model.remove(entry);
                  expected.push([entry.key, entry.value, 'delete']);
                }
                mustReport = model.pendingFor(op.key);
                break;
              }
              case 'purgeStale':
                purged = cache.purgeStale();
                mustReport = [...model.pending.values()];
                break;
              case 'size':
                expect(cache.size, `${at}: size counts fresh entries`).toBe(model.fresh.length);
                mustReport = [...model.pending.values()];
                break;
              case 'totalSize':
                expect(cache.totalSize, `${at}: totalSize adds up fresh entries`).toBe(
                  maxSize === undefined ? model.fresh.length : model.total(),
                );
                mustReport = [...model.pending.values()];
                break;
              case 'keys':
                expect(cache.keys(), `${at}: keys() from most to least recently used`).toEqual(
                  model.fresh.map((e) => e.key).reverse(),
                );
                mustReport = [...model.pending.values()];
                break;
              case 'clear':
                cache.clear();
                for (const e of model.fresh) expected.push([e.key, e.value, 'delete']);
                model.fresh = [];
                mustReport = [...model.pending.values()];
                break;
            }
            // Every 'expire' must be an entry that has expired and was not reported before.
            const expires = events.filter(([, , reason]) => reason === 'expire');
            for (const [key, value] of expires) {
              expect(
                model.pending.get(value)?.key,
                `${at}: onEvict(${key}, #${value.id}, 'expire') for an entry that is not expired or was reported already`,
              ).toBe(key);
              model.pending.delete(value);
            }
            for (const e of mustReport) {
              expect(
                model.pending.has(e.value),
                `${at}: the expired entry ${e.key} (#${e.value.id}) must have been removed and reported as 'expire'`,
              ).toBe(false);
            }
            if (purged !== undefined) {
              expect(purged, `${at}: purgeStale returns how many entries it removed`).toBe(expires.length);
            }
            const others = events.filter(([, , reason]) => reason !== 'expire');
            const sameOrder = op.op === 'clear' ? sortedEvents : <V>(e: Event<V>[]) => e;
            expect(
              sameOrder(others).map(([k, v, r]) => `${k}#${v.id}:${r}`),
              `${at}: the entries reported to onEvict as evict, set or delete`,
            ).toEqual(sameOrder(expected).map(([k, v, r]) => `${k}#${v.id}:${r}`));
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
