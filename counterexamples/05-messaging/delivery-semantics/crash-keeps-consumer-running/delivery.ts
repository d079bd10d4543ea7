/**
 * Delivery semantics, measured. A producer notifies three consumer services (`email`, `sms`,
 * `audit`), and every service must see every notification (fan-out). The same task runs on each of
 * Redis's three messaging tools behind one interface, so that a crash shows what each one loses:
 *
 * - `pubsub`: PUBLISH to one channel; each consumer holds a SUBSCRIBE connection. Redis hands a
 *   message to whoever is subscribed at that instant and keeps nothing: a consumer that is down, or
 *   that dies with the message in its hands, never gets it (at most once).
 * - `list`: the producer LPUSHes the message onto one list per consumer, all pushes in one
 *   MULTI/EXEC. A consumer takes the oldest with `BLMOVE <queue> <processing> RIGHT LEFT`, handles it,
 *   then LREMs it from its processing list; on start it first handles what its processing list still
 *   holds from a previous run (the reliable-queue pattern of the LMOVE command page): at least once.
 * - `stream`: XADD to one stream; one consumer group per consumer service. A consumer reads with
 *   XREADGROUP and XACKs after handling; on start it first reads its own pending entries again (id
 *   `0`, then on from the last one read) before new ones (`>`): at least once, and Redis counts every
 *   delivery (the delivery count XPENDING shows).
 *
 * Redis keys and channels this module owns (`<ns>` is `namespace`, `<c>` a consumer's name):
 *
 * - `<ns>:channel` (pubsub): the channel every message is published on.
 * - `<ns>:queue:<c>` (list): consumer `<c>`'s queue. The producer pushes on the left, the consumer
 *   takes from the right: first in, first out. Messages wait here whether `<c>` runs or not.
 * - `<ns>:processing:<c>` (list): the message `<c>` has taken and not yet acknowledged (and any whose
 *   handler failed): what a crash leaves behind, and what `<c>` handles first when it starts again.
 * - `<ns>:stream` (stream): every message, as an entry with the fields `id` and `body` (in that
 *   order). Consumer `<c>` reads it through a consumer group named `<c>`, created (with MKSTREAM)
 *   when `<c>` first starts, from id `0`: a group sees every entry the stream holds, even those added
 *   before it existed. Inside its group the reader is a consumer also named `<c>`, so a restarted
 *   `<c>` finds the entries its previous run left pending. Acknowledged entries stay in the stream (trimming it
 *   is the job queue's topic). A pending entry that is no longer in the stream (XDEL, a trim) has
 *   nothing left to deliver: the consumer acknowledges it and goes on.
 *
 * A list element and a pubsub payload are `JSON.stringify({ id, body })`.
 *
 * Everything lives in Redis: a producer and its consumers may use different transports (different
 * processes) on the same namespace and kind. Only the record of deliveries is per transport object.
 *
 * A dropped connection does not end a consumer: ioredis reconnects it (and subscribes again, for
 * pubsub) and the consumer goes on. What was published meanwhile waited in Redis (list, stream) or
 * went to nobody (pubsub). A blocked read that Redis serves in the very instant its connection dies
 * hands the message to nobody: it stays in the processing list or pending until the next start.
 *
 * **Delivered, handled, lost.** A *delivery* is one call of a consumer's handler with a message.
 * It is *handled* when the handler's promise resolves while the consumer is running; only then is
 * the message acknowledged (list: LREM from the processing list; stream: XACK). A handler that throws
 * or rejects *failed*: the message is not acknowledged, and the consumer goes on with the next one.
 * A consumer that crashes while its handler runs discards that call: its outcome is `'crashed'`,
 * whatever the handler does later, and nothing is acknowledged. A message is *processed* by a
 * consumer when at least one of its deliveries was handled; a published message that a consumer never
 * processed is *lost* for it: a handler that started and never finished did not process anything.
 * A message is *redelivered* to a consumer when its handler was called with it more than once.
 *
 * **What each tool guarantees**, in those words, for each consumer (what {@link report} measures):
 *
 * - `pubsub`: at most once. Lost: every message published while the consumer is not subscribed
 *   (not started yet, stopped, crashed, or its connection down until ioredis has subscribed it
 *   again), the message in its hands at a crash and those it had received but not yet handled, and
 *   every message whose handler failed. Nothing is redelivered, so nothing is processed twice.
 * - `list` and `stream`: at least once. A message waits in Redis (queue, stream) until the consumer
 *   takes it, and stays there (processing list, pending entries) until it is acknowledged, so nothing
 *   is lost as long as the consumer starts again (stream: and the entry is not deleted from the
 *   stream before it is acknowledged). Redelivered at the consumer's next start: the message in its
 *   hands at a crash, every message whose handler failed, and a message that was handled but whose
 *   acknowledgement never reached Redis, which is then processed twice (at least once is not exactly
 *   once). A graceful stop loses nothing and causes no redelivery. The stream counts the deliveries of
 *   each entry ({@link Delivery.attempt}); the list does not.
 * - All three: each consumer gets its own copy of every message (fan-out), one at a time, in publish
 *   order, except that a start first delivers what earlier runs left unacknowledged: a redelivered
 *   message comes after messages published later than it.
 *
 * These hold while Redis keeps its data (a Redis restart without persistence loses lists and streams
 * too).
 *
 * **Errors** that name a value write a string in double quotes (as `JSON.stringify` does), an array
 * as its elements written so, in brackets, and anything else as `String()` does: `""`, `"queue"`,
 * `["sms", 7]`, `2.5`, `undefined`, `NaN`.
 */
