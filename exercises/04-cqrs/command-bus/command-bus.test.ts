import { describe, expect, it } from 'vitest';
import {
  type Command,
  createCommandBus,
  type DispatchResult,
  DuplicateHandlerError,
  type Middleware,
  UnknownCommandError,
} from './command-bus.js';
import { type AppendCall, type ExpectedVersion, InMemoryEventStore } from './event-store.js';
import {
  addItem,
  cartBus,
  checkout,
  counted,
  counter,
  counterStream,
  newId,
  registerCart,
  rejection,
  removeItem,
  T0,
} from './harness.js';
import {
  CartCheckedOutError,
  type CartCommand,
  type CartState,
  EmptyCartError,
  shoppingCart,
} from './shopping-cart.js';

/** Records every append the bus makes: stream, event types and the expected version it passed. */
function recordAppends(store: InMemoryEventStore): AppendCall[] {
  const appends: AppendCall[] = [];
  store.beforeAppend = (call) => {
    appends.push(call);
  };
  return appends;
}

describe('createCommandBus', () => {
  it('maxRetries must be a safe integer >= 0 (RangeError naming it and the value)', () => {
    const store = new InMemoryEventStore();
    for (const maxRetries of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      const make = () => createCommandBus({ store, maxRetries });
      expect(make, `maxRetries ${maxRetries} must be refused with a RangeError`).toThrow(RangeError);
      expect(make, 'the message names maxRetries and the value').toThrow(
        new RegExp(`maxRetries.*${String(maxRetries)}`),
      );
    }
    expect(
      () => createCommandBus({ store, maxRetries: 0 }),
      'maxRetries 0 (never retry) is valid',
    ).not.toThrow();
  });

  it('refuses a store without readStream and appendToStream (TypeError)', () => {
    expect(() => createCommandBus({ store: {} as never }), 'an empty object is not a store').toThrow(
      TypeError,
    );
    expect(() => createCommandBus({ store: undefined as never }), 'no store at all').toThrow(TypeError);
    const noop = async () => undefined;
    expect(() => createCommandBus({ store: { readStream: noop } as never }), 'no appendToStream').toThrow(
      TypeError,
    );
    expect(() => createCommandBus({ store: { appendToStream: noop } as never }), 'no readStream').toThrow(
      TypeError,
    );
  });
});

describe('register and use', () => {
  it('a second handler for one command type is a DuplicateHandlerError, and the first stays', async () => {
    const { bus, store } = cartBus();
    const error = (() => {
      try {
        bus.register('AddItem', { decider: shoppingCart, streamName: () => 'elsewhere' });
      } catch (e) {
        return e;
      }
    })();
    expect(error, 'registering AddItem twice must throw').toBeInstanceOf(DuplicateHandlerError);
    expect((error as DuplicateHandlerError).code).toBe('EDUPLICATEHANDLER');
    expect((error as DuplicateHandlerError).commandType).toBe('AddItem');
    expect((error as Error).message, 'the message names the command type').toContain('AddItem');
    await bus.dispatch(addItem('c1', 'apple'));
    expect(await store.streamVersion('cart-c1'), 'the first registration still handles AddItem').toBe(1);
    expect(await store.streamVersion('elsewhere')).toBe(0);
  });

  it('refuses a bad command type, decider or streamName with a TypeError', () => {
    const bus = createCommandBus({ store: new InMemoryEventStore() });
    const handler = { decider: shoppingCart, streamName: () => 's' };
    for (const type of ['', 42, undefined]) {
      expect(() => bus.register(type as string, handler), `commandType ${String(type)}`).toThrow(TypeError);
      expect(() => bus.register(type as string, handler), 'the message names commandType').toThrow(
        /commandType/,
      );
    }
    const { evolve: _evolve, ...noEvolve } = shoppingCart;
    const { decide: _decide, ...noDecide } = shoppingCart;
    const { initialState: _initial, ...noInitial } = shoppingCart;
    for (const decider of [noEvolve, noDecide, noInitial, undefined]) {
      expect(
        () => bus.register('X', { decider: decider as never, streamName: () => 's' }),
        'a decider needs initialState, decide and evolve functions',
      ).toThrow(TypeError);
      expect(() => bus.register('X', { decider: decider as never, streamName: () => 's' })).toThrow(
        /decider/,
      );
    }
    expect(() => bus.register('X', { decider: shoppingCart, streamName: 'cart' as never })).toThrow(
      /streamName/,
    );
    expect(() => bus.use('log' as never), 'the message names the argument').toThrow(/middleware/);
    expect(() => bus.register('X', { decider: shoppingCart, streamName: 'cart' as never })).toThrow(
      TypeError,
    );
    expect(() => bus.use('log' as never), 'a middleware must be a function').toThrow(TypeError);
  });
});

