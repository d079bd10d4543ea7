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

/** The longest delay `setTimeout` honours (a larger one fires after 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

const defaultClock: PoolClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A caller waiting in line. `done` is set once, by whichever settles it first. */
interface Waiter<T> {
  readonly since: number;
  readonly resolve: (resource: T) => void;
  readonly reject: (error: unknown) => void;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  done: boolean;
}

/** An idle resource and when it came back. */
interface Idle<T> {
  readonly resource: T;
  readonly since: number;
}

/** One loan: a fresh object per acquire, so `use()` can tell its own loan from a later one of the same resource. */
type Loan = object;

/**
 * A FIFO of waiters with O(1) push and shift. A waiter that leaves early is marked `done` and
 * skipped when it reaches the front, instead of being searched for and spliced out.
 */
class WaiterLine<T> {
  #items: (Waiter<T> | undefined)[] = [];
  #head = 0;
  #live = 0;

  get size(): number {
    return this.#live;
  }

  push(waiter: Waiter<T>): void {
    this.#items.push(waiter);
    this.#live++;
  }

  /** The longest-waiting live waiter, removed from the line; it is still not `done`. */
  shift(): Waiter<T> | undefined {
    while (this.#head < this.#items.length) {
      const waiter = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      if (waiter !== undefined && !waiter.done) {
        this.#live--;
        return waiter;
      }
    }
    return undefined;
  }

  /** Counts a waiter that left early (already marked `done`) out of the line. */
  left(): void {
    this.#live--;
  }
}

/** Runs `fn`, turning a synchronous throw into a rejection. */
function attempt<R>(fn: () => Promise<R> | R): Promise<R> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

function requireInteger(name: string, value: number, low: number, high: number): void {
  if (!(Number.isInteger(value) && value >= low && value <= high)) {
    throw new RangeError(`${name} must be an integer from ${low} to ${high}, got ${String(value)}`);
  }
}

