/**
 * An injectable clock. Exercises that depend on time accept `{ now(): number }` (milliseconds);
 * tests pass a {@link ManualClock} and move time by hand, so nothing waits and nothing flakes.
 */

/** What time-dependent code asks for: the current time in milliseconds. */
export interface Clock {
  now(): number;
}

/** The real clock (`Date.now`). */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  #now: number;

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward by `ms` (which must not be negative). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock cannot go back or by NaN (asked to advance by ${ms} ms)`);
    this.#now += ms;
  }

  /** Sets the time; going backwards is allowed here, to test code against clock skew. */
  set(ms: number): void {
    this.#now = ms;
  }
}
