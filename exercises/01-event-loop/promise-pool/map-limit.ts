/**
 * A promise pool: run an async function over many items, at most `limit` at a time.
 *
 * `Promise.all(items.map(fn))` starts every task at once: 10 000 items means 10 000 sockets, file
 * handles or database queries in flight, and the first thing to run out (file descriptors, the
 * connection pool, the remote service's patience) fails the lot. A pool keeps a fixed number in
 * flight and starts the next task the moment one finishes.
 */

/**
 * The work to do for one item. `signal` is aborted when the pool gives up (a task failed or the
 * caller aborted), so a long task can stop early: pass it on to `fetch`, timers, streams.
 */
export type Task<T, R> = (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>;

export interface MapLimitOptions {
  /** Aborting it rejects the pool with an `AbortError` and starts no more tasks. */
  signal?: AbortSignal;
}

/**
 * Calls `fn(item, index, signal)` for every item with at most `limit` calls in flight at any moment,
 * and resolves with the results **in input order** (not completion order).
 *
 * - Starts `min(limit, items.length)` tasks at once, and a new one as soon as any task finishes:
 *   no batching, where a whole group waits for its slowest task.
 * - Fail-fast: the first task that rejects (or throws) rejects the returned promise with that same
 *   error; no new task starts after it, and the `signal` given to running tasks is aborted. Tasks
 *   that fail after that are ignored quietly (no unhandled rejection).
 * - Cancellation: when `options.signal` aborts (or is already aborted) the promise rejects at once,
 *   without waiting for running tasks, with a `DOMException` named `'AbortError'` (as `fetch` does),
 *   whose `cause` is the signal's reason; no new task starts, and running tasks' `signal` is aborted.
 * - Leaves nothing behind: its listener on `options.signal` is removed once the pool settles, so one
 *   long-lived signal can serve many calls.
 * - Empty `items` resolves with `[]` without calling `fn`.
 * - Each call is a pool of its own: two calls running at the same time each keep their own limit,
 *   items and results.
 *
 * @example await mapLimit(urls, 8, (url, _i, signal) => fetch(url, { signal }))
 * @throws {RangeError} (as a rejection) when `limit` is not a positive integer (0, -1, 1.5, NaN,
 * Infinity, a string), with a message that names `limit`
 */
export function mapLimit<T, R>(
  items: Iterable<T>,
  limit: number,
  fn: Task<T, R>,
  options: MapLimitOptions = {},
): Promise<R[]> {
  throw new Error(
    'mapLimit() is not implemented yet: open exercises/01-event-loop/promise-pool/map-limit.ts',
  );
}
