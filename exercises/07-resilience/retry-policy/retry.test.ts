import { getEventListeners } from 'node:events';
import type { Socket } from 'node:net';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, type Listening, startHttpServer } from '../../../src/testing/index.js';
import { seededRandom } from '../../../src/testing/sim/prng.js';
import {
  isRetryable,
  parseRetryAfter,
  RETRYABLE_CODES,
  RETRYABLE_STATUSES,
  type RetryEvent,
  RetryPolicy,
  type RetryPolicyOptions,
  type RetryThrottle,
  type Work,
} from './retry.js';
import { RetryBudget } from './retry-budget.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** An error as an HTTP client throws it: the response's status on it, maybe a Retry-After. */
function httpError(status: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status }, extra);
}

/** An error as Node's socket layer throws it. */
function netError(code: string): Error {
  return Object.assign(new Error(`socket: ${code}`), { code });
}

/** What one attempt of a scripted work does: resolve with a value, or reject with an error. */
type Outcome = { value: unknown } | { error: unknown };
const ok = (value: unknown): Outcome => ({ value });
const fail = (error: unknown): Outcome => ({ error });

/** A work that plays `outcomes` in order (the last one repeats) and records every call. */
function scripted(...outcomes: Outcome[]) {
  const calls: { signal: AbortSignal; attempt: number }[] = [];
  const work: Work<unknown> = async (signal, attempt) => {
    calls.push({ signal, attempt });
    const outcome = outcomes[Math.min(calls.length, outcomes.length) - 1] as Outcome;
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  };
  return { work, calls };
}

/** A sleep that records the waits and returns at once (so nothing waits in real time). */
function instantSleep() {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms: number, _signal: AbortSignal) => {
      waits.push(ms);
    },
  };
}

/** A policy with an instant, recording sleep and the given options. */
function policyWith(options: Partial<RetryPolicyOptions> = {}) {
  const { waits, sleep } = instantSleep();
  const policy = new RetryPolicy({
    maxAttempts: 5,
    baseMs: 100,
    capMs: 1000,
    random: () => 0.5,
    sleep,
    ...options,
  });
  return { policy, waits };
}

/** A budget that only records what the policy tells it, and answers canRetry() as told. */
function spyBudget(canRetry = true) {
  const log: string[] = [];
  const budget: RetryThrottle = {
    canRetry: () => canRetry,
    recordSuccess: () => void log.push('success'),
    recordFailure: () => void log.push('failure'),
  };
  return { budget, log };
}

/** The rejection reason of a promise that must reject. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected execute() to reject, but it resolved');
}

/** Lets pending promise jobs and anything scheduled with setImmediate run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextMacrotask();
}

/** 'pending', 'fulfilled' or 'rejected', after letting queued jobs run. */
async function stateOf(promise: Promise<unknown>): Promise<string> {
  let state = 'pending';
  promise.then(
    () => {
      state = 'fulfilled';
    },
    () => {
      state = 'rejected';
    },
  );
  await flush();
  return state;
}

const listenersOn = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

/**
 * Watches the timers made through the global `setTimeout` until `restore()`: `pending()` counts those
 * that have neither fired nor been cleared. (A timer made another way, e.g. with node:timers/promises
 * and a signal, is not seen; those clear themselves on abort.)
 */
function trackTimers() {
  const live = new Set<unknown>();
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  const set = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
    callback: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    const handle = realSet(() => {
      live.delete(handle);
      callback(...args);
    }, ms);
    live.add(handle);
    return handle;
  }) as typeof setTimeout);
  const clear = vi.spyOn(globalThis, 'clearTimeout').mockImplementation((handle) => {
    live.delete(handle);
    realClear(handle);
  });
  return {
    pending: () => live.size,
    restore: () => {
      set.mockRestore();
      clear.mockRestore();
    },
  };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});
