/**
 * GIVEN: what the suites (and you, in your own tests) use to drive a command bus: a bus over an
 * {@link InMemoryEventStore} with the shopping cart registered, command builders, a decider that
 * counts its calls, and a small decider that returns several events at once.
 */
import { ManualClock } from '../../../src/testing/index.js';
import {
  type Command,
  type CommandBus,
  type CommandBusOptions,
  createCommandBus,
  type Decider,
} from './command-bus.js';
import { InMemoryEventStore, type NewEvent } from './event-store.js';
import {
  type CartCommand,
  type CartEvent,
  type CartState,
  cartStream,
  shoppingCart,
} from './shopping-cart.js';

/** 2023-11-14T22:13:20.000Z: the store's clock in the suites. */
export const T0 = 1_700_000_000_000;

/** How many times each function of a decider was called. */
export interface DeciderCalls {
  initialState: number;
  decide: number;
  evolve: number;
}

/** Wraps a decider so that a test can count its calls; the behaviour is the decider's own. */
export function counted<S, C, E extends { type: string; data: Readonly<Record<string, unknown>> }>(
  decider: Decider<S, C, E>,
): { decider: Decider<S, C, E>; calls: DeciderCalls } {
  const calls: DeciderCalls = { initialState: 0, decide: 0, evolve: 0 };
  return {
    calls,
    decider: {
      initialState: () => {
        calls.initialState++;
        return decider.initialState();
      },
      decide: (command, state) => {
        calls.decide++;
        return decider.decide(command, state);
      },
      evolve: (state, event) => {
        calls.evolve++;
        return decider.evolve(state, event);
      },
    },
  };
}

/**
 * A store on a manual clock and a bus over it with AddItem, RemoveItem and Checkout registered to
 * the (counted) shopping cart, streams `cart-<cartId>`.
 */
export function cartBus(
  options: Partial<Omit<CommandBusOptions, 'store'>> & { store?: InMemoryEventStore } = {},
) {
  const store = options.store ?? new InMemoryEventStore({ clock: new ManualClock(T0) });
  const bus = createCommandBus({ ...options, store });
  const cart = counted<CartState, CartCommand, CartEvent>(shoppingCart);
  registerCart(bus, cart.decider);
  return { store, bus, calls: cart.calls };
}

/** Registers the three cart commands on `bus`. */
export function registerCart(
  bus: CommandBus,
  decider: Decider<CartState, CartCommand, CartEvent> = shoppingCart,
): void {
  for (const type of ['AddItem', 'RemoveItem', 'Checkout'] as const) {
    bus.register(type, { decider, streamName: cartStream });
  }
}

let ids = 0;
/** A fresh command id. */
export const newId = (): string => `cmd-${++ids}`;

export const addItem = (
  cartId: string,
  sku: string,
  quantity = 1,
  extra: Partial<Omit<Command, 'type' | 'data'>> = {},
): Command => ({ type: 'AddItem', id: newId(), data: { cartId, sku, quantity }, ...extra });

export const removeItem = (
  cartId: string,
  sku: string,
  extra: Partial<Omit<Command, 'type' | 'data'>> = {},
): Command => ({
  type: 'RemoveItem',
  id: newId(),
  data: { cartId, sku },
  ...extra,
});

export const checkout = (cartId: string, extra: Partial<Omit<Command, 'type' | 'data'>> = {}): Command => ({
  type: 'Checkout',
  id: newId(),
  data: { cartId },
  ...extra,
});

/** An event another writer appends to a cart (through `store.injectEvents`). */
export const itemAdded = (sku: string, quantity = 1, metadata?: Record<string, unknown>): NewEvent => ({
  type: 'ItemAdded',
  data: { sku, quantity },
  ...(metadata ? { metadata } : {}),
});
export const cartCheckedOut: NewEvent = { type: 'CartCheckedOut', data: {} };

/** A counter whose `Bump { counterId, times }` command returns `times` events in one decision. */
export type BumpCommand = {
  readonly type: 'Bump';
  readonly data: { readonly counterId: string; readonly times: number };
};
export type BumpedEvent = { readonly type: 'Bumped'; readonly data: { readonly n: number } };
export const counter: Decider<number, BumpCommand, BumpedEvent> = {
  initialState: () => 0,
  decide: (command, state) =>
    Array.from(
      { length: command.data.times },
      (_, i): BumpedEvent => ({ type: 'Bumped', data: { n: state + i + 1 } }),
    ),
  evolve: (_state, event) => event.data.n,
};
export const counterStream = (command: BumpCommand): string => `counter-${command.data.counterId}`;

/** What a promise rejected with (fails the test if it resolved). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/**
 * A promise that resolves once `arrive()` has been called `count` times, or after `timeoutMs` (so
 * a bus that serialises its dispatches makes a test fail on its assertions instead of hanging).
 * `dispose()` clears the timer.
 */
export function barrier(count: number, timeoutMs = 500) {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const timer = setTimeout(open, timeoutMs);
  return {
    opened,
    arrive() {
      if (++arrived === count) open();
    },
    dispose() {
      clearTimeout(timer);
    },
  };
}
