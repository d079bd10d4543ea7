/**
 * The transactional outbox (microservices.io, "Pattern: Transactional outbox" and "Pattern: Polling
 * publisher"; Debezium's "Outbox Event Router" is the log-tailing variant): a service that changes
 * its state and must tell the world writes the change and the event **in one atomic unit** to its
 * own store, and a relay publishes the event afterwards. Three parts, three jobs:
 *
 * - the **order store** ({@link createOrderStore}) writes an order and its event to an outbox
 *   stream in one Lua script: both or neither, so a failed write publishes nothing and a written
 *   order is never left without its event (the dual write, `HSET` then `XADD`, loses one when the
 *   process or the connection dies between them);
 * - the **relay** ({@link createOutboxRelay}) publishes each outbox entry with an injected
 *   {@link Publisher}, and only then marks it sent (deletes it from the outbox). A relay killed
 *   between the publish and the mark leaves the entry unsent, so the next relay publishes it again:
 *   delivery is **at least once**;
 * - the **inbox** ({@link createInbox}) is the consumer's side (chapter 05's idempotent consumer):
 *   it records the event id and applies the effect in one Lua script, so an event published twice
 *   has **one effect**.
 *
 * **Order.** Events keep their order **per order** (per aggregate), not globally: every relay
 * publishes an order's events in outbox order, one at a time, and only the holder of the lease
 * publishes at all. A relay that lost its lease without knowing it (a pause longer than `leaseMs`)
 * can still publish entries the new holder has already published: duplicates, which the inbox
 * drops; it never publishes an order's event before the ones ahead of it, because it publishes in
 * order from the oldest unsent entry and an entry leaves the outbox only after its publish.
 *
 * Redis keys this module owns (`<ns>` is the namespace):
 *
 * - `<ns>:order:<orderId>`: the order, a hash (`id`, `customer`, `totalCents`, `status`,
 *   `version`). `version` counts the order's events, so it is also the sequence number of the last.
 * - `<ns>:outbox`: the outbox, a stream holding exactly the **unsent** events, oldest first, each
 *   entry's fields `id`, `type`, `order`, `seq`, `payload`, `at` (see {@link OutboxEvent}). An entry
 *   is deleted (`XDEL`) when it is marked sent, so its length is the relay's backlog.
 * - `<ns>:relay:lease`: which relay may publish, a string holding its `owner`, expiring `leaseMs`
 *   after it was taken or renewed (`PX`, Redis's clock).
 * - `<ns>:relay:attempts`: failed publishes per outbox entry, a hash (entry id to count); the field
 *   goes when the entry is marked sent or parked.
 * - `<ns>:parked`: events taken out of the outbox without being published (a poison event, or one
 *   queued behind it), a stream: the event's fields plus `entry`, `reason`, `attempts`, `error`.
 * - `<ns>:parked:orders`: the orders that have a parked event, a set: their later events are parked
 *   behind it, so none overtakes it.
 * - `<ns>:inbox:<consumer>`: the event ids consumer `<consumer>` applied, a set.
 * - `<ns>:view:<consumer>:<orderId>`: the consumer's effect, its read model of the order, a hash
 *   (`customer`, `totalCents`, `status`, `seq`).
 * - `<ns>:feed:<consumer>`: the consumer's effect, one entry per applied event id, a list in the
 *   order applied.
 *
 * **Why Lua and not MULTI.** The write is conditional (no order yet; the next sequence number comes
 * from the stored version) and MULTI cannot branch on a read. Neither rolls back: a command that
 * fails inside a script (or an EXEC) leaves the writes before it. So every script checks everything
 * that could make a write fail (the keys' types, the order's existence) **before** its first write.
 */
import type { Redis } from 'ioredis';

/** The states an order goes through (the saga decides which follows which; the store records them). */
export type OrderStatus = 'placed' | 'paid' | 'shipped' | 'cancelled';

/** The statuses {@link OrderStore.changeStatus} accepts. */
export const ORDER_STATUSES: readonly OrderStatus[] = ['placed', 'paid', 'shipped', 'cancelled'];

