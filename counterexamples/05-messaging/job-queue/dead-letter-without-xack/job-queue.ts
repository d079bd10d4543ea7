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

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
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
  checkName('name', options.name);
  const maxLen = options.maxLen ?? 10_000;
  checkInteger('maxLen', maxLen, 1);
  return new RedisQueue(withScripts(options.redis), options.name, options.clock ?? Date, maxLen);
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
  checkName('queue', options.queue);
  const consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  if (typeof consumer !== 'string' || consumer === '') {
    throw new TypeError(`consumer must be a non-empty string, got ${describe(consumer)}`);
  }
  if (typeof options.handler !== 'function') {
    throw new TypeError(`handler must be a function, got ${describe(options.handler)}`);
  }
  checkInteger('concurrency', options.concurrency, 1);
  checkInteger('minIdleMs', options.minIdleMs, 3);
  const blockMs = options.blockMs ?? 1000;
  checkInteger('blockMs', blockMs, 1);
  const reclaimIntervalMs = options.reclaimIntervalMs ?? options.minIdleMs;
  checkInteger('reclaimIntervalMs', reclaimIntervalMs, 1);
  const maxDeliveries = options.maxDeliveries ?? 2;
  checkInteger('maxDeliveries', maxDeliveries, 1);
  return new RedisWorker({
    redis: withScripts(options.redis),
    keys: keysOf(options.queue),
    consumer,
    concurrency: options.concurrency,
    minIdleMs: options.minIdleMs,
    handler: options.handler as Handler,
    clock: options.clock ?? Date,
    blockMs,
    reclaimIntervalMs,
    maxDeliveries,
  });
}

// ---------------------------------------------------------------------------------------------
// The scripts. Every one that settles a job starts with OWNED: the entry must still be pending
// and delivered to this consumer; otherwise another worker took it over and the script does nothing.

/** Lua: the fields of a stream entry as a table, `fields[k] = v`. */
const FIELDS = `
local function fieldsOf(flat)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  return f
end`;

/** Lua: whether entry `id` of `stream` is pending on `consumer`. */
const OWNED = `
local function owned(stream, consumer, id)
  local p = redis.call('XPENDING', stream, '${GROUP}', id, id, 1)[1]
  return p ~= nil and p[2] == consumer
end`;

/**
 * Lua: trims what no worker will read again, when the stream is longer than `maxLen` (the module
 * header's rule): entries older than both the oldest pending one and the last-delivered one.
 */
const TRIM = `
${FIELDS}
local function trim(stream, maxLen)
  if redis.call('XLEN', stream) <= maxLen then return end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local group = fieldsOf(g)
    if group['name'] == '${GROUP}' then
      local minid = group['last-delivered-id']
      if group['pending'] > 0 then minid = redis.call('XPENDING', stream, '${GROUP}')[2] end
      redis.call('XTRIM', stream, 'MINID', minid)
    end
  end
end`;

/**
 * KEYS: stream, delayed, seq, ids. ARGV: maxLen, jobId ('' = generate), dueAt ('' = now), data,
 * attempts, backoff. Returns {1, id} when added, {0, id} when a live job has that id.
 */
const ADD = `
${TRIM}
local id = ARGV[2]
if id == '' then
  id = string.format('%d', redis.call('INCR', KEYS[3]))
elseif redis.call('SADD', KEYS[4], id) == 0 then
  return {0, id}
end
local fields = {'job', id, 'data', ARGV[4], 'attempts', ARGV[5], 'attemptsMade', '0', 'backoff', ARGV[6]}
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], cjson.encode(fields))
else
  redis.call('XADD', KEYS[1], '*', unpack(fields))
  trim(KEYS[1], tonumber(ARGV[1]))
end
return {1, id}`;

/** KEYS: stream, delayed. ARGV: now, limit. Moves up to `limit` due jobs; returns how many. */
const PROMOTE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', unpack(cjson.decode(member)))
  redis.call('ZREM', KEYS[2], member)
end
return #due`;

/** KEYS: stream, ids. ARGV: consumer, entryId, jobId. Returns 1 when acked, 0 when not owned. */
const COMPLETE = `
${OWNED}
if not owned(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
redis.call('XACK', KEYS[1], '${GROUP}', ARGV[2])
redis.call('SREM', KEYS[2], ARGV[3])
return 1`;

/**
 * KEYS: stream, delayed. ARGV: consumer, entryId, dueAt ('' = now), then the next attempt's fields.
 * Returns 1 when the retry is written, 0 when not owned.
 */
