/**
 * A worker in a process of its own, so that the suite can kill it with SIGKILL mid-job (you do not
 * edit this file). Started by the suite as `node --import tsx worker-process.ts '<config JSON>'`
 * (see {@link ChildConfig}); it loads YOUR `job-queue.ts` from the path the suite passes (the file
 * the suite itself tests), runs the scripted handler of `job-script.ts`, and writes one JSON line
 * per event to stdout: `{"event":"ready"}` once the worker is created, then the history events.
 * SIGTERM closes the worker gracefully and exits.
 */
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type { HistoryEvent } from './history.js';
import type * as JobQueue from './job-queue.js';
import { recordWorker, type StartEvent, scriptedHandler } from './job-script.js';

/** What the suite passes as the first argument, as JSON. */
export interface ChildConfig {
  /** The absolute path of the job-queue.ts under test. */
  readonly implementation: string;
  readonly redisUrl: string;
  readonly queue: string;
  readonly consumer: string;
  readonly concurrency: number;
  readonly minIdleMs: number;
  readonly blockMs: number;
  readonly reclaimIntervalMs: number;
  /** Whether `trap` jobs hang here. */
  readonly trap: boolean;
}

/** Written synchronously: a SIGKILL right after a line must not lose it. */
function out(
  line: HistoryEvent | StartEvent | { readonly event: 'ready' | 'error'; readonly detail?: string },
) {
  writeSync(1, `${JSON.stringify(line)}\n`);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  const { createWorker } = (await import(pathToFileURL(config.implementation).href)) as typeof JobQueue;
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const worker = createWorker({
    redis,
    queue: config.queue,
    consumer: config.consumer,
    concurrency: config.concurrency,
    minIdleMs: config.minIdleMs,
    blockMs: config.blockMs,
    reclaimIntervalMs: config.reclaimIntervalMs,
    handler: scriptedHandler({ worker: config.consumer, trap: config.trap, record: out }),
  });
  recordWorker(worker, config.consumer, out);
  worker.on('error', (error) => out({ event: 'error', detail: error.message }));
  process.on('SIGTERM', () => {
    worker.close().then(
      () => {
        redis.disconnect();
        process.exit(0);
      },
      () => process.exit(1),
    );
  });
  out({ event: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
