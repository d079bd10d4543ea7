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
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';

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
  if (!cluster.isPrimary) throw new Error('startCluster() runs in the primary process, not in a worker.');
  const primary = new Primary(validated(options));
  await primary.start();
  return primary;
}

type Settings = Required<Omit<ClusterOptions, 'args' | 'env'>> & Pick<ClusterOptions, 'args' | 'env'>;

function validated(options: ClusterOptions): Settings {
  const { workers, exec } = options;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new TypeError(`workers must be an integer from 1 to 64, not ${workers}.`);
  }
  if (typeof exec !== 'string' || !path.isAbsolute(exec)) {
    throw new TypeError(`exec must be the absolute path of the worker's entry file, not "${exec}".`);
  }
  const settings: Settings = {
    ...options,
    maxRestarts: options.maxRestarts ?? 5,
    restartWindowMs: options.restartWindowMs ?? 60_000,
    backoffMs: options.backoffMs ?? 100,
    listenTimeoutMs: options.listenTimeoutMs ?? 10_000,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 30_000,
  };
  for (const name of [
    'maxRestarts',
    'restartWindowMs',
    'backoffMs',
    'listenTimeoutMs',
    'shutdownTimeoutMs',
  ] as const) {
    const value = settings[name];
    if (!Number.isFinite(value) || value < 0) {
      throw new TypeError(`${name} must be a number ≥ 0, not ${value}.`);
    }
  }
  return settings;
}

/** What the primary knows about one worker. */
interface Slot {
  readonly worker: Worker;
  /** Settles when the worker listens; rejects when it exits first or does not listen in time. */
  readonly listening: Promise<void>;
  /** Settles when the worker process has exited. */
  readonly exited: Promise<void>;
  isListening: boolean;
  /** Set once we stop it: its exit is then expected, not a crash. */
  stopping: boolean;
}

class Primary implements ClusterHandle {
  readonly #settings: Settings;
  readonly #slots = new Map<number, Slot>();
  /** When recent crashes happened (ms since the epoch), for the restart budget. */
  #crashes: number[] = [];
  /** Replacements waiting for their backoff. */
  readonly #pending = new Set<NodeJS.Timeout>();
  #port = 0;
  #closing: Promise<void> | undefined;
  #restarting: Promise<void> | undefined;
  #gaveUp: Error | undefined;
  /** While {@link start} waits: called when a worker listens, and when the cluster gives up. */
  #onUp: (() => void) | undefined;
  #onGiveUp: ((error: Error) => void) | undefined;

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  get port(): number {
    return this.#port;
  }

