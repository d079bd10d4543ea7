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
import { createHash } from 'node:crypto';
import { type Redis, ReplyError } from 'ioredis';

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
  const { redis, namespace, clock = { now: () => Date.now() } } = options;
  assertRedis(redis);
  assertNamespace(namespace);
  return new RedisOrderStore(withScripts(redis), namespace, clock);
}

/**
 * KEYS: order hash, outbox. ARGV: order id, customer, total, event id, payload, at.
 * Checks first (the order is new, the outbox is a stream or nothing), writes last.
 */
const PLACE_ORDER = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EORDEREXISTS order exists already')
end
local outboxType = redis.call('TYPE', KEYS[2]).ok
if outboxType ~= 'none' and outboxType ~= 'stream' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' holds a ' .. outboxType .. ', not the outbox stream')
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'customer', ARGV[2], 'totalCents', ARGV[3], 'status', 'placed', 'version', 1)
redis.call('XADD', KEYS[2], '*', 'id', ARGV[4], 'type', 'OrderPlaced', 'order', ARGV[1], 'seq', 1,
  'payload', ARGV[5], 'at', ARGV[6])
return 1`;

/**
 * KEYS: order hash, outbox. ARGV: order id, status, at. Returns the new version.
 */
const CHANGE_STATUS = `
local orderType = redis.call('TYPE', KEYS[1]).ok
if orderType == 'none' then
  return redis.error_reply('ENOORDER order does not exist')
end
if orderType ~= 'hash' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. orderType .. ', not an order hash')
end
local outboxType = redis.call('TYPE', KEYS[2]).ok
if outboxType ~= 'none' and outboxType ~= 'stream' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' holds a ' .. outboxType .. ', not the outbox stream')
end
local seq = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'status', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1] .. ':' .. seq, 'type', 'OrderStatusChanged', 'order', ARGV[1],
  'seq', seq, 'payload', cjson.encode({ status = ARGV[2] }), 'at', ARGV[3])
return seq`;

class RedisOrderStore implements OrderStore {
  readonly #redis: ScriptedRedis;
  readonly #namespace: string;
  readonly #clock: Clock;

  constructor(redis: ScriptedRedis, namespace: string, clock: Clock) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#clock = clock;
  }

  async placeOrder(order: Order): Promise<OutboxEvent> {
    assertOrder(order);
    const { id, customer, totalCents } = order;
    const event: OutboxEvent = {
      id: `${id}:1`,
      type: 'OrderPlaced',
      orderId: id,
      seq: 1,
      payload: JSON.stringify({ customer, totalCents }),
      occurredAt: this.#clock.now(),
    };
    try {
      await this.#redis.outboxPlaceOrder(
        `${this.#namespace}:order:${id}`,
        `${this.#namespace}:outbox`,
        id,
        customer,
        totalCents,
        event.id,
        event.payload,
        event.occurredAt,
      );
    } catch (error) {
      if (isReply(error, 'EORDEREXISTS')) throw new OrderExistsError(id);
      throw error;
    }
    return event;
  }

  async changeStatus(orderId: string, status: OrderStatus): Promise<OutboxEvent> {
    assertOrderId(orderId, 'orderId');
    if (!ORDER_STATUSES.includes(status)) {
      throw new TypeError(`status must be one of ${ORDER_STATUSES.join(', ')}, got ${describe(status)}`);
    }
    const occurredAt = this.#clock.now();
    let seq: number;
    try {
      seq = Number(
        await this.#redis.outboxChangeStatus(
          `${this.#namespace}:order:${orderId}`,
          `${this.#namespace}:outbox`,
          orderId,
          status,
          occurredAt,
        ),
      );
    } catch (error) {
      if (isReply(error, 'ENOORDER')) throw new OrderNotFoundError(orderId);
      throw error;
    }
    return {
      id: `${orderId}:${seq}`,
      type: 'OrderStatusChanged',
      orderId,
      seq,
      payload: JSON.stringify({ status }),
      occurredAt,
    };
  }
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
  const { redis, namespace, publisher, owner, leaseMs } = options;
  const { batchSize = 100, maxAttempts = 5, pollMs = 100, clock = { now: () => Date.now() } } = options;
  assertRedis(redis);
  assertNamespace(namespace);
  if (typeof (publisher as Partial<Publisher> | undefined)?.publish !== 'function') {
    throw new TypeError(`publisher must have a publish(event) function, got ${describe(publisher)}`);
  }
  if (typeof owner !== 'string' || owner === '') {
    throw new TypeError(`owner must be a non-empty string, got ${describe(owner)}`);
  }
  for (const [name, value] of Object.entries({ leaseMs, batchSize, maxAttempts, pollMs })) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`${name} must be a positive safe integer, got ${describe(value)}`);
    }
  }
  return new RedisOutboxRelay(withScripts(redis), namespace, {
    publisher,
    owner,
    leaseMs,
    batchSize,
    maxAttempts,
    pollMs,
    clock,
    onError: options.onError ?? noop,
  });
}

