/**
 * An event store on Redis Streams: one stream per aggregate with an expected-version check on every
 * append (optimistic concurrency, as in KurrentDB and Emmett), a global log of every event in commit
 * order, and catch-up subscriptions to that log.
 *
 * Redis keys this module owns (`<ns>` is `namespace`, `<name>` a stream name):
 *
 * - `<ns>:stream:<name>`: a Redis stream per aggregate. Event number n of the stream (its
 *   **version**, from 1) is the entry with the explicit id `0-<n>`, so "read from version 5" is
 *   `XRANGE <key> 0-5 +` and the current version is the last entry's id. No stream key: version 0.
 * - `<ns>:all`: the global log, a Redis stream holding every event of every stream again, in commit
 *   order; the event's **position** p (1, 2, 3 …, no gaps) is the entry id `0-<p>`. A reader that
 *   remembers the last position it handled (a checkpoint) resumes with "everything after p".
 *
 * Both entries of an event hold the same fields: `type`, `data` (JSON), `metadata` (JSON), `eventId`,
 * `streamName`, `streamVersion`, `position`, `recordedAt` (ISO 8601 in UTC, from the injected clock).
 *
 * Versions and positions are plain `number`s: safe integers (KurrentDB and Emmett use `bigint`; the
 * sequence part of a Redis stream id is a 64-bit integer, but 2^53 events is beyond any workload
 * this course meets).
 *
 * **Atomic.** An append is one Lua script: it reads the stream's version, checks the expected
 * version, and adds every event to the aggregate's stream and to the global log, with nothing in
 * between. Another client sees the append completely or not at all, and two appenders can never
 * both pass the check for the same version.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** What the store reads the time from, in ms since the epoch. */
export interface Clock {
  now(): number;
}

/**
 * What the stream must look like for an append to go ahead (KurrentDB's expected revision, Emmett's
 * expected stream version):
 *
 * - `'any'`: no check (Emmett's NO_CONCURRENCY_CHECK);
 * - `'no_stream'`: the stream must not exist yet, version 0 (STREAM_DOES_NOT_EXIST);
 * - `'stream_exists'`: the stream must have at least one event, version ≥ 1 (STREAM_EXISTS);
 * - a safe integer n ≥ 0: the stream's version must be exactly n (0 is the same as `'no_stream'`).
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

/** An event to append. */
export interface NewEvent {
  /** The event's type, e.g. `'MoneyDeposited'`: a non-empty string. */
  readonly type: string;
  /** The payload: a plain object that `JSON.stringify` can write (no BigInt, no cycles). */
  readonly data: Readonly<Record<string, unknown>>;
  /** Who or what caused it (command id, user, correlation id): a plain object as `data`. Default `{}`. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** A unique id for the event: a non-empty string. Default: a new random UUID. */
  readonly eventId?: string;
}

/** An event as the store recorded it. Every read returns fresh objects. */
export interface RecordedEvent {
  readonly streamName: string;
  /** Its number in its stream: 1 for the stream's first event. */
  readonly streamVersion: number;
  /** Its place in the global log: 1 for the store's first event, no gaps, in commit order. */
  readonly position: number;
  readonly type: string;
  /** `JSON.parse` of what was stored: a value JSON drops (undefined, a function) is gone. */
  readonly data: Record<string, unknown>;
  readonly metadata: Record<string, unknown>;
  readonly eventId: string;
  /** When the append happened, on the injected clock: ISO 8601 in UTC (`2023-11-14T22:13:20.000Z`). */
  readonly recordedAt: string;
}

export interface AppendOptions {
  /** Default `'any'`. */
  readonly expectedVersion?: ExpectedVersion;
}

export interface AppendResult {
  /** The stream's version after the append: what to pass as `expectedVersion` next time. */
  readonly nextExpectedVersion: number;
  /**
   * The position of the stream's last event after the append (0 if the stream has none): the
   * position a read model must have reached to show this write.
   */
  readonly lastPosition: number;
}

export interface ReadStreamOptions {
  /** The first version to return (inclusive): a safe integer ≥ 1. Default 1. */
  readonly fromVersion?: number;
  /** At most this many events: a positive safe integer. Default: all. */
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Return the events whose position is greater than this (exclusive: a checkpoint): a safe integer ≥ 0. Default 0. */
  readonly after?: number;
  /** At most this many events: a positive safe integer. Default: all. */
  readonly maxCount?: number;
}

