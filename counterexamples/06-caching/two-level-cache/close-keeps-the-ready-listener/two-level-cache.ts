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
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Clock, L1Cache } from './l1-cache.js';

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
  validate(options);
  const cache = new RedisBackedTwoLevelCache<V>(options);
  await cache.start();
  return cache;
}

// One script per write, so that checking, writing, expiring and publishing happen as one step:
// nothing can come between them, and a write that fails publishes nothing. EVAL sends the script
// every time (a few hundred bytes); ioredis' defineCommand would send its SHA instead, but it adds
// methods to the caller's connection.
const SCRIPTS = {
  /** KEYS: entry. ARGV: JSON, ttl ms, channel, origin, key. Returns the new version. */
  set: `
    local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
    redis.call('HSET', KEYS[1], 'value', ARGV[1])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('PUBLISH', ARGV[3], cjson.encode({ origin = ARGV[4], key = ARGV[5], version = version }))
    return version`,
  /** KEYS: entry. ARGV: ttl ms, channel, origin, key. Returns the new version. */
  delete: `
    local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
    redis.call('HDEL', KEYS[1], 'value')
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    redis.call('PUBLISH', ARGV[2], cjson.encode({ origin = ARGV[3], key = ARGV[4], version = version }))
    return version`,
  /** KEYS: entry. ARGV: the version the miss saw, JSON, ttl ms. Returns 1 if written, 0 if too late. */
  fill: `
    if (redis.call('HGET', KEYS[1], 'version') or '0') ~= ARGV[1] then return 0 end
    redis.call('HSET', KEYS[1], 'value', ARGV[2])
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1`,
};

/** Work under way that may put a value into L1 when it ends; an invalidation of its key voids it. */
interface Claim {
  void: boolean;
}

/** A lookup that gets of one key share: the JSON text it found or loaded (undefined: none). */
type Lookup = Promise<string | undefined>;

class RedisBackedTwoLevelCache<V> implements TwoLevelCache<V> {
  readonly instanceId: string;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #prefix: string;
  readonly #l2TtlMs: number;
  /** L1 keeps JSON text, so that every get can hand out a fresh copy. */
  readonly #l1: L1Cache<string>;
  readonly #lookups = new Map<string, Lookup>();
  readonly #claims = new Map<string, Set<Claim>>();
  #closed = false;

