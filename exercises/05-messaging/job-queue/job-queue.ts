/**
 * A job queue on Redis Streams consumer groups: producers add jobs, workers in one consumer group
 * run them with a concurrency limit, failed jobs are retried with backoff and end in a dead-letter
 * stream, and the jobs of a worker that died are taken over by the others. Delivery is
 * **at least once**: a job whose worker froze or lost Redis for `minIdleMs` without dying runs
 * again elsewhere, so it can run twice (see `minIdleMs`).
 *
 * Redis keys this module owns (`<name>` is the queue's name):
 *
 * - `<name>:stream`: the jobs ready to run, a stream read by the consumer group `workers` (created
 *   at id `0` with MKSTREAM by whichever of queue or worker comes first). One entry per attempt of a
 *   job, with the fields `job` (the job id), `data` (the JSON of the job's data), `attempts`,
 *   `attemptsMade` (failed attempts before this one) and `backoff` (JSON, or `''` for none). An
 *   entry delivered to a worker and not yet acknowledged is **pending** (in the group's PEL).
 * - `<name>:delayed`: a sorted set of the jobs waiting for their time (a delay, or a retry's
 *   backoff), scored by the time they are due in ms on the injected clock; a member is the JSON
 *   array of the fields its stream entry will have.
 * - `<name>:dead`: the dead-letter stream: one entry per job that failed its last attempt or
 *   stalled too often, with the fields `job` (the original job id), `data` (as added), `attempts`,
 *   `attemptsMade` (the failed attempts: all `attempts` for reason `failed`; for `stalled`, those
 *   before the attempt that stalled), `error` (the last error's message; for `stalled`, a message
 *   that says the job stalled and how often it was delivered), `reason` (`failed` or `stalled`) and
 *   `failedAt` (ms on the clock of the worker that put it there). Nothing trims it: an operator reads
 *   it, fixes the cause and deletes what was handled.
 * - `<name>:seq`: the counter that numbers jobs added without a `jobId`: `'1'`, `'2'`, …
 * - `<name>:ids`: the set of the `jobId`s given to `add` whose jobs are live (waiting, delayed,
 *   running or waiting for a retry): a second `add` with a live id adds nothing.
 *
 * **A job is in exactly one place at every moment**: the delayed set, the stream (waiting or
 * pending), the dead-letter stream, or gone (completed). Every move between two places is one Lua
 * script, so no crash and no second worker can ever see a job in two places or in none:
 *
 * ```
 * add ──▶ (delayed ──due──▶) stream ──XREADGROUP──▶ pending on a worker
 *   pending ──handler resolves──▶ acked: completed
 *   pending ──handler throws, attempts left──▶ acked + a new entry (or delayed by the backoff)
 *   pending ──handler throws, last attempt──▶ acked + dead-letter entry (reason failed)
 *   pending on a dead worker ──idle ≥ minIdleMs──▶ XAUTOCLAIM: pending on another worker
 *     (delivered more than maxDeliveries times ──▶ acked + dead-letter entry, reason stalled)
 * ```
 *
 * **Trimming.** The stream keeps acknowledged entries as recent history, up to `maxLen`. When an
 * `add` finds it longer than `maxLen`, it deletes (`XTRIM MINID`, exact) every entry older than both
 * the oldest pending entry and the group's last-delivered entry, the entries no worker will ever
 * read again. Entries still waiting or pending are never trimmed, so with a backlog the stream is
 * longer than `maxLen` (a trim by plain `MAXLEN` would delete jobs: XAUTOCLAIM then reports them as
 * deleted).
 *
 * **Bad input.** Every argument is checked before anything is sent to Redis, so a call that throws
 * or rejects has written nothing. An error names the option and the value: a string in double
 * quotes (`"run"`), a number or a BigInt as written (`1.5`, `NaN`, `3n`), `undefined` as such, and a
 * function, an array or another object by its kind (`a function`, `an array`, `an object`).
 */
import type { Redis } from 'ioredis';

/** What the queue and the workers read the time from, in ms since the epoch. */
export interface Clock {
  now(): number;
}

/** The name of the consumer group every worker of a queue joins. */
export const GROUP = 'workers';

/** How a failed job waits before its next attempt. */
export interface Backoff {
  /**
   * `'fixed'`: `delayMs` before every retry; `'exponential'`: `delayMs × 2^(attemptsMade − 1)`,
   * where `attemptsMade` counts the failed attempts so far, the one that just failed included
   * (BullMQ's formula): `delayMs`, then 2 × `delayMs`, then 4 × `delayMs` …
   */
  readonly type: 'fixed' | 'exponential';
  /** In ms: a safe integer ≥ 0. */
  readonly delayMs: number;
}

export interface AddOptions {
  /** Run the job no sooner than this many ms from now (on the queue's clock): a safe integer ≥ 0. Default 0. */
  readonly delayMs?: number;
  /** How many times the job may run before it goes to the dead-letter stream: a safe integer ≥ 1. Default 1. */
  readonly attempts?: number;
  /** How a retry waits. Default: no wait (the retry is added to the stream at once). */
  readonly backoff?: Backoff;
  /**
   * The job's id, to make adding idempotent: while a job with this id is live (waiting, delayed,
   * running or waiting for a retry), adding it again adds nothing and resolves with the same id; once
   * it has completed or gone to the dead-letter stream, the id can be used again. A non-empty string
   * that is not all digits (those are the ids the queue generates). Default: the next number.
   */
  readonly jobId?: string;
}

