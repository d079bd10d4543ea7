/**
 * Deadlines: a time budget that travels with a piece of work. A `Deadline` knows when it expires,
 * how much time remains, and exposes an `AbortSignal` that aborts when the time is up, so everything
 * the work starts (a fetch, a query, a child's own deadline) can stop with it. Children never outlive
 * their parent; work that cannot finish in what remains is refused before it starts; and everything a
 * deadline sets up (a timer, a listener on its parent's signal) is released when it is disposed.
 *
 * Every policy of chapter 07 runs *work*: a function of an `AbortSignal` that returns a promise.
 */

/** Work a policy runs: it receives a signal that aborts when it should stop. */
export type Work<T> = (signal: AbortSignal) => Promise<T>;

/** What a deadline asks for the time: milliseconds on a clock that does not jump. */
export interface Clock {
  now(): number;
}

/** The reason a deadline's signal aborts when its time is up, and what {@link Deadline.ensure} throws. */
export class DeadlineExceededError extends Error {
  readonly code = 'DEADLINE_EXCEEDED';
  override readonly name = 'DeadlineExceededError';
}

export interface DeadlineOptions {
  /** Default: `performance.now()`, which never jumps (the wall clock can be set back or forward). */
  readonly clock?: Clock;
  /** The caller's signal: when it aborts, the deadline's signal aborts with the same reason. */
  readonly signal?: AbortSignal;
}

export interface RunOptions {
  /** Refuse to start the work unless at least this many milliseconds remain (default 0). */
  readonly needMs?: number;
  /** The caller's signal, for this run only: when it aborts, the work's signal aborts with its reason. */
  readonly signal?: AbortSignal;
}

/**
 * `setTimeout` cannot wait longer than 2^31 − 1 ms (about 24.8 days): a longer delay fires after 1 ms,
 * with a warning. A deadline further away sleeps this long and looks at the clock again.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

const monotonicClock: Clock = { now: () => performance.now() };

function requireMs(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number of milliseconds, 0 or more; got ${value}`);
  }
}

/**
 * A point in time by which some work must be done, with the signal that tells the work to stop.
 *
 * - The signal aborts once the clock shows the deadline has passed, with a
 *   {@link DeadlineExceededError} as its reason. A timer wakes the deadline when the time should be up;
 *   the clock decides: if it still shows time left (a timer that fired early, a test's manual clock),
 *   the deadline sleeps again for what is left. Any finite duration works, including ones longer than
 *   `setTimeout`'s limit of 2^31 − 1 ms (a longer delay makes `setTimeout` warn with a
 *   `TimeoutOverflowWarning` and fire after 1 ms). A deadline created with no time left is aborted at
 *   once.
 * - It also aborts as soon as its parent's signal (or the caller's signal) aborts, with that reason.
 * - Dispose it when the work is done: the timer is cancelled and the listener on the parent's signal is
 *   removed, so a disposed deadline's signal never aborts any more (neither by time nor by its parent)
 *   and a thousand disposed children leave their parent's signal as they found it. Disposing does not
 *   abort the signal.
 */
export class Deadline implements Disposable {
  /** When the deadline expires, in milliseconds on its clock. */
  readonly expiresAt: number;
  readonly #clock: Clock;
  readonly #controller = new AbortController();
  /** The signals this deadline listens to (its parent's, the caller's) until it aborts or is disposed. */
  readonly #sources: AbortSignal[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(expiresAt: number, clock: Clock, sources: readonly (AbortSignal | undefined)[]) {
    this.expiresAt = expiresAt;
    this.#clock = clock;
    for (const source of sources) {
      if (!source) continue;
      if (source.aborted) {
        this.#abort(source.reason);
        return;
      }
      source.addEventListener('abort', this.#onSourceAbort);
      this.#sources.push(source);
    }
    this.#wake();
  }

  /**
   * A deadline `ms` milliseconds from now.
   * @throws {RangeError} when `ms` is not a finite number ≥ 0 (the message names the value)
   */
  static after(ms: number, { clock = monotonicClock, signal }: DeadlineOptions = {}): Deadline {
    requireMs('ms', ms);
    return new Deadline(clock.now() + ms, clock, [signal]);
  }

