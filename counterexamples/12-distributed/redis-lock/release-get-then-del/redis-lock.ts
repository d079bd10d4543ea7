/**
 * A lock on a single Redis instance, done right, and the fencing that makes it safe to use.
 *
 * Redis keys this module owns (`<p>` is the `prefix` option):
 *
 * - `<p>held:<resource>`: the lock itself, a string holding the current lease's token, created with
 *   `SET ... NX PX <ttl>` so that it exists only while a lease holds it and always has an expiry.
 *   Whoever holds the token may delete it (`release`) or renew its expiry (`extend`); nobody else.
 * - `<p>fence:<resource>`: the resource's fencing counter, a plain integer with no expiry. The acquire
 *   script bumps it (`INCR`) only when the `SET NX` succeeded, so a failed acquire burns no number:
 *   the leases of one resource carry 1, 2, 3 … in the order they were granted. It must outlive the
 *   lock key (a release or an expiry must not restart the sequence at 1), so it is a key of its own.
 * - `<p><key>` (the `FencedStore`, with its own prefix): a hash `{ value, fence }`, the data the lock
 *   protects, and the highest fence the store has accepted for it.
 *
 * **The clock is Redis's.** `PX` is measured by the server, from the moment it runs the script. The
 * client cannot know precisely when its lease ends (the request and the reply both take time, and its
 * own process may pause for any length of time), so a {@link Lease} carries no expiry time.
 *
 * **The TTL is the safety bound, fencing is the safety.** A holder must finish (or `extend`) before
 * its TTL runs out; after that, another client may hold the lock. A holder that pauses (a GC pause, a
 * swapped-out page, a slow network) cannot notice that it has lost the lock, so checking "do I still
 * hold it?" before writing is not enough. Instead every lease carries a fence, and the resource
 * ({@link FencedStore}) refuses a write whose fence is lower than one it has already accepted
 * (Kleppmann, "How to do distributed locking", 2016). The store only needs the fences to increase with
 * each grant, not to be gap-free: it compares them, it never counts them.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A granted lock: what the holder keeps, and shows to release, extend, and the fenced resource. */
export interface Lease {
  /** The resource that was locked, as passed to {@link RedisLock.acquire}. */
  readonly resource: string;
  /** This lease's token, stored as the lock key's value: no other lease has had the same token. */
  readonly token: string;
  /**
   * The fencing token: the resource's counter after this grant. The first grant of a resource carries
   * 1 and each later successful grant exactly one more, across every client and process that shares
   * the Redis and the prefix. Releases and expiries do not reset it; extends do not change it.
   */
  readonly fence: number;
}

export interface RedisLockOptions {
  /** Prepended to every key this lock uses (default `'lock:'`). */
  prefix?: string;
  /** The source of lease tokens, called once per acquire (default `crypto.randomUUID`). */
  random?: () => string;
}

export interface FencedStoreOptions {
  /** Prepended to every key the store uses (default `'fenced:'`). */
  prefix?: string;
}

/** A value in a {@link FencedStore}, and the fence of the write that stored it. */
export interface Fenced {
  readonly value: string;
  readonly fence: number;
}

/**
 * Takes `SET NX PX` and the fence `INCR` together: a client that dies between two separate commands
 * would leave a lock without an expiry, and a client paused between them would take a fence after a
 * later holder's. Returns the new fence, or 0 when the lock is held.
 */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0`;

/** Sets a new expiry only if the lock still holds this token. 1 if it did, 0 if not. */
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** Stores the value unless the key has accepted a higher fence. 1 if it stored it, 0 if stale. */
const WRITE = `
local highest = tonumber(redis.call('HGET', KEYS[1], 'fence'))
if highest and tonumber(ARGV[2]) < highest then
  return 0