describe('dispatch: validation', () => {
  const valid: Command = {
    type: 'AddItem',
    id: 'cmd-valid',
    data: { cartId: 'c1', sku: 'apple', quantity: 1 },
  };

  it('a malformed command is a TypeError naming the field and the value, before any middleware or read', async () => {
    const { bus, store } = cartBus();
    let middlewareRuns = 0;
    bus.use((command, next) => {
      middlewareRuns++;
      return next();
    });
    const cases: [string, unknown, RegExp][] = [
      ['the command itself: null', null, /command.*null/],
      ['the command itself: a string', 'AddItem', /command.*AddItem/],
      ['type: empty', { ...valid, type: '' }, /type.*""/],
      ['type: a number', { ...valid, type: 7 }, /type.*7/],
      ['id: empty', { ...valid, id: '' }, /\bid\b.*""/],
      ['id: missing', { ...valid, id: undefined }, /\bid\b.*undefined/],
      ['id: a number', { ...valid, id: 12 }, /\bid\b.*12/],
      ['data: null', { ...valid, data: null }, /data.*null/],
      ['data: an array', { ...valid, data: [] }, /data/],
      ['data: a string', { ...valid, data: 'apple' }, /data.*apple/],
      ['metadata: null', { ...valid, metadata: null }, /metadata.*null/],
      ['metadata: an array', { ...valid, metadata: ['x'] }, /metadata/],
      ['metadata: a number', { ...valid, metadata: 5 }, /metadata.*5/],
    ];
    for (const [what, command, message] of cases) {
      const error = await rejection(bus.dispatch(command as Command));
      expect(error, `${what}: dispatch must reject with a TypeError`).toBeInstanceOf(TypeError);
      expect((error as Error).message, `${what}: the message names the field and the value`).toMatch(message);
    }
    expect(middlewareRuns, 'validation happens before any middleware runs').toBe(0);
    expect(store.calls, 'and before anything is read or appended').toEqual({
      appendToStream: 0,
      readStream: 0,
      streamVersion: 0,
    });
  });

  it('an expectedVersion of none of the four forms is a RangeError naming the value; the four forms pass', async () => {
    const { bus, store } = cartBus();
    for (const expectedVersion of [-1, 1.5, Number.NaN, 'NoStream', 'exact', null]) {
      const error = await rejection(
        bus.dispatch({ ...valid, expectedVersion: expectedVersion as ExpectedVersion }),
      );
      expect(
        error,
        `expectedVersion ${String(expectedVersion)} must be refused with a RangeError`,
      ).toBeInstanceOf(RangeError);
      expect((error as Error).message, 'the message names the value').toContain(String(expectedVersion));
    }
    expect(store.calls.readStream, 'a bad expectedVersion is refused before any read').toBe(0);
    const accepted: ExpectedVersion[] = ['no_stream', 1, 'stream_exists', 'any', 0];
    for (const expectedVersion of accepted) {
      const error = await bus.dispatch({ ...valid, id: newId(), expectedVersion }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `expectedVersion ${String(expectedVersion)} is a valid form`).not.toBeInstanceOf(
        RangeError,
      );
    }
  });

  it('an unknown command type is an UnknownCommandError (code, commandType), and nothing is read', async () => {
    const { bus, store } = cartBus();
    const error = await rejection(bus.dispatch({ type: 'AddToWishlist', id: newId(), data: {} }));
    expect(error, 'no handler is registered for AddToWishlist').toBeInstanceOf(UnknownCommandError);
    expect((error as UnknownCommandError).code).toBe('EUNKNOWNCOMMAND');
    expect((error as UnknownCommandError).commandType).toBe('AddToWishlist');
    expect((error as Error).message, 'the message names the command type').toContain('AddToWishlist');
    expect(store.calls.readStream + store.calls.appendToStream).toBe(0);
  });
});