/** KEYS: lease. ARGV: owner, leaseMs. 1 when this owner holds the lease now (taken or renewed). */
const TAKE_LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** KEYS: lease. ARGV: owner. Deletes the lease only if this owner holds it. */
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * KEYS: outbox, parked, parked orders, attempts. ARGV: entry id, order id, reason, attempts, error,
 * then the entry's fields. Parks the entry if it is still in the outbox (another relay may have
 * published it meanwhile); 1 if parked.
 */
const PARK = `
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'entry', ARGV[1], 'reason', ARGV[3], 'attempts', ARGV[4], 'error', ARGV[5],
  unpack(ARGV, 6))
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`;

interface RelaySettings {
  readonly publisher: Publisher;
  readonly owner: string;
  readonly leaseMs: number;
  readonly batchSize: number;
  readonly maxAttempts: number;
  readonly pollMs: number;
  readonly clock: Clock;
  readonly onError: (error: unknown) => void;
}

class RedisOutboxRelay implements OutboxRelay {
  readonly #redis: ScriptedRedis;
  readonly #keys: {
    readonly outbox: string;
    readonly lease: string;
    readonly attempts: string;
    readonly parked: string;
    readonly parkedOrders: string;
  };
  readonly #settings: RelaySettings;
  #running = false;
  #pass: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;

  constructor(redis: ScriptedRedis, namespace: string, settings: RelaySettings) {
    this.#redis = redis;
    this.#settings = settings;
    this.#keys = {
      outbox: `${namespace}:outbox`,
      lease: `${namespace}:relay:lease`,
      attempts: `${namespace}:relay:attempts`,
      parked: `${namespace}:parked`,
      parkedOrders: `${namespace}:parked:orders`,
    };
  }

  runOnce(): Promise<RelayPass> {
    if (this.#stopping) return Promise.reject(new RelayStoppedError());
    const pass = this.#runPass();
    this.#pass = pass.catch(noop);
    return pass;
  }

  start(): void {
    if (this.#running || this.#stopping) return;
    this.#running = true;
    const loop = async () => {
      this.#timer = undefined;
      if (!this.#running) return;
      let full = false;
      try {
        const pass = await this.runOnce();
        full = pass.published + pass.parked >= this.#settings.batchSize;
      } catch (error) {
        if (!(error instanceof RelayStoppedError)) this.#settings.onError(error);
      }
      if (this.#running) this.#timer = setTimeout(loop, full ? 0 : this.#settings.pollMs);
    };
    this.#timer = setTimeout(loop, 0);
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#running = false;
      clearTimeout(this.#timer);
      await this.#pass;
      await this.#redis.outboxReleaseLease(this.#keys.lease, this.#settings.owner);
    })();
    return this.#stopping;
  }

  async lag(): Promise<RelayLag> {
    const [unsent, oldest] = await Promise.all([
      this.#redis.xlen(this.#keys.outbox),
      this.#redis.xrange(this.#keys.outbox, '-', '+', 'COUNT', 1) as Promise<Entry[]>,
    ]);
    const first = oldest[0];
    if (!first) return { unsent: 0, oldestUnsentAgeMs: 0 };
    const age = this.#settings.clock.now() - toEvent(first).occurredAt;
    return { unsent, oldestUnsentAgeMs: Math.max(0, age) };
  }

  async #runPass(): Promise<RelayPass> {
    const { publisher, owner, leaseMs, batchSize, maxAttempts } = this.#settings;
    const keys = this.#keys;
    const held = await this.#redis.outboxTakeLease(keys.lease, owner, leaseMs);
    if (Number(held) !== 1) return { leader: false, published: 0, parked: 0, failed: 0 };
    const entries = (await this.#redis.xrange(keys.outbox, '-', '+', 'COUNT', batchSize)) as Entry[];
    const events = entries.map((entry) => ({ entryId: entry[0], fields: entry[1], event: toEvent(entry) }));
    const orders = [...new Set(events.map(({ event }) => event.orderId))];
    const parkedOrders = new Set<string>();
    if (orders.length > 0) {
      const flags = await this.#redis.smismember(keys.parkedOrders, ...orders);
      orders.forEach((order, i) => {
        if (Number(flags[i]) === 1) parkedOrders.add(order);
      });
    }
    /** Orders whose entry failed in this pass: their later entries wait for the next pass. */
    const blocked = new Set<string>();
    let published = 0;
    let parked = 0;
    let failed = 0;
    for (const { entryId, fields, event } of events) {
      if (blocked.has(event.orderId)) continue;
      if (parkedOrders.has(event.orderId)) {
        parked += await this.#park(entryId, event, fields, 'order-parked', 0, '');
        continue;
      }
      try {
        await publisher.publish(event);
      } catch (error) {
        const attempts = await this.#redis.hincrby(keys.attempts, entryId, 1);
        if (attempts >= maxAttempts) {
          parked += await this.#park(entryId, event, fields, 'publish-failed', attempts, messageOf(error));
          parkedOrders.add(event.orderId);
        } else {
          failed++;
          blocked.add(event.orderId);
        }
        continue;
      }
      // The mark, only now: a relay that dies before it leaves the entry to be published again.
      await this.#redis.multi().xdel(keys.outbox, entryId).hdel(keys.attempts, entryId).exec();
      published++;
    }
    return { leader: true, published, parked, failed };
  }

  async #park(
    entryId: string,
    event: OutboxEvent,
    fields: readonly string[],
    reason: 'publish-failed' | 'order-parked',
    attempts: number,
    error: string,
  ): Promise<number> {
    const k = this.#keys;
    const done = await this.#redis.outboxPark(
      k.outbox,
      k.parked,
      k.parkedOrders,
      k.attempts,
      entryId,
      event.orderId,
      reason,
      attempts,
      error,
      ...fields,
    );
    return Number(done);
  }
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
  const { redis, namespace, consumer } = options;
  assertRedis(redis);
  assertNamespace(namespace);
  if (typeof consumer !== 'string' || consumer === '') {
    throw new TypeError(`consumer must be a non-empty string, got ${describe(consumer)}`);
  }
  const scripted = withScripts(redis);
  const inboxKey = `${namespace}:inbox:${consumer}`;
  const feedKey = `${namespace}:feed:${consumer}`;
  return {
    async handle(event) {
      const fields = viewFields(event);
      // The same content is the same event: dedup on a fingerprint of what it says.
      const fingerprint = createHash('sha256').update(`${event.type}|${event.payload}`).digest('hex');
      const applied = await scripted.outboxInbox(
        inboxKey,
        `${namespace}:view:${consumer}:${event.orderId}`,
        feedKey,
        fingerprint,
        ...fields,
      );
      return Number(applied) === 1 ? 'applied' : 'duplicate';
    },
  };
}