afterEach(() => {
  expect(unhandled, 'execute() must not leave a promise rejection unhandled').toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// RetryPolicy
// ---------------------------------------------------------------------------------------------

describe('RetryPolicy: attempts', () => {
  it('returns what the first success resolves with, without waiting or retrying', async () => {
    const { policy, waits } = policyWith();
    const { work, calls } = scripted(ok('body'));
    expect(await policy.execute(work)).toBe('body');
    expect(calls.length, 'a success on the first try is the end').toBe(1);
    expect(waits, 'no wait before the first attempt').toEqual([]);
  });

  it('retries a retryable failure until it succeeds, counting attempts from 1', async () => {
    const { policy } = policyWith();
    const { work, calls } = scripted(fail(httpError(503)), fail(netError('ECONNRESET')), ok(42));
    expect(await policy.execute(work)).toBe(42);
    expect(
      calls.map((c) => c.attempt),
      'work(signal, attempt): 1 is the first try, 2 the first retry',
    ).toEqual([1, 2, 3]);
  });

  it('calls the work at most maxAttempts times in all (the first try included)', async () => {
    for (const maxAttempts of [1, 2, 3, 6]) {
      const { policy } = policyWith({ maxAttempts });
      const { work, calls } = scripted(fail(httpError(503)));
      await rejectionOf(policy.execute(work));
      expect(calls.length, `maxAttempts ${maxAttempts} means ${maxAttempts} calls in all, not retries`).toBe(
        maxAttempts,
      );
    }
  });

  it('gives up by rethrowing the last error itself, not the first and not a wrapper', async () => {
    const errors = [httpError(503), httpError(502), httpError(500)];
    const { policy } = policyWith({ maxAttempts: 3 });
    const { work } = scripted(...errors.map(fail));
    expect(await rejectionOf(policy.execute(work)), 'the third error, the same object').toBe(errors[2]);

    const gone = httpError(404);
    const { work: work2, calls } = scripted(fail(httpError(503)), fail(gone));
    expect(
      await rejectionOf(policyWith().policy.execute(work2)),
      'a 503 then a 404: the caller must see the 404 (the resource is gone), not the 503',
    ).toBe(gone);
    expect(calls.length).toBe(2);
  });

  it('counts a work that throws synchronously as a failed attempt, and never throws itself', async () => {
    const { policy } = policyWith({ maxAttempts: 3 });
    let calls = 0;
    const work = ((_signal: AbortSignal, attempt: number) => {
      calls += 1;
      if (attempt < 3) throw httpError(503);
      return Promise.resolve('third time');
    }) as Work<string>;
    expect(await policy.execute(work)).toBe('third time');
    expect(calls).toBe(3);

    const bug = new TypeError('client.get is not a function');
    let returned: Promise<unknown> | undefined;
    expect(() => {
      returned = policy.execute((() => {
        throw bug;
      }) as Work<never>);
    }, 'execute() returns a rejected promise, it does not throw').not.toThrow();
    expect(await rejectionOf(returned as Promise<unknown>)).toBe(bug);
  });
});

describe('RetryPolicy: which errors are retried', () => {
  it('never retries an error the default predicate rejects', async () => {
    for (const error of [
      httpError(404),
      httpError(400),
      httpError(501),
      new TypeError('undefined is not a function'),
      new RangeError('bad'),
      'a thrown string',
    ]) {
      const { policy, waits } = policyWith();
      const { work, calls } = scripted(fail(error));
      expect(await rejectionOf(policy.execute(work))).toBe(error);
      expect(calls.length, `${String(error)} is not retryable: one call`).toBe(1);
      expect(waits).toEqual([]);
    }
  });

  it('asks the retryable predicate with the error and the attempt, and obeys it', async () => {
    const seen: [unknown, number][] = [];
    const errors = [httpError(409), httpError(409), httpError(400)];
    const { policy } = policyWith({
      retryable: (error, attempt) => {
        seen.push([error, attempt]);
        return (error as { status: number }).status === 409;
      },
    });
    const { work, calls } = scripted(...errors.map(fail));
    expect(await rejectionOf(policy.execute(work))).toBe(errors[2]);
    expect(calls.length, 'the caller said 409 is retryable and 400 is not').toBe(3);
    expect(seen).toEqual([
      [errors[0], 1],
      [errors[1], 2],
      [errors[2], 3],
    ]);
  });

  it('retries whatever a custom predicate accepts, even values that are not objects', async () => {
    const { policy, waits } = policyWith({ retryable: () => true, random: () => 0.5 });
    const { work, calls } = scripted(
      fail(null),
      fail(undefined),
      fail('a thrown string'),
      fail(7),
      ok('done'),
    );
    expect(await policy.execute(work), 'null, undefined, a string and a number are just failures').toBe(
      'done',
    );
    expect(calls.length).toBe(5);
    expect(waits, 'no Retry-After on them: the jittered waits').toEqual([50, 100, 200, 400]);
  });

  it('lets the caller refuse to retry a non-idempotent request through the predicate', async () => {
    const request = { method: 'POST' };
    const { policy } = policyWith({ retryable: (error) => request.method !== 'POST' && isRetryable(error) });
    const { work, calls } = scripted(fail(netError('ECONNRESET')));
    await rejectionOf(policy.execute(work));
    expect(calls.length, 'a POST whose connection reset may have charged the card: not sent again').toBe(1);
  });
});

describe('RetryPolicy: waits between attempts', () => {
  it('waits fullJitter(n) before retry n: random · min(capMs, baseMs · 2ⁿ), n = 0 for the first retry', async () => {
    const { policy, waits } = policyWith({ maxAttempts: 7, baseMs: 100, capMs: 1000, random: () => 0.5 });
    await rejectionOf(policy.execute(scripted(fail(httpError(503))).work));
    expect(waits, 'half of 100, 200, 400, 800, then half of the cap').toEqual([50, 100, 200, 400, 500, 500]);

    const near = policyWith({ maxAttempts: 4, baseMs: 10, capMs: 10_000, random: () => 0.999 });
    await rejectionOf(near.policy.execute(scripted(fail(httpError(503))).work));
    expect(
      near.waits.map((w) => Math.round(w * 1000) / 1000),
      'just under 10, 20 and 40',
    ).toEqual([9.99, 19.98, 39.96]);
  });

  it('draws each wait from the injected random source, in order', async () => {
    const draws = [0.1, 0.9, 0.25];
    const { policy, waits } = policyWith({ maxAttempts: 4, random: () => draws.shift() ?? 0 });
    await rejectionOf(policy.execute(scripted(fail(httpError(503))).work));
    expect(waits).toEqual([10, 180, 100]);
  });

  it('property: with a seeded random source, every wait lies in [0, min(cap, base · 2ⁿ))', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 64 }),
        fc.nat(),
        async (maxAttempts, baseMs, capFactor, seed) => {
          const capMs = baseMs * capFactor;
          const { policy, waits } = policyWith({ maxAttempts, baseMs, capMs, random: seededRandom(seed) });
          await rejectionOf(policy.execute(scripted(fail(httpError(503))).work));
          expect(waits.length, 'one wait between each two attempts').toBe(maxAttempts - 1);
          const replay = seededRandom(seed);
          waits.forEach((wait, n) => {
            const ceiling = Math.min(capMs, baseMs * 2 ** n);
            expect(wait).toBeGreaterThanOrEqual(0);
            expect(wait, `retry ${n}: below the ceiling ${ceiling}`).toBeLessThan(ceiling);
            expect(wait, 'the wait is the next random draw times the ceiling').toBeCloseTo(
              replay() * ceiling,
              9,
            );
          });
        },
      ),
      { seed: 42, numRuns: 150 },
    );
  });

  it('tells onRetry about each failed attempt before waiting: attempt, error and wait', async () => {
    const events: (RetryEvent & { waitsSoFar: number })[] = [];
    const errors = [httpError(503), netError('ETIMEDOUT')];
    const { waits, sleep } = instantSleep();
    const policy = new RetryPolicy({
      maxAttempts: 3,
      baseMs: 100,
      capMs: 1000,
      random: () => 0.5,
      sleep,
      onRetry: (event) => events.push({ ...event, waitsSoFar: waits.length }),
    });
    await policy.execute(scripted(fail(errors[0]), fail(errors[1]), ok('fine')).work);
    expect(events).toEqual([
      { attempt: 1, delayMs: 50, error: errors[0], waitsSoFar: 0 },
      { attempt: 2, delayMs: 100, error: errors[1], waitsSoFar: 1 },
    ]);
  });
});

