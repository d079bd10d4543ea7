/**
 * Two load generators, and the one difference between them that decides what their percentiles mean.
 *
 * **Closed loop** (autocannon, ab, wrk, JMeter's thread groups): `concurrency` users each send a
 * request, wait for its response, and send the next. When the server stalls, the users wait with it:
 * during a 1 s stall each sends one request instead of a thousand, so the histogram holds one slow
 * sample where real traffic (which does not wait for your server) would have met a thousand. The p99
 * of a server that is frozen 10 % of the time comes out at 1 ms. Gil Tene named this *coordinated
 * omission*: the tester coordinates with the system under test and omits exactly the bad samples.
 *
 * **Open loop** (wrk2, k6's arrival-rate executors, artillery's arrival phases, Schroeder et al.'s
 * "open system model"): requests arrive on a schedule fixed in advance, at `ratePerSecond`, whatever
 * the responses do, and each one's latency is measured from the time it was *meant* to be sent. A
 * request the generator itself sent late (its event loop was busy, or `maxInFlight` held it back)
 * still counts the delay, because a user would have waited through it.
 *
 * Latencies are recorded in whole microseconds (clock milliseconds × 1000, rounded), so a fast local
 * server's sub-millisecond responses keep three significant digits.
 */
import { LatencyHistogram } from './histogram.js';

/**
 * A source of time in milliseconds, and a way to wait for one. The generators read time and wait only
 * through it, so a test can drive them on a virtual clock.
 */
export interface LoadClock {
  /** Now, in milliseconds; never goes backwards. */
  now(): number;
  /**
   * Resolves once `now() >= t` (at once when it already is). With a `signal`, rejects with the
   * signal's reason when it is aborted first.
   */
  sleepUntil(t: number, signal?: AbortSignal): Promise<void>;
}

/** What a run measured. */
export interface LoadResult {
  /** Calls made. */
  sent: number;
  /** Calls whose promise resolved. */
  completed: number;
  /** Calls that threw or whose promise rejected; `completed + errors === sent` once a run returns. */
  errors: number;
  /**
   * The latency of every call, errors included, in microseconds (`latency.count === sent`). A failed
   * call is recorded because someone waited for it too: leaving timeouts out would hide exactly the
   * slowest requests.
   */
  latency: LatencyHistogram;
  /** Clock milliseconds from the start of the run until the last call settled. */
  durationMs: number;
}

/** Options of {@link openLoop}. */
export interface OpenLoopOptions {
  /** One request; its promise settling is the response. Give it its own timeout: a run waits for it. */
  call: () => Promise<unknown>;
  /** Arrivals per second: a positive finite number. */
  ratePerSecond: number;
  /** How long arrivals go on, in ms: a positive finite number. */
  durationMs: number;
  /**
   * The most calls outstanding at once: a positive integer, or `Infinity` (the default: a true open
   * loop). When this many are outstanding, the next arrival waits for one to settle and is then sent
   * late; nothing is dropped, and its latency still counts from its intended time.
   */
  maxInFlight?: number;
  /** Default: {@link realClock}. */
  clock?: LoadClock;
}

/** Options of {@link closedLoop}. */
export interface ClosedLoopOptions {
  /** One request; its promise settling is the response. Give it its own timeout: a run waits for it. */
  call: () => Promise<unknown>;
  /** Users, each with one call outstanding at a time: a positive integer. */
  concurrency: number;
  /** How long users go on starting calls, in ms: a positive finite number. */
  durationMs: number;
  /** Default: {@link realClock}. */
  clock?: LoadClock;
}

/**
 * The real clock: `now()` is `performance.now()` (monotonic, unlike `Date.now()`), and `sleepUntil`
 * waits with `setTimeout` (resolving at once for a time already past, and never before `t`).
 */
