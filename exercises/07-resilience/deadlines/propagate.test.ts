import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FaultProxy,
  type Listening,
  listen,
  ManualClock,
  startFaultProxy,
  waitFor,
} from '../../../src/testing/index.js';
import { Deadline, DeadlineExceededError } from './deadline.js';
import { DEADLINE_HEADER, type DeadlineHandler, fetchWithDeadline, withDeadline } from './propagate.js';

// Real servers on port 0 and real fetch. Deadlines are 100-300 ms; every wait has a wide, one-sided
// limit (a client gives up after 5 s; "in time" means well within 2.5 s), so a busy machine slows the
// suite down but does not fail it. A ManualClock is used where the test needs exact numbers.

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) await undo();
});

async function serve(listener: RequestListener): Promise<Listening> {
  const server = await listen(createServer(listener));
  cleanup.push(() => server.close());
  return server;
}

async function proxyTo(server: { port: number }): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ port: server.port });
  cleanup.push(() => proxy.close());
  return proxy;
}

/** A timer that the test's cleanup clears, for handlers that ignore their signal. */
function later(ms: number, fn: () => void): void {
  const timer = setTimeout(fn, ms);
  cleanup.push(() => clearTimeout(timer));
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function workFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A downstream that records every request's headers and answers 200 with `ok`. */
async function recorder(): Promise<Listening & { seen: IncomingMessage['headers'][] }> {
  const seen: IncomingMessage['headers'][] = [];
  const server = await serve((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.end('ok');
  });
  return Object.assign(server, { seen });
}

/** A downstream that accepts requests and never answers; `open` counts requests not yet closed. */
async function silent(): Promise<{ url: string; port: number; received: () => number; open: () => number }> {
  let received = 0;
  let open = 0;
  const server = await serve((_req, res) => {
    received++;
    open++;
    res.once('close', () => open--);
  });
  return { url: server.url, port: server.port, received: () => received, open: () => open };
}

/** A client request with its own generous limit, so a broken server fails the test instead of hanging it. */
async function get(url: string, headers: Record<string, string> = {}, init: RequestInit = {}) {
  const started = performance.now();
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000), ...init });
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - started };
}

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;
const activeTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

function expectDeadlineExceeded(error: unknown, what: string): void {
  expect(error, `${what}: expected a DeadlineExceededError`).toBeInstanceOf(DeadlineExceededError);
}

const START = 5_000_000;

