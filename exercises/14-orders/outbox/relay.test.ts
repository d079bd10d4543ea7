/**
 * The relay, one pass at a time (`runOnce`) with a publisher that appends to a broker stream: it
 * publishes in outbox order, marks an entry sent only after its publish, holds a lease, parks a
 * poison event after maxAttempts, and exposes its lag on an injected clock.
 */
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, useRedis, waitFor } from '../../../src/testing/index.js';
import { brokerEvents, brokerPublisher, connection, relay, streamFields, useNamespace } from './harness.js';
import {
  createOrderStore,
  createOutboxRelay,
  type OrderStore,
  type OutboxEvent,
  type Publisher,
  RelayStoppedError,
} from './outbox.js';

const redis = useRedis();
const ns = useNamespace('relay');
let admin: Redis;
let store: OrderStore;
const clock = new ManualClock(1_000);
beforeEach(async () => {
  admin = await connection(redis.url);
  clock.set(1_000);
  store = createOrderStore({ redis: admin, namespace: ns.current, clock });
});

const outboxKey = () => `${ns.current}:outbox`;
const leaseKey = () => `${ns.current}:relay:lease`;
const place = (id: string) => store.placeOrder({ id, customer: 'ada', totalCents: 1000 });

/** a:1, b:1, a:2, b:2, a:3 in the outbox, and the events as the store returned them. */
async function interleaved(): Promise<OutboxEvent[]> {
  return [
    await place('a'),
    await place('b'),
    await store.changeStatus('a', 'paid'),
    await store.changeStatus('b', 'cancelled'),
    await store.changeStatus('a', 'shipped'),
  ];
}

describe('publishing', () => {
  it('one pass publishes every unsent event in outbox order, as the store wrote it, then the outbox is empty', async () => {
    const written = await interleaved();
    const broker = brokerPublisher(admin, ns.events);
    const r = relay({ redis: admin, namespace: ns.current, publisher: broker, owner: 'r1', leaseMs: 5_000 });
    expect(await r.runOnce()).toEqual({ leader: true, published: 5, parked: 0, failed: 0 });
    expect(
      broker.calls,
      'the publisher gets each event once, in outbox order, equal to what the store returned',
    ).toEqual(written);
    expect(await brokerEvents(admin, ns.events)).toEqual(written);
    expect(await admin.xlen(outboxKey()), 'every published entry is marked sent (gone from the outbox)').toBe(
      0,
    );
    expect(await r.runOnce(), 'a second pass finds nothing').toEqual({
      leader: true,
      published: 0,
      parked: 0,
      failed: 0,
    });
  });

  it('an entry is marked sent only after its publish resolved: while the publish is in flight it is still in the outbox', async () => {
    await interleaved();
    const stillThere: string[] = [];
    const broker = brokerPublisher(admin, ns.events, {
      before: async (event) => {
        const ids = (await streamFields(admin, outboxKey())).map((f) => f.id);
        if (ids.includes(event.id)) stillThere.push(event.id);
      },
    });
    const r = relay({ redis: admin, namespace: ns.current, publisher: broker, owner: 'r1', leaseMs: 5_000 });
    await r.runOnce();
    expect(
      stillThere,
      'each entry stays in the outbox until its publish resolves (a relay that dies mid-publish must leave it to be sent again)',
    ).toEqual(['a:1', 'b:1', 'a:2', 'b:2', 'a:3']);
  });

  it('publishes one at a time: the next publish starts after the previous one resolved', async () => {
    await interleaved();
    let inFlight = 0;
    let most = 0;
    const broker = brokerPublisher(admin, ns.events, {
      delayMs: () => {
        most = Math.max(most, ++inFlight);
        return 5;
      },
      before: () => void inFlight--,
    });
    const r = relay({ redis: admin, namespace: ns.current, publisher: broker, owner: 'r1', leaseMs: 5_000 });
    await r.runOnce();
    expect(most, 'never two publishes in flight at once').toBe(1);
  });

  it('a pass takes at most batchSize entries, the oldest first', async () => {
    const written = await interleaved();
    const broker = brokerPublisher(admin, ns.events);
    const r = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r1',
      leaseMs: 5_000,
      batchSize: 2,
    });
    expect((await r.runOnce()).published).toBe(2);
    expect(broker.calls.map((e) => e.id)).toEqual(written.slice(0, 2).map((e) => e.id));
    expect(await admin.xlen(outboxKey())).toBe(3);
  });
});