export const realClock: LoadClock = {
  now: () => performance.now(),
  sleepUntil(t, signal) {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const delay = t - performance.now();
    if (delay <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      // setTimeout may fire up to a millisecond early (it rounds), so wait one more than asked.
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.ceil(delay) + 1);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

const MICROSECONDS_PER_MS = 1000;

/** A clock interval in ms as the whole microseconds the histogram records. */
const microseconds = (ms: number): number => Math.max(0, Math.round(ms * MICROSECONDS_PER_MS));

function requirePositive(name: string, value: number, integer: boolean, infinityAllowed = false): void {
  const ok =
    value > 0 &&
    (Number.isFinite(value) ? !integer || Number.isInteger(value) : infinityAllowed && value === Infinity);
  if (!ok) {
    const kind = integer ? 'a positive integer' : 'a positive finite number';
    throw new RangeError(`${name} must be ${kind}${infinityAllowed ? ' or Infinity' : ''}, got ${value}`);
  }
}

/** Calls `call`, turning a synchronous throw into a rejection. */
function invoke(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * An open-loop run: the i-th call (i = 0, 1, ...) is due at `start + i × 1000 / ratePerSecond` ms for
 * every such time before `start + durationMs`, which is `⌈ratePerSecond × durationMs / 1000⌉` calls
 * whatever the server does. Each call is made at its due time, or as soon after as the clock wakes the
 * generator (and `maxInFlight` allows); a late call never delays the ones after it, since every due
 * time is fixed from `start`, not from the previous call. The generator never waits for a response
 * before sending the next call. A call's latency is the time from its *due* time to its settling,
 * errors included (see {@link LoadResult}). Resolves once every call has settled; rejects with a
 * `RangeError` naming the option when an option is out of range, before any call.
 */
export async function openLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const { call, ratePerSecond, durationMs, maxInFlight = Infinity, clock = realClock } = options;
  requirePositive('ratePerSecond', ratePerSecond, false);
  requirePositive('durationMs', durationMs, false);
  requirePositive('maxInFlight', maxInFlight, true, true);

  const latency = new LatencyHistogram();
  const total = Math.ceil((ratePerSecond * durationMs) / 1000);
  const start = clock.now();
  const outstanding = new Set<Promise<void>>();
  let completed = 0;
  let errors = 0;

  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / ratePerSecond;
    await clock.sleepUntil(due);
    if (outstanding.size >= maxInFlight) continue; // the server is saturated: skip this arrival
    const settled: Promise<void> = invoke(call).then(
      () => {
        completed++;
      },
      () => {
        errors++;
      },
    );
    const done = settled.then(() => {
      latency.record(microseconds(clock.now() - due));
      outstanding.delete(done);
    });
    outstanding.add(done);
  }
  await Promise.all(outstanding);
  return { sent: completed + errors, completed, errors, latency, durationMs: clock.now() - start };
}

/**
 * A closed-loop run: `concurrency` users, each of which, while `now() < start + durationMs`, makes a
 * call, waits for it to settle, and at once makes the next. A call's latency is the time from when it
 * was made to its settling, errors included. When the server stalls, so does every user: fewer calls
 * are made, which is the point of the comparison. Resolves once every user has stopped; rejects with
 * a `RangeError` naming the option when an option is out of range, before any call. On a virtual
 * clock, a call must move the clock on (a call that takes no time would loop forever).
 */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const { call, concurrency, durationMs, clock = realClock } = options;
  requirePositive('concurrency', concurrency, true);
  requirePositive('durationMs', durationMs, false);

  const latency = new LatencyHistogram();
  const start = clock.now();
  const end = start + durationMs;
  let sent = 0;
  let completed = 0;
  let errors = 0;

  const user = async (): Promise<void> => {
    while (clock.now() < end) {
      const sentAt = clock.now();
      sent++;
      try {
        await call();
        completed++;
      } catch {
        errors++;
      }
      latency.record(microseconds(clock.now() - sentAt));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, user));
  return { sent, completed, errors, latency, durationMs: clock.now() - start };
}
