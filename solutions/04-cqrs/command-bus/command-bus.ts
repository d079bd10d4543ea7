/**
 * A command bus for an event-sourced write side: it routes each command to the decider registered
 * for its type and runs the one cycle every event-sourced command goes through (Emmett's
 * `CommandHandler`, Chassaing's decider pattern):
 *
 * ```
 *   load: read the stream ─▶ fold evolve over its events from initialState ─▶ decide(command, state)
 *     ─▶ append the new events, expecting exactly the version that was read
 *     ─▶ conflict (someone appended in between)? load again and decide again (unless the caller pinned a version)
 * ```
 *
 * The store is the only shared state: two buses (two processes) on one store behave as one. The bus
 * keeps nothing between dispatches but its handlers and middleware.
 */
import {
  type EventStore,
  type ExpectedVersion,
  matchesExpectedVersion,
  type RecordedEvent,
  WrongExpectedVersionError,
} from './event-store.js';

/** An event as a decider returns it: a type and a JSON-serialisable object. */
export interface DomainEvent {
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * The decider pattern (Chassaing; Emmett's `Decider<State, Command, Event>`): the pure core of an
 * aggregate. `decide` returns the events a command produces in a state (`[]`: nothing to do) or
 * throws a domain error; `evolve` folds one event into the state.
 */
export interface Decider<State, C, E extends DomainEvent> {
  initialState(): State;
  decide(command: C, state: State): readonly E[];
  evolve(state: State, event: E): State;
}

/** A command as it is dispatched. */
export interface Command {
  /** Picks the handler registered with {@link CommandBus.register}. */
  readonly type: string;
  /** The command's unique id: dispatching the same id again is recognised (see {@link CommandBus.dispatch}). */
  readonly id: string;
  /** The command's payload, handed to the decider. */
  readonly data: Readonly<Record<string, unknown>>;
  /**
   * Pins the stream version the caller decided on (typically the `nextExpectedVersion` a query or an
   * earlier dispatch returned). Absent: the bus uses the version it reads and retries conflicts.
   */
  readonly expectedVersion?: ExpectedVersion;
  /** Copied into the metadata of every event the command records (correlation ids, the user…). */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** How one command type is handled: the decider, and the stream a command of this type belongs to. */
export interface CommandHandler<State, C, E extends DomainEvent> {
  readonly decider: Decider<State, C, E>;
  /** The name of the stream (the aggregate) the command acts on, e.g. `cart-<cartId>`. */
  streamName(command: C): string;
}

/** What a dispatch returns. */
export interface DispatchResult {
  /**
   * The events this command recorded, as the store's `readStream` returns them (read back after the
   * append: versions, positions, metadata, recordedAt); for a duplicate, the events the earlier
   * dispatch of this command id recorded; `[]` for a no-op decision.
   */
  readonly events: readonly RecordedEvent[];
  /**
   * The stream's version after this dispatch: after an append, the append's `nextExpectedVersion`;
   * for a no-op decision or a duplicate, the version the bus read.
   */
  readonly nextExpectedVersion: number;
  /** True when the stream already held this command id's events, and nothing was decided. */
  readonly duplicate: boolean;
}

/**
 * Wraps every dispatch: call `next()` to run the rest of the chain (and in the end the handler),
 * return its result or your own. Throwing (or not calling `next`) stops the dispatch there.
 */
export type Middleware = (command: Command, next: () => Promise<DispatchResult>) => Promise<DispatchResult>;

export interface CommandBusOptions {
  readonly store: EventStore;
  /**
   * How many times a conflict on an unpinned command is retried (reload, decide again, append
   * again): a safe integer ≥ 0, default 3. A command is tried at most `1 + maxRetries` times.
   */
  readonly maxRetries?: number;
}

export interface CommandBus {
  /**
   * Registers the handler of one command type.
   * @throws {TypeError} naming the argument, when `commandType` is not a non-empty string, or the
   * handler has no `decider` with `initialState`, `decide` and `evolve` functions, or no `streamName` function
   * @throws {DuplicateHandlerError} when the type already has a handler
   */
  register<State, C, E extends DomainEvent>(commandType: string, handler: CommandHandler<State, C, E>): void;

  /**
   * Adds a middleware. Middleware run in onion order: the first added is the outermost (it runs
   * first and sees the result last). Each runs exactly once per dispatch, never once per retry.
   * @throws {TypeError} when `middleware` is not a function
   */
  use(middleware: Middleware): void;

  /**
   * Runs the command through the middleware, then its handler:
   *
   * 1. **Load**: read the whole stream (`readStream`: its events and, from the last one, its version;
   *    0 when it does not exist) and fold `evolve` over the events, starting from `initialState()`.
   * 2. **Idempotence**: if any event of the stream has `metadata.commandId === command.id`, return
   *    those events with `duplicate: true`; nothing is decided or appended. This check is inside the
   *    load → decide → append cycle, so two concurrent dispatches of one command id (two buses, two
   *    processes) append once: the loser's conflict reloads and finds the id. Limitations: a command
   *    id is deduplicated per stream (the same id on another stream is another command), and a no-op
   *    decision records nothing, so its id is not remembered (dispatching it again decides again).
   * 3. **Pinned version**: when `command.expectedVersion` is set and the version read does not match
   *    it, reject with {@link WrongExpectedVersionError} (`expected`: the pinned value, `actual`: the
   *    version read) before deciding, even when the decision would be a no-op or an error.
   * 4. **Decide**: `decide(command, state)`. A decider error propagates unchanged (the same error
   *    object); nothing is appended and it is never retried. `[]` (a no-op) makes no append call at
   *    all (so no stream is created) and returns `{ events: [], nextExpectedVersion: <version read>,
   *    duplicate: false }`.
   * 5. **Append** the events (their `type` and `data`) in one `appendToStream` call, each with
   *    `metadata` exactly `{ ...command.metadata, commandId: command.id }` (the command's id wins over
   *    a `commandId` in its metadata). The expected version is the pinned one when there is one,
   *    otherwise exactly the version read (0: the stream must not exist).
   *
   * **Conflicts**: a rejection whose `code` is `'EWRONGVERSION'` (any store's conflict error, not
   * only this module's class) on a command without a pinned version goes back to step 1, at once,
   * up to `maxRetries` times; then the last conflict is rethrown. A conflict on a pinned command is
   * never retried: the caller decided on a state they saw, and must see `expected` and `actual`.
   * Any other error (the store's, `streamName`'s) propagates unchanged, without a retry. Concurrent
   * dispatches share nothing: each has its own retries.
   *
   * @throws {TypeError} (as a rejection, before any middleware runs) naming the field and its value,
   * when `command` is not an object, `type` or `id` is not a non-empty string, or `data` (or
   * `metadata`, when present) is not a plain object (not null, not an array)
   * @throws {RangeError} (likewise) naming the value, when `expectedVersion` is present and not an
   * {@link ExpectedVersion} (`-1`, `1.5`, `'NoStream'`)
   * @throws {UnknownCommandError} when no handler is registered for `command.type`: raised by the
   * innermost step, so the middleware see it like any other error
   */
  dispatch(command: Command): Promise<DispatchResult>;
}

/** No handler is registered for the command's type (`commandType`; the message names it too). */
export class UnknownCommandError extends Error {
  readonly code = 'EUNKNOWNCOMMAND';
  override readonly name = 'UnknownCommandError';
  constructor(readonly commandType: string) {
    super(`no handler is registered for command type "${commandType}": register one with bus.register()`);
  }
}

/** A second handler for a command type that already has one (`commandType`; the message names it too). */
export class DuplicateHandlerError extends Error {
  readonly code = 'EDUPLICATEHANDLER';
  override readonly name = 'DuplicateHandlerError';
  constructor(readonly commandType: string) {
    super(`command type "${commandType}" already has a handler: each command type has exactly one`);
  }
}

/**
 * Creates a command bus over `store`.
 * @throws {RangeError} naming `maxRetries` and its value, when it is not a safe integer ≥ 0
 * @throws {TypeError} when `store` lacks `readStream` or `appendToStream`
 */
export function createCommandBus(options: CommandBusOptions): CommandBus {
  const { store, maxRetries = 3 } = options;
  if (!(Number.isSafeInteger(maxRetries) && maxRetries >= 0)) {
    throw new RangeError(`maxRetries must be a safe integer >= 0, got ${maxRetries}`);
  }
  if (typeof store?.readStream !== 'function' || typeof store.appendToStream !== 'function') {
    throw new TypeError('store must be an EventStore with readStream and appendToStream');
  }
  return new Bus(store, maxRetries);
}

/** A handler with its types erased: the bus only passes values between the decider's own functions. */
type AnyHandler = CommandHandler<unknown, Command, DomainEvent>;

class Bus implements CommandBus {
  readonly #store: EventStore;
  readonly #maxRetries: number;
  readonly #handlers = new Map<string, AnyHandler>();
  readonly #middleware: Middleware[] = [];

  constructor(store: EventStore, maxRetries: number) {
    this.#store = store;
    this.#maxRetries = maxRetries;
  }

  register<State, C, E extends DomainEvent>(commandType: string, handler: CommandHandler<State, C, E>): void {
    if (typeof commandType !== 'string' || commandType === '') {
      throw new TypeError(`commandType must be a non-empty string, got ${show(commandType)}`);
    }
    const decider = handler?.decider;
    if (
      typeof decider?.initialState !== 'function' ||
      typeof decider.decide !== 'function' ||
      typeof decider.evolve !== 'function'
    ) {
      throw new TypeError(`handler.decider for "${commandType}" must have initialState, decide and evolve`);
    }
    if (typeof handler.streamName !== 'function') {
      throw new TypeError(`handler.streamName for "${commandType}" must be a function`);
    }
    if (this.#handlers.has(commandType)) throw new DuplicateHandlerError(commandType);
    this.#handlers.set(commandType, handler as unknown as AnyHandler);
  }

  use(middleware: Middleware): void {
    if (typeof middleware !== 'function') {
      throw new TypeError(`middleware must be a function, got ${show(middleware)}`);
    }
    this.#middleware.push(middleware);
  }

  async dispatch(command: Command): Promise<DispatchResult> {
    checkCommand(command);
    const chain = [...this.#middleware];
    const run = (i: number): Promise<DispatchResult> => {
      const middleware = chain[i];
      return middleware ? middleware(command, () => run(i + 1)) : this.#handle(command);
    };
    return run(0);
  }

  /** The innermost step: find the handler, then load → decide → append, retrying unpinned conflicts. */
  async #handle(command: Command): Promise<DispatchResult> {
    const handler = this.#handlers.get(command.type);
    if (!handler) throw new UnknownCommandError(command.type);
    const streamName = handler.streamName(command);
    for (let retries = 0; ; retries++) {
      try {
        return await this.#attempt(command, handler, streamName);
      } catch (error) {
        const retry =
          command.expectedVersion === undefined && isConflict(error) && retries < this.#maxRetries;
        if (!retry) throw error;
      }
    }
  }

  /** One load → decide → append cycle. */
  async #attempt(command: Command, handler: AnyHandler, streamName: string): Promise<DispatchResult> {
    const { decider } = handler;
    const history = await this.#store.readStream(streamName);
    const version = history.at(-1)?.streamVersion ?? 0;

    const earlier = history.filter((event) => event.metadata.commandId === command.id);
    if (earlier.length > 0) return { events: earlier, nextExpectedVersion: version, duplicate: true };

    const pinned = command.expectedVersion;
    if (pinned !== undefined && !matchesExpectedVersion(pinned, version)) {
      throw new WrongExpectedVersionError(streamName, pinned, version);
    }

    let state = decider.initialState();
    for (const event of history) state = decider.evolve(state, event);
    const decided = decider.decide(command, state);
    if (decided.length === 0) return { events: [], nextExpectedVersion: version, duplicate: false };

    const metadata = { ...command.metadata, commandId: command.id };
    const { nextExpectedVersion } = await this.#store.appendToStream(
      streamName,
      decided.map(({ type, data }) => ({ type, data, metadata })),
      { expectedVersion: pinned ?? version },
    );
    const events = await this.#store.readStream(streamName, {
      fromVersion: nextExpectedVersion - decided.length + 1,
      maxCount: decided.length,
    });
    return { events, nextExpectedVersion, duplicate: false };
  }
}

