/**
 * A rolling time window of outcome counts: how many calls succeeded and failed in the last
 * `windowMs`, kept in `buckets` partial counts instead of one record per call, so memory and the
 * cost of a read stay constant however many calls go through (Resilience4j's time-based sliding
 * window, Hystrix's and opossum's rolling counts).
 *
 * Buckets are aligned to the clock: with `bucketMs = windowMs / buckets`, an outcome recorded at
 * time `t` lands in bucket number `floor(t / bucketMs)` (as Resilience4j's buckets are epoch
 * seconds). At time `now` the window holds the current bucket and the `buckets - 1` before it; older
 * ones are evicted, so an outcome stays counted for at least `windowMs - bucketMs` and less than
 * `windowMs`.
 */

/** What the window asks for the time: milliseconds, like `performance.now()` or `Date.now()`. */
export interface Clock {
  now(): number;
}

/** The outcome of one call. */
export type Outcome = 'success' | 'failure';

/** The outcomes in the window. */
export interface WindowCounts {
  readonly successes: number;
  readonly failures: number;
  /** `successes + failures`. */
  readonly total: number;
}

export interface RollingWindowOptions {
  /** The length of the window in milliseconds: a positive integer that `buckets` divides. */
  readonly windowMs: number;
  /** How many buckets the window is cut into: a positive integer that divides `windowMs`. */
  readonly buckets: number;
  /** Default: `performance.now()`, which never jumps when the wall clock is set. */
  readonly clock?: Clock;
}

const todo = (fn: string) =>
  new Error(`${fn}() is not implemented yet: open exercises/07-resilience/circuit-breaker/rolling-window.ts`);

/**
 * Counts outcomes over the last `windowMs` in a ring of `buckets` slots: bucket number `i` lives in
 * slot `i mod buckets`, and a slot whose number has fallen out of the window is zeroed when reused
 * and skipped when read. Nothing happens on a timer, so a window that sat idle for an hour, or whose
 * clock jumped ahead, reads as empty.
 *
 * A clock that goes back does not move the window back: outcomes recorded before the clock catches
 * up again land in the newest bucket, and reads see the window as it was at the newest time seen.
 */
export class RollingWindow {
  readonly windowMs: number;
  readonly buckets: number;
  /** `windowMs / buckets`: the granularity of the window. */
  readonly bucketMs: number;

  /**
   * @throws {RangeError} naming the option and its value, when `windowMs` is not a positive integer,
   * `buckets` is not a positive integer, or `buckets` does not divide `windowMs`
   */
  constructor({ windowMs, buckets, clock }: RollingWindowOptions) {
    this.windowMs = windowMs;
    this.buckets = buckets;
    this.bucketMs = windowMs / buckets;
    throw todo('RollingWindow constructor');
  }

  /** Counts one outcome at the clock's current time. */
  record(outcome: Outcome): void {
    throw todo('record');
  }

  /** The outcomes recorded in the current bucket and the `buckets - 1` before it. */
  counts(): WindowCounts {
    throw todo('counts');
  }

  /** Forgets every outcome: the window reads as empty until the next `record`. */
  reset(): void {
    throw todo('reset');
  }
}