/** One attempt of a job, as a handler receives it. */
export interface Job<T = unknown> {
  /** The job id: the `jobId` given to `add`, or the number the queue generated (`'1'`, `'2'` …). */
  readonly id: string;
  /** `JSON.parse` of the JSON of what was added. */
  readonly data: T;
  /** How many attempts the job has in all. */
  readonly attempts: number;
  /** How many attempts failed before this one: 0 on the first. */
  readonly attemptsMade: number;
  /** The backoff the job was added with (its retries keep it). */
  readonly backoff: Backoff | undefined;
  /** How many times this attempt's entry has been delivered: 1, plus one per takeover (XAUTOCLAIM). */
  readonly deliveries: number;
  /** The id of this attempt's stream entry (a retry is a new entry). */
  readonly entryId: string;
}

/** Runs one job. Resolving completes it; throwing (or rejecting) fails this attempt with the error's message. */
export type Handler<T = unknown> = (job: Job<T>) => unknown;

export interface Queue {
  readonly name: string;
  /**
   * Adds a job in one step (one Lua script): into the stream, or into the delayed set when
   * `delayMs` > 0 (due at `clock.now() + delayMs`). Trims the stream as the module header says.
   * Resolves with the job id once Redis has it.
   * @throws {TypeError} (as a rejection) naming `data` when `JSON.stringify` cannot write it (with
   *   its message: a BigInt, a circular structure) or writes nothing (naming the value: `undefined`,
   *   a function), or naming `jobId` and the value
   * @throws {RangeError} (as a rejection) naming the option and the value, when `delayMs`,
   *   `attempts`, `backoff.type` or `backoff.delayMs` is not as stated
   */
  add(data: unknown, options?: AddOptions): Promise<string>;
  /**
   * Moves every delayed job that is due (score ≤ `clock.now()`) into the stream, each in the same
   * script that removes it from the delayed set; resolves with how many it moved. Many callers at
   * once move each job once. Workers call this themselves; it is here for tools and tests.
   */
  promote(): Promise<number>;
}

export interface QueueOptions {
  /** The connection every command goes over. It belongs to the caller. */
  readonly redis: Redis;
  /** The queue's name, the start of its keys: a non-empty string without whitespace or control characters. */
  readonly name: string;
  /** For delays (`delayMs`) and due times. Default `Date`. */
  readonly clock?: Clock;
  /** How many entries the stream keeps before `add` trims what no worker needs: a safe integer ≥ 1. Default 10 000. */
  readonly maxLen?: number;
}

/** What a worker reports, after the Redis step it names has committed. */
export interface WorkerEvents {
  /** The handler resolved and the job was acknowledged. */
  completed: [job: Job];
  /** The handler failed and the retry (or the dead letter) is written. */
  failed: [job: Job, error: Error];
  /**
   * The job went to the dead-letter stream: `'failed'` after its last attempt failed (after
   * `failed`), `'stalled'` when a takeover found it delivered more than `maxDeliveries` times (the
   * handler is not called).
   */
  dead: [job: Job, reason: 'failed' | 'stalled', error: string];
  /** This worker took the job over from a consumer that held it for `minIdleMs` or more; it runs next. */
  reclaimed: [job: Job];
  /**
   * The handler finished, but another worker had taken the job over in the meantime (this one was
   * frozen, or cut off from Redis, for `minIdleMs`): nothing was written, the new owner settles it.
   */
  lost: [job: Job];
  /** A pending entry was deleted from the stream before anyone settled it (XAUTOCLAIM said so): its job is gone. */
  missing: [entryId: string];
  /**
   * A Redis command of the worker failed (a read, a takeover pass, a settlement, a heartbeat); the
   * worker waits a moment and goes on. Emitted only while someone listens: an `'error'` event
   * without a listener would throw and stop the worker. A read that `close()` cuts is not an error.
   */
  error: [error: Error];
}

export interface Worker {
  /** This worker's consumer name in the group. */
  readonly consumer: string;
  on<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  off<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  /**
   * Stops taking jobs (the blocked read is cut at once: its connection is closed), waits for the
   * jobs in flight to finish and be settled (acknowledged, retried or dead-lettered), then resolves.
   * With `timeoutMs`, resolves after that long at the latest: jobs still running then stay pending
   * in Redis (another worker takes them over after `minIdleMs`), and whatever their handlers do
   * later is ignored: no command, no event. Once it has resolved nothing of the worker runs: no
   * handler is called, no command is sent, no timer is left, no event is emitted (also for a
   * settlement whose script was on its way when the wait ran out). When the worker holds no pending
   * entry any more, its consumer is removed from the group before `close()` resolves (in one step with
   * that check: a consumer's pending entries would go with it); a close that gave up sends nothing
   * more, so its consumer stays. Does not close `redis`. A second call returns the first's promise.
   * @throws {RangeError} (thrown at once, not as a rejection) naming `timeoutMs` and the value, when
   *   it is not a safe integer ≥ 0
   */
  close(options?: { readonly timeoutMs?: number }): Promise<void>;
}

