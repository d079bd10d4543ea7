/**
 * A projection runner: it reads the global log in batches and applies each event to a read model in
 * Redis, so that every event is applied **exactly once** however the runner crashes, stalls or is
 * replaced.
 *
 * Three rules make that true (keys as in `keys.ts`):
 *
 * 1. **The checkpoint commits with the read model.** One batch = the events after the checkpoint,
 *    then ONE MULTI/EXEC holding every write the projection queued for them and
 *    `SET <prefix>:checkpoint <last position>`. A crash before EXEC applies nothing; after it, all.
 *    (Saved in a second command, a crash between the two applies the batch twice on restart.)
 * 2. **One writer per version, by lease.** `<prefix>:lease` holds the owner id of the runner allowed
 *    to apply, with a TTL of `leaseMs` (Redis's clock). A runner claims it when it is free and renews
 *    it at every batch, by compare-and-set in one Lua script: only the owner renews.
 * 3. **Fencing.** The runner WATCHes the checkpoint and the lease before it reads the batch: if
 *    another runner takes the lease or moves the checkpoint meanwhile (this one stalled past its
 *    lease: a GC pause, a stopped VM), EXEC aborts, nothing is applied and the stalled runner gets
 *    {@link LeaseLostError}. A lease alone is not enough: its holder cannot know it has expired.
 *
 * The same commit sets `<ns>:proj:<name>:active` to this version if no version is active yet, and
 * publishes `{"version","position"}` on the projection's channel (inside the transaction, so a commit
 * that did not happen is never announced). {@link ProjectionRunner.rebuild} builds a version from
 * zero beside the active one and then points the alias at it (blue-green).
 *
 * The runner sends WATCH/MULTI on the connection it is given: that connection must not be shared
 * with other code that uses transactions. Positions are plain `number`s (safe integers).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Projection } from './account-summary.js';
import { readAll } from './event-log.js';
import { keysUnder, type ProjectionKeys, projectionKeys } from './keys.js';

export type { Projection };

/** What the runner reads the time from, in ms. */
export interface Clock {
  now(): number;
}

export interface ProjectionRunnerOptions {
  /** The runner's connection (WATCH/MULTI are per connection: do not share it). Caller-owned. */
  readonly redis: Redis;
  /** The namespace of the log and of every key: a non-empty string. */
  readonly namespace: string;
  /** The projection; its `name` is a non-empty string without `:`, its `version` a positive safe integer. */
  readonly projection: Projection;
  /** Most events per batch (one transaction): a positive safe integer. Default 100. */
  readonly batchSize?: number;
  /** How long a claim or renewal of the lease lasts, in ms: a positive safe integer. */
  readonly leaseMs: number;
  /** How long {@link ProjectionRunner.start}'s loop waits after an empty batch, in ms: a positive safe integer. Default 100. */
  readonly pollMs?: number;
  /** Default `Date`. Measures how long a batch has held the lease (see {@link ProjectionRunner.runOnce}). */
  readonly clock?: Clock;
  /** This runner's lease owner id: a non-empty string. Default: host, pid and a random UUID. */
  readonly owner?: string;
}

export interface ProjectionRunner {
  /** The owner id this runner writes into the lease. */
  readonly owner: string;
  /**
   * Applies one batch, and resolves how many events it applied (0: nothing new, or another runner
   * holds the lease and this one stands by). Steps: claim or renew the lease (when another owner
   * holds it: resolve 0, apply nothing); WATCH checkpoint and lease; read at most `batchSize` events
   * with a position greater than the checkpoint; `await projection.apply(event, tx, prefix)` for each
   * on one MULTI; then EXEC with the new checkpoint (the last event's position), the lease renewal
   * (PEXPIRE), the active alias (SET NX) and the publish.
   * Calls on one runner (runOnce, rebuild, the start loop) run one at a time, in call order.
   * @throws {LeaseLostError} when EXEC aborts (the lease or the checkpoint changed since WATCH), or
   *   when `leaseMs` or more passed on the clock between the claim and the commit (the lease may have
   *   run out: the batch is not committed). Nothing of the batch is applied.
   * @throws whatever `apply` throws (nothing of the batch is applied; the checkpoint stays)
   * @throws the error Redis gave one of the transaction's commands (a `WRONGTYPE` …): EXEC does not
   *   roll back, so the batch's other writes and its checkpoint are in, and the caller must hear of it
   */
  runOnce(): Promise<number>;
  /**
   * Runs batches until {@link stop}: a batch that applied nothing is followed by a pause of `pollMs`.
   * Resolves when stopped; rejects with the error that ended the loop (a {@link LeaseLostError}, an
   * error of `apply`, a Redis error), after which the loop is over. Once it is over, `start()` may be
   * called again.
   * @throws {Error} (synchronously) when the loop is already running
   */
  start(): Promise<void>;
  /**
   * Ends the loop (waits for the batch in progress) and releases the lease if this runner holds it
   * (compare-and-delete), so a successor takes over at once. A second call does nothing more.
   */
  stop(): Promise<void>;
  /** This version's checkpoint: the position of the last event applied (0: none yet). */
  position(): Promise<number>;
  /**
   * Builds this projection's version from position 0 beside the active one: deletes every key of
   * this version except the lease, applies batches (as runOnce) until the log is read to its end,
   * then points `<ns>:proj:<name>:active` at this version in one transaction guarded by the lease.
   * Readers see the old version until that moment, and the complete new one after it. Always starts
   * from 0. The old version's keys stay: drop them with {@link dropVersion}.
   * @throws {ActiveVersionError} when this version is the active one (bump the version to rebuild)
   * @throws {LeaseHeldError} when another runner holds this version's lease
   * @throws {LeaseLostError} when the lease is lost during the rebuild (the alias is not moved)
   */
  rebuild(): Promise<void>;
  /**
   * Deletes every key of version `version` of this projection (`<ns>:proj:<name>:v<version>:*`) and
   * resolves how many it deleted.
   * @throws {RangeError} (as a rejection) naming `version` and its value, when it is not a positive safe integer
   * @throws {ActiveVersionError} when `version` is the active one
   */
  dropVersion(version: number): Promise<number>;
}

