/**
 * The contract's Big-O, checked without timing anything absolutely: the same operations on a cache
 * of 100,000 entries and on one of 1,000 must cost about the same per operation. O(1) and O(log n)
 * stay within a few times (memory caches and log2(100k)/log2(1k) = 1.7); an O(n) step (a scan for the
 * least recently used entry, a splice into a sorted array) makes the big cache about 100 times slower.
 *
 * The fastest batch of each cache counts, not the median: a busy machine only ever adds time, and a
 * short batch is the one a preemption inflates most. With the median, a loaded CI machine once let an
 * O(n) scan through (its few small batches were all interrupted; the long large ones average load out).
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/testing/index.js';
import { LruCache } from './lru-cache.js';

const SMALL = 1_000;
const LARGE = 100_000;
/** Operations per batch; the same number of batches is timed on both caches, alternately. */
const BATCH = 1024;
const BATCHES = 32;
/** How much slower per operation the large cache may be; O(n) is about LARGE / SMALL = 100×. */
const MAX_RATIO = 8;
/** A round stops after this long, however few batches it timed: an O(n) cache cannot hang the suite. */
const ROUND_BUDGET_MS = 1_000;
/** Filling the large cache takes ~30 ms with O(1) sets; this only stops a quadratic fill from hanging. */
const FILL_BUDGET_MS = 5_000;
/** Wall-clock limit for these tests: every loop in them is bounded, but a busy machine stretches them. */
const TEST_TIMEOUT_MS = 60_000;

/** xorshift32: the same pseudo-random trace on every run, in [0, 1). */
function pseudoRandom(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** A cache of `n` entries, filled to the brim, with the clock and random source its batches use. */
function fullCache(n: number, seed: number) {
  const clock = new ManualClock(0);
  const cache = new LruCache<number, number>({ maxEntries: n, ttlMs: 1e9, clock });
  const fillStart = performance.now();
  for (let key = 0; key < n; key++) {
    cache.set(key, key);
    if (key % 1024 === 0 && performance.now() - fillStart > FILL_BUDGET_MS) {
      throw new Error(
        `filling a cache of ${n} entries took more than ${FILL_BUDGET_MS} ms (stopped at ${key}): set must not be O(n)`,
      );
    }
  }
  return { n, cache, clock, random: pseudoRandom(seed) };
}

/**
 * Microseconds per operation over one batch: gets of random keys of which about one in eight hits
 * (a miss sets the key with a TTL of its own, evicting the least recently used), peeks, has,
 * delete-and-set, and reads of `size`. Nothing expires, so the cache stays full.
 */
function timeBatch({ n, cache, clock, random }: ReturnType<typeof fullCache>): number {
  const start = performance.now();
  for (let i = 0; i < BATCH; i++) {
    clock.advance(1);
    const key = Math.floor(random() * 8 * n);
    const which = random();
    if (which < 0.6) {
      if (cache.get(key) === undefined) cache.set(key, i, { ttlMs: 1e7 + Math.floor(random() * 1e7) });
    } else if (which < 0.75) {
      cache.peek(key);
    } else if (which < 0.9) {
      cache.has(key);
    } else if (which < 0.97) {
      if (cache.delete(key)) cache.set(key, i, { ttlMs: 1e7 + Math.floor(random() * 1e7) });
    } else if (cache.size > n) {
      throw new Error(`the cache holds ${cache.size} entries, more than maxEntries ${n}`);
    }
  }
  return ((performance.now() - start) * 1000) / BATCH;
}

/** Small-cache batches timed per large-cache batch: a short batch needs more tries to find a quiet moment. */
const SMALL_PER_LARGE = 4;

/**
 * One round: batches timed alternately on a full small cache and a full large one, so that both
 * see the same load from the rest of the machine; the fastest batch of each counts.
 */
function round(seed: number): { small: number; large: number } {
  const small = fullCache(SMALL, seed);
  const large = fullCache(LARGE, seed);
  const smallTimes: number[] = [];
  const largeTimes: number[] = [];
  const start = performance.now();
  while (largeTimes.length < BATCHES && performance.now() - start < ROUND_BUDGET_MS) {
    for (let i = 0; i < SMALL_PER_LARGE; i++) smallTimes.push(timeBatch(small));
    largeTimes.push(timeBatch(large));
  }
  return { small: Math.min(...smallTimes), large: Math.min(...largeTimes) };
}

describe('LruCache: complexity', () => {
  it(
    'costs about the same per operation with 100,000 entries as with 1,000 (no O(n) step)',
    () => {
      round(1); // warm up the JIT
      let best = { small: 1, large: Number.POSITIVE_INFINITY };
      for (let r = 0; r < 3; r++) {
        const result = round(7 + r);
        if (result.large / result.small < best.large / best.small) best = result;
      }
      const ratio = best.large / best.small;
      expect(
        ratio,
        `per operation (best of 3 rounds), ${LARGE} entries took ${best.large.toFixed(3)} µs and ${SMALL} took ${best.small.toFixed(3)} µs: ` +
          `${ratio.toFixed(1)}× slower. get/peek/has/delete must be O(1) and set at most O(log n); ` +
          'look for a scan of all entries (finding the least recently used, or the expired) or a splice into a sorted array',
      ).toBeLessThan(MAX_RATIO);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'does not grow with the number of writes: replaced and deleted entries leave nothing behind',
    () => {
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const clock = new ManualClock(0);
      const cache = new LruCache<number, number>({ maxEntries: 100, ttlMs: 3_600_000, clock });
      const churn = (writes: number) => {
        for (let i = 0; i < writes; i++) {
          clock.advance(1);
          // One TTL for all, and TTLs of their own (shorter, so their deadlines come out of order).
          cache.set(i % 10, i, i % 2 === 0 ? {} : { ttlMs: 1_000_000 + (i % 1000) });
          if (i % 3 === 0) cache.delete((i + 5) % 10);
        }
      };
      churn(10_000);
      gc();
      const before = process.memoryUsage().heapUsed;
      churn(500_000);
      gc();
      const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
      expect(cache.size).toBeLessThanOrEqual(10);
      expect(
        grownMb,
        `500,000 sets and deletes over 10 keys (TTL 1 hour, nothing expired) grew the heap by ${grownMb.toFixed(1)} MB: ` +
          'memory must stay O(maxEntries); a queue of deadlines with lazy deletion has to be swept when it fills with dead entries',
      ).toBeLessThan(5);
    },
    TEST_TIMEOUT_MS,
  );
});
