/**
 * The order store: the order and its event in one atomic unit. A failed write (a key of the wrong
 * type, a connection cut before any of the store's commands) leaves neither the order nor the event.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, ManualClock, startFaultProxy, useRedis } from '../../../src/testing/index.js';
import { connection, streamFields, useNamespace } from './harness.js';
import {
  createOrderStore,
  MAX_ORDER_ID_LENGTH,
  type Order,
  OrderExistsError,
  OrderNotFoundError,
} from './outbox.js';

const redis = useRedis();
const ns = useNamespace('store');
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

const order = (id: string, totalCents = 4999): Order => ({ id, customer: 'ada', totalCents });
const orderKey = (id: string) => `${ns.current}:order:${id}`;
const outboxKey = () => `${ns.current}:outbox`;

describe('placeOrder', () => {
  it('writes the order hash and appends its OrderPlaced event to the outbox; resolves with the event', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const store = createOrderStore({ redis: admin, namespace: ns.current, clock });
    const event = await store.placeOrder(order('o-1'));
    expect(event).toEqual({
      id: 'o-1:1',
      type: 'OrderPlaced',
      orderId: 'o-1',
      seq: 1,
      payload: JSON.stringify({ customer: 'ada', totalCents: 4999 }),
      occurredAt: 1_700_000_000_000,
    });
    expect(await admin.hgetall(orderKey('o-1')), 'the order hash holds the order, placed, version 1').toEqual(
      {
        id: 'o-1',
        customer: 'ada',
        totalCents: '4999',
        status: 'placed',
        version: '1',
      },
    );
    expect(await streamFields(admin, outboxKey()), 'the outbox holds the event, one entry').toEqual([
      {
        id: 'o-1:1',
        type: 'OrderPlaced',
        order: 'o-1',
        seq: '1',
        payload: event.payload,
        at: '1700000000000',
      },
    ]);
  });

  it('an order id that is taken: OrderExistsError, and nothing is written (the first order and event stay as they were)', async () => {
    const store = createOrderStore({ redis: admin, namespace: ns.current });
    await store.placeOrder(order('o-1', 100));
    const again = store.placeOrder(order('o-1', 999));
    await expect(again, 'placing an order twice is refused').rejects.toBeInstanceOf(OrderExistsError);
    await expect(again).rejects.toMatchObject({
      orderId: 'o-1',
      code: 'EORDEREXISTS',
      name: 'OrderExistsError',
      message: expect.stringContaining('"o-1"'),
    });
    expect(await admin.hget(orderKey('o-1'), 'totalCents'), 'the first order is untouched').toBe('100');
    expect(await admin.xlen(outboxKey()), 'no second event').toBe(1);
  });

  it('the outbox key holds a string (a write that fails half-way): placeOrder rejects with WRONGTYPE, and the order is not written either', async () => {
    const store = createOrderStore({ redis: admin, namespace: ns.current });
    await admin.set(outboxKey(), 'not a stream');
    await expect(store.placeOrder(order('o-1')), 'Redis refuses to append to a string').rejects.toThrow(
      /WRONGTYPE/,
    );
    expect(
      await admin.exists(orderKey('o-1')),
      'no order may be left without its event: a script (or EXEC) that fails after its first write keeps that write, so check first',
    ).toBe(0);
  });

  it('without a clock, occurredAt is Date.now()', async () => {
    const store = createOrderStore({ redis: admin, namespace: ns.current });
    const before = Date.now();
    const event = await store.placeOrder(order('o-1'));
    expect(event.occurredAt).toBeGreaterThanOrEqual(before);
    expect(event.occurredAt).toBeLessThanOrEqual(Date.now());
  });

  it('different orders are different hashes and events, in the order placed', async () => {
    const store = createOrderStore({ redis: admin, namespace: ns.current });
    for (const id of ['b', 'a', 'c']) await store.placeOrder(order(id));
    expect((await streamFields(admin, outboxKey())).map((f) => f.id)).toEqual(['b:1', 'a:1', 'c:1']);
    expect(await admin.exists(orderKey('a'), orderKey('b'), orderKey('c'))).toBe(3);
  });
});

describe('changeStatus', () => {
  it('sets the status, bumps the version and appends OrderStatusChanged with seq = the new version', async () => {
    const clock = new ManualClock(5_000);
    const store = createOrderStore({ redis: admin, namespace: ns.current, clock });
    await store.placeOrder(order('o-1'));
    clock.advance(10);
    const paid = await store.changeStatus('o-1', 'paid');
    clock.advance(10);
    const shipped = await store.changeStatus('o-1', 'shipped');
    expect(paid).toEqual({
      id: 'o-1:2',
      type: 'OrderStatusChanged',
      orderId: 'o-1',
      seq: 2,
      payload: '{"status":"paid"}',
      occurredAt: 5_010,
    });
    expect(shipped).toMatchObject({
      id: 'o-1:3',
      seq: 3,
      payload: '{"status":"shipped"}',
      occurredAt: 5_020,
    });
    expect(await admin.hmget(orderKey('o-1'), 'status', 'version')).toEqual(['shipped', '3']);
    expect(await streamFields(admin, outboxKey())).toEqual([
      expect.objectContaining({ id: 'o-1:1', seq: '1' }),
      {
        id: 'o-1:2',
        type: 'OrderStatusChanged',
        order: 'o-1',
        seq: '2',
        payload: '{"status":"paid"}',
        at: '5010',
      },
      {
        id: 'o-1:3',
        type: 'OrderStatusChanged',
        order: 'o-1',
        seq: '3',
        payload: '{"status":"shipped"}',
        at: '5020',
      },
    ]);
  });

  it('an order that does not exist: OrderNotFoundError, and nothing is written', async () => {
    const store = createOrderStore({ redis: admin, namespace: ns.current });
    const missing = store.changeStatus('ghost', 'paid');
    await expect(missing).rejects.toBeInstanceOf(OrderNotFoundError);
    await expect(missing).rejects.toMatchObject({
      orderId: 'ghost',
      code: 'ENOORDER',
      name: 'OrderNotFoundError',
      message: expect.stringContaining('"ghost"'),
    });
    expect(
      await admin.exists(orderKey('ghost'), outboxKey()),
      'no hash and no event for a missing order',
    ).toBe(0);
  });

  it('the outbox key holds a string: changeStatus rejects with WRONGTYPE, and the status and version stay as they were', async () => {
    const store = createOrderStore({ redis: admin, namespace: ns.current });
    await store.placeOrder(order('o-1'));
    await admin.del(outboxKey());
    await admin.set(outboxKey(), 'not a stream');
    await expect(store.changeStatus('o-1', 'paid')).rejects.toThrow(/WRONGTYPE/);
    expect(
      await admin.hmget(orderKey('o-1'), 'status', 'version'),
      'a status change without its event must not be written',
    ).toEqual(['placed', '1']);
  });
});

describe('a connection cut before each command the store sends', () => {
  let proxy: FaultProxy;
  beforeEach(async () => {
    proxy = await startFaultProxy({ host: redis.host, port: redis.port });
  });
  afterEach(async () => {
    await proxy.close();
  });

  /**
   * A connection through the proxy that does not reconnect or resend, on which the `cutAt`-th
   * command (from 0, connection set-up not counted) cuts the connection just before it goes out.
   */
  async function cutting(cutAt: number): Promise<{ client: Redis; cut: () => boolean }> {
    const client = await connection(`redis://127.0.0.1:${proxy.port}/${redis.db}`, {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    let sent = 0;
    let didCut = false;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command, ...rest) => {
      if (sent++ === cutAt) {
        didCut = true;
        proxy.cut();
      }
      return send(command, ...rest);
    }) as Redis['sendCommand'];
    return { client, cut: () => didCut };
  }

  it('placeOrder: after every cut, the order and its event are both there or both not', async () => {
    const seen: string[] = [];
    for (let cutAt = 0; cutAt < 10; cutAt++) {
      const { client, cut } = await cutting(cutAt);
      const id = `o-${cutAt}`;
      const store = createOrderStore({ redis: client, namespace: ns.current });
      const outcome = await store.placeOrder(order(id)).then(
        () => 'resolved',
        () => 'rejected',
      );
      const hasOrder = (await admin.exists(orderKey(id))) === 1;
      const events = (await streamFields(admin, outboxKey())).filter((f) => f.order === id).length;
      seen.push(`cut before command ${cutAt}: ${outcome}, order ${hasOrder}, events ${events}`);
      expect(
        [hasOrder, events],
        `a cut before command ${cutAt} must leave both or neither (${seen.join('; ')})`,
      ).toEqual(hasOrder ? [true, 1] : [false, 0]);
      if (!cut()) {
        expect(outcome, 'with no cut, placeOrder resolves').toBe('resolved');
        expect(hasOrder, 'and writes the order').toBe(true);
        return;
      }
      proxy.refuse(false);
    }
    throw new Error(`placeOrder sent more than 10 commands: ${seen.join('; ')}`);
  });
});

