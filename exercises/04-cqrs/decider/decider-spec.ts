/**
 * The decider pattern's shape, and a given/when/then harness for testing one (given: you do not edit
 * this file; the suites use it, and so can you).
 *
 * A decider (Jérémie Chassaing, "Functional Event Sourcing Decider", 2021; Emmett's `Decider`) is
 * three pure functions:
 *
 * - `initialState()`: the state before the first event of a stream;
 * - `decide(command, state)`: what happens, as a list of events (or a typed error: the command is
 *   refused); `[]` means "nothing to do" (a no-op, e.g. a command sent twice);
 * - `evolve(state, event)`: the state after one more event.
 *
 * The state of a stream is `events.reduce(evolve, initialState())`; handling a command is "fold the
 * stream, decide, append the new events". Nothing in the three reads a clock, the network or a
 * database, so every rule is testable with plain values, as below.
 *
 * The harness is Emmett's `DeciderSpecification` (`@event-driven-io/emmett`, testing/
 * deciderSpecification.ts), with one addition: it **deep-freezes** everything it hands to your code
 * (the given events, the command and every state `evolve` returns), so a `decide` or `evolve` that
 * mutates its input fails here with a message that says so, instead of corrupting state in production.
 *
 * ```ts
 * const spec = deciderSpecification(bankAccount);
 * spec.given([opened, deposited(500)]).when(withdraw(200)).then([withdrawn(200)]);
 * spec.given([]).when(withdraw(1)).thenThrows(AccountNotOpenError);
 * spec.given([opened, closed]).when(close).thenNothingHappened();
 * ```
 */
import assert from 'node:assert/strict';

/** The three functions of a decider. Emmett's `decide` may return one event; this course's always returns an array. */
export interface Decider<State, Command, Event> {
  /** The state of a stream with no events. */
  initialState(): State;
  /**
   * The events a command produces on the given state (`[]`: nothing happens), or a thrown error when
   * the command is refused. Pure: never mutates `command` or `state`, reads no clock, no randomness.
   */
  decide(command: Command, state: State): Event[];
  /** The state after `event`. Pure: returns a new state and never mutates `state` or `event`. */
  evolve(state: State, event: Event): State;
}

/** An error class, for `thenThrows`. */
export type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

/** What `.when(command)` returns: one of the three assertions runs the decider and checks it. */
export interface DeciderThen<Event> {
  /** Asserts that `decide` returned exactly these events, in this order (deep, strict equality). */
  then(expected: readonly Event[]): void;
  /** Asserts that `decide` returned `[]`: the command was accepted and changes nothing. */
  thenNothingHappened(): void;
  /**
   * Asserts that `decide` threw an instance of `errorClass` and, when given, that `check(error)` is
   * true (e.g. `(e) => e.balance === 100`). Returns the error for further checks.
   */
  thenThrows<E extends Error>(errorClass: ErrorClass<E>, check?: (error: E) => boolean): E;
}

/** The harness for one decider: `given(events).when(command).then(...)`. */
export interface DeciderSpecification<State, Command, Event> {
  given(events: readonly Event[]): { when(command: Command): DeciderThen<Event> };
  /** The state after `events` (folded with deep-frozen inputs): handy for checking `evolve`. */
  stateAfter(events: readonly Event[]): State;
}

/**
 * Builds the given/when/then harness for `decider`.
 *
 * Every assertion folds the given events from `initialState()` with `evolve`, then calls `decide`
 * once. Inputs are deep-frozen first, so an attempt to mutate one throws a `TypeError` in your code,
 * which the harness reports as "mutated its input".
 */
export function deciderSpecification<State, Command, Event>(
  decider: Decider<State, Command, Event>,
): DeciderSpecification<State, Command, Event> {
  const stateAfter = (events: readonly Event[]): State =>
    deepFreeze(events).reduce<State>(
      (state, event) =>
        deepFreeze(guard(`evolve(state, ${describe(event)})`, () => decider.evolve(state, event))),
      deepFreeze(guard('initialState()', () => decider.initialState())),
    );

  return {
    stateAfter,
    given(history) {
      return {
        when(command) {
          deepFreeze(command);
          const call = `decide(${describe(command)}) after ${history.length === 0 ? 'no events' : describe(history)}`;
          /** Calls `decide` on `state`: the events it returned (checked to be an array), or what it threw. */
          const decideOn = (state: State): Event[] => {
            const result = guard(call, () => decider.decide(command, state));
            assert.ok(
              Array.isArray(result),
              `${call} must return an array of events ([] when nothing happens), got ${describe(result)}`,
            );
            return result;
          };
          /** Folds the history and decides, for an assertion that expects events: a refusal fails it. */
          const accepted = (expectation: string): Event[] => {
            const state = stateAfter(history);
            try {
              return decideOn(state);
            } catch (error) {
              if (error instanceof assert.AssertionError) throw error;
              const failure = new assert.AssertionError({
                message: `${call} must ${expectation}, but it refused the command: ${String(error)}`,
              });
              failure.cause = error;
              throw failure;
            }
          };
          return {
            // biome-ignore lint/suspicious/noThenProperty: Emmett's name; the result of when() is not awaited
            then(expected) {
              assert.deepStrictEqual(
                accepted(`produce ${describe(expected)}`),
                expected,
                `${call} must produce exactly the expected events, in this order, with no other fields`,
              );
            },
            thenNothingHappened() {
              assert.deepStrictEqual(
                accepted('be a no-op ([])'),
                [],
                `${call} must be a no-op: [] (no events), not a refusal and not a repeat of what already happened`,
              );
            },
            thenThrows<E extends Error>(errorClass: ErrorClass<E>, check?: (error: E) => boolean): E {
              const state = stateAfter(history);
              let events: Event[];
              try {
                events = decideOn(state);
              } catch (error) {
                if (error instanceof assert.AssertionError) throw error;
                assert.ok(
                  error instanceof errorClass,
                  `${call} must refuse with ${errorClass.name}, but threw ${String(error)}`,
                );
                if (check) {
                  assert.ok(
                    check(error),
                    `${call} threw ${errorClass.name}, but not with the expected details: ${describe({ ...error, message: error.message })}`,
                  );
                }
                return error;
              }
              assert.fail(`${call} must refuse with ${errorClass.name}, but it returned ${describe(events)}`);
            },
          };
        },
      };
    },
  };
}

/**
 * Freezes `value` and everything reachable from it (plain objects and arrays), and returns it.
 * A frozen object's properties cannot be assigned, added or deleted: in an ES module (strict mode)
 * trying throws a `TypeError`.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

/** Runs `fn`, turning "cannot assign to a frozen object" into an assertion that names the culprit. */
function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TypeError && FROZEN_WRITE.test(error.message)) {
      assert.fail(
        `${what} mutated its input (${error.message}). decide and evolve must be pure: build a new state or new events instead of changing the ones you were given.`,
      );
    }
    throw error;
  }
}

/** V8's messages for a write to a frozen object. */
const FROZEN_WRITE = /read[- ]only|not extensible|Cannot (assign|add|delete|define|redefine)/i;

/** A short description of a value for messages (JSON, with the special numbers kept readable). */
function describe(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
    );
    return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(value);
  }
}