export interface WorkerOptions<T = unknown> {
  /**
   * The connection for the worker's commands (it belongs to the caller and stays open after
   * `close`); the blocking reads go over a connection of their own, made with `redis.duplicate()`.
   */
  readonly redis: Redis;
  /** The queue's name. */
  readonly queue: string;
  /** The consumer name in the group: a non-empty string. Default: `<hostname>-<pid>-<random>`, unique. */
  readonly consumer?: string;
  /** The most jobs this worker runs at once (reclaimed ones included): a safe integer ≥ 1. */
  readonly concurrency: number;
  /**
   * How long (ms, Redis's idle time: real time) a job's entry must have gone without news from its
   * worker before another worker takes it over: a safe integer ≥ 3. A live worker refreshes the
   * entries of the jobs it runs every `minIdleMs / 3` (see {@link createWorker}), so this bounds how
   * long a worker may be frozen or cut off from Redis, not how long a handler may run.
   */
  readonly minIdleMs: number;
  readonly handler: Handler<T>;
  /** For due times of retries and `failedAt`. Default `Date`. */
  readonly clock?: Clock;
  /** How long one read waits for new jobs (XREADGROUP BLOCK), in ms: a safe integer ≥ 1. Default 1000. */
  readonly blockMs?: number;
  /**
   * How often (ms, real time) the worker looks for jobs to take over: a safe integer ≥ 1. Default
   * `minIdleMs`. The first look is before the first read.
   */
  readonly reclaimIntervalMs?: number;
  /**
   * How many deliveries one attempt may have: a takeover that would deliver an entry more often
   * sends the job to the dead-letter stream with reason `'stalled'` instead (a poison job that kills
   * its workers, BullMQ's `maxStalledCount` + 1). A safe integer ≥ 1. Default 2.
   */
  readonly maxDeliveries?: number;
}

/**
 * A queue on `name`. Nothing is sent to Redis until the first call.
 * @throws {TypeError} naming `name` and the value, when it is not as stated
 * @throws {RangeError} naming `maxLen` and the value, when it is not as stated
 */
export function createQueue(options: QueueOptions): Queue {
  throw todo('createQueue');
}

/**
 * Starts a worker at once: it joins the group `workers` of queue `queue` (creating it if needed,
 * and again whenever Redis answers that it has no such group: a Redis restarted without
 * persistence, a deleted stream), and loops: take over idle jobs every `reclaimIntervalMs`, move
 * due delayed jobs into the stream at least once every `blockMs`, read as many new jobs as it has
 * free slots (XREADGROUP … COUNT free BLOCK blockMs … `>`), and start each one. A job that is
 * started holds its slot until it is settled, each settlement one Lua script that first checks that
 * this worker still owns the entry:
 *
 * - the handler resolved: XACK (emits `completed`);
 * - it threw and attempts are left: XACK and a new entry with `attemptsMade + 1`, in the delayed
 *   set until `clock.now() + backoff` (straight into the stream without a backoff): the retry is
 *   scheduled, and the slot is free for other jobs meanwhile (emits `failed`);
 * - it threw on the last attempt: XACK and a dead-letter entry (emits `failed`, then `dead`).
 *
 * A settlement whose script fails (Redis cannot be reached) changes nothing: the job stays pending,
 * and after `minIdleMs` it is taken over like a dead worker's job, by this worker too (emits
 * `error`, then `reclaimed` when it runs again).
 *
 * **Heartbeat.** While it runs jobs, the worker resets the idle time of their entries every
 * `minIdleMs / 3` ms (real time; XCLAIM to itself with JUSTID, which keeps the delivery count, in a
 * script that skips entries no longer its own). So a job is taken over only from a worker that has
 * stopped answering for `minIdleMs`: killed, frozen (a blocked event loop) or cut off from Redis,
 * however long its handler legitimately runs. BullMQ extends a job's lock the same way. It keeps
 * beating while `close()` waits for the jobs in flight.
 *
 * Taking over is XAUTOCLAIM with `minIdleMs`, asking for at most as many entries as there are free
 * slots and following the cursor until it is `0-0` or the slots are full (a page can be empty while
 * the cursor is not `0-0`: XAUTOCLAIM looks at no more than COUNT × 10 pending entries per call).
 * Each takeover raises the entry's delivery count; an entry over `maxDeliveries` is dead-lettered in
 * the same script. Entries XAUTOCLAIM reports as deleted are gone from the PEL (emits `missing`).
 * @throws {TypeError} naming the option and the value, when `queue`, `consumer` or `handler` is not as stated
 * @throws {RangeError} naming the option and the value, when a number option is not as stated
 */
export function createWorker<T = unknown>(options: WorkerOptions<T>): Worker {
  throw todo('createWorker');
}

const todo = (fn: string) =>
  new Error(`${fn}() is not implemented yet: open exercises/05-messaging/job-queue/job-queue.ts`);