describe('validation', () => {
  it('placeOrder rejects a bad order with an error naming the field, before anything is sent', async () => {
    const store = createOrderStore({ redis: admin, namespace: ns.current });
    await expect(store.placeOrder({ ...order('x'), id: '' })).rejects.toThrow(TypeError);
    await expect(store.placeOrder(order('x'.repeat(MAX_ORDER_ID_LENGTH + 1)))).rejects.toThrow(/order\.id/);
    await expect(store.placeOrder({ ...order('x'), customer: '' })).rejects.toThrow(/order\.customer/);
    for (const totalCents of [0, -5, 1.5, Number.NaN]) {
      await expect(store.placeOrder(order('x', totalCents)), `totalCents ${totalCents}`).rejects.toThrow(
        RangeError,
      );
    }
    await expect(store.changeStatus('x', 'lost' as never)).rejects.toThrow(/status.*got "lost"/);
    await expect(store.changeStatus('', 'paid')).rejects.toThrow(/orderId.*got ""/);
    await expect(store.placeOrder(null as never), 'not an object').rejects.toThrow(
      /order must be .*got null/,
    );
    await expect(store.placeOrder(order('x'.repeat(MAX_ORDER_ID_LENGTH + 1)))).rejects.toThrow(
      `got a string of ${MAX_ORDER_ID_LENGTH + 1} characters`,
    );
    await expect(
      store.placeOrder(order('x'.repeat(MAX_ORDER_ID_LENGTH))),
      'the longest id is fine',
    ).resolves.toBeTruthy();
    await expect(store.placeOrder({ ...order('y'), customer: 7 as never })).rejects.toThrow(
      /order\.customer.*got 7/,
    );
    await expect(store.placeOrder({ ...order('y'), customer: [] as never })).rejects.toThrow(/got an array/);
    await expect(store.placeOrder({ ...order('y'), customer: {} as never })).rejects.toThrow(/got an object/);
    await expect(store.placeOrder(order('y', 0))).rejects.toThrow(/order\.totalCents.*got 0/);
    await admin.del(`${ns.current}:order:${'x'.repeat(MAX_ORDER_ID_LENGTH)}`, `${ns.current}:outbox`);
    expect(await admin.keys(`${ns.current}:*`), 'nothing was written under the namespace').toEqual([]);
  });

  it('createOrderStore checks its options', () => {
    expect(() => createOrderStore({ redis: {} as Redis, namespace: 'n' })).toThrow(/redis.*got an object/);
    expect(() => createOrderStore({ redis: undefined as never, namespace: 'n' })).toThrow(/redis/);
    expect(() => createOrderStore({ redis: admin, namespace: '' })).toThrow(/namespace/);
  });
});