import type { Redis } from 'ioredis';

/** The Redis tool a transport carries messages with. */
export type TransportKind = 'pubsub' | 'list' | 'stream';

/** What the producer publishes. */
export interface Message {
  /** The message's id, e.g. `'m1'`: a non-empty string. */
  readonly id: string;
  /** The payload: a string (JSON, if you need structure). */
  readonly body: string;
}

/** What a handler receives: the message, and what the consumer knows about this delivery. */
export interface Delivery extends Message {
  /** The consumer service it is delivered to. */
  readonly consumer: string;
  /**
   * True when the message comes from what a previous run of this consumer left unacknowledged: its
   * processing list (list) or its pending entries (stream). Always false for pubsub.
   */
  readonly redelivery: boolean;
  /**
   * Stream only: the entry's delivery count as Redis holds it for this delivery (what XPENDING shows
   * while the handler runs): 1 the first time, 2 after one redelivery, … Absent for pubsub and list
   * (a list does not count deliveries).
   */
  readonly attempt?: number;
}

/** A consumer's handler. It is called with one message at a time, and the next call waits for it. */
export type Handler = (delivery: Delivery) => void | Promise<void>;

/**
 * How a delivery ended: `'running'` (the handler has not settled yet), `'handled'` (it resolved while
 * the consumer was running: the message is acknowledged), `'failed'` (it threw or rejected: not
 * acknowledged), `'crashed'` (the consumer crashed before it settled: whatever it does later is
 * ignored, nothing is acknowledged).
 */
export type DeliveryOutcome = 'running' | 'handled' | 'failed' | 'crashed';

/** One delivery, as the transport recorded it. */
export interface DeliveryRecord {
  /** The consumer service whose handler was called. */
  readonly consumer: string;
  /** The message's id ({@link Message.id}). */
  readonly messageId: string;
  /** As {@link Delivery.redelivery}. */
  readonly redelivery: boolean;
  /** As {@link Delivery.attempt}: stream only. */
  readonly attempt?: number;
  /** How the call ended, or `'running'` while it has not. */
  readonly outcome: DeliveryOutcome;
}

/** What happened to the published messages at one consumer, computed by {@link report}. */
export interface ConsumerReport {
  /** The published ids that this consumer never processed (no handled delivery), in publish order. */
  readonly lost: string[];
  /**
   * The published ids whose handler was called more than once at this consumer (whatever the
   * outcomes), in publish order.
   */
  readonly redelivered: string[];
  /**
   * How many handled deliveries there were beyond the first for the same message, summed over the
   * messages: the times a message's effect happened again (at least once means "maybe twice").
   */
  readonly duplicates: number;
}