describe('the lease', () => {
  it('a relay takes the lease (its owner, expiring within leaseMs); another relay then publishes nothing', async () => {
    await interleaved();
    const broker = brokerPublisher(admin, ns.events);
    const first = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r1',
      leaseMs: 5_000,
    });
    const other = brokerPublisher(admin, ns.events);
    const second = relay({
      redis: admin,
      namespace: ns.current,
      publisher: other,
      owner: 'r2',
      leaseMs: 5_000,
    });
    expect((await first.runOnce()).leader).toBe(true);
    expect(await admin.get(leaseKey()), 'the lease holds its owner').toBe('r1');
    const ttl = await admin.pttl(leaseKey());
    expect(ttl, `the lease expires within leaseMs (PTTL ${ttl})`).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
    await place('c');
    expect(await second.runOnce(), 'a relay without the lease publishes nothing').toEqual({
      leader: false,
      published: 0,
      parked: 0,
      failed: 0,
    });
    expect(other.calls).toEqual([]);
    expect((await first.runOnce()).published, 'the holder renews its lease and goes on').toBe(1);
  });

  it('stop() releases the lease, so another relay takes over at once; runOnce then rejects with RelayStoppedError', async () => {
    const broker = brokerPublisher(admin, ns.events);
    const first = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r1',
      leaseMs: 60_000,
    });
    await first.runOnce();
    await first.stop();
    expect(await admin.exists(leaseKey()), 'the lease is released').toBe(0);
    await expect(first.runOnce()).rejects.toBeInstanceOf(RelayStoppedError);
    await place('a');
    const second = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r2',
      leaseMs: 60_000,
    });
    expect(await second.runOnce()).toMatchObject({ leader: true, published: 1 });
  });

  it("stop() leaves another relay's lease alone", async () => {
    const broker = brokerPublisher(admin, ns.events);
    const idle = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r1',
      leaseMs: 60_000,
    });
    await admin.set(leaseKey(), 'r2', 'PX', 60_000);
    expect((await idle.runOnce()).leader).toBe(false);
    await idle.stop();
    expect(await admin.get(leaseKey()), 'a relay deletes the lease only while it holds it').toBe('r2');
  });

  it('start() runs passes by itself until stop()', async () => {
    const broker = brokerPublisher(admin, ns.events);
    const r = relay({ redis: admin, namespace: ns.current, publisher: broker, owner: 'r1', leaseMs: 5_000 });
    r.start();
    await place('a');
    await store.changeStatus('a', 'paid');
    await waitFor(
      'the started relay to publish both events',
      async () => (await admin.xlen(ns.events)) === 2,
    );
    await r.stop();
    await place('b');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await admin.xlen(ns.events), 'nothing is published after stop()').toBe(2);
  });
});

describe('start()', () => {
  it('after a full batch the next pass starts at once; after a short one it waits pollMs', async () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) await place(id);
    const broker = brokerPublisher(admin, ns.events);
    const r = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r1',
      leaseMs: 60_000,
      batchSize: 2,
      pollMs: 60_000,
    });
    r.start();
    r.start(); // a second call changes nothing
    await waitFor(
      'full batches to follow each other without waiting pollMs',
      async () => broker.calls.length === 5,
      {
        timeoutMs: 4_000,
      },
    );
    await place('f');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(
      broker.calls.map((e) => e.id),
      'after the short batch the loop waits pollMs (60 s)',
    ).toHaveLength(5);
  });

  it('a pass that fails (Redis refuses) goes to onError, and the loop goes on', async () => {
    await admin.set(outboxKey(), 'not a stream');
    const errors: unknown[] = [];
    const broker = brokerPublisher(admin, ns.events);
    const r = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r1',
      leaseMs: 60_000,
      onError: (error) => errors.push(error),
    });
    r.start();
    await waitFor('two failed passes reported to onError', () => errors.length >= 2, { timeoutMs: 4_000 });
    expect(String(errors[0])).toMatch(/WRONGTYPE/);
    await admin.del(outboxKey());
    await place('a');
    await waitFor('the loop to go on once Redis accepts the pass', () => broker.calls.length === 1, {
      timeoutMs: 4_000,
    });
  });
});

