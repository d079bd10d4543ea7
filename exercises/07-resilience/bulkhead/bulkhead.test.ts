import { getEventListeners } from 'node:events';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/testing/index.js';
import { Bulkhead, type BulkheadOptions, BulkheadRejectedError, type WorkInfo } from './bulkhead.js';

/** One call of a controlled work: it runs until the test settles it. */
interface Call {
  readonly name: string;
  readonly signal: AbortSignal;
  readonly info: WorkInfo;
  settled: boolean;
  resolve(value?: unknown): void;
  reject(error: unknown): void;
}

/**
 * Works whose calls wait until the test settles them; they record the order they started in and
 * measure how many run at once.
 */
function controlled() {
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  const work =
    (name: string) =>
    (signal: AbortSignal, info: WorkInfo): Promise<unknown> =>
      new Promise((resolve, reject) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        const call: Call = {
          name,
          signal,
          info,
          settled: false,
          resolve: (value) => finish(call, () => resolve(value ?? `${name} done`)),
          reject: (error) => finish(call, () => reject(error)),
        };
        calls.push(call);
      });
  const finish = (call: Call, settle: () => void) => {
    if (call.settled) return;
    call.settled = true;
    active -= 1;
    settle();
  };
  return {
    work,
    calls,
    started: () => calls.map((c) => c.name),
    call: (name: string) => {
      const found = calls.find((c) => c.name === name);
      if (!found) throw new Error(`work ${name} has not started`);
      return found;
    },
    running: () => calls.filter((c) => !c.settled),
    get maxActive() {
      return maxActive;
    },
  };
}