export interface SubscribeOptions {
  /** Deliver the events whose position is greater than this (exclusive): a safe integer ≥ 0. Default 0. */
  readonly after?: number;
  /**
   * Called once per event, in position order, one at a time: the next call waits until the promise
   * this one returns has settled. A throw or rejection ends the subscription (see
   * {@link Subscription.done}).
   */
  readonly onEvent: (event: RecordedEvent) => void | Promise<void>;
}

/** A running catch-up subscription. */
export interface Subscription {
  /**
   * Ends the subscription: the blocked read is cut at once (its connection is closed), and once the
   * promise resolves no `onEvent` runs any more. If an `onEvent` is running, it resolves after that
   * call returns, so inside `onEvent` call `stop()` without awaiting it. A second call does nothing
   * more.
   */
  stop(): Promise<void>;
  /**
   * Settles when the subscription ends: resolves after {@link stop} (or the store's `close()`);
   * rejects with the error that ended it otherwise (what `onEvent` threw, or a failed read). Its
   * connection is closed by then. A rejection nobody observes is not reported as unhandled.
   */
  readonly done: Promise<void>;
}

export interface EventStore {
  /**
   * Appends `events`, in order, to the end of stream `streamName` (creating it if needed), if the
   * stream's current version matches `expectedVersion`; each event also goes to the global log.
   * All or nothing, in one step that nobody can interleave with: this is one Lua script, and the
   * store sends exactly one command (EVALSHA or EVAL) over `redis` per append (ioredis's
   * `defineCommand` does, and falls back after a NOSCRIPT by itself). Every event of one append gets
   * the same `recordedAt`.
   *
   * Appending `[]` checks the expected version and writes nothing: no stream is created.
   * @throws {WrongExpectedVersionError} (as a rejection) when the version does not match; nothing
   *   is written
   * @throws {TypeError} (as a rejection), before anything is written, naming the field and the value,
   *   when `streamName` is not a non-empty string without control characters, `events` is not an
   *   array, an event is not an object, its `type` or `eventId` is not a non-empty string, or its
   *   `data` or `metadata` is not a plain object that `JSON.stringify` accepts (e.g. `events[1].data`)
   * @throws {RangeError} (as a rejection) naming the value, when `expectedVersion` is none of the
   *   four forms (`-1`, `1.5`, `'NoStream'`)
   */
  appendToStream(
    streamName: string,
    events: readonly NewEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult>;

  /**
   * The events of `streamName` from version `fromVersion` on (inclusive), in version order; `[]`
   * for a stream that does not exist.
   * @throws {TypeError} (as a rejection) when `streamName` is not as {@link appendToStream} requires
   * @throws {RangeError} (as a rejection) naming the option and the value, when `fromVersion` or
   *   `maxCount` is not as stated
   */
  readStream(streamName: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;

  /**
   * The stream's current version: the version of its last event, 0 if it does not exist.
   * @throws {TypeError} (as a rejection) when `streamName` is not as {@link appendToStream} requires
   */
  streamVersion(streamName: string): Promise<number>;

  /**
   * The events of every stream whose position is greater than `after`, in global (commit) order.
   * @throws {RangeError} (as a rejection) naming the option and the value, when `after` or
   *   `maxCount` is not as stated
   */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;

  /**
   * Starts a catch-up subscription to the global log: every event after `after` that is already
   * stored, then every event appended later, with **no gap and no duplicate** where one turns into
   * the other, in position order, to `onEvent` one call at a time. It reads on a connection of its
   * own, made with `redis.duplicate()` when this is called (a blocked `XREAD` holds its connection),
   * which `stop()` closes. The duplicate copies the options of `redis`: the subscription works on one
   * made with `enableOfflineQueue: false` too (its first read must wait until the new connection is
   * ready).
   * @throws {TypeError} when `onEvent` is not a function
   * @throws {RangeError} naming the option and the value, when `after` is not as stated
   * @throws {EventStoreClosedError} after {@link close}
   */
  subscribeToAll(options: SubscribeOptions): Subscription;

  /**
   * Stops every subscription of this store (and waits for them, as {@link Subscription.stop} does).
   * Does not close `redis`, which belongs to the caller. Afterwards every method rejects (or, for
   * `subscribeToAll`, throws) with {@link EventStoreClosedError}. A second call does nothing.
   */
  close(): Promise<void>;
}

export interface EventStoreOptions {
  /**
   * The connection for appends and reads (every command but a subscription's goes over it). It
   * belongs to the caller: `close()` leaves it open.
   */
  readonly redis: Redis;
  /** The start of every key (`<namespace>:...`): a non-empty string. */
  readonly namespace: string;
  /** The time for `recordedAt`, in ms. Default `Date`. */
  readonly clock?: Clock;
}

/** The rejection of an append whose expected version did not match. Nothing was written. */
export class WrongExpectedVersionError extends Error {
  readonly code = 'EWRONGVERSION';
  override readonly name = 'WrongExpectedVersionError';

  constructor(
    readonly streamName: string,
    /** The expected version as the caller passed it (`'any'` never fails). */
    readonly expected: ExpectedVersion,
    /** The stream's version when the store checked: 0 if it does not exist. */
    readonly actual: number,
  ) {
    super(
      `stream ${JSON.stringify(streamName)}: expected version ${String(expected)}, but it is at ${actual}` +
        ' (someone else appended first: read the stream again and decide again)',
    );
  }
}

/** The rejection of a call on a closed store. */
export class EventStoreClosedError extends Error {
  readonly code = 'ESTORECLOSED';
  override readonly name = 'EventStoreClosedError';

  constructor() {
    super('this event store is closed: create a new one');
  }
}

/**
 * Creates an event store on `namespace`. Nothing is read or written until the first call.
 * @throws {TypeError} naming the option, when `namespace` is not a non-empty string
 */
export function createEventStore(options: EventStoreOptions): EventStore {
  const { namespace } = options;
  if (typeof namespace !== 'string' || namespace === '') {
    throw new TypeError(`namespace must be a non-empty string, got ${describe(namespace)}`);
  }
  return new RedisEventStore(options.redis, namespace, options.clock ?? Date);
}

/** How many entries one XREAD of a subscription asks for. */
const SUBSCRIPTION_BATCH = 100;

/** The fields of an entry, in the order the script writes them after `type`, `data`, `metadata`, `eventId`. */
const PER_EVENT_ARGS = 4;

/**
 * The append. KEYS: [1] the aggregate's stream, [2] the global log.
 * ARGV: [1] the check ('any' | 'no_stream' | 'stream_exists' | 'exact'), [2] the exact version (or
 * ''), [3] the stream's name, [4] recordedAt, [5] how many events, then per event: type, data,
 * metadata, eventId.
 * Returns {0, actual version} on a mismatch, {1, next expected version, last position} otherwise.
 * Numbers go into ids with %d: Lua's own number-to-string gives only 14 significant digits.
 */
const APPEND_SCRIPT = `
  local function last(key)
    local entry = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
    if not entry then return 0, nil end
    return tonumber(string.match(entry[1], '%d+$')), entry[2]
  end
  local version, fields = last(KEYS[1])
  local check = ARGV[1]
  local ok = check == 'any'
    or (check == 'no_stream' and version == 0)
    or (check == 'stream_exists' and version > 0)
    or (check == 'exact' and version == tonumber(ARGV[2]))
  if not ok then return {0, version} end
  local count = tonumber(ARGV[5])
  if count == 0 then
    local position = 0
    if fields then
      for i = 1, #fields, 2 do
        if fields[i] == 'position' then position = tonumber(fields[i + 1]) end
      end
    end
    return {1, version, position}
  end
  local position = last(KEYS[2])
  for i = 1, count do
    local at = 5 + (i - 1) * ${PER_EVENT_ARGS}
    version = version + 1
    position = position + 1
    local v, p = string.format('%d', version), string.format('%d', position)
    local entry = {
      'type', ARGV[at + 1], 'data', ARGV[at + 2], 'metadata', ARGV[at + 3], 'eventId', ARGV[at + 4],
      'streamName', ARGV[3], 'streamVersion', v, 'position', p, 'recordedAt', ARGV[4],
    }
    redis.call('XADD', KEYS[1], '0-' .. v, unpack(entry))
    redis.call('XADD', KEYS[2], '0-' .. p, unpack(entry))
  end
  return {1, version, position}`;

/** ioredis's defineCommand: EVALSHA, with a fallback when Redis has not seen the script (NOSCRIPT). */
type WithAppendCommand = Redis & {
  eventStoreAppend(stream: string, all: string, ...args: string[]): Promise<number[]>;
};

/** A stream entry as ioredis returns it: the id, then field, value, field, value … */
type Entry = [id: string, fields: string[]];

class RedisEventStore implements EventStore {
  readonly #redis: WithAppendCommand;
  readonly #namespace: string;
  readonly #clock: Clock;
  readonly #subscriptions = new Set<CatchUpSubscription>();
  #closed = false;

  constructor(redis: Redis, namespace: string, clock: Clock) {
    if (!('eventStoreAppend' in redis)) {
      redis.defineCommand('eventStoreAppend', { numberOfKeys: 2, lua: APPEND_SCRIPT });
    }
    this.#redis = redis as WithAppendCommand;
    this.#namespace = namespace;
    this.#clock = clock;
  }

  async appendToStream(
    streamName: string,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    this.#assertOpen();
    checkStreamName(streamName);
    const expected = options.expectedVersion ?? 'any';
    checkExpectedVersion(expected);
    const args = eventArgs(events);
    const [check, exact] = typeof expected === 'number' ? ['exact', String(expected)] : [expected, ''];
    const recordedAt = new Date(this.#clock.now()).toISOString();
    const reply = await this.#redis.eventStoreAppend(
      this.#streamKey(streamName),
      this.#allKey(),
      check,
      exact,
      streamName,
      recordedAt,
      String(events.length),
      ...args,
    );
    const [ok, version, lastPosition] = reply.map(Number);
    if (ok !== 1) throw new WrongExpectedVersionError(streamName, expected, version!);
    return { nextExpectedVersion: version!, lastPosition: lastPosition! };
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen();
    checkStreamName(streamName);
    const { fromVersion = 1, maxCount } = options;
    checkInteger('fromVersion', fromVersion, 1);
    checkMaxCount(maxCount);
    return this.#range(this.#streamKey(streamName), fromVersion, maxCount);
  }

  async streamVersion(streamName: string): Promise<number> {
    this.#assertOpen();
    checkStreamName(streamName);
    const [last] = (await this.#redis.xrevrange(
      this.#streamKey(streamName),
      '+',
      '-',
      'COUNT',
      1,
    )) as Entry[];
    return last ? sequenceOf(last[0]) : 0;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen();
    const { after = 0, maxCount } = options;
    checkInteger('after', after, 0);
    checkMaxCount(maxCount);
    return this.#range(this.#allKey(), after + 1, maxCount);
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    this.#assertOpen();
    const { after = 0, onEvent } = options;
    if (typeof onEvent !== 'function') {
      throw new TypeError(`onEvent must be a function, got ${describe(onEvent)}`);
    }
    checkInteger('after', after, 0);
    const subscription = new CatchUpSubscription(
      // A queue while it connects, whatever the caller's connection says: the first XREAD waits for it.
      this.#redis.duplicate({ enableOfflineQueue: true }),
      this.#allKey(),
      after,
      onEvent,
    );
    this.#subscriptions.add(subscription);
    subscription.done.then(
      () => this.#subscriptions.delete(subscription),
      () => this.#subscriptions.delete(subscription),
    );
    return subscription;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
  }

  /** The entries of `key` from id `0-<from>` on (inclusive), at most `maxCount` of them. */
  async #range(key: string, from: number, maxCount: number | undefined): Promise<RecordedEvent[]> {
    const start = `0-${from}`;
    const entries = (
      maxCount === undefined
        ? await this.#redis.xrange(key, start, '+')
        : await this.#redis.xrange(key, start, '+', 'COUNT', maxCount)
    ) as Entry[];
    return entries.map(toRecordedEvent);
  }

