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

interface Bucket {
  /** The bucket's number, `floor(t / bucketMs)`; a slot whose number is out of the window is stale. */
  index: number;
  successes: number;
  failures: number;
}

const monotonicClock: Clock = { now: () => performance.now() };

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
  readonly #clock: Clock;
  readonly #ring: Bucket[];
  /** The newest bucket number seen: the window never moves back from it. */
  #newest = Number.NEGATIVE_INFINITY;

  /**
   * @throws {RangeError} naming the option and its value, when `windowMs` is not a positive integer,
   * `buckets` is not a positive integer, or `buckets` does not divide `windowMs`
   */
  constructor({ windowMs, buckets, clock = monotonicClock }: RollingWindowOptions) {
    if (!(Number.isInteger(windowMs) && windowMs > 0)) {
      throw new RangeError(`windowMs must be a positive whole number of milliseconds, got ${windowMs}`);
    }
    if (!(Number.isInteger(buckets) && buckets > 0)) {
      throw new RangeError(`buckets must be a positive integer, got ${buckets}`);
    }
    if (windowMs % buckets !== 0) {
      throw new RangeError(`buckets must divide windowMs, got buckets ${buckets} for windowMs ${windowMs}`);
    }
    this.windowMs = windowMs;
    this.buckets = buckets;
    this.bucketMs = windowMs / buckets;
    this.#clock = clock;
    this.#ring = Array.from({ length: buckets }, () => ({
      index: Number.NEGATIVE_INFINITY,
      successes: 0,
      failures: 0,
    }));
  }

  /** Counts one outcome at the clock's current time. */
  record(outcome: Outcome): void {
    const current = this.#advance();
    const slot = this.#ring[mod(current, this.buckets)] as Bucket;
    if (slot.index !== current) {
      slot.index = current;
      slot.successes = 0;
      slot.failures = 0;
    }
    if (outcome === 'success') slot.successes++;
    else slot.failures++;
  }

  /** The outcomes recorded in the current bucket and the `buckets - 1` before it. */
  counts(): WindowCounts {
    const oldest = this.#advance() - this.buckets + 1;
    let successes = 0;
    let failures = 0;
    for (const slot of this.#ring) {
      if (slot.index >= oldest) {
        successes += slot.successes;
        failures += slot.failures;
      }
    }
    return { successes, failures, total: successes + failures };
  }

  /** Forgets every outcome: the window reads as empty until the next `record`. */
  reset(): void {
    for (const slot of this.#ring) {
      slot.index = Number.NEGATIVE_INFINITY;
      slot.successes = 0;
      slot.failures = 0;
    }
  }

  /** The current bucket number; never less than one seen before, so a clock set back changes nothing. */
  #advance(): number {
    this.#newest = Math.max(this.#newest, Math.floor(this.#clock.now() / this.bucketMs));
    return this.#newest;
  }
}

/** `n mod m` in [0, m), also for negative `n` (a clock may start below zero). */
function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}
