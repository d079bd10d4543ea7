/**
 * Cache-aside (lazy loading) over Redis: the application asks the cache first and, on a miss, loads
 * the value from its source of truth (a database, another service) and stores it for the next
 * caller. The naive version is five lines; four things make it safe under load:
 *
 * - **single-flight**: concurrent gets of one key in one process share one lookup, so a hot key that
 *   goes cold costs one loader call instead of one per waiting request (a cache stampede);
 * - **negative caching**: "this key does not exist" is cached too, for its own, usually shorter, TTL;
 * - **stale-while-revalidate**: for `staleMs` after an entry stops being fresh it is still served,
 *   at once, while one background load replaces it;
 * - **jittered TTLs**: entries written together (after a deploy, a cache flush) do not all expire in
 *   the same second.
 *
 * And Redis is an optimisation, not a dependency: when it fails, `get` answers from the loader.
 *
 * ## What this module keeps in Redis
 *
 * One string per cached key, at `prefix + key`, holding a JSON {@link CacheEnvelope}:
 *
 * ```
 * {"value":<the value>,"freshUntil":<ms>,"staleUntil":<ms>}   a value (null is a value)
 * {"missing":true,"freshUntil":<ms>,"staleUntil":<ms>}        the loader said: no such key
 * ```
 *
 * The times are read from the cache's clock, so every instance must share one notion of time
 * (NTP in production, one injected clock in tests). The key's Redis TTL (`PX`) is the time left until
 * `staleUntil`: Redis drops an entry once no reader may use it, and the envelope's own times decide
 * freshness, so a reader never depends on when Redis gets round to expiring a key. Nothing else is
 * written: no locks, no indexes.
 */
import type { Redis } from 'ioredis';

/** What the cache asks for the time: milliseconds, like `Date.now()`. */
export interface Clock {
  now(): number;
}

/**
 * Loads the value of `key` from the source of truth. Resolves with `undefined` when the key does not
 * exist there; `null` is a value like any other. Values must survive `JSON.stringify` and
 * `JSON.parse` (plain objects, arrays, strings, finite numbers, booleans, null).
 */
export type Loader<V> = (key: string) => Promise<V | undefined>;

/**
 * The JSON stored at `prefix + key`. `freshUntil` and `staleUntil` are times on the cache's clock
 * (ms): fresh while `now < freshUntil`, stale while `freshUntil <= now < staleUntil`, gone from
 * `staleUntil` on. A "missing" entry has no stale period (`staleUntil === freshUntil`).
 */
export type CacheEnvelope<V> =
  | { readonly value: V; readonly freshUntil: number; readonly staleUntil: number }
  | { readonly missing: true; readonly freshUntil: number; readonly staleUntil: number };

/**
 * Where a reported error happened: `'read'` (the Redis read failed, or the stored entry is not an
 * envelope), `'write'` (storing or deleting a loaded answer failed), `'refresh'` (the loader of a
 * background refresh rejected).
 */
export type CacheErrorStage = 'read' | 'write' | 'refresh';

export interface CacheAsideOptions {
  /**
   * The connection the cache reads and writes with. The cache waits for a command as long as the
   * client does; to answer from the loader quickly while Redis is away, configure the client to fail
   * fast: `enableOfflineQueue: false` (reject at once while disconnected), a low
   * `maxRetriesPerRequest`, and a `commandTimeout` for a Redis that stalls.
   */
  readonly redis: Redis;
  /** Prepended to every key: `prefix + key` is the Redis key. Caches with different prefixes never share entries. */
  readonly prefix: string;
  /** How long a loaded value is fresh, in ms, before jitter: a positive integer. */
  readonly ttlMs: number;
  /**
   * How long after its fresh period a value may still be served while it is refreshed in the
   * background, in ms: a non-negative integer. Default 0: no stale serving.
   */
  readonly staleMs?: number;
  /**
   * How long a "does not exist" answer (the loader resolved `undefined`) is cached, in ms, before
   * jitter: a non-negative integer. Default 0: not cached, every get of such a key calls the loader.
   */
  readonly negativeTtlMs?: number;
  /**
   * How much of a fresh period may be cut, at random, so entries written together expire apart: in
   * [0, 1). Default 0.1 (a fresh period is between 90% and 100% of its TTL).
   */
  readonly jitter?: number;
  /** Default: `Date.now`. */
  readonly clock?: Clock;
  /** A source of numbers in [0, 1). Default: `Math.random`. */
  readonly random?: () => number;
  /**
   * Told about every error the cache absorbs instead of rejecting a get: Redis failures, entries that
   * are not envelopes ({@link BadEntryError}), and background refreshes that rejected. A throw from it
   * is ignored. Default: errors are dropped (a refresh's failure still counts in `loadErrors`).
   */
  readonly onError?: (error: unknown, stage: CacheErrorStage, key: string) => void;
}