/** This runner's commit was fenced off: another runner owns the lease now, or the lease ran out. */
export class LeaseLostError extends Error {
  readonly code = 'ELEASELOST';
  override readonly name = 'LeaseLostError';

  constructor(
    readonly owner: string,
    reason: string,
  ) {
    super(`runner ${owner} lost the lease (${reason}): the batch was not applied; another runner goes on`);
  }
}

/** Another runner holds the lease of the version this runner was asked to rebuild. */
export class LeaseHeldError extends Error {
  readonly code = 'ELEASEHELD';
  override readonly name = 'LeaseHeldError';

  constructor(readonly holder: string) {
    super(`the lease is held by ${holder}: stop that runner, or wait for its lease to run out`);
  }
}

/** A rebuild or drop of the version that queries read right now. */
export class ActiveVersionError extends Error {
  readonly code = 'EACTIVEVERSION';
  override readonly name = 'ActiveVersionError';

  constructor(readonly version: number) {
    super(`version ${version} is the active one: build a new version and switch to it instead`);
  }
}

/**
 * Creates a runner; nothing runs until {@link ProjectionRunner.runOnce}, `start` or `rebuild`.
 * @throws {TypeError} naming the option and its value, when `namespace`, `projection.name` or `owner`
 *   is not a non-empty string (or the name contains `:`), or `projection.apply` is not a function
 * @throws {RangeError} naming the option and its value, when `projection.version`, `batchSize`,
 *   `leaseMs` or `pollMs` is not a positive safe integer
 */
export function createProjectionRunner(options: ProjectionRunnerOptions): ProjectionRunner {
  validate(options);
  return new RedisProjectionRunner(options);
}

// Claims the lease when free, renews it when this owner holds it. KEYS[1] lease.
// ARGV: [1] owner, [2] leaseMs. Returns 1 on success, else the holder's id.
const CLAIM = `
  local holder = redis.call('GET', KEYS[1])
  if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
  if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
  return holder`;

// Deletes the lease only if this owner holds it. KEYS[1] lease, ARGV[1] owner.
const RELEASE = `
  if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
  return 0`;

