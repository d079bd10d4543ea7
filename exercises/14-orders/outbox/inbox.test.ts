/**
 * The inbox: the consumer's dedup record (the event id) and its effect (the read model and the feed)
 * in one atomic unit, so an event delivered twice, or twenty times at once, has one effect.
 */
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import { connection, useNamespace } from './harness.js';
import { createInbox, type OutboxEvent } from './outbox.js';

const redis = useRedis();
const ns = useNamespace('inbox');
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

const placed = (orderId: string, totalCents = 2500): OutboxEvent => ({
  id: `${orderId}:1`,
  type: 'OrderPlaced',
  orderId,
  seq: 1,
  payload: JSON.stringify({ customer: 'ada', totalCents }),
  occurredAt: 1_000,
});
const changed = (orderId: string, seq: number, status: string): OutboxEvent => ({
  id: `${orderId}:${seq}`,
  type: 'OrderStatusChanged',
  orderId,
  seq,
  payload: JSON.stringify({ status }),
  occurredAt: 2_000,
});
const feed = (consumer = 'billing') => admin.lrange(`${ns.current}:feed:${consumer}`, 0, -1);
const view = (orderId: string, consumer = 'billing') =>
  admin.hgetall(`${ns.current}:view:${consumer}:${orderId}`);

describe('one effect per event id', () => {
  it('the first delivery is applied (read model, feed, inbox); a redelivery is a duplicate and writes nothing', async () => {
    const inbox = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    expect(await inbox.handle(placed('o-1'))).toBe('applied');
    expect(await view('o-1'), 'the read model of the order').toEqual({
      customer: 'ada',
      totalCents: '2500',
      status: 'placed',
      seq: '1',
    });
    expect(await feed(), 'one feed entry per applied event').toEqual(['o-1:1']);
    expect(await admin.smembers(`${ns.current}:inbox:billing`), 'the inbox records the event id').toEqual([
      'o-1:1',
    ]);
    expect(await inbox.handle(placed('o-1')), 'the same event again is a duplicate').toBe('duplicate');
    expect(await inbox.handle({ ...placed('o-1'), occurredAt: 9 }), 'so is a copy').toBe('duplicate');
    expect(await feed(), 'a duplicate writes nothing').toEqual(['o-1:1']);
  });

  it('OrderStatusChanged sets the status and seq of the read model', async () => {
    const inbox = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    await inbox.handle(placed('o-1'));
    expect(await inbox.handle(changed('o-1', 2, 'paid'))).toBe('applied');
    expect(await view('o-1')).toEqual({ customer: 'ada', totalCents: '2500', status: 'paid', seq: '2' });
    expect(await feed()).toEqual(['o-1:1', 'o-1:2']);
  });

  it('dedup is by event id, not by payload: two orders paid (equal payloads) are two events', async () => {
    const inbox = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    for (const id of ['a', 'b']) await inbox.handle(placed(id, 1000));
    expect(await inbox.handle(changed('a', 2, 'paid'))).toBe('applied');
    expect(
      await inbox.handle(changed('b', 2, 'paid')),
      'b:2 is another event with the same payload as a:2',
    ).toBe('applied');
    expect((await view('b')).status).toBe('paid');
    expect(await feed()).toEqual(['a:1', 'b:1', 'a:2', 'b:2']);
  });

  it('two consumers each apply an event once, in their own keys', async () => {
    const billing = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    const email = createInbox({ redis: admin, namespace: ns.current, consumer: 'email' });
    expect(await billing.handle(placed('o-1'))).toBe('applied');
    expect(await email.handle(placed('o-1')), 'another consumer has its own inbox').toBe('applied');
    expect(await billing.handle(placed('o-1'))).toBe('duplicate');
    expect([await feed('billing'), await feed('email')]).toEqual([['o-1:1'], ['o-1:1']]);
  });

  it('20 deliveries of one event at once, from 20 connections: one applied, 19 duplicates, one effect', async () => {
    const inboxes = await Promise.all(
      Array.from({ length: 20 }, async () =>
        createInbox({ redis: await connection(redis.url), namespace: ns.current, consumer: 'billing' }),
      ),
    );
    const outcomes = await Promise.all(inboxes.map((inbox) => inbox.handle(placed('o-1'))));
    expect(
      outcomes.filter((o) => o === 'applied'),
      'the check and the effect are one atomic unit: exactly one delivery applies',
    ).toHaveLength(1);
    expect(await feed(), 'one effect').toEqual(['o-1:1']);
  });

  it('20 deliveries of one event at once on one connection: one effect', async () => {
    const inbox = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => inbox.handle(changed('o-1', 2, 'paid'))),
    );
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(await feed()).toEqual(['o-1:2']);
  });
});

describe('validation', () => {
  it('handle rejects a malformed event with a TypeError before anything is sent', async () => {
    const inbox = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    const bad: unknown[] = [
      null,
      { ...placed('o-1'), id: '' },
      { ...placed('o-1'), seq: 0 },
      { ...placed('o-1'), type: 'OrderLost' },
      { ...placed('o-1'), payload: 'not json' },
      { ...changed('o-1', 2, 'paid'), payload: '{}' },
    ];
    for (const event of bad) {
      await expect(inbox.handle(event as OutboxEvent), JSON.stringify(event)).rejects.toThrow(TypeError);
    }
    const named: [unknown, RegExp][] = [
      [null, /event must be/],
      [{ ...placed('o-1'), id: '' }, /event\.id/],
      [{ ...placed('o-1'), orderId: 5 }, /event\.orderId.*got 5/],
      [{ ...placed('o-1'), seq: 1.5 }, /event\.seq.*got 1\.5/],
      [{ ...placed('o-1'), type: 'OrderLost' }, /event\.type.*got "OrderLost"/],
      [{ ...placed('o-1'), payload: 'not json' }, /event\.payload must be JSON/],
      [
        { ...placed('o-1'), payload: '{"customer":"ada"}' },
        /OrderPlaced payload needs customer and totalCents/,
      ],
      [{ ...placed('o-1'), payload: '{"totalCents":5}' }, /OrderPlaced payload/],
      [{ ...changed('o-1', 2, 'paid'), payload: 'null' }, /OrderStatusChanged payload needs a status/],
    ];
    for (const [event, message] of named) {
      await expect(inbox.handle(event as OutboxEvent), JSON.stringify(event)).rejects.toThrow(message);
    }
    expect(await admin.keys(`${ns.current}:*`), 'nothing was written').toEqual([]);
  });

  it('createInbox checks its options', () => {
    expect(() => createInbox({ redis: admin, namespace: ns.current, consumer: '' })).toThrow(/consumer/);
    expect(() => createInbox({ redis: admin, namespace: ns.current, consumer: 3 as never })).toThrow(
      /consumer.*got 3/,
    );
    expect(() => createInbox({ redis: admin, namespace: '', consumer: 'c' })).toThrow(/namespace/);
    expect(() => createInbox({ redis: {} as Redis, namespace: ns.current, consumer: 'c' })).toThrow(/redis/);
  });
});
