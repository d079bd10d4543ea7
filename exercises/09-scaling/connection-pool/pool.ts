/**
 * A pool of expensive resources (database or Redis connections, TCP sockets, worker threads) that
 * lends them out one caller at a time and takes them back, so that a process pays for a TCP (and TLS)
 * handshake once per resource instead of once per request, and never opens more connections than
 * the server on the other side allows.
 *
 * **Slots, not objects.** The limit `max` is on resources that *exist*: from the moment the pool
 * calls `factory.create()` until the `factory.destroy()` of that resource settles. A pool that counts
 * only its idle and borrowed resources opens a burst of connections past `max` while the first
 * creates are still in flight, and one that forgets a failed create keeps its slot counted forever.
 *
 * **A line, in order, with a way out.** A caller who finds every slot busy waits in a first-in,
 * first-out line, and every wait ends: with a resource, with a {@link PoolTimeoutError} after
 * `acquireTimeoutMs`, with the abort of its signal, or with a {@link PoolClosedError} when the pool
 * drains. A waiter that left the line is gone for good: a resource that frees up later goes to the
 * next waiter or back to the idle set, never into the promise of someone who stopped listening
 * (cap-js/cds-dbs #1721: that promise's resource was never released, and the pool drained to zero).
 *
 * **Time is injected.** The acquire timeout and the idle reaper run on a {@link PoolClock} (the
 * real timers by default), so a test moves time by hand and nothing races a real clock.
 */

/** The resources a pool manages: how to make one, how to get rid of one, and how to check one. */
export interface ResourceFactory<T> {
  /** Makes a new resource (opens a connection). A rejection or a throw is a create error. */
  create(): Promise<T>;
  /**
   * Gets rid of a resource (closes the connection). The pool waits for it: the resource holds its
   * slot until the promise settles. A rejection or a throw still frees the slot; the error is dropped.
   */
  destroy(resource: T): Promise<void>;
  /**
   * Whether an idle resource still works (a connection the server has not closed). Called before an
   * idle resource is lent out; it works if the promise resolves `true`: `false` (or any other value),
   * a throw or a rejection means broken. Optional.
   */
  validate?(resource: T): Promise<boolean>;
}

/**
 * The time and the timers the pool uses: `now()` in milliseconds (only differences matter), and a
 * `setTimeout`/`clearTimeout` pair with the semantics of Node's. Default: `performance.now()` and the
 * global timers. Tests pass a manual one.
 */
export interface PoolClock {
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer that has not fired yet (a handle that already fired is ignored). */
  clearTimeout(handle: unknown): void;
}

/** Options of {@link Pool}. */
export interface PoolOptions {
  /** The most resources that exist at once, being created and being destroyed included: an integer ≥ 1. */
  readonly max: number;
  /**
   * The fewest resources the idle reaper leaves (idle, borrowed or being created): an integer from 0
   * to `max`. Default 0. The pool does not create resources ahead of demand: `min` is a floor for
   * the reaper, not a warm-up.
   */
  readonly min?: number;
  /**
   * How long an `acquire` may wait, in ms, before it rejects with a {@link PoolTimeoutError}: a
   * number > 0 and ≤ 2,147,483,647 (the longest `setTimeout` can wait). Required: a pool without
   * one hangs its callers forever when a resource leaks (coopernurse/node-pool #85).
   */
  readonly acquireTimeoutMs: number;
  /**
   * How long a resource may stay idle, in ms, before the reaper destroys it (while more than `min`
   * resources exist): a number > 0 and ≤ 2,147,483,647. Default: idle resources are kept until
   * `drain()`.
   */
  readonly idleTimeoutMs?: number;
  /** Default: `performance.now()` and the global `setTimeout`/`clearTimeout`. */
  readonly clock?: PoolClock;
}

