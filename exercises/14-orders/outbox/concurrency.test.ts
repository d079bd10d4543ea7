/**
 * Three relays at once, each on its own connection with start(), a short lease (so leadership moves
 * while publishes are in flight) and a broker with a seeded jitter, while orders are being placed
 * and changed. Delivery is at least once (duplicates are allowed); the effect must be exactly once,
 * and no order's events may reach the broker or the consumer out of order.
 */
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { useRedis, waitFor } from '../../../src/testing/index.js';
import { seededRandom } from '../../../src/testing/sim/prng.js';
import {
  brokerEvents,
  brokerPublisher,
  connection,
  deliver,
  firstAppearances,
  outOfOrder,
  relay,
  useNamespace,
} from './harness.js';
import { createInbox, createOrderStore, type OrderStatus } from './outbox.js';

const redis = useRedis();
const ns = useNamespace('three');
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

describe('three relays at once', () => {
  it('30 orders × 3 events written while 3 relays run: every event reaches the consumer once, and each order’s events stay in order', async () => {
    const random = seededRandom(14);
    const relays = await Promise.all(
      ['r1', 'r2', 'r3'].map(async (owner) =>
        relay({
          redis: await connection(redis.url),
          namespace: ns.current,
          owner,
          leaseMs: 60,
          batchSize: 4,
          publisher: brokerPublisher(await connection(redis.url), ns.events, {
            delayMs: () => Math.floor(random() * 8),
          }),
        }),
      ),
    );
    for (const r of relays) r.start();

    const store = createOrderStore({ redis: await connection(redis.url), namespace: ns.current });
    const steps: OrderStatus[] = ['paid', 'shipped'];
    const next = new Map<string, number>(); // order -> events written so far
    const orders = Array.from({ length: 30 }, (_, i) => `o-${i}`);
    const expected: string[] = [];
    while (expected.length < orders.length * 3) {
      const open = orders.filter((o) => (next.get(o) ?? 0) < 3);
      const order = open[Math.floor(random() * open.length)]!;
      const done = next.get(order) ?? 0;
      const event =
        done === 0
          ? await store.placeOrder({ id: order, customer: 'ada', totalCents: 100 + done })
          : await store.changeStatus(order, steps[done - 1]!);
      next.set(order, done + 1);
      expected.push(event.id);
      if (random() < 0.2) await new Promise((resolve) => setTimeout(resolve, 2));
    }

    await waitFor(
      'the relays to publish every event and empty the outbox',
      async () =>
        (await admin.xlen(`${ns.current}:outbox`)) === 0 &&
        new Set((await brokerEvents(admin, ns.events)).map((e) => e.id)).size >= expected.length,
      { timeoutMs: 15_000 },
    );
    await Promise.all(relays.map((r) => r.stop()));

    const published = await brokerEvents(admin, ns.events);
    expect(
      firstAppearances(published)
        .map((e) => e.id)
        .sort(),
      'every event written reaches the broker (at least once)',
    ).toEqual([...expected].sort());
    expect(
      outOfOrder(published),
      'per order, events first reach the broker in the order they were written (orders listed with the sequence they arrived in)',
    ).toEqual({});

    const inbox = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    const { outcomes } = await deliver(admin, ns.events, inbox);
    expect(
      outcomes.filter((o) => o === 'applied'),
      'each event applied exactly once',
    ).toHaveLength(expected.length);
    const feed = await admin.lrange(`${ns.current}:feed:billing`, 0, -1);
    expect(new Set(feed).size, 'no event applied twice').toBe(feed.length);
    for (const order of orders) {
      expect(await admin.hget(`${ns.current}:view:billing:${order}`, 'status'), `${order} ends shipped`).toBe(
        'shipped',
      );
    }
  });
});
