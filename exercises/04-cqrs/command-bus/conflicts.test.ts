import { describe, expect, it } from 'vitest';
import type { DispatchResult } from './command-bus.js';
import {
  type EventStore,
  type ExpectedVersion,
  InMemoryEventStore,
  WrongExpectedVersionError,
} from './event-store.js';
import {
  addItem,
  barrier,
  cartBus,
  cartCheckedOut,
  checkout,
  itemAdded,
  rejection,
  removeItem,
} from './harness.js';
import { CartCheckedOutError } from './shopping-cart.js';

/** The events of a stream as `[type, data]` pairs. */
const contents = async (store: InMemoryEventStore, stream: string) =>
  (await store.readStream(stream)).map((e) => [e.type, e.data]);

/** Before each of the next `times` appends to `stream`, another writer adds one apple to it. */
function competingWriter(store: InMemoryEventStore, stream: string, times = Number.POSITIVE_INFINITY) {
  let left = times;
  const previous = store.beforeAppend;
  store.beforeAppend = async (call) => {
    await previous?.(call);
    if (call.streamName === stream && left > 0) {
      left--;
      store.injectEvents(stream, [itemAdded('competitor-apple')]);
    }
  };
}

describe('conflicts without a pinned version: reload, decide again, append again', () => {
  it('after another writer wins, the bus re-decides on the new state and appends after it', async () => {
    const { bus, store, calls } = cartBus();
    await bus.dispatch(addItem('c1', 'apple', 1));
    const expected: ExpectedVersion[] = [];
    store.beforeAppend = (call) => {
      expected.push(call.expectedVersion);
      if (expected.length === 1) store.injectEvents('cart-c1', [itemAdded('apple', 2)]);
    };
    const result = await bus.dispatch(removeItem('c1', 'apple'));
    expect(expected, 'first append expects 1 (and loses to the other writer), the retry expects 2').toEqual([
      1, 2,
    ]);
    expect(calls.decide, 'one decision per attempt: the first, then the retry').toBe(3);
    expect(
      result.events.map((e) => e.data),
      'the retry saw 1 + 2 apples, not the stale 1',
    ).toEqual([{ sku: 'apple', quantity: 3 }]);
    expect(result.nextExpectedVersion).toBe(3);
    expect(await contents(store, 'cart-c1')).toEqual([
      ['ItemAdded', { sku: 'apple', quantity: 1 }],
      ['ItemAdded', { sku: 'apple', quantity: 2 }],
      ['ItemRemoved', { sku: 'apple', quantity: 3 }],
    ]);
  });

  it('a decision that the new state refuses fails on the retry, and nothing of it is appended', async () => {
    const { bus, store } = cartBus();
    await bus.dispatch(addItem('c1', 'apple'));
    store.beforeAppend = () => {
      store.beforeAppend = undefined;
      store.injectEvents('cart-c1', [cartCheckedOut]);
    };
    const error = await rejection(bus.dispatch(addItem('c1', 'pear')));
    expect(
      error,
      'the cart was checked out in between: the retry’s decision refuses the item',
    ).toBeInstanceOf(CartCheckedOutError);
    expect(await contents(store, 'cart-c1'), 'no item after the checkout: no lost update').toEqual([
      ['ItemAdded', { sku: 'apple', quantity: 1 }],
      ['CartCheckedOut', {}],
    ]);
  });

  it('events another writer appends just after the load are never overwritten by a stale decision', async () => {
    const { bus, store } = cartBus();
    await bus.dispatch(addItem('c1', 'apple'));
    let injected = false;
    store.afterRead = ({ streamName }) => {
      if (!injected && streamName === 'cart-c1') {
        injected = true;
        store.injectEvents('cart-c1', [cartCheckedOut]);
      }
    };
    const outcome = await bus.dispatch(addItem('c1', 'pear')).then(
      (result) => result,
      (error: unknown) => error,
    );
    expect(
      outcome,
      'the bus decided on a cart that was not checked out: it must find out and decide again',
    ).toBeInstanceOf(CartCheckedOutError);
    expect(
      await contents(store, 'cart-c1'),
      'the expected version is the version of the events decided on',
    ).toEqual([
      ['ItemAdded', { sku: 'apple', quantity: 1 }],
      ['CartCheckedOut', {}],
    ]);
  });

  it('retries maxRetries times (default 3), then rethrows the last conflict', async () => {
    for (const [maxRetries, attempts] of [
      [undefined, 4],
      [0, 1],
      [1, 2],
      [5, 6],
    ] as const) {
      const { bus, store, calls } = cartBus(maxRetries === undefined ? {} : { maxRetries });
      competingWriter(store, 'cart-c1');
      const error = await rejection(bus.dispatch(addItem('c1', 'apple')));
      const label = `maxRetries ${maxRetries ?? 'default (3)'}`;
      expect(store.calls.appendToStream, `${label}: a command is tried 1 + maxRetries times`).toBe(attempts);
      expect(calls.decide, `${label}: one decision per attempt`).toBe(attempts);
      expect(error, `${label}: the conflict is rethrown once the retries are spent`).toBeInstanceOf(
        WrongExpectedVersionError,
      );
      const conflict = error as WrongExpectedVersionError;
      expect(
        [conflict.expected, conflict.actual],
        `${label}: the last conflict (the last attempt expected ${attempts - 1}, the stream was at ${attempts})`,
      ).toEqual([attempts - 1, attempts]);
      expect(
        (await contents(store, 'cart-c1')).every(
          ([type, data]) => type === 'ItemAdded' && (data as { sku: string }).sku === 'competitor-apple',
        ),
        `${label}: none of the bus’s attempts was appended`,
      ).toBe(true);
    }
  });

  it('succeeds on the last allowed retry', async () => {
    const { bus, store } = cartBus({ maxRetries: 2 });
    competingWriter(store, 'cart-c1', 2);
    const result = await bus.dispatch(addItem('c1', 'apple'));
    expect(store.calls.appendToStream, 'two conflicts, then the third attempt wins').toBe(3);
    expect(result.nextExpectedVersion).toBe(3);
  });

  it('recognises a conflict by its code, whatever the store’s error class', async () => {
    /** Another store's conflict: same code and fields, another class (the Redis store, KurrentDB). */
    class ForeignConflict extends Error {
      readonly code = 'EWRONGVERSION';
      constructor(
        readonly streamName: string,
        readonly expected: ExpectedVersion,
        readonly actual: number,
      ) {
        super(`conflict on ${streamName}`);
      }
    }
    const inner = new InMemoryEventStore();
    competingWriter(inner, 'cart-c1', 1);
    const foreign: EventStore = {
      readStream: (name, options) => inner.readStream(name, options),
      streamVersion: (name) => inner.streamVersion(name),
      appendToStream: async (name, events, options) => {
        try {
          return await inner.appendToStream(name, events, options);
        } catch (error) {
          if (error instanceof WrongExpectedVersionError) {
            throw new ForeignConflict(error.streamName, error.expected, error.actual);
          }
          throw error;
        }
      },
    };
    const { bus } = cartBus({ store: foreign as InMemoryEventStore });
    const result = await bus.dispatch(addItem('c1', 'apple'));
    expect(inner.calls.appendToStream, 'the foreign conflict was retried').toBe(2);
    expect(result.nextExpectedVersion).toBe(2);
  });

  it('concurrent dispatches each have their own retries', async () => {
    const { bus, store } = cartBus({ maxRetries: 3 });
    competingWriter(store, 'cart-a', 3);
    competingWriter(store, 'cart-b', 3);
    competingWriter(store, 'cart-c', 3);
    const results = await Promise.allSettled([
      bus.dispatch(addItem('a', 'apple')),
      bus.dispatch(addItem('b', 'apple')),
      bus.dispatch(addItem('c', 'apple')),
    ]);
    expect(
      results.map((r) => r.status),
      'each dispatch meets 3 conflicts and has 3 retries of its own: all succeed',
    ).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(store.calls.appendToStream).toBe(12);
  });

  it('middleware runs once per dispatch, not once per retry', async () => {
    const { bus, store } = cartBus();
    let runs = 0;
    bus.use(async (_command, next) => {
      runs++;
      return next();
    });
    competingWriter(store, 'cart-c1', 2);
    await bus.dispatch(addItem('c1', 'apple'));
    expect(store.calls.appendToStream, 'two conflicts, three attempts').toBe(3);
    expect(runs, 'one dispatch, one middleware run').toBe(1);
  });
});