describe('fetchWithDeadline: the budget goes out as a header', () => {
  it('sends x-request-timeout-ms with the remaining milliseconds, rounded down', async () => {
    const downstream = await recorder();
    const clock = new ManualClock(START);
    const deadline = Deadline.after(1000, { clock });
    cleanup.push(() => deadline.dispose());
    await (await fetchWithDeadline(downstream.url, deadline)).text();
    clock.advance(0.4);
    await (await fetchWithDeadline(`${downstream.url}/a`, deadline)).text();
    clock.advance(749.2);
    await (await fetchWithDeadline(new URL(`${downstream.url}/b`), deadline)).text();
    expect(DEADLINE_HEADER).toBe('x-request-timeout-ms');
    expect(
      downstream.seen.map((h) => h['x-request-timeout-ms']),
      'the header carries what remains, in whole ms rounded down (999.6 ms left is "999", never "1000")',
    ).toEqual(['1000', '999', '250']);
  });

  it('caps the header at 2147483647 ms for a longer deadline', async () => {
    const downstream = await recorder();
    const deadline = Deadline.after(30 * 24 * 3600 * 1000);
    cleanup.push(() => deadline.dispose());
    await (await fetchWithDeadline(downstream.url, deadline)).text();
    expect(downstream.seen[0]?.['x-request-timeout-ms']).toBe('2147483647');
  });

  it('refuses to send with less than 1 ms left: DeadlineExceededError, and no request is made', async () => {
    const downstream = await recorder();
    const clock = new ManualClock(START);
    const deadline = Deadline.after(100, { clock });
    cleanup.push(() => deadline.dispose());
    clock.advance(99);
    await (await fetchWithDeadline(downstream.url, deadline)).text();
    expect(
      downstream.seen.map((h) => h['x-request-timeout-ms']),
      'exactly 1 ms left is sent as "1"',
    ).toEqual(['1']);
    clock.advance(0.5);
    let sync: unknown;
    let pending: Promise<Response> | undefined;
    try {
      pending = fetchWithDeadline(downstream.url, deadline);
    } catch (error) {
      sync = error;
    }
    expect(sync, 'fetchWithDeadline never throws synchronously: it rejects').toBeUndefined();
    const refused = await pending?.catch((error: unknown) => error);
    expectDeadlineExceeded(refused, 'fetchWithDeadline with 0.5 ms left');
    clock.advance(10);
    expectDeadlineExceeded(
      await fetchWithDeadline(downstream.url, deadline).catch((error: unknown) => error),
      'fetchWithDeadline after the deadline',
    );
    expect(downstream.seen.length, 'a request with no time left must not be sent at all').toBe(1);
  });

  it("rejects with the reason and sends nothing when the deadline's signal or init.signal has aborted", async () => {
    const downstream = await recorder();
    const caller = new AbortController();
    const deadline = Deadline.after(10_000, { signal: caller.signal });
    cleanup.push(() => deadline.dispose());
    const mine = new AbortController();
    const myReason = new Error('already given up');
    mine.abort(myReason);
    await expect(fetchWithDeadline(downstream.url, deadline, { signal: mine.signal })).rejects.toBe(myReason);
    const reason = new Error('client went away');
    caller.abort(reason);
    await expect(fetchWithDeadline(downstream.url, deadline)).rejects.toBe(reason);
    expect(downstream.seen.length, 'nothing may be sent after a cancellation').toBe(0);
  });

  it("keeps the caller's headers (an object, a Headers, or pairs) and replaces a deadline header among them", async () => {
    const downstream = await recorder();
    const clock = new ManualClock(START);
    const deadline = Deadline.after(800, { clock });
    cleanup.push(() => deadline.dispose());
    const given: HeadersInit[] = [
      { 'x-trace': 'object', 'x-request-timeout-ms': '999999' },
      new Headers({ 'x-trace': 'headers', 'X-Request-Timeout-Ms': '999999' }),
      [
        ['x-trace', 'pairs'],
        ['x-request-timeout-ms', '999999'],
      ],
    ];
    for (const headers of given) {
      await (
        await fetchWithDeadline(downstream.url, deadline, { headers, method: 'POST', body: 'x' })
      ).text();
    }
    expect(
      downstream.seen.map((h) => h['x-trace']),
      'every kind of RequestInit.headers keeps its headers',
    ).toEqual(['object', 'headers', 'pairs']);
    expect(
      downstream.seen.map((h) => h['x-request-timeout-ms']),
      "the deadline's budget replaces a caller's value for the header (a forwarded incoming header, say)",
    ).toEqual(['800', '800', '800']);
  });

  it('aborts a request to a downstream that never answers: DeadlineExceededError in time, connection closed', async () => {
    const downstream = await silent();
    const deadline = Deadline.after(2000);
    cleanup.push(() => deadline.dispose());
    const started = performance.now();
    const pending = fetchWithDeadline(downstream.url, deadline).catch((error: unknown) => error);
    await waitFor('the request to reach the downstream', () => downstream.received() === 1, {
      timeoutMs: 2000,
    });
    const outcome = await pending;
    expectDeadlineExceeded(outcome, 'a request to a silent downstream');
    expect(performance.now() - started, 'rejected soon after the 2 s deadline').toBeLessThan(4500);
    await waitFor('the aborted request to be closed at the downstream', () => downstream.open() === 0, {
      timeoutMs: 2000,
    });
  });

  it('a hung connection (the fault proxy paused) turns into a DeadlineExceededError within the budget', async () => {
    let proxy: FaultProxy | undefined;
    const downstream = await serve((req, res) => {
      // The network stalls while the answer is on its way: the proxy holds every byte from now on.
      if (req.url === '/stall') proxy?.pause();
      setImmediate(() => res.end('ok'));
    });
    proxy = await proxyTo(downstream);
    const url = `http://127.0.0.1:${proxy.port}`;
    const deadline = Deadline.after(200);
    cleanup.push(() => deadline.dispose());
    const started = performance.now();
    const outcome = await fetchWithDeadline(`${url}/stall`, deadline).then(
      (response) => response.text(),
      (error: unknown) => error,
    );
    expectDeadlineExceeded(outcome, 'a request whose answer is stuck in a paused connection');
    expect(performance.now() - started).toBeLessThan(2500);
  });

  it('aborts the reading of the body when the deadline passes mid-body', async () => {
    const downstream = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('the first half, ');
    });
    const deadline = Deadline.after(2000);
    cleanup.push(() => deadline.dispose());
    const response = await fetchWithDeadline(downstream.url, deadline);
    expect(response.status).toBe(200);
    const outcome = await response.text().catch((error: unknown) => error);
    expectDeadlineExceeded(outcome, 'reading a body that never ends');
  });

  it('aborts when init.signal aborts, with its reason, long before the deadline', async () => {
    const downstream = await silent();
    const deadline = Deadline.after(10_000);
    cleanup.push(() => deadline.dispose());
    const mine = new AbortController();
    const reason = new Error('the user navigated away');
    later(50, () => mine.abort(reason));
    const started = performance.now();
    await expect(fetchWithDeadline(downstream.url, deadline, { signal: mine.signal })).rejects.toBe(reason);
    expect(performance.now() - started, 'init.signal stops the request, not the 10 s deadline').toBeLessThan(
      2500,
    );
    expect(deadline.signal.aborted, "the caller's own signal does not abort the deadline").toBe(false);
  });

  it("leaves no abort listener on the deadline's signal or on init.signal after 100 requests", async () => {
    const downstream = await recorder();
    const deadline = Deadline.after(60_000);
    cleanup.push(() => deadline.dispose());
    const mine = new AbortController();
    const before = abortListeners(deadline.signal);
    for (let i = 0; i < 100; i++) {
      const init = i % 2 === 0 ? {} : { signal: mine.signal };
      await (await fetchWithDeadline(downstream.url, deadline, init)).text();
    }
    expect(
      abortListeners(deadline.signal),
      "listeners on the deadline's signal after 100 requests (fetch keeps a listener on the signal it is given)",
    ).toBe(before);
    expect(abortListeners(mine.signal), 'listeners on init.signal after 50 requests').toBe(0);
  });
});