/** The longest order id accepted, in characters. */
export const MAX_ORDER_ID_LENGTH = 128;

/** A new order. */
export interface Order {
  /** Its id: a non-empty string of at most {@link MAX_ORDER_ID_LENGTH} characters. */
  readonly id: string;
  /** Who ordered: a non-empty string. */
  readonly customer: string;
  /** What it costs, in cents: a positive safe integer. */
  readonly totalCents: number;
}

/** An event as the outbox holds it and the relay publishes it. */
export interface OutboxEvent {
  /**
   * The event's id, the consumer's dedup key: `<orderId>:<seq>`. Every publish of one event carries
   * the same id.
   */
  readonly id: string;
  /** `'OrderPlaced'` (sequence 1) or `'OrderStatusChanged'`. */
  readonly type: 'OrderPlaced' | 'OrderStatusChanged';
  /** The order (the aggregate) the event belongs to. */
  readonly orderId: string;
  /** Its place among the order's events: 1, 2, 3 … */
  readonly seq: number;
  /**
   * JSON text: `{"customer":…,"totalCents":…}` for `OrderPlaced`, `{"status":…}` for
   * `OrderStatusChanged` (no order id in it: the event says which order).
   */
  readonly payload: string;
  /** When the store wrote it, in ms, on the store's clock. */
  readonly occurredAt: number;
}

/** Time in ms (tests pass a manual clock). */
export interface Clock {
  now(): number;
}

// ---------------------------------------------------------------------------------------------
// The order store: the order and its event in one script.
// ---------------------------------------------------------------------------------------------

export interface OrderStoreOptions {
  /** Where the orders and the outbox live; the store sends every command over it. */
  readonly redis: Redis;
  /** The start of every key: a non-empty string. */
  readonly namespace: string;
  /** Stamps each event's `occurredAt` (default: `Date.now`). */
  readonly clock?: Clock;
}

export interface OrderStore {
  /**
   * Writes the order (`<ns>:order:<id>`: `id`, `customer`, `totalCents`, `status` `'placed'`,
   * `version` 1) and appends its `OrderPlaced` event (id `<id>:1`, seq 1) to `<ns>:outbox`, in ONE
   * Lua script: both are written or neither. Resolves with the event.
   *
   * Failures write nothing:
   * - the order exists already: rejects with {@link OrderExistsError};
   * - a key has the wrong type (e.g. `<ns>:outbox` is not a stream): rejects with Redis's error
   *   (its message starts with `WRONGTYPE`), and the order is not written either (Redis does not
   *   roll back a script: check before the first write);
   * - the connection drops: rejects with the connection's error; the script ran whole or not at all.
   * @throws {TypeError} (as a rejection, before anything is sent) naming the field and the value,
   *   when `order` is not an object, `id` not a non-empty string of at most
   *   {@link MAX_ORDER_ID_LENGTH} characters, `customer` not a non-empty string
   * @throws {RangeError} (as a rejection, before anything is sent) when `totalCents` is not a
   *   positive safe integer
   */
  placeOrder(order: Order): Promise<OutboxEvent>;

  /**
   * Sets the order's `status`, adds 1 to its `version`, and appends an `OrderStatusChanged` event
   * (seq = the new version, payload `{"status":…}`) to the outbox, in ONE Lua script: both or
   * neither. Resolves with the event.
   * @throws {OrderNotFoundError} (as a rejection; nothing written) when the order does not exist
   * @throws {TypeError} (as a rejection, before anything is sent) when `status` is not one of
   *   {@link ORDER_STATUSES} or `orderId` not a valid order id
   */
  changeStatus(orderId: string, status: OrderStatus): Promise<OutboxEvent>;
}

/** The rejection of {@link OrderStore.placeOrder} for an id that is taken. Nothing was written. */
export class OrderExistsError extends Error {
  readonly code = 'EORDEREXISTS';
  override readonly name = 'OrderExistsError';

  constructor(readonly orderId: string) {
    super(`order ${JSON.stringify(orderId)} exists already: an order is placed once (nothing was written)`);
  }
}

