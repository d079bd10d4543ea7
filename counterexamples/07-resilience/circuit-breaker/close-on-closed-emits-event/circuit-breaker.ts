/**
 * A circuit breaker (Nygard, *Release It!*; Fowler, "CircuitBreaker"): it watches the outcomes of
 * calls to one dependency and, when too many fail, stops calling it for a while, so callers fail in
 * microseconds instead of waiting on a dependency that is down, and the dependency gets room to
 * recover. Then it lets a few probe calls through and closes again if they all succeed.
 *
 * ```
 *   closed ──(failure rate ≥ threshold over ≥ minimumRequests calls)──▶ open
 *   open ──(openMs have passed: next call or read of `state`)──▶ half-open
 *   half-open ──(all halfOpenProbes probes succeed)──▶ closed
 *   half-open ──(any probe fails)──▶ open (the cool-down starts again)
 * ```
 *
 * It follows the chapter's policy shape (`execute(work, signal?)`, where work receives an
 * `AbortSignal`), so it composes with the retry, deadline and bulkhead policies.
 */
import { type Clock, RollingWindow } from './rolling-window.js';

export type { Clock };

/** The work a policy runs. It receives the caller's signal (one that never aborts when there is none). */
export type Work<T> = (signal: AbortSignal) => Promise<T>;

/** `'closed'`: calls pass and are counted; `'open'`: calls are rejected; `'half-open'`: a few probe calls pass. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** One transition, as `onStateChange` listeners receive it. */
export interface StateChange {
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** The clock's time (ms) when the breaker made the transition. */
  readonly at: number;
}

export interface CircuitBreakerOptions {
  /** The failure rate that opens the breaker: in (0, 1]; 0.5 opens at half the calls failing. */
  readonly failureRateThreshold: number;
  /** The fewest calls in the window before the breaker may open: a positive integer. */
  readonly minimumRequests: number;
  /** The rolling window's length in ms: a positive integer that `buckets` divides. */
  readonly windowMs: number;
  /** How many buckets the window keeps: a positive integer that divides `windowMs`. */
  readonly buckets: number;
  /** How long the breaker stays open before it admits probes, in ms: a positive finite number. */
  readonly openMs: number;
  /** How many probe calls half-open admits, all of which must succeed to close: a positive integer. */
  readonly halfOpenProbes: number;
  /**
   * Which errors count as the dependency failing. Default: every error. An error for which it returns
   * false still rejects the call, but counts as a success (a 404 is an answer, not an outage).
   */
  readonly isFailure?: (error: unknown) => boolean;
  /** Default: `performance.now()`. */
  readonly clock?: Clock;
}

/** The rejection of a call that the breaker did not let through; the work was not called. */
export class BreakerOpenError extends Error {
  readonly code = 'BREAKER_OPEN';
  override readonly name = 'BreakerOpenError';

  constructor(
    /** The state that rejected the call: `'open'`, or `'half-open'` with every probe place taken. */
    readonly state: 'open' | 'half-open',
    /** Milliseconds until the breaker admits a probe: the rest of the cool-down; 0 in half-open. */
    readonly retryAfterMs: number,
  ) {
    super(
      state === 'open'
        ? `circuit breaker is open: the dependency is failing; retry in ${retryAfterMs} ms`
        : 'circuit breaker is half-open and its probe calls are already running; retry shortly',
    );
  }
}

/** A signal for callers who pass none: it never aborts. */
const NEVER_ABORTED = new AbortController().signal;

const monotonicClock: Clock = { now: () => performance.now() };