describe('withDeadline: every request gets a deadline', () => {
  /** A server whose handler records each request's remaining budget (on a clock that does not move). */
  async function budgetServer(defaultMs: number, maxMs: number) {
    const budgets: number[] = [];
    const clock = new ManualClock(START);
    const server = await serve(
      withDeadline(
        (_req, res, deadline) => {
          budgets.push(deadline.remaining());
          res.end('ok');
        },
        { defaultMs, maxMs, clock },
      ),
    );
    return { url: server.url, budgets };
  }

  it('gives the header’s budget, or defaultMs without one, both capped at maxMs', async () => {
    const a = await budgetServer(200, 300);
    expect((await get(a.url)).status).toBe(200);
    expect((await get(a.url, { 'x-request-timeout-ms': '250' })).status).toBe(200);
    expect((await get(a.url, { 'x-request-timeout-ms': '5000' })).status).toBe(200);
    expect((await get(a.url, { 'x-request-timeout-ms': '300' })).status).toBe(200);
    expect((await get(a.url, { 'x-request-timeout-ms': '2147483647' })).status).toBe(200);
    expect(
      a.budgets,
      'no header: defaultMs; a header: its value; never more than maxMs (a client cannot buy an hour)',
    ).toEqual([200, 250, 300, 300, 300]);
    const b = await budgetServer(5000, 300);
    await get(b.url);
    expect(b.budgets, 'defaultMs is capped at maxMs too').toEqual([300]);
  });

  it('answers 400 naming the header for a value that is not a whole number 0..2147483647, without the handler', async () => {
    const server = await budgetServer(200, 1000);
    for (const bad of ['1e3', '-5', '12ms', '1.5', '', '0x10', '+5', '2147483648', '99999999999', 'soon']) {
      const { status, body } = await get(server.url, { 'x-request-timeout-ms': bad });
      expect(status, `x-request-timeout-ms: "${bad}" must be refused with 400`).toBe(400);
      expect(body, 'the 400 body names the header, so the client knows what to fix').toContain(
        'x-request-timeout-ms',
      );
    }
    const twice = new Headers();
    twice.append('x-request-timeout-ms', '100');
    twice.append('x-request-timeout-ms', '200');
    const joined = await get(server.url, {}, { headers: twice });
    expect(joined.status, 'two values ("100, 200") are not one whole number').toBe(400);
    expect(server.budgets, 'the handler must not run for a malformed header').toEqual([]);
  });

  it('answers 504 at once, without the handler, to a request that arrives with 0 ms left', async () => {
    const server = await budgetServer(200, 1000);
    const { status } = await get(server.url, { 'x-request-timeout-ms': '0' });
    expect(status, 'a caller with no time left gets 504').toBe(504);
    expect(server.budgets, 'the handler must not run with no time left').toEqual([]);
  });

  it('rejects a defaultMs or maxMs that is not a finite number > 0 with a RangeError naming it', () => {
    const ok: DeadlineHandler = (_req, res) => void res.end();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => withDeadline(ok, { defaultMs: bad, maxMs: 1000 }), `defaultMs: ${bad}`).toThrow(
        /defaultMs/,
      );
      expect(() => withDeadline(ok, { defaultMs: 100, maxMs: bad }), `maxMs: ${bad}`).toThrow(/maxMs/);
      expect(() => withDeadline(ok, { defaultMs: bad, maxMs: 1000 })).toThrow(RangeError);
    }
  });

  it("answers 504 when the handler is too slow, and aborts the handler's signal so its work stops", async () => {
    const reasons: unknown[] = [];
    const server = await serve(
      withDeadline(
        (_req, res, deadline) => {
          deadline.signal.addEventListener('abort', () => reasons.push(deadline.signal.reason));
          later(3000, () => res.end('too late'));
        },
        { defaultMs: 10_000, maxMs: 10_000 },
      ),
    );
    const { status, ms } = await get(server.url, { 'x-request-timeout-ms': '150' });
    expect(status, 'a handler that outlives its budget: the client gets 504 from the wrapper').toBe(504);
    expect(ms, 'soon after the 150 ms budget, not when the handler finally answers').toBeLessThan(2500);
    expect(reasons.length, "the handler's deadline must abort").toBe(1);
    expectDeadlineExceeded(reasons[0], "the handler's signal's reason");
  });

  it('destroys a response cut off by the deadline after its headers went out (a truncated body must not look complete)', async () => {
    const server = await serve(
      withDeadline(
        (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('half a body');
        },
        { defaultMs: 150, maxMs: 150 },
      ),
    );
    const response = await fetch(server.url, { signal: AbortSignal.timeout(5000) });
    expect(response.status).toBe(200);
    const outcome = await response.text().then(
      (text) => `the body ended cleanly: "${text}"`,
      (error: unknown) => error,
    );
    expect(outcome, 'the client must see the body fail, not a clean end').toBeInstanceOf(Error);
    expect(String((outcome as Error).name)).not.toBe('TimeoutError');
  });

  it("ignores the handler's writes after the 504, and keeps serving", async () => {
    let lateWrites = 0;
    const server = await serve(
      withDeadline(
        (req, res) => {
          if (req.url === '/slow') {
            later(200, () => {
              lateWrites++;
              res.write('late');
              res.end('late');
            });
          } else res.end('fast');
        },
        { defaultMs: 100, maxMs: 100 },
      ),
    );
    expect((await get(`${server.url}/slow`)).status).toBe(504);
    await waitFor('the late write', () => lateWrites === 1, { timeoutMs: 2000 });
    const next = await get(`${server.url}/fast`);
    expect(next, 'the server keeps serving after a late write').toMatchObject({ status: 200, body: 'fast' });
  });

  it('aborts the deadline with an AbortError when the client goes away before the response', async () => {
    const reasons: unknown[] = [];
    let started = false;
    const server = await serve(
      withDeadline(
        async (_req, res, deadline) => {
          started = true;
          try {
            await workFor(8000, deadline.signal);
            res.end('done');
          } catch (error) {
            reasons.push(error);
            throw error;
          }
        },
        { defaultMs: 10_000, maxMs: 10_000 },
      ),
    );
    const client = new AbortController();
    const request = fetch(server.url, { signal: client.signal }).catch(() => {});
    await waitFor('the handler to start', () => started, { timeoutMs: 2000 });
    client.abort();
    await request;
    await waitFor("the handler's deadline to abort after the client left", () => reasons.length === 1, {
      timeoutMs: 2500,
    });
    expect((reasons[0] as Error).name, 'the reason is an AbortError, not a DeadlineExceededError').toBe(
      'AbortError',
    );
  });

  it('does not abort the deadline when the handler reads the request body ("close" on req is not a disconnect)', async () => {
    const server = await serve(
      withDeadline(
        async (req, res, deadline) => {
          let body = '';
          for await (const chunk of req) body += chunk;
          await workFor(150, deadline.signal);
          res.end(`got ${body}`);
        },
        { defaultMs: 10_000, maxMs: 10_000 },
      ),
    );
    const { status, body } = await get(server.url, {}, { method: 'POST', body: 'hello' });
    expect(
      { status, body },
      'reading the body must not abort the deadline: req emits "close" once the body is read',
    ).toEqual({ status: 200, body: 'got hello' });
  });

  it('answers 500 to a handler that throws or rejects, and keeps serving', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanup.push(() => process.off('unhandledRejection', onUnhandled));
    const handler: DeadlineHandler = (req, res) => {
      if (req.url === '/throw') throw new Error('thrown');
      if (req.url === '/reject') return Promise.reject(new Error('rejected'));
      res.end('fine');
    };
    const server = await serve(withDeadline(handler, { defaultMs: 5000, maxMs: 5000 }));
    expect((await get(`${server.url}/throw`)).status, 'a handler that throws synchronously').toBe(500);
    expect((await get(`${server.url}/reject`)).status, 'a handler that rejects').toBe(500);
    expect((await get(`${server.url}/`)).body).toBe('fine');
    expect(unhandled, "the handler's error must not become an unhandled rejection").toEqual([]);
  });

  it('no timer outlives a request: 60 requests with a 60 s budget leave the active timers as they were', {
    timeout: 30_000,
  }, async () => {
    const server = await serve(
      withDeadline((req, res) => void res.end(req.url), { defaultMs: 60_000, maxMs: 60_000 }),
    );
    await get(server.url);
    const before = activeTimers();
    for (let i = 0; i < 60; i++)
      await get(`${server.url}/${i}`, i % 3 ? {} : { 'x-request-timeout-ms': '50000' });
    expect(
      activeTimers(),
      "timers still running after 60 finished requests: dispose each request's deadline when its response closes",
    ).toBeLessThan(before + 15);
  });
});