/** The rejection of {@link OrderStore.changeStatus} for an order that does not exist. Nothing was written. */
export class OrderNotFoundError extends Error {
  readonly code = 'ENOORDER';
  override readonly name = 'OrderNotFoundError';

  constructor(readonly orderId: string) {
    super(`order ${JSON.stringify(orderId)} does not exist: place it first (nothing was written)`);
  }
}

/**
 * Creates a store on `namespace`.
 * @throws {TypeError} naming the option, when `redis` is not an ioredis client or `namespace` not
 *   a non-empty string
 */
export function createOrderStore(options: OrderStoreOptions): OrderStore {
  throw todo('createOrderStore');
}

// ---------------------------------------------------------------------------------------------
// The relay: publish, then mark.
// ---------------------------------------------------------------------------------------------

/** Where the relay sends events: a broker, another stream, a webhook. */
export interface Publisher {
  /**
   * Publishes one event; resolves once the broker has it. A rejection means it may or may not have
   * it: the relay publishes it again later (the consumer dedups by `event.id`).
   */
  publish(event: OutboxEvent): Promise<void>;
}

export interface OutboxRelayOptions {
  /** Where the outbox lives; the relay sends every command over it. */
  readonly redis: Redis;
  /** The store's namespace. */
  readonly namespace: string;
  readonly publisher: Publisher;
  /** This relay's name, the lease's value: a non-empty string, unique among the relays. */
  readonly owner: string;
  /** How long a lease lasts without renewal, in ms (Redis's clock): a positive safe integer. */
  readonly leaseMs: number;
  /** At most this many entries per pass: a positive safe integer (default 100). */
  readonly batchSize?: number;
  /** Failed publishes after which an entry is parked: a positive safe integer (default 5). */
  readonly maxAttempts?: number;
  /** The pause between passes of {@link OutboxRelay.start} that found nothing to do, in ms (default 100). */
  readonly pollMs?: number;
  /** For {@link OutboxRelay.lag}'s ages (default: `Date.now`); compare with the store's clock. */
  readonly clock?: Clock;
  /** Called with each error of a pass that {@link OutboxRelay.start} runs (Redis down, say). */
  readonly onError?: (error: unknown) => void;
}

/** What one pass did. */
export interface RelayPass {
  /** Whether this relay held the lease (a relay without it publishes nothing). */
  readonly leader: boolean;
  /** Entries published and marked sent. */
  readonly published: number;
  /** Entries parked. */
  readonly parked: number;
  /** Publishes that failed and will be tried again. */
  readonly failed: number;
}

/** How far behind the relay is. */
export interface RelayLag {
  /** Entries in the outbox not yet marked sent. */
  readonly unsent: number;
  /** `clock.now()` minus the oldest unsent event's `occurredAt`, in ms, at least 0; 0 when none. */
  readonly oldestUnsentAgeMs: number;
}

export interface OutboxRelay {
  /**
   * One pass:
   *
   * 1. takes the lease `<ns>:relay:lease` (`SET NX PX leaseMs` with `owner`), or renews it when
   *    this relay holds it; a relay that does not get it resolves `{ leader: false, … }` at once;
   * 2. reads the oldest `batchSize` entries of `<ns>:outbox`;
   * 3. for each, in outbox order, one at a time: `publisher.publish(event)`, and only after it
   *    resolves, marks the entry sent: `XDEL` it from the outbox (and its attempts field).
   *
   * A publish that rejects adds 1 to the entry's count in `<ns>:relay:attempts`; the entry stays in
   * the outbox, and the order's later entries are not published in this pass (nothing of an order
   * overtakes its earlier events); other orders' entries are. When the count reaches
   * `maxAttempts` the entry is **parked** instead: appended to `<ns>:parked` (its fields, plus
   * `entry` the outbox entry id, `reason` `'publish-failed'`, `attempts`, `error` the rejection's
   * message), its order added to `<ns>:parked:orders`, and deleted from the outbox, in one script.
   * Every later entry of a parked order is parked without a publish (`reason` `'order-parked'`,
   * `attempts` 0, `error` empty).
   *
   * A relay that dies after a publish and before its mark leaves the entry in the outbox: the next
   * pass (of any relay, once the lease has expired) publishes it again.
   * @throws {RelayStoppedError} (as a rejection) after {@link stop}
   */
  runOnce(): Promise<RelayPass>;