describe('RetryPolicy: Retry-After', () => {
  it('waits exactly retryAfterMs instead of the jittered delay', async () => {
    const { policy, waits } = policyWith({ random: () => 0.9 });
    const { work } = scripted(
      fail(httpError(503, { retryAfterMs: 30 })),
      fail(httpError(429, { retryAfterMs: 700 })),
      fail(httpError(503, { retryAfterMs: 0 })),
      fail(httpError(503)),
      ok('done'),
    );
    expect(await policy.execute(work)).toBe('done');
    expect(
      waits,
      'the server asked for 30, 700 and 0 ms: exactly those, not the jitter (90, 180, ...); then the jitter for retry 3 (0.9 · 800)',
    ).toEqual([30, 700, 0, 720]);
  });

  it('ignores a retryAfterMs that is not a finite number ≥ 0, and uses the jitter', async () => {
    for (const retryAfterMs of [Number.NaN, -5, Number.POSITIVE_INFINITY, '300', null]) {
      const { policy, waits } = policyWith({ random: () => 0.5 });
      await policy.execute(scripted(fail(httpError(503, { retryAfterMs })), ok(1)).work);
      expect(waits, `retryAfterMs ${String(retryAfterMs)} is not usable: the jitter (50)`).toEqual([50]);
    }
  });

  it('gives up at once, with that error, when retryAfterMs is more than capMs', async () => {
    const tooLong = httpError(503, { retryAfterMs: 1001 });
    const { policy, waits } = policyWith({ capMs: 1000 });
    const { work, calls } = scripted(fail(tooLong), ok('never'));
    expect(await rejectionOf(policy.execute(work))).toBe(tooLong);
    expect(calls.length, 'the server asks for more than we will wait: no retry').toBe(1);
    expect(waits, 'and no wait').toEqual([]);

    const atCap = policyWith({ capMs: 1000 });
    await atCap.policy.execute(scripted(fail(httpError(503, { retryAfterMs: 1000 })), ok(1)).work);
    expect(atCap.waits, 'exactly capMs is still acceptable').toEqual([1000]);
  });
});

