/**
 * A two-level cache for several app servers. Each process keeps hot values in its own memory (L1,
 * an LRU with a short TTL: `l1-cache.ts`, given) in front of one Redis that all of them share (L2).
 * A read tries L1, then L2, then the loader (the database, say). A write goes to L2 and to the
 * writer's L1, and tells every other instance over Redis pub/sub to drop its L1 copy: instances
 * send invalidations, never values, and read the new value from L2 when next asked.
 *
 * Redis keys and channels this module owns:
 *
 * - `<prefix><key>`: a hash for one cache key, with two fields.
 *   - `value`: the value as JSON text. A delete removes it and leaves the hash as a tombstone.
 *   - `version`: an integer that every `set` and `delete` of the key increments (absent means 0).
 *     It is how a slow loader's fill of L2 knows it is too late: the fill writes `value` only if
 *     `version` is still what the read that missed saw, so it never overwrites a newer set nor
 *     brings back a deleted key (Facebook's memcache leases, NSDI 2013, §3.2.1, do the same job).
 *     That is also why a delete keeps the hash: without the version, a fill that began before the
 *     delete would find "no version" again and resurrect the value.
 *   The hash expires `l2TtlMs` after its last write: a set, a delete or a fill.
 * - channel `<channel>`: one message per successful set or delete, JSON
 *   `{"origin": <instanceId of the writer>, "key": <key>, "version": <the new version>}`. It is
 *   published only once the L2 write has succeeded, and never when it failed.
 *
 * The module never closes the two connections it is given: they belong to the caller.
 *
 * Consistency: every instance sees a set or delete as soon as the invalidation reaches it (about a
 * millisecond on one machine). While the subscriber connection is down a peer's write can go
 * unseen, so an L1 copy may then be stale, for at most `l1.ttlMs`; once the subscriber is back, the
 * whole L1 is dropped.
 */
import type { Redis } from 'ioredis';
import type { Clock } from './l1-cache.js';

export type { Clock };

/** Produces the value of `key` on a full miss; undefined means "there is no such value". */
export type Loader<V> = (key: string) => Promise<V | undefined>;

export interface TwoLevelCacheOptions {
  /**
   * The connection for L2 commands and publishing. Create it with `enableOfflineQueue: false` (and
   * a low `maxRetriesPerRequest`), so that a command fails at once while Redis is away instead of
   * waiting in ioredis' queue: the cache then answers from L1 or the loader.
   */
  readonly redis: Redis;
  /**
   * A connection of its own for SUBSCRIBE (a subscribed connection can send no other command),
   * connected or connecting. It may carry other channels too; only `channel` is this cache's.
   */
  readonly subscriber: Redis;
  /** The pub/sub channel of invalidations, the same for every instance of one cache: non-empty. */
  readonly channel: string;
  /** The start of every L2 key (may be empty); instances that share values share it. */
  readonly prefix: string;
  readonly l1: {
    /** The most entries L1 keeps (least recently used go first): a positive integer. */
    readonly maxEntries: number;
    /**
     * How long a value stays in L1, in ms: a positive finite number. A value put there at time t
     * (on `clock`) is served before t + ttlMs, and not from then on.
     */
    readonly ttlMs: number;
  };
  /** The TTL of L2 entries (and tombstones), in whole milliseconds: a positive integer. */
  readonly l2TtlMs: number;
  /**
   * This instance's id, the `origin` of its invalidations: a non-empty string. Default: a random
   * UUID, different for every cache created (several instances may share one process, so the
   * process id would not do).
   */
  readonly instanceId?: string;
  /** The time for L1's TTL, in ms. Default: `Date`. */
  readonly clock?: Clock;
}

/** One instance of the cache. Values are JSON: what `JSON.stringify` can write. */
export interface TwoLevelCache<V> {
  /** The `origin` of this instance's invalidations. */
  readonly instanceId: string;