  /**
   * Runs passes until {@link stop}: the next pass right after one that published or parked a full
   * batch, else after `pollMs`. A pass that rejects goes to `onError`, and the loop goes on.
   */
  start(): void;

  /**
   * Stops the loop, waits for the pass in flight, and releases the lease if this relay holds it
   * (deletes it only if it still holds `owner`), so another relay takes over at once. Resolves when
   * done; a second call resolves when the first has. The `redis` stays open.
   */
  stop(): Promise<void>;

  /** The outbox's backlog and the age of its oldest unsent event (on this relay's clock). */
  lag(): Promise<RelayLag>;
}

/** The rejection of {@link OutboxRelay.runOnce} on a stopped relay. */
export class RelayStoppedError extends Error {
  readonly code = 'ERELAYSTOPPED';
  override readonly name = 'RelayStoppedError';

  constructor() {
    super('this outbox relay is stopped: create a new one');
  }
}

/**
 * Creates a relay on `namespace`. It sends nothing until {@link OutboxRelay.runOnce} or
 * {@link OutboxRelay.start}.
 * @throws {TypeError} naming the option, when `redis` is not an ioredis client, `namespace` or
 *   `owner` not a non-empty string, `publisher` has no `publish` function
 * @throws {RangeError} naming the option and the value, when `leaseMs`, `batchSize`, `maxAttempts`
 *   or `pollMs` is not a positive safe integer
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  throw todo('createOutboxRelay');
}

// ---------------------------------------------------------------------------------------------
// The inbox: the consumer's dedup record and its effect in one script.
// ---------------------------------------------------------------------------------------------

export interface InboxOptions {
  /** Where the inbox and the read model live. */
  readonly redis: Redis;
  /** The start of every key: a non-empty string. */
  readonly namespace: string;
  /** The consuming service's name (its inbox, view and feed keys): a non-empty string. */
  readonly consumer: string;
}

export interface Inbox {
  /**
   * Applies `event` once per event id, in ONE Lua script: if `event.id` is not in
   * `<ns>:inbox:<consumer>`, adds it there and applies the effect: the order's read model
   * `<ns>:view:<consumer>:<orderId>` gets `seq` and, from the payload, `customer` and `totalCents`
   * (`OrderPlaced`, with `status` `'placed'`) or `status` (`OrderStatusChanged`); and `event.id` is
   * appended to the feed `<ns>:feed:<consumer>`. Resolves `'applied'`. If the id is there already,
   * writes nothing and resolves `'duplicate'`. Dedup is by the event id alone: two events with equal
   * payloads (two orders paid) are two events.
   * @throws {TypeError} (as a rejection, before anything is sent) when `event` is not an
   *   {@link OutboxEvent} (its `id`, `orderId` or `payload` not a non-empty string, `seq` not a
   *   positive safe integer, `type` unknown, or `payload` not the JSON object its type needs)
   */
  handle(event: OutboxEvent): Promise<'applied' | 'duplicate'>;
}

/**
 * Creates an inbox for `consumer`.
 * @throws {TypeError} naming the option, when `redis` is not an ioredis client, `namespace` or
 *   `consumer` not a non-empty string
 */
export function createInbox(options: InboxOptions): Inbox {
  throw todo('createInbox');
}

// Each factory validates its options (the errors its TSDoc names), then returns an object: a class
// with private `#` fields, and the Lua scripts as constants (`redis.defineCommand` sends EVALSHA,
// and EVAL after a NOSCRIPT). Every name the tests read is in the header: the keys, their fields.
const todo = (fn: string) =>
  new Error(`${fn}() is not implemented yet: open exercises/14-orders/outbox/outbox.ts`);
