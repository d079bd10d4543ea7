/**
 * The primary of a `node:cluster`: it forks one worker process per slot, all sharing one port. On
 * Linux the primary accepts every connection and hands it to the workers in turn
 * (`cluster.SCHED_RR`, Node docs "Cluster": "How it works"). This module keeps the slots filled:
 *
 * - a worker that exits on its own (a crash, a `SIGKILL`) is replaced, after a backoff, within a
 *   restart budget, so that a worker that dies at startup is not forked forever;
 * - `restart()` replaces the workers one at a time, and stops an old worker only once its
 *   replacement listens: there is never a moment with a slot empty, so no request fails;
 * - stopping a worker is `worker.disconnect()`: Node closes the worker's server, the requests in
 *   flight are answered, and the worker exits by itself. Only one that takes longer than
 *   `shutdownTimeoutMs` is killed.
 *
 * It owns no Redis keys: whatever the workers share lives in Redis through them (`app.ts`).
 */
/** What {@link startCluster} needs. */
export interface ClusterOptions {
  /** How many workers to run: an integer from 1 to 64 (use `os.availableParallelism()` for one per core). */
  readonly workers: number;
  /** The worker's entry file, an absolute path (`cluster.setupPrimary({ exec })`). */
  readonly exec: string;
  /** Arguments for the worker's entry (`process.argv.slice(2)` in the worker). */
  readonly args?: readonly string[];
  /** Added to every worker's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The restart budget: how many crashed workers are replaced within `restartWindowMs` (default 5).
   * The crash after that is not replaced: the cluster gives up forking (see {@link startCluster}).
   */
  readonly maxRestarts?: number;
  /** The window of the restart budget, in ms (default 60 000). */
  readonly restartWindowMs?: number;
  /**
   * The wait before replacing a crashed worker, in ms (default 100): the k-th crash within the
   * window waits `backoffMs × 2^(k−1)`, at most {@link MAX_BACKOFF_MS}.
   */
  readonly backoffMs?: number;
  /** A new worker must listen within this many ms (default 10 000), or it is killed and counts as a crash. */
  readonly listenTimeoutMs?: number;
  /** A disconnected worker that has not exited after this many ms is killed with `SIGKILL` (default 30 000). */
  readonly shutdownTimeoutMs?: number;
}

/** A running cluster. */
export interface ClusterHandle {
  /** The port every worker shares (the one the first worker reported listening on). */
  readonly port: number;
  /** The pids of the workers serving now: listening, and not being stopped; oldest first. */
  workers(): number[];
  /**
   * Rolling restart: for each worker serving when it is called, one at a time, forks a replacement,
   * waits until the replacement listens, then disconnects the old worker and waits for it to exit.
   * At no moment do fewer than `workers` workers listen, so requests keep being answered; a request
   * in flight on an old worker is finished. Resolves when every old worker has exited. Rejects when
   * a replacement exits or does not listen within `listenTimeoutMs`; the workers not yet replaced
   * keep serving. A call while a restart runs returns that restart's promise.
   */
  restart(): Promise<void>;
  /**
   * Stops the cluster: no more replacements, every worker disconnected (requests in flight are
   * finished) and exited. Resolves once no worker process is left. Safe to call twice.
   */
  close(): Promise<void>;
}

/** The longest wait before replacing a crashed worker, in ms. */
export const MAX_BACKOFF_MS = 10_000;

/**
 * Forks `options.workers` workers running `options.exec` and resolves once every one of them
 * listens. One cluster per process: `cluster.setupPrimary` settings are global.
 *
 * A worker that exits without having been disconnected (it crashed, or something killed it) is
 * replaced after the backoff. When more than `maxRestarts` workers have crashed within
 * `restartWindowMs`, the cluster gives up: nothing more is forked, and a message goes to stderr.
 * If that happens before every worker listens, the workers still running are stopped and the promise
 * rejects with an error that says the workers keep crashing.
 *
 * @throws {TypeError} naming the option, when `workers` is not an integer from 1 to 64 or `exec` is
 *   not an absolute path (or another option is not a number ≥ 0)
 * @throws {Error} when called in a worker, or when it gives up before the cluster is up
 */
export async function startCluster(options: ClusterOptions): Promise<ClusterHandle> {
  throw todo('startCluster');
}

const todo = (fn: string) =>
  new Error(`${fn}() is not implemented yet: open exercises/09-scaling/cluster/cluster.ts`);