const RETRY = `
${OWNED}
if not owned(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
redis.call('XACK', KEYS[1], '${GROUP}', ARGV[2])
local fields = {unpack(ARGV, 4)}
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], cjson.encode(fields))
else
  redis.call('XADD', KEYS[1], '*', unpack(fields))
end
return 1`;

/**
 * KEYS: stream, dead, ids. ARGV: consumer, entryId, jobId, then the dead-letter entry's fields.
 * Returns 1 when dead-lettered, 0 when not owned.
 */
const BURY = `
${OWNED}
if not owned(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
redis.call('SREM', KEYS[3], ARGV[3])
return 1`;

/**
 * One XAUTOCLAIM page. KEYS: stream, dead, ids. ARGV: consumer, minIdleMs, cursor, count,
 * maxDeliveries, now. Returns {next cursor, {entries to run}, {entries dead-lettered}, {deleted
 * ids}}; an entry is {id, fields, deliveries}.
 */
const RECLAIM = `
${FIELDS}
local claimed = redis.call('XAUTOCLAIM', KEYS[1], '${GROUP}', ARGV[1], ARGV[2], ARGV[3], 'COUNT', ARGV[4])
local run, buried = {}, {}
for _, entry in ipairs(claimed[2]) do
  local id = entry[1]
  local deliveries = redis.call('XPENDING', KEYS[1], '${GROUP}', id, id, 1)[1][4]
  if deliveries > tonumber(ARGV[5]) then
    local f = fieldsOf(entry[2])
    local error = 'stalled: delivered ' .. deliveries .. ' times, more than maxDeliveries (' .. ARGV[5] .. ')'
    redis.call('XADD', KEYS[2], '*', 'job', f['job'], 'data', f['data'], 'attempts', f['attempts'],
      'attemptsMade', f['attemptsMade'], 'error', error, 'reason', 'stalled', 'failedAt', ARGV[6])
    redis.call('XACK', KEYS[1], '${GROUP}', id)
    redis.call('SREM', KEYS[3], f['job'])
    table.insert(buried, {id, entry[2], deliveries, error})
  else
    table.insert(run, {id, entry[2], deliveries})
  end
end
-- claimed[3]: the ids of entries deleted from the stream while pending; XAUTOCLAIM has already
-- removed them from the PEL (Redis 7).
return {claimed[1], run, buried, claimed[3]}`;

/**
 * The heartbeat. KEYS: stream. ARGV: consumer, entry ids. Resets the idle time of the entries still
 * pending on `consumer` (XCLAIM … JUSTID leaves the delivery count alone); returns how many.
 */
const TOUCH = `
${OWNED}
local n = 0
for i = 2, #ARGV do
  if owned(KEYS[1], ARGV[1], ARGV[i]) then
    redis.call('XCLAIM', KEYS[1], '${GROUP}', ARGV[1], 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n`;

/** KEYS: stream. ARGV: consumer. Removes the consumer from the group if it holds no pending entry. */
const LEAVE = `
if #redis.call('XPENDING', KEYS[1], '${GROUP}', '-', '+', 1, ARGV[1]) > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], '${GROUP}', ARGV[1])`;

const SCRIPTS = {
  jobQueueAdd: { numberOfKeys: 4, lua: ADD },
  jobQueuePromote: { numberOfKeys: 2, lua: PROMOTE },
  jobQueueComplete: { numberOfKeys: 2, lua: COMPLETE },
  jobQueueRetry: { numberOfKeys: 2, lua: RETRY },
  jobQueueBury: { numberOfKeys: 3, lua: BURY },
  jobQueueReclaim: { numberOfKeys: 3, lua: RECLAIM },
  jobQueueTouch: { numberOfKeys: 1, lua: TOUCH },
  jobQueueLeave: { numberOfKeys: 1, lua: LEAVE },
} as const;

type Arg = string | number;
type Script = (...args: Arg[]) => Promise<unknown>;
/** A connection with the scripts defined (ioredis's defineCommand: EVALSHA, EVAL after a NOSCRIPT). */
type ScriptedRedis = Redis & Record<keyof typeof SCRIPTS, Script>;

function withScripts(redis: Redis): ScriptedRedis {
  for (const [name, definition] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, definition);
  }
  return redis as ScriptedRedis;
}

interface Keys {
  readonly stream: string;
  readonly delayed: string;
  readonly dead: string;
  readonly seq: string;
  readonly ids: string;
}