/** KEYS: inbox, view, feed. ARGV: event id, then the view's fields. The check and the effect together. */
const INBOX = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
redis.call('RPUSH', KEYS[3], ARGV[1])
return 1`;

/** The read model's fields an event sets, checked before anything is sent. */
function viewFields(event: OutboxEvent): string[] {
  if (typeof event !== 'object' || event === null) {
    throw new TypeError(`event must be an outbox event, got ${describe(event)}`);
  }
  for (const field of ['id', 'orderId', 'payload'] as const) {
    if (typeof event[field] !== 'string' || event[field] === '') {
      throw new TypeError(`event.${field} must be a non-empty string, got ${describe(event[field])}`);
    }
  }
  if (!Number.isSafeInteger(event.seq) || event.seq <= 0) {
    throw new TypeError(`event.seq must be a positive safe integer, got ${describe(event.seq)}`);
  }
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(event.payload) as Record<string, unknown>;
  } catch {
    throw new TypeError(`event.payload must be JSON, got ${describe(event.payload)}`);
  }
  const seq = String(event.seq);
  if (event.type === 'OrderPlaced') {
    const { customer, totalCents } = payload ?? {};
    if (typeof customer !== 'string' || !Number.isSafeInteger(totalCents)) {
      throw new TypeError(
        `an OrderPlaced payload needs customer and totalCents, got ${describe(event.payload)}`,
      );
    }
    return ['seq', seq, 'customer', customer, 'totalCents', String(totalCents), 'status', 'placed'];
  }
  if (event.type === 'OrderStatusChanged') {
    const status = payload?.status;
    if (typeof status !== 'string') {
      throw new TypeError(`an OrderStatusChanged payload needs a status, got ${describe(event.payload)}`);
    }
    return ['seq', seq, 'status', status];
  }
  throw new TypeError(`event.type must be OrderPlaced or OrderStatusChanged, got ${describe(event.type)}`);
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------------------------

const SCRIPTS = {
  outboxPlaceOrder: { numberOfKeys: 2, lua: PLACE_ORDER },
  outboxChangeStatus: { numberOfKeys: 2, lua: CHANGE_STATUS },
  outboxTakeLease: { numberOfKeys: 1, lua: TAKE_LEASE },
  outboxReleaseLease: { numberOfKeys: 1, lua: RELEASE_LEASE },
  outboxPark: { numberOfKeys: 4, lua: PARK },
  outboxInbox: { numberOfKeys: 3, lua: INBOX },
} as const;

type Arg = string | number;
/** A connection with the scripts defined (ioredis's defineCommand: EVALSHA, EVAL after a NOSCRIPT). */
type ScriptedRedis = Redis & Record<keyof typeof SCRIPTS, (...args: Arg[]) => Promise<unknown>>;

function withScripts(redis: Redis): ScriptedRedis {
  for (const [name, definition] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, definition);
  }
  return redis as ScriptedRedis;
}

/** A stream entry as ioredis returns it: the id, then field, value, field, value … */
type Entry = [id: string, fields: string[]];

/** The event an outbox entry holds. */
function toEvent([, fields]: Entry): OutboxEvent {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  return {
    id: map.get('id') ?? '',
    type: map.get('type') as OutboxEvent['type'],
    orderId: map.get('order') ?? '',
    seq: Number(map.get('seq')),
    payload: map.get('payload') ?? '',
    occurredAt: Number(map.get('at')),
  };
}

function isReply(error: unknown, code: string): boolean {
  // A script's error_reply arrives as ioredis's ReplyError, its message starting with our code.
  return error instanceof ReplyError && (error as Error).message.startsWith(code);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function assertRedis(redis: Redis): void {
  if (typeof (redis as Partial<Redis> | undefined)?.defineCommand !== 'function') {
    throw new TypeError(`redis must be an ioredis client, got ${describe(redis)}`);
  }
}

function assertNamespace(namespace: string): void {
  if (typeof namespace !== 'string' || namespace === '') {
    throw new TypeError(`namespace must be a non-empty string, got ${describe(namespace)}`);
  }
}

function assertOrderId(id: unknown, name: string): void {
  if (typeof id !== 'string' || id === '' || id.length > MAX_ORDER_ID_LENGTH) {
    throw new TypeError(
      `${name} must be a non-empty string of at most ${MAX_ORDER_ID_LENGTH} characters, got ${describe(id)}`,
    );
  }
}

function assertOrder(order: Order): void {
  if (typeof order !== 'object' || order === null) {
    throw new TypeError(`order must be an object with id, customer and totalCents, got ${describe(order)}`);
  }
  assertOrderId(order.id, 'order.id');
  if (typeof order.customer !== 'string' || order.customer === '') {
    throw new TypeError(`order.customer must be a non-empty string, got ${describe(order.customer)}`);
  }
  if (!Number.isSafeInteger(order.totalCents) || order.totalCents <= 0) {
    throw new RangeError(
      `order.totalCents must be a positive safe integer (cents), got ${describe(order.totalCents)}`,
    );
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