describe('a chain: client → middle → downstream, the budget shrinking at every hop', () => {
  interface Downstream {
    headers: (string | undefined)[];
    aborts: unknown[];
  }

  /** The downstream: records the budget it was given and works `?work=ms`, honouring its signal. */
  async function startDownstream(): Promise<Listening & Downstream> {
    const state: Downstream = { headers: [], aborts: [] };
    const handler: DeadlineHandler = async (req, res, deadline) => {
      state.headers.push(req.headers['x-request-timeout-ms'] as string | undefined);
      const work = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('work') ?? 0);
      try {
        await workFor(work, deadline.signal);
      } catch (error) {
        state.aborts.push(error);
        throw error;
      }
      res.end(`worked ${work} ms`);
    };
    return Object.assign(await serve(withDeadline(handler, { defaultMs: 30_000, maxMs: 30_000 })), state);
  }

  /** The middle: waits `?pre=ms`, then calls the downstream under its own deadline; 502 for a broken call. */
  async function startMiddle(downstreamUrl: string): Promise<Listening> {
    const handler: DeadlineHandler = async (req, res, deadline) => {
      const pre = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('pre') ?? 0);
      if (pre > 0) await workFor(pre, deadline.signal);
      try {
        const response = await fetchWithDeadline(`${downstreamUrl}${req.url}`, deadline);
        const text = await response.text();
        res.writeHead(response.status).end(text);
      } catch (error) {
        if (error instanceof DeadlineExceededError) throw error; // the wrapper has answered 504
        res.writeHead(502).end(`downstream failed: ${String(error)}`);
      }
    };
    return serve(withDeadline(handler, { defaultMs: 30_000, maxMs: 30_000 }));
  }

  it('the downstream sees what the middle had left, not what the client sent', async () => {
    const downstream = await startDownstream();
    const middle = await startMiddle(downstream.url);
    const { status } = await get(`${middle.url}/?pre=150`, { 'x-request-timeout-ms': '3000' });
    expect(status).toBe(200);
    const seen = Number(downstream.headers[0]);
    expect(seen, 'after 150 ms in the middle, at most 2850 of the 3000 ms are left').toBeLessThanOrEqual(
      2850,
    );
    expect(seen, 'but the budget is passed on, not reset').toBeGreaterThan(100);
    const plain = await get(`${middle.url}/`);
    expect(plain.status).toBe(200);
    expect(
      Number(downstream.headers[1]),
      'without a header, the middle passes on its defaultMs budget',
    ).toBeLessThanOrEqual(30_000);
    expect(Number(downstream.headers[1])).toBeGreaterThan(25_000);
  });

  it('work that outlives the budget is killed at the downstream, and the client gets 504 in time', async () => {
    const downstream = await startDownstream();
    const middle = await startMiddle(downstream.url);
    const { status, ms } = await get(`${middle.url}/?work=8000`, { 'x-request-timeout-ms': '300' });
    expect(status, 'the request could not finish in 300 ms').toBe(504);
    expect(ms, 'the 504 comes soon after the 300 ms budget, not after the 8 s of work').toBeLessThan(2500);
    await waitFor("the downstream's work to be aborted", () => downstream.aborts.length === 1, {
      timeoutMs: 2000,
    });
    // Whichever comes first stops it: the downstream's own deadline (DeadlineExceededError), or the
    // middle giving up on the call, which the downstream sees as its client going away (AbortError).
    expect(['DeadlineExceededError', 'AbortError']).toContain((downstream.aborts[0] as Error).name);
  });

  it('a downstream that ignores the header and hangs: the middle still answers 504 within its budget', async () => {
    const downstream = await silent();
    const middle = await startMiddle(downstream.url);
    const { status, ms } = await get(middle.url, { 'x-request-timeout-ms': '200' });
    expect(status).toBe(504);
    expect(ms).toBeLessThan(2500);
    await waitFor('the middle to close its abandoned request', () => downstream.open() === 0, {
      timeoutMs: 2000,
    });
  });

  it('a hung connection to the downstream (fault proxy paused) becomes a 504 within the budget', async () => {
    let proxy: FaultProxy | undefined;
    const downstream = await serve((req, res) => {
      if (req.url === '/stall') proxy?.pause();
      setImmediate(() => res.end('ok'));
    });
    proxy = await proxyTo(downstream);
    const middle = await startMiddle(`http://127.0.0.1:${proxy.port}`);
    expect((await get(middle.url)).status, 'through the proxy, before the fault').toBe(200);
    const { status, ms } = await get(`${middle.url}/stall`, { 'x-request-timeout-ms': '200' });
    expect(status, 'a stalled network is a deadline exceeded, not a hang').toBe(504);
    expect(ms).toBeLessThan(2500);
  });

  it('a reset connection (fault proxy cut) becomes an error at once, long before the budget is spent', async () => {
    const downstream = await silent();
    const proxy = await proxyTo(downstream);
    const middle = await startMiddle(`http://127.0.0.1:${proxy.port}`);
    const started = performance.now();
    const pending = get(middle.url, { 'x-request-timeout-ms': '20000' }).catch((error: unknown) => ({
      status: `no response: ${String(error)}`,
    }));
    await waitFor('the request to reach the downstream', () => downstream.received() === 1, {
      timeoutMs: 2000,
    });
    proxy.cut();
    const { status } = await pending;
    expect(status, 'the middle turns a reset into its own 502').toBe(502);
    expect(
      performance.now() - started,
      'a reset is reported at once, not after the 20 s budget',
    ).toBeLessThan(3000);
  });

  it('40 requests through the chain leave no timers behind', { timeout: 30_000 }, async () => {
    const downstream = await startDownstream();
    const middle = await startMiddle(downstream.url);
    await get(middle.url);
    const before = activeTimers();
    for (let i = 0; i < 40; i++) {
      const { status } = await get(`${middle.url}/?i=${i}`, i % 2 ? { 'x-request-timeout-ms': '20000' } : {});
      expect(status).toBe(200);
    }
    expect(activeTimers(), 'timers still running after 40 requests through two hops').toBeLessThan(
      before + 15,
    );
  });
});