  workers(): number[] {
    return [...this.#slots.values()]
      .filter((s) => s.isListening && !s.stopping)
      .map((s) => s.worker.process.pid ?? -1);
  }

  /** Forks the workers and waits until every slot has a listening worker, or the cluster gives up. */
  async start(): Promise<void> {
    for (let i = 0; i < this.#settings.workers; i++) this.#fork();
    try {
      await new Promise<void>((resolve, reject) => {
        this.#onUp = () => {
          if (this.workers().length >= this.#settings.workers) resolve();
        };
        this.#onGiveUp = reject;
      });
    } catch (error) {
      await this.close();
      throw error;
    } finally {
      this.#onUp = undefined;
      this.#onGiveUp = undefined;
    }
  }

  restart(): Promise<void> {
    if (this.#closing) return Promise.reject(new Error('The cluster is closed.'));
    this.#restarting ??= this.#rollingRestart().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const timer of this.#pending) clearTimeout(timer);
      this.#pending.clear();
      await Promise.all([...this.#slots.values()].map((s) => this.#stop(s)));
    })();
    return this.#closing;
  }

  async #rollingRestart(): Promise<void> {
    const old = [...this.#slots.values()].filter((s) => s.isListening && !s.stopping);
    for (const slot of old) {
      if (this.#closing) return;
      if (!this.#slots.has(slot.worker.id)) continue; // it crashed meanwhile and was replaced
      const fresh = this.#fork();
      try {
        await fresh.listening;
      } catch (error) {
        throw new Error(
          `Rolling restart stopped: a replacement worker did not come up (${(error as Error).message}). ` +
            'The workers not yet replaced keep serving.',
        );
      }
      // Only now, with the replacement taking connections, does the old worker stop.
      await this.#stop(slot);
    }
  }

  #fork(): Slot {
    const { exec, args, env, listenTimeoutMs } = this.#settings;
    cluster.setupPrimary({ exec, args: [...(args ?? [])] });
    const worker = cluster.fork({ ...env });
    let markListening!: () => void;
    let failListening!: (error: Error) => void;
    const listening = new Promise<void>((resolve, reject) => {
      markListening = resolve;
      failListening = reject;
    });
    listening.catch(() => {});
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => {
      markExited = resolve;
    });
    const slot: Slot = { worker, listening, exited, isListening: false, stopping: false };
    this.#slots.set(worker.id, slot);

    const timer = setTimeout(() => {
      failListening(new Error(`worker ${worker.process.pid} did not listen within ${listenTimeoutMs} ms`));
      worker.process.kill('SIGKILL');
    }, listenTimeoutMs);
    worker.once('listening', (address) => {
      clearTimeout(timer);
      if (this.#port === 0) this.#port = address.port;
      slot.isListening = true;
      markListening();
      this.#onUp?.();
    });
    worker.once('exit', (code, signal) => {
      clearTimeout(timer);
      this.#slots.delete(worker.id);
      failListening(new Error(`worker ${worker.process.pid} exited (code ${code}, signal ${signal})`));
      markExited();
      if (!slot.stopping && !worker.exitedAfterDisconnect) this.#crashed(code, signal);
    });
    // A failed IPC send to a worker that is dying: its exit is handled above.
    worker.on('error', () => {});
    return slot;
  }

  /** An unexpected exit: replace the worker after the backoff, within the restart budget. */
  #crashed(code: number | null, signal: string | null): void {
    if (this.#closing || this.#gaveUp) return;
    const now = Date.now();
    this.#crashes = this.#crashes.filter((t) => now - t < this.#settings.restartWindowMs);
    this.#crashes.push(now);
    const { maxRestarts, restartWindowMs, backoffMs } = this.#settings;
    if (this.#crashes.length > maxRestarts) {
      this.#gaveUp = new Error(
        `Workers keep crashing: ${this.#crashes.length} crashes within ${restartWindowMs} ms ` +
          `(the last exited with code ${code}, signal ${signal}); not forking any more.`,
      );
      process.stderr.write(`${this.#gaveUp.message}\n`);
      this.#onGiveUp?.(this.#gaveUp);
      return;
    }
    // Fill empty slots only: a replacement forked by restart() that dies leaves its slot taken.
    if (this.#live() >= this.#settings.workers) return;
    const delay = Math.min(backoffMs * 2 ** (this.#crashes.length - 1), MAX_BACKOFF_MS);
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      if (!this.#closing && !this.#gaveUp) this.#fork();
    }, delay);
    this.#pending.add(timer);
  }

  /** Workers alive and not being stopped, plus replacements waiting to be forked. */
  #live(): number {
    let n = this.#pending.size;
    for (const s of this.#slots.values()) if (!s.stopping) n++;
    return n;
  }

  /** Graceful stop: disconnect, then wait for the exit; `SIGKILL` after `shutdownTimeoutMs`. */
  async #stop(slot: Slot): Promise<void> {
    slot.stopping = true;
    const { worker } = slot;
    // A worker still starting has no request in flight, and no handler for a disconnect yet.
    if (!worker.isDead()) worker.process.kill('SIGTERM');
    const timer = setTimeout(() => worker.process.kill('SIGKILL'), this.#settings.shutdownTimeoutMs);
    await slot.exited;
    clearTimeout(timer);
  }
}