/**
 * A circuit breaker over a rolling time window.
 *
 * - **closed**: every call runs. Its outcome is recorded in the window; after a failure, when the
 *   window holds at least `minimumRequests` calls and `failures / total >= failureRateThreshold`,
 *   the breaker opens.
 * - **open**: calls are rejected with {@link BreakerOpenError} without calling the work. Once
 *   `openMs` have passed since it opened, the breaker is half-open: it moves lazily, on the next
 *   call, read of `state`, `open()` or `close()`, without a timer.
 * - **half-open**: exactly `halfOpenProbes` calls are admitted (however many arrive at once); the
 *   rest are rejected at once. When all of them succeed the breaker closes with an empty window; the
 *   first that fails opens it again, and the cool-down starts at that moment. `minimumRequests` plays
 *   no part here.
 * - **Epochs**: an outcome counts only in the state period that admitted its call. A call admitted
 *   before the latest transition never moves the breaker: a success that arrives while open does not
 *   close it, and a late failure from the closed period does not re-open a half-open breaker.
 * - **Aborts**: a call whose signal is already aborted rejects with `signal.reason` without running;
 *   when the signal aborts while the work runs, the call rejects with `signal.reason` at once, even
 *   if the work ignores its signal. An aborted call is the caller's decision, not the dependency's
 *   failure: it is not counted, and an aborted probe gives its place back to the next caller. No
 *   abort listener stays on the caller's signal once the call settles.
 * - Work that throws synchronously counts like work that rejects; `execute` always returns a promise.
 */
export class CircuitBreaker {
  readonly #window: RollingWindow;
  readonly #clock: Clock;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #threshold: number;
  readonly #minimumRequests: number;
  readonly #openMs: number;
  readonly #halfOpenProbes: number;
  readonly #listeners = new Set<{ readonly listener: (change: StateChange) => void }>();

  #state: BreakerState = 'closed';
  /** Counts transitions: a call remembers the epoch that admitted it. */
  #epoch = 0;
  #openedAt = 0;
  #probesAdmitted = 0;
  #probesSucceeded = 0;

