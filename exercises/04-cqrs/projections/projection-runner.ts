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
import type { Redis } from 'ioredis';
import type { Projection } from './account-summary.js';

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
  throw new Error(
    'createProjectionRunner() is not implemented yet: open exercises/04-cqrs/projections/projection-runner.ts',
  );
}
