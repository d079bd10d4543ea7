import { EventEmitter } from 'node:events';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, startHttpServer } from '../../../src/testing/index.js';
import {
  bindEmitter,
  currentContext,
  type RequestContext,
  tracedFetch,
  withRequestContext,
} from './context.js';
import { countingIds, incomingTraceparent, seeded } from './harness.js';

const REQUESTS = 100;

/** What the downstream service saw for one call. */
interface Downstream {
  traceparent: string | undefined;
  requestId: string | undefined;
}

/** What the upstream handler answers: its context as it saw it at each step. */
interface Answer {
  start: RequestContext;
  afterDelays: string | undefined;
  listenerSaw: string | undefined;
  afterFetch: string | undefined;
  downstreamStatus: number;
}

describe('100 concurrent requests through withRequestContext and tracedFetch', () => {
  let downstream: Listening<http.Server>;
  let upstream: Listening<http.Server>;
  const calls: Downstream[] = [];
  const random = seeded(11);
  const delay = () => new Promise<void>((resolve) => setTimeout(resolve, Math.floor(random() * 6)));
  /**
   * A bus shared by all requests, bound once: each request adds a listener (in its own context) for
   * its reply, and a pump outside any request emits the replies in another order.
   */
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const waiting: string[] = [];
  let pump: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    downstream = await startHttpServer((req, res) => {
      const { traceparent, 'x-request-id': requestId } = req.headers;
      calls.push({
        traceparent: typeof traceparent === 'string' ? traceparent : undefined,
        requestId: typeof requestId === 'string' ? requestId : undefined,
      });
      setTimeout(() => res.end('ok'), Math.floor(random() * 4));
    });
    // The pump runs outside any request: it answers waiting requests a few at a time, newest first.
    pump = setInterval(() => {
      for (let i = 0; i < 7 && waiting.length > 0; i++) bus.emit(`reply:${waiting.pop()}`);
    }, 1);
  });

  afterAll(async () => {
    clearInterval(pump);
    await upstream?.close();
    await downstream?.close();
  });

  it('every request keeps its own ids end to end: no bleed between requests', {
    timeout: 20_000,
  }, async () => {
    bindEmitter(bus);
    upstream = await startHttpServer(
      withRequestContext(async (_req, res) => {
        try {
          const start = currentContext() as RequestContext;
          const id = start.requestId;
          await delay();
          await new Promise<void>((resolve) => setTimeout(resolve, 0));
          await delay();
          const afterDelays = currentContext()?.requestId;
          const listenerSaw = await new Promise<string | undefined>((resolve) => {
            bus.once(`reply:${id}`, () => resolve(currentContext()?.requestId));
            waiting.push(id);
          });
          const answer = await tracedFetch(downstream.url);
          await answer.text();
          const afterFetch = currentContext()?.requestId;
          const body: Answer = {
            start,
            afterDelays,
            listenerSaw,
            afterFetch,
            downstreamStatus: answer.status,
          };
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(body));
        } catch (error) {
          res.statusCode = 500;
          res.end(JSON.stringify({ error: String(error) }));
        }
      }, countingIds()),
    );
    const sent = Array.from({ length: REQUESTS }, (_, i) => {
      const kind = i % 4; // 0, 1: a valid traceparent; 2: none; 3: an invalid one
      const incoming = incomingTraceparent(i + 1, i % 8 !== 1);
      const headers: Record<string, string> = {};
      if (kind < 2) headers.traceparent = incoming.header;
      if (kind === 3) headers.traceparent = `ff-${incoming.traceId}-${incoming.spanId}-01`;
      if (i % 3 === 0) headers['x-request-id'] = `client-${i}`;
      return { i, kind, incoming, headers };
    });

    const results = await Promise.all(
      sent.map(async (s) => {
        const res = await fetch(upstream.url, { headers: s.headers, signal: AbortSignal.timeout(15_000) });
        return { ...s, echoed: res.headers.get('x-request-id'), body: (await res.json()) as Answer };
      }),
    );

    const byRequestId = new Map(calls.map((c) => [c.requestId, c]));
    expect(calls.length, 'one downstream call per request').toBe(REQUESTS);
    const spanIds = new Set<string>();
    for (const r of results) {
      expect(
        r.body.start,
        `request ${r.i}: the handler answered without an error (${JSON.stringify(r.body)})`,
      ).toBeDefined();
      const { start } = r.body;
      const what = `request ${r.i} (${['valid traceparent', 'valid traceparent', 'no traceparent', 'invalid traceparent'][r.kind]})`;
      expect(r.echoed, `${what}: the response echoes its request id`).toBe(start.requestId);
      if (r.headers['x-request-id'])
        expect(start.requestId, `${what}: its x-request-id is kept`).toBe(r.headers['x-request-id']);
      expect(
        [r.body.afterDelays, r.body.listenerSaw, r.body.afterFetch],
        `${what}: after awaits and timers, in the bound listener, and after fetch, the handler sees its own request`,
      ).toEqual([start.requestId, start.requestId, start.requestId]);
      if (r.kind < 2) {
        expect(start.span.traceId, `${what}: the incoming trace id is kept`).toBe(r.incoming.traceId);
        expect(start.parentSpanId, `${what}: the caller's span is the parent`).toBe(r.incoming.spanId);
        expect(start.span.traceFlags, `${what}: the flags are kept`).toBe(r.i % 8 !== 1 ? 1 : 0);
      } else {
        expect(start.span.traceId, `${what}: a fresh trace`).not.toBe(r.incoming.traceId);
        expect(start.parentSpanId, `${what}: a root span has no parent`).toBeUndefined();
      }
      expect(start.span.spanId, `${what}: a new span id, not the caller's`).not.toBe(r.incoming.spanId);
      spanIds.add(start.span.spanId);

      const call = byRequestId.get(start.requestId);
      const flags = start.span.traceFlags.toString(16).padStart(2, '0');
      expect(
        call?.traceparent,
        `${what}: the downstream call carries this request's trace id with this request's span as parent`,
      ).toBe(`00-${start.span.traceId}-${start.span.spanId}-${flags}`);
      expect(r.body.downstreamStatus).toBe(200);
    }
    expect(spanIds.size, 'every request has a span id of its own').toBe(REQUESTS);
  });
});
