/**
 * A retry policy: call a piece of work again when it fails in a way that may pass, waiting a
 * jittered, exponentially growing time between tries, within a retry budget, and never after the
 * caller has given up.
 *
 * Like every policy in this chapter it runs *work*, a function of an `AbortSignal`, so policies
 * compose: `retry.execute((signal) => breaker.execute((s) => fetch(url, { signal: s }), signal), signal)`.
 *
 * **Which calls may be retried is the caller's decision.** A retry sends the request again: harmless
 * for a GET, a double charge for a POST that reached the server before the connection dropped. Retry
 * only idempotent operations (or ones made idempotent with an idempotency key), and say so in the
 * `retryable` predicate: it receives the error and can look at anything the caller put on it.
 */
import { fullJitter, type Random } from './backoff.js';
import type { RetryBudget } from './retry-budget.js';

/**
 * The work to run. `signal` aborts when the caller's signal aborts: pass it on to `fetch`, timers,
 * streams. `attempt` counts calls from 1 (1 = the first try, 2 = the first retry).
 */
export type Work<T> = (signal: AbortSignal, attempt: number) => Promise<T>;

/** Waits `ms` milliseconds; when `signal` aborts first, stops waiting and rejects with its reason. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** What {@link RetryPolicyOptions.onRetry} hears before each wait. */
export interface RetryEvent {
  /** The attempt that just failed (1 = the first try). */
  readonly attempt: number;
  /** How long the policy will wait before the next attempt, in milliseconds. */
  readonly delayMs: number;
  /** The error the attempt failed with. */
  readonly error: unknown;
}

/** The part of a {@link RetryBudget} the policy uses (any object with these methods will do). */
export type RetryThrottle = Pick<RetryBudget, 'canRetry' | 'recordSuccess' | 'recordFailure'>;

/** Options of {@link RetryPolicy}. */
export interface RetryPolicyOptions {
  /** Calls in all, the first one included: an integer ≥ 1 (1 = never retry). */
  readonly maxAttempts: number;
  /** The ceiling of the first wait: a finite number > 0, in milliseconds. */
  readonly baseMs: number;
  /** The largest wait: a finite number from `baseMs` to 2 147 483 647 (the longest `setTimeout`). */
  readonly capMs: number;
  /** The random source for the jitter (default `Math.random`). */
  readonly random?: Random;
  /**
   * Whether an error is worth another attempt (default {@link isRetryable}). The place to refuse
   * retries of non-idempotent work: the policy cannot know what the work did before it failed.
   */
  readonly retryable?: (error: unknown, attempt: number) => boolean;
  /** A retry budget shared by the calls to one service (see {@link RetryBudget}); default none. */
  readonly budget?: RetryThrottle;
  /** How to wait between attempts (default: a real timer that an abort cancels). */
  readonly sleep?: Sleep;
  /** Called before each wait, e.g. to log or count retries. */
  readonly onRetry?: (event: RetryEvent) => void;
}

