import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { deferred } from '../../../src/testing/index.js';
import { createEventBus } from './event-bus.js';

interface ShopEvents {
  'order.placed': { orderId: string; total: number };
  'user.signedUp': { userId: string };
  tick: number;
}

/** Resolves to 'pending' if `promise` has not settled after the already queued jobs have run. */
async function stateOf(promise: Promise<unknown>): Promise<'pending' | 'fulfilled' | 'rejected'> {
  const pending = Symbol('pending');
  promise.catch(() => {}); // observed here so that a rejection is never reported as unhandled
  await new Promise((resolve) => setImmediate(resolve));
  try {
    const value = await Promise.race([promise, Promise.resolve(pending)]);
    return value === pending ? 'pending' : 'fulfilled';
  } catch {
    return 'rejected';
  }
}

describe('a typed event bus', () => {
  it('delivers the payload to every handler of that event, in subscription order', async () => {
    const bus = createEventBus<ShopEvents>();
    const calls: string[] = [];
    bus.on('order.placed', (e) => {
      calls.push(`first ${e.orderId} ${e.total}`);
    });
    bus.on('order.placed', (e) => {
      calls.push(`second ${e.orderId}`);
    });
    bus.on('user.signedUp', () => {
      calls.push('wrong event');
    });
    await bus.emit('order.placed', { orderId: 'o1', total: 9.5 });
    expect(calls, 'both order.placed handlers, in the order they subscribed, and nothing else').toEqual([
      'first o1 9.5',
      'second o1',
    ]);
  });

  it('is typed by the event map: a wrong payload or an unknown event does not compile', async () => {
    const bus = createEventBus<ShopEvents>();
    const seen: number[] = [];
    bus.on('tick', (n) => {
      expectTypeOf(n).toEqualTypeOf<number>();
      seen.push(n);
    });
    await bus.emit('tick', 42);
    expect(seen).toEqual([42]);

    // Never called: these lines are here for the type checker (`npx tsc --noEmit`), which fails if
    // any of them compiles, i.e. if the bus lost its types.
    const mustNotCompile = () => {
      // @ts-expect-error 'tick' carries a number, not a string
      bus.emit('tick', 'forty-two');
      // @ts-expect-error the payload of 'order.placed' needs a total
      bus.emit('order.placed', { orderId: 'o1' });
      // @ts-expect-error there is no event called 'order.shipped'
      bus.on('order.shipped', () => {});
      // @ts-expect-error a handler of 'user.signedUp' receives a user, not a number
      bus.on('user.signedUp', (n: number) => {});
    };
    expect(mustNotCompile).toBeTypeOf('function');
  });

  it('resolves emit at once when nobody listens', async () => {
    const bus = createEventBus<ShopEvents>();
    await expect(bus.emit('tick', 1), 'an event without handlers is not an error').resolves.toBeUndefined();
    expect(bus.listenerCount('tick')).toBe(0);
  });

  it('unsubscribes with the function that on() returns, and with off()', async () => {
    const bus = createEventBus<ShopEvents>();
    const a = vi.fn();
    const b = vi.fn();
    const stopA = bus.on('tick', a);
    bus.on('tick', b);
    expect(bus.listenerCount('tick')).toBe(2);
    stopA();
    await bus.emit('tick', 1);
    expect(a, 'a handler that unsubscribed must not be called').not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledTimes(1);
    expect(bus.off('tick', b), 'off() returns true when it removed a subscription').toBe(true);
    expect(bus.off('tick', b), 'and false when there was none').toBe(false);
    await bus.emit('tick', 2);
    expect(b, 'after off() the handler is not called again').toHaveBeenCalledTimes(1);
    expect(bus.listenerCount('tick')).toBe(0);
  });

  it('removes with off() exactly the handler it is given', async () => {
    const bus = createEventBus<ShopEvents>();
    const a = vi.fn();
    const b = vi.fn();
    const stranger = vi.fn();
    bus.on('tick', a);
    bus.on('tick', b);
    expect(bus.off('tick', stranger), 'a handler that never subscribed: nothing to remove').toBe(false);
    expect(bus.listenerCount('tick'), 'and nothing was removed').toBe(2);
    expect(bus.off('tick', a)).toBe(true);
    await bus.emit('tick', 1);
    expect(a, 'a was removed').not.toHaveBeenCalled();
    expect(b, 'b was not: off(a) must not remove another subscription').toHaveBeenCalledWith(1);
  });

  it('keeps each subscription separate when the same function subscribes twice', async () => {
    const bus = createEventBus<ShopEvents>();
    const handler = vi.fn();
    const stopFirst = bus.on('tick', handler);
    bus.on('tick', handler);
    await bus.emit('tick', 1);
    expect(handler, 'two subscriptions mean two calls per emit').toHaveBeenCalledTimes(2);
    stopFirst();
    stopFirst();
    expect(
      bus.listenerCount('tick'),
      'calling the same unsubscribe twice removes only its own subscription',
    ).toBe(1);
    await bus.emit('tick', 2);
    expect(handler).toHaveBeenCalledTimes(3);
  });

  it('removes with off() only one subscription of a function that subscribed twice', async () => {
    const bus = createEventBus<ShopEvents>();
    const handler = vi.fn();
    bus.on('tick', handler);
    bus.on('tick', handler);
    expect(bus.off('tick', handler), 'there was a subscription to remove').toBe(true);
    expect(bus.listenerCount('tick'), 'off() removes one subscription, not every one of that function').toBe(
      1,
    );
    await bus.emit('tick', 1);
    expect(handler, 'the other subscription is still there').toHaveBeenCalledTimes(1);
    expect(bus.off('tick', handler), 'the second off() removes the second subscription').toBe(true);
    expect(bus.off('tick', handler), 'and a third finds nothing left').toBe(false);
  });

  it('keeps a once() and an on() subscription of the same function apart', async () => {
    const bus = createEventBus<ShopEvents>();
    const handler = vi.fn();
    bus.once('tick', handler);
    bus.on('tick', handler);
    await bus.emit('tick', 1);
    expect(handler, 'both subscriptions are called on the first emit').toHaveBeenCalledTimes(2);
    expect(
      bus.listenerCount('tick'),
      'the once() subscription ended; the on() subscription of the same function stays',
    ).toBe(1);
    await bus.emit('tick', 2);
    await bus.emit('tick', 3);
    expect(handler, 'from then on only the on() subscription: one call per emit').toHaveBeenCalledTimes(4);
  });

  it("keeps each event's subscriptions apart, also for a function subscribed to two events", async () => {
    const bus = createEventBus<ShopEvents>();
    const handler = vi.fn();
    const stopTick = bus.on('tick', handler);
    bus.on('user.signedUp', handler);
    bus.once('tick', handler);
    bus.once('user.signedUp', handler);
    expect(bus.listenerCount('tick')).toBe(2);
    expect(bus.listenerCount('user.signedUp')).toBe(2);

    await bus.emit('tick', 1);
    expect(handler, 'an emit of tick calls the two tick subscriptions only').toHaveBeenCalledTimes(2);
    expect(bus.listenerCount('tick'), "tick's once() subscription ended").toBe(1);
    expect(
      bus.listenerCount('user.signedUp'),
      "an emit of tick must not end user.signedUp's once() subscription",
    ).toBe(2);

    stopTick();
    expect(bus.listenerCount('tick')).toBe(0);
    expect(bus.off('tick', handler), 'tick has no subscription left to remove').toBe(false);
    expect(bus.listenerCount('user.signedUp'), 'unsubscribing from tick leaves user.signedUp alone').toBe(2);
    await bus.emit('user.signedUp', { userId: 'u1' });
    expect(handler, 'both user.signedUp subscriptions still run').toHaveBeenCalledTimes(4);
  });

  it('calls a once() handler only on the first emit, even when two emits start together', async () => {
    const bus = createEventBus<ShopEvents>();
    const handler = vi.fn();
    bus.once('tick', handler);
    expect(bus.listenerCount('tick')).toBe(1);
    await Promise.all([bus.emit('tick', 1), bus.emit('tick', 2)]);
    await bus.emit('tick', 3);
    expect(handler, 'once means once').toHaveBeenCalledTimes(1);
    expect(handler).toHaveBeenCalledWith(1);
    expect(bus.listenerCount('tick'), 'the once subscription is gone after its call').toBe(0);
  });

  it('lets a once() subscription be cancelled before it fires, by its unsubscribe or by off()', async () => {
    const bus = createEventBus<ShopEvents>();
    const a = vi.fn();
    const b = vi.fn();
    const stopA = bus.once('tick', a);
    bus.once('tick', b);
    stopA();
    expect(bus.off('tick', b), 'off() with the function given to once() removes that subscription').toBe(
      true,
    );
    await bus.emit('tick', 1);
    expect(a).not.toHaveBeenCalled();
    expect(b).not.toHaveBeenCalled();
  });

  it('starts every handler before emit returns: a slow async handler does not delay the next one', async () => {
    const bus = createEventBus<ShopEvents>();
    const slow = deferred();
    const started: string[] = [];
    bus.on('tick', async () => {
      started.push('slow');
      await slow.promise;
    });
    bus.on('tick', () => {
      started.push('fast');
    });
    const emitted = bus.emit('tick', 1);
    expect(started, 'both handlers must have been called synchronously inside emit()').toEqual([
      'slow',
      'fast',
    ]);
    expect(await stateOf(emitted), 'emit must wait for the slow handler to settle').toBe('pending');
    slow.resolve();
    await expect(emitted).resolves.toBeUndefined();
  });

  it('resolves emit only when every handler has settled', async () => {
    const bus = createEventBus<ShopEvents>();
    const gates = [deferred(), deferred(), deferred()];
    for (const gate of gates) bus.on('tick', () => gate.promise);
    const emitted = bus.emit('tick', 1);
    gates[2]!.resolve();
    gates[0]!.resolve();
    expect(await stateOf(emitted), 'one handler is still running').toBe('pending');
    gates[1]!.resolve();
    expect(await stateOf(emitted), 'all three have finished').toBe('fulfilled');
  });

  it('keeps calling the other handlers when one throws or rejects, then reports every failure', async () => {
    const bus = createEventBus<ShopEvents>();
    const syncFailure = new Error('sync failure');
    const asyncFailure = new Error('async failure');
    const called: string[] = [];
    bus.on('order.placed', () => {
      called.push('ok 1');
    });
    bus.on('order.placed', () => {
      called.push('throws');
      throw syncFailure;
    });
    bus.on('order.placed', async () => {
      called.push('rejects');
      await Promise.resolve();
      throw asyncFailure;
    });
    bus.on('order.placed', async () => {
      called.push('ok 2');
    });
    const emitted = bus.emit('order.placed', { orderId: 'o1', total: 1 });
    const error = await emitted.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(called, 'a failing handler must not stop the ones after it').toEqual([
      'ok 1',
      'throws',
      'rejects',
      'ok 2',
    ]);
    expect(error, 'emit must reject with an AggregateError when a handler failed').toBeInstanceOf(
      AggregateError,
    );
    const aggregate = error as AggregateError;
    expect(aggregate.errors, 'every failure, in subscription order').toEqual([syncFailure, asyncFailure]);
    expect(aggregate.message, 'the message says how many failed and for which event').toBe(
      '2 of 4 handlers for "order.placed" failed',
    );
  });

  it('lists the failures in subscription order, not in the order they happened', async () => {
    const bus = createEventBus<ShopEvents>();
    const first = deferred();
    const second = deferred();
    const third = deferred();
    bus.on('tick', () => first.promise);
    bus.on('tick', () => second.promise);
    bus.on('tick', () => third.promise);
    const emitted = bus.emit('tick', 1);
    const [early, late] = [new Error('third handler, failed first'), new Error('first handler, failed last')];
    third.reject(early);
    await stateOf(emitted);
    second.resolve();
    await stateOf(emitted);
    first.reject(late);
    const error = await emitted.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AggregateError);
    expect(
      (error as AggregateError).errors,
      "errors[i] follows the handlers' subscription order, whatever order they failed in",
    ).toEqual([late, early]);
    expect((error as AggregateError).message).toBe('2 of 3 handlers for "tick" failed');
  });

  it('rejects only after the slow handlers have settled too', async () => {
    const bus = createEventBus<ShopEvents>();
    const slow = deferred();
    bus.on('tick', () => {
      throw new Error('boom');
    });
    bus.on('tick', () => slow.promise);
    const emitted = bus.emit('tick', 1);
    expect(await stateOf(emitted), 'a failure must not end the emit while a handler still runs').toBe(
      'pending',
    );
    slow.resolve();
    await expect(emitted).rejects.toThrow(AggregateError);
  });

  it('stays safe when a handler unsubscribes itself or another handler during emit', async () => {
    const bus = createEventBus<ShopEvents>();
    const calls: string[] = [];
    const stopA = bus.on('tick', () => {
      calls.push('a');
      stopA();
    });
    bus.on('tick', () => {
      calls.push('b');
      stopC();
    });
    const stopC = bus.on('tick', () => {
      calls.push('c');
    });
    bus.on('tick', () => {
      calls.push('d');
    });
    await bus.emit('tick', 1);
    expect(
      calls,
      'every handler subscribed when emit started runs once: removing one during emit skips nobody',
    ).toEqual(['a', 'b', 'c', 'd']);
    calls.length = 0;
    await bus.emit('tick', 2);
    expect(calls, 'the removals take effect on the next emit').toEqual(['b', 'd']);
  });

  it('does not call a handler subscribed during an emit until the next emit', async () => {
    const bus = createEventBus<ShopEvents>();
    const late = vi.fn();
    bus.on('tick', () => {
      if (bus.listenerCount('tick') === 1) bus.on('tick', late);
    });
    await bus.emit('tick', 1);
    expect(late, 'a handler added during an emit misses that emit').not.toHaveBeenCalled();
    await bus.emit('tick', 2);
    expect(late).toHaveBeenCalledWith(2);
  });

  it('rejects a handler that is not a function, in on() and in once(), naming the event', () => {
    const bus = createEventBus<ShopEvents>();
    for (const subscribe of ['on', 'once'] as const) {
      for (const notAFunction of ['not a function', undefined, null, { handle() {} }]) {
        expect(
          () => bus[subscribe]('tick', notAFunction as never),
          `${subscribe}() with ${String(notAFunction)} must throw a TypeError that names the event`,
        ).toThrow(TypeError);
        expect(() => bus[subscribe]('user.signedUp', notAFunction as never)).toThrow(/user\.signedUp/);
      }
    }
    expect(bus.listenerCount('tick'), 'a rejected handler is not subscribed').toBe(0);
    expect(bus.listenerCount('user.signedUp')).toBe(0);
  });
});