function keysOf(name: string): Keys {
  return {
    stream: `${name}:stream`,
    delayed: `${name}:delayed`,
    dead: `${name}:dead`,
    seq: `${name}:seq`,
    ids: `${name}:ids`,
  };
}

/** How many delayed jobs one promote script moves; promote() repeats it until fewer are due. */
const PROMOTE_BATCH = 500;

/** Moves the jobs due at `now`, a batch per script, until fewer are due or `stop()` says so. */
async function promoteDue(
  redis: ScriptedRedis,
  keys: Keys,
  now: number,
  stop: () => boolean = () => false,
): Promise<number> {
  let total = 0;
  for (;;) {
    const moved = Number(await redis.jobQueuePromote(keys.stream, keys.delayed, now, PROMOTE_BATCH));
    total += moved;
    if (moved < PROMOTE_BATCH || stop()) return total;
  }
}

/** Creates the group at id 0 (so jobs added before any worker are read), with the stream if needed. */
async function ensureGroup(redis: Redis, stream: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
  } catch (error) {
    if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
  }
}

class RedisQueue implements Queue {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;
  readonly #clock: Clock;
  readonly #maxLen: number;

  constructor(
    redis: ScriptedRedis,
    readonly name: string,
    clock: Clock,
    maxLen: number,
  ) {
    this.#redis = redis;
    this.#keys = keysOf(name);
    this.#clock = clock;
    this.#maxLen = maxLen;
  }

  async add(data: unknown, options: AddOptions = {}): Promise<string> {
    const json = dataJson(data);
    const { delayMs = 0, attempts = 1, backoff, jobId } = options;
    checkInteger('delayMs', delayMs, 0);
    checkInteger('attempts', attempts, 1);
    if (backoff !== undefined) checkBackoff(backoff);
    if (jobId !== undefined && (typeof jobId !== 'string' || jobId === '' || /^\d+$/.test(jobId))) {
      throw new TypeError(`jobId must be a non-empty string that is not all digits, got ${describe(jobId)}`);
    }
    const dueAt = delayMs > 0 ? String(this.#clock.now() + delayMs) : '';
    const k = this.#keys;
    const [, id] = (await this.#redis.jobQueueAdd(
      k.stream,
      k.delayed,
      k.seq,
      k.ids,
      this.#maxLen,
      jobId ?? '',
      dueAt,
      json,
      attempts,
      backoffJson(backoff),
    )) as [number, string];
    return id;
  }

  promote(): Promise<number> {
    return promoteDue(this.#redis, this.#keys, this.#clock.now());
  }
}

interface WorkerSettings {
  readonly redis: ScriptedRedis;
  readonly keys: Keys;
  readonly consumer: string;
  readonly concurrency: number;
  readonly minIdleMs: number;
  readonly handler: Handler;
  readonly clock: Clock;
  readonly blockMs: number;
  readonly reclaimIntervalMs: number;
  readonly maxDeliveries: number;
}

/** A stream entry as ioredis returns it: the id, then field, value, field, value … */
type Entry = [id: string, fields: string[]];
type ClaimedEntry = [id: string, fields: string[], deliveries: number];

class RedisWorker extends EventEmitter<WorkerEvents> implements Worker {
  readonly consumer: string;
  readonly #s: WorkerSettings;
  /** The blocking reads' own connection: a blocked XREADGROUP holds it. */
  readonly #reader: Redis;
  /** Jobs started and not yet settled, by entry id. */
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #loop: Promise<void>;
  #closing = false;
  /** Set when close() gave up waiting: what the remaining handlers do is ignored. */
  #abandoned = false;
  #closed: Promise<void> | undefined;
  /** Wakes the loop when a slot frees up or close() starts. */
  #wake: (() => void) | undefined;
  readonly #heartbeat: NodeJS.Timeout;
  #beating = false;

  constructor(settings: WorkerSettings) {
    super();
    this.#s = settings;
    this.consumer = settings.consumer;
    // Its own offline queue whatever the caller's connection says: the first read may be sent
    // before this new connection is ready.
    this.#reader = settings.redis.duplicate({ enableOfflineQueue: true });
    this.#reader.on('error', () => {}); // a lost connection shows as a failed read
    this.#heartbeat = setInterval(() => this.#beat(), Math.floor(settings.minIdleMs / 3));
    this.#loop = this.#run();
  }