  /**
   * Reads `key`: from L1 when it holds a fresh copy, without any Redis command; else from L2 (one
   * read), copying a value found there into L1; else from `loader(key)`, whose value is written to
   * L2 (the conditional fill of the header) and then to L1. Without a loader, an L2 miss resolves
   * undefined.
   *
   * - **Single flight**: gets of one key that arrive while its lookup is under way share it: one L2
   *   read, one loader call, one fill, however many callers; the first call's loader is the one
   *   used. Gets of other keys never wait for it.
   * - **Not found**: a loader that resolves undefined makes get resolve undefined, and nothing is
   *   cached. `null`, `0`, `''` and `false` are values like any other: cached and returned as such.
   * - **Failures**: a loader that rejects (or throws) rejects every caller of the lookup with its
   *   error, and nothing is cached: the next get calls the loader again.
   * - **Races**: when `key` is invalidated while its lookup is under way (by a set or delete on this
   *   instance, or a peer's invalidation), the callers still get the lookup's value, but it is not
   *   put into L1, and a get that starts after the invalidation starts a lookup of its own. The
   *   loader's fill of L2 never overwrites a newer set nor brings back a deleted key, and a loaded
   *   value that the fill finds too late is not put into L1 either (its invalidation may be lost).
   * - **Redis away**: a failed L2 read counts as a miss: the loader answers (without a loader, get
   *   rejects with Redis' error), its value goes into L1 but not into L2 (without the version, the
   *   fill could not be conditional), and a failed fill is ignored. L1 keeps serving fresh copies
   *   and never an expired one, so nothing is served more than `l1.ttlMs` after it was put in L1.
   * - **Copies**: every call resolves a fresh copy, as `JSON.parse(JSON.stringify(value))` would
   *   give it, from L1 as from L2 (a `Date` comes back as a string on every instance); changing it
   *   changes nothing in the cache.
   * @throws {TypeError} (as a rejection) when the loader's value has no JSON text (a function)
   * @throws {CacheClosedError} (as a rejection) after {@link close}
   */
  get(key: string, loader?: Loader<V>): Promise<V | undefined>;

  /**
   * Writes `value` for `key`: to L2 (the value, a new version, TTL `l2TtlMs`), then publishes the
   * invalidation so that every other instance drops its L1 copy, and puts the value into this
   * instance's L1 (so a get here right after is an L1 hit), unless a peer's invalidation of `key`
   * arrived while the write was under way (that peer wrote later: its value wins). Resolves when all
   * of it is done. Lookups of `key` under way on this instance are invalidated (see {@link get}).
   *
   * When the L2 write fails: rejects with Redis' error, publishes nothing, and this instance's L1
   * drops `key` (whether the write reached Redis is unknown); the new value is not put into L1.
   * @throws {TypeError} (as a rejection) when `value` has no JSON text (undefined, a function), and
   *   `JSON.stringify`'s own TypeErrors (a BigInt, a cycle); nothing is written or published
   * @throws {CacheClosedError} (as a rejection) after {@link close}
   */
  set(key: string, value: V): Promise<void>;

  /**
   * Forgets `key` everywhere: drops it from this instance's L1, turns its L2 entry into a tombstone
   * (value removed, version incremented, TTL `l2TtlMs`) and publishes the invalidation. Lookups
   * under way are invalidated. When the L2 write fails: rejects with Redis' error and publishes
   * nothing (L1 has dropped the key all the same).
   * @throws {CacheClosedError} (as a rejection) after {@link close}
   */
  delete(key: string): Promise<void>;

  /**
   * Stops listening: removes every listener the cache added to the subscriber, unsubscribes from
   * `channel` (and no other channel), and empties L1. Resolves even when the UNSUBSCRIBE fails
   * because Redis is away (the subscription then ends with the connection); a second call does
   * nothing. Does not close the connections. Afterwards, get, set and delete reject with
   * {@link CacheClosedError}.
   */
  close(): Promise<void>;
}

/** The rejection of get, set or delete on a closed cache. */
export class CacheClosedError extends Error {
  readonly code = 'CACHE_CLOSED';
  override readonly name = 'CacheClosedError';

  constructor() {
    super('this two-level cache is closed: it no longer hears invalidations, so create a new one');
  }
}

/**
 * Creates one instance of the cache and subscribes it to `channel`; resolves once subscribed.
 *
 * Invalidations: a message on `channel` from another instance (its `origin` differs from this
 * instance's id) drops its `key` from L1 and invalidates the key's lookups under way; the instance
 * publishes nothing in return and leaves L2 alone (the writer has written it). Messages whose
 * `origin` is this instance's own are ignored. A message on `channel` that is not JSON with a
 * string `key` drops all of L1: when in doubt, forget. Messages on the subscriber's other channels
 * are none of the cache's business.
 *
 * Reconnects: pub/sub keeps no message for a subscriber that is away, so whenever the subscriber
 * connection is ready again (ioredis' `'ready'` event), the cache subscribes again and, once
 * subscribed, drops all of L1 and invalidates every lookup under way (the Redis docs' "Client-side
 * caching" page asks the same of a client whose invalidation connection dropped).
 *
 * @throws {RangeError} (as a rejection) naming the option and its value, when `l1.maxEntries` or
 *   `l2TtlMs` is not a positive integer, or `l1.ttlMs` is not a positive finite number
 * @throws {TypeError} (as a rejection) naming the option, when `channel` or `instanceId` is not a
 *   non-empty string, or `prefix` is not a string
 * @throws Redis' error (as a rejection) when the subscriber cannot subscribe; no listener is left
 *   behind
 */
export async function createTwoLevelCache<V>(options: TwoLevelCacheOptions): Promise<TwoLevelCache<V>> {
  throw new Error(
    'createTwoLevelCache() is not implemented yet: open exercises/06-caching/two-level-cache/two-level-cache.ts',
  );
}