describe('RetryPolicy: the retry budget', () => {
  it('never throttles the first attempt, even with an empty budget', async () => {
    const budget = new RetryBudget({ maxTokens: 4, tokenRatio: 1.6 });
    for (let i = 0; i < 4; i++) budget.recordFailure();
    const { policy } = policyWith({ budget });
    const { work, calls } = scripted(ok('served'));
    expect(await policy.execute(work), 'an empty budget stops retries, never first tries').toBe('served');
    expect(calls.length).toBe(1);
    expect(budget.tokens, 'and the success is reported').toBe(1.6);

    const failing = scripted(fail(httpError(503)), ok('never'));
    const error = await rejectionOf(policy.execute(failing.work));
    expect((error as { status: number }).status).toBe(503);
    expect(failing.calls.length, 'the first try is made; its retry is throttled').toBe(1);
  });

  it('records the failure first, then asks canRetry(): gRPC’s max 4 allows exactly one retry from full', async () => {
    const budget = new RetryBudget({ maxTokens: 4, tokenRatio: 1.6 });
    const { policy } = policyWith({ maxAttempts: 10, budget });
    const { work, calls } = scripted(fail(httpError(503)));
    await rejectionOf(policy.execute(work));
    expect(calls.length, 'fail → 3 tokens, retry allowed; fail → 2 = max/2, throttled: two calls').toBe(2);
    expect(budget.tokens).toBe(2);
  });

  it('reports every outcome: success, retryable failure; nothing for an error that is not retryable', async () => {
    const a = spyBudget();
    await policyWith({ budget: a.budget }).policy.execute(
      scripted(fail(httpError(503)), fail(netError('ECONNREFUSED')), ok(1)).work,
    );
    expect(a.log).toEqual(['failure', 'failure', 'success']);

    const b = spyBudget();
    await rejectionOf(
      policyWith({ budget: b.budget }).policy.execute(
        scripted(fail(httpError(503)), fail(httpError(404))).work,
      ),
    );
    expect(b.log, 'the 404 says nothing about the service’s health: not reported').toEqual(['failure']);

    const c = spyBudget();
    await rejectionOf(
      policyWith({ budget: c.budget, maxAttempts: 2 }).policy.execute(scripted(fail(httpError(503))).work),
    );
    expect(c.log, 'the last attempt’s failure is reported too').toEqual(['failure', 'failure']);
  });

  it('stops retrying as soon as canRetry() says no', async () => {
    const { budget, log } = spyBudget(false);
    const { policy, waits } = policyWith({ budget });
    const { work, calls } = scripted(fail(httpError(503)), ok('never'));
    await rejectionOf(policy.execute(work));
    expect(calls.length).toBe(1);
    expect(waits).toEqual([]);
    expect(log).toEqual(['failure']);
  });
});

