import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type Listening, listen, ManualClock, waitFor } from '../../../src/testing/index.js';
import { type LoadShedder, type LoadShedderOptions, loadShedder } from './shedder.js';

// Real requests to a real server on port 0. The handler is a gate: it records which request started
// and answers only when the test releases it, so every scenario is exact. Queueing delays are decided
// on a ManualClock, so no assertion depends on how fast this machine is.

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) await undo();
});

interface Gate {
  readonly handler: RequestListener;
  /** The URLs the handler was called for, in order. */
  readonly started: string[];
  /** Answers the request for `url` with 200 and `ran <url>`. */
  release(url: string): void;
}

function gate(): Gate {
  const held = new Map<string, ServerResponse>();
  const started: string[] = [];
  return {
    started,
    handler: (req, res) => {
      started.push(req.url ?? '');
      held.set(req.url ?? '', res);
    },
    release(url) {
      const res = held.get(url);
      if (!res) throw new Error(`test bug: ${url} is not running (started: ${started.join(', ')})`);
      held.delete(url);
      res.end(`ran ${url}`);
    },
  };
}

interface Outcome {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: string;
}

/** A request the shedder has seen; its outcome comes when it is answered. */
interface Arrived {
  readonly outcome: Promise<Outcome>;
}

interface Rig {
  readonly shedder: LoadShedder;
  readonly url: string;
  readonly clock: ManualClock;
  /** Sends a request; the promise settles with its outcome (or rejects if the client aborts it). */
  send(path: string, headers?: Record<string, string>, signal?: AbortSignal): Promise<Outcome>;
  /** Sends a request and waits until the shedder has counted it (running, queued or shed). */
  arrive(path: string, headers?: Record<string, string>, signal?: AbortSignal): Promise<Arrived>;
}

async function rig(
  handler: RequestListener,
  options: Omit<LoadShedderOptions, 'clock'> & { clock?: ManualClock },
): Promise<Rig> {
  const clock = options.clock ?? new ManualClock(1_000_000);
  const shedder = loadShedder(handler, { ...options, clock });
  const server: Listening = await listen(createServer(shedder));
  cleanup.push(() => server.close());
  const send = async (path: string, headers: Record<string, string> = {}, signal?: AbortSignal) => {
    const res = await fetch(`${server.url}${path}`, {
      headers,
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(8000)]) : AbortSignal.timeout(8000),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };
  const arrive = async (path: string, headers: Record<string, string> = {}, signal?: AbortSignal) => {
    const { running, queued, shed } = shedder.stats();
    const pending = send(path, headers, signal);
    pending.catch(() => {});
    await waitFor(
      `${path} to arrive (running + queued + shed to grow)`,
      () => {
        const now = shedder.stats();
        return now.running + now.queued + now.shed > running + queued + shed;
      },
      { timeoutMs: 4000, intervalMs: 5 },
    );
    return { outcome: pending };
  };
  return { shedder, url: server.url, clock, send, arrive };
}

const HIGH = { 'x-priority': 'high' };
const ok = (path: string) => ({ status: 200, retryAfter: null, body: `ran ${path}` });

function expectShed(outcome: Outcome, what: string, retryAfter = '1'): void {
  expect(outcome.status, `${what}: shed with 503`).toBe(503);
  expect(outcome.retryAfter, `${what}: every 503 carries Retry-After`).toBe(retryAfter);
  expect(outcome.body.length, `${what}: a short text body`).toBeGreaterThan(0);
}

describe('options', () => {
  it('rejects options out of range with a RangeError naming the option', () => {
    const handler: RequestListener = (_req, res) => void res.end();
    const base = { concurrency: 2, targetQueueMs: 50, maxQueue: 10 };
    const bad: [keyof LoadShedderOptions, number][] = [
      ['concurrency', 0],
      ['concurrency', 1.5],
      ['concurrency', Number.NaN],
      ['concurrency', Number.POSITIVE_INFINITY],
      ['maxQueue', -1],
      ['maxQueue', 2.5],
      ['maxQueue', Number.NaN],
      ['targetQueueMs', -1],
      ['targetQueueMs', Number.NaN],
      ['targetQueueMs', Number.POSITIVE_INFINITY],
      ['retryAfterSeconds', -1],
      ['retryAfterSeconds', 0.5],
      ['retryAfterSeconds', Number.NaN],
    ];
    for (const [name, value] of bad) {
      const attempt = () => loadShedder(handler, { ...base, [name]: value });
      expect(attempt, `${name}: ${value} must be refused`).toThrow(RangeError);
      expect(attempt, `the message names ${name}`).toThrow(name);
    }
    expect(() =>
      loadShedder(handler, { concurrency: 1, targetQueueMs: 0, maxQueue: 0, retryAfterSeconds: 0 }),
    ).not.toThrow();
  });
});