/** Counters since the cache was created. */
export interface CacheStats {
  /** Gets answered from a fresh entry (a cached "missing" included). */
  readonly hits: number;
  /** Gets answered from a stale entry (each started or found a background refresh). */
  readonly staleHits: number;
  /** Gets that waited for a loader: their own, or one they shared; also those that rejected. */
  readonly misses: number;
  /** Loader calls, in the foreground and in the background. */
  readonly loads: number;
  /** Loader calls that rejected (or threw), in the foreground and in the background. */
  readonly loadErrors: number;
}

export interface CacheAside<V> {
  /**
   * The value of `key`: from Redis while the entry there is fresh, otherwise from `loader(key)`.
   * Resolves with `undefined` when the key does not exist.
   *
   * - **Fresh** (`now < freshUntil`): resolves with the stored value (`undefined` for a cached
   *   "missing"); the loader is not called.
   * - **Stale** (a value, `freshUntil <= now < staleUntil`): resolves with the stored value at once,
   *   without waiting for the loader, and starts a background refresh (`loader(key)`, then a write as
   *   on a miss) unless a load of this key is already running in this cache: however many stale reads
   *   come in, one load runs at a time. A refresh that rejects leaves the stale entry as it is, counts
   *   in `loadErrors`, is reported to `onError` as `'refresh'` once (however many stale reads found
   *   it running) and is never an unhandled rejection; the next stale read starts a new one.
   * - **Miss** (no entry; an entry past `staleUntil`, or a "missing" past `freshUntil`; an entry
   *   that is not a valid envelope; a failed Redis read): calls `loader(key)` and waits for it. At
   *   most one load of a key runs in this cache at a time: a miss while a background refresh of the
   *   key runs waits for that refresh instead of calling its loader.
   *   - A value (`null` included) is written with a fresh period of
   *     `ceil(ttlMs × (1 − jitter × random()))` ms (never 0), then `staleMs` of stale.
   *   - `undefined` is written as "missing" for `ceil(negativeTtlMs × (1 − jitter × random()))` ms
   *     when `negativeTtlMs > 0`, with no stale period; otherwise the key's entry is deleted.
   *   - `random()` is called once for every entry written, and at no other time.
   *   - The entry's times count from the clock's time when the loader resolved, and its `PX` is
   *     `staleUntil − now`.
   *   - The get resolves with the loader's value once the write has succeeded or failed.
   *   - A loader that rejects or throws: the get rejects with that error, nothing is written, and the
   *     next get of the key calls the loader again.
   * - **Single-flight**: a get of a key while another get of it is under way in this cache joins it
   *   (its own `loader` is not called): all of them share one Redis `GET`, at most one loader call
   *   and one Redis command to write (`SET` with `PX`, or `DEL`), and settle alike, with the loader's
   *   value itself or its error. Gets of different keys never wait for each other.
   * - **Redis trouble never rejects a get**: a failed read is a miss, a failed write still resolves
   *   with the loaded value; both are reported to `onError` (`'read'`, `'write'`).
   * - Every settled get counts once in `hits`, `staleHits` or `misses`.
   */
  get(key: string, loader: Loader<V>): Promise<V | undefined>;
  /**
   * Deletes the entry of `key` in Redis: call it after changing the source of truth. Gets that start
   * after `delete` was called never join a lookup that started before it, and a load of the key that
   * is running when `delete` is called does not write its result (it may have read the source before
   * the change); it still answers the gets that were waiting for it. Resolves once Redis has deleted
   * the entry.
   * @throws (as a rejection) the Redis error when the delete fails: unlike a get, the caller must
   * know that the old value may still be served
   */
  delete(key: string): Promise<void>;
  /** A snapshot of the counters; later gets do not change an object already returned. */
  stats(): CacheStats;
}

