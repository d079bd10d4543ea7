/**
 * What the suite's jobs do, for workers in the test process and in child processes alike (you do
 * not edit this file). A job's data says how its handler behaves, and every step is recorded as a
 * history event for the checker in `history.ts`.
 */
import type { HistoryEvent } from './history.js';
import type { Job, Worker } from './job-queue.js';

/** The data of a scripted job. */
export interface ScriptedJob {
  /** A number, to tell jobs apart in messages. */
  readonly n?: number;
  /** Work for this long (ms) before finishing. */
  readonly sleepMs?: number;
  /** Fail the first `failTimes` attempts (the handler throws `attempt <k> of job <id> failed`). */
  readonly failTimes?: number;
  /** Fail every attempt. */
  readonly poison?: boolean;
  /** In a worker started with `trap: true`, never finish (a worker that is killed mid-job). */
  readonly trap?: boolean;
}

/** A `start` event, with what the handler saw. */
export interface StartEvent {
  readonly event: 'start';
  readonly job: string;
  readonly worker: string;
  readonly time: number;
  readonly attemptsMade: number;
  readonly deliveries: number;
}

export interface ScriptOptions {
  /** The worker's name in the history (its consumer name). */
  readonly worker: string;
  /** Whether `trap` jobs hang in this worker. */
  readonly trap: boolean;
  readonly record: (event: HistoryEvent | StartEvent) => void;
}

/** The handler: records `start`, then does what the job's data says. */
export function scriptedHandler(options: ScriptOptions): (job: Job<ScriptedJob>) => Promise<void> {
  return async (job) => {
    options.record({
      event: 'start',
      job: job.id,
      worker: options.worker,
      time: Date.now(),
      attemptsMade: job.attemptsMade,
      deliveries: job.deliveries,
    });
    const data = job.data ?? {};
    if (options.trap && data.trap) await new Promise(() => {});
    if (data.sleepMs) await new Promise((resolve) => setTimeout(resolve, data.sleepMs));
    if (data.poison || job.attemptsMade < (data.failTimes ?? 0)) {
      throw new Error(`attempt ${job.attemptsMade + 1} of job ${job.id} failed`);
    }
  };
}

/** Records what a worker reports: `complete`, `fail`, `dead` and `lost` events. */
export function recordWorker(worker: Worker, name: string, record: (event: HistoryEvent) => void): void {
  worker.on('completed', (job) => record({ event: 'complete', job: job.id, worker: name, time: Date.now() }));
  worker.on('failed', (job) => record({ event: 'fail', job: job.id, worker: name, time: Date.now() }));
  worker.on('dead', (job, reason) =>
    record({ event: 'dead', job: job.id, worker: name, reason, time: Date.now() }),
  );
  worker.on('lost', (job) => record({ event: 'lost', job: job.id, worker: name, time: Date.now() }));
}
