import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, sleep } from '../../../src/testing/index.js';
import { Deadline, DeadlineExceededError } from './deadline.js';

// Real timers where the signal is concerned (a timer that cannot be cancelled must show), with short
// deadlines (20-200 ms) and one-sided, wide limits on how long anything may take; a ManualClock where
// the test needs exact arithmetic (remaining, child, ensure), which never depends on timers.

const opened: Deadline[] = [];
/** Remembers a deadline so that it is disposed after the test, whatever happens. */
function track<D extends Deadline>(deadline: D): D {
  opened.push(deadline);
  return deadline;
}
afterEach(() => {
  for (const deadline of opened.splice(0)) deadline.dispose();
});

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;
const activeTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

/** Resolves with the reason when `signal` aborts, or rejects after `withinMs` (a wide limit). */
function aborted(signal: AbortSignal, what: string, withinMs = 2000): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what}: the signal did not abort within ${withinMs} ms`)),
      withinMs,
    );
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve(signal.reason);
      },
      { once: true },
    );
  });
}

function expectDeadlineExceeded(error: unknown, what: string): void {
  expect(error, `${what}: expected a DeadlineExceededError`).toBeInstanceOf(DeadlineExceededError);
  expect((error as DeadlineExceededError).code, `${what}: the error's code`).toBe('DEADLINE_EXCEEDED');
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
function thrownBy(fn: () => unknown, what: string): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error(`${what}: expected a throw, but it returned normally`);
}

const START = 1_000_000;

