/**
 * The hit-ratio playground's model: a seeded stream of Zipf-distributed key requests replayed through
 * a cache of a given size under LRU, LFU or FIFO eviction. Pure functions, no DOM.
 */

import { mulberry32 } from '../../testing/sim/prng';

export type Policy = 'lru' | 'lfu' | 'fifo';

export const POLICIES: readonly { id: Policy; label: string }[] = [
  { id: 'lru', label: 'LRU (least recently used)' },
  { id: 'lfu', label: 'LFU (least frequently used)' },
  { id: 'fifo', label: 'FIFO (oldest insert)' },
];

/** How many distinct keys the playground's workload draws from. */
export const KEYS = 10_000;
/** Requests per run; the first half warms the cache and only the second half is counted. */
export const REQUESTS = 60_000;
/** Cache sizes offered, in entries (0.1% to 50% of the keys). */
export const SIZES = [10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000] as const;

export interface TraceOptions {
  /** Zipf exponent: 0 is uniform, 1 is the classic web-cache skew, higher is more skewed. */
  skew: number;
  seed: number;
  keys?: number;
  requests?: number;
}

/**
 * A request trace: key k (0-based, 0 the most popular) is drawn with probability proportional to
 * 1 / (k + 1)^skew, by binary search in the cumulative weights.
 */
export function zipfTrace({ skew, seed, keys = KEYS, requests = REQUESTS }: TraceOptions): Int32Array {
  if (!(skew >= 0) || !Number.isFinite(skew)) throw new RangeError(`skew must be a number >= 0, got ${skew}`);
  const random = mulberry32(seed);
  const cumulative = new Float64Array(keys);
  let total = 0;
  for (let k = 0; k < keys; k++) {
    total += 1 / (k + 1) ** skew;
    cumulative[k] = total;
  }
  const trace = new Int32Array(requests);
  for (let i = 0; i < requests; i++) {
    const u = random() * total;
    let lo = 0;
    let hi = keys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    trace[i] = lo;
  }
  return trace;
}

/** The cache as the replay sees it: look a key up (counting a hit or not) and admit it after a miss. */
interface ReplayCache {
  /** True on a hit (and the policy's bookkeeping for a hit is done). */
  touch(key: number): boolean;
  /** Stores a key after a miss, evicting one first when full. */
  admit(key: number): void;
}

function lru(capacity: number): ReplayCache {
  const order = new Map<number, true>();
  return {
    touch(key) {
      if (!order.delete(key)) return false;
      order.set(key, true); // moved to the end: a Map iterates in insertion order
      return true;
    },
    admit(key) {
      if (order.size >= capacity) order.delete(order.keys().next().value as number);
      order.set(key, true);
    },
  };
}

function fifo(capacity: number): ReplayCache {
  const order = new Map<number, true>();
  return {
    touch: (key) => order.has(key),
    admit(key) {
      if (order.size >= capacity) order.delete(order.keys().next().value as number);
      order.set(key, true);
    },
  };
}

/** O(1) LFU: keys grouped by use count, least recently used first within a count. */
function lfu(capacity: number): ReplayCache {
  const countOf = new Map<number, number>();
  const byCount = new Map<number, Set<number>>();
  let minCount = 0;
  const place = (key: number, count: number) => {
    countOf.set(key, count);
    const bucket = byCount.get(count);
    if (bucket) bucket.add(key);
    else byCount.set(count, new Set([key]));
  };
  return {
    touch(key) {
      const count = countOf.get(key);
      if (count === undefined) return false;
      const bucket = byCount.get(count) as Set<number>;
      bucket.delete(key);
      if (bucket.size === 0) {
        byCount.delete(count);
        if (minCount === count) minCount = count + 1;
      }
      place(key, count + 1);
      return true;
    },
    admit(key) {
      if (countOf.size >= capacity) {
        const bucket = byCount.get(minCount) as Set<number>;
        const victim = bucket.values().next().value as number;
        bucket.delete(victim);
        if (bucket.size === 0) byCount.delete(minCount);
        countOf.delete(victim);
      }
      place(key, 1);
      minCount = 1;
    },
  };
}

const FACTORIES: Record<Policy, (capacity: number) => ReplayCache> = { lru, lfu, fifo };

export interface ReplayResult {
  hits: number;
  /** Requests counted (those after the warm-up). */
  counted: number;
  /** hits / counted, in [0, 1]. */
  hitRatio: number;
}

/**
 * Replays `trace` through an empty cache of `capacity` entries: the first `warmup` requests (half the
 * trace by default) only warm the cache; hits are counted over the rest.
 */
export function replay(
  trace: Int32Array,
  capacity: number,
  policy: Policy,
  warmup = trace.length >> 1,
): ReplayResult {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  const cache = FACTORIES[policy](capacity);
  let hits = 0;
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i] as number;
    if (cache.touch(key)) {
      if (i >= warmup) hits++;
    } else cache.admit(key);
  }
  const counted = Math.max(0, trace.length - warmup);
  return { hits, counted, hitRatio: counted === 0 ? 0 : hits / counted };
}

/** Origin (database) calls per 1,000 requests at a given hit ratio. */
export function originCallsPerThousand(hitRatio: number): number {
  return Math.round((1 - hitRatio) * 1000);
}