describe('concurrency and the queue', () => {
  it('runs at most `concurrency` handlers; the rest wait and start in arrival order', async () => {
    const g = gate();
    const r = await rig(g.handler, { concurrency: 2, targetQueueMs: 1000, maxQueue: 10 });
    const outcomes = [];
    for (const path of ['/a', '/b', '/c', '/d', '/e']) outcomes.push(await r.arrive(path));
    expect(g.started, 'two slots: only the first two run').toEqual(['/a', '/b']);
    expect(r.shedder.stats()).toMatchObject({ running: 2, queued: 3, served: 2, shed: 0 });
    g.release('/b');
    await waitFor('/c to start', () => g.started.length === 3);
    g.release('/a');
    await waitFor('/d to start', () => g.started.length === 4);
    g.release('/c');
    await waitFor('/e to start', () => g.started.length === 5);
    expect(g.started, 'waiting requests start first come, first served').toEqual([
      '/a',
      '/b',
      '/c',
      '/d',
      '/e',
    ]);
    g.release('/d');
    g.release('/e');
    expect(await Promise.all(outcomes.map((o) => o.outcome))).toEqual(['/a', '/b', '/c', '/d', '/e'].map(ok));
    expect(r.shedder.stats()).toEqual({ running: 0, queued: 0, served: 5, shed: 0, dropped: 0 });
  });

  it('holds a slot until the response closes, also for a handler that answers later from a callback', async () => {
    let inProgress = 0;
    let most = 0;
    const callbackStyle: RequestListener = (_req, res) => {
      inProgress++;
      most = Math.max(most, inProgress);
      setTimeout(() => {
        inProgress--;
        res.end('done');
      }, 30);
    };
    const r = await rig(callbackStyle, { concurrency: 2, targetQueueMs: 1_000_000, maxQueue: 20 });
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => r.send(`/${i}`)));
    expect(outcomes.map((o) => o.status)).toEqual(Array(8).fill(200));
    expect(
      most,
      'a handler that returns before it answers still holds its slot until its response closes',
    ).toBe(2);
  });
});

describe('queueing delay: the signal for shedding', () => {
  it('sheds a request that waited longer than targetQueueMs when its turn came (exactly the target still runs)', async () => {
    const g = gate();
    const r = await rig(g.handler, { concurrency: 1, targetQueueMs: 100, maxQueue: 10 });
    const a = await r.arrive('/a');
    const b = await r.arrive('/b');
    r.clock.advance(50);
    const c = await r.arrive('/c');
    r.clock.advance(50);
    g.release('/a');
    await waitFor('/b to start', () => g.started.length === 2);
    expect(g.started, '/b waited exactly 100 ms: still started').toEqual(['/a', '/b']);
    r.clock.advance(51);
    g.release('/b');
    expectShed(await c.outcome, '/c waited 101 ms for its turn');
    expect(g.started, 'the handler never sees a shed request').toEqual(['/a', '/b']);
    expect(await a.outcome).toEqual(ok('/a'));
    expect(await b.outcome).toEqual(ok('/b'));
    const d = await r.arrive('/d');
    expect(g.started, 'the slot is free: /d starts at once').toEqual(['/a', '/b', '/d']);
    g.release('/d');
    expect(await d.outcome).toEqual(ok('/d'));
    expect(r.shedder.stats()).toEqual({ running: 0, queued: 0, served: 3, shed: 1, dropped: 0 });
  });

  it('after shedding a stale request, starts the next one in the same turn', async () => {
    const g = gate();
    const r = await rig(g.handler, {
      concurrency: 1,
      targetQueueMs: 100,
      maxQueue: 10,
      retryAfterSeconds: 3,
    });
    await r.arrive('/a');
    const stale1 = await r.arrive('/stale-1');
    const stale2 = await r.arrive('/stale-2');
    r.clock.advance(150);
    const fresh = await r.arrive('/fresh');
    r.clock.advance(10);
    g.release('/a');
    expectShed(await stale1.outcome, '/stale-1 waited 160 ms', '3');
    expectShed(await stale2.outcome, '/stale-2 waited 160 ms', '3');
    await waitFor('/fresh to start', () => g.started.includes('/fresh'));
    g.release('/fresh');
    expect(await fresh.outcome, '/fresh waited 10 ms: it runs as soon as the stale ones are shed').toEqual(
      ok('/fresh'),
    );
    expect(r.shedder.stats()).toMatchObject({ running: 0, queued: 0, served: 2, shed: 2 });
  });
});

