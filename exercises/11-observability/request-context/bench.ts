/**
 * `npm run bench -- 11-observability/request-context`: what a request context costs.
 *
 * 1. **Parsing `traceparent`**: your `parseTraceparent` against OpenTelemetry JS's
 *    `W3CTraceContextPropagator.extract` (from `@opentelemetry/core`, the propagator most Node.js
 *    tracing installs), on the same 100,000 pre-generated headers (valid, future-version and
 *    invalid ones mixed), in one process, alternating to share the machine's noise.
 * 2. **AsyncLocalStorage per request**: autocannon (in a worker thread, so the server has the main
 *    thread to itself) against the same handler, which awaits twice and answers a small JSON body,
 *    bare and then wrapped in your `withRequestContext` with each request carrying a `traceparent`.
 *    The difference is everything the wrapper does: parse the header, mint ids, `storage.run`, and
 *    the async hooks bookkeeping of every promise the handler creates while a store is set.
 */
import type http from 'node:http';
import { createServer } from 'node:http';
import { ROOT_CONTEXT, type TextMapGetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { BenchContext } from '../../../src/testing/index.js';
import { comparisonTable, httpLoad, listen } from '../../../src/testing/index.js';
import { currentContext, withRequestContext } from './context.js';
import { seeded } from './harness.js';
import { parseTraceparent } from './traceparent.js';

const HEADERS = 100_000;
const ROUNDS = 5;

function makeHeaders(): string[] {
  const random = seeded(7);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  return Array.from({ length: HEADERS }, (_, i) => {
    const kind = i % 10;
    if (kind < 7) return `00-${hex(32)}-${hex(16)}-01`;
    if (kind === 7) return `cc-${hex(32)}-${hex(16)}-01-future`;
    if (kind === 8) return `ff-${hex(32)}-${hex(16)}-01`;
    return `00-${hex(32).toUpperCase()}-${hex(16)}-01`;
  });
}

/** Parses every header `ROUNDS` times with each parser, alternating, and keeps each one's best round. */
function parseBench(ctx: BenchContext): void {
  const headers = makeHeaders();
  const propagator = new W3CTraceContextPropagator();
  const getter: TextMapGetter<Record<string, string>> = { get: (c, k) => c[k], keys: (c) => Object.keys(c) };
  const parsers: Array<[string, (h: string) => boolean]> = [
    ['parseTraceparent (yours)', (h) => parseTraceparent(h) !== null],
    [
      'OTel W3CTraceContextPropagator.extract',
      (h) => trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent: h }, getter)) !== undefined,
    ],
  ];
  const best = new Map<string, number>();
  const accepted = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, parse] of parsers) {
      let ok = 0;
      const t0 = performance.now();
      for (const h of headers) if (parse(h)) ok++;
      const seconds = (performance.now() - t0) / 1000;
      best.set(label, Math.max(best.get(label) ?? 0, HEADERS / seconds));
      accepted.set(label, ok);
    }
  }
  const base = best.get(parsers[1]?.[0] ?? '') ?? 1;
  ctx.log(`Parsing ${HEADERS.toLocaleString('en-US')} traceparent headers, best of ${ROUNDS} rounds:`);
  for (const [label] of parsers) {
    const perSecond = best.get(label) ?? 0;
    ctx.log(
      `  ${label.padEnd(40)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} /s  ${(perSecond / base).toFixed(2)}× OTel  (accepted ${accepted.get(label)})`,
    );
  }
}

const body = JSON.stringify({ ok: true });

async function handler(_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  await null;
  await new Promise<void>((resolve) => setImmediate(resolve));
  const id = currentContext()?.requestId ?? 'none';
  res.writeHead(200, { 'content-type': 'application/json', 'x-seen': id });
  res.end(body);
}

export default async function bench(ctx: BenchContext): Promise<void> {
  parseBench(ctx);
  ctx.log('');
  const bare = await listen(createServer((req, res) => void handler(req, res)));
  const wrapped = await listen(createServer(withRequestContext((req, res) => void handler(req, res))));
  const headers = {
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'x-request-id': 'bench-1',
  };
  try {
    ctx.log(
      `HTTP: ${ctx.connections} connections, ${ctx.durationSeconds} s per phase, autocannon in a worker thread`,
    );
    const common = {
      connections: ctx.connections,
      durationSeconds: ctx.durationSeconds,
      inWorker: true,
      headers,
    };
    const plain = await httpLoad({ label: 'bare handler', url: bare.url, ...common });
    const withCtx = await httpLoad({ label: 'withRequestContext', url: wrapped.url, ...common });
    for (const line of comparisonTable([plain, withCtx])) ctx.log(line);
  } finally {
    await bare.close();
    await wrapped.close();
  }
}