  /**
   * @throws {RangeError} naming the option and its value, when `failureRateThreshold` is not in
   * (0, 1], `minimumRequests` or `halfOpenProbes` is not a positive integer, `openMs` is not a
   * positive finite number, or `windowMs` and `buckets` are not as {@link RollingWindow} requires
   */
  constructor(options: CircuitBreakerOptions) {
    const { failureRateThreshold, minimumRequests, openMs, halfOpenProbes } = options;
    if (!(failureRateThreshold > 0 && failureRateThreshold <= 1)) {
      throw new RangeError(`failureRateThreshold must be in (0, 1], got ${failureRateThreshold}`);
    }
    requirePositiveInteger('minimumRequests', minimumRequests);
    requirePositiveInteger('halfOpenProbes', halfOpenProbes);
    if (!(Number.isFinite(openMs) && openMs > 0)) {
      throw new RangeError(`openMs must be a positive finite number of milliseconds, got ${openMs}`);
    }
    this.#clock = options.clock ?? monotonicClock;
    this.#window = new RollingWindow({
      windowMs: options.windowMs,
      buckets: options.buckets,
      clock: this.#clock,
    });
    this.#isFailure = options.isFailure ?? (() => true);
    this.#threshold = failureRateThreshold;
    this.#minimumRequests = minimumRequests;
    this.#openMs = openMs;
    this.#halfOpenProbes = halfOpenProbes;
  }

  /** The current state; reading it moves an open breaker whose cool-down is over to half-open. */
  get state(): BreakerState {
    this.#coolDown();
    return this.#state;
  }

  /**
   * Runs `work(signal)` if the breaker admits the call, and settles as the work does.
   * @throws {BreakerOpenError} (as a rejection) when the breaker is open, or half-open with every
   * probe place taken; the work is not called
   * @throws `signal.reason` (as a rejection) when the caller's signal aborts before the work settles
   */
  async execute<T>(work: Work<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const epoch = this.#admit();
    let value: T;
    try {
      // Without a signal there is nothing to race: the common path stays one await long.
      value = await (signal ? this.#untilAborted(work, signal, epoch) : work(NEVER_ABORTED));
    } catch (error) {
      if (!signal?.aborted) this.#settle(epoch, this.#isFailure(error));
      throw error;
    }
    if (!signal?.aborted) this.#settle(epoch, false);
    return value;
  }

  /**
   * Wraps an async function: the wrapper takes the same arguments, runs the function through
   * {@link execute} and settles with its result; it rejects with {@link BreakerOpenError} without
   * calling the function while the breaker does not admit calls.
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return (...args: A) => this.execute(() => fn(...args));
  }

  /**
   * Forces the breaker open, and the cool-down starts now. On a breaker that is already open it
   * does nothing: the cool-down under way is not restarted (opossum #385).
   */
  open(): void {
    this.#coolDown();
    if (this.#state !== 'open') this.#moveTo('open');
  }

  /** Forces the breaker closed and empties the window (also when it was closed already). */
  close(): void {
    this.#coolDown();
    this.#moveTo('closed'); // resets the window and tells the listeners
  }

  /**
   * Calls `listener` synchronously, in subscription order, with one event for every transition,
   * forced ones included, and none when the state stays the same. Listeners must not throw.
   * @returns a function that unsubscribes this listener (calling it again does nothing)
   */
  onStateChange(listener: (change: StateChange) => void): () => void {
    const entry = { listener };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Admits a call and returns the epoch it belongs to, or throws {@link BreakerOpenError}. */
  #admit(): number {
    this.#coolDown();
    if (this.#state === 'open') {
      throw new BreakerOpenError('open', this.#openedAt + this.#openMs - this.#clock.now());
    }
    if (this.#state === 'half-open') {
      if (this.#probesAdmitted >= this.#halfOpenProbes) throw new BreakerOpenError('half-open', 0);
      this.#probesAdmitted++;
    }
    return this.#epoch;
  }

  /**
   * Runs the work and settles as it does, or rejects with `signal.reason` as soon as the caller
   * aborts, whichever comes first; an aborted probe gives its place back.
   */
  async #untilAborted<T>(work: Work<T>, signal: AbortSignal, epoch: number): Promise<T> {
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        this.#release(epoch);
        reject(signal.reason);
      };
    });
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.race([work(signal), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Applies the outcome of a call admitted in `epoch`, unless the breaker has moved on since. */
  #settle(epoch: number, failed: boolean): void {
    if (epoch !== this.#epoch) return;
    if (this.#state === 'half-open') {
      if (failed) this.#moveTo('open');
      else if (++this.#probesSucceeded === this.#halfOpenProbes) this.#moveTo('closed');
      return;
    }
    // Only closed remains: calls admitted while open do not exist, and open's epoch admits none.
    this.#window.record(failed ? 'failure' : 'success');
    if (failed && this.#shouldTrip()) this.#moveTo('open');
  }

  /** An aborted probe gives its place back, so half-open cannot be left with no probe running. */
  #release(epoch: number): void {
    if (epoch === this.#epoch && this.#state === 'half-open') this.#probesAdmitted--;
  }

  #shouldTrip(): boolean {
    const { failures, total } = this.#window.counts();
    return total >= this.#minimumRequests && failures / total >= this.#threshold;
  }

  /** Open → half-open once the cool-down is over; called before every read and decision. */
  #coolDown(): void {
    if (this.#state === 'open' && this.#clock.now() - this.#openedAt >= this.#openMs)
      this.#moveTo('half-open');
  }

  #moveTo(to: BreakerState): void {
    const from = this.#state;
    const at = this.#clock.now();
    this.#state = to;
    this.#epoch++;
    if (to === 'open') this.#openedAt = at;
    if (to === 'half-open') {
      this.#probesAdmitted = 0;
      this.#probesSucceeded = 0;
    }
    if (to === 'closed') this.#window.reset();
    for (const { listener } of [...this.#listeners]) listener({ from, to, at });
  }
}

function requirePositiveInteger(name: string, value: number): void {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}