/** Error codes of a connection that failed or broke: the request may never have reached the server. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

/**
 * HTTP statuses that say "try again later" (RFC 9110 §15): 408 Request Timeout, 429 Too Many
 * Requests, 500 Internal Server Error, 502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout.
 * Not 501 Not Implemented or 505, which will fail the same way every time, and no other 4xx.
 */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** The longest delay `setTimeout` honours (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The default `retryable` predicate. An error is retryable when
 * - its `code`, or the `code` of its `cause`, is one of {@link RETRYABLE_CODES} (Node's socket
 *   errors carry the code themselves; `fetch` rejects with `TypeError('fetch failed')` whose `cause`
 *   carries it), or
 * - its `status` is one of {@link RETRYABLE_STATUSES} (an HTTP error the caller threw with the
 *   response's status on it).
 *
 * Never retryable, whatever else they carry: an abort (`name` `'AbortError'` or `'TimeoutError'`) or
 * an exceeded deadline (`code` `'DEADLINE_EXCEEDED'`): someone decided to stop. Everything else is
 * not retryable either, a plain `TypeError` or `RangeError` above all: a bug fails the same way
 * every time. Non-objects (a thrown string, `undefined`) are not retryable.
 */
export function isRetryable(error: unknown): boolean {
  if (!isObject(error)) return false;
  if (error.name === 'AbortError' || error.name === 'TimeoutError' || error.code === 'DEADLINE_EXCEEDED') {
    return false;
  }
  if (typeof error.status === 'number' && RETRYABLE_STATUSES.has(error.status)) return true;
  return hasRetryableCode(error) || (isObject(error.cause) && hasRetryableCode(error.cause));
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = `(?:${DAYS.join('|')})`;
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete, but recipients must accept it) */
const RFC850_DATE = new RegExp(`^(?:${LONG_DAYS.join('|')}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** `Sun Nov  6 08:49:37 1994` (C's asctime(); obsolete; UTC though it does not say so) */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * Parses a `Retry-After` header value (RFC 9110 §10.2.3) into the milliseconds to wait from `nowMs`.
 *
 * - delay-seconds, a run of digits (`120`): that many seconds, in milliseconds (120 000).
 * - an HTTP-date in any of the three formats RFC 9110 §5.6.7 tells a recipient to accept, all UTC
 *   whatever the machine's time zone: IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850
 *   `Sunday, 06-Nov-94 08:49:37 GMT` (a two-digit year is the latest year with those digits that is
 *   at most 50 years after `nowMs`'s year) and asctime `Sun Nov  6 08:49:37 1994`: the milliseconds
 *   from `nowMs` to that time, or 0 when it has passed. The day name is not checked against the date;
 *   a date that does not exist (31 Feb, 29 Feb 2026, 24:00, minute 60) is not a date; second 60 (a
 *   leap second) is, and counts as the next minute's first second.
 * - spaces and tabs around the value are ignored; anything else gives `undefined`: `null` or
 *   `undefined` (no header), an empty value, a sign, a fraction, an exponent or hex (`-1`, `1.5`,
 *   `1e3`, `0x10`), an ISO 8601 date, a date whose zone is not the literal `GMT` (`UTC`, `+0000`).
 *
 * @param value the header's value, as `headers.get('retry-after')` returns it
 * @param nowMs the current time in milliseconds since the epoch (`Date.now()`)
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null) return undefined;
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = parseHttpDate(text, nowMs);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

/** An HTTP-date in one of its three formats, as milliseconds since the epoch; `undefined` if it is not one. */
function parseHttpDate(text: string, nowMs: number): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    const [, day, month, year, h, m, s] = match;
    return utc(Number(year), month, Number(day), h, m, s);
  }
  match = RFC850_DATE.exec(text);
  if (match) {
    const [, day, month, yy, h, m, s] = match;
    return utc(fullYear(Number(yy), new Date(nowMs).getUTCFullYear()), month, Number(day), h, m, s);
  }
  match = ASCTIME_DATE.exec(text);
  if (match) {
    const [, month, day, h, m, s, year] = match;
    return utc(Number(year), month, Number(day), h, m, s);
  }
  return undefined;
}

/** The latest year ending in `yy` that is at most 50 years after `nowYear` (RFC 9110 §5.6.7). */
function fullYear(yy: number, nowYear: number): number {
  const latest = nowYear + 50;
  return latest - ((((latest - yy) % 100) + 100) % 100);
}

/**
 * The instant in UTC, or `undefined` when the fields name no real time (31 Feb, 24:00, minute 60).
 * Second 60 is a leap second: POSIX time has none, so it counts as the first second of the next minute.
 */
function utc(
  year: number,
  monthName: string | undefined,
  day: number,
  hh: string | undefined,
  mm: string | undefined,
  ss: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf(monthName ?? '');
  const [hour, minute, second] = [Number(hh), Number(mm), Number(ss)];
  // Day 0 of the next month is the last day of this one.
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 60) return undefined;
  return Date.UTC(year, month, day, hour, minute, second);
}

/**
 * Runs work with retries.
 *
 * - Calls `work(signal, attempt)` at most `maxAttempts` times in all, one call at a time.
 *   A work that throws synchronously instead of returning a promise has failed that attempt, just
 *   as if it had rejected; `execute` itself never throws, it rejects.
 * - After a failure it retries only when the `retryable` predicate says yes, attempts remain, and
 *   the budget (if any) allows it. Before retry `n` (n = 0 for the first retry) it waits
 *   `fullJitter(n, baseMs, capMs, random)` through `sleep(ms, signal)`, a wait in
 *   [0, min(capMs, baseMs · 2ⁿ)).
 * - `Retry-After`: when the error has a `retryAfterMs` property (a finite number ≥ 0, e.g. from
 *   {@link parseRetryAfter}), the policy waits exactly that long instead of the jittered delay, and
 *   gives up at once when it is more than `capMs` (the server asks for more than we will wait).
 *   Any other value there (NaN, negative, Infinity, a string) is ignored: the jittered delay applies.
 * - The budget: the first attempt is never throttled. Every attempt reports its outcome: a success
 *   → `recordSuccess()`, an error the predicate calls retryable → `recordFailure()`, then a retry
 *   happens only if `canRetry()` says yes. An error that is not retryable reports nothing (the
 *   service answered; a 404 says nothing about its health), nor does an abort.
 * - Giving up rethrows the **last** error, unchanged (the same object, not a wrapper).
 * - Abort: `signal` already aborted → rejects with `signal.reason` without calling work. When it
 *   aborts during a wait or an attempt, `execute` rejects with `signal.reason` at once (even if the
 *   work or an injected `sleep` ignores the signal), makes no further attempt, and reports nothing
 *   to the budget. The default sleep clears its timer when aborted.
 * - Leaves nothing behind: once `execute` settles, none of its listeners remain on `signal`, so one
 *   long-lived signal can serve many calls.
 */
export class RetryPolicy {
  /** Calls in all, as given. */
  readonly maxAttempts: number;
  /** The first wait's ceiling, as given. */
  readonly baseMs: number;
  /** The largest wait, as given. */
  readonly capMs: number;
  readonly #random: Random;
  readonly #retryable: (error: unknown, attempt: number) => boolean;
  readonly #budget: RetryThrottle | undefined;
  readonly #sleep: Sleep;
  readonly #onRetry: ((event: RetryEvent) => void) | undefined;

  /**
   * @throws {RangeError} naming the option and its value when `maxAttempts` is not an integer ≥ 1,
   * `baseMs` is not a finite number > 0, or `capMs` is not a finite number from `baseMs` to
   * 2 147 483 647
   */
  constructor(options: RetryPolicyOptions) {
    const { maxAttempts, baseMs, capMs } = options;
    if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
      throw new RangeError(`maxAttempts must be an integer ≥ 1, got ${maxAttempts}`);
    }
    if (!(Number.isFinite(baseMs) && baseMs > 0)) {
      throw new RangeError(`baseMs must be a finite number > 0, got ${baseMs}`);
    }
    if (!(capMs >= baseMs && capMs <= MAX_TIMEOUT_MS)) {
      throw new RangeError(
        `capMs must be a number from baseMs (${baseMs}) to ${MAX_TIMEOUT_MS}, got ${capMs}`,
      );
    }
    this.maxAttempts = maxAttempts;
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.#random = options.random ?? Math.random;
    this.#retryable = options.retryable ?? isRetryable;
    this.#budget = options.budget;
    this.#sleep = options.sleep ?? sleep;
    this.#onRetry = options.onRetry;
  }

  /**
   * Runs `work` until it succeeds, fails in a way not worth retrying, or the attempts, the budget or
   * the caller's patience run out (see the class).
   * @returns what the successful attempt resolved with
   * @throws the last attempt's error, or `signal.reason` once `signal` aborts (as a rejection)
   */
  async execute<T>(work: Work<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const workSignal = signal ?? new AbortController().signal;
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        const value = await untilAborted(() => work(workSignal, attempt), signal);
        this.#budget?.recordSuccess();
        return value;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        failure = error;
      }
      const delayMs = this.#recordAndDecide(failure, attempt);
      if (delayMs === undefined) throw failure;
      this.#onRetry?.({ attempt, delayMs, error: failure });
      await untilAborted(() => this.#sleep(delayMs, workSignal), signal);
    }
  }

  /** Reports a failed attempt to the budget; returns how long to wait before the next, or `undefined` to give up. */
  #recordAndDecide(error: unknown, attempt: number): number | undefined {
    if (!this.#retryable(error, attempt)) return undefined;
    this.#budget?.recordFailure();
    if (attempt >= this.maxAttempts) return undefined;
    if (this.#budget && !this.#budget.canRetry()) return undefined;
    const retryAfterMs = retryAfterOf(error);
    if (retryAfterMs !== undefined) return retryAfterMs <= this.capMs ? retryAfterMs : undefined;
    return fullJitter(attempt - 1, this.baseMs, this.capMs, this.#random);
  }
}

/** The default sleep: a timer that an abort clears, rejecting with the signal's reason. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => reject(signal.reason);
    setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `start()` and settles as it does, or rejects with `signal.reason` as soon as `signal` aborts,
 * whichever comes first; a synchronous throw from `start` becomes a rejection. Its listener is
 * removed when it settles.
 */
async function untilAborted<T>(start: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return start();
  // An abort that already happened fires no event: check first.
  signal.throwIfAborted();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
  });
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([start(), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The error's `retryAfterMs`, when it is a usable number of milliseconds. */
function retryAfterOf(error: unknown): number | undefined {
  if (!isObject(error)) return undefined;
  const { retryAfterMs } = error;
  return typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
    ? retryAfterMs
    : undefined;
}

function hasRetryableCode(error: Record<string, unknown>): boolean {
  return typeof error.code === 'string' && RETRYABLE_CODES.has(error.code);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