/** What {@link createTransport} takes. */
export interface TransportOptions {
  /**
   * The producer's connection (publish goes over it). Each consumer opens connections of its own
   * with `redis.duplicate()` (a blocked read or a subscription holds its connection). It belongs to
   * the caller: nothing here closes it.
   */
  readonly redis: Redis;
  /** The start of every key and channel (`<namespace>:...`): a non-empty string. */
  readonly namespace: string;
  /** The Redis tool to carry the messages with: `'pubsub'`, `'list'` or `'stream'`. */
  readonly kind: TransportKind;
  /** The consumer services, e.g. `['email', 'sms', 'audit']`: at least one, non-empty, distinct. */
  readonly consumers: readonly string[];
  /**
   * How long one blocking read (BLMOVE, XREADGROUP BLOCK) waits for a message before the consumer
   * looks again whether it was asked to stop, in ms: a positive integer. Default 100. Also how long a
   * consumer waits before it reads again after a read failed (its connection is down and ioredis gave
   * up on the command): it keeps trying, once per `blockMs`, never in a busy loop.
   */
  readonly blockMs?: number;
}

/** A consumer that is running: how it ends. */
export interface RunningConsumer {
  /**
   * Graceful: takes no new message, lets the handler finish the message in hand (pubsub: and every
   * message already received, which waits in memory), acknowledges what was handled, then closes the
   * consumer's connections. A blocked read is not cut (Redis could hand over a message just as the
   * connection closes); the consumer waits for it to return, at most `blockMs`. Resolves when all of
   * that is done; then the consumer can be started again. A second call returns the same promise;
   * after {@link crash} it does nothing.
   */
  stop(): Promise<void>;
  /**
   * Abrupt, as a process that dies: closes the consumer's connections now, sends nothing more (no
   * acknowledgement, no read), and discards the running handler call (its record says `'crashed'`,
   * whatever it does later). No handler call of this run starts afterwards. The consumer can be
   * started again at once. Once the run has ended (stopped or crashed), it does nothing: least of all
   * to a run started after it.
   */
  crash(): void;
}

/** One consumer service of a transport. */
export interface Consumer {
  /** The service's name, one of the transport's `consumers`. */
  readonly name: string;
  /**
   * Starts consuming: opens the consumer's connection (`redis.duplicate()`), and handles messages one
   * at a time, in the order they were published, holding at most one at a time (list and stream take
   * the next message from Redis only after the previous one was handled or failed). List and stream
   * first deliver, oldest first, what a previous run left unacknowledged ({@link Delivery.redelivery}
   * true); a message whose handler failed is delivered again only at a later start (so after
   * messages published later). Resolves once the consumer receives every message published from then
   * on: pubsub once SUBSCRIBE is confirmed, stream once its group exists, list once the processing
   * list has been read.
   * @throws {ConsumerRunningError} (as a rejection) when this consumer is already running on this
   *   transport
   * @throws {TypeError} (as a rejection) when `handler` is not a function
   * @throws Redis's error (as a rejection) when Redis refuses the consumer's first commands (a key
   *   of the wrong type); the consumer is then not running, and its connection is closed
   */
  start(handler: Handler): Promise<RunningConsumer>;
}

/**
 * The "notify every consumer service" task on one Redis tool: the producer's side (`publish`), the
 * consumer services, and the record of every delivery to the consumers started through it.
 */
export interface Transport {
  /** The Redis tool it uses, as {@link TransportOptions.kind}. */
  readonly kind: TransportKind;
  /**
   * Sends `message` to every consumer. pubsub: one PUBLISH. list: one LPUSH per consumer queue, all
   * in one MULTI/EXEC, so a producer that dies halfway notifies every consumer or none. stream: one
   * XADD. Resolves when Redis has taken it; rejects with Redis's error when Redis refuses a command
   * (a key of the wrong type: inside MULTI/EXEC the other pushes still happen, Redis does not roll
   * back).
   * @throws {TypeError} (as a rejection), before anything is sent, naming the field and the value,
   *   when `message.id` is not a non-empty string or `message.body` is not a string
   */
  publish(message: Message): Promise<void>;
  /**
   * The consumer service `name`.
   * @throws {RangeError} naming the value, when `name` is not one of `consumers`
   */
  consumer(name: string): Consumer;
  /**
   * Every delivery of this transport's consumers so far, in the order the handler calls started:
   * fresh copies.
   */
  deliveries(): DeliveryRecord[];
  /**
   * Stops every running consumer of this transport gracefully (as {@link RunningConsumer.stop}) and
   * waits for them. Does not close `redis`.
   */
  close(): Promise<void>;
}

