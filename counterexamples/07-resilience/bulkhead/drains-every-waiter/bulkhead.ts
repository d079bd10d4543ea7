/**
 * A bulkhead: a fixed number of slots for calls to one dependency, and a short, bounded line in
 * front of them. Beyond that, callers are turned away at once.
 *
 * A ship's bulkheads keep one flooded compartment from sinking the ship. In a service, one slow
 * dependency would otherwise collect every request the process has: each waits on a socket, holds
 * memory and keeps its caller waiting, until the process that only had one problem has all of them.
 * Give each dependency its own bulkhead and a slow one fills only its own slots; the rest of the
 * service keeps working, and callers of the slow one fail fast instead of queueing without end.
 *
 * Like every policy in this chapter it runs *work*, a function of an `AbortSignal`, so it composes
 * with the others: `bulkhead.execute((signal) => retry.execute((s) => fetch(url, { signal: s }), signal))`.
 */

/** What the bulkhead asks for the time: milliseconds (only differences matter). */
export interface Clock {
  now(): number;
}

/** What a work learns when it starts. */
export interface WorkInfo {
  /** How long it waited in the queue, in milliseconds on the bulkhead's clock (0 if it started at once). */
  readonly queuedMs: number;
}

/**
 * The work to run in a slot. `signal` aborts when the caller's signal aborts: pass it on to `fetch`,
 * timers, streams, so that a caller who gives up also frees the slot sooner.
 */
export type Work<T> = (signal: AbortSignal, info: WorkInfo) => Promise<T>;

/** Options of {@link Bulkhead}. */
export interface BulkheadOptions {
  /** Works running at once, at most: an integer ≥ 1. */
  readonly concurrency: number;
  /** Callers waiting for a slot, at most: an integer ≥ 0 (0 = no queue: full means rejected). */
  readonly queue: number;
  /** Measures the wait in the queue (default `performance.now`). */
  readonly clock?: Clock;
}

/**
 * The rejection of a call that found every slot busy and the queue full. `name` is
 * `'BulkheadRejectedError'`, `code` is `'BULKHEAD_FULL'`; `concurrency` and `queue` are the bulkhead's limits, and the message states them
 * as `concurrency <n>` and `queue <n>`.
 */
export class BulkheadRejectedError extends Error {
  readonly code = 'BULKHEAD_FULL';

  constructor(
    readonly concurrency: number,
    readonly queue: number,
  ) {
    super(
      `bulkhead full: all slots busy and the queue full (concurrency ${concurrency}, queue ${queue}); ` +
        'the dependency behind it is slow or overloaded, try again later',
    );
    this.name = 'BulkheadRejectedError';
  }
}

const performanceClock: Clock = { now: () => performance.now() };

/** A caller waiting in the queue. */
interface Waiter {
  /** Takes a slot and runs the caller's work (called when the waiter leaves the queue for a slot). */
  start(): void;
}

/**
 * At most `concurrency` works run at once and at most `queue` callers wait, in arrival order (FIFO).
 *
 * - `execute(work, signal?)` runs the work at once when a slot is free; otherwise it waits in the
 *   queue; when the queue is full too, the returned promise rejects at once with a
 *   {@link BulkheadRejectedError} and the work is never called.
 * - A slot is freed when its work settles: resolves, rejects, or throws synchronously (a throw
 *   becomes the rejection of `execute`, which never throws itself). The freed slot goes to the
 *   longest-waiting caller at once, before any caller that arrives later.
 * - Once started, the work owns the outcome: `execute` settles as the work settles, and the slot is
 *   held until then, even if the caller's signal aborts (a work that ignores its signal keeps its
 *   slot: the limit is on work that is actually running).
 * - Abort while waiting: the caller leaves the queue at once (its place is free for the next
 *   arrival, `queued` drops), `execute` rejects with `signal.reason`, and the work is never called.
 *   A signal that is already aborted rejects with its reason at once, whether or not a slot is free.
 * - Leaves nothing behind: no listener stays on the caller's signal once its work starts, settles or
 *   leaves the queue, so one long-lived signal can serve many calls.
 * - Every bulkhead has its own slots and queue: two bulkheads never share them.
 */
export class Bulkhead {
  /** The most works running at once, as given. */
  readonly concurrency: number;
  /** The most callers waiting, as given. */
  readonly queue: number;
  readonly #clock: Clock;
  /** Waiting callers in arrival order; a Set keeps insertion order and removes an aborted one in O(1). */
  readonly #waiting = new Set<Waiter>();
  #running = 0;

  /**
   * @throws {RangeError} naming the option and its value when `concurrency` is not an integer ≥ 1 or
   * `queue` is not an integer ≥ 0 (NaN, Infinity and fractions included)
   */
  constructor({ concurrency, queue, clock = performanceClock }: BulkheadOptions) {
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
      throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
    }
    if (!(Number.isInteger(queue) && queue >= 0)) {
      throw new RangeError(`queue must be an integer ≥ 0, got ${queue}`);
    }
    this.concurrency = concurrency;
    this.queue = queue;
    this.#clock = clock;
  }

  /** Works running now (0 to `concurrency`). */
  get running(): number {
    return this.#running;
  }

  /** Callers waiting now (0 to `queue`). */
  get queued(): number {
    return this.#waiting.size;
  }

  /**
   * Runs `work` in a slot (see the class for the rules).
   * @returns what the work resolves with
   * @throws (as a rejection) the work's error; {@link BulkheadRejectedError} when full;
   * `signal.reason` when the signal aborts before the work starts
   */
  execute<T>(work: Work<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#running < this.concurrency) return this.#run(work, signal, 0);
    if (this.#waiting.size >= this.queue) {
      return Promise.reject(new BulkheadRejectedError(this.concurrency, this.queue));
    }
    return new Promise<T>((resolve, reject) => {
      const enqueuedAt = this.#clock.now();
      const onAbort = () => {
        this.#waiting.delete(waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#run(work, signal, this.#clock.now() - enqueuedAt).then(resolve, reject);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.add(waiter);
    });
  }

  /** Takes a slot, runs the work, and gives the slot to the next waiter when the work settles. */
  #run<T>(work: Work<T>, signal: AbortSignal | undefined, queuedMs: number): Promise<T> {
    this.#running++;
    let result: Promise<T>;
    try {
      result = Promise.resolve(work(signal ?? new AbortController().signal, { queuedMs }));
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.finally(() => {
      this.#running--;
      this.#startNext();
    });
  }

  /** Hands free slots to the longest-waiting callers. */
  #startNext(): void {
    for (const waiter of this.#waiting) {
      this.#waiting.delete(waiter);
      waiter.start();
    }
  }
}
