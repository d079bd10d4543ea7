import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deferred, ManualClock } from '../../../src/testing/index.js';
import {
  BreakerOpenError,
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type StateChange,
} from './circuit-breaker.js';

const T0 = 1_700_000_000_000;

/** A breaker on a manual clock: 50% over at least 4 calls in 10 s; open for 5 s; one probe. */
function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new ManualClock(T0);
  const breaker = new CircuitBreaker({
    failureRateThreshold: 0.5,
    minimumRequests: 4,
    windowMs: 10_000,
    buckets: 10,
    openMs: 5_000,
    halfOpenProbes: 1,
    clock,
    ...options,
  });
  const events: StateChange[] = [];
  breaker.onStateChange((e) => events.push(e));
  return { clock, breaker, events };
}

class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

const boom = () => new Error('dependency failed');
/** One call that succeeds; resolves with its value. */
const succeed = (b: CircuitBreaker) => b.execute(async () => 'ok');
/** One call that fails; resolves with the error it rejected with. */
const fail = (b: CircuitBreaker, error: unknown = boom()) =>
  b
    .execute(async () => Promise.reject(error))
    .then(
      () => {
        throw new Error('expected the call to reject');
      },
      (e: unknown) => e,
    );

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * How `p` has settled once every pending callback has run: for calls that must settle "at once"
 * (an abort), so a wrong implementation fails the test instead of hanging it.
 */
async function settledNow(p: Promise<unknown>) {
  let result:
    | { status: 'pending' }
    | { status: 'fulfilled'; value: unknown }
    | { status: 'rejected'; reason: unknown } = { status: 'pending' };
  p.then(
    (value) => {
      result = { status: 'fulfilled', value };
    },
    (reason: unknown) => {
      result = { status: 'rejected', reason };
    },
  );
  await settle();
  return result;
}

/** Opens a breaker made by setup() with the default options: four failures. */
async function trip(b: CircuitBreaker) {
  for (let i = 0; i < 4; i++) await fail(b);
  expect(b.state, 'four failures out of four calls open the breaker').toBe('open');
}