/** The rejection of `start()` for a consumer that is already running on this transport. */
export class ConsumerRunningError extends Error {
  /** For callers that branch on a code rather than a class. */
  readonly code = 'ECONSUMERRUNNING';
  override readonly name = 'ConsumerRunningError';

  constructor(
    /** The consumer's name, which the message names too. */
    readonly consumer: string,
  ) {
    super(
      `consumer ${JSON.stringify(consumer)} is already running: stop() or crash() it before starting it again`,
    );
  }
}

/**
 * Creates a transport of `kind` on `namespace`. Nothing is sent until the first call.
 * @throws {TypeError} naming the option and the value, when `redis` is missing, `namespace` is not a
 *   non-empty string, or `consumers` is not an array of non-empty strings
 * @throws {RangeError} naming the option and the value, when `kind` is not one of the three kinds,
 *   `consumers` is empty or names a consumer twice, or `blockMs` is not a positive integer
 */
export function createTransport(options: TransportOptions): Transport {
  const { redis, namespace, kind, consumers, blockMs = 100 } = options;
  if (typeof redis?.duplicate !== 'function') {
    throw new TypeError(`redis must be an ioredis connection, got ${describe(redis)}`);
  }
  if (typeof namespace !== 'string' || namespace === '') {
    throw new TypeError(`namespace must be a non-empty string, got ${describe(namespace)}`);
  }
  if (!KINDS.includes(kind)) {
    throw new RangeError(`kind must be 'pubsub', 'list' or 'stream', got ${describe(kind)}`);
  }
  if (!Array.isArray(consumers) || !consumers.every((c) => typeof c === 'string' && c !== '')) {
    throw new TypeError(`consumers must be an array of non-empty strings, got ${describe(consumers)}`);
  }
  if (consumers.length === 0 || new Set(consumers).size !== consumers.length) {
    throw new RangeError(`consumers must name at least one consumer, each once, got ${describe(consumers)}`);
  }
  if (!Number.isInteger(blockMs) || blockMs <= 0) {
    throw new RangeError(`blockMs must be a positive integer, got ${describe(blockMs)}`);
  }
  const names = [...consumers]; // the caller's array may change later; this transport's consumers do not
  return new RedisTransport(kind, redis, new WIRES[kind](redis, namespace, names), names, blockMs);
}

/**
 * What happened at each consumer in `consumers`, from the record of `deliveries` alone: which
 * `published` messages it lost, which it got more than once, and how many times an effect happened
 * again. Records of other consumers, and of ids not in `published`, are ignored. A pure function: it
 * returns new arrays and changes nothing it is given.
 * @throws {RangeError} naming the id, when `published` holds an id twice
 */
export function report(
  published: readonly string[],
  deliveries: readonly DeliveryRecord[],
  consumers: readonly string[],
): Record<string, ConsumerReport> {
  const ids = new Set<string>();
  for (const id of published) {
    if (ids.has(id)) throw new RangeError(`published must name each message once, got ${describe(id)} twice`);
    ids.add(id);
  }
  const result: Record<string, ConsumerReport> = {};
  for (const consumer of consumers) {
    const calls = new Map<string, number>();
    const handled = new Map<string, number>();
    for (const record of deliveries) {
      if (record.consumer !== consumer || !ids.has(record.messageId)) continue;
      increment(calls, record.messageId);
      if (record.outcome === 'handled') increment(handled, record.messageId);
    }
    let duplicates = 0;
    for (const count of handled.values()) duplicates += count - 1;
    result[consumer] = {
      lost: published.filter((id) => !handled.has(id)),
      redelivered: published.filter((id) => (calls.get(id) ?? 0) > 1),
      duplicates,
    };
  }
  return result;
}

