/**
 * An in-process cache bounded by a count of entries (and, optionally, by a total size), that evicts
 * the least recently used entry when it is full, and forgets entries after a time to live (TTL) on
 * an injected clock.
 *
 * **Recency in O(1).** A `Map` finds an entry by key in O(1), and it iterates in insertion order, so
 * `map.delete(key); map.set(key, entry)` moves a key to the end (most recently used) in O(1) too.
 * Many LRU snippets stop there and evict `map.keys().next().value`, the oldest key. In V8 that step
 * is not O(1): a `Map` is an ordered hash table that leaves a tombstone in place of every deleted
 * entry until it rebuilds itself, and a new iterator steps over all the tombstones at the front,
 * which are exactly the entries the cache evicted (at 100,000 entries a `set` that evicts costs tens
 * of microseconds instead of well under one). Keeping one iterator open instead keeps every table the
 * map has outgrown alive. So the order lives in a doubly linked list through the entries, most
 * recently used at one end, least at the other, and the `Map` only finds entries by key: the
 * textbook LRU, and what lru-cache does with typed arrays.
 *
 * **Expiry without scanning.** Expired entries must not hold capacity (in lru-cache they count
 * toward `max` until something reads them: lru-cache #189, #139), yet finding them by scanning every
 * entry costs O(n) per operation. Keep deadlines in a queue, earliest first, instead: with one TTL
 * for every entry, deadlines arrive in the order of the `set`s, so a FIFO is enough (O(1)); with TTLs
 * per entry they arrive out of order, and a binary min-heap keeps them (O(log n)).
 */

/** What the cache asks for the time: milliseconds, like `Date.now()`. */
export interface Clock {
  now(): number;
}

/**
 * Why an entry left the cache, as `onEvict` receives it:
 * - `'evict'`: it was the least recently used fresh entry and the cache needed room;
 * - `'expire'`: its TTL had run out (whatever removed it: a read that met it, `purgeStale()`, the
 *   cache making room, a `set` or `delete` of its key, `clear()`);
 * - `'delete'`: `delete(key)` or `clear()` removed it while it was fresh;
 * - `'set'`: a `set` of its key replaced it while it was fresh (also when the new value was too large
 *   to store).
 */
export type EvictionReason = 'evict' | 'expire' | 'delete' | 'set';

export interface LruCacheOptions<K, V> {
  /** The most entries the cache holds: a positive integer. */
  readonly maxEntries: number;
  /**
   * The most the sizes of the entries may add up to: a positive integer, in whatever unit `sizeOf`
   * counts (bytes, say). Default: no limit on size. Requires `sizeOf`.
   */
  readonly maxSize?: number;
  /**
   * The size of an entry, called once per `set` with the value and its key; it must return a
   * positive integer. Required with `maxSize`; without `sizeOf` every entry has size 1.
   */
  readonly sizeOf?: (value: V, key: K) => number;
  /**
   * How long an entry lives after its `set`, in ms: a positive number, or `Infinity`. Default:
   * entries never expire. `set(key, value, { ttlMs })` overrides it for one entry.
   */
  readonly ttlMs?: number;
  /** Default: `Date.now()`. */
  readonly clock?: Clock;
  /**
   * Called synchronously, once for every entry that leaves the cache, after it has left, with the
   * key, the value and the reason: the place to release what a value holds (a file handle, a
   * socket). A value a `set` refused as too large never entered, so it is not reported. It must not
   * throw or call the cache.
   */
  readonly onEvict?: (key: K, value: V, reason: EvictionReason) => void;
}

/** Per-entry options of {@link LruCache.set}. */
export interface SetOptions {
  /** This entry's TTL in ms (a positive number, or `Infinity` for never), instead of the cache's. */
  readonly ttlMs?: number;
}

/** A place in the recency list: the list's sentinel, or an entry. */
interface Link {
  /** Towards the most recently used end. */
  prev: Link;
  /** Towards the least recently used end. */
  next: Link;
}

