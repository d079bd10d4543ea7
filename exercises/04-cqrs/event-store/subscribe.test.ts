import { once } from 'node:events';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { deferred, settlesWithin, sleep, useRedis, waitFor } from '../../../src/testing/index.js';
import { createEventStore, EventStoreClosedError, type RecordedEvent } from './event-store.js';
import { events, hookDuplicates, useStores } from './harness.js';

const redis = useRedis();
const stores = useStores(redis);

/** What a subscription delivered, and its onEvent. */
function recorder() {
  const seen: RecordedEvent[] = [];
  return {
    seen,
    positions: () => seen.map((e) => e.position),
    onEvent: (e: RecordedEvent) => void seen.push(e),
  };
}

describe('catch-up subscription', () => {
  it('delivers the stored events, then the ones appended later, in position order', async () => {
    const { store } = await stores.member();
    const writer = await stores.member();
    await writer.store.appendToStream('a', events(2));
    await writer.store.appendToStream('b', events(1));
    const r = recorder();
    const subscription = store.subscribeToAll({ onEvent: r.onEvent });
    await waitFor('the 3 stored events', () => r.seen.length >= 3);
    await writer.store.appendToStream('a', events(2));
    await writer.store.appendToStream('c', events(1));
    await waitFor('the 3 live events', () => r.seen.length >= 6);
    expect(r.positions()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.seen.map((e) => [e.streamName, e.streamVersion])).toEqual([
      ['a', 1],
      ['a', 2],
      ['b', 1],
      ['a', 3],
      ['a', 4],
      ['c', 1],
    ]);
    expect(r.seen[0], 'delivered events are whole RecordedEvents').toMatchObject({
      type: 'Happened',
      data: { n: 1 },
    });
    await subscription.stop();
  });

  it('after is exclusive: a subscriber resuming from checkpoint 2 starts at position 3', async () => {
    const { store } = await stores.member();
    await store.appendToStream('a', events(4));
    const r = recorder();
    const subscription = store.subscribeToAll({ after: 2, onEvent: r.onEvent });
    await waitFor('positions 3 and 4', () => r.seen.length >= 2);
    await store.appendToStream('a', events(1));
    await waitFor('position 5', () => r.seen.length >= 3);
    await sleep(50);
    expect(r.positions(), 'the checkpoint event 2 must not be delivered again').toEqual([3, 4, 5]);
    await subscription.stop();
  });

  it('no gap and no duplicate at the hand-over: events appended while it reads are all delivered once', async () => {
    const { store, duplicates } = await stores.member();
    const writer = await stores.member();
    await writer.store.appendToStream('s', events(3));
    let appendsLeft = 8;
    // Before each of the subscription's first commands reaches Redis, another process appends an event:
    // whatever the subscription reads next (history, or a wait for new events) must include it.
    duplicates.before = async () => {
      if (appendsLeft-- > 0) await writer.store.appendToStream('s', events(1, 'Meanwhile'));
    };
    const r = recorder();
    const subscription = store.subscribeToAll({ onEvent: r.onEvent });
    await waitFor('the subscription to settle', () => appendsLeft <= 0 || r.seen.length >= 11, {
      timeoutMs: 5000,
    });
    await writer.store.appendToStream('s', events(1, 'Last'));
    await waitFor('the last event', () => r.seen.some((e) => e.type === 'Last'), { timeoutMs: 5000 }).catch(
      () => {},
    );
    const total = (await writer.store.readAll()).length;
    await sleep(50);
    expect(
      r.positions(),
      'every event of the log exactly once, in order, whether it was stored before the subscription started, appended while it caught up, or appended later',
    ).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    await subscription.stop();
  });

  it('awaits onEvent one at a time: the next event waits until the previous call has settled', async () => {
    const { store } = await stores.member();
    await store.appendToStream('s', events(3));
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    let running = 0;
    let mostAtOnce = 0;
    const subscription = store.subscribeToAll({
      onEvent: async (event) => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        started.push(event.position);
        await gates[event.position - 1]!.promise;
        running--;
      },
    });
    await waitFor('the first call', () => started.length >= 1);
    await store.appendToStream('s', events(1));
    await sleep(50);
    expect(started, 'while the first call has not settled, no other may start').toEqual([1]);
    gates[0]!.resolve();
    await waitFor('the second call', () => started.length >= 2);
    await sleep(20);
    expect(started).toEqual([1, 2]);
    for (const gate of gates) gate.resolve();
    await waitFor('all four', () => started.length >= 4);
    expect(started, 'in position order').toEqual([1, 2, 3, 4]);
    expect(mostAtOnce, 'never two onEvent calls at once').toBe(1);
    await subscription.stop();
  });

  it('works on a connection made with enableOfflineQueue: false (its duplicate copies that option)', async () => {
    const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    onTestFinished(() => client.disconnect());
    await once(client, 'ready');
    hookDuplicates(client); // the subscription's connection is closed after the test too
    const store = createEventStore({ redis: client, namespace: stores.namespace });
    onTestFinished(() => store.close());
    await store.appendToStream('s', events(2));
    const r = recorder();
    const subscription = store.subscribeToAll({ onEvent: r.onEvent });
    const first = await Promise.race([
      waitFor('the 2 stored events', () => r.seen.length >= 2).then(() => 'delivered'),
      subscription.done.then(
        () => 'ended',
        (error: unknown) => `ended: ${String(error)}`,
      ),
    ]);
    expect(
      first,
      'the duplicated connection inherits enableOfflineQueue: false, so a first XREAD sent before it is ready fails: wait for "ready", or duplicate with { enableOfflineQueue: true }',
    ).toBe('delivered');
    await subscription.stop();
  });

  it('an async onEvent that takes a while still gets events in order', async () => {
    const { store } = await stores.member();
    await store.appendToStream('s', events(6));
    const finished: number[] = [];
    const subscription = store.subscribeToAll({
      onEvent: async (event) => {
        await sleep(event.position % 2 === 1 ? 20 : 1);
        finished.push(event.position);
      },
    });
    await waitFor('six events', () => finished.length >= 6);
    expect(finished).toEqual([1, 2, 3, 4, 5, 6]);
    await subscription.stop();
  });
});