const KINDS: readonly TransportKind[] = ['pubsub', 'list', 'stream'];

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** A message that has reached a consumer, before it is handed to the handler. */
interface Incoming {
  readonly message: Message;
  readonly redelivery: boolean;
  readonly attempt?: number;
  /** Acknowledges it in Redis over the consumer's own connection (none for pubsub). */
  readonly ack?: () => Promise<unknown>;
}

/**
 * Where a consumer's messages come from, on its own connection. `next()` resolves with the next
 * message, or with `undefined` when there is none yet (after waiting up to `blockMs`) or when
 * `closing()` was called and nothing is left in hand.
 */
interface Source {
  next(): Promise<Incoming | undefined>;
  /** Called by a graceful stop: after it, `next()` gives only what was already received. */
  closing(): Promise<void>;
  /**
   * Called by a crash, for a source whose `next()` waits in memory (pubsub): ends that wait at once,
   * sending nothing. (A blocked read on a connection fails by itself when the connection closes.)
   */
  abandon?(): void;
}

/** One kind's commands: the producer's side, and a source per consumer run. */
interface Wire {
  publish(message: Message): Promise<void>;
  /** Opens consumer `name`'s source on `connection`; resolves when it is ready (see `start`). */
  open(connection: Redis, name: string, blockMs: number): Promise<Source>;
}

class PubSubWire implements Wire {
  readonly #redis: Redis;
  readonly #channel: string;

  constructor(redis: Redis, namespace: string) {
    this.#redis = redis;
    this.#channel = `${namespace}:channel`;
  }

  async publish(message: Message): Promise<void> {
    await this.#redis.publish(this.#channel, encode(message));
  }

  async open(connection: Redis): Promise<Source> {
    const channel = this.#channel;
    const inbox: Message[] = [];
    let wake: (() => void) | undefined;
    let closing = false;
    // The connection subscribes to this one channel only: every 'message' is one of ours.
    connection.on('message', (_channel: string, payload: string) => {
      inbox.push(decode(payload));
      wake?.();
    });
    await connection.subscribe(channel);
    return {
      async next() {
        if (inbox.length === 0 && !closing) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
        const message = inbox.shift();
        return message && { message, redelivery: false };
      },
      async closing() {
        // Messages sent before the UNSUBSCRIBE took effect arrive before its reply: once it is
        // confirmed, the inbox holds all of them, and nothing more will come.
        await connection.unsubscribe(channel).catch(() => {});
        closing = true;
        wake?.();
      },
      abandon() {
        wake?.(); // a next() waiting for a message returns: the loop sees the crash and ends
      },
    };
  }
}

class ListWire implements Wire {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #consumers: readonly string[];

  constructor(redis: Redis, namespace: string, consumers: readonly string[]) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#consumers = consumers;
  }

  async publish(message: Message): Promise<void> {
    const payload = encode(message);
    const transaction = this.#redis.multi();
    for (const consumer of this.#consumers) transaction.lpush(this.#queue(consumer), payload);
    const replies = await transaction.exec();
    const failure = replies?.find(([error]) => error)?.[0];
    if (failure) throw failure;
  }

  async open(connection: Redis, name: string, blockMs: number): Promise<Source> {
    const queue = this.#queue(name);
    const processing = `${this.#namespace}:processing:${name}`;
    // Newest first (BLMOVE pushes on the left): handle them oldest first.
    const leftOver = (await connection.lrange(processing, 0, -1)).reverse();
    let closing = false;
    const incoming = (payload: string, redelivery: boolean): Incoming => ({
      message: decode(payload),
      redelivery,
      // One copy only: the same payload can be there twice (a producer that retried), and the other
      // copy may be a failed delivery waiting for the next start.
      ack: () => connection.lrem(processing, 1, payload),
    });
    return {
      async next() {
        if (closing) return undefined;
        const stranded = leftOver.shift();
        if (stranded !== undefined) return incoming(stranded, true);
        const payload = await connection.blmove(queue, processing, 'RIGHT', 'LEFT', blockMs / 1000);
        return payload === null ? undefined : incoming(payload, false);
      },
      async closing() {
        closing = true;
      },
    };
  }

  #queue(consumer: string): string {
    return `${this.#namespace}:queue:${consumer}`;
  }
}

