import { EventEmitter } from 'node:events';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, startHttpServer } from '../../../src/testing/index.js';
import {
  bindEmitter,
  contextFromHeaders,
  currentContext,
  outgoingHeaders,
  type RequestContext,
  runWithContext,
  tracedFetch,
  withRequestContext,
} from './context.js';
import { countingIds, incomingTraceparent } from './harness.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

/** A context with recognisable ids: request `name`, trace `cafe…n`, span `beef…n`. */
function ctxNamed(name: string, n: number): RequestContext {
  return {
    requestId: name,
    span: {
      traceId: `cafe${n.toString(16).padStart(28, '0')}`,
      spanId: `beef${n.toString(16).padStart(12, '0')}`,
      traceFlags: 1,
    },
  };
}
const A = ctxNamed('A', 1);
const B = ctxNamed('B', 2);
const C = ctxNamed('C', 3);
const nameNow = () => currentContext()?.requestId;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('contextFromHeaders', () => {
  it('continues a valid incoming trace: same trace id and flags, the caller as parent, a NEW span id', () => {
    const ids = countingIds();
    const ctx = contextFromHeaders({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` }, ids);
    expect(ctx.span.traceId, 'the trace id of the incoming traceparent is kept').toBe(TRACE_ID);
    expect(ctx.parentSpanId, "the incoming parent id is our span's parent").toBe(SPAN_ID);
    expect(ctx.span.spanId, 'our span id is new, minted by the IdSource').toBe(ids.minted.spanIds[0]);
    expect(ctx.span.traceFlags, 'the flags are kept').toBe(1);
    expect(ids.minted.traceIds, 'no new trace id is minted for a valid incoming trace').toEqual([]);
  });

  it('keeps an unsampled flag (00) as it came', () => {
    const ctx = contextFromHeaders({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` }, countingIds());
    expect(ctx.span.traceFlags, 'the caller decided not to sample: keep it').toBe(0);
  });

  it('continues a future-version trace (cc with extra fields)', () => {
    const ctx = contextFromHeaders({ traceparent: `cc-${TRACE_ID}-${SPAN_ID}-01-future` }, countingIds());
    expect([ctx.span.traceId, ctx.parentSpanId], 'trace id and parent from the first four fields').toEqual([
      TRACE_ID,
      SPAN_ID,
    ]);
  });

  it.each([
    ['absent', {}],
    ['version ff', { traceparent: `ff-${TRACE_ID}-${SPAN_ID}-01` }],
    ['all-zero trace id', { traceparent: `00-${'0'.repeat(32)}-${SPAN_ID}-01` }],
    ['upper-case hex', { traceparent: `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01` }],
    ['garbage', { traceparent: 'hello' }],
  ])('starts a fresh root trace when traceparent is %s: new ids, sampled, no parent', (_, headers) => {
    const ids = countingIds();
    const ctx = contextFromHeaders({ ...headers, tracestate: 'rojo=1' }, ids);
    expect(ctx.span.traceId, 'a new trace id from the IdSource').toBe(ids.minted.traceIds[0]);
    expect(ctx.span.spanId, 'a new span id from the IdSource').toBe(ids.minted.spanIds[0]);
    expect(ctx.span.traceFlags, 'a fresh root is sampled (01)').toBe(1);
    expect(ctx.parentSpanId, 'a root span has no parent').toBeUndefined();
    expect(ctx.span.traceState, 'tracestate is ignored without a valid traceparent').toBeUndefined();
  });

  it('carries tracestate (several headers combined) with a valid traceparent', () => {
    const ctx = contextFromHeaders(
      { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: ['rojo=1', 'congo=2'] as unknown as string },
      countingIds(),
    );
    expect(ctx.span.traceState).toBe('rojo=1,congo=2');
    const without = contextFromHeaders({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` }, countingIds());
    expect(
      'traceState' in without.span && without.span.traceState !== undefined,
      'no tracestate, no traceState',
    ).toBe(false);
  });

  it('keeps a sane x-request-id and mints one otherwise', () => {
    const keep = ['abc-123', 'req_1.2:3', '3f2b8c1e-9d4a-4f7b-8e2a-1c5d6e7f8a9b', 'x'.repeat(128)];
    for (const id of keep) {
      expect(contextFromHeaders({ 'x-request-id': id }, countingIds()).requestId, `"${id}" is sane`).toBe(id);
    }
    const replace = ['', 'has space', 'line\nbreak', 'x'.repeat(129), '<script>', 'a,b'];
    for (const id of replace) {
      const ids = countingIds();
      expect(
        contextFromHeaders({ 'x-request-id': id }, ids).requestId,
        `${JSON.stringify(id)} is replaced`,
      ).toBe(ids.minted.requestIds[0]);
    }
    const ids = countingIds();
    expect(contextFromHeaders({}, ids).requestId, 'no x-request-id: a new one').toBe(
      ids.minted.requestIds[0],
    );
  });

  it('uses crypto-random ids by default: 32 and 16 lower-case hex digits, different each time', () => {
    const one = contextFromHeaders({});
    const two = contextFromHeaders({});
    expect(one.span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(one.span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(one.requestId.length, 'a request id is minted').toBeGreaterThan(0);
    expect([
      one.span.traceId === two.span.traceId,
      one.span.spanId === two.span.spanId,
      one.requestId === two.requestId,
    ]).toEqual([false, false, false]);
  });
});

describe('runWithContext and currentContext', () => {
  it('is undefined outside any context, and the context inside', () => {
    expect(nameNow(), 'outside any context').toBeUndefined();
    expect(
      runWithContext(A, () => currentContext()),
      'inside run',
    ).toBe(A);
  });

  it("returns fn's value, a promise as it is", async () => {
    expect(runWithContext(A, () => 42)).toBe(42);
    const p = runWithContext(A, async () => 'later');
    expect(p, 'an async fn gives its promise back').toBeInstanceOf(Promise);
    await expect(p).resolves.toBe('later');
  });

  it('survives await, setTimeout, setImmediate, process.nextTick and queueMicrotask', async () => {
    const seen = await runWithContext(A, async () => {
      const names: Record<string, string | undefined> = {};
      await null;
      names.await = nameNow();
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      names.afterTimeout = nameNow();
      names.setTimeout = await new Promise((resolve) => setTimeout(() => resolve(nameNow()), 1));
      names.setImmediate = await new Promise((resolve) => setImmediate(() => resolve(nameNow())));
      names.nextTick = await new Promise((resolve) => process.nextTick(() => resolve(nameNow())));
      names.queueMicrotask = await new Promise((resolve) => queueMicrotask(() => resolve(nameNow())));
      return names;
    });
    expect(seen, 'every continuation sees the context it was started in').toEqual({
      await: 'A',
      afterTimeout: 'A',
      setTimeout: 'A',
      setImmediate: 'A',
      nextTick: 'A',
      queueMicrotask: 'A',
    });
    expect(nameNow(), 'and the caller is outside again').toBeUndefined();
  });

  it('restores the outer context after a nested run returns, and after it throws ("should finally restore an old context")', () => {
    runWithContext(A, () => {
      runWithContext(B, () => {
        expect(nameNow(), 'inside the nested run').toBe('B');
      });
      expect(nameNow(), 'after the nested run returned').toBe('A');
      expect(() =>
        runWithContext(C, () => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(nameNow(), 'after the nested run threw').toBe('A');
    });
    expect(() =>
      runWithContext(A, () => {
        throw new Error('outer boom');
      }),
    ).toThrow('outer boom');
    expect(nameNow(), 'after the outermost run threw, no context').toBeUndefined();
  });

  it('a nested run that is not awaited keeps its context for its own continuations only', async () => {
    const inner: Array<string | undefined> = [];
    const done = runWithContext(A, async () => {
      const child = runWithContext(B, async () => {
        await tick();
        inner.push(nameNow());
      });
      expect(nameNow(), 'right after starting the nested run').toBe('A');
      await tick();
      inner.push(nameNow());
      await child;
      inner.push(nameNow());
    });
    await done;
    expect(inner, 'B for the child, A for the parent before and after awaiting it').toEqual(['B', 'A', 'A']);
  });

  it('Promise.all of children, each in its own nested context, keeps them apart', async () => {
    const results = await runWithContext(A, () =>
      Promise.all(
        [B, C, ctxNamed('D', 4)].map((ctx, i) =>
          runWithContext(ctx, async () => {
            const names: Array<string | undefined> = [];
            for (let step = 0; step < 3; step++) {
              await new Promise((resolve) => setTimeout(resolve, (i * 7 + step * 3) % 4));
              names.push(nameNow());
            }
            return names;
          }),
        ),
      ).then((all) => ({ all, after: nameNow() })),
    );
    expect(results.all, 'each child sees its own context at every step').toEqual([
      ['B', 'B', 'B'],
      ['C', 'C', 'C'],
      ['D', 'D', 'D'],
    ]);
    expect(results.after, 'the parent sees its own after Promise.all').toBe('A');
  });
});

describe('bindEmitter', () => {
  it('an unbound emitter runs listeners in the context of emit (what bindEmitter fixes)', () => {
    const plain = new EventEmitter();
    let seen: string | undefined = 'unset';
    runWithContext(A, () => plain.on('x', () => (seen = nameNow())));
    runWithContext(B, () => plain.emit('x'));
    expect(seen, 'without binding, the listener sees the emitter caller (B)').toBe('B');
  });

  it('a bound emitter runs each listener in the context current when it was added', () => {
    const emitter = bindEmitter(new EventEmitter());
    const seen: Array<[string, string | undefined]> = [];
    runWithContext(A, () => emitter.on('x', () => seen.push(['on', nameNow()])));
    runWithContext(B, () => emitter.addListener('x', () => seen.push(['addListener', nameNow()])));
    runWithContext(C, () => emitter.prependListener('x', () => seen.push(['prependListener', nameNow()])));
    emitter.on('x', () => seen.push(['outside', nameNow()]));
    runWithContext(ctxNamed('E', 5), () => emitter.emit('x'));
    expect(seen, 'each listener sees the context it was added in; one added outside sees none').toEqual([
      ['prependListener', 'C'],
      ['on', 'A'],
      ['addListener', 'B'],
      ['outside', undefined],
    ]);
  });

  it('once and prependOnceListener are bound and fire once', () => {
    const emitter = bindEmitter(new EventEmitter());
    const seen: Array<string | undefined> = [];
    runWithContext(A, () => emitter.once('x', () => seen.push(nameNow())));
    runWithContext(B, () => emitter.prependOnceListener('x', () => seen.push(nameNow())));
    runWithContext(C, () => {
      emitter.emit('x');
      emitter.emit('x');
    });
    expect(seen, 'once listeners run in their own contexts, once').toEqual(['B', 'A']);
    expect(emitter.listenerCount('x'), 'no listener left').toBe(0);
  });

  it('passes arguments and this, and removeListener/off with the original function remove the listener', () => {
    const emitter = bindEmitter(new EventEmitter());
    const calls: unknown[] = [];
    function listener(this: unknown, ...args: unknown[]) {
      calls.push([this === emitter, ...args]);
    }
    runWithContext(A, () => emitter.on('x', listener));
    emitter.emit('x', 1, 2);
    emitter.removeListener('x', listener);
    emitter.emit('x', 3);
    runWithContext(A, () => emitter.on('y', listener));
    emitter.off('y', listener);
    emitter.emit('y', 4);
    const onceListener = () => calls.push('once');
    emitter.once('z', onceListener);
    emitter.removeListener('z', onceListener);
    emitter.emit('z');
    expect(calls, 'called with the emitter as this and the arguments, never after removal').toEqual([
      [true, 1, 2],
    ]);
    expect([emitter.listenerCount('x'), emitter.listenerCount('y'), emitter.listenerCount('z')]).toEqual([
      0, 0, 0,
    ]);
  });

  it('a listener added twice in two contexts runs twice, each in its own, and two removals remove both', () => {
    const emitter = bindEmitter(new EventEmitter());
    const seen: Array<string | undefined> = [];
    const listener = () => seen.push(nameNow());
    runWithContext(A, () => emitter.on('x', listener));
    runWithContext(B, () => emitter.on('x', listener));
    emitter.emit('x');
    expect(seen, 'both registrations run, in the order added, each in its context').toEqual(['A', 'B']);
    emitter.removeListener('x', listener);
    emitter.emit('x');
    expect(seen.slice(2), 'one removal removes one registration (the latest, as EventEmitter does)').toEqual([
      'A',
    ]);
    emitter.removeListener('x', listener);
    emitter.removeListener('x', listener);
    emitter.removeListener('never-added', listener);
    emitter.emit('x');
    expect(
      seen.length,
      'after two removals nothing runs; extra removals are no-ops, as in EventEmitter',
    ).toBe(3);
    expect(emitter.listenerCount('x')).toBe(0);
  });

  it('a once listener that fired no longer counts: removeListener then removes the other registration', () => {
    const emitter = bindEmitter(new EventEmitter());
    const seen: Array<string | undefined> = [];
    const listener = () => seen.push(nameNow());
    runWithContext(B, () => emitter.on('x', listener));
    runWithContext(A, () => emitter.once('x', listener));
    emitter.emit('x');
    emitter.removeListener('x', listener);
    emitter.emit('x');
    runWithContext(A, () => emitter.once('y', listener));
    runWithContext(B, () => emitter.on('y', listener));
    emitter.emit('y');
    emitter.removeListener('y', listener);
    emitter.emit('y');
    runWithContext(B, () => emitter.on('z', listener));
    runWithContext(A, () => emitter.prependOnceListener('z', listener));
    emitter.emit('z');
    emitter.removeListener('z', listener);
    emitter.emit('z');
    expect(seen, 'the once registration fired and went; removeListener removed the on registration').toEqual([
      'B',
      'A',
      'A',
      'B',
      'A',
      'B',
    ]);
    expect(
      [emitter.listenerCount('x'), emitter.listenerCount('y'), emitter.listenerCount('z')],
      'nothing left',
    ).toEqual([0, 0, 0]);
  });

  it('removeAllListeners still works, and binding twice changes nothing', () => {
    const emitter = bindEmitter(bindEmitter(new EventEmitter()));
    const seen: Array<string | undefined> = [];
    runWithContext(A, () => emitter.on('x', () => seen.push(nameNow())));
    runWithContext(B, () => emitter.emit('x'));
    expect(seen, 'a listener of an emitter bound twice runs once, in its context').toEqual(['A']);
    emitter.removeAllListeners('x');
    emitter.emit('x');
    expect(seen, 'no call after removeAllListeners(event)').toEqual(['A']);
    runWithContext(B, () => emitter.on('x', () => seen.push(nameNow())));
    emitter.removeAllListeners();
    emitter.emit('x');
    expect(seen, 'no call after removeAllListeners()').toEqual(['A']);
  });

  it('returns the same emitter', () => {
    const emitter = new EventEmitter();
    expect(bindEmitter(emitter)).toBe(emitter);
  });
});

describe('outgoingHeaders and tracedFetch', () => {
  let server: Listening<http.Server>;
  const received: http.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = await startHttpServer((req, res) => {
      received.push(req.headers);
      res.end('ok');
    });
  });
  afterAll(() => server.close());

  const lastReceived = () => received[received.length - 1] ?? {};

  it('outside any context: no headers', () => {
    expect(outgoingHeaders(), 'nothing to continue').toEqual({});
  });

  it('inside a context: traceparent with our own span as the parent, tracestate when there is one', () => {
    const ctx: RequestContext = {
      requestId: 'r-1',
      span: { traceId: TRACE_ID, spanId: 'beef000000000001', traceFlags: 1, traceState: 'rojo=1' },
      parentSpanId: SPAN_ID,
    };
    const headers = runWithContext(ctx, () => outgoingHeaders());
    expect(headers.traceparent, "the callee's parent is this request's span, not our caller's").toBe(
      `00-${TRACE_ID}-beef000000000001-01`,
    );
    expect(headers.tracestate, 'tracestate is passed on').toBe('rojo=1');
    const plain = runWithContext(A, () => outgoingHeaders());
    expect(plain.traceparent).toBe(`00-${A.span.traceId}-${A.span.spanId}-01`);
    expect('tracestate' in plain, 'no tracestate when the span has none').toBe(false);
  });

  it('tracedFetch outside any context sends no traceparent and keeps the caller headers', async () => {
    const res = await tracedFetch(server.url, { headers: { 'x-mine': 'yes' } });
    expect(res.status).toBe(200);
    await res.text();
    expect(lastReceived().traceparent, 'no context, no traceparent').toBeUndefined();
    expect(lastReceived()['x-mine'], 'the caller header is sent').toBe('yes');
  });

  it('tracedFetch inside a context sends traceparent (and tracestate), keeping other headers and the method', async () => {
    const ctx = contextFromHeaders(
      { traceparent: incomingTraceparent(7).header, tracestate: 'congo=t61' },
      countingIds(),
    );
    const res = await runWithContext(ctx, async () => {
      await tick();
      return tracedFetch(new URL('/x', server.url), {
        method: 'POST',
        body: 'hi',
        headers: { 'x-mine': 'yes' },
      });
    });
    await res.text();
    const got = lastReceived();
    expect(got.traceparent, 'the trace continues with our span as parent').toBe(
      `00-${ctx.span.traceId}-${ctx.span.spanId}-01`,
    );
    expect(got.tracestate).toBe('congo=t61');
    expect(got['x-request-id'], 'the request id goes along').toBe(ctx.requestId);
    expect(got['x-mine'], 'caller headers are kept').toBe('yes');
    expect(got['content-length'], 'the body is sent').toBe('2');
  });
});

describe('withRequestContext', () => {
  it('sets x-request-id on the response and runs the handler in the request context', async () => {
    const ids = countingIds();
    const server = await startHttpServer(
      withRequestContext(async (_req, res) => {
        await tick();
        res.end(JSON.stringify(currentContext()));
      }, ids),
    );
    try {
      const incoming = incomingTraceparent(3);
      const res = await fetch(server.url, {
        headers: { traceparent: incoming.header, 'x-request-id': 'abc-1' },
      });
      const body = (await res.json()) as RequestContext;
      expect(res.headers.get('x-request-id'), 'the response echoes the request id').toBe('abc-1');
      expect(body.requestId).toBe('abc-1');
      expect(body.span.traceId).toBe(incoming.traceId);
      expect(body.parentSpanId).toBe(incoming.spanId);
      expect(body.span.spanId, 'a span id minted by the IdSource given').toBe(ids.minted.spanIds[0]);
      const fresh = await fetch(server.url);
      expect(fresh.headers.get('x-request-id'), 'a minted request id is echoed').toBe(
        ids.minted.requestIds[0],
      );
      await fresh.text();
    } finally {
      await server.close();
    }
  });

  it('the context does not leak past the listener: another request listener on the same server sees none', async () => {
    const seenByOther: Array<RequestContext | undefined> = [];
    const server = await startHttpServer(withRequestContext((_req, res) => res.end('ok'), countingIds()));
    server.server.on('request', () => seenByOther.push(currentContext()));
    try {
      for (let i = 0; i < 2; i++) await (await fetch(server.url)).text();
      expect(seenByOther, 'code after the wrapped listener on the same path must see no context').toEqual([
        undefined,
        undefined,
      ]);
    } finally {
      await server.close();
    }
  });

  it('the context does not leak into the code that called the listener', () => {
    const listener = withRequestContext((_req, res) => res.end(), countingIds());
    const req = new http.IncomingMessage(null as never);
    req.headers = { 'x-request-id': 'direct-1' };
    const res = new http.ServerResponse(req);
    res.end = (() => res) as never;
    listener(req, res);
    expect(currentContext(), 'after the listener returns, the caller has no context').toBeUndefined();
  });
});