end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'fence', ARGV[2])
return 1`;

/**
 * A Lua script sent as EVALSHA, and as EVAL when Redis answers NOSCRIPT (it has not seen it since it
 * started, or its script cache was flushed). This is what ioredis's `defineCommand` does, without
 * adding a method to a connection the caller owns.
 */
class Script {
  readonly #lua: string;
  readonly #sha: string;

  constructor(lua: string) {
    this.#lua = lua;
    this.#sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<number> {
    try {
      return Number(await redis.evalsha(this.#sha, keys.length, ...keys, ...args));
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return Number(await redis.eval(this.#lua, keys.length, ...keys, ...args));
    }
  }
}

const acquireScript = new Script(ACQUIRE);
const extendScript = new Script(EXTEND);
const writeScript = new Script(WRITE);

/**
 * A lock per resource name on one Redis instance (the single-instance algorithm of the Redis docs,
 * "Distributed Locks with Redis"), with a fencing token on every grant. Many `RedisLock`s, in one
 * process or many, share locks when they share the Redis database and the prefix.
 *
 * Each of `acquire`, `release` and `extend` sends one Lua script to Redis and no other command
 * (`EVALSHA`, followed by `EVAL` when Redis answers `NOSCRIPT`), so no other client and no crash can
 * come between its steps.
 */
export class RedisLock {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #random: () => string;

  constructor(redis: Redis, options: RedisLockOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? 'lock:';
    this.#random = options.random ?? randomUUID;
  }

  /**
   * Takes the lock on `resource` for `ttlMs` milliseconds of Redis's clock, if nobody holds it.
   *
   * One Lua script (`SET <p>held:<resource> <token> NX PX <ttlMs>`, then `INCR <p>fence:<resource>`
   * only if the `SET` succeeded), so the lock key never exists without an expiry and fences follow the
   * order of grants, whatever happens to this client between commands.
   *
   * @returns the lease, or `null` when another lease holds the lock (nothing is changed then: the
   *   fence counter is not bumped). Does not wait or retry.
   * @throws RangeError, naming the value, when `resource` is not a non-empty string or `ttlMs` is not
   *   a positive safe integer; nothing is sent to Redis then.
   */
  async acquire(resource: string, ttlMs: number): Promise<Lease | null> {
    checkResource(resource);
    checkTtl(ttlMs);
    const token = this.#random();
    const fence = await acquireScript.run(this.#redis, this.#keys(resource), [token, ttlMs]);
    return fence > 0 ? { resource, token, fence } : null;
  }

  /**
   * Deletes the lock if, and only if, it still holds this lease's token (one Lua script: a `GET`
   * followed by a `DEL` could delete the lock of whoever took it after this lease expired).
   *
   * @returns `true` if it deleted the lock; `false` if the lease had expired, was released already,
   *   or was never this lock's (another token): then nothing is changed.
   */
  async release(lease: Lease): Promise<boolean> {
    const [held] = this.#keys(lease.resource);
    if ((await this.#redis.get(held)) !== lease.token) return false; // not ours (any more)
    return (await this.#redis.del(held)) === 1;
  }

  /**
   * Sets the lock to expire `ttlMs` milliseconds from now (Redis's clock; a new TTL, not one added to
   * what is left) if, and only if, it still holds this lease's token (one Lua script). The lease keeps
   * its fence: an extension is not a new grant.
   *
   * @returns `true` if it extended the lock; `false` if the lease had expired, was released, or was
   *   never this lock's: then nothing is changed. An expired lease cannot be revived.
   * @throws RangeError, naming the value, when `ttlMs` is not a positive safe integer.
   */
  async extend(lease: Lease, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    return (await extendScript.run(this.#redis, this.#keys(lease.resource), [lease.token, ttlMs])) === 1;
  }

  #keys(resource: string): [held: string, fence: string] {
    return [`${this.#prefix}held:${resource}`, `${this.#prefix}fence:${resource}`];
  }
}

/**
 * The storage service of Kleppmann's figure: it remembers, per key, the highest fence it has accepted,
 * and refuses a write that comes with a lower one. That check, not the lock's TTL, is what keeps a
 * holder that paused past its TTL from overwriting the work of the lease granted after it.
 */
export class FencedStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, options: FencedStoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? 'fenced:';
  }

  /**
   * Stores `value` under `key` unless the key has already accepted a write with a higher fence: the
   * check and the write are one Lua script (and no other command), so two concurrent writers cannot both pass a check that
   * only one of them should.
   *
   * A fence **equal** to the highest is accepted: it is the same lease writing again (a holder may
   * write several times), and a later lease always carries a higher fence.
   *
   * @returns `'ok'` when stored (and the key's fence is now `fence`), `'stale'` when refused (nothing
   *   is changed).
   * @throws RangeError, naming the value, when `fence` is not a positive safe integer.
   */
  async write(key: string, value: string, fence: number): Promise<'ok' | 'stale'> {
    if (!Number.isSafeInteger(fence) || fence < 1) {
      throw new RangeError(`fence must be a positive safe integer (a lease's fence), got ${fence}`);
    }
    const stored = await writeScript.run(this.#redis, [this.#prefix + key], [value, fence]);
    return stored === 1 ? 'ok' : 'stale';
  }

  /** The value last stored under `key` and its fence, or `null` if nothing was ever stored there. */
  async read(key: string): Promise<Fenced | null> {
    const [value, fence] = await this.#redis.hmget(this.#prefix + key, 'value', 'fence');
    return typeof value === 'string' && typeof fence === 'string' ? { value, fence: Number(fence) } : null;
  }
}

function checkResource(resource: string): void {
  if (typeof resource !== 'string' || resource === '') {
    throw new RangeError(`resource must be a non-empty string, got ${JSON.stringify(resource)}`);
  }
}

function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw new RangeError(`ttlMs must be a positive safe integer (milliseconds), got ${ttlMs}`);
  }
}
