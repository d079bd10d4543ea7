/**
 * An in-memory token bucket: a bucket holds up to `capacity` tokens and refills continuously at
 * `refillPerSecond`; a request that costs `cost` tokens is admitted when the bucket holds at least
 * that many, and then they are taken. Bursts up to `capacity` pass at once; the long-run rate is the
 * refill rate.
 */

/** What the bucket asks for the time: milliseconds, like `Date.now()`. */
export interface Clock {
  now(): number;
}

export interface TokenBucketOptions {
  /** The most tokens the bucket holds, and how many it starts with. A positive finite number. */
  readonly capacity: number;
  /** Tokens added per second, continuously (0.5 adds one token every 2 s). A positive finite number. */
  readonly refillPerSecond: number;
  /** Default: the system clock. */
  readonly clock?: Clock;
}

/** Floating-point slack: 0.1 + 0.2 tokens must count as 0.3. */
const EPSILON = 1e-9;

const systemClock: Clock = { now: () => Date.now() };

function requirePositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive finite number, got ${value}`);
  }
}

/**
 * The bucket starts full. Tokens are fractional: the bucket refills continuously, by
 * `elapsedMs * refillPerSecond / 1000`, never above `capacity`; time that runs backwards (a clock
 * that was set back) earns nothing. Compare token counts with a tiny tolerance (say 1e-9), so that
 * ten refills of 0.1 make a whole token.
 */
export class TokenBucket {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly #clock: Clock;
  #tokens: number;
  #refilledAt: number;

  /**
   * @throws {RangeError} when `capacity` or `refillPerSecond` is not a positive finite number; the
   *   message names the option and shows the bad value (`capacity must be ..., got -3`)
   */
  constructor({ capacity, refillPerSecond, clock = systemClock }: TokenBucketOptions) {
    requirePositive('capacity', capacity);
    requirePositive('refillPerSecond', refillPerSecond);
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.#clock = clock;
    this.#tokens = capacity;
    this.#refilledAt = clock.now();
  }

  /** The tokens in the bucket now (a fractional number between 0 and `capacity`). */
  tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Takes `cost` tokens and returns true when the bucket holds at least that many; otherwise takes
   * nothing and returns false.
   * @throws {RangeError} when `cost` is not a positive finite number; the message names `cost` and
   *   shows the bad value
   */
  tryTake(cost = 1): boolean {
    requirePositive('cost', cost);
    this.#refill();
    if (this.#tokens + EPSILON < cost) return false;
    this.#tokens = Math.max(0, this.#tokens - cost);
    return true;
  }

  /**
   * Milliseconds until `tryTake(cost)` would succeed: 0 when it would now, `Infinity` when `cost`
   * is more than the bucket can ever hold (a cost equal to `capacity` waits for a full bucket).
   * Rounded up to a whole millisecond. Asking takes nothing.
   * @throws {RangeError} when `cost` is not a positive finite number; the message names `cost` and
   *   shows the bad value
   */
  msUntil(cost = 1): number {
    requirePositive('cost', cost);
    if (cost > this.capacity) return Number.POSITIVE_INFINITY;
    const missing = cost - this.tokens();
    if (missing <= EPSILON) return 0;
    return Math.ceil((missing / this.refillPerSecond) * 1000 - EPSILON);
  }

  /** Adds the tokens earned since the last refill. A clock that went backwards earns nothing. */
  #refill(): void {
    const now = this.#clock.now();
    const elapsedMs = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.capacity, this.#tokens + (elapsedMs * this.refillPerSecond) / 1000);
    this.#refilledAt = now;
  }
}
