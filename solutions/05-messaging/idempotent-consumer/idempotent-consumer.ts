/**
 * An idempotent consumer (microservices.io, "Pattern: Idempotent Consumer"): a wrapper around a
 * message handler that makes the handler's effect happen once per message id, however often the
 * message is delivered (at-least-once delivery redelivers after a crash, a lost ack, a reclaim) and
 * however many consumers receive it at the same time. Delivery stays at-least-once; what becomes
 * exactly-once is the **effect**.
 *
 * The effect is a set of Redis writes. The handler does not send them: it queues them on `tx`, a
 * MULTI transaction, and the consumer adds its dedup record to the same transaction, so that Redis
 * applies the effect and the record together or neither.
 *
 * Redis keys this module owns (`<ns>` is `namespace`, `<id>` a message id):
 *
 * - `<ns>:seen:<id>`: the dedup record of message `<id>`, a string holding the **fingerprint** of
 *   the body that was applied (the SHA-256 of the body's UTF-8 bytes, in lowercase hex), set to
 *   expire `windowMs` ms after the apply (`PX`, on Redis's clock, so consumers on machines whose
 *   clocks disagree still agree on the window). While it exists, a delivery of `<id>` is a duplicate.
 *
 * No other key: the effect's keys are the handler's.
 *
 * **One transaction per delivery, guarded by WATCH.** A delivery runs, on one connection:
 * `WATCH <ns>:seen:<id>`, `GET` it (there: a duplicate, `UNWATCH`), the handler (which queues its
 * writes on `tx`), `SET <ns>:seen:<id> <fingerprint> PX <windowMs>` added to the same transaction,
 * `EXEC`. If another delivery of the same id commits between this delivery's WATCH and its EXEC,
 * Redis refuses the EXEC (ioredis resolves `exec()` with `null`): nothing of it is applied, and the
 * consumer reads the record again. So the handler may run for deliveries that end up duplicates:
 * it must do nothing but queue writes on `tx`.
 *
 * **Connections.** WATCH belongs to a connection, and EXEC or UNWATCH forgets every key that
 * connection watched: two deliveries that share a connection unguard each other. So each call of
 * {@link IdempotentConsumer.process} in flight holds a connection of its own.
 *
 * **The window.** A record lives `windowMs` ms; a delivery that comes after it has expired is
 * applied again. So `windowMs` must exceed the longest time between two deliveries of one message
 * (the broker's redelivery or reclaim delay, retries with backoff, a producer's own retries), with
 * a margin. Memory is one record per message id applied in the last `windowMs`.
 *
 * **Effects outside Redis.** An HTTP call (charge a card, send an email) cannot join a Redis
 * transaction: the process can die after the call and before the record commits (the call happens
 * again on redelivery), or after the record and before the call (it never happens). Two ways out:
 * make the effect a Redis write after all (an outbox entry, `XADD` in `tx`, that a relay turns into
 * the call at least once), and pass the message id downstream as the call's idempotency key (as
 * draft-ietf-httpapi-idempotency-key-header describes), so the other side deduplicates the retries.
 */
import { createHash } from 'node:crypto';
import { type ChainableCommander, type Redis, ReplyError } from 'ioredis';

/** A message as the transport delivered it. */
export interface Message {
  /**
   * The message's id, the idempotency key: every delivery of one message carries the same id. A
   * non-empty string of at most {@link MAX_ID_LENGTH} characters.
   */
  readonly id: string;
  /** The payload, as delivered (JSON text, say): a string, possibly empty. */
  readonly body: string;
}

/** What {@link IdempotentConsumer.process} did with a delivery. */
export type Outcome = 'applied' | 'duplicate';

/**
 * Queues the message's effect on `tx` (`tx.incrby(...)`, `tx.hset(...)`, `tx.xadd(...)`) and
 * returns, or resolves, when it has queued everything. It must not call `tx.exec()` or
 * `tx.discard()` (the consumer does), and must do nothing else that matters: it can run for a
 * delivery that then turns out to be a duplicate, whose transaction Redis refuses. A throw or a
 * rejection cancels the delivery: nothing it queued is sent.
 */
export type Handler = (message: Message, tx: ChainableCommander) => void | Promise<void>;

export interface IdempotentConsumerOptions {
  /**
   * The template for the consumer's connections: every command goes over a connection made from
   * it with `redis.duplicate(...)`, and `redis` itself sends nothing. It belongs to the caller:
   * `close()` leaves it open.
   */
  readonly redis: Redis;
  /** The start of every key (`<namespace>:seen:<id>`): a non-empty string. */
  readonly namespace: string;
  /** How long a dedup record lives, in ms: a positive safe integer. */
  readonly windowMs: number;
  /** The effect of one message. */
  readonly handler: Handler;
}