  /** Aborts when the time is up (reason: a {@link DeadlineExceededError}) or when a parent aborts (its reason). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Milliseconds left before the deadline (a fraction is fine), never below 0. */
  remaining(): number {
    return Math.max(0, this.expiresAt - this.#clock.now());
  }

  /** True when no time remains (`remaining()` is 0). */
  get expired(): boolean {
    return this.remaining() === 0;
  }

  /**
   * A deadline for a part of the work: it expires at the earlier of this deadline and `ms` from now
   * (omit `ms` for the same expiry), and its signal aborts when this one's does. Dispose it when the
   * part is done.
   * @throws {RangeError} when `ms` is given and is not a finite number ≥ 0
   */
  child(ms?: number): Deadline {
    let expiresAt = this.expiresAt;
    if (ms !== undefined) {
      requireMs('ms', ms);
      expiresAt = Math.min(expiresAt, this.#clock.now() + ms);
    }
    return new Deadline(expiresAt, this.#clock, [this.signal]);
  }

  /**
   * Refuses to start work that cannot finish: throws the signal's reason when the signal has aborted
   * (a caller's cancellation stays a cancellation), and a {@link DeadlineExceededError} when the
   * deadline has expired or less than `needMs` milliseconds remain. Exactly `needMs` is enough.
   * @throws {RangeError} when `needMs` is not a finite number ≥ 0
   */
  ensure(needMs = 0): void {
    requireMs('needMs', needMs);
    if (this.signal.aborted) throw this.signal.reason;
    const left = this.remaining();
    if (left === 0 || left <= needMs) {
      throw new DeadlineExceededError(
        `deadline exceeded: the work needs ${needMs} ms but ${left.toFixed(1)} ms remain`,
      );
    }
  }

  /**
   * Runs `work` under this deadline: first {@link ensure}(needMs), then `work(signal)` with the signal
   * of a child deadline (aborted when this deadline's signal or `options.signal` aborts). Settles like
   * the work, except that it rejects with the signal's reason (a {@link DeadlineExceededError} when the
   * time ran out) as soon as the signal aborts, even if the work ignores its signal; the work's later
   * result or error is then ignored (never an unhandled rejection). The work is not called when
   * `ensure` fails or a signal has already aborted. Disposes the child when it settles. Never throws
   * synchronously: every failure is a rejection.
   */
  async run<T>(work: Work<T>, { needMs = 0, signal }: RunOptions = {}): Promise<T> {
    this.ensure(needMs);
    const scope = new Deadline(this.expiresAt, this.#clock, [this.signal, signal]);
    try {
      return await settleOrAbort(work, scope.signal);
    } finally {
      scope.dispose();
    }
  }

  /**
   * Cancels the timer and stops listening to the parent's (and caller's) signal. Idempotent. The
   * signal keeps its state: a deadline that already aborted stays aborted; one that had not never will.
   */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const source of this.#sources) source.removeEventListener('abort', this.#onSourceAbort);
    this.#sources.length = 0;
  }

  /** The same as {@link dispose}, for `using deadline = Deadline.after(ms)`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  readonly #onSourceAbort = (event: Event): void => {
    this.#abort((event.target as AbortSignal).reason);
  };

  /** Aborts the signal once; after that, nothing is left to listen to or wait for. */
  #abort(reason: unknown): void {
    if (this.signal.aborted) return;
    this.#controller.abort(reason);
    this.dispose();
  }

  /** Aborts when the clock says the time is up; otherwise sleeps for what is left and looks again. */
  readonly #wake = (): void => {
    this.#timer = undefined;
    const left = this.remaining();
    if (left === 0) {
      this.#abort(new DeadlineExceededError('deadline exceeded: the time budget for this work ran out'));
      return;
    }
    this.#timer = setTimeout(this.#wake, Math.min(left, MAX_TIMER_MS));
  };
}

/**
 * Settles with `work(signal)`, or rejects with `signal.reason` as soon as the signal aborts, whichever
 * comes first. A synchronous throw from `work` becomes a rejection; a late result or error is ignored.
 */
function settleOrAbort<T>(work: Work<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => signal.removeEventListener('abort', onAbort);
    let result: Promise<T>;
    try {
      result = Promise.resolve(work(signal));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}