/** A conflict from any store: recognised by its code, since another store's error is another class. */
function isConflict(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EWRONGVERSION';
}

function checkCommand(command: Command): void {
  if (!isPlainObject(command)) throw new TypeError(`command must be an object, got ${show(command)}`);
  for (const field of ['type', 'id'] as const) {
    const value: unknown = command[field];
    if (typeof value !== 'string' || value === '') {
      throw new TypeError(`command.${field} must be a non-empty string, got ${show(value)}`);
    }
  }
  if (!isPlainObject(command.data)) {
    throw new TypeError(`command.data must be an object, got ${show(command.data)}`);
  }
  if (command.metadata !== undefined && !isPlainObject(command.metadata)) {
    throw new TypeError(`command.metadata must be an object, got ${show(command.metadata)}`);
  }
  if (command.expectedVersion !== undefined && !isExpectedVersion(command.expectedVersion)) {
    throw new RangeError(
      `command.expectedVersion must be 'any', 'no_stream', 'stream_exists' or a safe integer >= 0, got ${show(command.expectedVersion)}`,
    );
  }
}

function isExpectedVersion(value: unknown): value is ExpectedVersion {
  return (
    value === 'any' ||
    value === 'no_stream' ||
    value === 'stream_exists' ||
    (Number.isSafeInteger(value) && (value as number) >= 0)
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as an error message shows it: strings quoted, everything else as `String()` gives it. */
function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
