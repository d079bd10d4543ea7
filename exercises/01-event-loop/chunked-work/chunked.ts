/**
 * Partitioning: do a long job on the event loop in slices, so everything else still gets a turn.
 *
 * A loop over 1 000 000 items that takes 400 ms holds the only JavaScript thread for 400 ms: no
 * request is answered, no timer fires, no socket is read. Cut the work into chunks of a few
 * milliseconds and yield to the event loop between them, and the same 400 ms of work leaves the
 * process responsive: timers and I/O callbacks run between the chunks.
 */

export interface ChunkOptions {
  /**
   * How long one chunk may run before yielding, in milliseconds. Finite, > 0. Default 8: short
   * enough that a 10 ms timer is never much more than one chunk late, long enough that the cost of
   * yielding (a few microseconds) is noise.
   */
  budgetMs?: number;
  /** Checked between chunks: once aborted, no more items are processed. */
  signal?: AbortSignal;
}

/**
 * Maps every item through `fn(item, index)` and resolves with the results in input order, like
 * `items.map(fn)`, but never holds the event loop for much longer than `budgetMs` at a time.
 *
 * - Measure time while you work (`performance.now()`), not items: item costs vary, a budget does not.
 *   Check the clock after every item; a chunk runs until it has used its budget, then yields to the
 *   event loop with `setImmediate` before the next.
 *   (`await Promise.resolve()` does not yield to the loop: it only queues a microtask, and timers
 *   and I/O still wait. `setTimeout(0)` yields, but waits at least 1 ms each time.)
 * - A chunk always processes at least one item, however slow it is.
 * - If `fn` throws, the promise rejects with that error and no later item is processed.
 * - If `options.signal` is aborted (before the call or between chunks), the promise rejects with
 *   `signal.reason` (as `fetch` does) and no later item is processed.
 *
 * @throws {RangeError} (as a rejection) when `budgetMs` is not a finite number above 0, with a
 * message that names `budgetMs`
 */
export function mapInChunks<T, R>(
  items: readonly T[],
  fn: (item: T, index: number) => R,
  options: ChunkOptions = {},
): Promise<R[]> {
  throw new Error(
    'mapInChunks() is not implemented yet: open exercises/01-event-loop/chunked-work/chunked.ts',
  );
}
