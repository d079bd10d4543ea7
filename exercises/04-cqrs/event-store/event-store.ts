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
  return new RedisEventStore(options);
}

const todo = (fn: string) =>
  new Error(`${fn}() is not implemented yet: open exercises/04-cqrs/event-store/event-store.ts`);

class RedisEventStore implements EventStore {
  // Keep what you need from the options in private `#` fields instead.
  constructor(readonly options: EventStoreOptions) {}

  async appendToStream(
    streamName: string,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    throw todo('appendToStream');
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    throw todo('readStream');
  }

  async streamVersion(streamName: string): Promise<number> {
    throw todo('streamVersion');
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    throw todo('readAll');
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    throw todo('subscribeToAll');
  }

  async close(): Promise<void> {
    throw todo('close');
  }
}