  constructor(options: TwoLevelCacheOptions) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.#redis = options.redis;
    this.#subscriber = options.subscriber;
    this.#channel = options.channel;
    this.#prefix = options.prefix;
    this.#l2TtlMs = options.l2TtlMs;
    this.#l1 = new L1Cache({ ...options.l1, clock: options.clock ?? Date });
  }

  /** Subscribes, and only then listens: a failed start leaves no listener behind. */
  async start(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel);
    this.#subscriber.on('message', this.#onMessage);
    this.#subscriber.on('ready', this.#onReady);
  }

  async get(key: string, loader?: Loader<V>): Promise<V | undefined> {
    this.#assertOpen();
    const json = this.#l1.get(key) ?? (await (this.#lookups.get(key) ?? this.#startLookup(key, loader)));
    return json === undefined ? undefined : (JSON.parse(json) as V);
  }

  async set(key: string, value: V): Promise<void> {
    this.#assertOpen();
    const json = toJson(value, 'set');
    this.#invalidate(key); // whatever is under way read the value this write replaces
    const claim = this.#claim(key);
    try {
      await this.#redis.eval(
        SCRIPTS.set,
        1,
        this.#l2Key(key),
        json,
        this.#l2TtlMs,
        this.#channel,
        this.instanceId,
        key,
      );
      this.#keepInL1(key, json, claim);
    } finally {
      this.#release(key, claim);
    }
  }

  async delete(key: string): Promise<void> {
    this.#assertOpen();
    this.#invalidate(key);
    await this.#redis.eval(
      SCRIPTS.delete,
      1,
      this.#l2Key(key),
      this.#l2TtlMs,
      this.#channel,
      this.instanceId,
      key,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscriber.off('message', this.#onMessage);
    this.#invalidateAll();
    await this.#subscriber.unsubscribe(this.#channel).catch(() => {}); // away: the subscription died with it
  }

  #startLookup(key: string, loader: Loader<V> | undefined): Lookup {
    const claim = this.#claim(key);
    const lookup: Lookup = this.#lookUp(key, loader, claim).finally(() => {
      this.#release(key, claim);
      if (this.#lookups.get(key) === lookup) this.#lookups.delete(key); // not a newer lookup's place
    });
    this.#lookups.set(key, lookup);
    return lookup;
  }

  /** L2, then the loader; returns the JSON text found or loaded, and fills what it may. */
  async #lookUp(key: string, loader: Loader<V> | undefined, claim: Claim): Promise<string | undefined> {
    let version: string | undefined; // stays undefined when L2 could not be read
    try {
      const [json, stored] = await this.#redis.hmget(this.#l2Key(key), 'value', 'version');
      if (typeof json === 'string') {
        this.#keepInL1(key, json, claim);
        return json;
      }
      version = stored ?? '0';
    } catch (error) {
      if (!loader) throw error; // nothing else could answer
    }
    if (!loader) return undefined;

    const loaded = await loader(key);
    if (loaded === undefined) return undefined;
    const json = toJson(loaded, 'the loader');
    if (version === undefined || (await this.#fillL2(key, version, json)) !== 'too late') {
      this.#keepInL1(key, json, claim);
    }
    return json;
  }

  /** Writes a loaded value to L2 unless a set or delete came after the read that missed. */
  async #fillL2(key: string, version: string, json: string): Promise<'filled' | 'too late' | 'failed'> {
    try {
      const filled = await this.#redis.eval(SCRIPTS.fill, 1, this.#l2Key(key), version, json, this.#l2TtlMs);
      return filled === 1 ? 'filled' : 'too late';
    } catch {
      return 'failed'; // the value was loaded all the same; L2 misses it, that is all
    }
  }

  readonly #onMessage = (channel: string, message: string): void => {
    if (channel !== this.#channel) return;
    const invalidation = parseInvalidation(message);
    if (invalidation === undefined) this.#invalidateAll();
    else if (invalidation.origin !== this.instanceId) this.#invalidate(invalidation.key);
  };

  /** The subscriber is back: messages sent while it was away are lost, so forget everything. */
  readonly #onReady = (): void => {
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        if (!this.#closed) this.#invalidateAll();
      },
      () => {}, // dropped again before it was subscribed: the next 'ready' tries again
    );
  };

  #claim(key: string): Claim {
    const claim: Claim = { void: false };
    const claims = this.#claims.get(key) ?? new Set<Claim>();
    this.#claims.set(key, claims.add(claim));
    return claim;
  }

  #release(key: string, claim: Claim): void {
    const claims = this.#claims.get(key);
    if (claims?.delete(claim) && claims.size === 0) this.#claims.delete(key);
  }

  #keepInL1(key: string, json: string, claim: Claim): void {
    if (!claim.void && !this.#closed) this.#l1.set(key, json);
  }

  /** Drops `key` from L1, voids the claims under way, and lets the next get start afresh. */
  #invalidate(key: string): void {
    this.#l1.delete(key);
    this.#lookups.delete(key);
    for (const claim of this.#claims.get(key) ?? []) claim.void = true;
    this.#claims.delete(key);
  }

  #invalidateAll(): void {
    this.#l1.clear();
    this.#lookups.clear();
    for (const claims of this.#claims.values()) for (const claim of claims) claim.void = true;
    this.#claims.clear();
  }

  #l2Key(key: string): string {
    return this.#prefix + key;
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError();
  }
}

/** The JSON text of a value to cache. */
function toJson(value: unknown, from: string): string {
  const json = JSON.stringify(value); // throws its own TypeError for a BigInt or a cycle
  if (json === undefined)
    throw new TypeError(`${from}: a cached value must have a JSON text (got ${typeof value})`);
  return json;
}

/** The message's origin and key, or undefined when it is not an invalidation this module wrote. */
function parseInvalidation(message: string): { origin: unknown; key: string } | undefined {
  let parsed: { origin?: unknown; key?: unknown } | null;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof parsed?.key !== 'string') return undefined; // a number or a string parses too, and has no key
  return { origin: parsed.origin, key: parsed.key };
}

function validate(options: TwoLevelCacheOptions): void {
  const { l1, l2TtlMs, channel, prefix, instanceId } = options;
  if (!Number.isInteger(l1.maxEntries) || l1.maxEntries <= 0)
    throw new RangeError(`l1.maxEntries must be a positive integer (got ${l1.maxEntries})`);
  if (!Number.isFinite(l1.ttlMs) || l1.ttlMs <= 0)
    throw new RangeError(`l1.ttlMs must be a positive finite number of milliseconds (got ${l1.ttlMs})`);
  if (!Number.isInteger(l2TtlMs) || l2TtlMs <= 0)
    throw new RangeError(`l2TtlMs must be a positive integer number of milliseconds (got ${l2TtlMs})`);
  if (typeof channel !== 'string' || channel === '')
    throw new TypeError(`channel must be a non-empty string (got ${JSON.stringify(channel)})`);
  if (typeof prefix !== 'string') throw new TypeError(`prefix must be a string (got ${typeof prefix})`);
  if (instanceId !== undefined && (typeof instanceId !== 'string' || instanceId === ''))
    throw new TypeError(`instanceId must be a non-empty string (got ${JSON.stringify(instanceId)})`);
}