describe('RetryPolicy: abort', () => {
  it('rejects with signal.reason at once, without calling the work, when the signal is already aborted', async () => {
    const reason = new Error('the user closed the page');
    const { work, calls } = scripted(ok('never'));
    const result = policyWith().policy.execute(work, AbortSignal.abort(reason));
    expect(await rejectionOf(result)).toBe(reason);
    expect(calls.length).toBe(0);
  });

  it('passes the work a signal that aborts when the caller’s does (and a live one when there is none)', async () => {
    const { work, calls } = scripted(ok(1));
    await policyWith().policy.execute(work);
    expect(calls[0]?.signal, 'without a caller signal the work still gets an AbortSignal').toBeInstanceOf(
      AbortSignal,
    );
    expect(calls[0]?.signal.aborted).toBe(false);

    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = policyWith().policy.execute((signal) => {
      seen = signal;
      return new Promise(() => {});
    }, controller.signal);
    await flush();
    controller.abort(new Error('stop'));
    await rejectionOf(pending);
    expect(seen?.aborted, 'the signal the work holds must abort with the caller’s').toBe(true);
  });

  it('rejects with signal.reason at once when aborted during a wait, and makes no further attempt', async () => {
    // A sleep that never ends and ignores the signal: the policy itself must stop waiting.
    const controller = new AbortController();
    const reason = new Error('deadline of the caller');
    const { budget, log } = spyBudget();
    const policy = new RetryPolicy({
      maxAttempts: 5,
      baseMs: 100,
      capMs: 1000,
      budget,
      sleep: () => new Promise(() => {}),
    });
    const { work, calls } = scripted(fail(httpError(503)), ok('never'));
    const result = policy.execute(work, controller.signal);
    await flush();
    expect(calls.length).toBe(1);
    controller.abort(reason);
    expect(await stateOf(result), 'the abort ends the wait at once').toBe('rejected');
    expect(await rejectionOf(result)).toBe(reason);
    await flush();
    expect(calls.length, 'no attempt after the abort').toBe(1);
    expect(log, 'only the failure before the abort is reported').toEqual(['failure']);
  });

  it('rejects with signal.reason, not the error of a sleep that honours the signal', async () => {
    const controller = new AbortController();
    const reason = { why: 'shutdown' };
    const sleep = (_ms: number, signal: AbortSignal) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener('abort', () => reject(new DOMException('sleep aborted', 'AbortError')), {
          once: true,
        });
      });
    const policy = new RetryPolicy({ maxAttempts: 3, baseMs: 100, capMs: 1000, sleep });
    const result = policy.execute(scripted(fail(httpError(503))).work, controller.signal);
    await flush();
    controller.abort(reason);
    expect(await rejectionOf(result)).toBe(reason);
  });

  it('rejects with signal.reason at once when aborted during an attempt whose work ignores the signal', async () => {
    const controller = new AbortController();
    const reason = new Error('gave up');
    const { budget, log } = spyBudget();
    let finish: (error: unknown) => void = () => {};
    let calls = 0;
    const work = () => {
      calls += 1;
      return new Promise<never>((_, reject) => {
        finish = reject;
      });
    };
    const { policy, waits } = policyWith({ budget });
    const result = policy.execute(work, controller.signal);
    await flush();
    controller.abort(reason);
    expect(await stateOf(result), 'the caller does not wait for work that ignores its signal').toBe(
      'rejected',
    );
    expect(await rejectionOf(result)).toBe(reason);
    finish(httpError(503));
    await flush();
    expect(calls, 'the late failure of the abandoned attempt is not retried').toBe(1);
    expect(waits).toEqual([]);
    expect(log, 'nor reported to the budget').toEqual([]);
  });

  it('makes no further attempt after an abort, even when the predicate would retry anything', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const { budget, log } = spyBudget();
    const { policy } = policyWith({ budget, retryable: () => true });
    let calls = 0;
    const work = (signal: AbortSignal) => {
      calls += 1;
      return new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), {
          once: true,
        });
      });
    };
    const result = policy.execute(work, controller.signal);
    await flush();
    controller.abort(reason);
    expect(await rejectionOf(result)).toBe(reason);
    await flush();
    expect(calls).toBe(1);
    expect(log).toEqual([]);
  });

  it('leaves no abort listener on a long-lived signal after many calls', async () => {
    const controller = new AbortController();
    const before = getEventListeners(controller.signal, 'abort').length;
    const { policy } = policyWith({ maxAttempts: 3 });
    for (let i = 0; i < 60; i++) {
      await policy.execute(scripted(ok(i)).work, controller.signal);
      await policy.execute(scripted(fail(httpError(503)), ok(i)).work, controller.signal);
      await rejectionOf(policy.execute(scripted(fail(httpError(503))).work, controller.signal));
      await rejectionOf(policy.execute(scripted(fail(httpError(404))).work, controller.signal));
    }
    expect(
      getEventListeners(controller.signal, 'abort').length,
      'every listener execute() adds must be removed when it settles',
    ).toBe(before);
  });

  it('rejects at once when the signal aborts just before the wait (in onRetry), with any sleep', async () => {
    const reason = new Error('aborted between the failure and the wait');
    const never = new AbortController();
    const neverEnding = new RetryPolicy({
      maxAttempts: 3,
      baseMs: 100,
      capMs: 1000,
      sleep: () => new Promise(() => {}),
      onRetry: () => never.abort(reason),
    });
    const first = scripted(fail(httpError(503)), ok('never'));
    const result = neverEnding.execute(first.work, never.signal);
    expect(await stateOf(result), 'an abort that already happened fires no event: check the signal too').toBe(
      'rejected',
    );
    expect(await rejectionOf(result)).toBe(reason);
    expect(first.calls.length).toBe(1);

    const real = new AbortController();
    const timers = trackTimers();
    try {
      const withDefault = new RetryPolicy({
        maxAttempts: 3,
        baseMs: 10_000,
        capMs: 10_000,
        onRetry: () => real.abort(reason),
      });
      const second = scripted(fail(httpError(503)), ok('never'));
      const pending = withDefault.execute(second.work, real.signal);
      expect(
        await stateOf(pending),
        'the default sleep must not start a 10 s wait for an aborted signal',
      ).toBe('rejected');
      expect(await rejectionOf(pending)).toBe(reason);
      expect(timers.pending(), 'and must leave no timer armed').toBe(0);
    } finally {
      timers.restore();
    }
  });

  it('default sleep (real time): leaves no listener on a long-lived signal after its waits end', async () => {
    const shutdown = new AbortController().signal;
    const before = listenersOn(shutdown);
    const policy = new RetryPolicy({ maxAttempts: 3, baseMs: 1, capMs: 1 });
    for (let i = 0; i < 15; i++) {
      expect(await policy.execute(scripted(fail(netError('ECONNRESET')), ok(i)).work, shutdown)).toBe(i);
    }
    expect(listenersOn(shutdown), 'every wait removes its abort listener when its timer fires').toBe(before);
  });

  it('default sleep (real time): an abort during a 10 s wait rejects within 1 s and clears the timer', async () => {
    const policy = new RetryPolicy({ maxAttempts: 2, baseMs: 10_000, capMs: 10_000, random: () => 0.999 });
    const controller = new AbortController();
    const reason = new Error('user pressed Ctrl-C');
    const { work, calls } = scripted(fail(httpError(503)), ok('never'));
    let abortedAt = Number.POSITIVE_INFINITY;
    const abortLater = setTimeout(() => {
      abortedAt = performance.now();
      controller.abort(reason);
    }, 50);
    const timers = trackTimers();
    try {
      expect(await rejectionOf(policy.execute(work, controller.signal))).toBe(reason);
      const afterAbort = performance.now() - abortedAt;
      expect(afterAbort, 'the abort must cancel the 10 s wait, not be noticed when it ends').toBeLessThan(
        1000,
      );
      expect(calls.length).toBe(1);
      expect(
        timers.pending(),
        'the aborted wait must clear its timer (a 10 s timer left armed holds the process open)',
      ).toBe(0);
    } finally {
      timers.restore();
      clearTimeout(abortLater);
    }
  });

  it('default sleep (real time): waits and retries when not aborted', async () => {
    const policy = new RetryPolicy({ maxAttempts: 3, baseMs: 5, capMs: 10, random: () => 0.5 });
    const { work, calls } = scripted(fail(netError('EPIPE')), fail(httpError(502)), ok('finally'));
    expect(await policy.execute(work)).toBe('finally');
    expect(calls.length).toBe(3);
  });
});

