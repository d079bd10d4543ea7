import { getEventListeners } from 'node:events';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Worker as WorkerType } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapInChunks } from './chunked.js';
import { runInWorker } from './offload.js';

// These tests use real time on a machine that may be busy. A 10 ms timer runs alongside the work
// and records how late each tick fires. On a loaded machine the operating system can also pause the
// whole process for a while, which makes a tick late without our code doing anything wrong. So a
// tick's delay is counted only as far as this thread was actually busy on the CPU meanwhile
// (process.threadCpuUsage): a tick that is 120 ms late while the thread computed for 8 ms of it was
// 8 ms late because of our code. Code that blocks the loop computes for the whole delay, so it cannot
// hide: it makes the timer 300+ ms late, all of it busy.

const TICK_MS = 10;
const WORST_DELAY_MS = 50;

interface Responsiveness<R> {
  result: R;
  /** The largest delay of a tick that this thread's own work caused, in ms. */
  worstDelayMs: number;
  /** The largest delay of a tick as the wall clock saw it (including time the OS paused us), in ms. */
  worstWallDelayMs: number;
  ticks: number;
}

const threadCpuMs = () => {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
};

/** Runs `work` with a 10 ms interval timer alongside, measuring how late each tick fires. */
async function withTimerAlongside<R>(work: () => Promise<R>): Promise<Responsiveness<R>> {
  let lastWall = performance.now();
  let lastCpu = threadCpuMs();
  let worstDelayMs = 0;
  let worstWallDelayMs = 0;
  let ticks = 0;
  const tick = (counted: boolean) => {
    const wall = performance.now();
    const cpu = threadCpuMs();
    const late = wall - lastWall - TICK_MS;
    worstWallDelayMs = Math.max(worstWallDelayMs, late);
    worstDelayMs = Math.max(worstDelayMs, Math.min(late, cpu - lastCpu));
    lastWall = wall;
    lastCpu = cpu;
    if (counted) ticks += 1;
  };
  const timer = setInterval(() => tick(true), TICK_MS);
  try {
    const result = await work();
    tick(false); // the stretch from the last tick to the end counts too
    return { result, worstDelayMs, worstWallDelayMs, ticks };
  } finally {
    clearInterval(timer);
  }
}

const describeDelay = (r: Responsiveness<unknown>) =>
  `the timer was up to ${Math.round(r.worstDelayMs)} ms late because this thread was busy (${Math.round(r.worstWallDelayMs)} ms by the wall clock)`;

/** Burns `ms` of CPU on this thread, like a slow item would. */
function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

/**
 * Counts turns of the event loop: a setImmediate chain adds one per check phase. An item's `fn` reads
 * `turn()`; items processed in the same turn belong to the same chunk.
 */
function countTurns(): { turn: () => number; stop: () => void } {
  let turn = 0;
  let counting = true;
  const tick = () => {
    turn += 1;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    turn: () => turn,
    stop: () => {
      counting = false;
    },
  };
}

