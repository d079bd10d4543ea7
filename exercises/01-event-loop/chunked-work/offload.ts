/**
 * Offloading: run CPU-heavy work on a worker thread, so the event loop never waits for it.
 *
 * Chunking keeps the loop responsive but still spends the loop's own time. A `worker_threads`
 * Worker is a second JavaScript thread with its own event loop: a 2-second computation there costs
 * the main thread nothing but the message that carries the result back. Starting a worker costs
 * tens of milliseconds and megabytes of memory, so real servers keep a pool of them (see the
 * chapter); this exercise is the part every pool is built on: one job, one worker, and no worker
 * left behind whatever happens.
 */

export interface WorkerRunOptions {
  /**
   * Aborting it terminates the worker and rejects with `signal.reason`. `AbortSignal.timeout(ms)`
   * makes this a time limit (its reason is a `DOMException` named `'TimeoutError'`).
   */
  signal?: AbortSignal;
}

/**
 * Runs the worker script `script` (a module: an absolute file URL or path) with `workerData: input`
 * and resolves with the **first message** the worker posts (`parentPort.postMessage(result)`).
 *
 * Whatever happens, the worker is terminated when the promise settles; no thread is left running:
 * - result: resolve with the first message, then terminate the worker (a worker can keep itself
 *   alive after posting, with a timer or an open handle);
 * - an uncaught error in the worker (the Worker's `'error'` event): reject with that error;
 * - the worker exits before posting anything (whatever its exit code, 0 included): reject with an
 *   `Error` whose message names the exit code;
 * - `options.signal` aborts (or is already aborted): terminate the worker and reject with
 *   `signal.reason`; an already aborted signal starts no worker at all.
 *
 * Remove the abort listener when done, so a long-lived signal does not collect listeners.
 */
export function runInWorker<R>(
  script: URL | string,
  input: unknown,
  options: WorkerRunOptions = {},
): Promise<R> {
  throw new Error(
    'runInWorker() is not implemented yet: open exercises/01-event-loop/chunked-work/offload.ts',
  );
}