describe('priority', () => {
  it('starts the oldest high-priority request first, then the oldest low one (x-priority: high, any case)', async () => {
    const g = gate();
    const r = await rig(g.handler, { concurrency: 1, targetQueueMs: 1000, maxQueue: 10 });
    const all = [await r.arrive('/first')];
    const arrivals: [string, Record<string, string>][] = [
      ['/low-1', {}],
      ['/high-1', HIGH],
      ['/low-2', { 'x-priority': 'low' }],
      ['/high-2', { 'x-priority': 'HIGH' }],
      ['/low-3', { 'x-priority': 'urgent' }],
    ];
    for (const [path, headers] of arrivals) {
      r.clock.advance(10); // each arrives 10 ms after the one before: the low ones are older
      all.push(await r.arrive(path, headers));
    }
    for (let turn = 1; turn < 6; turn++) {
      g.release(g.started[turn - 1] ?? '');
      await waitFor(`turn ${turn}`, () => g.started.length === turn + 1);
    }
    expect(g.started, 'high before low, each in arrival order').toEqual([
      '/first',
      '/high-1',
      '/high-2',
      '/low-1',
      '/low-2',
      '/low-3',
    ]);
    g.release('/low-3');
    expect((await Promise.all(all.map((o) => o.outcome))).map((o) => o.status)).toEqual(Array(6).fill(200));
  });

  it('uses the priority function when one is given', async () => {
    const g = gate();
    const r = await rig(g.handler, {
      concurrency: 1,
      targetQueueMs: 1000,
      maxQueue: 10,
      priority: (req) => (req.url?.startsWith('/checkout') ? 'high' : 'low'),
    });
    await r.arrive('/first');
    await r.arrive('/browse', HIGH);
    r.clock.advance(10);
    await r.arrive('/checkout');
    g.release('/first');
    await waitFor('the next request to start', () => g.started.length === 2);
    expect(g.started[1], 'the function decides, not the header').toBe('/checkout');
  });
});