/** One cached value and what the cache knows about it. */
interface Entry<K, V> extends Link {
  readonly key: K;
  readonly value: V;
  readonly size: number;
  /** The clock time (ms) from which the entry is expired; `Infinity` when it never expires. */
  readonly expiresAt: number;
  /** Set when the entry leaves the cache, so the expiry queue can skip it (lazy deletion). */
  removed: boolean;
}

/** The expiry queue is rebuilt when it holds more than twice the live entries plus this many. */
const QUEUE_SLACK = 64;

const systemClock: Clock = { now: () => Date.now() };

/**
 * A least-recently-used cache with a limit on entries, an optional limit on total size, and
 * optional TTLs on an injected clock.
 *
 * - **Fresh and expired.** An entry set at time `t` with a TTL of `ttlMs` is fresh while
 *   `clock.now() < t + ttlMs` and expired from `t + ttlMs` on (lru-cache keeps it for that last
 *   millisecond: its test is `age > ttl`). An expired entry is absent for every method: `get`,
 *   `peek` and `has` miss, `delete` returns false, `keys()`, `size` and `totalSize` leave it out.
 * - **Recency.** `set` and a `get` that hits make the entry the most recently used; `peek` and `has`
 *   do not change recency. Reading never extends a TTL (lru-cache's `updateAgeOnGet` and
 *   `updateAgeOnHas` are off by default too); only a new `set` starts a new TTL.
 * - **Eviction.** After a `set`, while the cache holds more than `maxEntries` entries or their sizes
 *   add up to more than `maxSize`, it first removes every expired entry (`'expire'`) and only then
 *   the least recently used fresh ones (`'evict'`): an expired entry never costs a fresh one its
 *   place. A `set` that replaces a key evicts nothing unless the new value is larger.
 * - **Lazy expiry.** Expired entries are removed (and reported to `onEvict`) when an operation meets
 *   them, when the cache needs room, and at the latest by `purgeStale()`; never before they expire,
 *   and once each. Reading `size`, `totalSize` or `keys()` removes them too.
 * - **Keys** are compared as a `Map` compares them (`===`, and `NaN` equals `NaN`).
 *
 * Complexity, n = entries: `get`, `peek`, `has`, `delete`: O(1). `set`: O(1) amortized without TTLs
 * or with one TTL for all; O(log n) when entries carry TTLs of their own. `size`, `totalSize`,
 * `purgeStale()`: O(1) amortized (each expired entry is removed once). `keys()`: O(n). Memory is
 * O(`maxEntries`): however many times keys are replaced or deleted, the cache's bookkeeping does not
 * outgrow the entries it holds.
 */
export class LruCache<K, V> {
  readonly #maxEntries: number;
  readonly #maxSize: number;
  readonly #sizeOf: ((value: V, key: K) => number) | undefined;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #onEvict: ((key: K, value: V, reason: EvictionReason) => void) | undefined;
  /** Every entry by key, expired ones until they are removed. */
  readonly #entries = new Map<K, Entry<K, V>>();
  /**
   * The recency list's sentinel: `#list.next` is the most recently used entry, `#list.prev` the
   * least; the list is empty when both point back at the sentinel.
   */
  readonly #list: Link = sentinel();
  readonly #expiry = new ExpiryQueue<Entry<K, V>>();
  /** The sum of the sizes of the entries in `#entries`. */
  #totalSize = 0;