function requireDelay(name: string, value: number): void {
  if (!(typeof value === 'number' && value > 0 && value <= MAX_TIMER_MS)) {
    throw new RangeError(`${name} must be a number of ms > 0 and ≤ ${MAX_TIMER_MS}, got ${String(value)}`);
  }
}

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
  readonly #factory: ResourceFactory<T>;
  readonly #max: number;
  readonly #min: number;
  readonly #acquireTimeoutMs: number;
  readonly #idleTimeoutMs: number | undefined;
  readonly #clock: PoolClock;

  readonly #waiters = new WaiterLine<T>();
  /** Idle resources; the most recently released last (lent first), the oldest first (reaped first). */
  #idle: Idle<T>[] = [];
  readonly #borrowed = new Map<T, Loan>();
  #creating = 0;
  #validating = 0;
  #destroying = 0;

  #reaper: unknown;
  #reaperArmed = false;
  #closed = false;
  #drained: Promise<void> | undefined;
  #resolveDrained: (() => void) | undefined;

  /**
   * @throws {RangeError} naming the option and its value when `max` is not an integer ≥ 1, `min` not
   *   an integer from 0 to `max`, or `acquireTimeoutMs` or `idleTimeoutMs` not a number > 0 and
   *   ≤ 2,147,483,647 (NaN, Infinity, negative and non-numbers included)
   * @throws {TypeError} when `factory.create` or `factory.destroy` is not a function, or
   *   `factory.validate` is given and is not one
   */
  constructor(factory: ResourceFactory<T>, options: PoolOptions) {
    if (typeof factory?.create !== 'function') throw new TypeError('factory.create must be a function');
    if (typeof factory.destroy !== 'function') throw new TypeError('factory.destroy must be a function');
    if (factory.validate !== undefined && typeof factory.validate !== 'function') {
      throw new TypeError('factory.validate must be a function when given');
    }
    const { max, min = 0, acquireTimeoutMs, idleTimeoutMs, clock = defaultClock } = options;
    requireInteger('max', max, 1, Number.MAX_SAFE_INTEGER);
    requireInteger('min', min, 0, max);
    requireDelay('acquireTimeoutMs', acquireTimeoutMs);
    if (idleTimeoutMs !== undefined) requireDelay('idleTimeoutMs', idleTimeoutMs);
    this.#factory = factory;
    this.#max = max;
    this.#min = min;
    this.#acquireTimeoutMs = acquireTimeoutMs;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#clock = clock;
  }

  /**
   * Borrows a resource; give it back with {@link release} (or {@link destroy} if it is broken).
   * @returns a resource on loan to the caller
   * @throws (as a rejection) {@link PoolTimeoutError} after `acquireTimeoutMs` in line;
   *   `signal.reason` when the signal aborts first; {@link PoolClosedError} once `drain()` was
   *   called; the factory's error when the create meant for the head of the line fails
   */
  acquire(options: AcquireOptions = {}): Promise<T> {
    const { signal } = options;
    if (this.#closed) return Promise.reject(new PoolClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    // The fast path: a free resource that needs no check, and nobody ahead in line.
    if (this.#waiters.size === 0 && this.#idle.length > 0 && this.#factory.validate === undefined) {
      const { resource } = this.#idle.pop() as Idle<T>;
      this.#borrowed.set(resource, {});
      return Promise.resolve(resource);
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        since: this.#clock.now(),
        resolve,
        reject,
        timer: undefined,
        signal,
        onAbort: undefined,
        done: false,
      };
      waiter.timer = this.#clock.setTimeout(() => {
        waiter.timer = undefined;
        const waited = this.#clock.now() - waiter.since;
        this.#leave(waiter, new PoolTimeoutError(waited, this.#acquireTimeoutMs));
      }, this.#acquireTimeoutMs);
      if (signal !== undefined) {
        waiter.onAbort = () => this.#leave(waiter, signal.reason);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
      this.#dispatch();
    });
  }

  /**
   * Gives a borrowed resource back: to the longest-waiting caller, or to the idle set (where it is
   * validated on its next loan). After `drain()` was called, it is destroyed instead.
   * @throws {Error} synchronously, when `resource` is not on loan from this pool (never lent, already
   *   released or destroyed); the message says it is "not on loan"
   */
  release(resource: T): void {
    this.#endLoan(resource, 'release');
    if (this.#closed) {
      this.#destroyResource(resource);
      return;
    }
    this.#idle.push({ resource, since: this.#clock.now() });
    this.#dispatch();
    this.#armReaper();
  }

  /**
   * Destroys a borrowed resource that is broken (a connection that failed): its slot is freed when
   * `factory.destroy` settles, and a waiting caller gets a new resource.
   * @returns a promise that resolves once the factory's `destroy` settled (its error is dropped)
   * @throws (as a rejection) {Error} when `resource` is not on loan from this pool; the message says
   *   it is "not on loan"
   */
  destroy(resource: T): Promise<void> {
    try {
      this.#endLoan(resource, 'destroy');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#destroyResource(resource);
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
  async use<R>(fn: (resource: T) => Promise<R>, options: AcquireOptions = {}): Promise<R> {
    const resource = await this.acquire(options);
    const loan = this.#borrowed.get(resource);
    try {
      return await fn(resource);
    } finally {
      if (this.#borrowed.get(resource) === loan) this.release(resource);
    }
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
    if (this.#drained !== undefined) return this.#drained;
    this.#closed = true;
    this.#drained = new Promise((resolve) => {
      this.#resolveDrained = resolve;
    });
    if (this.#reaperArmed) {
      this.#clock.clearTimeout(this.#reaper);
      this.#reaperArmed = false;
    }
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      this.#settle(waiter);
      waiter.reject(new PoolClosedError());
    }
    const idle = this.#idle;
    this.#idle = [];
    for (const { resource } of idle) this.#destroyResource(resource);
    this.#checkDrained();
    return this.#drained;
  }

  /** The counts right now (see {@link PoolStats}). */
  stats(): PoolStats {
    return {
      size: this.#size(),
      available: this.#idle.length,
      borrowed: this.#borrowed.size,
      pending: this.#waiters.size,
    };
  }

  #size(): number {
    return this.#creating + this.#idle.length + this.#validating + this.#borrowed.size + this.#destroying;
  }

  #endLoan(resource: T, operation: string): void {
    if (!this.#borrowed.delete(resource)) {
      throw new Error(
        `${operation}(): this resource is not on loan from this pool (it was never lent, or was already released or destroyed)`,
      );
    }
  }

  /** Marks a waiter settled and takes its timer and abort listener away. */
  #settle(waiter: Waiter<T>): void {
    waiter.done = true;
    if (waiter.timer !== undefined) this.#clock.clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  /** A waiter leaves the line early (timeout, abort) and rejects with `error`. */
  #leave(waiter: Waiter<T>, error: unknown): void {
    if (waiter.done) return;
    this.#settle(waiter);
    this.#waiters.left();
    waiter.reject(error);
  }

  /** Starts as many validations and creates as there are waiters not yet provided for. */
  #dispatch(): void {
    while (!this.#closed && this.#waiters.size > this.#creating + this.#validating) {
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        if (this.#factory.validate === undefined) this.#handOut(idle.resource);
        else this.#validate(idle.resource);
      } else if (this.#size() < this.#max) {
        this.#create();
      } else {
        return;
      }
    }
  }

  /** A resource that is ready (created, validated or released): to the head of the line, or idle. */
  #handOut(resource: T): void {
    if (this.#closed) {
      this.#destroyResource(resource);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#idle.push({ resource, since: this.#clock.now() });
      this.#armReaper();
      return;
    }
    this.#settle(waiter);
    this.#borrowed.set(resource, {});
    waiter.resolve(resource);
  }

  #create(): void {
    this.#creating++;
    attempt(() => this.#factory.create()).then(
      (resource) => {
        this.#creating--;
        this.#handOut(resource);
        this.#dispatch();
      },
      (error: unknown) => {
        this.#creating--;
        const waiter = this.#waiters.shift();
        if (waiter !== undefined) {
          this.#settle(waiter);
          waiter.reject(error);
        }
        this.#checkDrained();
      },
    );
  }

  #validate(resource: T): void {
    this.#validating++;
    attempt(() => (this.#factory.validate as (r: T) => Promise<boolean>)(resource))
      .then(
        (ok) => ok === true,
        () => false,
      )
      .then((ok) => {
        this.#validating--;
        if (ok) this.#handOut(resource);
        else this.#destroyResource(resource);
        this.#dispatch();
      });
  }

  /** Destroys a resource that is in no collection any more; its slot is held until destroy settles. */
  #destroyResource(resource: T): Promise<void> {
    this.#destroying++;
    return attempt(() => this.#factory.destroy(resource))
      .catch(() => undefined)
      .then(() => {
        this.#destroying--;
        this.#dispatch();
        this.#checkDrained();
      });
  }

  /** Schedules the reaper for the oldest idle resource, if it could be reaped. */
  #armReaper(): void {
    const idleTimeoutMs = this.#idleTimeoutMs;
    if (idleTimeoutMs === undefined || this.#reaperArmed || this.#closed) return;
    const oldest = this.#idle[0];
    if (oldest === undefined || this.#size() - this.#destroying <= this.#min) return;
    const delay = Math.max(0, oldest.since + idleTimeoutMs - this.#clock.now());
    this.#reaperArmed = true;
    this.#reaper = this.#clock.setTimeout(() => {
      this.#reaperArmed = false;
      this.#reap(idleTimeoutMs);
    }, delay);
  }

  #reap(idleTimeoutMs: number): void {
    const now = this.#clock.now();
    while (this.#size() - this.#destroying > this.#min) {
      const oldest = this.#idle[0];
      if (oldest === undefined || now - oldest.since < idleTimeoutMs) break;
      this.#idle.shift();
      this.#destroyResource(oldest.resource);
    }
    this.#armReaper();
  }

  #checkDrained(): void {
    if (this.#resolveDrained !== undefined && this.#size() === 0) {
      this.#resolveDrained();
      this.#resolveDrained = undefined;
    }
  }
}