describe('stop, errors and close', () => {
  it('stop() cuts the blocked read at once, closes its connection, and no onEvent runs afterwards', async () => {
    const { store, duplicates } = await stores.member();
    await store.appendToStream('s', events(1));
    const r = recorder();
    const subscription = store.subscribeToAll({ onEvent: r.onEvent });
    await waitFor('the stored event', () => r.seen.length >= 1);
    await sleep(30); // now blocked, waiting for new events
    expect(
      await settlesWithin(subscription.stop(), 2000),
      'stop() must not wait for the blocked XREAD to time out: close its connection',
    ).toBe('settled');
    expect(
      duplicates.made.map((c) => c.status),
      'the connection the subscription duplicated must be closed by stop()',
    ).toEqual(duplicates.made.map(() => 'end'));
    await expect(subscription.done, 'done resolves after stop()').resolves.toBeUndefined();
    await store.appendToStream('s', events(2));
    await sleep(100);
    expect(r.positions(), 'no event is delivered after stop() resolved').toEqual([1]);
    await subscription.stop(); // a second call does nothing
  });

  it('stop() during an onEvent resolves after that call, and no later event is delivered', async () => {
    const { store, duplicates } = await stores.member();
    await store.appendToStream('s', events(3));
    const gate = deferred();
    const started: number[] = [];
    const subscription = store.subscribeToAll({
      onEvent: async (event) => {
        started.push(event.position);
        await gate.promise;
      },
    });
    await waitFor('the first call', () => started.length >= 1);
    let stopped = false;
    const stopping = subscription.stop().then(() => {
      stopped = true;
    });
    await sleep(30);
    expect(stopped, 'stop() waits for the running onEvent').toBe(false);
    gate.resolve();
    await stopping;
    await sleep(50);
    expect(started, 'events 2 and 3 are not delivered after stop()').toEqual([1]);
    expect(
      duplicates.made.every((c) => c.status === 'end'),
      'its connection is closed',
    ).toBe(true);
  });

  it('an onEvent that throws ends the subscription: done rejects with that error, nothing more is delivered', async () => {
    const { store, duplicates } = await stores.member();
    await store.appendToStream('s', events(4));
    const failure = new Error('read model is down');
    const seen: number[] = [];
    const subscription = store.subscribeToAll({
      onEvent: async (event) => {
        seen.push(event.position);
        if (event.position === 2) throw failure;
      },
    });
    await expect(subscription.done, 'done rejects with what onEvent threw').rejects.toBe(failure);
    await store.appendToStream('s', events(1));
    await sleep(50);
    expect(seen, 'the subscription stops at the failing event').toEqual([1, 2]);
    await waitFor('its connection to close', () => duplicates.made.every((c) => c.status === 'end'));
    await subscription.stop(); // stopping an ended subscription is harmless
  });

  it('a read that fails ends the subscription: done rejects with its error, and its connection is closed', async () => {
    const { store, redis: client, duplicates } = await stores.member();
    await client.set(`${stores.namespace}:all`, 'not a stream'); // an XREAD of it fails: WRONGTYPE
    const subscription = store.subscribeToAll({ onEvent: () => {} });
    const outcome = subscription.done.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    expect(
      await settlesWithin(outcome, 5000),
      'a failed XREAD must end the subscription (done rejects), not be retried or ignored',
    ).toBe('settled');
    expect(String(await outcome), 'done rejects with the error of the read').toMatch(/WRONGTYPE/);
    await waitFor('its connection to close', () => duplicates.made.every((c) => c.status === 'end'));
  });

  it('a rejection of done that nobody looks at is not reported as unhandled', async () => {
    const { store, duplicates } = await stores.member();
    await store.appendToStream('s', events(1));
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', record);
    onTestFinished(() => void process.off('unhandledRejection', record));
    let thrown = false;
    store.subscribeToAll({
      onEvent: () => {
        thrown = true;
        throw new Error('nobody looks at done');
      },
    });
    await waitFor(
      'onEvent to throw and the subscription to end',
      () => thrown && duplicates.made.every((c) => c.status === 'end'),
    );
    await sleep(50);
    expect(
      unhandled,
      'done rejected and nobody looked at it: no unhandled rejection may be reported',
    ).toEqual([]);
  });

  it('a synchronous throw in onEvent ends it the same way', async () => {
    const { store } = await stores.member();
    await store.appendToStream('s', events(2));
    const subscription = store.subscribeToAll({
      onEvent: () => {
        throw new TypeError('bad handler');
      },
    });
    await expect(subscription.done).rejects.toThrow('bad handler');
  });

  it("close() stops every subscription of the store and closes their connections; another store's go on", async () => {
    const { store, duplicates } = await stores.member();
    const other = await stores.member();
    const r1 = recorder();
    const r2 = recorder();
    const r3 = recorder();
    const s1 = store.subscribeToAll({ onEvent: r1.onEvent });
    const s2 = store.subscribeToAll({ after: 0, onEvent: r2.onEvent });
    const s3 = other.store.subscribeToAll({ onEvent: r3.onEvent });
    await other.store.appendToStream('s', events(1));
    await waitFor(
      'every subscriber to get the event',
      () => r1.seen.length && r2.seen.length && r3.seen.length,
    );
    expect(await settlesWithin(store.close(), 2000), 'close() stops the subscriptions promptly').toBe(
      'settled',
    );
    await expect(s1.done).resolves.toBeUndefined();
    await expect(s2.done).resolves.toBeUndefined();
    expect(duplicates.made.length, 'one connection per subscription').toBe(2);
    expect(duplicates.made.map((c) => c.status)).toEqual(['end', 'end']);
    await other.store.appendToStream('s', events(1));
    await waitFor("the other store's subscriber", () => r3.seen.length >= 2);
    await sleep(30);
    expect([r1.seen.length, r2.seen.length], 'a closed store delivers nothing more').toEqual([1, 1]);
    expect(() => store.subscribeToAll({ onEvent: () => {} })).toThrow(EventStoreClosedError);
    await s3.stop();
  });

  it('refuses a missing onEvent and a bad after, naming them', async () => {
    const { store, duplicates } = await stores.member();
    expect(() => store.subscribeToAll({ onEvent: undefined as never })).toThrow(TypeError);
    expect(() => store.subscribeToAll({ onEvent: 'x' as never })).toThrow(/onEvent/);
    expect(() => store.subscribeToAll({ after: -1, onEvent: () => {} })).toThrow(RangeError);
    expect(() => store.subscribeToAll({ after: 1.5, onEvent: () => {} })).toThrow(/after.*1\.5/);
    expect(duplicates.made, 'a refused subscription opens no connection').toEqual([]);
  });
});