  /**
   * @throws {RangeError} naming the option and its value, when `maxEntries` or `maxSize` is not a
   *   positive integer, or `ttlMs` is not a positive number or `Infinity`
   * @throws {TypeError} when `maxSize` is given without a `sizeOf` function, or `sizeOf` is not a
   *   function
   */
  constructor(options: LruCacheOptions<K, V>) {
    const { maxEntries, maxSize, sizeOf, ttlMs } = options;
    requirePositiveInteger('maxEntries', maxEntries);
    if (maxSize !== undefined) requirePositiveInteger('maxSize', maxSize);
    if (sizeOf !== undefined && typeof sizeOf !== 'function') {
      throw new TypeError(`sizeOf must be a function (value, key) => size, got ${typeof sizeOf}`);
    }
    if (maxSize !== undefined && sizeOf === undefined) {
      throw new TypeError('sizeOf is required with maxSize: pass (value, key) => the size of the entry');
    }
    if (ttlMs !== undefined) requireTtl(ttlMs);
    this.#maxEntries = maxEntries;
    this.#maxSize = maxSize ?? Number.POSITIVE_INFINITY;
    this.#sizeOf = sizeOf;
    this.#ttlMs = ttlMs ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? systemClock;
    this.#onEvict = options.onEvict;
  }

  /** How many fresh entries the cache holds. */
  get size(): number {
    this.purgeStale();
    return this.#entries.size;
  }

  /** The sum of the sizes of the fresh entries (their count when there is no `sizeOf`). */
  get totalSize(): number {
    this.purgeStale();
    return this.#totalSize;
  }

  /** The value under `key` if it is fresh, which makes it the most recently used; else `undefined`. */
  get(key: K): V | undefined {
    const entry = this.#fresh(key);
    if (entry === undefined) return undefined;
    unlink(entry);
    linkAfter(this.#list, entry);
    return entry.value;
  }

  /** The value under `key` if it is fresh, else `undefined`; recency does not change. */
  peek(key: K): V | undefined {
    return this.#fresh(key)?.value;
  }

  /** Whether a fresh entry is under `key`; recency does not change. */
  has(key: K): boolean {
    return this.#fresh(key) !== undefined;
  }

  /**
   * Stores `value` under `key` as the most recently used entry, with a new TTL (`options.ttlMs`, else
   * the cache's), replacing what was there (reported as `'set'`, or `'expire'` if it had expired).
   * Then, while the cache is over a limit, removes expired entries and then the least recently used
   * fresh ones (see the class). A value whose size is larger than `maxSize` is not stored, and the old
   * value under the key is removed all the same: a refused `set` never leaves the old value behind.
   * @returns `true` when the value was stored, `false` when it was too large to store
   * @throws {RangeError} when `options.ttlMs` is not a positive number or `Infinity`, or `sizeOf`
   *   returns anything but a positive integer (the message names the key and the size); the cache is
   *   left unchanged
   */
  set(key: K, value: V, options: SetOptions = {}): boolean {
    if (options.ttlMs !== undefined) requireTtl(options.ttlMs);
    const size = this.#measure(value, key);
    const now = this.#clock.now();
    const old = this.#entries.get(key);
    if (old !== undefined) this.#remove(old, old.expiresAt <= now ? 'expire' : 'set');
    if (size > this.#maxSize) return false;

    const entry: Entry<K, V> = {
      key,
      value,
      size,
      expiresAt: now + (options.ttlMs ?? this.#ttlMs),
      removed: false,
      prev: this.#list,
      next: this.#list,
    };
    this.#entries.set(key, entry);
    linkAfter(this.#list, entry);
    this.#totalSize += size;
    if (entry.expiresAt !== Number.POSITIVE_INFINITY) this.#expiry.push(entry, this.#entries.size);
    this.#makeRoom();
    return true;
  }

  /**
   * Removes the entry under `key` (reported as `'delete'`, or `'expire'` if it had expired).
   * @returns `true` when a fresh entry was removed; `false` when there was none or it had expired
   */
  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    const fresh = entry.expiresAt > this.#clock.now();
    this.#remove(entry, fresh ? 'delete' : 'expire');
    return fresh;
  }

  /** Removes every entry, reporting each as `'delete'` (or `'expire'` if it had expired). */
  clear(): void {
    const now = this.#clock.now();
    for (const entry of [...this.#entries.values()]) {
      this.#remove(entry, entry.expiresAt <= now ? 'expire' : 'delete');
    }
    this.#expiry.clear();
  }

  /** The keys of the fresh entries, from the most recently used to the least. */
  keys(): K[] {
    this.purgeStale();
    const keys: K[] = [];
    for (let link = this.#list.next; link !== this.#list; link = link.next) {
      keys.push((link as Entry<K, V>).key);
    }
    return keys;
  }

  /**
   * Removes every expired entry now, reporting each to `onEvict` as `'expire'`.
   * @returns how many entries this call removed
   */
  purgeStale(): number {
    const now = this.#clock.now();
    let removed = 0;
    for (let entry = this.#expiry.popDue(now); entry !== undefined; entry = this.#expiry.popDue(now)) {
      this.#remove(entry, 'expire');
      removed++;
    }
    return removed;
  }

  /** The entry under `key` if it is fresh; an expired one met here is removed. */
  #fresh(key: K): Entry<K, V> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#clock.now()) {
      this.#remove(entry, 'expire');
      return undefined;
    }
    return entry;
  }

  /** Expired entries first, then the least recently used, until the cache is within its limits. */
  #makeRoom(): void {
    if (!this.#overLimits()) return;
    this.purgeStale();
    while (this.#overLimits()) this.#remove(this.#list.prev as Entry<K, V>, 'evict');
  }

  #overLimits(): boolean {
    return this.#entries.size > this.#maxEntries || this.#totalSize > this.#maxSize;
  }

  #remove(entry: Entry<K, V>, reason: EvictionReason): void {
    this.#entries.delete(entry.key);
    unlink(entry);
    this.#totalSize -= entry.size;
    entry.removed = true;
    this.#onEvict?.(entry.key, entry.value, reason);
  }

  #measure(value: V, key: K): number {
    if (this.#sizeOf === undefined) return 1;
    const size = this.#sizeOf(value, key);
    if (!(Number.isInteger(size) && size > 0)) {
      throw new RangeError(
        `sizeOf returned ${size} for key ${String(key)}: a size must be a positive integer`,
      );
    }
    return size;
  }
}

/** Entries sorted by deadline in one array: binary search finds the place, splice puts it there. */
class ExpiryQueue<E extends { readonly expiresAt: number; readonly removed: boolean }> {
  #sorted: E[] = [];

