/**
 * A retry budget: gRPC's retry throttling (proposal A6, "gRPC Retry Design", § Throttling retry
 * attempts and hedged RPCs), one per downstream service.
 *
 * Retries are what turns a dependency's bad minute into an outage: when it fails because it is
 * overloaded, every client that retries three times multiplies its load by three. The budget lets
 * retries through while most calls succeed and stops them when failures pile up, without a clock:
 *
 * - the bucket starts full, at `maxTokens`;
 * - each failed attempt takes 1 token (never below 0), each successful one adds `tokenRatio` (never
 *   above `maxTokens`);
 * - a retry is allowed only while the tokens are **above** `maxTokens / 2`.
 *
 * With `tokenRatio` 0.1, a retry costs as much as ten successes earn: in the steady state at most
 * about one call in ten is a retry (the Google SRE book's 10 % retry budget, ch. 22).
 *
 * Tokens are counted in thousandths, as gRPC does, so that adding 0.1 ten times is exactly 1
 * (in floating point it is 0.9999999999999999, and a threshold test on it goes the wrong way).
 */

/** Options of {@link RetryBudget}. */
export interface RetryBudgetOptions {
  /** The size of the bucket, and the tokens it starts with: an integer from 1 to 1000 (as in gRPC). */
  readonly maxTokens: number;
  /** Tokens a success adds: a number > 0 with at most 3 decimals (0.1, 1.6, 0.125; not 0.0001). */
  readonly tokenRatio: number;
}

/** Thousandths per token. */
const MILLI = 1000;

/** The gRPC retry throttle. Share one per downstream service; it has no timers and no clock. */
export class RetryBudget {
  /** The bucket's size, as given. */
  readonly maxTokens: number;
  /** Tokens a success adds, as given. */
  readonly tokenRatio: number;
  readonly #maxMilli: number;
  readonly #ratioMilli: number;
  #milli: number;

  /**
   * @throws {RangeError} naming the option and its value when `maxTokens` is not an integer from 1 to
   * 1000, or `tokenRatio` is not a finite number > 0 with at most 3 decimals
   */
  constructor({ maxTokens, tokenRatio }: RetryBudgetOptions) {
    if (!(Number.isInteger(maxTokens) && maxTokens >= 1 && maxTokens <= 1000)) {
      throw new RangeError(`maxTokens must be an integer from 1 to 1000, got ${maxTokens}`);
    }
    this.maxTokens = maxTokens;
    this.tokenRatio = tokenRatio;
    this.#maxMilli = maxTokens * MILLI;
    this.#ratioMilli = thousandthsOf(tokenRatio);
    this.#milli = this.#maxMilli;
  }

  /** The tokens now: a number from 0 to `maxTokens`, exact to the thousandth. */
  get tokens(): number {
    return this.#milli / MILLI;
  }

  /** Whether a retry may be sent now: the tokens are above `maxTokens / 2` (at exactly half: no). */
  canRetry(): boolean {
    return this.#milli * 2 > this.#maxMilli;
  }

  /** An attempt succeeded: adds `tokenRatio`, up to `maxTokens`. */
  recordSuccess(): void {
    this.#milli = Math.min(this.#maxMilli, this.#milli + this.#ratioMilli);
  }

  /** An attempt failed in a way worth retrying: takes 1 token, down to 0. */
  recordFailure(): void {
    this.#milli = Math.max(0, this.#milli - MILLI);
  }
}

/** `tokenRatio` in whole thousandths of a token. */
function thousandthsOf(tokenRatio: number): number {
  const milli = Math.round(tokenRatio * MILLI);
  if (!(Number.isFinite(tokenRatio) && milli > 0)) {
    throw new RangeError(`tokenRatio must be a number > 0 with at most 3 decimals, got ${tokenRatio}`);
  }
  return milli;
}
