/**
 * `npm run bench -- 04-cqrs/command-bus`: the same workload through your command bus and through
 * Emmett 0.42's `DeciderCommandHandler`, each on its own in-memory event store, in one run.
 *
 * Workload: `CARTS` shopping carts, `COMMANDS_PER_CART` AddItem commands each (the given
 * shopping-cart decider, unchanged for both). Two phases:
 * - **sequential**: one dispatcher, one command at a time: the cost of load → decide → append;
 * - **concurrent**: `CONCURRENCY` dispatchers at once, all walking the same carts in the same order,
 *   so they load the same stream version and all but one of them lose the append: conflicts, retried.
 *
 * What differs, and is not hidden:
 * - **Stores.** Yours runs on the given `InMemoryEventStore` (copies every event on write and read,
 *   counts calls); Emmett's on its own `getInMemoryEventStore()`, whose append copies the stream's
 *   array and counts every stream's events (O(streams) per append). Neither is a database: the numbers
 *   are the bus's own overhead, in-process.
 * - **Idempotence.** Your bus scans the stream for the command id on every load and reads the new
 *   events back after the append; Emmett's handler has no command-id check and returns the events
 *   it appended.
 * - **Retries.** Your bus retries a conflict at once. Emmett's handler retries through async-retry;
 *   its default for version conflicts waits 100 ms, growing 1.5× per retry. Here it is set to retry at
 *   once too (`minTimeout: 0`; async-retry still goes through a `setTimeout(0)`), with the same
 *   retry budget, so the phase measures the handlers, not a back-off.
 *
 * Each contender runs each phase twice (in order, then in reverse order) on a fresh store; the faster
 * run counts. Commands per second, p50/p99 per command, conflicts retried, commands that failed.
 */
import os from 'node:os';
import {
  type AnyEvent,
  DeciderCommandHandler,
  type ExpectedStreamVersion,
  getInMemoryEventStore,
  isExpectedVersionConflictError,
  NO_CONCURRENCY_CHECK,
  type ReadEvent,
  type ReadEventMetadataWithGlobalPosition,
  STREAM_DOES_NOT_EXIST,
  STREAM_EXISTS,
} from '@event-driven-io/emmett';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, measurementOf } from '../../../src/testing/index.js';
import { type Command, createCommandBus } from './command-bus.js';
import {
  type EventStore,
  type ExpectedVersion,
  InMemoryEventStore,
  type RecordedEvent,
  WrongExpectedVersionError,
} from './event-store.js';
import {
  type CartCommand,
  type CartEvent,
  type CartState,
  cartStream,
  shoppingCart,
} from './shopping-cart.js';

const CARTS = 200;
const COMMANDS_PER_CART = 20;
const CONCURRENCY = 8;
/** Enough for every dispatcher to lose to each of the others once: no command should fail. */
const MAX_RETRIES = CONCURRENCY * 2;

interface Contender {
  readonly label: string;
  /** Makes a fresh store and returns a function that handles one command on it. */
  start(): { dispatch(command: Command & CartCommand): Promise<unknown>; conflicts(): number };
}

const yours: Contender = {
  label: 'your command bus',
  start() {
    const store = new InMemoryEventStore();
    const bus = createCommandBus({ store, maxRetries: MAX_RETRIES });
    for (const type of ['AddItem', 'RemoveItem', 'Checkout']) {
      bus.register(type, { decider: shoppingCart, streamName: cartStream });
    }
    return { dispatch: (command) => bus.dispatch(command), conflicts: () => store.conflicts };
  },
};

/**
 * Emmett's in-memory store behind this exercise's `EventStore` interface, so your bus can run on it
 * too: the row that separates the bus's cost from the store's. Emmett's store records no time, so
 * `recordedAt` is empty, and the global position is not returned by its append (the bus does not use it).
 */
function emmettStore(): EventStore & { conflicts: number } {
  const inner = getInMemoryEventStore();
  const toEmmett = (expected: ExpectedVersion): ExpectedStreamVersion =>
    expected === 'any'
      ? NO_CONCURRENCY_CHECK
      : expected === 'no_stream'
        ? STREAM_DOES_NOT_EXIST
        : expected === 'stream_exists'
          ? STREAM_EXISTS
          : BigInt(expected);
  const toRecorded = (event: ReadEvent<AnyEvent, ReadEventMetadataWithGlobalPosition>): RecordedEvent => ({
    streamName: event.metadata.streamName,
    streamVersion: Number(event.metadata.streamPosition),
    position: Number(event.metadata.globalPosition),
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    eventId: event.metadata.messageId,
    recordedAt: '',
  });
  const version = async (name: string) => Number((await inner.readStream(name)).currentStreamVersion);
  const store = {
    conflicts: 0,
    async readStream(name: string, options: { fromVersion?: number; maxCount?: number } = {}) {
      const { fromVersion = 1, maxCount } = options;
      const { events } = await inner.readStream(name, {
        from: BigInt(fromVersion - 1),
        ...(maxCount === undefined ? {} : { maxCount: BigInt(maxCount) }),
      });
      return events.map(toRecorded);
    },
    streamVersion: version,
    async appendToStream(
      name: string,
      events: readonly {
        type: string;
        data: Readonly<Record<string, unknown>>;
        metadata?: Readonly<Record<string, unknown>>;
      }[],
      options: { expectedVersion?: ExpectedVersion } = {},
    ) {
      const expected = options.expectedVersion ?? 'any';
      try {
        const result = await inner.appendToStream(
          name,
          events.map((e) => ({ type: e.type, data: e.data, metadata: e.metadata ?? {} })),
          { expectedStreamVersion: toEmmett(expected) },
        );
        return { nextExpectedVersion: Number(result.nextExpectedStreamVersion), lastPosition: 0 };
      } catch (error) {
        if (!isExpectedVersionConflictError(error)) throw error;
        store.conflicts++;
        throw new WrongExpectedVersionError(name, expected, await version(name));
      }
    },
  };
  return store;
}

