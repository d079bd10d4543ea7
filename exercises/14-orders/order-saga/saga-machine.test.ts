/**
 * The saga's state machine, pure: every transition of `saga-machine.ts`, every failing step k, the
 * events that cannot happen, and a property over random runs. No Redis here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CompensableStep,
  evolve,
  initialState,
  isFinished,
  nextAction,
  replay,
  type SagaEvent,
  type SagaState,
  SagaTransitionError,
  STEPS,
  type Step,
} from './saga-machine.js';

const started = (step: Step): SagaEvent => ({ type: 'StepStarted', step });
const succeeded = (step: Step): SagaEvent => ({ type: 'StepSucceeded', step });
const failed = (step: Step): SagaEvent => ({ type: 'StepFailed', step, reason: 'refused' });
const unknown = (step: Step): SagaEvent => ({ type: 'StepOutcomeUnknown', step, reason: 'timed out' });
const undone = (step: CompensableStep): SagaEvent => ({ type: 'CompensationSucceeded', step });
const undoFailed = (step: CompensableStep): SagaEvent => ({
  type: 'CompensationFailed',
  step,
  reason: 'down',
  attempt: 1,
});

/** Steps 1 … k−1 started and succeeded, then step k started. */
function upTo(k: number): SagaEvent[] {
  const events: SagaEvent[] = [];
  for (const step of STEPS.slice(0, k - 1)) events.push(started(step), succeeded(step));
  const step = STEPS[k - 1];
  if (step !== undefined) events.push(started(step));
  return events;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Runs the saga the way an orchestrator does, with `outcome` deciding each call. */
function drive(outcome: (action: { type: string; step: Step }) => SagaEvent, limit = 50): SagaState {
  let state = initialState();
  for (let i = 0; i < limit; i++) {
    const action = nextAction(state);
    if (action.type === 'done') return state;
    state = evolve(state, action.type === 'start' ? started(action.step) : outcome(action));
  }
  throw new Error('the saga did not finish');
}

describe('saga machine: the happy path', () => {
  it('starts running with nothing done, then asks to start reserve', () => {
    const state = initialState();
    expect(state).toMatchObject({ status: 'running', done: [], toCompensate: [], compensated: [] });
    expect(state.inFlight, 'no call is out before the first step starts').toBeUndefined();
    expect(nextAction(state)).toEqual({ type: 'start', step: 'reserve' });
    expect(isFinished(state)).toBe(false);
  });

  it('start, settle, start, settle, …: reserve → charge → ship, then completed', () => {
    let state = initialState();
    const actions = [];
    for (const step of STEPS) {
      actions.push(nextAction(state));
      state = evolve(state, started(step));
      expect(state.inFlight, `after StepStarted(${step}) the step is in flight`).toBe(step);
      actions.push(nextAction(state));
      state = evolve(state, succeeded(step));
      expect(state.inFlight, `after StepSucceeded(${step}) nothing is in flight`).toBeUndefined();
    }
    expect(actions).toEqual([
      { type: 'start', step: 'reserve' },
      { type: 'settle', step: 'reserve' },
      { type: 'start', step: 'charge' },
      { type: 'settle', step: 'charge' },
      { type: 'start', step: 'ship' },
      { type: 'settle', step: 'ship' },
    ]);
    expect(state).toMatchObject({
      status: 'completed',
      done: ['reserve', 'charge', 'ship'],
      compensated: [],
    });
    expect(nextAction(state)).toEqual({ type: 'done', status: 'completed' });
    expect(isFinished(state)).toBe(true);
  });

  it('stays running until the last step succeeds', () => {
    const state = replay([...upTo(2), succeeded('charge')]);
    expect(state.status).toBe('running');
    expect(state.done).toEqual(['reserve', 'charge']);
    expect(nextAction(state)).toEqual({ type: 'start', step: 'ship' });
  });
});

describe('saga machine: a step refused (StepFailed)', () => {
  it.each([
    [1, 'reserve', []],
    [2, 'charge', ['reserve']],
    [3, 'ship', ['charge', 'reserve']],
  ] as const)(
    'step %i (%s) refused: compensate %j, newest first, never the refused step',
    (k, step, expected) => {
      let state = evolve(replay(upTo(k)), failed(step));
      expect(
        state.toCompensate,
        `a refused ${step} did not happen: only the steps before it are undone`,
      ).toEqual(expected);
      expect(state.failure).toEqual({ step, reason: 'refused' });
      expect(state.inFlight).toBeUndefined();
      expect(state.status).toBe(expected.length === 0 ? 'compensated' : 'compensating');
      const order: Step[] = [];
      for (let action = nextAction(state); action.type === 'compensate'; action = nextAction(state)) {
        order.push(action.step);
        state = evolve(state, undone(action.step));
      }
      expect(order, 'compensations run in reverse order, once each').toEqual(expected);
      expect(state.status).toBe('compensated');
      expect(state.compensated).toEqual(expected);
      expect(nextAction(state)).toEqual({ type: 'done', status: 'compensated' });
      expect(isFinished(state), 'a compensated saga is finished').toBe(true);
    },
  );
});

describe('saga machine: an outcome unknown (StepOutcomeUnknown)', () => {
  it.each([
    [1, 'reserve', ['reserve']],
    [2, 'charge', ['charge', 'reserve']],
  ] as const)('step %i (%s) may have happened: compensate %j, the step itself first', (k, step, expected) => {
    const state = evolve(replay(upTo(k)), unknown(step));
    expect(state.toCompensate).toEqual(expected);
    expect(state.status).toBe('compensating');
    expect(state.failure).toEqual({ step, reason: 'timed out' });
    expect(nextAction(state)).toEqual({ type: 'compensate', step });
  });

  it('refuses an unknown outcome for the pivot (ship has no compensation)', () => {
    expect(() => evolve(replay(upTo(3)), unknown('ship'))).toThrow(SagaTransitionError);
  });
});

describe('saga machine: compensations', () => {
  it('a failed compensation changes nothing: the same compensation is due again', () => {
    const state = evolve(replay([...upTo(2), succeeded('charge'), started('ship')]), failed('ship'));
    const after = evolve(state, undoFailed('charge'));
    expect(after, 'CompensationFailed must not skip the compensation').toEqual(state);
    expect(nextAction(after)).toEqual({ type: 'compensate', step: 'charge' });
  });

  it('refuses a compensation out of order, or one that is not due', () => {
    const state = evolve(replay([...upTo(2), succeeded('charge'), started('ship')]), failed('ship'));
    expect(() => evolve(state, undone('reserve')), 'charge is undone before reserve').toThrow(
      SagaTransitionError,
    );
    expect(() => evolve(state, undoFailed('reserve'))).toThrow(SagaTransitionError);
    expect(() => evolve(replay(upTo(2)), undone('reserve')), 'a running saga compensates nothing').toThrow(
      SagaTransitionError,
    );
  });
});

describe('saga machine: events that cannot happen', () => {
  const cases: [string, SagaEvent[], SagaEvent][] = [
    ['a step started out of order', [], started('charge')],
    ['a step started twice', [started('reserve')], started('reserve')],
    ['the next step started while one is in flight', [started('reserve')], started('charge')],
    ['an answer for a step not in flight', [], succeeded('reserve')],
    ['an answer for another step than the one in flight', [started('reserve')], succeeded('charge')],
    ['a refusal for a step not in flight', [started('reserve'), succeeded('reserve')], failed('reserve')],
    ['an unknown outcome for a step not in flight', [], unknown('reserve')],
    ['a step started while compensating', [...upTo(2), failed('charge')], started('charge')],
    ['an event after the saga completed', [...upTo(3), succeeded('ship')], started('reserve')],
    ['an event after the saga was compensated', [started('reserve'), failed('reserve')], started('reserve')],
  ];
  it.each(cases)('throws a SagaTransitionError for %s', (_what, before, event) => {
    const state = replay(before);
    expect(() => evolve(state, event)).toThrow(SagaTransitionError);
  });

  it('the error names the event and the status', () => {
    try {
      evolve(initialState(), succeeded('ship'));
      expect.unreachable('evolve must throw');
    } catch (error) {
      expect(error).toBeInstanceOf(SagaTransitionError);
      expect((error as Error).message).toContain('StepSucceeded');
      expect((error as Error).message).toContain('running');
    }
  });
});

describe('saga machine: purity', () => {
  it('evolve returns a new state and never changes the one it was given', () => {
    const events = [...upTo(2), succeeded('charge'), started('ship'), failed('ship'), undone('charge')];
    let state = deepFreeze(initialState());
    for (const event of events) {
      const copy = structuredClone(state);
      const next = evolve(state, event);
      expect(state, `${event.type} must not change its input`).toEqual(copy);
      state = deepFreeze(next);
    }
    expect(state).toEqual(replay(events));
    expect(JSON.parse(JSON.stringify(state)), 'a state survives JSON').toEqual(state);
  });
});

describe('saga machine: any run', () => {
  it('ends completed with every step done, or compensated with every done step undone once, newest first', () => {
    const outcome = fc.constantFrom<'ok' | 'refuse' | 'unknown'>('ok', 'refuse', 'unknown');
    fc.assert(
      fc.property(fc.array(outcome, { minLength: 3, maxLength: 3 }), fc.nat(3), (outcomes, undoFailures) => {
        let failures = undoFailures;
        const final = drive((action) => {
          if (action.type === 'compensate') {
            if (failures-- > 0) return undoFailed(action.step as CompensableStep);
            return undone(action.step as CompensableStep);
          }
          const o = outcomes[STEPS.indexOf(action.step)];
          if (o === 'refuse') return failed(action.step);
          if (o === 'unknown' && action.step !== 'ship') return unknown(action.step);
          return succeeded(action.step);
        });
        const firstBad = STEPS.findIndex(
          (s, i) => outcomes[i] === 'refuse' || (outcomes[i] === 'unknown' && s !== 'ship'),
        );
        if (firstBad === -1) {
          expect(final.status).toBe('completed');
          expect(final.done).toEqual(STEPS);
          return;
        }
        const happened = STEPS.slice(0, firstBad + (outcomes[firstBad] === 'unknown' ? 1 : 0));
        expect(final.status).toBe('compensated');
        expect(final.compensated).toEqual([...happened].reverse());
        expect(final.toCompensate).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
