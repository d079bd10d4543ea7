import { getEventListeners } from 'node:events';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { mapLimit } from './map-limit.js';

/** One call of the task function, resolved or rejected by the test when it chooses. */
interface Call {
  readonly item: number;
  readonly index: number;
  readonly signal: AbortSignal;
  finished: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** A task function whose calls wait until the test settles them; it measures concurrency. */
function controlledTask() {
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  const fn = (item: number, index: number, signal: AbortSignal) =>
    new Promise<unknown>((resolve, reject) => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      const call: Call = {
        item,
        index,
        signal,
        finished: false,
        resolve: (value) => finish(call, () => resolve(value)),
        reject: (error) => finish(call, () => reject(error)),
      };
      calls.push(call);
    });
  const finish = (call: Call, settle: () => void) => {
    if (call.finished) return;
    call.finished = true;
    active -= 1;
    settle();
  };
  return {
    fn,
    calls,
    running: () => calls.filter((c) => !c.finished),
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
  };
}

/** Lets every pending promise job run (and anything the pool schedules with setImmediate). */
async function flush(): Promise<void> {
  await nextMacrotask();
  await nextMacrotask();
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
  throw new Error('expected the pool to reject, but it resolved');
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
afterEach(() => {
  unhandled.length = 0;
});

describe('mapLimit: results and concurrency', () => {
  it('resolves with the results in input order, even when tasks finish in reverse order', async () => {
    const task = controlledTask();
    const pool = mapLimit(range(6), 3, task.fn);
    while (task.calls.length < 6 || task.running().length > 0) {
      await flush();
      const running = task.running();
      expect(running.length, 'tasks must be started while others are still running').toBeGreaterThan(0);
      const newest = running[running.length - 1] as Call;
      newest.resolve(`result ${newest.item}`);
    }
    expect(await pool, 'result i belongs to item i, whatever order the tasks finished in').toEqual(
      range(6).map((i) => `result ${i}`),
    );
  });

  it('starts `limit` tasks at once, and never runs more than `limit`', async () => {
    const task = controlledTask();
    const pool = mapLimit(range(10), 3, task.fn);
    await flush();
    expect(task.calls.length, 'with limit 3 and 10 items, 3 tasks must start right away').toBe(3);
    while (task.running().length > 0) {
      (task.running()[0] as Call).resolve('ok');
      await flush();
    }
    await pool;
    expect(task.calls.length, 'every item gets exactly one call').toBe(10);
    expect(task.maxActive, 'measured concurrency must never exceed the limit').toBe(3);
  });

  it('starts the next task as soon as any task finishes, without waiting for a whole batch', async () => {
    const task = controlledTask();
    const pool = mapLimit(range(5), 2, task.fn);
    await flush();
    expect(task.calls.map((c) => c.index)).toEqual([0, 1]);
    (task.calls[1] as Call).resolve('fast');
    await flush();
    expect(
      task.calls.map((c) => c.index),
      'task 1 finished while task 0 is still running: task 2 must start now, not when task 0 ends (that is batching)',
    ).toEqual([0, 1, 2]);
    (task.calls[2] as Call).resolve('fast');
    await flush();
    expect(
      task.calls.map((c) => c.index),
      'the freed slot is refilled again: task 3 starts',
    ).toEqual([0, 1, 2, 3]);
    for (const call of task.calls) call.resolve('done');
    await flush();
    for (const call of task.calls) call.resolve('done');
    expect(await pool).toEqual(['done', 'fast', 'fast', 'done', 'done']);
  });

  it('property: whatever order tasks finish in, every free slot is filled and results keep input order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
        async (n, limit, picks) => {
          const task = controlledTask();
          const pool = mapLimit(range(n), limit, task.fn);
          let finished = 0;
          for (let step = 0; finished < n; step += 1) {
            await flush();
            const running = task.running();
            expect(
              running.length,
              `with ${finished} of ${n} done and limit ${limit}, exactly min(limit, items left) tasks must be running`,
            ).toBe(Math.min(limit, n - finished));
            const call = running[(picks[step % picks.length] as number) % running.length] as Call;
            call.resolve(call.item * 10);
            finished += 1;
          }
          expect(await pool, 'results in input order').toEqual(range(n).map((i) => i * 10));
          expect(task.maxActive, 'never more than `limit` at once').toBeLessThanOrEqual(limit);
          expect(
            task.calls.map((c) => [c.item, c.index]),
            'each item is passed once, with its index, in input order',
          ).toEqual(range(n).map((i) => [i, i]));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('property: with plain async tasks it agrees with Promise.all over the same items', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 8 }),
        async (hops, limit) => {
          const work = async (h: number, i: number) => {
            for (let k = 0; k < h; k += 1) await null; // finish after h promise jobs: out of order
            return `${i}:${h}`;
          };
          const expected = await Promise.all(hops.map(work));
          expect(await mapLimit(hops, limit, work)).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps two pools running at the same time apart: each has its own limit, items and results', async () => {
    const a = controlledTask();
    const b = controlledTask();
    const poolA = mapLimit([10, 11, 12, 13], 2, a.fn);
    await flush();
    const poolB = mapLimit([20, 21, 22], 1, b.fn);
    await flush();
    expect(
      a.calls.map((c) => c.item),
      'pool A (limit 2) starts its first two items',
    ).toEqual([10, 11]);
    expect(
      b.calls.map((c) => c.item),
      'pool B (limit 1) starts its own first item',
    ).toEqual([20]);
    for (let round = 0; round < 8 && (a.running().length > 0 || b.running().length > 0); round += 1) {
      for (const call of [...b.running(), ...a.running()]) call.resolve(call.item * 2);
      await flush();
    }
    expect(await poolA, 'pool A gets the results of its own items, in order').toEqual([20, 22, 24, 26]);
    expect(await poolB, 'pool B gets the results of its own items, in order').toEqual([40, 42, 44]);
    expect(
      a.calls.map((c) => [c.item, c.index]),
      'pool A called fn once per item of its own, with its own indexes',
    ).toEqual([
      [10, 0],
      [11, 1],
      [12, 2],
      [13, 3],
    ]);
    expect(b.maxActive, 'pool B never ran more than its own limit of 1').toBe(1);
    expect(a.maxActive, 'pool A never ran more than its own limit of 2').toBe(2);
  });

  it('accepts any iterable, resolves [] for no items, and never calls fn then', async () => {
    let calls = 0;
    const double = (x: number) => {
      calls += 1;
      return x * 2;
    };
    expect(await mapLimit(new Set([1, 2, 3]), 2, double), 'a Set works like an array').toEqual([2, 4, 6]);
    calls = 0;
    expect(await mapLimit([], 4, double), 'no items, no results').toEqual([]);
    expect(calls, 'fn must not be called for an empty input').toBe(0);
  });
});

describe('mapLimit: failure', () => {
  it('rejects with the first error and starts no task after it', async () => {
    const task = controlledTask();
    const pool = mapLimit(range(6), 2, task.fn);
    await flush();
    const boom = new Error('task 0 failed');
    (task.calls[0] as Call).reject(boom);
    expect(await stateOf(pool), 'one failed task rejects the whole pool at once').toBe('rejected');
    expect(await rejectionOf(pool), 'the pool rejects with the very error the task threw').toBe(boom);
    (task.calls[1] as Call).resolve('late');
    await flush();
    expect(task.calls.length, 'after the first failure no new task may start').toBe(2);
  });

  it('aborts the signal it gave to tasks still running when one fails', async () => {
    const task = controlledTask();
    const pool = mapLimit(range(4), 2, task.fn);
    await flush();
    const running = task.calls[1] as Call;
    expect(running.signal.aborted, 'while all is well, the task signal is not aborted').toBe(false);
    (task.calls[0] as Call).reject(new Error('fail'));
    await rejectionOf(pool);
    expect(running.signal.aborted, 'task 1 is still running and must be told to stop').toBe(true);
  });

  it('treats a task that throws synchronously like one that rejects', async () => {
    const seen: number[] = [];
    const error = await rejectionOf(
      mapLimit(range(5), 1, (i) => {
        seen.push(i);
        if (i === 2) throw new TypeError('bad item 2');
        return i;
      }),
    );
    expect(error, 'the thrown error rejects the pool').toBeInstanceOf(TypeError);
    expect(seen, 'no task starts after the one that threw').toEqual([0, 1, 2]);
  });

  it('does not leave an unhandled rejection when more running tasks fail after the first', async () => {
    const task = controlledTask();
    const pool = mapLimit(range(3), 3, task.fn);
    await flush();
    (task.calls[0] as Call).reject(new Error('first'));
    await rejectionOf(pool);
    (task.calls[1] as Call).reject(new Error('second, after the pool already failed'));
    (task.calls[2] as Call).reject(new Error('third'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(unhandled, 'later failures must be handled quietly, not crash the process').toEqual([]);
  });
});

describe('mapLimit: cancellation', () => {
  it('rejects at once with an AbortError when the signal aborts, and starts no more tasks', async () => {
    const task = controlledTask();
    const controller = new AbortController();
    const pool = mapLimit(range(5), 2, task.fn, { signal: controller.signal });
    await flush();
    controller.abort();
    expect(await stateOf(pool), 'abort must reject without waiting for the running tasks').toBe('rejected');
    const error = (await rejectionOf(pool)) as Error;
    expect(error, 'the rejection is a DOMException, as fetch uses').toBeInstanceOf(DOMException);
    expect(error.name, 'its name is AbortError, like fetch').toBe('AbortError');
    expect(
      task.calls.every((c) => c.signal.aborted),
      'the running tasks’ signals are aborted too',
    ).toBe(true);
    for (const call of task.calls) call.resolve('too late');
    await flush();
    expect(task.calls.length, 'no task starts after the abort').toBe(2);
  });

  it('with an already aborted signal, rejects without calling fn', async () => {
    let calls = 0;
    const error = (await rejectionOf(
      mapLimit(range(3), 2, () => calls++, { signal: AbortSignal.abort() }),
    )) as Error;
    expect(error.name, 'an aborted signal means an AbortError').toBe('AbortError');
    expect(calls, 'no task may start when the signal is already aborted').toBe(0);
  });

  it('keeps the signal’s reason as the cause of the AbortError', async () => {
    const task = controlledTask();
    const controller = new AbortController();
    const pool = mapLimit(range(3), 1, task.fn, { signal: controller.signal });
    await flush();
    const reason = new Error('the user closed the page');
    controller.abort(reason);
    const error = (await rejectionOf(pool)) as Error;
    expect(error.name).toBe('AbortError');
    expect(error.cause, 'the AbortError carries the abort reason as its cause').toBe(reason);
  });

  it('removes its abort listener when it settles, so one signal can serve many calls', async () => {
    const controller = new AbortController();
    const { signal } = controller;
    await mapLimit(range(3), 2, async (i) => i, { signal });
    expect(getEventListeners(signal, 'abort').length, 'after success, no listener is left').toBe(0);
    await rejectionOf(
      mapLimit(
        range(3),
        2,
        async () => {
          throw new Error('x');
        },
        { signal },
      ),
    );
    expect(getEventListeners(signal, 'abort').length, 'after a failure, no listener is left').toBe(0);
  });
});

describe('mapLimit: bad limits', () => {
  it.each([
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ["the string '2'", '2'],
  ])('rejects limit %s with a RangeError before calling fn', async (_label, limit) => {
    let calls = 0;
    const error = await rejectionOf(mapLimit([1, 2], limit as number, () => calls++));
    expect(error, 'a limit must be a positive integer').toBeInstanceOf(RangeError);
    expect((error as Error).message, 'the message names the bad argument').toMatch(/limit/);
    expect(calls).toBe(0);
  });
});