describe('Deadline.after: the budget on the clock', () => {
  it('expires ms from now on the clock; remaining() counts down to 0 and never below; expired only at 0', () => {
    const clock = new ManualClock(START);
    const deadline = track(Deadline.after(100, { clock }));
    expect(deadline.expiresAt, 'expiresAt is now + ms on the given clock').toBe(START + 100);
    expect(deadline.remaining(), 'nothing has passed yet').toBe(100);
    expect(deadline.expired, 'a fresh deadline has not expired').toBe(false);
    clock.advance(30);
    expect(deadline.remaining(), 'after 30 ms of a 100 ms budget').toBe(70);
    clock.advance(69.5);
    expect(deadline.remaining(), 'half a millisecond left is still time left').toBe(0.5);
    expect(deadline.expired, 'with 0.5 ms left the deadline has not expired').toBe(false);
    clock.advance(0.5);
    expect(deadline.remaining()).toBe(0);
    expect(deadline.expired, 'with nothing left the deadline has expired').toBe(true);
    clock.advance(500);
    expect(deadline.remaining(), 'remaining() never goes below 0').toBe(0);
    expect(deadline.expired).toBe(true);
  });

  it('runs on performance.now() by default (a clock that does not jump), not on the wall clock', () => {
    const before = performance.now();
    const deadline = track(Deadline.after(1000));
    expect(
      deadline.expiresAt,
      'expiresAt must be on performance.now(), not Date.now()',
    ).toBeGreaterThanOrEqual(before + 1000);
    expect(deadline.expiresAt).toBeLessThan(performance.now() + 1000 + 1);
    expect(deadline.remaining()).toBeLessThanOrEqual(1000);
    expect(deadline.remaining(), 'a second, minus a little').toBeGreaterThan(500);
  });

  it('rejects a budget that is not a finite number of milliseconds, 0 or more, with a RangeError naming it', () => {
    for (const bad of [-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const error = thrownBy(() => Deadline.after(bad), `Deadline.after(${bad})`);
      expect(error, `Deadline.after(${bad})`).toBeInstanceOf(RangeError);
      expect((error as Error).message, 'the message names the bad value').toContain(String(bad));
    }
    expect(() => Deadline.after('50' as unknown as number), 'a string is not a number').toThrow(RangeError);
    expect(() => track(Deadline.after(0)), '0 ms is a valid (already expired) budget').not.toThrow();
    expect(() => track(Deadline.after(12.5)), 'a fraction of a millisecond is fine').not.toThrow();
  });
});

describe('signal: aborts when the time is up', () => {
  it('aborts with a DeadlineExceededError (code DEADLINE_EXCEEDED) once the time is up', async () => {
    const deadline = track(Deadline.after(30));
    const reason = await aborted(deadline.signal, 'a 30 ms deadline');
    expectDeadlineExceeded(reason, 'the reason of a deadline that ran out');
    expect((reason as Error).name).toBe('DeadlineExceededError');
    expect(deadline.expired, 'an aborted-by-time deadline reports expired').toBe(true);
    expect(deadline.remaining()).toBe(0);
  });

  it('a deadline created with no time left is aborted at once (synchronously)', () => {
    const zero = track(Deadline.after(0));
    expect(zero.signal.aborted, 'Deadline.after(0) must be aborted when it is returned').toBe(true);
    expectDeadlineExceeded(zero.signal.reason, 'the reason of Deadline.after(0)');

    const parent = track(Deadline.after(10_000));
    const child = track(parent.child(0));
    expect(child.signal.aborted, 'child(0) must be aborted when it is returned').toBe(true);
    expect(parent.signal.aborted, "a child's time running out never aborts its parent").toBe(false);

    const clock = new ManualClock(START);
    const passed = track(Deadline.after(100, { clock }));
    clock.advance(100);
    const late = track(passed.child());
    expect(late.signal.aborted, 'a child of a deadline whose time has passed is aborted at once').toBe(true);
  });

  it('the clock decides: no abort while the clock shows time left, an abort soon after it shows none', async () => {
    const clock = new ManualClock(START);
    const deadline = track(Deadline.after(40, { clock }));
    await sleep(200);
    expect(
      deadline.signal.aborted,
      'the manual clock has not moved, so 200 real ms later the 40 ms deadline must not have aborted: ' +
        'when the timer fires, look at the clock and sleep again for what is left',
    ).toBe(false);
    expect(deadline.remaining()).toBe(40);
    clock.advance(40);
    const reason = await aborted(deadline.signal, 'after the clock moved past the deadline');
    expectDeadlineExceeded(reason, 'the reason once the clock passed the deadline');
  });

  it('a budget longer than setTimeout can wait (30 days) neither aborts early nor overflows the timer', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const deadline = track(Deadline.after(30 * 24 * 3600 * 1000));
      const child = track(deadline.child(40 * 24 * 3600 * 1000));
      await sleep(80);
      expect(deadline.signal.aborted, 'a 30-day deadline must not abort after 80 ms').toBe(false);
      expect(child.signal.aborted, 'nor its child').toBe(false);
      expect(
        warnings,
        'setTimeout cannot wait more than 2^31 - 1 ms: a longer delay warns and fires after 1 ms',
      ).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it("aborts as soon as the caller's signal aborts, with the caller's reason", () => {
    const caller = new AbortController();
    const deadline = track(Deadline.after(10_000, { signal: caller.signal }));
    const reason = new Error('the user pressed cancel');
    caller.abort(reason);
    expect(deadline.signal.aborted, "the deadline follows the caller's signal at once").toBe(true);
    expect(deadline.signal.reason, "with the caller's reason, unchanged").toBe(reason);
    expect(deadline.expired, 'a cancelled deadline still has time on the clock').toBe(false);

    const gone = new AbortController();
    const already = new Error('already gone');
    gone.abort(already);
    const late = track(Deadline.after(10_000, { signal: gone.signal }));
    expect(
      late.signal.aborted,
      "a caller's signal that has already aborted aborts the deadline at once",
    ).toBe(true);
    expect(late.signal.reason).toBe(already);
  });
});

describe('child: a part of the work never outlives the whole', () => {
  it('expires at the earlier of the parent and ms from now; omitted ms means the same expiry', () => {
    const clock = new ManualClock(START);
    const parent = track(Deadline.after(100, { clock }));
    expect(track(parent.child(50)).expiresAt, 'a shorter child expires at now + ms').toBe(START + 50);
    expect(track(parent.child(50)).remaining()).toBe(50);
    const longer = track(parent.child(5000));
    expect(longer.expiresAt, 'a child asked for more than the parent has gets the parent’s expiry').toBe(
      START + 100,
    );
    expect(longer.remaining(), 'and no more time than the parent').toBe(100);
    expect(track(parent.child()).expiresAt, 'child() without ms expires with the parent').toBe(START + 100);
    clock.advance(20);
    expect(track(parent.child(50)).expiresAt, 'ms counts from now, not from the parent’s start').toBe(
      START + 70,
    );
    expect(track(parent.child(80)).expiresAt, 'exactly the parent’s remaining time').toBe(START + 100);
    const grandchild = track(track(parent.child(60)).child(1000));
    expect(grandchild.expiresAt, 'a grandchild is bounded by every ancestor').toBe(START + 80);
  });

  it('rejects a child budget that is not a finite number ≥ 0 with a RangeError naming it', () => {
    const parent = track(Deadline.after(1000));
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = thrownBy(() => parent.child(bad), `child(${bad})`);
      expect(error, `child(${bad})`).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain(String(bad));
    }
  });

  it("aborts with the parent's reason when the parent aborts, through every generation", () => {
    const caller = new AbortController();
    const parent = track(Deadline.after(10_000, { signal: caller.signal }));
    const child = track(parent.child(5000));
    const grandchild = track(child.child());
    const reason = new Error('shutting down');
    caller.abort(reason);
    expect(child.signal.aborted, 'the child aborts with its parent').toBe(true);
    expect(child.signal.reason, "with the parent's reason").toBe(reason);
    expect(grandchild.signal.reason, 'and so does the grandchild').toBe(reason);
  });

  it("a child's own shorter time aborts the child only, never the parent", async () => {
    const parent = track(Deadline.after(10_000));
    const child = track(parent.child(30));
    const reason = await aborted(child.signal, 'a 30 ms child of a 10 s deadline');
    expectDeadlineExceeded(reason, "the reason of the child's own time running out");
    expect(parent.signal.aborted, "the parent keeps going when a child's time is up").toBe(false);
  });
});

describe('dispose: nothing outlives the work', () => {
  it('a disposed deadline never aborts because of time (the timer is cancelled)', async () => {
    // A manual clock, so that no deadline can be born expired on a busy machine; the timers are real.
    const clock = new ManualClock(START);
    const deadline = track(Deadline.after(30, { clock }));
    const viaSymbol = track(Deadline.after(30, { clock }));
    deadline.dispose();
    viaSymbol[Symbol.dispose]();
    clock.advance(30);
    await sleep(200);
    expect(
      deadline.signal.aborted,
      'a disposed 30 ms deadline must not abort 200 ms later (AbortSignal.timeout() cannot be cancelled)',
    ).toBe(false);
    expect(viaSymbol.signal.aborted, '[Symbol.dispose]() disposes too').toBe(false);
  });

  it('a disposed child no longer follows its parent', async () => {
    const clock = new ManualClock(START);
    const parent = track(Deadline.after(40, { clock }));
    const child = track(parent.child());
    const other = track(parent.child(10_000));
    child.dispose();
    other.dispose();
    clock.advance(40);
    await aborted(parent.signal, 'the 40 ms parent');
    expect(child.signal.aborted, "a disposed child must not abort when its parent's time runs out").toBe(
      false,
    );
    expect(other.signal.aborted).toBe(false);

    const caller2 = new AbortController();
    const parent2 = track(Deadline.after(10_000, { signal: caller2.signal }));
    const child2 = track(parent2.child());
    child2.dispose();
    caller2.abort(new Error('cancelled'));
    expect(child2.signal.aborted, 'a disposed child must not abort when its parent is cancelled').toBe(false);
  });

  it('dispose() is idempotent and does not abort the signal; an aborted deadline stays aborted', () => {
    const deadline = track(Deadline.after(10_000));
    deadline.dispose();
    deadline.dispose();
    deadline[Symbol.dispose]();
    expect(deadline.signal.aborted, 'disposing is not cancelling').toBe(false);
    const zero = track(Deadline.after(0));
    zero.dispose();
    expect(zero.signal.aborted, 'an aborted deadline stays aborted after dispose').toBe(true);
  });

  it("1000 children created and disposed leave the parent's abort listeners as they found them (cockatiel #81)", () => {
    const caller = new AbortController();
    const parent = track(Deadline.after(60_000, { signal: caller.signal }));
    const parentBefore = abortListeners(parent.signal);
    const callerBefore = abortListeners(caller.signal);
    for (let i = 0; i < 1000; i++) {
      const child = parent.child(i % 2 === 0 ? undefined : 30_000);
      track(child.child(1000)).dispose();
      child.dispose();
    }
    expect(
      abortListeners(parent.signal),
      "listeners on the parent's signal after 1000 disposed children",
    ).toBe(parentBefore);
    for (let i = 0; i < 1000; i++) Deadline.after(60_000, { signal: caller.signal }).dispose();
    expect(
      abortListeners(caller.signal),
      "listeners on the caller's signal after 1000 disposed deadlines",
    ).toBe(callerBefore);
  });

  it('disposed deadlines leave no timer running', () => {
    const before = activeTimers();
    const parent = Deadline.after(60_000);
    const all = [parent];
    for (let i = 0; i < 200; i++) all.push(parent.child(30_000 + i), Deadline.after(45_000 + i));
    for (const deadline of all) deadline.dispose();
    expect(activeTimers(), 'timers still active after 401 deadlines were disposed').toBeLessThanOrEqual(
      before,
    );
  });
});

describe('ensure: refuse to start work that cannot finish', () => {
  it('passes while at least needMs remain (exactly needMs is enough) and throws DeadlineExceededError below', () => {
    const clock = new ManualClock(START);
    const deadline = track(Deadline.after(100, { clock }));
    expect(() => deadline.ensure(), 'ensure() with time left').not.toThrow();
    expect(() => deadline.ensure(100), 'exactly 100 ms left for 100 ms of work is enough').not.toThrow();
    expectDeadlineExceeded(
      thrownBy(() => deadline.ensure(100.5), 'ensure(100.5) with 100 ms left'),
      'ensure(100.5) with 100 ms left',
    );
    clock.advance(60);
    expect(() => deadline.ensure(40), 'exactly 40 ms left').not.toThrow();
    expectDeadlineExceeded(
      thrownBy(() => deadline.ensure(41), 'ensure(41) with 40 ms left'),
      'ensure(41)',
    );
  });

  it('throws DeadlineExceededError once the deadline has expired, even for needMs = 0', () => {
    const clock = new ManualClock(START);
    const deadline = track(Deadline.after(100, { clock }));
    clock.advance(100);
    expectDeadlineExceeded(
      thrownBy(() => deadline.ensure(), 'ensure() on an expired deadline'),
      'ensure() with no time left (the timer may not have fired yet: the clock says it is over)',
    );
    clock.advance(1);
    expectDeadlineExceeded(
      thrownBy(() => deadline.ensure(0), 'ensure(0) after expiry'),
      'ensure(0)',
    );
  });

  it("throws the caller's reason, unchanged, when the signal has aborted with time left", () => {
    const caller = new AbortController();
    const deadline = track(Deadline.after(10_000, { signal: caller.signal }));
    const reason = new Error('client went away');
    caller.abort(reason);
    expect(
      thrownBy(() => deadline.ensure(), 'ensure() after a cancellation'),
      'a cancellation stays one',
    ).toBe(reason);
  });

  it('rejects a needMs that is not a finite number ≥ 0 with a RangeError naming it', () => {
    const deadline = track(Deadline.after(1000));
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = thrownBy(() => deadline.ensure(bad), `ensure(${bad})`);
      expect(error, `ensure(${bad})`).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain(String(bad));
    }
  });
});