export interface IdempotentConsumer {
  /**
   * Handles one delivery of `message`, once per id:
   *
   * - no record of `message.id`: runs the handler and commits its writes together with the record
   *   in one `EXEC`; resolves `'applied'`;
   * - a record with the same fingerprint: resolves `'duplicate'` without calling the handler or
   *   writing anything (the record's expiry stays as it was: a duplicate does not extend the
   *   window);
   * - a record with another fingerprint: the id was reused for a different body; rejects with
   *   {@link IdempotencyKeyReusedError}, without calling the handler or writing anything.
   *
   * When another delivery of the id commits first (this EXEC is refused), it decides by the
   * record it then finds: the same fingerprint `'duplicate'`, another
   * {@link IdempotencyKeyReusedError}; no record (it expired in between) starts over. The handler
   * runs once per call otherwise.
   *
   * Failures:
   *
   * - the handler throws or rejects: rejects with that same error; nothing is written (no effect,
   *   no record), so the message can be delivered again;
   * - Redis refuses the transaction as a whole (`EXECABORT`, e.g. a command queued with the wrong
   *   number of arguments): rejects with Redis's error; nothing is written;
   * - a command fails while EXEC runs it (e.g. `WRONGTYPE`): Redis has no rollback, so the other
   *   writes and the record are applied; rejects with {@link EffectCommandError}, and a redelivery
   *   is a `'duplicate'`;
   * - the connection drops before EXEC's reply: rejects with the connection's error, and the
   *   transaction is never sent again: a MULTI/EXEC sent again on a new connection has lost its
   *   WATCH (ioredis resends unanswered commands after a reconnect unless told otherwise: see its
   *   `maxRetriesPerRequest`). Whether Redis ran it is unknown; a redelivery finds out (a record
   *   means it did).
   *
   * Connections: the call takes an idle connection of this consumer, or makes one with
   * `redis.duplicate(...)` when none is idle, and holds it until it settles; then the connection
   * is idle again, with nothing watched. So calls one after another use one connection, and N
   * calls at once N connections. A connection whose command failed for a reason other than a reply
   * (it dropped, it was closed) is disconnected and never used again. Every connection has an
   * `'error'` listener: a failure reaches the caller as the rejection of `process()` (without a
   * listener, ioredis prints each connection error as unhandled).
   * @throws {TypeError} (as a rejection) naming the field and the value, before anything is sent,
   *   when `message` is not an object, `message.id` is not a non-empty string of at most
   *   {@link MAX_ID_LENGTH} characters, or `message.body` is not a string
   * @throws {ConsumerClosedError} (as a rejection) after {@link close} was called
   */
  process(message: Message): Promise<Outcome>;

  /**
   * Stops taking deliveries (`process` rejects with {@link ConsumerClosedError} from now on), waits
   * for the calls in flight to settle, then disconnects every connection the consumer made.
   * `redis` stays open. A second call resolves when the first has.
   */
  close(): Promise<void>;
}

/** The longest message id accepted, in characters. */
export const MAX_ID_LENGTH = 256;

/** The rejection of a delivery whose id was applied before with a different body. Nothing was written. */
export class IdempotencyKeyReusedError extends Error {
  readonly code = 'EKEYREUSED';
  override readonly name = 'IdempotencyKeyReusedError';

  constructor(readonly messageId: string) {
    super(
      `message ${JSON.stringify(messageId)} was already applied with a different body: an id must name one ` +
        'message (the producer reused an id, or changed the payload of a retry)',
    );
  }
}

/** One command of the effect that Redis rejected while running the transaction. */
export interface FailedCommand {
  /** Its place among the commands the handler queued, from 0. */
  readonly index: number;
  /** Redis's reply, e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`. */
  readonly error: Error;
}

/**
 * The rejection of a delivery whose transaction ran but in which some commands failed. Redis does
 * not roll back: the other writes and the dedup record were applied. Its message names the message
 * id and Redis's error for each failed command.
 */
export class EffectCommandError extends Error {
  readonly code = 'EEFFECTCOMMAND';
  override readonly name = 'EffectCommandError';

  constructor(
    readonly messageId: string,
    readonly failures: readonly FailedCommand[],
  ) {
    super(
      `message ${JSON.stringify(messageId)}: ${failures.length} command(s) of the effect failed ` +
        `(${failures.map((f) => `#${f.index}: ${f.error.message}`).join('; ')}); Redis applied the others and ` +
        'the record (a transaction has no rollback): fix the handler, redeliveries are duplicates',
    );
  }
}

/** The rejection of a call on a closed consumer. */
export class ConsumerClosedError extends Error {
  readonly code = 'ECONSUMERCLOSED';
  override readonly name = 'ConsumerClosedError';

  constructor() {
    super('this idempotent consumer is closed: create a new one');
  }
}

/**
 * Creates a consumer on `namespace`. It opens no connection until the first delivery.
 * @throws {TypeError} naming the option, when `redis` is not an ioredis client, `namespace` not a
 *   non-empty string, or `handler` not a function
 * @throws {RangeError} naming the option and the value, when `windowMs` is not a positive safe integer
 */
