/**
 * The order saga's state machine, pure: no Redis, no clock, no I/O. The orchestrator
 * (`order-saga.ts`) persists every {@link SagaEvent} and folds it with {@link evolve}; it asks
 * {@link nextAction} what to do next. A reader (a simulator, a test, a dashboard) can replay a
 * saga's step log with the same two functions and get the same state.
 *
 * The saga (Garcia-Molina & Salem, "Sagas", SIGMOD 1987) has three forward steps, in this order:
 *
 * | step      | service call       | compensation    |
 * | --------- | ------------------ | --------------- |
 * | `reserve` | reserve the stock  | release it      |
 * | `charge`  | charge the payment | refund it       |
 * | `ship`    | create a shipment  | none: the pivot |
 *
 * `ship` is the **pivot**: the last step and the go/no-go point. Once it succeeds the saga is
 * completed and nothing is undone; if it is refused, `charge` and `reserve` are compensated.
 *
 * Statuses (`status`):
 *
 * ```text
 * running ──every step succeeded──▶ completed
 *    │
 *    └─a step refused, or its outcome unknown──▶ compensating ──every compensation done──▶ compensated
 * ```
 *
 * While `running`, `inFlight` names the step whose call may be out: the orchestrator records
 * {@link SagaEvent} `StepStarted` BEFORE it calls the service, so a crash leaves a state that says
 * "this call may or may not have happened". What is undone depends on what is known:
 *
 * - `StepFailed` (the service refused: nothing happened): undo the steps done before it, newest
 *   first. The refused step itself is never compensated.
 * - `StepOutcomeUnknown` (timed out, or found in flight after a crash, and not safe to call again):
 *   the step may have happened, so it is undone too, first, then the earlier ones. A compensation
 *   must therefore be harmless for a step that never happened. The pivot's outcome is never left
 *   unknown (it has no compensation; the orchestrator retries it until it answers).
 */

/** The forward steps, in the order they run. */
export const STEPS = ['reserve', 'charge', 'ship'] as const;

/** One forward step of the saga. */
export type Step = (typeof STEPS)[number];

/** The steps that have a compensation (every step but the pivot). */
export type CompensableStep = Exclude<Step, 'ship'>;

/** The step with no compensation: once it succeeds, the saga is completed. */
export const PIVOT: Step = 'ship';

/** Where the saga is; see the module header for the transitions. */
export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated';

/** A saga's state: a plain, JSON-friendly value. {@link evolve} never mutates one. */
export interface SagaState {
  readonly status: SagaStatus;
  /** The forward steps that succeeded, in the order they ran. */
  readonly done: readonly Step[];
  /** While `running`: the step whose call is out (recorded before the call), if any. */
  readonly inFlight?: Step;
  /** While `compensating`: the compensations still to run, in the order they must run. */
  readonly toCompensate: readonly CompensableStep[];
  /** The compensations that succeeded, in the order they ran. */
  readonly compensated: readonly CompensableStep[];
  /** Why the saga turned back (the step and the reason), once it has. */
  readonly failure?: { readonly step: Step; readonly reason: string };
}

/** What happened, as the orchestrator records it in the saga's step log. */
export type SagaEvent =
  /** Recorded before the call to `step`'s service. */
  | { readonly type: 'StepStarted'; readonly step: Step }
  /** The service answered yes. */
  | { readonly type: 'StepSucceeded'; readonly step: Step }
  /** The service answered no: the step did not happen. */
  | { readonly type: 'StepFailed'; readonly step: Step; readonly reason: string }
  /** No answer we can trust (timeout, crash mid-call) and the step may not be called again. */
  | { readonly type: 'StepOutcomeUnknown'; readonly step: Step; readonly reason: string }
  /** A compensation call failed; it will be retried. The state does not change. */
  | {
      readonly type: 'CompensationFailed';
      readonly step: CompensableStep;
      readonly reason: string;
      readonly attempt: number;
    }
  /** A compensation call succeeded. */
  | { readonly type: 'CompensationSucceeded'; readonly step: CompensableStep };

/** What the orchestrator must do next in a given state. */
export type SagaAction =
  /** Record `StepStarted` for `step`, then call it. */
  | { readonly type: 'start'; readonly step: Step }
  /** `step`'s call is out: wait for its answer (or, after a crash, decide what its outcome is). */
  | { readonly type: 'settle'; readonly step: Step }
  /** Run `step`'s compensation (retrying until it succeeds), then record `CompensationSucceeded`. */
  | { readonly type: 'compensate'; readonly step: CompensableStep }
  /** Nothing left to do. */
  | { readonly type: 'done'; readonly status: 'completed' | 'compensated' };

/** A saga that has not started a step yet. */
export function initialState(): SagaState {
  return { status: 'running', done: [], toCompensate: [], compensated: [] };
}