  push(entry: E, live: number): void {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#sorted[mid] as E).expiresAt <= entry.expiresAt) lo = mid + 1;
      else hi = mid;
    }
    this.#sorted.splice(lo, 0, entry);
    if (this.#sorted.length > 2 * live + QUEUE_SLACK) this.#sorted = this.#sorted.filter((e) => !e.removed);
  }

  popDue(now: number): E | undefined {
    while (this.#sorted.length > 0) {
      const entry = this.#sorted[0] as E;
      if (!entry.removed && entry.expiresAt > now) return undefined;
      this.#sorted.shift();
      if (!entry.removed) return entry;
    }
    return undefined;
  }

  clear(): void {
    this.#sorted = [];
  }
}

function sentinel(): Link {
  const link = {} as Link;
  link.prev = link;
  link.next = link;
  return link;
}

/** Puts `entry` right after `link` (after the sentinel: the most recently used place). */
function linkAfter(link: Link, entry: Link): void {
  entry.prev = link;
  entry.next = link.next;
  link.next.prev = entry;
  link.next = entry;
}

function unlink(entry: Link): void {
  entry.prev.next = entry.next;
  entry.next.prev = entry.prev;
}

function requirePositiveInteger(name: string, value: number): void {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

function requireTtl(ttlMs: number): void {
  if (!(typeof ttlMs === 'number' && ttlMs > 0)) {
    throw new RangeError(`ttlMs must be a positive number of milliseconds (or Infinity), got ${ttlMs}`);
  }
}