  #streamKey(streamName: string): string {
    return `${this.#namespace}:stream:${streamName}`;
  }

  #allKey(): string {
    return `${this.#namespace}:all`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new EventStoreClosedError();
  }
}

/**
 * One catch-up subscription. A single loop serves both the history and the live events: each XREAD
 * asks for the entries after the last position delivered, and blocks only when there are none. So
 * there is no hand-over between "reading the past" and "waiting for the future" for an event to
 * fall into (reading the past, then `XREAD BLOCK ... $`, loses whatever was appended in between).
 */
class CatchUpSubscription implements Subscription {
  readonly done: Promise<void>;
  readonly #connection: Redis;
  #stopped = false;

  constructor(
    connection: Redis,
    allKey: string,
    after: number,
    onEvent: (event: RecordedEvent) => void | Promise<void>,
  ) {
    this.#connection = connection;
    // A lost connection shows as a failed XREAD (ioredis retries first); the event itself would
    // otherwise be printed by ioredis as unhandled.
    connection.on('error', () => {});
    this.done = this.#run(allKey, after, onEvent);
    this.done.catch(() => {}); // the caller may never look at done
  }

  async stop(): Promise<void> {
    this.#end();
    await this.done.catch(() => {});
  }

  async #run(
    allKey: string,
    after: number,
    onEvent: (event: RecordedEvent) => void | Promise<void>,
  ): Promise<void> {
    let position = after;
    try {
      while (!this.#stopped) {
        let reply: [key: string, entries: Entry[]][] | null;
        try {
          reply = (await this.#connection.xread(
            'COUNT',
            SUBSCRIPTION_BATCH,
            'BLOCK',
            0,
            'STREAMS',
            allKey,
            `0-${position}`,
          )) as [string, Entry[]][] | null;
        } catch (error) {
          if (this.#stopped) return; // stop() closed the connection under the blocked read
          throw error;
        }
        for (const entry of reply?.[0]?.[1] ?? []) {
          if (this.#stopped) return;
          const event = toRecordedEvent(entry);
          await onEvent(event);
          position = event.position;
        }
      }
    } finally {
      this.#end();
    }
  }

  #end(): void {
    this.#stopped = true;
    this.#connection.disconnect();
  }
}