/** Lets pending promise jobs and anything scheduled with setImmediate run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await nextMacrotask();
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

/** The rejection reason of a promise that must reject. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected execute() to reject, but it resolved');
}

/** Attaches a no-op handler so a promise the test checks later never counts as unhandled. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

const listenersOn = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});
afterEach(() => {
  expect(unhandled, 'the bulkhead must not leave a promise rejection unhandled').toEqual([]);
  unhandled.length = 0;
});

describe('Bulkhead: limits', () => {
  it('runs up to `concurrency` works at once and queues up to `queue` callers', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 2, queue: 3 });
    expect([bulkhead.running, bulkhead.queued], 'a new bulkhead is idle').toEqual([0, 0]);
    for (const name of ['a', 'b', 'c', 'd', 'e']) quiet(bulkhead.execute(w.work(name)));
    await flush();
    expect(w.started(), 'two slots: a and b start, c, d and e wait').toEqual(['a', 'b']);
    expect([bulkhead.running, bulkhead.queued]).toEqual([2, 3]);
    expect(bulkhead.concurrency).toBe(2);
    expect(bulkhead.queue).toBe(3);
  });

  it('rejects at once with BulkheadRejectedError (code BULKHEAD_FULL, the limits) and never calls the work', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 2, queue: 3 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) quiet(bulkhead.execute(w.work(name)));
    let extra: Promise<unknown> | undefined;
    expect(() => {
      extra = quiet(bulkhead.execute(w.work('f')));
    }, 'a full bulkhead rejects; execute() does not throw').not.toThrow();
    expect(await stateOf(extra as Promise<unknown>), 'rejected at once, not after a slot frees').toBe(
      'rejected',
    );
    const error = await rejectionOf(extra as Promise<unknown>);
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error).toBeInstanceOf(Error);
    const full = error as BulkheadRejectedError;
    expect(full.code).toBe('BULKHEAD_FULL');
    expect(full.name).toBe('BulkheadRejectedError');
    expect([full.concurrency, full.queue], 'the error carries the limits').toEqual([2, 3]);
    expect(full.message, 'the message states the limits').toMatch(/concurrency 2/);
    expect(full.message).toMatch(/queue 3/);
    await flush();
    expect(w.started(), 'the rejected call’s work never runs, not even later').not.toContain('f');
    for (const call of w.calls) call.resolve();
    await flush();
    for (const call of w.calls) call.resolve();
    await flush();
    expect(w.started()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('property: with concurrency C and queue Q, exactly C start, Q wait and the rest are rejected', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 4 }),
        async (concurrency, queue, extra) => {
          const w = controlled();
          const bulkhead = new Bulkhead({ concurrency, queue });
          const results = Array.from({ length: concurrency + queue + extra }, (_, i) =>
            quiet(bulkhead.execute(w.work(`w${i}`))),
          );
          const states = await Promise.all(results.map(stateOf));
          expect(w.calls.length, `concurrency ${concurrency}: that many start`).toBe(concurrency);
          expect([bulkhead.running, bulkhead.queued]).toEqual([concurrency, queue]);
          expect(
            states.filter((s) => s === 'rejected').length,
            `queue ${queue}: of ${results.length} calls, ${extra} are rejected`,
          ).toBe(extra);
          expect(
            states.slice(concurrency + queue).every((s) => s === 'rejected'),
            'the late ones',
          ).toBe(true);
          while (w.running().length > 0) {
            for (const call of w.running()) call.resolve();
            await flush();
          }
          expect(w.calls.length, 'every admitted call runs once').toBe(concurrency + queue);
          expect(w.maxActive).toBe(concurrency);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('with queue 0 there is no queue: a call that finds every slot busy is rejected', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 0 });
    quiet(bulkhead.execute(w.work('a')));
    const second = quiet(bulkhead.execute(w.work('b')));
    expect(await stateOf(second)).toBe('rejected');
    expect(await rejectionOf(second)).toBeInstanceOf(BulkheadRejectedError);
    expect(bulkhead.queued).toBe(0);
    w.call('a').resolve();
    await flush();
    expect(w.started(), 'b was turned away, it does not run when a frees its slot').toEqual(['a']);
  });

  it('keeps two bulkheads apart: one full bulkhead leaves the other’s slots free', async () => {
    const w = controlled();
    const payments = new Bulkhead({ concurrency: 1, queue: 0 });
    const search = new Bulkhead({ concurrency: 1, queue: 0 });
    quiet(payments.execute(w.work('pay')));
    const query = quiet(search.execute(w.work('search')));
    await flush();
    expect(w.started(), 'a busy payments bulkhead must not use up the search slot').toEqual([
      'pay',
      'search',
    ]);
    expect([payments.running, search.running]).toEqual([1, 1]);
    expect(await stateOf(quiet(payments.execute(w.work('pay 2'))))).toBe('rejected');
    w.call('search').resolve('hits');
    expect(await query).toBe('hits');
    expect([payments.running, search.running]).toEqual([1, 0]);
  });
});

describe('Bulkhead: slots and the queue', () => {
  it('settles as the work settles: same value, same error', async () => {
    const bulkhead = new Bulkhead({ concurrency: 2, queue: 2 });
    const boom = new Error('dependency failed');
    expect(await bulkhead.execute(async () => 'value')).toBe('value');
    expect(await rejectionOf(bulkhead.execute(() => Promise.reject(boom)))).toBe(boom);
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
  });

  it('hands a freed slot to the longest-waiting caller (FIFO), whether the work resolved or rejected', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 3 });
    const results = ['a', 'b', 'c', 'd'].map((name) => quiet(bulkhead.execute(w.work(name))));
    await flush();
    expect(w.started()).toEqual(['a']);
    w.call('a').resolve('A');
    await flush();
    expect(w.started(), 'a resolved: b, the first in line, starts').toEqual(['a', 'b']);
    const failure = new Error('b failed');
    w.call('b').reject(failure);
    await flush();
    expect(w.started(), 'b rejected: its slot goes to c').toEqual(['a', 'b', 'c']);
    w.call('c').resolve();
    await flush();
    expect(w.started()).toEqual(['a', 'b', 'c', 'd']);
    w.call('d').resolve();
    expect(await results[0]).toBe('A');
    expect(await rejectionOf(results[1] as Promise<unknown>)).toBe(failure);
    await Promise.all([results[2], results[3]]);
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
  });

  it('a work that throws synchronously: execute rejects with the error (never throws) and the slot is freed', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 2 });
    const bug = new TypeError('cannot read properties of undefined');
    const throwing = () => {
      throw bug;
    };
    let first: Promise<unknown> | undefined;
    expect(() => {
      first = quiet(bulkhead.execute(throwing));
    }, 'execute() must return a rejected promise, not throw').not.toThrow();
    expect(await rejectionOf(first as Promise<unknown>)).toBe(bug);
    expect(bulkhead.running, 'the throw gave the slot back').toBe(0);

    quiet(bulkhead.execute(w.work('a')));
    const queuedThrow = quiet(bulkhead.execute(throwing));
    const after = quiet(bulkhead.execute(w.work('b')));
    w.call('a').resolve();
    expect(await rejectionOf(queuedThrow), 'a queued work that throws when it starts rejects too').toBe(bug);
    await flush();
    expect(w.started(), 'and its slot passes on to the next in line').toEqual(['a', 'b']);
    w.call('b').resolve('B');
    expect(await after).toBe('B');
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
  });

  it('a caller arriving as a slot frees does not overtake the ones already waiting', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 2 });
    quiet(bulkhead.execute(w.work('a')));
    quiet(bulkhead.execute(w.work('b')));
    await flush();
    w.call('a').resolve();
    quiet(bulkhead.execute(w.work('late')));
    await flush();
    expect(w.started(), 'b waited longer than the late arrival: b gets the slot').toEqual(['a', 'b']);
    expect([bulkhead.running, bulkhead.queued]).toEqual([1, 1]);
    w.call('b').resolve();
    await flush();
    expect(w.started()).toEqual(['a', 'b', 'late']);
  });

  it('property: whatever order works finish in, the free slots are always filled in arrival order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.nat(), { minLength: 20, maxLength: 20 }),
        async (concurrency, waiting, picks) => {
          const w = controlled();
          const bulkhead = new Bulkhead({ concurrency, queue: waiting });
          const total = concurrency + waiting;
          const names = Array.from({ length: total }, (_, i) => `w${i}`);
          const results = names.map((name) => quiet(bulkhead.execute(w.work(name))));
          for (let finished = 0, step = 0; finished < total; finished++, step++) {
            await flush();
            const running = w.running();
            expect(running.length, `${finished} of ${total} done: min(C, left) must be running`).toBe(
              Math.min(concurrency, total - finished),
            );
            expect(bulkhead.running).toBe(running.length);
            expect(bulkhead.queued).toBe(total - finished - running.length);
            const call = running[(picks[step % picks.length] as number) % running.length] as Call;
            if (step % 3 === 2) call.reject(new Error(call.name));
            else call.resolve(call.name);
          }
          await Promise.allSettled(results);
          expect(w.started(), 'works start in the order their callers arrived').toEqual(names);
          expect(w.maxActive).toBeLessThanOrEqual(concurrency);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('holds the slot of a running work until it settles, even after its caller aborted', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 1 });
    const controller = new AbortController();
    const first = quiet(bulkhead.execute(w.work('stubborn'), controller.signal));
    await flush();
    controller.abort(new Error('caller gave up'));
    const next = quiet(bulkhead.execute(w.work('next')));
    await flush();
    expect(
      w.started(),
      'the stubborn work ignores its signal and still runs: the next must wait, or two would run at once',
    ).toEqual(['stubborn']);
    expect([bulkhead.running, bulkhead.queued]).toEqual([1, 1]);
    expect(await stateOf(first), 'once started, the work owns the outcome').toBe('pending');
    w.call('stubborn').resolve('finished anyway');
    expect(await first).toBe('finished anyway');
    await flush();
    expect(w.started()).toEqual(['stubborn', 'next']);
    w.call('next').resolve();
    await next;
    expect(w.maxActive).toBe(1);
  });
});

describe('Bulkhead: abort', () => {
  it('passes the work the caller’s signal (and a live signal when there is none)', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 1 });
    const controller = new AbortController();
    quiet(bulkhead.execute(w.work('a'), controller.signal));
    const waiting = new AbortController();
    quiet(bulkhead.execute(w.work('b'), waiting.signal));
    await flush();
    expect(w.call('a').signal.aborted).toBe(false);
    controller.abort(new Error('stop'));
    expect(w.call('a').signal.aborted, 'the signal the work holds aborts with the caller’s').toBe(true);
    w.call('a').resolve();
    await flush();
    waiting.abort(new Error('stop b'));
    expect(w.call('b').signal.aborted, 'also for a work that waited in the queue first').toBe(true);

    const free = new Bulkhead({ concurrency: 1, queue: 0 });
    let seen: AbortSignal | undefined;
    await free.execute(async (signal) => {
      seen = signal;
    });
    expect(seen, 'without a caller signal the work still gets an AbortSignal').toBeInstanceOf(AbortSignal);
    expect(seen?.aborted).toBe(false);
  });

  it('an aborted waiter leaves the queue at once, rejects with signal.reason and never runs', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 1 });
    quiet(bulkhead.execute(w.work('a')));
    const controller = new AbortController();
    const waiting = quiet(bulkhead.execute(w.work('b'), controller.signal));
    await flush();
    expect(bulkhead.queued).toBe(1);
    const reason = { why: 'deadline passed' };
    controller.abort(reason);
    expect(bulkhead.queued, 'the place is free as soon as the signal aborts').toBe(0);
    expect(await rejectionOf(waiting), 'rejects with the signal’s own reason').toBe(reason);
    const next = quiet(bulkhead.execute(w.work('c')));
    expect(await stateOf(next), 'the freed place takes a new caller instead of rejecting it').toBe('pending');
    expect(bulkhead.queued).toBe(1);
    w.call('a').resolve();
    await flush();
    expect(w.started(), 'b never runs; c gets the slot').toEqual(['a', 'c']);
  });

  it('an aborted waiter in the middle of the line: the others keep their order', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 3 });
    const controller = new AbortController();
    quiet(bulkhead.execute(w.work('a')));
    quiet(bulkhead.execute(w.work('b')));
    const c = quiet(bulkhead.execute(w.work('c'), controller.signal));
    quiet(bulkhead.execute(w.work('d')));
    controller.abort(new Error('c gave up'));
    expect(await stateOf(c)).toBe('rejected');
    expect(bulkhead.queued).toBe(2);
    w.call('a').resolve();
    await flush();
    w.call('b').resolve();
    await flush();
    expect(w.started()).toEqual(['a', 'b', 'd']);
  });

  it('a signal that is already aborted rejects with its reason at once, with or without a free slot', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 1 });
    const reason = new Error('aborted before the call');
    const early = quiet(bulkhead.execute(w.work('early'), AbortSignal.abort(reason)));
    expect(await stateOf(early)).toBe('rejected');
    expect(await rejectionOf(early)).toBe(reason);
    expect(w.started(), 'a free slot must not run work for a caller who is gone').toEqual([]);
    expect(bulkhead.running).toBe(0);

    quiet(bulkhead.execute(w.work('a')));
    const queued = quiet(bulkhead.execute(w.work('late'), AbortSignal.abort(reason)));
    expect(await stateOf(queued), 'nor may it wait in the queue for an abort event that already fired').toBe(
      'rejected',
    );
    expect(await rejectionOf(queued)).toBe(reason);
    expect(bulkhead.queued).toBe(0);
    quiet(bulkhead.execute(w.work('b')));
    const full = quiet(bulkhead.execute(w.work('c'), AbortSignal.abort(reason)));
    expect(await rejectionOf(full), 'the abort wins over "full"').toBe(reason);
    w.call('a').resolve();
    await flush();
    expect(w.started()).toEqual(['a', 'b']);
  });

  it('leaves no listener on the caller’s signal once the work starts, settles or leaves the queue', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 5 });
    const shared = new AbortController().signal;
    const before = listenersOn(shared);
    quiet(bulkhead.execute(w.work('a'), shared));
    const b = quiet(bulkhead.execute(w.work('b'), shared));
    await flush();
    w.call('a').resolve();
    await flush();
    expect(w.started()).toEqual(['a', 'b']);
    expect(listenersOn(shared), 'b has started: no listener of the queue may remain, even while b runs').toBe(
      before,
    );
    w.call('b').resolve();
    await b;
    expect(listenersOn(shared)).toBe(before);

    const leaving = new AbortController();
    quiet(bulkhead.execute(w.work('c')));
    const d = quiet(bulkhead.execute(w.work('d'), leaving.signal));
    leaving.abort(new Error('bye'));
    await rejectionOf(d);
    expect(listenersOn(leaving.signal), 'a waiter that left removed its listener').toBe(0);
    w.call('c').resolve();
    await flush();
  });

  it('leaves no listener behind after many calls on one long-lived signal', async () => {
    const bulkhead = new Bulkhead({ concurrency: 3, queue: 400 });
    const shutdown = new AbortController().signal;
    const before = listenersOn(shutdown);
    const calls = Array.from({ length: 300 }, (_, i) =>
      bulkhead.execute(async () => {
        for (let k = 0; k < i % 4; k++) await null;
        if (i % 5 === 0) throw new Error(`call ${i} failed`);
        return i;
      }, shutdown),
    );
    await Promise.allSettled(calls);
    expect(listenersOn(shutdown), 'one shutdown signal shared by 300 calls keeps no listener').toBe(before);
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
  });
});

describe('Bulkhead: the wait in the queue', () => {
  it('tells each work how long it waited, in ms on the injected clock (0 when it started at once)', async () => {
    const clock = new ManualClock(5_000);
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 2, clock });
    quiet(bulkhead.execute(w.work('a')));
    quiet(bulkhead.execute(w.work('b')));
    clock.advance(100);
    quiet(bulkhead.execute(w.work('c')));
    clock.advance(150);
    w.call('a').resolve();
    await flush();
    clock.advance(400);
    w.call('b').resolve();
    await flush();
    expect(
      w.calls.map((c) => [c.name, c.info.queuedMs]),
      'a started at once; b waited 250 ms, c 550 ms (100 ms less than b, as it came later)',
    ).toEqual([
      ['a', 0],
      ['b', 250],
      ['c', 550],
    ]);
  });

  it('measures with performance.now by default: a non-negative number of milliseconds', async () => {
    const w = controlled();
    const bulkhead = new Bulkhead({ concurrency: 1, queue: 1 });
    quiet(bulkhead.execute(w.work('a')));
    quiet(bulkhead.execute(w.work('b')));
    await new Promise((resolve) => setTimeout(resolve, 30));
    w.call('a').resolve();
    await flush();
    const waited = w.call('b').info.queuedMs;
    expect(waited, 'b waited about 30 ms').toBeGreaterThanOrEqual(20);
    expect(waited).toBeLessThan(60_000);
    w.call('b').resolve();
  });
});

describe('Bulkhead: options', () => {
  it('refuses a concurrency that is not an integer ≥ 1 and a queue that is not an integer ≥ 0', () => {
    const cases: [Partial<BulkheadOptions>, string, number][] = [
      [{ concurrency: 0 }, 'concurrency', 0],
      [{ concurrency: -1 }, 'concurrency', -1],
      [{ concurrency: 1.5 }, 'concurrency', 1.5],
      [{ concurrency: Number.NaN }, 'concurrency', Number.NaN],
      [{ concurrency: Number.POSITIVE_INFINITY }, 'concurrency', Number.POSITIVE_INFINITY],
      [{ queue: -1 }, 'queue', -1],
      [{ queue: 0.5 }, 'queue', 0.5],
      [{ queue: Number.NaN }, 'queue', Number.NaN],
      [{ queue: Number.POSITIVE_INFINITY }, 'queue', Number.POSITIVE_INFINITY],
    ];
    for (const [override, name, value] of cases) {
      const make = () => new Bulkhead({ concurrency: 2, queue: 2, ...override });
      expect(make, `${name} ${value} must be refused`).toThrow(RangeError);
      expect(make, `the message names ${name} and shows ${value}`).toThrow(
        new RegExp(`${name}.*${String(value).replace('.', '\\.')}`),
      );
    }
    const smallest = new Bulkhead({ concurrency: 1, queue: 0 });
    expect([smallest.concurrency, smallest.queue]).toEqual([1, 0]);
  });
});