describe('a full queue', () => {
  it('sheds the arrival at once with 503 and Retry-After; the handler never sees it', async () => {
    const g = gate();
    const r = await rig(g.handler, {
      concurrency: 1,
      targetQueueMs: 1000,
      maxQueue: 2,
      retryAfterSeconds: 7,
    });
    await r.arrive('/a');
    await r.arrive('/b');
    await r.arrive('/c');
    expectShed(await r.send('/d'), 'the third waiting request with maxQueue 2', '7');
    expectShed(await r.send('/e', { 'x-priority': 'low' }), 'another low arrival', '7');
    expect(g.started).toEqual(['/a']);
    expect(r.shedder.stats()).toMatchObject({ running: 1, queued: 2, shed: 2 });
  });

  it('lets a high-priority arrival take the place of the newest waiting low one, which is shed', async () => {
    const g = gate();
    const r = await rig(g.handler, { concurrency: 1, targetQueueMs: 1000, maxQueue: 2 });
    await r.arrive('/a');
    const low1 = await r.arrive('/low-1');
    const low2 = await r.arrive('/low-2');
    const high1 = await r.arrive('/high-1', HIGH);
    expectShed(await low2.outcome, '/low-2, the newest low, evicted by /high-1');
    expect(r.shedder.stats(), '/low-1 and /high-1 wait').toMatchObject({ queued: 2, shed: 1 });
    const high2 = await r.arrive('/high-2', HIGH);
    expectShed(await low1.outcome, '/low-1, evicted by /high-2');
    expectShed(await r.send('/high-3', HIGH), 'a high arrival when only high requests wait');
    g.release('/a');
    await waitFor('/high-1 to start', () => g.started.length === 2);
    g.release('/high-1');
    await waitFor('/high-2 to start', () => g.started.length === 3);
    g.release('/high-2');
    expect(await high1.outcome).toEqual(ok('/high-1'));
    expect(await high2.outcome).toEqual(ok('/high-2'));
    expect(g.started).toEqual(['/a', '/high-1', '/high-2']);
    expect(r.shedder.stats()).toEqual({ running: 0, queued: 0, served: 3, shed: 3, dropped: 0 });
  });

  it('with maxQueue 0 nothing waits: a busy server sheds every arrival, high ones too', async () => {
    const g = gate();
    const r = await rig(g.handler, { concurrency: 1, targetQueueMs: 1000, maxQueue: 0 });
    const a = await r.arrive('/a');
    expectShed(await r.send('/b'), 'no queue: /b');
    expectShed(await r.send('/c', HIGH), 'no queue: /c (high)');
    g.release('/a');
    expect(await a.outcome).toEqual(ok('/a'));
  });
});

describe('clients that go away while waiting', () => {
  it('are removed at once (their place is free), never reach the handler, and count as dropped', async () => {
    const g = gate();
    const r = await rig(g.handler, { concurrency: 1, targetQueueMs: 1000, maxQueue: 2 });
    await r.arrive('/a');
    const impatient = new AbortController();
    const gone = await r.arrive('/gone', {}, impatient.signal);
    const stays = await r.arrive('/stays');
    impatient.abort();
    await gone.outcome.catch(() => {});
    await waitFor('the shedder to notice the client left', () => r.shedder.stats().dropped === 1, {
      timeoutMs: 3000,
    });
    expect(r.shedder.stats(), 'the place of /gone is free at once').toMatchObject({ queued: 1, dropped: 1 });
    const next = await r.arrive('/next');
    expect(r.shedder.stats(), '/next takes the free place instead of being shed').toMatchObject({
      queued: 2,
      shed: 0,
    });
    g.release('/a');
    await waitFor('/stays to start', () => g.started.length === 2);
    g.release('/stays');
    await waitFor('/next to start', () => g.started.length === 3);
    g.release('/next');
    expect(await stays.outcome).toEqual(ok('/stays'));
    expect(await next.outcome).toEqual(ok('/next'));
    expect(g.started, 'the handler never runs for a client that left').toEqual(['/a', '/stays', '/next']);
    expect(r.shedder.stats()).toEqual({ running: 0, queued: 0, served: 3, shed: 0, dropped: 1 });
  });
});

describe('handlers that fail', () => {
  it('answers 500 to a handler that throws or rejects, and frees its slot', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanup.push(() => process.off('unhandledRejection', onUnhandled));
    const handler: RequestListener = (req, res) => {
      if (req.url === '/throw') throw new Error('thrown');
      // A RequestListener's type says it returns nothing; an async handler returns a promise anyway.
      if (req.url === '/reject') return Promise.reject(new Error('rejected')) as unknown as undefined;
      res.end('fine');
    };
    const r = await rig(handler, { concurrency: 1, targetQueueMs: 1000, maxQueue: 5 });
    expect((await r.send('/throw')).status, 'a handler that throws').toBe(500);
    expect((await r.send('/reject')).status, 'a handler that rejects').toBe(500);
    const results = await Promise.all(['/throw', '/reject', '/a', '/b'].map((p) => r.send(p)));
    expect(
      results.map((o) => o.status),
      'after failures the slot is free again: later requests are served',
    ).toEqual([500, 500, 200, 200]);
    expect(r.shedder.stats()).toMatchObject({ running: 0, queued: 0, served: 6, shed: 0 });
    expect(unhandled, "a handler's error must not become an unhandled rejection").toEqual([]);
  });
});
