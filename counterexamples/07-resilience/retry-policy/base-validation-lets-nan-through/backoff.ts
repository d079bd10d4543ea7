/**
 * Backoff schedules for retries: how long to wait before retry number `retry` (0 = the first retry).
 *
 * Every schedule starts from the exponential ceiling `min(capMs, baseMs · 2^retry)` and spreads the
 * waits of many clients at random below it, so that clients that failed together do not all come
 * back together. The three jitters are the ones Marc Brooker measured in "Exponential Backoff And
 * Jitter" (AWS Architecture Blog, 2015): full jitter does the least work in total, equal jitter keeps
 * a floor under each wait, decorrelated jitter grows from the previous wait instead of a counter.
 *
 * The random source is injected so that tests (and simulations) can be repeated exactly.
 */

/** A source of randomness: each call returns a number in [0, 1), like `Math.random`. */
export type Random = () => number;

/**
 * The largest wait before retry number `retry`: `min(capMs, baseMs · 2^retry)`, in milliseconds.
 * Retry 0 (the first retry) gives `baseMs`, retry 1 gives `2 · baseMs`, and so on up to `capMs`.
 * Any retry number, however large (2000, 2^40), gives `capMs`: never `Infinity`, `NaN`, a negative
 * number or a value that wrapped around.
 *
 * @param retry which retry: a non-negative integer (0 = the first retry)
 * @param baseMs the first ceiling: a finite number > 0
 * @param capMs the largest ceiling: a finite number ≥ `baseMs`
 * @throws {RangeError} naming the argument and its value (`retry must be a non-negative integer, got
 * -1`) when `retry`, `baseMs` or `capMs` is out of range (NaN and ±Infinity included)
 */
export function exponentialCeiling(retry: number, baseMs: number, capMs: number): number {
  requireRetry(retry);
  requireBaseAndCap(baseMs, capMs);
  // 2 ** retry is Infinity from retry 1024 on, and baseMs > 0, so the product is Infinity, never NaN:
  // Math.min brings it back to the cap. (A bit shift, 1 << retry, wraps around at 32.)
  return Math.min(capMs, baseMs * 2 ** retry);
}

/**
 * Full jitter: `random() · exponentialCeiling(retry, baseMs, capMs)`, a wait in [0, ceiling).
 *
 * @param random the random source (default `Math.random`); it must return a number in [0, 1)
 * @throws {RangeError} as {@link exponentialCeiling} does, and naming `random()` and the value when
 * the random source returns something outside [0, 1) (NaN included)
 */
export function fullJitter(
  retry: number,
  baseMs: number,
  capMs: number,
  random: Random = Math.random,
): number {
  const ceiling = exponentialCeiling(retry, baseMs, capMs);
  return draw(random) * ceiling;
}

/**
 * Equal jitter: half the ceiling for sure, the other half at random:
 * `ceiling / 2 + random() · ceiling / 2`, a wait in [ceiling / 2, ceiling] (the top only by rounding:
 * for `random()` within 2^-52 of 1 the sum rounds up to the ceiling).
 *
 * @throws {RangeError} as {@link fullJitter} does
 */
export function equalJitter(
  retry: number,
  baseMs: number,
  capMs: number,
  random: Random = Math.random,
): number {
  const half = exponentialCeiling(retry, baseMs, capMs) / 2;
  return half + draw(random) * half;
}

/**
 * Decorrelated jitter: the next wait grows from the previous one, not from a retry counter:
 * `min(capMs, baseMs + random() · (3 · previousMs − baseMs))`, a wait in [baseMs, min(capMs, 3 ·
 * previousMs)] (3 · previousMs only by rounding, as in {@link equalJitter}). Start the chain with
 * `previousMs = baseMs`, then pass each result back in.
 *
 * @param previousMs the previous wait: a finite number ≥ `baseMs`
 * @throws {RangeError} naming the argument and its value when `previousMs`, `baseMs` or `capMs` is out
 * of range, and naming `random()` when the random source returns something outside [0, 1)
 */
export function decorrelatedJitter(
  previousMs: number,
  baseMs: number,
  capMs: number,
  random: Random = Math.random,
): number {
  requireBaseAndCap(baseMs, capMs);
  if (!(Number.isFinite(previousMs) && previousMs >= baseMs)) {
    throw new RangeError(`previousMs must be a finite number ≥ baseMs (${baseMs}), got ${previousMs}`);
  }
  return Math.min(capMs, baseMs + draw(random) * (3 * previousMs - baseMs));
}

function requireRetry(retry: number): void {
  if (!(Number.isInteger(retry) && retry >= 0)) {
    throw new RangeError(`retry must be a non-negative integer, got ${retry}`);
  }
}

function requireBaseAndCap(baseMs: number, capMs: number): void {
  if (baseMs <= 0) {
    throw new RangeError(`baseMs must be a finite number > 0, got ${baseMs}`);
  }
  if (capMs < baseMs) {
    throw new RangeError(`capMs must be a finite number ≥ baseMs (${baseMs}), got ${capMs}`);
  }
}

/** One number from the random source, checked: a source outside [0, 1) would break every range above. */
function draw(random: Random): number {
  const value = random();
  if (!(value >= 0 && value < 1)) {
    throw new RangeError(`random() must return a number in [0, 1), got ${value}`);
  }
  return value;
}