export function createIdempotentConsumer(options: IdempotentConsumerOptions): IdempotentConsumer {
  const { redis, namespace, windowMs, handler } = options;
  if (typeof (redis as Partial<Redis> | undefined)?.duplicate !== 'function') {
    throw new TypeError(`redis must be an ioredis client, got ${describe(redis)}`);
  }
  if (typeof namespace !== 'string' || namespace === '') {
    throw new TypeError(`namespace must be a non-empty string, got ${describe(namespace)}`);
  }
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw new RangeError(`windowMs must be a positive safe integer (ms), got ${describe(windowMs)}`);
  }
  if (typeof handler !== 'function') {
    throw new TypeError(`handler must be a function, got ${describe(handler)}`);
  }
  return new RedisIdempotentConsumer(redis, namespace, windowMs, handler);
}

class RedisIdempotentConsumer implements IdempotentConsumer {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #windowMs: number;
  readonly #handler: Handler;
  /** Every connection made and not yet disconnected; the idle ones also in {@link #idle}. */
  readonly #connections = new Set<Redis>();
  readonly #idle: Redis[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  constructor(redis: Redis, namespace: string, windowMs: number, handler: Handler) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#windowMs = windowMs;
    this.#handler = handler;
  }

  async process(message: Message): Promise<Outcome> {
    if (this.#closing) throw new ConsumerClosedError();
    assertMessage(message);
    const delivery = this.#deliver(message);
    const settled = delivery.then(noop, noop);
    this.#inFlight.add(settled);
    try {
      return await delivery;
    } finally {
      this.#inFlight.delete(settled);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all(this.#inFlight);
      for (const connection of this.#connections) connection.disconnect();
      this.#connections.clear();
      this.#idle.length = 0;
    })();
    return this.#closing;
  }

  async #deliver(message: Message): Promise<Outcome> {
    const key = `${this.#namespace}:seen:${message.id}`;
    const fingerprint = fingerprintOf(message.body);
    const connection = this.#acquire();
    let broken = false;
    /** Redis's answer to a command; a failure that is not a reply from Redis means the connection is gone. */
    const send = <T>(command: Promise<T>): Promise<T> =>
      command.catch((error: unknown) => {
        if (!(error instanceof ReplyError)) broken = true;
        throw error;
      });
    try {
      for (;;) {
        await send(connection.watch(key));
        const recorded = await send(connection.get(key));
        if (recorded !== null) {
          await send(connection.unwatch());
          return verdict(message.id, recorded, fingerprint);
        }
        const tx = connection.multi();
        try {
          await this.#handler(message, tx);
        } catch (error) {
          await send(connection.unwatch()).catch(noop); // the handler's error is the one to report
          throw error;
        }
        tx.set(key, fingerprint, 'PX', this.#windowMs);
        const replies = await send(tx.exec());
        if (replies === null) continue; // another delivery committed first: read the record again
        const failures = replies.flatMap(([error], index) => (error ? [{ index, error }] : []));
        if (failures.length > 0) throw new EffectCommandError(message.id, failures);
        return 'applied';
      }
    } finally {
      this.#release(connection, !broken);
    }
  }

  #acquire(): Redis {
    const idle = this.#idle.pop();
    if (idle) return idle;
    // maxRetriesPerRequest 0: a command whose connection drops is rejected, never sent again after
    // the reconnect. A MULTI/EXEC sent again would run without the WATCH of the connection it lost.
    const connection = this.#redis.duplicate({ maxRetriesPerRequest: 0 });
    connection.on('error', noop); // a failure reaches the caller as the rejection of process()
    this.#connections.add(connection);
    return connection;
  }

  #release(connection: Redis, healthy: boolean): void {
    if (healthy && !this.#closing) {
      this.#idle.push(connection);
      return;
    }
    this.#connections.delete(connection);
    connection.disconnect();
  }
}

/** The result of finding a record: the same body was applied, or the id was reused. */
function verdict(messageId: string, recorded: string, fingerprint: string): Outcome {
  if (recorded !== fingerprint) throw new IdempotencyKeyReusedError(messageId);
  return 'duplicate';
}

/** The SHA-256 of the body's UTF-8 bytes, in lowercase hex. */
function fingerprintOf(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

function assertMessage(message: Message): void {
  if (typeof message !== 'object' || message === null) {
    throw new TypeError(`message must be an object with id and body, got ${describe(message)}`);
  }
  const { id, body } = message;
  if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) {
    throw new TypeError(
      `message.id must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${describe(id)}`,
    );
  }
  if (typeof body !== 'string') {
    throw new TypeError(`message.body must be a string, got ${describe(body)}`);
  }
}

/** A value as an error message shows it: short strings quoted, long ones by their length. */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  }
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

function noop(): void {}