/** Trips it and waits out the cool-down (read of `state` moves it to half-open). */
async function toHalfOpen(b: CircuitBreaker, clock: ManualClock, openMs = 5_000) {
  await trip(b);
  clock.advance(openMs);
  expect(b.state, 'after openMs the breaker is half-open').toBe('half-open');
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('CircuitBreaker: options', () => {
  const valid: CircuitBreakerOptions = {
    failureRateThreshold: 0.5,
    minimumRequests: 4,
    windowMs: 10_000,
    buckets: 10,
    openMs: 5_000,
    halfOpenProbes: 1,
    clock: new ManualClock(),
  };
  const refused = (name: keyof CircuitBreakerOptions, values: unknown[]) => {
    for (const value of values) {
      const make = () => new CircuitBreaker({ ...valid, [name]: value });
      expect(make, `${name}: ${String(value)} must be refused with a RangeError`).toThrow(RangeError);
      expect(make, `the error names ${name} and the value`).toThrow(new RegExp(`${name}.*${String(value)}`));
    }
  };

  it('failureRateThreshold must be in (0, 1]', () => {
    refused('failureRateThreshold', [0, -0.5, 1.01, Number.NaN, Number.POSITIVE_INFINITY]);
    for (const ok of [1, 0.001]) {
      expect(new CircuitBreaker({ ...valid, failureRateThreshold: ok }).state).toBe('closed');
    }
  });

  it('minimumRequests and halfOpenProbes must be positive integers', () => {
    refused('minimumRequests', [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]);
    refused('halfOpenProbes', [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]);
    expect(new CircuitBreaker({ ...valid, minimumRequests: 1, halfOpenProbes: 1 }).state).toBe('closed');
  });

  it('openMs must be a positive finite number', () => {
    refused('openMs', [0, -5, Number.NaN, Number.POSITIVE_INFINITY]);
    expect(new CircuitBreaker({ ...valid, openMs: 0.5 }).state).toBe('closed');
  });

  it('windowMs and buckets are checked as the rolling window checks them', () => {
    refused('windowMs', [0, 1000.5, Number.NaN]);
    refused('buckets', [0, 2.5]);
    expect(() => new CircuitBreaker({ ...valid, windowMs: 1000, buckets: 3 })).toThrow(RangeError);
  });
});

describe('CircuitBreaker: closed', () => {
  it('starts closed and passes values, errors and a live signal through', async () => {
    const { breaker, events } = setup();
    expect(breaker.state).toBe('closed');
    let seen: AbortSignal | undefined;
    await expect(
      breaker.execute(async (signal) => {
        seen = signal;
        return 42;
      }),
    ).resolves.toBe(42);
    expect(seen, 'the work receives an AbortSignal even when the caller passes none').toBeInstanceOf(
      AbortSignal,
    );
    expect(seen?.aborted).toBe(false);
    const error = new HttpError(503);
    expect(await fail(breaker, error), 'the work’s own error object comes back, unchanged').toBe(error);
    expect(breaker.state).toBe('closed');
    expect(events, 'no transition, no event').toEqual([]);
  });

  it('does not open below minimumRequests calls, however many of them fail', async () => {
    const { breaker, events } = setup({ minimumRequests: 4 });
    for (let i = 0; i < 3; i++) await fail(breaker);
    expect(breaker.state, '3 failures out of 3 calls: below the minimum of 4, stays closed').toBe('closed');
    await fail(breaker);
    expect(breaker.state, 'the fourth failure reaches the minimum at 100% failures').toBe('open');
    expect(events).toEqual([{ from: 'closed', to: 'open', at: T0 }]);
  });

  it('opens at exactly the threshold rate, not only above it', async () => {
    const { breaker } = setup({ minimumRequests: 10, failureRateThreshold: 0.5 });
    for (let i = 0; i < 5; i++) await succeed(breaker);
    for (let i = 0; i < 4; i++) await fail(breaker);
    expect(breaker.state, '4 of 9 calls failed: below the minimum of 10').toBe('closed');
    await fail(breaker);
    expect(breaker.state, '5 of 10 calls failed = 0.5 = the threshold: open').toBe('open');
  });

  it('counts the minimum volume in calls, successes included, not in failures', async () => {
    const { breaker } = setup({ minimumRequests: 10, failureRateThreshold: 0.5 });
    for (let i = 0; i < 4; i++) await succeed(breaker);
    for (let i = 0; i < 5; i++) await fail(breaker);
    expect(breaker.state, '5 of 9 failed: below the minimum').toBe('closed');
    await fail(breaker);
    expect(breaker.state, '6 of 10 calls failed, and 10 calls is the minimum: open').toBe('open');
  });

  it('decides after a failure: a success never opens the breaker', async () => {
    const { breaker } = setup({ minimumRequests: 4, failureRateThreshold: 0.5 });
    await fail(breaker);
    await fail(breaker);
    await succeed(breaker);
    await succeed(breaker);
    expect(
      breaker.state,
      '2 of 4 failed, but the last call succeeded: the dependency answers, stay closed',
    ).toBe('closed');
    await fail(breaker);
    expect(breaker.state, '3 of 5 failed, and it was a failure that got there: open').toBe('open');
  });

  it('opens exactly when failures / total reaches the threshold (random histories)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0.1, 0.25, 0.3, 0.5, 0.6, 0.7, 0.9, 1),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        async (threshold, minimumRequests, failures) => {
          const { breaker } = setup({ failureRateThreshold: threshold, minimumRequests });
          let total = 0;
          let failed = 0;
          let open = false;
          for (const failure of failures) {
            if (open) {
              expect(await rejection(succeed(breaker))).toBeInstanceOf(BreakerOpenError);
              continue;
            }
            total++;
            if (failure) failed++;
            await (failure ? fail(breaker) : succeed(breaker));
            open = failure && total >= minimumRequests && failed / total >= threshold;
            expect(
              breaker.state,
              `${failed} of ${total} failed, threshold ${threshold}, minimum ${minimumRequests}`,
            ).toBe(open ? 'open' : 'closed');
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('forgets failures that have left the rolling window', async () => {
    const { breaker, clock } = setup({ minimumRequests: 4, windowMs: 10_000, buckets: 10 });
    for (let i = 0; i < 3; i++) await fail(breaker);
    clock.advance(10_000);
    await fail(breaker);
    expect(breaker.state, 'the three old failures are 10 s old: 1 of 1 call in the window').toBe('closed');
    clock.advance(9_999);
    for (let i = 0; i < 3; i++) await fail(breaker);
    expect(breaker.state, '4 failures in the last 10 s: open').toBe('open');
  });

  it('counts an error that isFailure rejects as a success (a 404 is an answer)', async () => {
    const seen: unknown[] = [];
    const { breaker } = setup({
      minimumRequests: 4,
      failureRateThreshold: 0.6,
      isFailure: (e) => {
        seen.push(e);
        return e instanceof HttpError && e.status >= 500;
      },
    });
    const notFound = new HttpError(404);
    for (let i = 0; i < 3; i++) {
      expect(await fail(breaker, notFound), 'the 404 still rejects the call, unchanged').toBe(notFound);
    }
    expect(seen, 'isFailure receives the error').toEqual([notFound, notFound, notFound]);
    for (let i = 0; i < 4; i++) await fail(breaker, new HttpError(500));
    expect(breaker.state, '4 failures in 7 calls = 57%, under 60%: the 404s count as successes').toBe(
      'closed',
    );
    await fail(breaker, new HttpError(500));
    expect(breaker.state, '5 of 8 = 62.5%: open').toBe('open');
  });
});

describe('CircuitBreaker: open', () => {
  it('rejects at once with BreakerOpenError, without calling the work', async () => {
    const { breaker, clock } = setup();
    await trip(breaker);
    clock.advance(1_200);
    const work = vi.fn(async () => 'called');
    const error = await rejection(breaker.execute(work));
    expect(work, 'an open breaker must not call the dependency').not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'BREAKER_OPEN', name: 'BreakerOpenError', state: 'open' });
    expect((error as BreakerOpenError).retryAfterMs, 'opened 1200 ms ago, open for 5000: 3800 ms to go').toBe(
      3_800,
    );
  });

  it('stays open until exactly openMs have passed, then is half-open without any timer', async () => {
    const { breaker, clock, events } = setup({ openMs: 5_000 });
    await trip(breaker);
    clock.advance(4_999);
    expect(breaker.state, '1 ms before the end of the cool-down').toBe('open');
    const error = await rejection(succeed(breaker));
    expect((error as BreakerOpenError).retryAfterMs).toBe(1);
    clock.advance(1);
    expect(breaker.state, 'openMs after opening: half-open').toBe('half-open');
    expect(events.map((e) => e.to)).toEqual(['open', 'half-open']);
  });

  it('moves to half-open when the state is read, and says so at that moment', async () => {
    const { breaker, clock, events } = setup();
    await trip(breaker);
    clock.advance(7_000);
    expect(events, 'nothing happens while nobody asks').toHaveLength(1);
    expect(breaker.state).toBe('half-open');
    expect(events[1], 'reading state made the transition, stamped with the time of the read').toEqual({
      from: 'open',
      to: 'half-open',
      at: T0 + 7_000,
    });
    clock.advance(50);
    await succeed(breaker);
    expect(events.slice(1)).toEqual([
      { from: 'open', to: 'half-open', at: T0 + 7_000 },
      { from: 'half-open', to: 'closed', at: T0 + 7_050 },
    ]);
  });

  it('moves to half-open on the first call after the cool-down, which is the probe', async () => {
    const { breaker, clock, events } = setup();
    await trip(breaker);
    clock.advance(6_000);
    const work = vi.fn(async () => 'probe');
    await expect(breaker.execute(work)).resolves.toBe('probe');
    expect(work, 'the first call after the cool-down runs as the probe').toHaveBeenCalledTimes(1);
    expect(events.slice(1)).toEqual([
      { from: 'open', to: 'half-open', at: T0 + 6_000 },
      { from: 'half-open', to: 'closed', at: T0 + 6_000 },
    ]);
  });
});

describe('CircuitBreaker: half-open', () => {
  it('admits exactly halfOpenProbes of 100 concurrent callers and rejects the rest at once', async () => {
    const { breaker, clock } = setup({ halfOpenProbes: 3 });
    await toHalfOpen(breaker, clock);
    const pending = Array.from({ length: 3 }, () => deferred<string>());
    let started = 0;
    const outcomes: ('ok' | 'rejected' | 'pending')[] = Array(100).fill('pending');
    const calls = Array.from({ length: 100 }, (_, i) =>
      breaker
        .execute(() => {
          const d = pending[started++];
          return d ? d.promise : Promise.resolve('one probe too many');
        })
        .then(
          () => {
            outcomes[i] = 'ok';
          },
          (e: unknown) => {
            outcomes[i] = 'rejected';
            return e;
          },
        ),
    );
    await settle();
    expect(started, '100 callers at once, 3 probe places: exactly 3 reach the dependency').toBe(3);
    expect(
      outcomes.filter((o) => o === 'rejected'),
      'the other 97 are rejected at once, while the probes still run',
    ).toHaveLength(97);
    const errors = (await Promise.all(
      calls.filter((_, i) => outcomes[i] === 'rejected'),
    )) as BreakerOpenError[];
    for (const e of errors) {
      expect(e).toBeInstanceOf(BreakerOpenError);
      expect(e).toMatchObject({ state: 'half-open', retryAfterMs: 0, code: 'BREAKER_OPEN' });
    }
    for (const d of pending) d.resolve('fine');
    await Promise.all(calls);
    expect(breaker.state, 'all three probes succeeded: closed').toBe('closed');
  });

  it('admits halfOpenProbes calls in all, not at a time: a finished probe does not free a place', async () => {
    const { breaker, clock, events } = setup({ halfOpenProbes: 3 });
    await toHalfOpen(breaker, clock);
    const probes = [deferred<string>(), deferred<string>(), deferred<string>()];
    const calls = probes.map((d) => breaker.execute(() => d.promise));
    probes[0]!.resolve('1');
    await calls[0];
    expect(breaker.state, 'one probe of three succeeded: not closed yet').toBe('half-open');
    const work = vi.fn(async () => 'fourth');
    expect(
      await rejection(breaker.execute(work)),
      'three probes were admitted: a fourth is refused',
    ).toBeInstanceOf(BreakerOpenError);
    expect(work).not.toHaveBeenCalled();
    probes[1]!.resolve('2');
    await calls[1];
    expect(breaker.state, 'two of three: still half-open').toBe('half-open');
    probes[2]!.resolve('3');
    await calls[2];
    expect(breaker.state, 'all three succeeded: closed').toBe('closed');
    expect(events.at(-1)).toEqual({ from: 'half-open', to: 'closed', at: T0 + 5_000 });
    await expect(breaker.execute(work)).resolves.toBe('fourth');
  });

  it('re-opens on the first failed probe and restarts the cool-down at that moment', async () => {
    const { breaker, clock, events } = setup({ halfOpenProbes: 2, openMs: 5_000 });
    await toHalfOpen(breaker, clock);
    const probes = [deferred<string>(), deferred<string>()];
    const calls = probes.map((d) => breaker.execute(() => d.promise).catch(() => 'failed'));
    probes[0]!.resolve('fine');
    clock.advance(700);
    probes[1]!.reject(boom());
    await Promise.all(calls);
    expect(breaker.state, 'one probe failed: open again').toBe('open');
    expect(events.at(-1)).toEqual({ from: 'half-open', to: 'open', at: T0 + 5_700 });
    const error = (await rejection(succeed(breaker))) as BreakerOpenError;
    expect(error.retryAfterMs, 'a fresh cool-down of openMs from the failed probe').toBe(5_000);
    clock.advance(4_999);
    expect(breaker.state, 'the new cool-down is not over 1 ms early').toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
  });

  it('starts every half-open period afresh: successes from a failed one do not carry over', async () => {
    const { breaker, clock } = setup({ halfOpenProbes: 2 });
    await toHalfOpen(breaker, clock);
    await succeed(breaker);
    await fail(breaker);
    expect(breaker.state, 'one probe of two failed: open again').toBe('open');
    clock.advance(5_000);
    await succeed(breaker);
    expect(breaker.state, 'one success in this half-open period is not two').toBe('half-open');
    await succeed(breaker);
    expect(breaker.state, 'two successes in this period: closed').toBe('closed');
  });

  it('ignores the other probes once one has failed', async () => {
    const { breaker, clock } = setup({ halfOpenProbes: 2 });
    await toHalfOpen(breaker, clock);
    const late = deferred<string>();
    const lateCall = breaker.execute(() => late.promise);
    await fail(breaker);
    expect(breaker.state).toBe('open');
    late.resolve('too late');
    await expect(lateCall, 'the late probe’s caller still gets its value').resolves.toBe('too late');
    expect(breaker.state, 'a probe that succeeds after another failed does not close the breaker').toBe(
      'open',
    );
  });

  it('re-opens on one failed probe whatever minimumRequests says', async () => {
    const { breaker: big, clock: bigClock } = setup({ minimumRequests: 50 });
    for (let i = 0; i < 50; i++) await fail(big);
    bigClock.advance(5_000);
    expect(big.state).toBe('half-open');
    await fail(big);
    expect(big.state, 'minimumRequests (50) does not apply to probes: one failure re-opens').toBe('open');
  });

  it('closes with an empty window: the failures that opened it are not held against it', async () => {
    // openMs (1 s) is shorter than the window (10 s): the old failures would still be in it.
    const { breaker, clock } = setup({ openMs: 1_000, minimumRequests: 4 });
    await trip(breaker);
    clock.advance(1_000);
    await succeed(breaker);
    expect(breaker.state).toBe('closed');
    await fail(breaker);
    expect(breaker.state, 'one failure after recovery: 1 of 1 call, below the minimum').toBe('closed');
    await succeed(breaker);
    await fail(breaker);
    await fail(breaker);
    expect(breaker.state, 'but the window counts again: 3 of 4 failed').toBe('open');
  });

  it('counts a probe that gets an error isFailure rejects as a successful probe', async () => {
    const { breaker, clock } = setup({ isFailure: (e) => !(e instanceof HttpError && e.status === 404) });
    await toHalfOpen(breaker, clock);
    await fail(breaker, new HttpError(404));
    expect(breaker.state, 'the dependency answered (404): the probe succeeded').toBe('closed');
  });
});

describe('CircuitBreaker: calls from an earlier state never move it', () => {
  it('a success that arrives while open does not close it', async () => {
    const { breaker, events } = setup();
    const slow = deferred<string>();
    const slowCall = breaker.execute(() => slow.promise);
    await trip(breaker);
    slow.resolve('finally');
    await expect(slowCall).resolves.toBe('finally');
    expect(breaker.state, 'a call admitted while closed succeeded late: the breaker stays open').toBe('open');
    expect(events.map((e) => e.to)).toEqual(['open']);
  });

  it('a late failure from the closed period does not re-open a half-open breaker', async () => {
    const { breaker, clock } = setup();
    const slow = deferred<string>();
    const slowCall = rejection(breaker.execute(() => slow.promise));
    await toHalfOpen(breaker, clock);
    slow.reject(boom());
    await slowCall;
    expect(breaker.state, 'that failure belongs to the closed period: still half-open').toBe('half-open');
    await expect(succeed(breaker), 'and the probe place is still free').resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('a late success from the closed period is not a probe', async () => {
    const { breaker, clock } = setup();
    const slow = deferred<string>();
    const slowCall = breaker.execute(() => slow.promise);
    await toHalfOpen(breaker, clock);
    slow.resolve('late');
    await slowCall;
    expect(breaker.state, 'no probe has run: still half-open').toBe('half-open');
  });

  it('a probe that settles after a forced close() is not counted in the closed window', async () => {
    const { breaker, clock } = setup({ minimumRequests: 1 });
    await toHalfOpen(breaker, clock);
    const probe = deferred<string>();
    const probeCall = rejection(breaker.execute(() => probe.promise));
    breaker.close();
    probe.reject(boom());
    await probeCall;
    expect(
      breaker.state,
      'the probe failed after close(): it belonged to half-open, not to the new window',
    ).toBe('closed');
  });
});

describe('CircuitBreaker: open() and close()', () => {
  it('open() forces it open; calling it again does not restart the cool-down (opossum #385)', async () => {
    const { breaker, clock, events } = setup({ openMs: 5_000 });
    breaker.open();
    expect(breaker.state).toBe('open');
    expect(((await rejection(succeed(breaker))) as BreakerOpenError).retryAfterMs).toBe(5_000);
    clock.advance(3_000);
    breaker.open();
    breaker.open();
    expect(((await rejection(succeed(breaker))) as BreakerOpenError).retryAfterMs, 'still 2 s to go').toBe(
      2_000,
    );
    clock.advance(2_000);
    expect(breaker.state, 'the first cool-down ended on time').toBe('half-open');
    expect(events).toEqual([
      { from: 'closed', to: 'open', at: T0 },
      { from: 'open', to: 'half-open', at: T0 + 5_000 },
    ]);
  });

  it('open() after the cool-down is over stops the probes: a new cool-down starts', async () => {
    const { breaker, clock, events } = setup();
    breaker.open();
    clock.advance(6_000);
    breaker.open();
    expect(events).toEqual([
      { from: 'closed', to: 'open', at: T0 },
      { from: 'open', to: 'half-open', at: T0 + 6_000 },
      { from: 'half-open', to: 'open', at: T0 + 6_000 },
    ]);
    expect(breaker.state).toBe('open');
    clock.advance(4_999);
    expect(breaker.state).toBe('open');
  });

  it('open() while probes run ignores their outcomes', async () => {
    const { breaker, clock } = setup();
    await toHalfOpen(breaker, clock);
    const probe = deferred<string>();
    const call = breaker.execute(() => probe.promise);
    breaker.open();
    probe.resolve('fine');
    await call;
    expect(breaker.state, 'the probe belonged to half-open; the forced open stands').toBe('open');
  });

  it('close() forces it closed from open and from half-open, with an empty window', async () => {
    const { breaker, clock, events } = setup();
    await trip(breaker);
    breaker.close();
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 3; i++) await fail(breaker);
    expect(breaker.state, 'three failures after close(): below the minimum again').toBe('closed');
    await fail(breaker);
    clock.advance(5_000);
    expect(breaker.state).toBe('half-open');
    breaker.close();
    expect(events.map((e) => `${e.from}>${e.to}`)).toEqual([
      'closed>open',
      'open>closed',
      'closed>open',
      'open>half-open',
      'half-open>closed',
    ]);
    await expect(succeed(breaker)).resolves.toBe('ok');
  });

  it('close() after the cool-down first makes the due move to half-open, then closes', () => {
    const { breaker, clock, events } = setup();
    breaker.open();
    clock.advance(5_000);
    breaker.close();
    expect(events.map((e) => `${e.from}>${e.to}@${e.at - T0}`)).toEqual([
      'closed>open@0',
      'open>half-open@5000',
      'half-open>closed@5000',
    ]);
  });

  it('close() on a closed breaker empties the window and emits nothing', async () => {
    const { breaker, events } = setup({ minimumRequests: 4 });
    for (let i = 0; i < 3; i++) await fail(breaker);
    breaker.close();
    expect(events, 'closed to closed is not a transition').toEqual([]);
    await fail(breaker);
    expect(breaker.state, 'the three failures before close() are forgotten').toBe('closed');
    const slow = deferred<string>();
    const slowCall = rejection(breaker.execute(() => slow.promise));
    breaker.close();
    for (let i = 0; i < 3; i++) await fail(breaker);
    slow.reject(boom());
    await slowCall;
    expect(breaker.state, 'a call in flight across close() on a closed breaker still counts: 4 of 4').toBe(
      'open',
    );
  });
});

describe('CircuitBreaker: onStateChange', () => {
  it('tells every listener about every transition, in order, until it unsubscribes', async () => {
    const { breaker, clock } = setup();
    const a: string[] = [];
    const b: string[] = [];
    const offA = breaker.onStateChange((e) => a.push(`${e.from}>${e.to}@${e.at - T0}`));
    const offB = breaker.onStateChange((e) => b.push(`${e.from}>${e.to}`));
    await trip(breaker);
    clock.advance(5_000);
    await fail(breaker);
    offA();
    offA();
    clock.advance(5_000);
    await succeed(breaker);
    expect(a).toEqual(['closed>open@0', 'open>half-open@5000', 'half-open>open@5000']);
    expect(b, 'unsubscribing one listener (twice) leaves the other').toEqual([
      'closed>open',
      'open>half-open',
      'half-open>open',
      'open>half-open',
      'half-open>closed',
    ]);
    offB();
    breaker.open();
    expect(b).toHaveLength(5);
  });

  it('emits nothing for calls that do not change the state', async () => {
    const { breaker, clock, events } = setup();
    for (let i = 0; i < 10; i++) await succeed(breaker);
    breaker.close();
    expect(events, 'successes and close() on a closed breaker: nothing to report').toEqual([]);
    await trip(breaker);
    for (let i = 0; i < 5; i++) await rejection(succeed(breaker));
    breaker.open();
    clock.advance(1_000);
    expect(breaker.state).toBe('open');
    expect(
      events.map((e) => e.to),
      'one transition so far',
    ).toEqual(['open']);
  });

  it('emits the transition synchronously, before the call that caused it settles', async () => {
    const { breaker, events } = setup({ minimumRequests: 1 });
    const seenWhenTheCallSettled = await breaker
      .execute(async () => Promise.reject(boom()))
      .then(
        () => 'resolved',
        () => [...events],
      );
    expect(seenWhenTheCallSettled, 'the caller that tripped it can already see the event').toEqual([
      { from: 'closed', to: 'open', at: T0 },
    ]);
    breaker.close();
    expect(events, 'a forced transition is reported before close() returns').toHaveLength(2);
  });
});

describe('CircuitBreaker: aborts', () => {
  it('rejects with the reason of an already-aborted signal without calling the work', async () => {
    const { breaker } = setup();
    const reason = new Error('caller gave up');
    const work = vi.fn(async () => 'ran');
    expect(await rejection(breaker.execute(work, AbortSignal.abort(reason)))).toBe(reason);
    expect(work, 'an aborted call must not run').not.toHaveBeenCalled();
  });

  it('does not let an already-aborted call take a probe place', async () => {
    const { breaker, clock } = setup({ halfOpenProbes: 1 });
    await toHalfOpen(breaker, clock);
    const reason = new Error('deadline already passed');
    const work = vi.fn(async () => 'ran');
    for (let i = 0; i < 3; i++) {
      expect(await rejection(breaker.execute(work, AbortSignal.abort(reason)))).toBe(reason);
    }
    expect(work, 'aborted calls never run').not.toHaveBeenCalled();
    await expect(succeed(breaker), 'the probe place is still free for a live caller').resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('rejects with the reason as soon as the caller aborts, even if the work ignores its signal', async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    let workSignal: AbortSignal | undefined;
    const call = breaker.execute((signal) => {
      workSignal = signal;
      return new Promise<string>(() => {}); // never settles, never looks at the signal
    }, controller.signal);
    const reason = new Error('deadline passed');
    controller.abort(reason);
    expect(await settledNow(call), 'the caller gets the abort reason at once').toEqual({
      status: 'rejected',
      reason,
    });
    expect(workSignal?.aborted, 'the work’s signal aborts with the caller’s').toBe(true);
  });

  it('does not count aborted calls as failures', async () => {
    const { breaker } = setup({ minimumRequests: 2 });
    for (let i = 0; i < 10; i++) {
      const controller = new AbortController();
      const call = rejection(
        breaker.execute(
          (signal) =>
            new Promise<string>((_, reject) => {
              signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
            }),
          controller.signal,
        ),
      );
      controller.abort(new Error('client went away'));
      await settledNow(call);
    }
    expect(breaker.state, '10 callers gave up: that says nothing about the dependency').toBe('closed');
    await succeed(breaker);
    await fail(breaker);
    expect(breaker.state, '1 of 2 counted calls failed: 50%, open').toBe('open');
  });

  it('gives an aborted probe’s place to the next caller (opossum #276: stuck in half-open)', async () => {
    const { breaker, clock } = setup({ halfOpenProbes: 1 });
    await toHalfOpen(breaker, clock);
    const controller = new AbortController();
    const probe = breaker.execute(() => new Promise<string>(() => {}), controller.signal);
    controller.abort(new Error('gave up'));
    expect((await settledNow(probe)).status, 'the aborted probe rejects at once').toBe('rejected');
    const work = vi.fn(async () => 'second probe');
    await expect(breaker.execute(work), 'the place is free again').resolves.toBe('second probe');
    expect(breaker.state).toBe('closed');
  });

  it('frees a probe place only for an aborted probe, not for an aborted call from the closed period', async () => {
    const { breaker, clock } = setup({ halfOpenProbes: 1 });
    const controller = new AbortController();
    const old = breaker.execute(() => new Promise<string>(() => {}), controller.signal);
    await toHalfOpen(breaker, clock);
    const probe = deferred<string>();
    const probeCall = breaker.execute(() => probe.promise);
    controller.abort(new Error('the old caller gives up'));
    expect((await settledNow(old)).status).toBe('rejected');
    const work = vi.fn(async () => 'second probe');
    expect(
      await rejection(breaker.execute(work)),
      'the one probe place is taken by the running probe: the old call had no place to give back',
    ).toBeInstanceOf(BreakerOpenError);
    expect(work).not.toHaveBeenCalled();
    probe.resolve('fine');
    await probeCall;
    expect(breaker.state).toBe('closed');
  });

  it('leaves no abort listener on the caller’s signal after calls settle (cockatiel #81)', async () => {
    const { breaker, clock } = setup({ failureRateThreshold: 1 }); // never trips: 2 of 3 calls fail
    const signal = new AbortController().signal;
    const before = getEventListeners(signal, 'abort').length;
    for (let i = 0; i < 500; i++) {
      await breaker.execute(async () => i, signal);
      await breaker.execute(async () => Promise.reject(boom()), signal).catch(() => {});
      await breaker
        .execute(() => {
          throw boom();
        }, signal)
        .catch(() => {});
    }
    expect(getEventListeners(signal, 'abort').length, '1500 calls on one signal leave no listener').toBe(
      before,
    );
    breaker.open();
    clock.advance(1);
    await breaker.execute(async () => 1, signal).catch(() => {});
    expect(getEventListeners(signal, 'abort').length, 'nor does a rejected call').toBe(before);
  });
});

describe('CircuitBreaker: work that throws synchronously', () => {
  it('returns a rejected promise and counts the failure', async () => {
    const { breaker } = setup({ minimumRequests: 2 });
    const error = boom();
    const throwing = () => {
      throw error;
    };
    for (let i = 0; i < 2; i++) {
      let call: Promise<unknown> | undefined;
      expect(() => {
        call = breaker.execute(throwing);
      }, 'execute never throws synchronously').not.toThrow();
      expect(await rejection(call as Promise<unknown>)).toBe(error);
    }
    expect(breaker.state, 'two synchronous throws out of two calls: open').toBe('open');
  });

  it('a probe that throws synchronously re-opens the breaker (and does not keep its place)', async () => {
    const { breaker, clock } = setup();
    await toHalfOpen(breaker, clock);
    await rejection(
      breaker.execute(() => {
        throw boom();
      }),
    );
    expect(breaker.state).toBe('open');
  });
});

describe('CircuitBreaker: wrap', () => {
  it('wraps an async function: same arguments, same result, same error', async () => {
    const { breaker } = setup();
    const fn = vi.fn(async (a: number, b: string, c: { n: number }) => `${a}-${b}-${c.n}`);
    const wrapped = breaker.wrap(fn);
    await expect(wrapped(1, 'x', { n: 3 })).resolves.toBe('1-x-3');
    expect(fn).toHaveBeenCalledWith(1, 'x', { n: 3 });
    const error = new HttpError(502);
    const failing = breaker.wrap(async (_id: string) => Promise.reject(error));
    expect(await rejection(failing('a'))).toBe(error);
  });

  it('counts the wrapped function’s outcomes and does not call it while open', async () => {
    const { breaker, clock } = setup({ minimumRequests: 2 });
    const calls: string[] = [];
    const get = breaker.wrap(async (id: string) => {
      calls.push(id);
      throw new HttpError(503);
    });
    await rejection(get('a'));
    await rejection(get('b'));
    expect(breaker.state, 'two wrapped failures open the breaker').toBe('open');
    const error = await rejection(get('c'));
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect(calls, 'the wrapped function is not called while open').toEqual(['a', 'b']);
    clock.advance(5_000);
    const ok = breaker.wrap(async (n: number) => n * 2);
    await expect(ok(21), 'a second wrapped function shares the breaker: it is the probe').resolves.toBe(42);
    expect(breaker.state).toBe('closed');
  });
});

describe('CircuitBreaker: the default clock', () => {
  it('uses performance.now() when no clock is given', async () => {
    let now = 9_000_000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const breaker = new CircuitBreaker({
      failureRateThreshold: 0.5,
      minimumRequests: 1,
      windowMs: 1_000,
      buckets: 10,
      openMs: 2_000,
      halfOpenProbes: 1,
    });
    await fail(breaker);
    const states: BreakerState[] = [breaker.state];
    now += 1_999;
    states.push(breaker.state);
    now += 1;
    states.push(breaker.state);
    expect(states, 'the cool-down is measured with performance.now()').toEqual(['open', 'open', 'half-open']);
  });
});