describe('dispatch: load, decide, append', () => {
  it('records the decided events in the command’s stream and returns them as the store recorded them', async () => {
    const { bus, store } = cartBus();
    const appends = recordAppends(store);
    const result = await bus.dispatch(addItem('c1', 'apple', 2, { id: 'cmd-a' }));
    const stored = await store.readStream('cart-c1');
    expect(
      stored.map((e) => [e.type, e.data]),
      'one ItemAdded in cart-c1',
    ).toEqual([['ItemAdded', { sku: 'apple', quantity: 2 }]]);
    expect(
      result.events,
      'the result holds the recorded events: versions, positions, ids, recordedAt',
    ).toEqual(stored);
    expect(result.events[0]?.recordedAt, 'read back from the store (its clock), not made up').toBe(
      new Date(T0).toISOString(),
    );
    expect(result.nextExpectedVersion).toBe(1);
    expect(result.duplicate).toBe(false);
    expect(appends, 'one append call').toHaveLength(1);
    expect(
      [0, 'no_stream'],
      'the first append expects the stream not to exist (version 0 or no_stream)',
    ).toContainEqual(appends[0]?.expectedVersion);
  });

  it('folds the whole stream into state, decides on it, and appends with exactly the version read', async () => {
    const { bus, store, calls } = cartBus();
    const appends = recordAppends(store);
    await bus.dispatch(addItem('c1', 'apple', 2));
    await bus.dispatch(addItem('c1', 'pear', 1));
    await bus.dispatch(addItem('c1', 'apple', 3));
    calls.evolve = 0;
    const removed = await bus.dispatch(removeItem('c1', 'apple'));
    expect(calls.evolve, 'the load folds all three events of the stream').toBe(3);
    expect(
      removed.events.map((e) => e.data),
      'the decision saw 2 + 3 apples in the cart',
    ).toEqual([{ sku: 'apple', quantity: 5 }]);
    expect(
      appends.map((a) => a.expectedVersion).slice(1),
      'each append expects exactly the version the bus read: 1, 2, 3',
    ).toEqual([1, 2, 3]);
    expect(removed.nextExpectedVersion).toBe(4);
    await bus.dispatch(removeItem('c1', 'pear'));
    const error = await rejection(bus.dispatch(checkout('c1')));
    expect(
      error,
      'every item was removed: checkout of an empty cart is refused by the decider',
    ).toBeInstanceOf(EmptyCartError);
  });

  it('starts every load from initialState(), each stream from its own events', async () => {
    const { bus, calls } = cartBus();
    await bus.dispatch(addItem('c1', 'apple'));
    await bus.dispatch(checkout('c1'));
    const before = calls.initialState;
    const other = await bus.dispatch(addItem('c2', 'apple', 4));
    expect(calls.initialState, 'one load, one initialState()').toBe(before + 1);
    expect(
      other.events.map((e) => e.streamName),
      'c2 is its own stream, not checked out',
    ).toEqual(['cart-c2']);
    const removed = await bus.dispatch(removeItem('c2', 'apple'));
    expect(removed.events[0]?.data, 'c2 holds only its own 4 apples').toEqual({ sku: 'apple', quantity: 4 });
    expect(await rejection(bus.dispatch(addItem('c1', 'pear'))), 'c1 is still checked out').toBeInstanceOf(
      CartCheckedOutError,
    );
  });

  it('gives the decider the command as dispatched', async () => {
    const store = new InMemoryEventStore();
    const bus = createCommandBus({ store });
    const seen: unknown[] = [];
    bus.register('AddItem', {
      decider: {
        ...shoppingCart,
        decide: (command: CartCommand, state: CartState) => {
          seen.push(command);
          return shoppingCart.decide(command, state);
        },
      },
      streamName: (command) => `cart-${command.data.cartId}`,
    });
    const command = addItem('c1', 'apple', 1, { metadata: { user: 'ann' } });
    await bus.dispatch(command);
    expect(seen, 'decide receives the command: type, id, data, metadata').toEqual([command]);
  });

  it('appends all the events of one decision in one call, with consecutive versions', async () => {
    const store = new InMemoryEventStore();
    const appends = recordAppends(store);
    const bus = createCommandBus({ store });
    bus.register('Bump', { decider: counter, streamName: counterStream });
    const first = await bus.dispatch({ type: 'Bump', id: newId(), data: { counterId: 'k', times: 3 } });
    expect(appends, 'three events, one appendToStream call').toHaveLength(1);
    expect(appends[0]?.events.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(first.events.map((e) => e.streamVersion)).toEqual([1, 2, 3]);
    expect(first.nextExpectedVersion).toBe(3);
    const second = await bus.dispatch({ type: 'Bump', id: newId(), data: { counterId: 'k', times: 2 } });
    expect(second.events, 'the result holds only this command’s events, as recorded').toEqual(
      await store.readStream('counter-k', { fromVersion: 4 }),
    );
    expect(second.events.map((e) => e.data)).toEqual([{ n: 4 }, { n: 5 }]);
    expect(appends[1]?.expectedVersion).toBe(3);
  });

  it('every event’s metadata is exactly the command’s metadata plus commandId (the id wins)', async () => {
    const store = new InMemoryEventStore();
    const bus = createCommandBus({ store });
    bus.register('Bump', { decider: counter, streamName: counterStream });
    await bus.dispatch({
      type: 'Bump',
      id: 'cmd-m1',
      data: { counterId: 'm', times: 2 },
      metadata: { correlationId: 'corr-9', user: 'ann' },
    });
    await bus.dispatch({ type: 'Bump', id: 'cmd-m2', data: { counterId: 'm', times: 1 } });
    await bus.dispatch({
      type: 'Bump',
      id: 'cmd-m3',
      data: { counterId: 'm', times: 1 },
      metadata: { commandId: 'forged', user: 'bob' },
    });
    expect((await store.readStream('counter-m')).map((e) => e.metadata)).toEqual([
      { correlationId: 'corr-9', user: 'ann', commandId: 'cmd-m1' },
      { correlationId: 'corr-9', user: 'ann', commandId: 'cmd-m1' },
      { commandId: 'cmd-m2' },
      { commandId: 'cmd-m3', user: 'bob' },
    ]);
  });
});

describe('dispatch: no-op decisions and decider errors', () => {
  it('a no-op decision on a new stream appends nothing and creates no stream', async () => {
    const { bus, store } = cartBus();
    const result = await bus.dispatch(removeItem('c1', 'apple'));
    expect(result, 'events [], the version read (0), not a duplicate').toEqual({
      events: [],
      nextExpectedVersion: 0,
      duplicate: false,
    });
    expect(store.calls.appendToStream, 'a no-op decision makes no append call at all').toBe(0);
    expect(await store.streamVersion('cart-c1'), 'no stream was created').toBe(0);
  });

  it('a no-op decision on an existing stream returns its version and appends nothing', async () => {
    const { bus, store } = cartBus();
    await bus.dispatch(addItem('c1', 'apple'));
    await bus.dispatch(checkout('c1'));
    const appendsBefore = store.calls.appendToStream;
    const again = await bus.dispatch(checkout('c1'));
    expect(again).toEqual({ events: [], nextExpectedVersion: 2, duplicate: false });
    expect(store.calls.appendToStream, 'checking out a checked-out cart is a no-op: no append call').toBe(
      appendsBefore,
    );
  });

  it('a no-op records nothing, so its command id is decided again next time', async () => {
    const { bus, calls } = cartBus();
    const remove = removeItem('c1', 'apple');
    await bus.dispatch(remove);
    await bus.dispatch(addItem('c1', 'apple', 2));
    const again = await bus.dispatch(remove);
    expect(calls.decide, 'three dispatches, three decisions').toBe(3);
    expect(again.duplicate, 'the first dispatch of this id recorded nothing: it is not a duplicate').toBe(
      false,
    );
    expect(again.events.map((e) => e.data)).toEqual([{ sku: 'apple', quantity: 2 }]);
  });

  it('a decider error propagates unchanged, nothing is appended, and it is not retried', async () => {
    const store = new InMemoryEventStore();
    const bus = createCommandBus({ store, maxRetries: 5 });
    const thrown: unknown[] = [];
    const cart = counted({
      ...shoppingCart,
      decide: (command: CartCommand, state: CartState) => {
        try {
          return shoppingCart.decide(command, state);
        } catch (error) {
          thrown.push(error);
          throw error;
        }
      },
    });
    registerCart(bus, cart.decider);
    const error = await rejection(bus.dispatch(checkout('c1')));
    expect(error, 'the decider’s own error object, not a wrapper').toBe(thrown[0]);
    expect(error).toBeInstanceOf(EmptyCartError);
    expect(cart.calls.decide, 'a domain error is deterministic: deciding again cannot help').toBe(1);
    expect(store.calls.appendToStream, 'nothing is appended').toBe(0);
    expect(store.calls.readStream, 'one load').toBe(1);
  });

  it('a store error that is not a conflict propagates unchanged, without a retry', async () => {
    const { bus, store, calls } = cartBus();
    const down = new Error('connection lost');
    store.beforeAppend = () => {
      throw down;
    };
    expect(await rejection(bus.dispatch(addItem('c1', 'apple'))), 'the store’s error, unchanged').toBe(down);
    expect(store.calls.appendToStream, 'only conflicts are retried').toBe(1);
    expect(calls.decide).toBe(1);
  });

  it('a rejection with no error object at all propagates as it is', async () => {
    const { bus, store } = cartBus();
    store.beforeAppend = () => Promise.reject(undefined);
    expect(
      await rejection(bus.dispatch(addItem('c1', 'apple'))),
      'rejected with undefined, unchanged',
    ).toBeUndefined();
    expect(store.calls.appendToStream, 'not a conflict: not retried').toBe(1);
  });

  it('an error from streamName propagates unchanged', async () => {
    const store = new InMemoryEventStore();
    const bus = createCommandBus({ store });
    const bad = new TypeError('cartId missing');
    bus.register('AddItem', {
      decider: shoppingCart,
      streamName: () => {
        throw bad;
      },
    });
    expect(await rejection(bus.dispatch(addItem('c1', 'apple')))).toBe(bad);
    expect(store.calls.appendToStream).toBe(0);
  });
});

describe('dispatch: idempotence by command id', () => {
  it('dispatching a command id again returns its recorded events as a duplicate, deciding nothing', async () => {
    const { bus, store, calls } = cartBus();
    const command = addItem('c1', 'apple', 2);
    const first = await bus.dispatch(command);
    const decisions = calls.decide;
    const again = await bus.dispatch(command);
    expect(again.duplicate, 'the stream already holds this command id').toBe(true);
    expect(again.events, 'the events the first dispatch recorded').toEqual(first.events);
    expect(again.nextExpectedVersion, 'the version read').toBe(1);
    expect(calls.decide, 'nothing is decided for a duplicate').toBe(decisions);
    expect(store.calls.appendToStream, 'nothing is appended for a duplicate').toBe(1);
    expect(await store.streamVersion('cart-c1'), 'the item was added once').toBe(1);
  });

  it('finds the id anywhere in the stream and returns only that command’s events', async () => {
    const store = new InMemoryEventStore();
    const bus = createCommandBus({ store });
    bus.register('Bump', { decider: counter, streamName: counterStream });
    const bump = (times: number): Command => ({ type: 'Bump', id: newId(), data: { counterId: 'd', times } });
    const first = bump(2);
    const recorded = await bus.dispatch(first);
    await bus.dispatch(bump(1));
    await bus.dispatch(bump(3));
    const again = await bus.dispatch(first);
    expect(again.duplicate, 'an id from two commands ago is still a duplicate').toBe(true);
    expect(again.events, 'only the first command’s two events, not the whole stream').toEqual(
      recorded.events,
    );
    expect(again.nextExpectedVersion, 'the stream’s version, as read').toBe(6);
    expect(await store.streamVersion('counter-d')).toBe(6);
  });

  it('a second bus on the same store (another process, a restart) recognises the id', async () => {
    const { bus, store } = cartBus();
    const command = addItem('c1', 'apple');
    const first = await bus.dispatch(command);
    const { bus: restarted } = cartBus({ store });
    const again = await restarted.dispatch(command);
    expect(again.duplicate, 'the id is in the store, not in the first bus’s memory').toBe(true);
    expect(again.events).toEqual(first.events);
    expect(await store.streamVersion('cart-c1')).toBe(1);
  });

  it('an id is deduplicated per stream: the same id on another stream is another command', async () => {
    const { bus, store } = cartBus();
    await bus.dispatch(addItem('c1', 'apple', 1, { id: 'shared-id' }));
    const other = await bus.dispatch(addItem('c2', 'apple', 1, { id: 'shared-id' }));
    expect(other.duplicate).toBe(false);
    expect(await store.streamVersion('cart-c2')).toBe(1);
  });
});

describe('middleware', () => {
  it('runs in onion order: the first use() is the outermost', async () => {
    const { bus, store } = cartBus();
    const log: string[] = [];
    store.afterRead = () => {
      log.push('handler reads');
    };
    const named =
      (name: string): Middleware =>
      async (_command, next) => {
        log.push(`${name} before`);
        const result = await next();
        log.push(`${name} after`);
        return result;
      };
    bus.use(named('first'));
    bus.use(named('second'));
    await bus.dispatch(addItem('c1', 'apple'));
    expect(log.slice(0, 2), 'the first middleware added runs first').toEqual([
      'first before',
      'second before',
    ]);
    expect(log.slice(-2), 'and sees the result last').toEqual(['second after', 'first after']);
    expect(
      log.slice(2, -2).length > 0 && log.slice(2, -2).every((l) => l === 'handler reads'),
      `the handler runs inside the innermost middleware (log: ${log.join(', ')})`,
    ).toBe(true);
  });

  it('sees the command and the result, and may return its own (short-circuit: nothing is read)', async () => {
    const { bus, store } = cartBus();
    const seen: [Command, DispatchResult][] = [];
    bus.use(async (command, next) => {
      const result = await next();
      seen.push([command, result]);
      return result;
    });
    const command = addItem('c1', 'apple');
    const result = await bus.dispatch(command);
    expect(seen, 'the middleware saw the command as dispatched and the handler’s result').toEqual([
      [command, result],
    ]);

    const cached: DispatchResult = { events: [], nextExpectedVersion: 41, duplicate: true };
    const shortCircuit = cartBus();
    shortCircuit.bus.use(async () => cached);
    expect(await shortCircuit.bus.dispatch(addItem('c9', 'pear')), 'the middleware’s own result').toBe(
      cached,
    );
    expect(shortCircuit.store.calls, 'next() was not called: nothing was read or appended').toEqual({
      appendToStream: 0,
      readStream: 0,
      streamVersion: 0,
    });
    expect(store.calls.appendToStream).toBe(1);
  });

  it('a validation middleware that throws stops the dispatch before any read', async () => {
    const { bus, store, calls } = cartBus();
    const refused = new RangeError('quantity above the per-customer limit');
    bus.use(async (command, next) => {
      if ((command.data.quantity as number) > 5) throw refused;
      return next();
    });
    expect(await rejection(bus.dispatch(addItem('c1', 'apple', 6)))).toBe(refused);
    expect(store.calls.readStream, 'rejected before the load').toBe(0);
    expect(calls.decide).toBe(0);
    await expect(bus.dispatch(addItem('c1', 'apple', 5))).resolves.toMatchObject({ duplicate: false });
  });

  it('sees every error of the dispatch: unknown type, decider error, conflict', async () => {
    const { bus } = cartBus();
    const errors: unknown[] = [];
    bus.use(async (_command, next) => {
      try {
        return await next();
      } catch (error) {
        errors.push(error);
        throw error;
      }
    });
    await rejection(bus.dispatch({ type: 'Teleport', id: newId(), data: {} }));
    await rejection(bus.dispatch(checkout('empty-cart')));
    await rejection(bus.dispatch(addItem('c1', 'apple', 1, { expectedVersion: 3 })));
    expect(
      errors.map((e) => (e as { code?: string }).code),
      'a logging middleware sees UnknownCommandError, the decider’s error and the conflict',
    ).toEqual(['EUNKNOWNCOMMAND', 'EEMPTYCART', 'EWRONGVERSION']);
  });
});