/** A stream entry as ioredis returns it: the id, then field, value, field, value … (null if deleted). */
type Entry = [id: string, fields: string[] | null];

class StreamWire implements Wire {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, namespace: string) {
    this.#redis = redis;
    this.#key = `${namespace}:stream`;
  }

  async publish(message: Message): Promise<void> {
    await this.#redis.xadd(this.#key, '*', 'id', message.id, 'body', message.body);
  }

  async open(connection: Redis, name: string, blockMs: number): Promise<Source> {
    const key = this.#key;
    try {
      await connection.xgroup('CREATE', key, name, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
    }
    // First this consumer's own pending entries, from the start of its list and on from the last
    // one read (not from 0 again: an entry that fails again stays pending and would come back forever).
    let pendingAfter: string | undefined = '0';
    let closing = false;
    // COUNT 1: a consumer holds at most one message; one it has not handled stays in the stream.
    const read = async (after: string): Promise<Entry | undefined> => {
      const reply = (
        after === '>'
          ? await connection.xreadgroup(
              'GROUP',
              name,
              name,
              'COUNT',
              1,
              'BLOCK',
              blockMs,
              'STREAMS',
              key,
              '>',
            )
          : await connection.xreadgroup('GROUP', name, name, 'COUNT', 1, 'STREAMS', key, after)
      ) as [string, Entry[]][] | null;
      return reply?.[0]?.[1][0];
    };
    const incoming = async (entry: Entry, redelivery: boolean): Promise<Incoming | undefined> => {
      const [id, fields] = entry;
      const ack = () => connection.xack(key, name, id);
      if (fields === null) {
        await ack(); // deleted from the stream: nothing left to deliver
        return undefined;
      }
      let attempt = 1;
      if (redelivery) {
        const [[, , , count]] = (await connection.xpending(key, name, id, id, 1, name)) as [
          [string, string, number, number],
        ];
        attempt = Number(count);
      }
      return { message: fromFields(fields), redelivery, attempt, ack };
    };
    return {
      async next() {
        if (closing) return undefined;
        if (pendingAfter !== undefined) {
          const entry = await read(pendingAfter);
          if (entry !== undefined) {
            pendingAfter = entry[0];
            return incoming(entry, true);
          }
          pendingAfter = undefined;
        }
        const entry = await read('>');
        return entry && incoming(entry, false);
      },
      async closing() {
        closing = true;
      },
    };
  }
}

const WIRES: Record<
  TransportKind,
  new (
    redis: Redis,
    namespace: string,
    consumers: readonly string[],
  ) => Wire
> = { pubsub: PubSubWire, list: ListWire, stream: StreamWire };

/** A record the transport can still update (its outcome); callers only ever get copies. */
type MutableRecord = { -readonly [K in keyof DeliveryRecord]: DeliveryRecord[K] };

class RedisTransport implements Transport {
  readonly kind: TransportKind;
  readonly #redis: Redis;
  readonly #wire: Wire;
  readonly #consumers: readonly string[];
  readonly #blockMs: number;
  readonly #records: MutableRecord[] = [];
  readonly #running = new Map<string, ConsumerRun>();

  constructor(kind: TransportKind, redis: Redis, wire: Wire, consumers: readonly string[], blockMs: number) {
    this.kind = kind;
    this.#redis = redis;
    this.#wire = wire;
    this.#consumers = consumers;
    this.#blockMs = blockMs;
  }

  async publish(message: Message): Promise<void> {
    const { id, body } = message ?? {};
    if (typeof id !== 'string' || id === '') {
      throw new TypeError(`message.id must be a non-empty string, got ${describe(id)}`);
    }
    if (typeof body !== 'string') throw new TypeError(`message.body must be a string, got ${describe(body)}`);
    await this.#wire.publish({ id, body });
  }

