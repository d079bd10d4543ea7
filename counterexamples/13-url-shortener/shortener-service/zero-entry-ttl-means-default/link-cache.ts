/**
 * A small in-process cache for hot links: bounded in entries (least recently used goes first) and
 * in time (an entry older than its TTL is a miss). A `Map` keeps insertion order, so re-inserting a
 * key on every hit makes the first key the least recently used one.
 */

/** Where the cache reads the time (milliseconds); inject a manual clock in tests. */
export interface Clock {
  now(): number;
}

export interface LinkCacheOptions {
  /** The most entries kept; the least recently used is evicted beyond it. Positive integer. */
  maxEntries: number;
  /**
   * How long an entry stays fresh after it was set, in milliseconds. Positive. An entry set at time t
   * is a hit before t + ttlMs and a miss from t + ttlMs on; reading it does not extend it.
   */
  ttlMs: number;
  clock?: Clock;
}

/** A bounded LRU cache whose entries also expire. */
export interface LinkCache<V> {
  /** The value when present and fresh (and it becomes the most recently used); otherwise undefined. */
  get(key: string): V | undefined;
  /**
   * Stores `value`, fresh for `ttlMs` (the cache's TTL when omitted or longer: an entry never lives
   * longer than the cache's TTL; 0 or less: stale at once, never served), as the most recently used
   * entry. Evicts the least recently used entries beyond `maxEntries`, and only beyond it: replacing
   * a key that is already there evicts nothing.
   */
  set(key: string, value: V, ttlMs?: number): void;
  /** Forgets `key`; true when it was there. */
  delete(key: string): boolean;
  /** Forgets everything. */
  clear(): void;
  /** Entries held right now (expired ones may still count until they are read or evicted). */
  readonly size: number;
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
}

/**
 * Creates an empty cache.
 * @throws {RangeError} when `maxEntries` is not a positive integer (0, -1, 1.5) or `ttlMs` is not a
 *   positive number (0, -5, NaN)
 */
export function createLinkCache<V>({ maxEntries, ttlMs, clock = Date }: LinkCacheOptions): LinkCache<V> {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }
  if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${ttlMs}`);
  const entries = new Map<string, Entry<V>>();

  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      entries.delete(key);
      if (clock.now() >= entry.expiresAt) return undefined;
      entries.set(key, entry);
      return entry.value;
    },
    set(key, value, entryTtlMs) {
      entries.delete(key);
      entries.set(key, { value, expiresAt: clock.now() + Math.min(entryTtlMs || ttlMs, ttlMs) });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    delete: (key) => entries.delete(key),
    clear: () => entries.clear(),
    get size() {
      return entries.size;
    },
  };
}