describe('a pinned expected version', () => {
  it('is passed to the append as it is', async () => {
    const { bus, store } = cartBus();
    const seen: ExpectedVersion[] = [];
    store.beforeAppend = (call) => {
      seen.push(call.expectedVersion);
    };
    await bus.dispatch(addItem('c1', 'apple', 1, { expectedVersion: 'no_stream' }));
    await bus.dispatch(addItem('c1', 'apple', 1, { expectedVersion: 1 }));
    await bus.dispatch(addItem('c1', 'apple', 1, { expectedVersion: 'stream_exists' }));
    await bus.dispatch(addItem('c1', 'apple', 1, { expectedVersion: 'any' }));
    await bus.dispatch(addItem('c2', 'apple', 1, { expectedVersion: 0 }));
    expect(seen).toEqual(['no_stream', 1, 'stream_exists', 'any', 0]);
  });

  it('a stale pin is a conflict before deciding: expected and actual, nothing decided or appended', async () => {
    const { bus, store, calls } = cartBus();
    await bus.dispatch(addItem('c1', 'apple'));
    await bus.dispatch(addItem('c1', 'pear'));
    const decisions = calls.decide;
    const appends = store.calls.appendToStream;
    const reads = store.calls.readStream;
    const error = await rejection(bus.dispatch(addItem('c1', 'plum', 1, { expectedVersion: 1 })));
    expect(error, 'the user decided on version 1; the cart is at 2').toBeInstanceOf(
      WrongExpectedVersionError,
    );
    const conflict = error as WrongExpectedVersionError;
    expect({
      code: conflict.code,
      streamName: conflict.streamName,
      expected: conflict.expected,
      actual: conflict.actual,
    }).toEqual({
      code: 'EWRONGVERSION',
      streamName: 'cart-c1',
      expected: 1,
      actual: 2,
    });
    expect(calls.decide, 'no decision on a state the user did not see').toBe(decisions);
    expect(store.calls.appendToStream, 'nothing appended').toBe(appends);
    expect(store.calls.readStream - reads, 'one load, not retried').toBe(1);
  });

  it('a stale pin is a conflict even when the decision would be a no-op or an error', async () => {
    const { bus, store } = cartBus();
    await bus.dispatch(addItem('c1', 'apple'));
    await bus.dispatch(checkout('c1'));
    const noOp = await rejection(bus.dispatch(checkout('c1', { expectedVersion: 1 })));
    expect(
      noOp,
      'checking out again is a no-op, but the pin (1) is stale (2): the caller must hear',
    ).toBeInstanceOf(WrongExpectedVersionError);
    const refused = await rejection(bus.dispatch(addItem('c1', 'pear', 1, { expectedVersion: 'no_stream' })));
    expect(
      (refused as { code?: string }).code,
      'a stale pin is reported before the decider’s CartCheckedOutError',
    ).toBe('EWRONGVERSION');
    expect(
      await rejection(bus.dispatch(removeItem('c9', 'pear', { expectedVersion: 'stream_exists' }))),
      'stream_exists on a cart that does not exist',
    ).toMatchObject({ code: 'EWRONGVERSION', expected: 'stream_exists', actual: 0 });
    expect(store.calls.appendToStream).toBe(2);
  });

  it('a conflict at the append is never retried: the caller gets the store’s conflict', async () => {
    const { bus, store, calls } = cartBus({ maxRetries: 5 });
    await bus.dispatch(addItem('c1', 'apple'));
    competingWriter(store, 'cart-c1', 1);
    const reads = store.calls.readStream;
    const error = await rejection(bus.dispatch(addItem('c1', 'pear', 1, { expectedVersion: 1 })));
    expect(error, 'another writer won between the load and the append').toBeInstanceOf(
      WrongExpectedVersionError,
    );
    expect(error).toMatchObject({ expected: 1, actual: 2 });
    expect(store.calls.readStream - reads, 'one load, no reload').toBe(1);
    expect(calls.decide, 'one decision for this command').toBe(2);
    expect(store.calls.appendToStream, 'one append for this command').toBe(2);
  });

  it('a pinned command sent again after it succeeded is a duplicate, not a conflict', async () => {
    const { bus } = cartBus();
    const create = addItem('c1', 'apple', 1, { expectedVersion: 'no_stream' });
    const first = await bus.dispatch(create);
    const retried = await bus.dispatch(create);
    expect(retried.duplicate, 'the id is found before the (now stale) pin is checked').toBe(true);
    expect(retried.events).toEqual(first.events);
    const next = addItem('c1', 'pear', 1, { expectedVersion: 1 });
    await bus.dispatch(next);
    await expect(
      bus.dispatch(next),
      'pinned at 1, the stream is at 2, but it is the same command',
    ).resolves.toMatchObject({
      duplicate: true,
      nextExpectedVersion: 2,
    });
  });
});