/** Maps `items` with `mapInChunks`, recording the turn of the loop each item ran in. */
async function mapCountingTurns<R>(
  items: readonly number[],
  fn: (item: number) => R,
  options?: Parameters<typeof mapInChunks>[2],
): Promise<{ result: R[]; turnOf: number[] }> {
  const turns = countTurns();
  const turnOf: number[] = [];
  try {
    const result = await mapInChunks(
      items,
      (item, index) => {
        turnOf[index] = turns.turn();
        return fn(item);
      },
      options,
    );
    return { result, turnOf };
  } finally {
    turns.stop();
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

describe('mapInChunks: partitioning work on the event loop', () => {
  it('keeps a 10 ms timer under 50 ms late through 300 ms of work, with results correct and in order', async () => {
    // 1 500 items of about 0.2 ms each (every 100th takes 2 ms): ~320 ms of CPU in total.
    const items = Array.from({ length: 1500 }, (_, i) => i);
    const slowItem = (i: number) => {
      burn(i % 100 === 0 ? 2 : 0.2);
      return i * 3;
    };
    const best = await withTimerAlongside(() => mapInChunks(items, slowItem));
    expect(best.result, 'results in input order, as items.map(fn) would give').toEqual(
      items.map((i) => i * 3),
    );
    expect(
      best.worstDelayMs,
      `${describeDelay(best)}: a chunk must stop after its ~8 ms budget and yield with setImmediate`,
    ).toBeLessThan(WORST_DELAY_MS);
    expect(best.ticks, 'over ~300 ms of work a 10 ms timer must fire many times').toBeGreaterThanOrEqual(10);
  });

  it('yields to the event loop between chunks, not only to the microtask queue', async () => {
    // A Promise.resolve() "yield" lets other promise jobs in, but timers and I/O still wait.
    const order: string[] = [];
    const items = Array.from({ length: 100 }, (_, i) => i);
    const done = mapInChunks(
      items,
      (i) => {
        burn(1);
        if (i === 0) setImmediate(() => order.push('an immediate ran'));
        if (i === items.length - 1) order.push('last item');
        return i;
      },
      { budgetMs: 5 },
    );
    await done;
    expect(
      order,
      'an immediate queued by the first item must run before the last item: yield with setImmediate between chunks',
    ).toEqual(['an immediate ran', 'last item']);
  });

  it('works in chunks of about the budget, not item by item: cheap items go thousands to a chunk', async () => {
    // 50 000 cheap items are a few milliseconds of work in all: one or two chunks of 8 ms, a handful
    // on a busy machine. Yielding every N items (64, 500) makes 50 000 / N turns of pure overhead.
    const items = Array.from({ length: 50_000 }, (_, i) => i);
    const { result, turnOf } = await mapCountingTurns(items, (i) => i + 1);
    expect(result.length).toBe(50_000);
    expect(result[49_999]).toBe(50_000);
    const chunks = new Set(turnOf).size;
    expect(
      chunks,
      `50 000 cheap items took ${chunks} chunks: a chunk must run until its ~8 ms budget is used, measured with performance.now(), not for a fixed number of items`,
    ).toBeLessThan(100);
  });

  it('gives every chunk its own budget: after a slow first chunk, cheap items still go thousands to a chunk', async () => {
    // 10 items of 2 ms fill the first chunk past its 8 ms budget, so the job needs a second chunk;
    // then 20 000 cheap items. A deadline computed per chunk packs them into a handful of chunks. A
    // deadline computed once per call has passed for every later chunk: one item each, 20 000 turns.
    const items = Array.from({ length: 20_010 }, (_, i) => i);
    const { result, turnOf } = await mapCountingTurns(items, (i) => {
      if (i < 10) burn(2);
      return i;
    });
    expect(result.length).toBe(20_010);
    const chunks = new Set(turnOf).size;
    expect(
      chunks,
      `20 010 items took ${chunks} chunks: each chunk must start its own budget (performance.now() + budgetMs when the chunk begins), not share a deadline computed once per call`,
    ).toBeLessThan(200);
  });

  it('measures time, not items: a chunk of 2 ms items holds at most about 8 ms of them', async () => {
    // 300 cheap items, then 40 items of 2 ms each, with the default 8 ms budget. Whatever the
    // machine does, a 2 ms item takes at least 2 ms by the clock, so a chunk that stops once
    // performance.now() has passed its deadline holds at most 4 of them (5 if it compares with <=).
    // Counting items, or timing the first item and extrapolating, packs many more into one chunk.
    const items = Array.from({ length: 340 }, (_, i) => i);
    const expensive = (i: number) => i >= 300;
    const { result, turnOf } = await mapCountingTurns(items, (i) => {
      if (expensive(i)) burn(2);
      return -i;
    });
    expect(result, 'results in input order').toEqual(items.map((i) => -i));
    const perChunk = new Map<number, number>();
    items.forEach((i) => {
      const turn = turnOf[i] as number;
      if (expensive(i)) perChunk.set(turn, (perChunk.get(turn) ?? 0) + 1);
    });
    const most = Math.max(...perChunk.values());
    expect(
      most,
      `${most} items of 2 ms ran in one chunk (${2 * most} ms without a break): with the default budgetMs of 8 a chunk must stop once 8 ms have passed, checking the clock after every item`,
    ).toBeLessThanOrEqual(5);
  });

  it('yields with setImmediate: the next chunk runs on the very next turn of the loop', async () => {
    // setImmediate continues in the next check phase: one turn of the loop per chunk. setTimeout(0)
    // waits for a timer (at least 1 ms) while the loop turns idly many times in between.
    const items = Array.from({ length: 30 }, (_, i) => i);
    const { turnOf } = await mapCountingTurns(
      items,
      (i) => {
        burn(1);
        return i;
      },
      { budgetMs: 0.5 },
    );
    const chunks = new Set(turnOf).size;
    const span = (turnOf[turnOf.length - 1] as number) - (turnOf[0] as number);
    expect(chunks, 'items of 1 ms with a 0.5 ms budget: one item per chunk').toBe(30);
    expect(
      span,
      `30 chunks took ${span} turns of the event loop: between two chunks yield with setImmediate (one turn), not with setTimeout(0), which idles until a timer is due`,
    ).toBeLessThanOrEqual(2 * chunks);
  });

  it('processes a slow item even when it alone exceeds the budget', async () => {
    const result = await mapInChunks(
      [1, 2, 3],
      (x) => {
        burn(3);
        return x * 10;
      },
      { budgetMs: 1 },
    );
    expect(result, 'every chunk processes at least one item').toEqual([10, 20, 30]);
  });

  it('resolves [] for no items', async () => {
    expect(await mapInChunks([], () => 1)).toEqual([]);
  });

  it('rejects with the error fn throws, and processes no later item', async () => {
    const seen: number[] = [];
    const error = await rejectionOf(
      mapInChunks(
        Array.from({ length: 10 }, (_, i) => i),
        (i) => {
          seen.push(i);
          if (i === 4) throw new TypeError('item 4 is bad');
          return i;
        },
      ),
    );
    expect(error, 'the error thrown by fn rejects the promise').toBeInstanceOf(TypeError);
    expect(seen, 'no item after the failing one is processed').toEqual([0, 1, 2, 3, 4]);
  });

  it('stops between chunks when the signal aborts, rejecting with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('client went away');
    let processed = 0;
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const run = mapInChunks(
      items,
      (i) => {
        burn(0.5);
        processed += 1;
        if (i === 20) setImmediate(() => controller.abort(reason));
        return i;
      },
      { budgetMs: 3, signal: controller.signal },
    );
    expect(await rejectionOf(run), 'the rejection is the signal’s reason itself, not a new error').toBe(
      reason,
    );
    expect(processed, 'work stops at the next chunk boundary after the abort').toBeLessThan(200);
  });

  it('rejects at once with the reason of a signal that is already aborted, processing nothing', async () => {
    const reason = new Error('shutting down');
    let calls = 0;
    const aborted = await rejectionOf(
      mapInChunks([1, 2, 3], (x) => calls++ + x, { signal: AbortSignal.abort(reason) }),
    );
    expect(aborted, 'an already aborted signal rejects with its reason itself, not a new AbortError').toBe(
      reason,
    );
    expect(calls, 'no item is processed when the signal is already aborted').toBe(0);
  });

  it('rejects a budget that is not a finite number above 0 with a RangeError', async () => {
    for (const budgetMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        await rejectionOf(mapInChunks([1], (x) => x, { budgetMs })),
        `budgetMs ${budgetMs} must be refused`,
      ).toBeInstanceOf(RangeError);
      expect(
        await rejectionOf(mapInChunks([1], (x) => x, { budgetMs })),
        'the message names budgetMs',
      ).toHaveProperty('message', expect.stringContaining('budgetMs'));
    }
  });
});