  /** Resets the idle time of the entries of the jobs in flight (one at a time: a slow beat is not stacked). */
  #beat(): void {
    if (this.#beating || this.#inFlight.size === 0) return;
    this.#beating = true;
    const { redis, keys } = this.#s;
    redis
      .jobQueueTouch(keys.stream, this.consumer, ...this.#inFlight.keys())
      .catch((error: Error) => {
        if (!this.#abandoned && this.listenerCount('error') > 0) this.emit('error', error);
      })
      .finally(() => {
        this.#beating = false;
      });
  }

  close(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    const { timeoutMs } = options;
    if (timeoutMs !== undefined) checkInteger('timeoutMs', timeoutMs, 0);
    this.#closed ??= this.#close(timeoutMs);
    return this.#closed;
  }

  async #close(timeoutMs: number | undefined): Promise<void> {
    this.#closing = true;
    this.#reader.disconnect(); // ends a blocked XREADGROUP now
    this.#wakeLoop();
    const settled = (async () => {
      await this.#loop;
      await Promise.all(this.#inFlight.values());
      clearInterval(this.#heartbeat);
      if (!this.#abandoned)
        await this.#s.redis.jobQueueLeave(this.#s.keys.stream, this.consumer).catch(() => {});
    })();
    if (timeoutMs === undefined) return settled;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      settled.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      // Give up: stop beating, so the entries left pending go idle and another worker takes them.
      this.#abandoned = true;
      clearInterval(this.#heartbeat);
    }
  }

  async #run(): Promise<void> {
    const { redis, keys, consumer, blockMs, reclaimIntervalMs, clock } = this.#s;
    let lastPromote = Number.NEGATIVE_INFINITY;
    let lastReclaim = Number.NEGATIVE_INFINITY;
    let grouped = false;
    while (!this.#closing) {
      try {
        if (!grouped) {
          await ensureGroup(redis, keys.stream);
          grouped = true;
        }
        if (this.#free() === 0) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
          });
          continue;
        }
        if (performance.now() - lastReclaim >= reclaimIntervalMs) {
          lastReclaim = performance.now();
          await this.#reclaim();
          continue;
        }
        if (performance.now() - lastPromote >= blockMs) {
          lastPromote = performance.now();
          await promoteDue(redis, keys, clock.now(), () => this.#closing);
        }
        const reply = (await this.#reader.xreadgroup(
          'GROUP',
          GROUP,
          consumer,
          'COUNT',
          this.#free(),
          'BLOCK',
          blockMs,
          'STREAMS',
          keys.stream,
          '>',
        )) as [string, Entry[]][] | null;
        // Entries that arrive while close() starts are ours already: run them rather than strand them.
        for (const [id, fields] of reply?.[0]?.[1] ?? []) this.#start(jobOf(id, fields, 1));
      } catch (error) {
        if (this.#closing) break;
        // Redis lost the group (a restart without persistence, a deleted stream): join it again.
        if (String((error as Error).message).startsWith('NOGROUP')) grouped = false;
        if (this.listenerCount('error') > 0) this.emit('error', error as Error);
        await this.#pause(Math.min(blockMs, 1000));
      }
    }
  }

  #free(): number {
    return this.#s.concurrency - this.#inFlight.size;
  }

  #wakeLoop(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Waits `ms` after a failed command, or less when close() starts. */
  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#wakeLoop(), ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One takeover pass: XAUTOCLAIM pages until the cursor is back at 0-0 or the slots are full. */
  async #reclaim(): Promise<void> {
    const { redis, keys, consumer, minIdleMs, maxDeliveries, clock } = this.#s;
    let cursor = '0-0';
    do {
      const free = this.#free();
      if (free === 0 || this.#closing) return;
      const [next, run, buried, deleted] = (await redis.jobQueueReclaim(
        keys.stream,
        keys.dead,
        keys.ids,
        consumer,
        minIdleMs,
        cursor,
        free,
        maxDeliveries,
        clock.now(),
      )) as [string, ClaimedEntry[], [...ClaimedEntry, string][], string[]];
      if (this.#abandoned) return;
      for (const id of deleted) this.emit('missing', id);
      for (const [id, fields, deliveries, error] of buried) {
        this.emit('dead', jobOf(id, fields, deliveries), 'stalled', error);
      }
      for (const [id, fields, deliveries] of run) {
        const job = jobOf(id, fields, deliveries);
        this.emit('reclaimed', job);
        this.#start(job);
      }
      cursor = next;
    } while (cursor !== '0-0');
  }

  #start(job: Job): void {
    if (this.#abandoned) return; // close() has resolved: the entry stays pending for a takeover
    const running = this.#handle(job).finally(() => {
      this.#inFlight.delete(job.entryId);
      this.#wakeLoop();
    });
    this.#inFlight.set(job.entryId, running);
  }