describe('idempotence under concurrency', () => {
  it('one command id dispatched by two buses at once is appended once', async () => {
    const store = new InMemoryEventStore();
    const { bus: one } = cartBus({ store });
    const { bus: two } = cartBus({ store });
    const bothLoaded = barrier(2);
    store.afterRead = () => bothLoaded.arrive();
    store.beforeAppend = () => bothLoaded.opened;
    const command = addItem('c1', 'apple');
    try {
      const results = await Promise.all([one.dispatch(command), two.dispatch(command)]);
      expect(store.conflicts, 'both loaded the empty stream; one append lost the race').toBe(1);
      expect(await contents(store, 'cart-c1'), 'the item was added once').toEqual([
        ['ItemAdded', { sku: 'apple', quantity: 1 }],
      ]);
      const [winner, loser] = results[0]?.duplicate ? [results[1], results[0]] : [results[0], results[1]];
      expect(winner?.duplicate).toBe(false);
      expect(loser?.duplicate, 'the loser’s retry reloads and finds the id').toBe(true);
      expect(loser?.events).toEqual(winner?.events);
    } finally {
      bothLoaded.dispose();
    }
  });

  it('a conflict caused by the same command from elsewhere ends as a duplicate', async () => {
    const { bus, store, calls } = cartBus();
    const command = addItem('c1', 'apple');
    let elsewhere: unknown[] = [];
    store.beforeAppend = () => {
      store.beforeAppend = undefined;
      elsewhere = store.injectEvents('cart-c1', [itemAdded('apple', 1, { commandId: command.id })]);
    };
    const result: DispatchResult = await bus.dispatch(command);
    expect(result.duplicate, 'after the conflict the reload finds this command id').toBe(true);
    expect(result.events).toEqual(elsewhere);
    expect(result.nextExpectedVersion).toBe(1);
    expect(calls.decide, 'decided once; the retry found the id before deciding').toBe(1);
    expect(await store.streamVersion('cart-c1')).toBe(1);
  });

  it('concurrent different commands on one stream all land, none lost', async () => {
    const { bus, store } = cartBus({ maxRetries: 10 });
    const skus = ['a', 'b', 'c', 'd', 'e'];
    const results = await Promise.all(skus.map((sku) => bus.dispatch(addItem('c1', sku))));
    expect(results.map((r) => r.duplicate)).toEqual([false, false, false, false, false]);
    const stored = await store.readStream('cart-c1');
    expect(stored.map((e) => (e.data as { sku: string }).sku).sort(), 'every item once').toEqual(skus);
    expect(
      stored.map((e) => e.metadata.commandId).sort(),
      'each event carries the id of the command that recorded it',
    ).toEqual(results.map((r) => r.events[0]?.metadata.commandId).sort());
  });
});
