/**
 * A typed, in-process event bus: the observer pattern with async handlers.
 *
 * The event map ties each event name to its payload type, so the compiler rejects a wrong payload:
 *
 * ```ts
 * interface ShopEvents {
 *   'order.placed': { orderId: string; total: number };
 *   'user.signedUp': { userId: string };
 * }
 * const bus = createEventBus<ShopEvents>();
 * bus.on('order.placed', (e) => console.log(e.total.toFixed(2))); // e is { orderId; total }
 * await bus.emit('order.placed', { orderId: 'o1', total: 9.5 });
 * bus.emit('order.placed', { orderId: 'o1' });  // compile error: property 'total' is missing
 * bus.emit('order.shipped', {});                // compile error: no such event
 * ```
 */

/** Maps each event name to the type of its payload. An `interface` or a `type` both work. */
export type EventMap<T> = { [K in keyof T]: unknown };

/** A subscriber: may be sync or async. A throw or a rejection is a failure of this handler only. */
export type Handler<P> = (payload: P) => void | Promise<void>;

/** Calling it removes the subscription it came from; calling it again does nothing. */
export type Unsubscribe = () => void;

export interface EventBus<Events extends EventMap<Events>> {
  /**
   * Subscribes `handler` to `event`. Subscribing the same function twice makes two subscriptions
   * (it is then called twice per emit), and each returned {@link Unsubscribe} removes only its own.
   * @throws {TypeError} when `handler` is not a function
   */
  on<K extends keyof Events>(event: K, handler: Handler<Events[K]>): Unsubscribe;
  /** Like {@link on}, but the subscription ends just before its first call. */
  once<K extends keyof Events>(event: K, handler: Handler<Events[K]>): Unsubscribe;
  /**
   * Removes one subscription of `handler` to `event` (also one made with {@link once}).
   * Returns whether there was one to remove.
   */
  off<K extends keyof Events>(event: K, handler: Handler<Events[K]>): boolean;
  /**
   * Calls every handler subscribed to `event` when `emit` is called, in subscription order, all of
   * them before `emit` returns: an async handler does not delay the next one, so they run
   * concurrently. Handlers subscribed or unsubscribed while an emit is running take effect from
   * the next emit on; none is skipped or called twice because of it.
   *
   * Resolves once every handler has settled. If any failed (threw or rejected), rejects instead,
   * after all have settled, with an `AggregateError` whose `errors` are the failures in
   * subscription order and whose message names the event, e.g.
   * `2 of 3 handlers for "order.placed" failed`.
   */
  emit<K extends keyof Events>(event: K, payload: Events[K]): Promise<void>;
  /** How many subscriptions `event` has now. */
  listenerCount(event: keyof Events): number;
}

interface Subscription {
  readonly handler: Handler<never>;
  readonly once: boolean;
}

/** Creates an empty bus. */
export function createEventBus<Events extends EventMap<Events>>(): EventBus<Events> {
  const subscriptions = new Map<keyof Events, readonly Subscription[]>();

  const list = (event: keyof Events) => subscriptions.get(event) ?? [];

  // Subscribing and unsubscribing replace the array instead of changing it in place, so an emit
  // that is iterating over the old array is not disturbed: no handler is skipped or called twice.
  const remove = (event: keyof Events, subscription: Subscription) => {
    subscriptions.set(
      event,
      list(event).filter((s) => s !== subscription),
    );
  };

  const add = (event: keyof Events, handler: Handler<never>, once: boolean): Unsubscribe => {
    if (typeof handler !== 'function') {
      throw new TypeError(`the handler for "${String(event)}" must be a function, got ${typeof handler}`);
    }
    const subscription: Subscription = { handler, once };
    // A handler is subscribed at most once: subscribing it again would only call it twice.
    if (!list(event).some((s) => s.handler === handler)) {
      subscriptions.set(event, [...list(event), subscription]);
    }
    return () => {
      remove(event, subscription);
    };
  };

  return {
    on: (event, handler) => add(event, handler as Handler<never>, false),
    once: (event, handler) => add(event, handler as Handler<never>, true),

    off(event, handler) {
      const last = list(event).findLast((s) => s.handler === handler);
      if (!last) return false;
      remove(event, last);
      return true;
    },

    async emit(event, payload) {
      const running = list(event).map((subscription) => {
        if (subscription.once) remove(event, subscription);
        return callSafely(subscription.handler as Handler<typeof payload>, payload);
      });
      const results = await Promise.allSettled(running);
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      if (failures.length > 0) {
        throw new AggregateError(
          failures,
          `${failures.length} of ${results.length} handlers for "${String(event)}" failed`,
        );
      }
    },

    listenerCount: (event) => list(event).length,
  };
}

/** Calls `handler`, turning a synchronous throw into a rejection so that it cannot stop the other handlers. */
async function callSafely<P>(handler: Handler<P>, payload: P): Promise<void> {
  await handler(payload);
}