  consumer(name: string): Consumer {
    if (!this.#consumers.includes(name)) {
      throw new RangeError(
        `no consumer ${describe(name)} on this transport: it has ${this.#consumers.map(describe).join(', ')}`,
      );
    }
    return { name, start: (handler) => this.#start(name, handler) };
  }

  deliveries(): DeliveryRecord[] {
    return this.#records.map((record) => ({ ...record }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#running.values()].map((run) => run.stop()));
  }

  async #start(name: string, handler: Handler): Promise<RunningConsumer> {
    if (typeof handler !== 'function') {
      throw new TypeError(`handler must be a function, got ${describe(handler)}`);
    }
    if (this.#running.has(name)) throw new ConsumerRunningError(name);
    const run = new ConsumerRun(this.#redis.duplicate(), name, handler, this.#records, () =>
      this.#running.delete(name),
    );
    this.#running.set(name, run);
    try {
      await run.open(this.#wire, this.#blockMs);
    } catch (error) {
      run.crash();
      throw error;
    }
    return { stop: () => run.stop(), crash: () => run.crash() };
  }
}

/** One run of one consumer: from start() to stop() or crash(). */
class ConsumerRun {
  readonly #connection: Redis;
  readonly #name: string;
  readonly #handler: Handler;
  readonly #records: MutableRecord[];
  readonly #onEnd: () => void;
  #source: Source | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #closing = false;
  #crashed = false;
  #ended = false;
  #inHand: MutableRecord | undefined;

  constructor(
    connection: Redis,
    name: string,
    handler: Handler,
    records: MutableRecord[],
    onEnd: () => void,
  ) {
    this.#connection = connection;
    this.#name = name;
    this.#handler = handler;
    this.#records = records;
    this.#onEnd = onEnd;
    connection.on('error', () => {}); // a dropped connection shows as failed commands; ioredis reconnects
  }

  async open(wire: Wire, blockMs: number): Promise<void> {
    this.#source = await wire.open(this.#connection, this.#name, blockMs);
    this.#loop = this.#consume(this.#source, blockMs);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#crashed ? Promise.resolve() : this.#drain();
    return this.#stopping;
  }

  crash(): void {
    this.#crashed = true;
    if (this.#inHand) this.#inHand.outcome = 'crashed';
    this.#connection.disconnect();
    this.#source?.abandon?.();
  }

  async #drain(): Promise<void> {
    this.#closing = true;
    await this.#source?.closing();
    await this.#loop;
    this.#connection.disconnect();
    this.#end();
  }

  /** Tells the transport once, whichever way the run ends (a crash during a stop ends it first). */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd();
  }

  async #consume(source: Source, blockMs: number): Promise<void> {
    for (;;) {
      let incoming: Incoming | undefined;
      try {
        incoming = await source.next();
      } catch {
        if (this.#crashed || this.#closing) return; // the connection was closed under the read
        await sleep(blockMs); // a failed command (ioredis gave up reconnecting): read again
        continue;
      }
      if (this.#crashed) return;
      if (incoming === undefined) {
        if (this.#closing) return;
        continue;
      }
      const outcome = await this.#deliver(incoming);
      if (this.#crashed) return;
      // Unacknowledged (failed, or the ack itself failed): delivered again at the next start.
      if (outcome === 'handled') await incoming.ack?.().catch(() => {});
    }
  }

  async #deliver({ message, redelivery, attempt }: Incoming): Promise<DeliveryOutcome> {
    const counted = attempt === undefined ? {} : { attempt };
    const record: MutableRecord = {
      consumer: this.#name,
      messageId: message.id,
      redelivery,
      ...counted,
      outcome: 'running',
    };
    this.#records.push(record);
    this.#inHand = record;
    let outcome: DeliveryOutcome;
    try {
      await this.#handler({
        id: message.id,
        body: message.body,
        consumer: this.#name,
        redelivery,
        ...counted,
      });
      outcome = 'handled';
    } catch {
      outcome = 'failed';
    }
    this.#inHand = undefined;
    if (!this.#crashed) record.outcome = outcome; // after a crash it stays 'crashed', whatever happened
    return record.outcome;
  }
}

function encode(message: Message): string {
  return JSON.stringify({ id: message.id, body: message.body });
}

function decode(payload: string): Message {
  const { id, body } = JSON.parse(payload) as Message;
  return { id, body };
}

/** A stream entry's fields as publish() writes them (`id`, <id>, `body`, <body>) as a message. */
function fromFields(fields: readonly string[]): Message {
  return { id: fields[1]!, body: fields[3]! };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  return String(value);
}