describe('run: work under the deadline', () => {
  it('settles like the work: its value, or its error (a synchronous throw becomes a rejection)', async () => {
    const deadline = track(Deadline.after(10_000));
    let given: AbortSignal | undefined;
    await expect(
      deadline.run(async (signal) => {
        given = signal;
        return 42;
      }),
    ).resolves.toBe(42);
    expect(given, 'the work gets an AbortSignal').toBeInstanceOf(AbortSignal);
    expect(given?.aborted, 'not aborted while time is left').toBe(false);

    const failure = new Error('the database said no');
    await expect(deadline.run(() => Promise.reject(failure))).rejects.toBe(failure);
    const thrown = new Error('thrown before any await');
    let running: Promise<unknown> | undefined;
    expect(() => {
      running = deadline.run(() => {
        throw thrown;
      });
    }, 'run() never throws synchronously').not.toThrow();
    await expect(running).rejects.toBe(thrown);
  });

  it('refuses work that cannot finish in what remains: DeadlineExceededError, and the work is never called', async () => {
    const clock = new ManualClock(START);
    const deadline = track(Deadline.after(100, { clock }));
    let calls = 0;
    const work = async () => ++calls;
    const refused = await deadline.run(work, { needMs: 150 }).catch((error: unknown) => error);
    expectDeadlineExceeded(refused, 'run(work, { needMs: 150 }) with 100 ms left');
    expect(calls, 'the work must not be called when it cannot finish').toBe(0);
    await expect(deadline.run(work, { needMs: 100 }), 'exactly enough time').resolves.toBe(1);
    clock.advance(100);
    const late = await deadline.run(work).catch((error: unknown) => error);
    expectDeadlineExceeded(late, 'run(work) on an expired deadline');
    expect(calls, 'no call after the deadline').toBe(1);
    await expect(deadline.run(work, { needMs: -5 }), 'needMs is validated').rejects.toBeInstanceOf(
      RangeError,
    );
  });

  it('rejects with DeadlineExceededError when the time runs out, even if the work ignores its signal', async () => {
    const clock = new ManualClock(START);
    const deadline = track(Deadline.after(50, { clock }));
    let workSignal: AbortSignal | undefined;
    let finished = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stubborn = (signal: AbortSignal) => {
      workSignal = signal;
      return new Promise<string>((resolve) => {
        timer = setTimeout(() => {
          finished = true;
          resolve('too late');
        }, 3000);
      });
    };
    try {
      const running = deadline.run(stubborn).catch((error: unknown) => error);
      clock.advance(50);
      const outcome = await running;
      expectDeadlineExceeded(outcome, 'run() of work that ignores its signal');
      expect(finished, 'run() must reject when the deadline passes, not when the work finally ends').toBe(
        false,
      );
      expect(workSignal?.aborted, "the work's signal aborts when the deadline passes").toBe(true);
      expectDeadlineExceeded(workSignal?.reason, "the work's signal's reason");
    } finally {
      clearTimeout(timer);
    }
  });

  it('a late failure of work that ignored its signal is not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const clock = new ManualClock(START);
      const deadline = track(Deadline.after(20, { clock }));
      const running = deadline
        .run(() => new Promise((_, reject) => setTimeout(() => reject(new Error('late failure')), 1500)))
        .catch((error: unknown) => error);
      clock.advance(20);
      const outcome = await running;
      expectDeadlineExceeded(outcome, 'run() that timed out');
      await sleep(2000);
      expect(unhandled, "the work's error after run() gave up must be handled (ignored)").toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it("rejects with the caller's reason when options.signal aborts, and aborts the work's signal", async () => {
    const deadline = track(Deadline.after(10_000));
    const caller = new AbortController();
    let workSignal: AbortSignal | undefined;
    const running = deadline.run(
      (signal) => {
        workSignal = signal;
        return new Promise(() => {});
      },
      { signal: caller.signal },
    );
    const reason = new Error('hedged request won elsewhere');
    caller.abort(reason);
    await expect(running, "run() rejects with the caller's reason").rejects.toBe(reason);
    expect(workSignal?.reason).toBe(reason);
    expect(deadline.signal.aborted, "a run's own cancellation does not abort the deadline").toBe(false);
  });

  it('never calls the work when a signal has already aborted: the caller’s or the deadline’s', async () => {
    let calls = 0;
    const work = async () => ++calls;
    const deadline = track(Deadline.after(10_000));
    const caller = new AbortController();
    const reason = new Error('already cancelled');
    caller.abort(reason);
    await expect(deadline.run(work, { signal: caller.signal })).rejects.toBe(reason);

    const parentCaller = new AbortController();
    const cancelled = track(Deadline.after(10_000, { signal: parentCaller.signal }));
    const parentReason = new Error('parent cancelled');
    parentCaller.abort(parentReason);
    await expect(cancelled.run(work)).rejects.toBe(parentReason);
    expect(calls, 'the work must not start once its caller has given up').toBe(0);
  });

  it("1000 runs leave no abort listener on the deadline's or the caller's signal, and no timer", async () => {
    const deadline = track(Deadline.after(60_000));
    const caller = new AbortController();
    const deadlineBefore = abortListeners(deadline.signal);
    const callerBefore = abortListeners(caller.signal);
    const timersBefore = activeTimers();
    let sum = 0;
    for (let i = 0; i < 1000; i++) {
      sum += await deadline.run(async () => i, i % 2 ? { signal: caller.signal } : {});
      if (i % 10 === 0) await deadline.run(() => Promise.reject(new Error('x'))).catch(() => {});
    }
    expect(sum).toBe(499_500);
    expect(abortListeners(deadline.signal), "listeners left on the deadline's signal by 1100 runs").toBe(
      deadlineBefore,
    );
    expect(abortListeners(caller.signal), "listeners left on the caller's signal").toBe(callerBefore);
    expect(activeTimers(), 'timers left by 1100 finished runs').toBeLessThanOrEqual(timersBefore + 5);
  });
});