/** Reported to `onError` (stage `'read'`) for a stored string that is not a {@link CacheEnvelope}; the get treats it as a miss. */
export class BadEntryError extends Error {
  readonly code = 'CACHE_BAD_ENTRY';
  override readonly name = 'BadEntryError';

  constructor(
    /** The cache key (without the prefix). */
    readonly key: string,
    /** The first 100 characters of what Redis held. */
    readonly stored: string,
  ) {
    super(`the cache entry of "${key}" is not an envelope and is treated as a miss: ${stored}`);
  }
}

/**
 * Creates a cache-aside cache over `options.redis`.
 * @throws {TypeError} when `redis` is missing or `prefix` is not a string
 * @throws {RangeError} naming the option and its value, when `ttlMs` is not a positive integer,
 * `staleMs` or `negativeTtlMs` is not a non-negative integer, or `jitter` is not in [0, 1)
 */
export function createCacheAside<V>(options: CacheAsideOptions): CacheAside<V> {
  return new RedisCacheAside<V>(options);
}

/** What one lookup found, for every get that shared it. */
interface Answer<V> {
  readonly outcome: 'hits' | 'staleHits' | 'misses';
  readonly value: V | undefined;
}

/** A load in progress; its identity tells whether `delete` has disowned it since it started. */
interface Load<V> {
  readonly promise: Promise<V | undefined>;
}

class RedisCacheAside<V> implements CacheAside<V> {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #negativeTtlMs: number;
  readonly #jitter: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #onError: CacheAsideOptions['onError'];
  /** Lookups under way (read, then maybe load): what a concurrent get of the key joins. */
  readonly #lookups = new Map<string, Promise<Answer<V>>>();
  /** Loads under way, foreground or background: at most one per key. */
  readonly #loads = new Map<string, Load<V>>();
  readonly #stats = { hits: 0, staleHits: 0, misses: 0, loads: 0, loadErrors: 0 };

  constructor(options: CacheAsideOptions) {
    if (!options.redis) throw new TypeError('redis is required: pass an ioredis connection');
    if (typeof options.prefix !== 'string') {
      throw new TypeError(`prefix must be a string, got ${String(options.prefix)}`);
    }
    const jitter = options.jitter ?? 0.1;
    if (!(jitter >= 0 && jitter < 1)) throw new RangeError(`jitter must be in [0, 1), got ${jitter}`);
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#ttlMs = integerAtLeast('ttlMs', options.ttlMs, 1);
    this.#staleMs = integerAtLeast('staleMs', options.staleMs ?? 0, 0);
    this.#negativeTtlMs = integerAtLeast('negativeTtlMs', options.negativeTtlMs ?? 0, 0);
    this.#jitter = jitter;
    this.#clock = options.clock ?? Date;
    this.#random = options.random ?? Math.random;
    this.#onError = options.onError;
  }