describe('a publish that fails, and a poison event', () => {
  it("a rejected publish leaves the entry unsent and counts it; the order's later events wait, other orders' go on", async () => {
    await interleaved();
    let down = true;
    const broker = brokerPublisher(admin, ns.events, {
      refuse: (e) => (down && e.id === 'a:1' ? new Error('broker refused a:1') : undefined),
    });
    const r = relay({ redis: admin, namespace: ns.current, publisher: broker, owner: 'r1', leaseMs: 5_000 });
    expect(await r.runOnce()).toEqual({ leader: true, published: 2, parked: 0, failed: 1 });
    expect(
      (await brokerEvents(admin, ns.events)).map((e) => e.id),
      "order a's later events are not published before a:1; order b's are",
    ).toEqual(['b:1', 'b:2']);
    expect(await admin.hgetall(`${ns.current}:relay:attempts`), 'one failed attempt of a:1’s entry').toEqual({
      [(await admin.xrange(outboxKey(), '-', '+', 'COUNT', 1))[0]![0]]: '1',
    });
    down = false;
    expect((await r.runOnce()).published).toBe(3);
    expect((await brokerEvents(admin, ns.events)).map((e) => e.id)).toEqual([
      'b:1',
      'b:2',
      'a:1',
      'a:2',
      'a:3',
    ]);
    expect(await admin.exists(`${ns.current}:relay:attempts`), 'the count goes once the entry is sent').toBe(
      0,
    );
  });

  it('a poison event is parked after maxAttempts failed publishes (not retried forever), and its order’s later events are parked behind it', async () => {
    const a1 = await place('a');
    const b1 = await place('b');
    const a2 = await store.changeStatus('a', 'paid');
    const broker = brokerPublisher(admin, ns.events, {
      refuse: (e) => (e.id === 'a:1' ? new Error('message too large') : undefined),
    });
    const r = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r1',
      leaseMs: 5_000,
      maxAttempts: 3,
    });
    const [entryA1] = (await admin.xrange(outboxKey(), '-', '+', 'COUNT', 1))[0]!;
    const passes = [];
    for (let pass = 0; pass < 10; pass++) passes.push(await r.runOnce());
    expect(
      passes.slice(0, 4),
      'b:1 goes at once; a:1 fails twice, then is parked with a:2 behind it',
    ).toEqual([
      { leader: true, published: 1, parked: 0, failed: 1 },
      { leader: true, published: 0, parked: 0, failed: 1 },
      { leader: true, published: 0, parked: 2, failed: 0 },
      { leader: true, published: 0, parked: 0, failed: 0 },
    ]);
    expect(
      broker.calls.filter((e) => e.id === 'a:1'),
      'the poison event is tried maxAttempts = 3 times, then never again',
    ).toHaveLength(3);
    expect(
      broker.calls.filter((e) => e.id === 'a:2'),
      'its order’s later event is never published',
    ).toEqual([]);
    expect((await brokerEvents(admin, ns.events)).map((e) => e.id)).toEqual([b1.id]);
    expect(await admin.xlen(outboxKey()), 'both are out of the outbox').toBe(0);
    const parked = await streamFields(admin, `${ns.current}:parked`);
    expect(parked, 'the parked stream holds the poison event, then the one queued behind it').toEqual([
      {
        entry: entryA1,
        reason: 'publish-failed',
        attempts: '3',
        error: 'message too large',
        id: a1.id,
        type: 'OrderPlaced',
        order: 'a',
        seq: '1',
        payload: a1.payload,
        at: String(a1.occurredAt),
      },
      expect.objectContaining({ reason: 'order-parked', attempts: '0', error: '', id: a2.id, seq: '2' }),
    ]);
    expect(await admin.smembers(`${ns.current}:parked:orders`)).toEqual(['a']);
    await store.changeStatus('a', 'cancelled');
    await r.runOnce();
    expect(
      (await streamFields(admin, `${ns.current}:parked`)).map((f) => [f.id, f.reason]).at(-1),
      'an event of a parked order written later is parked too',
    ).toEqual(['a:3', 'order-parked']);
  });
});

describe('lag', () => {
  it('reports the backlog and the age of the oldest unsent event, on the relay’s clock', async () => {
    const broker = brokerPublisher(admin, ns.events, {
      refuse: (e) => (e.id === 'a:2' ? new Error('no') : undefined),
    });
    const r = relay({
      redis: admin,
      namespace: ns.current,
      publisher: broker,
      owner: 'r1',
      leaseMs: 5_000,
      clock,
    });
    expect(await r.lag(), 'an empty outbox: no lag').toEqual({ unsent: 0, oldestUnsentAgeMs: 0 });
    await place('a'); // at 1000
    clock.advance(500);
    await store.changeStatus('a', 'paid'); // at 1500
    clock.advance(500);
    await place('b'); // at 2000
    clock.advance(600);
    expect(await r.lag(), 'three unsent; the oldest was written 1600 ms ago').toEqual({
      unsent: 3,
      oldestUnsentAgeMs: 1_600,
    });
    await r.runOnce(); // a:1 and b:1 go; a:2 fails
    expect(await r.lag(), 'a:2 is the oldest left, written 1100 ms ago').toEqual({
      unsent: 1,
      oldestUnsentAgeMs: 1_100,
    });
  });
});

describe('validation', () => {
  it('createOutboxRelay checks its options, naming the bad one', () => {
    const publisher: Publisher = { publish: async () => {} };
    const base = { redis: admin, namespace: ns.current, publisher, owner: 'r1', leaseMs: 1_000 };
    expect(() => createOutboxRelay({ ...base, owner: '' })).toThrow(/owner/);
    expect(() => createOutboxRelay({ ...base, publisher: {} as Publisher })).toThrow(/publisher/);
    for (const leaseMs of [0, -1, 1.5, Number.NaN]) {
      expect(() => createOutboxRelay({ ...base, leaseMs }), `leaseMs ${leaseMs}`).toThrow(RangeError);
    }
    expect(() => createOutboxRelay({ ...base, maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => createOutboxRelay({ ...base, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => createOutboxRelay({ ...base, pollMs: 0 })).toThrow(/pollMs.*got 0/);
    expect(() => createOutboxRelay({ ...base, redis: {} as Redis })).toThrow(/redis/);
    expect(() => createOutboxRelay({ ...base, namespace: '' })).toThrow(/namespace/);
    expect(() => createOutboxRelay({ ...base, publisher: undefined as never })).toThrow(/publisher/);
  });
});