// --- worker threads -------------------------------------------------------------------------------

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

// Every Worker the code under test creates is recorded, so the tests can check it was terminated.
const require = createRequire(import.meta.url);
const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads');
const OriginalWorker = workerThreads.Worker;
const started: { worker: WorkerType; exited: Promise<number> }[] = [];

beforeAll(() => {
  class RecordedWorker extends OriginalWorker {
    constructor(...args: ConstructorParameters<typeof OriginalWorker>) {
      super(...args);
      const exited = new Promise<number>((resolve) => this.once('exit', resolve));
      started.push({ worker: this, exited });
    }
  }
  workerThreads.Worker = RecordedWorker;
  syncBuiltinESMExports();
});
afterAll(async () => {
  workerThreads.Worker = OriginalWorker;
  syncBuiltinESMExports();
  await Promise.all(started.map(({ worker }) => worker.terminate()));
});

/** Passes when every worker started since `mark` has exited; fails if one still runs after 2 s. */
async function workersExited(mark: number, what: string): Promise<void> {
  const timeout = new Promise<'running'>((resolve) => setTimeout(resolve, 2000, 'running').unref());
  for (const { exited } of started.slice(mark)) {
    expect(await Promise.race([exited, timeout]), what).not.toBe('running');
  }
}

describe('runInWorker: offloading CPU-heavy work', () => {
  it('computes in a worker while a 10 ms timer on the main thread stays under 50 ms late', async () => {
    const mark = started.length;
    const best = await withTimerAlongside(() => runInWorker<number>(fixture('fib.mjs'), 34));
    expect(best.result, 'fib(34) computed by the worker').toBe(5_702_887);
    expect(
      best.worstDelayMs,
      `${describeDelay(best)}: the heavy work must run on the worker thread, not this one`,
    ).toBeLessThan(WORST_DELAY_MS);
    await workersExited(mark, 'the worker is terminated once it has delivered its result');
  });

  it('terminates a worker that stays alive after posting its result', async () => {
    const mark = started.length;
    expect(await runInWorker<number>(fixture('lingers.mjs'), 21), 'the first message is the result').toBe(42);
    await workersExited(mark, 'a worker that keeps a timer running must be terminated after its result');
  });

  it('rejects with the error thrown inside the worker', async () => {
    const mark = started.length;
    const error = (await rejectionOf(runInWorker(fixture('throws.mjs'), { id: 7 }))) as Error;
    expect(
      error,
      'the worker’s uncaught error reaches the caller as it is: the worker threw a TypeError, so it is a TypeError',
    ).toBeInstanceOf(TypeError);
    expect(error.message, 'with its own message').toBe('cannot work on {"id":7}');
    await workersExited(mark, 'the failed worker is gone');
  });

  it('rejects when the worker exits without a result, naming the exit code', async () => {
    const error = (await rejectionOf(runInWorker(fixture('exits.mjs'), null))) as Error;
    expect(error, 'a worker that ends without posting is an error, not a hang').toBeInstanceOf(Error);
    expect(error.message, 'the message names the exit code').toMatch(/\b3\b/);
  });

  it('rejects when the worker ends normally (exit code 0) without a result, naming the code', async () => {
    const error = (await rejectionOf(runInWorker(fixture('silent.mjs'), null))) as Error;
    expect(
      error,
      'a worker that finishes its script without posting is an error too, even with exit code 0',
    ).toBeInstanceOf(Error);
    expect(error.message, 'the message names the exit code').toMatch(/\b0\b/);
  });

  it('terminates a runaway worker when the signal times out, rejecting with the TimeoutError', async () => {
    const mark = started.length;
    const before = performance.now();
    const error = (await rejectionOf(
      runInWorker(fixture('spins.mjs'), null, { signal: AbortSignal.timeout(300) }),
    )) as Error;
    expect(error.name, 'AbortSignal.timeout() aborts with a TimeoutError, which is the rejection').toBe(
      'TimeoutError',
    );
    expect(performance.now() - before, 'it gives up when the signal fires, not later').toBeLessThan(3000);
    await workersExited(mark, 'a worker spinning forever must be terminated when the caller gives up');
  });

  it('removes its abort listener once it settles', async () => {
    const { signal } = new AbortController();
    await runInWorker(fixture('fib.mjs'), 5, { signal });
    await rejectionOf(runInWorker(fixture('throws.mjs'), 1, { signal }));
    expect(
      getEventListeners(signal, 'abort').length,
      'a long-lived signal must not collect one listener per call (Node does not warn about it)',
    ).toBe(0);
  });

  it('starts no worker at all when the signal is already aborted', async () => {
    const count = started.length;
    const reason = new Error('the request was cancelled');
    const error = await rejectionOf(
      runInWorker(fixture('fib.mjs'), 10, { signal: AbortSignal.abort(reason) }),
    );
    expect(error, 'an already aborted signal rejects with its reason itself').toBe(reason);
    await nextMacrotask();
    expect(started.length, 'no worker may be started for an aborted signal').toBe(count);
  });
});