describe('RetryPolicy: options', () => {
  it('refuses bad options with a RangeError naming the option and its value', () => {
    const base = { maxAttempts: 3, baseMs: 100, capMs: 1000 };
    const cases: [Partial<RetryPolicyOptions>, string, unknown][] = [
      [{ maxAttempts: 0 }, 'maxAttempts', 0],
      [{ maxAttempts: -1 }, 'maxAttempts', -1],
      [{ maxAttempts: 2.5 }, 'maxAttempts', 2.5],
      [{ maxAttempts: Number.NaN }, 'maxAttempts', Number.NaN],
      [{ maxAttempts: Number.POSITIVE_INFINITY }, 'maxAttempts', Number.POSITIVE_INFINITY],
      [{ baseMs: 0 }, 'baseMs', 0],
      [{ baseMs: -10 }, 'baseMs', -10],
      [{ baseMs: Number.NaN }, 'baseMs', Number.NaN],
      [
        { baseMs: Number.POSITIVE_INFINITY, capMs: Number.POSITIVE_INFINITY },
        'baseMs',
        Number.POSITIVE_INFINITY,
      ],
      [{ capMs: 99 }, 'capMs', 99],
      [{ capMs: Number.NaN }, 'capMs', Number.NaN],
      [{ capMs: Number.POSITIVE_INFINITY }, 'capMs', Number.POSITIVE_INFINITY],
      [{ capMs: 2 ** 31 }, 'capMs', 2 ** 31],
    ];
    for (const [override, name, value] of cases) {
      const make = () => new RetryPolicy({ ...base, ...override });
      expect(make, `${name} ${String(value)} must be refused`).toThrow(RangeError);
      expect(make, `the message names ${name} and shows ${String(value)}`).toThrow(
        new RegExp(`${name}.*${String(value).replace('.', '\\.')}`),
      );
    }
    const largest = new RetryPolicy({ maxAttempts: 1, baseMs: 1, capMs: 2 ** 31 - 1 });
    expect([largest.maxAttempts, largest.baseMs, largest.capMs], 'the longest setTimeout is allowed').toEqual(
      [1, 1, 2 ** 31 - 1],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// isRetryable
// ---------------------------------------------------------------------------------------------

describe('isRetryable: the default predicate', () => {
  let resetting: Listening;
  let truncating: Listening;
  beforeAll(async () => {
    resetting = await startHttpServer((req) => (req.socket as Socket).resetAndDestroy());
    truncating = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('only part of the body');
      setTimeout(() => res.socket?.destroy(), 20);
    });
  });
  afterAll(async () => {
    await resetting.close();
    await truncating.close();
  });

  it('retries the statuses that say "try again": 408, 429, 500, 502, 503, 504, and no others', () => {
    expect([...RETRYABLE_STATUSES].sort()).toEqual([408, 429, 500, 502, 503, 504]);
    for (const status of [408, 429, 500, 502, 503, 504]) {
      expect(isRetryable(httpError(status)), `status ${status}`).toBe(true);
    }
    for (const status of [200, 301, 400, 401, 403, 404, 409, 422, 451, 501, 505, 507, 511, 599]) {
      expect(isRetryable(httpError(status)), `status ${status} fails the same way every time`).toBe(false);
    }
    expect(isRetryable({ status: 503 }), 'any object with a status, not only Error').toBe(true);
    expect(isRetryable(httpError(503, { code: 'ERR_X' })), 'a retryable status whatever the code').toBe(true);
  });

  it('retries the network codes on the error itself or on its cause, and no other codes', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET']) {
      expect(RETRYABLE_CODES.has(code)).toBe(true);
      expect(isRetryable(netError(code)), `code ${code} on the error`).toBe(true);
      const fetchStyle = new TypeError('fetch failed', { cause: netError(code) });
      expect(isRetryable(fetchStyle), `TypeError('fetch failed') with cause.code ${code}`).toBe(true);
      expect(
        isRetryable({ message: 'wrapped', cause: { code } }),
        `a plain object whose cause has ${code}`,
      ).toBe(true);
    }
    for (const code of ['ENOTFOUND', 'EACCES', 'ERR_INVALID_URL', 'econnreset', 'UND_ERR_ABORTED']) {
      expect(isRetryable(netError(code)), `code ${code}`).toBe(false);
      expect(
        isRetryable(new TypeError('fetch failed', { cause: netError(code) })),
        `cause.code ${code}`,
      ).toBe(false);
    }
  });

  it('retries what a real fetch throws for a refused connection, a reset and a cut-off body', async () => {
    const refused = await rejectionOf(fetch(`http://127.0.0.1:${await freePort()}/`));
    expect(
      isRetryable(refused),
      `nothing listening: ${String(refused)} (cause ${String((refused as Error).cause)})`,
    ).toBe(true);
    const reset = await rejectionOf(fetch(resetting.url));
    expect(isRetryable(reset), `connection reset: ${String(reset)}`).toBe(true);
    const cut = await rejectionOf(fetch(truncating.url).then((res) => res.text()));
    expect(isRetryable(cut), `body cut off: ${String(cut)} (cause ${String((cut as Error).cause)})`).toBe(
      true,
    );
  });

  it('never retries an abort, a timeout or an exceeded deadline, whatever else it carries', async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const timeout = await rejectionOf(fetch(resetting.url, { signal }));
    expect((timeout as Error).name).toBe('TimeoutError');
    expect(isRetryable(timeout), 'AbortSignal.timeout fired: the caller’s time is up').toBe(false);
    expect(isRetryable(new DOMException('aborted', 'AbortError'))).toBe(false);
    expect(isRetryable(Object.assign(new Error('aborted'), { name: 'AbortError', status: 503 }))).toBe(false);
    expect(
      isRetryable(Object.assign(new Error('timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' })),
    ).toBe(false);
    expect(
      isRetryable(Object.assign(new Error('deadline exceeded'), { code: 'DEADLINE_EXCEEDED', status: 504 })),
    ).toBe(false);
    const abortWithCause = Object.assign(new DOMException('aborted', 'AbortError'), {
      cause: netError('ECONNRESET'),
    });
    expect(isRetryable(abortWithCause), 'an abort whose cause was a reset is still an abort').toBe(false);
  });

  it('never retries a plain TypeError or RangeError (bugs), nor values that are not objects', () => {
    expect(isRetryable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isRetryable(new RangeError('Invalid array length'))).toBe(false);
    expect(isRetryable(new Error('something else'))).toBe(false);
    for (const value of ['ECONNRESET', 503, undefined, null, true]) {
      expect(isRetryable(value), `${String(value)} is not an error object`).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// parseRetryAfter
// ---------------------------------------------------------------------------------------------

describe('parseRetryAfter: RFC 9110 §10.2.3', () => {
  /** 2026-01-01T00:00:00Z */
  const NOW = Date.UTC(2026, 0, 1, 0, 0, 0);

  /** Runs `fn` with the process in each of these time zones (Node applies process.env.TZ at once). */
  function inZones(fn: (zone: string) => void): void {
    const saved = process.env.TZ;
    try {
      for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Kiritimati']) {
        process.env.TZ = zone;
        fn(zone);
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  }

  it('reads delay-seconds as whole seconds, in milliseconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('007', NOW), 'leading zeros are still digits').toBe(7000);
    expect(parseRetryAfter(' 5\t', NOW), 'spaces and tabs around the value are ignored').toBe(5000);
    expect(parseRetryAfter('86400', NOW + 123_456), 'seconds do not depend on now').toBe(86_400_000);
  });

  it('ignores any run of spaces and tabs around the value, nothing inside it', () => {
    expect(parseRetryAfter('  \t 42 \t  ', NOW)).toBe(42_000);
    expect(parseRetryAfter(' \tThu, 01 Jan 2026 00:01:00 GMT  \t', NOW)).toBe(60_000);
    expect(parseRetryAfter('4 2', NOW), 'a space inside is not trimmed').toBe(undefined);
  });

  it('reads every month and day name, in all three formats (each day of 2026)', () => {
    const longDays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
    const before = Date.UTC(2025, 11, 31);
    for (let day = 0; day < 365; day++) {
      const at = Date.UTC(2026, 0, 1 + day, 12, 34, 56);
      const imf = new Date(at).toUTCString(); // "Thu, 01 Jan 2026 12:34:56 GMT"
      const [dayName, dd, mon] = imf.split(/[ ,]+/) as [string, string, string];
      const longDay = longDays.find((name) => name.startsWith(dayName)) as string;
      const rfc850 = `${longDay}, ${dd}-${mon}-26 12:34:56 GMT`;
      const asctime = `${dayName} ${mon} ${String(Number(dd)).padStart(2, ' ')} 12:34:56 2026`;
      for (const value of [imf, rfc850, asctime]) {
        expect(parseRetryAfter(value, before), value).toBe(at - before);
      }
    }
  });

  it('refuses dates and times that do not exist, and reads a leap second as the next minute', () => {
    for (const value of [
      'Fri, 31 Apr 2026 00:00:00 GMT',
      'Sun, 29 Feb 2026 00:00:00 GMT',
      'Sun, 00 Mar 2026 00:00:00 GMT',
      'Thu, 01 Jan 2026 24:00:00 GMT',
      'Thu, 01 Jan 2026 00:60:00 GMT',
      'Thu, 01 Jan 2026 00:00:61 GMT',
      'Thu Apr 31 00:00:00 2026',
      'Thursday, 31-Jun-26 00:00:00 GMT',
    ]) {
      expect(parseRetryAfter(value, NOW), `${value} does not exist`).toBe(undefined);
    }
    expect(parseRetryAfter('Tue, 29 Feb 2028 00:00:00 GMT', NOW), '2028 is a leap year').toBe(
      Date.UTC(2028, 1, 29) - NOW,
    );
    const lastMinute = Date.UTC(2026, 11, 31, 23, 59, 0);
    expect(
      parseRetryAfter('Thu, 31 Dec 2026 23:59:60 GMT', lastMinute),
      'a leap second (always 23:59:60 on a month’s last day) is the next day’s 00:00:00',
    ).toBe(60_000);
    expect(parseRetryAfter('Thu Dec 31 23:59:60 2026', lastMinute)).toBe(60_000);
  });

  it('reads all three HTTP-date formats as UTC, whatever the machine’s time zone', () => {
    inZones((zone) => {
      expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', NOW), `IMF-fixdate in ${zone}`).toBe(60_000);
      expect(parseRetryAfter('Thursday, 01-Jan-26 00:01:00 GMT', NOW), `RFC 850 in ${zone}`).toBe(60_000);
      expect(
        parseRetryAfter('Thu Jan  1 00:01:00 2026', NOW),
        `asctime in ${zone}: no zone written, UTC meant`,
      ).toBe(60_000);
      expect(
        parseRetryAfter('Thu Jan 15 12:00:00 2026', NOW),
        `asctime with a two-digit day in ${zone}`,
      ).toBe((14 * 24 + 12) * 3_600_000);
      expect(parseRetryAfter('Sat, 07 Mar 2026 18:30:15 GMT', NOW), `a date weeks ahead in ${zone}`).toBe(
        Date.UTC(2026, 2, 7, 18, 30, 15) - NOW,
      );
    });
  });

  it('gives 0 for a date in the past, never a negative wait', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('Sun Nov  6 08:49:37 1994', NOW)).toBe(0);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:59 GMT', NOW), 'one second ago').toBe(0);
  });

  it('reads a two-digit RFC 850 year as the latest such year at most 50 years ahead', () => {
    expect(parseRetryAfter('Tuesday, 01-Jan-30 00:00:00 GMT', NOW), "'30' in 2026 is 2030").toBe(
      Date.UTC(2030, 0, 1) - NOW,
    );
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', NOW), "'94' in 2026 is 1994, in the past").toBe(
      0,
    );
    const in2080 = Date.UTC(2080, 0, 1);
    expect(parseRetryAfter('Tuesday, 01-Jan-10 00:00:00 GMT', in2080), "'10' in 2080 is 2110").toBe(
      Date.UTC(2110, 0, 1) - in2080,
    );
  });

  it('gives undefined for anything else: no header, empty, signs, fractions, exponents, hex, other dates', () => {
    for (const value of [
      null,
      undefined,
      '',
      '   ',
      '-1',
      '+5',
      '1.5',
      '1e3',
      '0x10',
      '5s',
      '5 seconds',
      'Infinity',
      'soon',
      '12 apples',
      '2026-01-01T00:01:00Z',
      'Thu, 01 Jan 2026 00:01:00 UTC',
      'Thu, 01 Jan 2026 00:01:00 +0000',
      'Thu, 31 Feb 2026 00:01:00 GMT',
      'Thu, 01 Jan 2026 25:00:00 GMT',
      'Thu, 01 Jan 2026 00:61:00 GMT',
      '120, 60',
    ]) {
      expect(
        parseRetryAfter(value, NOW),
        `${JSON.stringify(value)} is neither delay-seconds nor an HTTP-date`,
      ).toBe(undefined);
    }
  });
});