/** Options of {@link Pool.acquire} and {@link Pool.use}. */
export interface AcquireOptions {
  /** Aborting it while the caller waits rejects the acquire with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** What {@link Pool.stats} reports. */
export interface PoolStats {
  /** Resources that exist: being created, idle, being validated, on loan, or being destroyed. Never above `max`. */
  readonly size: number;
  /** Idle resources, ready to lend. */
  readonly available: number;
  /** Resources on loan: acquired and not yet released or destroyed. */
  readonly borrowed: number;
  /** Callers waiting in line (acquires not yet settled). */
  readonly pending: number;
}

/**
 * The rejection of an acquire that waited `acquireTimeoutMs`. `name` is `'PoolTimeoutError'`;
 * `waitedMs` is how long it waited on the pool's clock, and the message states it and the timeout.
 */
export class PoolTimeoutError extends Error {
  constructor(
    readonly waitedMs: number,
    readonly acquireTimeoutMs: number,
  ) {
    super(
      `acquire timed out after ${waitedMs} ms (acquireTimeoutMs ${acquireTimeoutMs}): every resource stayed ` +
        'on loan that long; release resources sooner, raise max, or look for a loan that is never released',
    );
    this.name = 'PoolTimeoutError';
  }
}

/** The rejection of an acquire on a pool that is draining or drained. `name` is `'PoolClosedError'`. */
export class PoolClosedError extends Error {
  constructor() {
    super('the pool is draining or drained: it lends nothing any more; create a new pool');
    this.name = 'PoolClosedError';
  }
}

const todo = (fn: string) =>
  new Error(`${fn}() is not implemented yet: open exercises/09-scaling/connection-pool/pool.ts`);

/**
 * A generic resource pool.
 *
 * - **Never more than `max`.** A resource counts from the call of `factory.create()` until its
 *   `factory.destroy()` settles, or until its create fails. `stats().size` is that count.
 * - **Lending.** `acquire()` lends an idle resource at once (after `validate`, if the factory has
 *   one) when one is free and nobody is waiting; otherwise it joins the line, and the pool creates a
 *   resource for it when a slot is free. Waiters are served first in, first out: a resource that
 *   frees up, or is created, goes to the caller who has waited longest at that moment. The pool
 *   starts no more creates and validations than there are callers waiting.
 * - **Idle order.** Idle resources are lent most recently released first (LIFO), so that in a quiet
 *   period the ones nobody needs grow old and the reaper can take them.
 * - **Leaving the line.** A waiter leaves on its timeout ({@link PoolTimeoutError}), on the abort of
 *   its signal (rejected with `signal.reason`; an already aborted signal rejects at once) or on
 *   `drain()` ({@link PoolClosedError}). Once it has left, it never receives a resource: a resource
 *   created or freed for it goes to the next waiter, or back to the idle set. No timer and no abort
 *   listener outlive a settled acquire.
 * - **Validation on loan.** With `factory.validate`, an idle resource is validated before it is lent
 *   (a resource just created is lent without). Anything but `true` (`false`, a throw, a rejection):
 *   the resource is destroyed, and the pool at once checks another idle one (without waiting for
 *   that destroy), or creates a replacement when a slot is free; the waiter keeps its place and its
 *   deadline meanwhile. A released resource is not validated on release, but on its next loan.
 * - **Create errors.** When `factory.create()` fails, its slot is freed at once and the acquire at
 *   the head of the line rejects with the factory's error (not retried: the caller decides). The
 *   others keep waiting, and the pool starts creates for them: later acquires succeed once create
 *   works again.
 * - **Reaper.** With `idleTimeoutMs`, a resource idle for `idleTimeoutMs` (on the clock, since it was
 *   last released or created) is destroyed, oldest first, as long as more than `min` resources exist
 *   apart from those being destroyed.
 * - **Loans are tracked by identity** (a `Map`): resources must be distinct values, as objects and
 *   connections are.
 */
export class Pool<T> {
  /**
   * @throws {RangeError} naming the option and its value when `max` is not an integer ≥ 1, `min` not
   *   an integer from 0 to `max`, or `acquireTimeoutMs` or `idleTimeoutMs` not a number > 0 and
   *   ≤ 2,147,483,647 (NaN, Infinity, negative and non-numbers included)
   * @throws {TypeError} when `factory.create` or `factory.destroy` is not a function, or
   *   `factory.validate` is given and is not one
   */
  constructor(factory: ResourceFactory<T>, options: PoolOptions) {
    throw todo('Pool constructor');
  }

  /**
   * Borrows a resource; give it back with {@link release} (or {@link destroy} if it is broken).
   * @returns a resource on loan to the caller
   * @throws (as a rejection) {@link PoolTimeoutError} after `acquireTimeoutMs` in line;
   *   `signal.reason` when the signal aborts first; {@link PoolClosedError} once `drain()` was
   *   called; the factory's error when the create meant for the head of the line fails
   */
  acquire(options: AcquireOptions = {}): Promise<T> {
    throw todo('acquire');
  }

  /**
   * Gives a borrowed resource back: to the longest-waiting caller, or to the idle set (where it is
   * validated on its next loan). After `drain()` was called, it is destroyed instead.
   * @throws {Error} synchronously, when `resource` is not on loan from this pool (never lent, already
   *   released or destroyed); the message says it is "not on loan"
   */
  release(resource: T): void {
    throw todo('release');
  }

  /**
   * Destroys a borrowed resource that is broken (a connection that failed): its slot is freed when
   * `factory.destroy` settles, and a waiting caller gets a new resource.
   * @returns a promise that resolves once the factory's `destroy` settled (its error is dropped)
   * @throws (as a rejection) {Error} when `resource` is not on loan from this pool; the message says
   *   it is "not on loan"
   */
  destroy(resource: T): Promise<void> {
    throw todo('destroy');
  }

  /**
   * Acquires a resource, runs `fn` with it, and releases it, whether `fn` resolves or rejects: an
   * error in `fn` is the caller's (a Redis error reply does not break the connection), and a broken
   * resource is caught by `validate` on its next loan. When `fn` itself released or destroyed the
   * resource, `use` leaves it alone (even if the pool has lent it to another caller meanwhile: that
   * loan is not `use`'s to end).
   * @returns what `fn` resolves with
   * @throws (as a rejection) whatever `acquire` or `fn` rejects with
   */
  use<R>(fn: (resource: T) => Promise<R>, options: AcquireOptions = {}): Promise<R> {
    throw todo('use');
  }

  /**
   * Closes the pool: every later `acquire` rejects with {@link PoolClosedError}, and so do the
   * callers waiting in line now. Idle resources are destroyed at once; resources on loan are
   * destroyed as they come back, resources being created or validated when they are ready. Calling
   * it again returns the same promise.
   * @returns a promise that resolves when no resource exists any more (`stats().size` is 0): every
   *   loan came back and every `factory.destroy` settled
   */
  drain(): Promise<void> {
    throw todo('drain');
  }

  /** The counts right now (see {@link PoolStats}). */
  stats(): PoolStats {
    throw todo('stats');
  }
}