  async get(key: string, loader: Loader<V>): Promise<V | undefined> {
    let lookup = this.#lookups.get(key);
    if (!lookup) {
      const started = this.#lookup(key, loader);
      this.#lookups.set(key, started);
      // Registered before any waiter's continuation: a get that sees the outcome starts afresh.
      const forget = () => {
        if (this.#lookups.get(key) === started) this.#lookups.delete(key);
      };
      started.then(forget, forget);
      lookup = started;
    }
    try {
      const { outcome, value } = await lookup;
      this.#stats[outcome]++;
      return value;
    } catch (error) {
      this.#stats.misses++;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    this.#lookups.delete(key);
    this.#loads.delete(key);
    await this.#redis.del(this.#prefix + key);
  }

  stats(): CacheStats {
    return { ...this.#stats };
  }

  async #lookup(key: string, loader: Loader<V>): Promise<Answer<V>> {
    const entry = await this.#read(key);
    const now = this.#clock.now();
    if (entry && now < entry.freshUntil) {
      return { outcome: 'hits', value: 'value' in entry ? entry.value : undefined };
    }
    if (entry && 'value' in entry && now < entry.staleUntil) {
      this.#refresh(key, loader);
      return { outcome: 'staleHits', value: entry.value };
    }
    return { outcome: 'misses', value: await this.#load(key, loader) };
  }

  /** The envelope at `prefix + key`, or undefined for none, a bad one, or a failed read (reported). */
  async #read(key: string): Promise<CacheEnvelope<V> | undefined> {
    let stored: string | null;
    try {
      stored = await this.#redis.get(this.#prefix + key);
    } catch (error) {
      this.#report(error, 'read', key);
      return undefined;
    }
    if (stored === null) return undefined;
    const entry = parseEnvelope<V>(stored);
    if (!entry) this.#report(new BadEntryError(key, stored.slice(0, 100)), 'read', key);
    return entry;
  }

  /** Starts a background load of `key` unless one is running; its failure is reported, never thrown. */
  #refresh(key: string, loader: Loader<V>): void {
    if (this.#loads.has(key)) return;
    this.#load(key, loader).catch((error: unknown) => this.#report(error, 'refresh', key));
  }

  /** The running load of `key`, or a new one that this cache owns until it ends or `delete` disowns it. */
  #load(key: string, loader: Loader<V>): Promise<V | undefined> {
    const running = this.#loads.get(key);
    if (running) return running.promise;
    const load: Load<V> = {
      promise: this.#loadAndWrite(key, loader, () => this.#loads.get(key) === load),
    };
    this.#loads.set(key, load);
    const forget = () => {
      if (this.#loads.get(key) === load) this.#loads.delete(key);
    };
    load.promise.then(forget, forget);
    return load.promise;
  }

  /** Calls the loader and, while the load is still `owned`, writes its answer. */
  async #loadAndWrite(key: string, loader: Loader<V>, owned: () => boolean): Promise<V | undefined> {
    this.#stats.loads++;
    let value: V | undefined;
    try {
      value = await loader(key);
    } catch (error) {
      this.#stats.loadErrors++;
      throw error;
    }
    if (owned()) await this.#write(key, value);
    return value;
  }

  /** Stores a loader's answer: one `SET … PX` (a value, or "missing"), or one `DEL`. Never throws. */
  async #write(key: string, value: V | undefined): Promise<void> {
    const redisKey = this.#prefix + key;
    try {
      if (value == null && this.#negativeTtlMs === 0) {
        await this.#redis.del(redisKey);
        return;
      }
      const now = this.#clock.now();
      const envelope: CacheEnvelope<V> =
        value == null
          ? missingEnvelope(now + this.#jittered(this.#negativeTtlMs))
          : valueEnvelope(value, now + this.#jittered(this.#ttlMs), this.#staleMs);
      await this.#redis.set(redisKey, JSON.stringify(envelope), 'PX', envelope.staleUntil - now);
    } catch (error) {
      this.#report(error, 'write', key);
    }
  }

  /** `ttlMs` shortened by up to `jitter` of it, at random, in whole milliseconds (at least 1). */
  #jittered(ttlMs: number): number {
    return Math.ceil(ttlMs * (1 - this.#jitter * this.#random()));
  }

  #report(error: unknown, stage: CacheErrorStage, key: string): void {
    try {
      this.#onError?.(error, stage, key);
    } catch {
      // A broken error handler must not break the get it reports on.
    }
  }
}

function valueEnvelope<V>(value: V, freshUntil: number, staleMs: number): CacheEnvelope<V> {
  return { value, freshUntil, staleUntil: freshUntil + staleMs };
}

function missingEnvelope<V>(freshUntil: number): CacheEnvelope<V> {
  return { missing: true, freshUntil, staleUntil: freshUntil };
}

/** The envelope in `stored`, or undefined when it is not JSON or not shaped like one. */
function parseEnvelope<V>(stored: string): CacheEnvelope<V> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const entry = parsed as Record<string, unknown>;
  if (!Number.isFinite(entry.freshUntil) || !Number.isFinite(entry.staleUntil)) return undefined;
  if (!('value' in entry) && entry.missing !== true) return undefined;
  return entry as unknown as CacheEnvelope<V>;
}

function integerAtLeast(name: string, value: number, min: number): number {
  if (!(Number.isSafeInteger(value) && value >= min)) {
    const kind = min > 0 ? 'a positive' : 'a non-negative';
    throw new RangeError(`${name} must be ${kind} integer number of milliseconds, got ${value}`);
  }
  return value;
}