/** The script's per-event arguments; validates every event before anything is sent. */
function eventArgs(events: readonly NewEvent[]): string[] {
  if (!Array.isArray(events)) throw new TypeError(`events must be an array, got ${describe(events)}`);
  return events.flatMap((event: NewEvent, i) => {
    const at = `events[${i}]`;
    if (typeof event !== 'object' || event === null) {
      throw new TypeError(`${at} must be an object, got ${describe(event)}`);
    }
    const { type, data, metadata = {}, eventId = randomUUID() } = event;
    if (typeof type !== 'string' || type === '') {
      throw new TypeError(`${at}.type must be a non-empty string, got ${describe(type)}`);
    }
    if (typeof eventId !== 'string' || eventId === '') {
      throw new TypeError(`${at}.eventId must be a non-empty string, got ${describe(eventId)}`);
    }
    return [type, jsonOf(`${at}.data`, data), jsonOf(`${at}.metadata`, metadata), eventId];
  });
}

/** The JSON of a plain object, or a TypeError naming the field. */
function jsonOf(field: string, value: unknown): string {
  const proto = typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`${field} must be a plain object, got ${describe(value)}`);
  }
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${field} cannot be written as JSON: ${(error as Error).message}`);
  }
}

function toRecordedEvent([, fields]: Entry): RecordedEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return {
    streamName: f.streamName!,
    streamVersion: Number(f.streamVersion),
    position: Number(f.position),
    type: f.type!,
    data: JSON.parse(f.data!),
    metadata: JSON.parse(f.metadata!),
    eventId: f.eventId!,
    recordedAt: f.recordedAt!,
  };
}

/** The `<n>` of an entry id `0-<n>`. */
function sequenceOf(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

/** Stream names end up in key names: printable text only. */
function checkStreamName(streamName: unknown): asserts streamName is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  if (typeof streamName !== 'string' || streamName === '' || /[\u0000-\u001f\u007f]/.test(streamName)) {
    throw new TypeError(
      `streamName must be a non-empty string without control characters, got ${describe(streamName)}`,
    );
  }
}

function checkExpectedVersion(expected: unknown): asserts expected is ExpectedVersion {
  const named = expected === 'any' || expected === 'no_stream' || expected === 'stream_exists';
  if (!named && !(Number.isSafeInteger(expected) && (expected as number) >= 0)) {
    throw new RangeError(
      `expectedVersion must be 'any', 'no_stream', 'stream_exists' or a safe integer >= 0, got ${describe(expected)}`,
    );
  }
}

function checkInteger(option: string, value: unknown, min: number): void {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new RangeError(`${option} must be a safe integer >= ${min}, got ${describe(value)}`);
  }
}

function checkMaxCount(maxCount: unknown): void {
  if (maxCount !== undefined) checkInteger('maxCount', maxCount, 1);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null)
    return `an object (${value.constructor?.name ?? 'null prototype'})`;
  return String(value);
}