/** Whether the saga has ended (nothing will ever change again). */
export function isFinished(state: SagaState): boolean {
  return state.status === 'completed' || state.status === 'compensated';
}

/**
 * What to do next in `state`.
 * - `running`, a step in flight: `settle` it;
 * - `running`, none in flight: `start` the first step not done;
 * - `compensating`: `compensate` the first step of `toCompensate`;
 * - `completed` / `compensated`: `done`.
 */
export function nextAction(state: SagaState): SagaAction {
  switch (state.status) {
    case 'completed':
    case 'compensated':
      return { type: 'done', status: state.status };
    case 'compensating': {
      const step = state.toCompensate[0];
      if (step === undefined) throw new Error('a compensating saga has nothing left to compensate');
      return { type: 'compensate', step };
    }
    case 'running': {
      if (state.inFlight !== undefined) return { type: 'settle', step: state.inFlight };
      const step = STEPS[state.done.length];
      if (step === undefined) throw new Error('a running saga has no step left to start');
      return { type: 'start', step };
    }
  }
}

/**
 * The state after `event`. Pure: returns a new object and leaves `state` as it was.
 * @throws {SagaTransitionError} when `event` cannot happen in `state` (a step started out of
 *   order or twice, an answer for a step that is not in flight, a compensation out of order, an
 *   unknown outcome for the pivot, any event after the saga finished)
 */
export function evolve(state: SagaState, event: SagaEvent): SagaState {
  const refuse = (why: string): never => {
    throw new SagaTransitionError(state, event, why);
  };
  if (isFinished(state)) return refuse(`the saga is already ${state.status}`);

  switch (event.type) {
    case 'StepStarted': {
      if (state.status !== 'running') return refuse('only a running saga starts steps');
      if (state.inFlight !== undefined) return refuse(`step ${state.inFlight} is still in flight`);
      const expected = STEPS[state.done.length];
      if (event.step !== expected) return refuse(`the next step is ${expected}`);
      return { ...state, inFlight: event.step };
    }
    case 'StepSucceeded': {
      const { inFlight: _settled, ...rest } = inFlightOnly(state, event.step, refuse);
      const done = [...state.done, event.step];
      return { ...rest, done, status: done.length === STEPS.length ? 'completed' : 'running' };
    }
    case 'StepFailed': {
      const { inFlight: _settled, ...rest } = inFlightOnly(state, event.step, refuse);
      return turnBack(rest, compensationsFor(state.done), event.step, event.reason);
    }
    case 'StepOutcomeUnknown': {
      if (event.step === PIVOT) return refuse('the pivot has no compensation: its outcome must be settled');
      const { inFlight: _settled, ...rest } = inFlightOnly(state, event.step, refuse);
      return turnBack(rest, compensationsFor([...state.done, event.step]), event.step, event.reason);
    }
    case 'CompensationFailed': {
      if (state.status !== 'compensating' || state.toCompensate[0] !== event.step) {
        return refuse(`the compensation due is ${String(state.toCompensate[0])}`);
      }
      return state;
    }
    case 'CompensationSucceeded': {
      if (state.status !== 'compensating' || state.toCompensate[0] !== event.step) {
        return refuse(`the compensation due is ${String(state.toCompensate[0])}`);
      }
      const toCompensate = state.toCompensate.slice(1);
      return {
        ...state,
        toCompensate,
        compensated: [...state.compensated, event.step],
        status: toCompensate.length === 0 ? 'compensated' : 'compensating',
      };
    }
  }
}

/** Folds a step log from the initial state: the state a reader of the log rebuilds. */
export function replay(events: Iterable<SagaEvent>): SagaState {
  let state = initialState();
  for (const event of events) state = evolve(state, event);
  return state;
}

/** An event that cannot happen in the state it was applied to. */
export class SagaTransitionError extends Error {
  constructor(
    readonly state: SagaState,
    readonly event: SagaEvent,
    why: string,
  ) {
    super(`cannot apply ${event.type} (${event.step}) to a ${state.status} saga: ${why}`);
    this.name = 'SagaTransitionError';
  }
}

/** The compensations for `done` steps: newest first, the pivot left out. */
function compensationsFor(done: readonly Step[]): CompensableStep[] {
  return done.filter((s): s is CompensableStep => s !== PIVOT);
}

function inFlightOnly(state: SagaState, step: Step, refuse: (why: string) => never): SagaState {
  if (state.status !== 'running' || state.inFlight !== step) return refuse(`step ${step} is not in flight`);
  return state;
}

function turnBack(state: SagaState, toCompensate: CompensableStep[], step: Step, reason: string): SagaState {
  return {
    ...state,
    toCompensate,
    failure: { step, reason },
    status: toCompensate.length === 0 ? 'compensated' : 'compensating',
  };
}