class RedisProjectionRunner implements ProjectionRunner {
  readonly owner: string;
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #projection: Projection;
  readonly #keys: ProjectionKeys;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #clock: Clock;
  #queue: Promise<unknown> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: ProjectionRunnerOptions) {
    this.#redis = options.redis;
    this.#namespace = options.namespace;
    this.#projection = options.projection;
    this.#keys = projectionKeys(options.namespace, options.projection.name, options.projection.version);
    this.#batchSize = options.batchSize ?? 100;
    this.#leaseMs = options.leaseMs;
    this.#pollMs = options.pollMs ?? 100;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID()}`;
  }

  runOnce(): Promise<number> {
    return this.#exclusive(() => this.#batch());
  }

  start(): Promise<void> {
    if (this.#loop) throw new Error('this projection runner is already started: stop() it first');
    this.#stopping = false;
    const loop = (async () => {
      while (!this.#stopping) {
        const applied = await this.runOnce();
        if (applied === 0 && !this.#stopping) await this.#pause();
      }
    })();
    this.#loop = loop;
    return loop.finally(() => {
      if (this.#loop === loop) this.#loop = undefined;
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop?.catch(() => {});
    await this.#exclusive(() => this.#redis.eval(RELEASE, 1, this.#keys.lease, this.owner));
  }

  async position(): Promise<number> {
    return Number((await this.#redis.get(this.#keys.checkpoint)) ?? 0);
  }

  rebuild(): Promise<void> {
    return this.#exclusive(async () => {
      const version = this.#projection.version;
      if ((await this.#redis.get(this.#keys.active)) === String(version))
        throw new ActiveVersionError(version);
      const holder = await this.#claim();
      if (holder !== undefined) throw new LeaseHeldError(holder);
      await this.#deleteUnder(this.#keys.prefix, this.#keys.lease);
      while ((await this.#batch()) > 0) {
        // each batch commits with its checkpoint; loop until the log is read to its end
      }
      await this.#activate();
    });
  }

  dropVersion(version: number): Promise<number> {
    return this.#exclusive(async () => {
      positiveInteger('version', version);
      const keys = projectionKeys(this.#namespace, this.#projection.name, version);
      if ((await this.#redis.get(keys.active)) === String(version)) throw new ActiveVersionError(version);
      return this.#deleteUnder(keys.prefix);
    });
  }

  /** One batch; see runOnce. */
  async #batch(): Promise<number> {
    const keys = this.#keys;
    const holder = await this.#claim();
    if (holder !== undefined) return 0; // another runner applies; this one stands by
    const claimedAt = this.#clock.now();
    await this.#redis.watch(keys.checkpoint, keys.lease);
    let committing = false;
    try {
      const after = Number((await this.#redis.get(keys.checkpoint)) ?? 0);
      const events = await readAll(this.#redis, this.#namespace, after, this.#batchSize);
      const last = events.at(-1);
      if (!last) return 0;
      const tx = this.#redis.multi();
      for (const event of events) await this.#projection.apply(event, tx, keys.prefix);
      if (this.#clock.now() - claimedAt >= this.#leaseMs) {
        throw new LeaseLostError(this.owner, `the batch took ${this.#leaseMs} ms or more`);
      }
      const version = String(this.#projection.version);
      tx.set(keys.checkpoint, String(last.position))
        .pexpire(keys.lease, this.#leaseMs)
        .set(keys.active, version, 'NX')
        .publish(
          keys.channel,
          JSON.stringify({ version: this.#projection.version, position: last.position }),
        );
      committing = true;
      const results = await tx.exec();
      if (results === null) throw new LeaseLostError(this.owner, 'the lease or the checkpoint changed');
      for (const [error] of results) if (error) throw error;
      return events.length;
    } finally {
      if (!committing) await this.#redis.unwatch();
    }
  }

  /** Points the alias at this version, if this runner still holds the lease. */
  async #activate(): Promise<void> {
    const keys = this.#keys;
    await this.#redis.watch(keys.lease);
    if ((await this.#redis.get(keys.lease)) !== this.owner) {
      await this.#redis.unwatch();
      throw new LeaseLostError(this.owner, 'before the switch to the rebuilt version');
    }
    const position = await this.position();
    const results = await this.#redis
      .multi()
      .set(keys.active, String(this.#projection.version))
      .publish(keys.channel, JSON.stringify({ version: this.#projection.version, position }))
      .exec();
    if (results === null) throw new LeaseLostError(this.owner, 'before the switch to the rebuilt version');
  }

  /** Claims or renews the lease: `undefined` when this runner holds it, else the holder's id. */
  async #claim(): Promise<string | undefined> {
    const result = await this.#redis.eval(CLAIM, 1, this.#keys.lease, this.owner, this.#leaseMs);
    return result === 1 ? undefined : String(result);
  }

  /** Deletes every key under `prefix` but `keep`; resolves how many. */
  async #deleteUnder(prefix: string, keep?: string): Promise<number> {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', keysUnder(prefix), 'COUNT', 1000);
      const doomed = batch.filter((key) => key !== keep);
      if (doomed.length > 0) deleted += await this.#redis.unlink(...doomed);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  }

  #pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** Runs `work` after every call queued before it (one WATCH/MULTI at a time on the connection). */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }
}

function validate(options: ProjectionRunnerOptions): void {
  nonEmpty('namespace', options.namespace);
  const projection = options.projection;
  nonEmpty('projection.name', projection?.name);
  if (projection.name.includes(':')) {
    throw new TypeError(`projection.name must not contain ':' (got ${JSON.stringify(projection.name)})`);
  }
  if (typeof projection.apply !== 'function') {
    throw new TypeError(`projection.apply must be a function (got ${String(projection.apply)})`);
  }
  positiveInteger('projection.version', projection.version);
  if (options.batchSize !== undefined) positiveInteger('batchSize', options.batchSize);
  positiveInteger('leaseMs', options.leaseMs);
  if (options.pollMs !== undefined) positiveInteger('pollMs', options.pollMs);
  if (options.owner !== undefined) nonEmpty('owner', options.owner);
}

function nonEmpty(option: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(
      `${option} must be a non-empty string (got ${JSON.stringify(value) ?? String(value)})`,
    );
  }
}

function positiveInteger(option: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${option} must be a positive safe integer (got ${String(value)})`);
  }
}