const yoursOnEmmettsStore: Contender = {
  label: 'your command bus on Emmett’s store',
  start() {
    const store = emmettStore();
    const bus = createCommandBus({ store, maxRetries: MAX_RETRIES });
    for (const type of ['AddItem', 'RemoveItem', 'Checkout']) {
      bus.register(type, { decider: shoppingCart, streamName: cartStream });
    }
    return { dispatch: (command) => bus.dispatch(command), conflicts: () => store.conflicts };
  },
};

const emmett: Contender = {
  label: 'Emmett DeciderCommandHandler',
  start() {
    let conflicts = 0;
    const eventStore = getInMemoryEventStore();
    const handle = DeciderCommandHandler<CartState, CartCommand, CartEvent>({
      decide: (command, state) => [...shoppingCart.decide(command, state)],
      evolve: shoppingCart.evolve,
      initialState: shoppingCart.initialState,
      retry: {
        onVersionConflict: {
          retries: MAX_RETRIES,
          minTimeout: 0,
          maxTimeout: 0,
          factor: 1,
          shouldRetryError: (error: unknown) => {
            const conflict = isExpectedVersionConflictError(error);
            if (conflict) conflicts++;
            return conflict;
          },
        },
      },
    });
    return {
      dispatch: (command) => handle(eventStore, cartStream(command), command),
      conflicts: () => conflicts,
    };
  },
};

/** Cart `c`'s `j`-th AddItem (a new sku each time, so every command records one event). */
const addItem = (c: number, j: number, worker: number): Command & CartCommand => ({
  type: 'AddItem',
  id: `w${worker}-c${c}-j${j}`,
  data: { cartId: `cart-${c}`, sku: `sku-${j}-${worker}`, quantity: 1 },
});

interface PhaseResult {
  readonly measurement: Measurement;
  readonly conflicts: number;
}

/**
 * Runs `workers` dispatchers at once on a fresh store of `contender`; each dispatches its share of
 * the commands, cart by cart in the same order as the others (so with several workers they collide).
 */
async function phase(contender: Contender, workers: number): Promise<PhaseResult> {
  const { dispatch, conflicts } = contender.start();
  const latencies: number[] = [];
  let errors = 0;
  const rounds = COMMANDS_PER_CART / workers;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let j = 0; j < rounds; j++) {
        for (let c = 0; c < CARTS; c++) {
          const t0 = performance.now();
          try {
            await dispatch(addItem(c, j, worker));
            latencies.push(performance.now() - t0);
          } catch {
            errors++;
          }
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { measurement: measurementOf(contender.label, latencies, elapsed, errors), conflicts: conflicts() };
}

async function measure(workers: number): Promise<PhaseResult[]> {
  const list = [yours, yoursOnEmmettsStore, emmett];
  for (const c of list) await phase(c, workers); // warm-up
  const best = new Map<string, PhaseResult>();
  for (const order of [list, [...list].reverse()]) {
    for (const c of order) {
      const run = await phase(c, workers);
      const prev = best.get(c.label);
      if (!prev || run.measurement.perSecond > prev.measurement.perSecond) best.set(c.label, run);
    }
  }
  return list.map((c) => best.get(c.label) as PhaseResult);
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  ctx.log(
    `Node ${process.version}, ${os.availableParallelism()} cores, load average ${load}; ${CARTS} carts × ${COMMANDS_PER_CART} AddItem = ${CARTS * COMMANDS_PER_CART} commands per run; each phase run twice, the faster shown`,
  );
  for (const [title, workers] of [
    ['sequential: one dispatcher', 1],
    [
      `concurrent: ${CONCURRENCY} dispatchers on the same carts (conflicts retried at once, up to ${MAX_RETRIES})`,
      CONCURRENCY,
    ],
  ] as const) {
    ctx.log('');
    ctx.log(title);
    const rows = await measure(workers);
    for (const line of comparisonTable(rows.map((r) => r.measurement))) ctx.log(line);
    for (const r of rows) ctx.log(`  ${r.measurement.label}: ${r.conflicts} conflicts retried`);
  }
}