  async #handle(job: Job): Promise<void> {
    let failure: Error | undefined;
    try {
      await this.#s.handler(job);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    if (this.#abandoned) return;
    try {
      if (failure) await this.#fail(job, failure);
      else await this.#complete(job);
    } catch (error) {
      // The job stays pending; a worker takes it over after minIdleMs.
      if (this.listenerCount('error') > 0) this.emit('error', error as Error);
    }
  }

  async #complete(job: Job): Promise<void> {
    const { redis, keys, consumer } = this.#s;
    const done = await redis.jobQueueComplete(keys.stream, keys.ids, consumer, job.entryId, job.id);
    if (this.#abandoned) return;
    if (done === 1) this.emit('completed', job);
    else this.emit('lost', job);
  }

  async #fail(job: Job, error: Error): Promise<void> {
    const { redis, keys, consumer, clock } = this.#s;
    const attemptsMade = job.attemptsMade + 1;
    if (attemptsMade < job.attempts) {
      const wait = job.backoff ? retryDelay(job.backoff, attemptsMade) : 0;
      const written = await redis.jobQueueRetry(
        keys.stream,
        keys.delayed,
        consumer,
        job.entryId,
        wait > 0 ? String(clock.now() + wait) : '',
        ...entryFields(job, attemptsMade),
      );
      if (this.#abandoned) return;
      if (written === 1) this.emit('failed', job, error);
      else this.emit('lost', job);
      return;
    }
    const written = await redis.jobQueueBury(
      keys.stream,
      keys.dead,
      keys.ids,
      consumer,
      job.entryId,
      job.id,
      ...['job', job.id, 'data', JSON.stringify(job.data), 'attempts', String(job.attempts)],
      ...['attemptsMade', String(attemptsMade), 'error', error.message, 'reason', 'failed'],
      ...['failedAt', String(clock.now())],
    );
    if (this.#abandoned) return;
    if (written !== 1) {
      this.emit('lost', job);
      return;
    }
    this.emit('failed', job, error);
    this.emit('dead', job, 'failed', error.message);
  }
}

function jobOf(entryId: string, flat: readonly string[], deliveries: number): Job {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id: f.job ?? '',
    data: JSON.parse(f.data ?? 'null'),
    attempts: Number(f.attempts),
    attemptsMade: Number(f.attemptsMade),
    backoff: f.backoff ? (JSON.parse(f.backoff) as Backoff) : undefined,
    deliveries,
    entryId,
  };
}

/** The fields of a stream entry for the job's attempt after `attemptsMade` failures. */
function entryFields(job: Job, attemptsMade: number): string[] {
  return [
    'job',
    job.id,
    'data',
    JSON.stringify(job.data),
    'attempts',
    String(job.attempts),
    'attemptsMade',
    String(attemptsMade),
    'backoff',
    backoffJson(job.backoff),
  ];
}

function backoffJson(backoff: Backoff | undefined): string {
  return backoff ? JSON.stringify({ type: backoff.type, delayMs: backoff.delayMs }) : '';
}

/** How long the retry after failed attempt number `attemptsMade` waits (see {@link Backoff}). */
function retryDelay(backoff: Backoff, attemptsMade: number): number {
  return backoff.type === 'fixed' ? backoff.delayMs : Math.round(backoff.delayMs * 2 ** (attemptsMade - 1));
}

function dataJson(data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new TypeError(`data cannot be written as JSON: ${(error as Error).message}`);
  }
  if (json === undefined) throw new TypeError(`data cannot be written as JSON, got ${describe(data)}`);
  return json;
}

function checkBackoff(backoff: unknown): void {
  const { type, delayMs } = (backoff ?? {}) as Partial<Backoff>;
  if (type !== 'fixed' && type !== 'exponential') {
    throw new RangeError(`backoff.type must be 'fixed' or 'exponential', got ${describe(type)}`);
  }
  checkInteger('backoff.delayMs', delayMs, 0);
}

/** Queue names end up in key names: printable text without spaces. */
function checkName(option: string, name: unknown): asserts name is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  if (typeof name !== 'string' || name === '' || /[\s\u0000-\u001f\u007f]/.test(name)) {
    throw new TypeError(
      `${option} must be a non-empty string without whitespace or control characters, got ${describe(name)}`,
    );
  }
}

function checkInteger(option: string, value: unknown, min: number): void {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new RangeError(`${option} must be a safe integer >= ${min}, got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null)
    return `an object (${value.constructor?.name ?? 'null prototype'})`;
  return String(value);
}
