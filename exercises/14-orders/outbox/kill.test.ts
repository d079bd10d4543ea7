/**
 * Kill, not stop: the relay runs in a child process (YOUR outbox.ts, started by the suite) and is
 * killed with SIGKILL between a publish and its mark, or in the middle of a publish. No `finally`,
 * no `stop()`: its lease stays until it expires (real time, leaseMs 400), and the next relay must
 * publish what was not marked. The consumer then applies every event once.
 */
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { useChildProcesses, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  brokerEvents,
  brokerPublisher,
  connection,
  deliver,
  relay,
  startChildRelay,
  streamFields,
  useNamespace,
} from './harness.js';
import { createInbox, createOrderStore } from './outbox.js';

const redis = useRedis();
const ns = useNamespace('kill');
const children = useChildProcesses();
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

const leaseMs = 400;

/** a:1, a:2, b:1 in the outbox. */
async function threeEvents(): Promise<void> {
  const store = createOrderStore({ redis: admin, namespace: ns.current });
  await store.placeOrder({ id: 'a', customer: 'ada', totalCents: 1200 });
  await store.changeStatus('a', 'paid');
  await store.placeOrder({ id: 'b', customer: 'bob', totalCents: 800 });
}

/** An in-process relay that takes over once the dead one's lease has expired. */
async function heirPublishesAll(expectedIds: readonly string[]) {
  const broker = brokerPublisher(await connection(redis.url), ns.events);
  const heir = relay({
    redis: await connection(redis.url),
    namespace: ns.current,
    publisher: broker,
    owner: 'heir',
    leaseMs,
  });
  heir.start();
  await waitFor(
    'the next relay to take over (after the lease expired) and empty the outbox',
    async () => (await admin.xlen(`${ns.current}:outbox`)) === 0 && broker.calls.length > 0,
    { timeoutMs: 8_000 },
  );
  await heir.stop();
  const published = new Set((await brokerEvents(admin, ns.events)).map((e) => e.id));
  expect([...published].sort(), 'every event reached the broker: none was lost with the relay').toEqual(
    [...expectedIds].sort(),
  );
  return broker;
}

describe('Relay: killed with SIGKILL', () => {
  it('after a publish and before its mark: the entry is still unsent, the next relay publishes it again, the consumer applies it once', async () => {
    await threeEvents();
    const doomed = await startChildRelay(children, {
      redisUrl: redis.url,
      namespace: ns.current,
      events: ns.events,
      owner: 'doomed',
      leaseMs,
      hangAfter: 'a:2',
    });
    await doomed.waitFor(
      'the child relay to publish a:2',
      (line) => line.event === 'published' && line.id === 'a:2',
    );
    expect(await doomed.child.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(
      (await streamFields(admin, `${ns.current}:outbox`)).map((f) => f.id),
      'a:2 was published but not marked: it must still be in the outbox, with b:1 behind it',
    ).toEqual(['a:2', 'b:1']);

    const broker = await heirPublishesAll(['a:1', 'a:2', 'b:1']);
    expect(
      broker.calls.map((e) => e.id),
      'the next relay publishes a:2 again (at least once), then b:1',
    ).toEqual(['a:2', 'b:1']);
    expect(
      (await brokerEvents(admin, ns.events)).map((e) => e.id),
      'the broker saw a:2 twice',
    ).toEqual(['a:1', 'a:2', 'a:2', 'b:1']);

    const inbox = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    const { outcomes } = await deliver(admin, ns.events, inbox);
    expect(outcomes, 'the second copy of a:2 is a duplicate').toEqual([
      'applied',
      'applied',
      'duplicate',
      'applied',
    ]);
    expect(
      await admin.lrange(`${ns.current}:feed:billing`, 0, -1),
      'each event applied once, in order',
    ).toEqual(['a:1', 'a:2', 'b:1']);
  });

  it('in the middle of a publish (before the broker has it): nothing is lost, the next relay publishes it and what follows', async () => {
    await threeEvents();
    const doomed = await startChildRelay(children, {
      redisUrl: redis.url,
      namespace: ns.current,
      events: ns.events,
      owner: 'doomed',
      leaseMs,
      hangBefore: 'a:2',
    });
    await doomed.waitFor(
      'the child relay to start publishing a:2',
      (l) => l.event === 'publishing' && l.id === 'a:2',
    );
    await doomed.child.kill('SIGKILL');
    expect(
      (await streamFields(admin, `${ns.current}:outbox`)).map((f) => f.id),
      'an entry whose publish never finished is still unsent, and so is every one after it',
    ).toEqual(['a:2', 'b:1']);
    await heirPublishesAll(['a:1', 'a:2', 'b:1']);
    const inbox = createInbox({ redis: admin, namespace: ns.current, consumer: 'billing' });
    await deliver(admin, ns.events, inbox);
    expect(await admin.lrange(`${ns.current}:feed:billing`, 0, -1)).toEqual(['a:1', 'a:2', 'b:1']);
  });
});
