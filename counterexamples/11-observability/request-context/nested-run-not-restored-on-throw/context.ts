/**
 * A request's context (its request id and its span) that follows the request through everything it
 * causes: `await`, timers, `process.nextTick`, promises and, once bound, event emitters, without
 * being passed as an argument. Node's `AsyncLocalStorage`
 * (https://nodejs.org/api/async_context.html#class-asynclocalstorage) does the following:
 * `storage.run(ctx, fn)` makes `ctx` the store for `fn` and for every asynchronous operation `fn`
 * starts, and the store is what it was before once `fn` returns or throws.
 *
 * **Spans.** Each request handled here is a span of its own: it keeps the incoming trace id and
 * flags, records the caller's span as `parentSpanId`, and gets a new span id. Calls made while
 * handling it carry `traceparent: 00-{trace id}-{our span id}-{flags}`, so the next service records
 * our span as its parent (W3C Trace Context, "parent-id": "the ID of this request as known by the
 * caller").
 *
 * **Emitters.** An `EventEmitter` calls its listeners synchronously from whoever calls `emit`, so a
 * listener runs in the *emitter's* caller's context, not in the context of the code that added it.
 * {@link bindEmitter} fixes that per emitter, like OpenTelemetry's `bind(context, emitter)`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type http from 'node:http';
import { formatTraceparent, parseTraceparent, parseTracestate, type SpanContext } from './traceparent.js';

/** What travels with a request. */
export interface RequestContext {
  /** The request's id: the incoming `x-request-id` when it is sane, else a new one. */
  requestId: string;
  /** This service's span for the request. */
  span: SpanContext;
  /** The caller's span id (the incoming `traceparent`'s parent id); absent for a new trace. */
  parentSpanId?: string;
}

/** Where new ids come from; injectable so that tests are deterministic. */
export interface IdSource {
  /** A new trace id: 32 lower-case hex digits, not all zero. */
  traceId(): string;
  /** A new span id: 16 lower-case hex digits, not all zero. */
  spanId(): string;
  /** A new request id (should satisfy the rule for `x-request-id` in {@link contextFromHeaders}). */
  requestId(): string;
}

/** Random hex of `bytes` bytes that is not all zeros (an all-zero id is invalid in a traceparent). */
function randomHexId(bytes: number): string {
  for (;;) {
    const id = randomBytes(bytes).toString('hex');
    if (!/^0+$/.test(id)) return id;
  }
}

/**
 * The default {@link IdSource}: `crypto.randomBytes` for trace and span ids (never all zeros: an
 * all-zero id is invalid in a traceparent), `crypto.randomUUID` for request ids.
 */
export const randomIds: IdSource = {
  traceId: () => randomHexId(16),
  spanId: () => randomHexId(8),
  requestId: () => randomUUID(),
};

/** An `x-request-id` we pass on: 1 to 128 of letters, digits, `-`, `_`, `.`, `:`. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const storage = new AsyncLocalStorage<RequestContext>();

/** The context of the request being handled, or `undefined` outside any (`runWithContext`, `withRequestContext`). */
export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * Runs `fn` with `ctx` as the current context, for `fn` and everything asynchronous it starts
 * (`await`, timers, `setImmediate`, `process.nextTick`, `queueMicrotask`, promises). Contexts nest:
 * inside, `ctx` replaces the outer one; when `fn` returns or throws, the outer context (or none) is
 * current again. Work `fn` started keeps `ctx` even after `fn` returned.
 *
 * @returns what `fn` returns (a promise is returned as it is, not awaited)
 */
export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  const outer = storage.getStore();
  storage.enterWith(ctx);
  const result = fn();
  if (outer === undefined) storage.disable();
  else storage.enterWith(outer);
  return result;
}

/**
 * The context for an incoming request, from its headers:
 *
 * - a valid `traceparent` (see `parseTraceparent`): same trace id and flags, `parentSpanId` = its
 *   parent id, and a new span id from `ids.spanId()`; `tracestate` (see `parseTracestate`, several
 *   headers combined) becomes `span.traceState` when there is one;
 * - no `traceparent`, or an invalid one: a new trace (`ids.traceId()`, `ids.spanId()`), flags `01`
 *   (sampled), no `parentSpanId`, and any `tracestate` ignored (the spec: a receiver that could not
 *   parse `traceparent` must not parse `tracestate`);
 * - `x-request-id`: kept when it is exactly one value of 1 to 128 characters from `A-Z a-z 0-9 - _ . :`
 *   (no spaces, no newlines: it ends up in logs and response headers); otherwise `ids.requestId()`.
 *
 * @param ids where new ids come from; default {@link randomIds}
 */
export function contextFromHeaders(
  headers: http.IncomingHttpHeaders,
  ids: IdSource = randomIds,
): RequestContext {
  const incomingId = headers['x-request-id'];
  const requestId =
    typeof incomingId === 'string' && SANE_REQUEST_ID.test(incomingId) ? incomingId : ids.requestId();
  const parent = parseTraceparent(headers.traceparent);
  if (parent === null) {
    return { requestId, span: { traceId: ids.traceId(), spanId: ids.spanId(), traceFlags: 0x01 } };
  }
  const span: SpanContext = { traceId: parent.traceId, spanId: ids.spanId(), traceFlags: parent.traceFlags };
  const traceState = parseTracestate(headers.tracestate);
  if (traceState !== undefined) span.traceState = traceState;
  return { requestId, span, parentSpanId: parent.spanId };
}

/**
 * Wraps an HTTP request listener so that each request is handled in a context of its own
 * ({@link contextFromHeaders} of its headers). Before `handler` runs, the response gets the header
 * `x-request-id: <requestId>`. The context is current for `handler` and everything it starts, and
 * for nothing else: code that runs after the listener returns on the same path (another `'request'`
 * listener, the next request) does not see it.
 *
 * @param ids where new ids come from; default {@link randomIds}
 */
export function withRequestContext(
  handler: http.RequestListener,
  ids: IdSource = randomIds,
): http.RequestListener {
  return (req, res) => {
    const ctx = contextFromHeaders(req.headers, ids);
    res.setHeader('x-request-id', ctx.requestId);
    storage.run(ctx, () => handler(req, res));
  };
}

/**
 * The headers to put on a call made now to another service: inside a context,
 * `traceparent: 00-{span.traceId}-{span.spanId}-{flags}` (this request's own span is the parent of
 * whatever the callee does), `tracestate` when `span.traceState` is set, and `x-request-id`.
 * Outside any context: `{}` (no trace to continue; the callee starts its own).
 */
export function outgoingHeaders(): Record<string, string> {
  const ctx = storage.getStore();
  if (ctx === undefined) return {};
  const headers: Record<string, string> = {
    traceparent: formatTraceparent(ctx.span),
    'x-request-id': ctx.requestId,
  };
  if (ctx.span.traceState) headers.tracestate = ctx.span.traceState;
  return headers;
}

/**
 * `fetch(input, init)` with {@link outgoingHeaders} added to `init.headers` (they replace headers of
 * the same names given there). Outside any context it is plain `fetch`, headers unchanged.
 */
export function tracedFetch(input: string | URL, init?: RequestInit): Promise<Response> {
  const extra = outgoingHeaders();
  const headers = new Headers(init?.headers);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return fetch(input, { ...init, headers });
}

type Listener = (...args: unknown[]) => unknown;

const ADD_METHODS = ['addListener', 'on', 'once', 'prependListener', 'prependOnceListener'] as const;
const REMOVE_METHODS = ['removeListener', 'off'] as const;
/** Emitters already bound, so that binding twice changes nothing. */
const boundEmitters = new WeakSet<EventEmitter>();

/**
 * Makes `emitter` call each listener in the context that was current when the listener was
 * ADDED (with `on`, `addListener`, `once`, `prependListener` or `prependOnceListener`), instead of
 * the context of whoever calls `emit`; a listener added outside any context runs outside any.
 * `removeListener`/`off` with the original function still remove it, and `removeAllListeners`
 * works as before. Binding an emitter twice changes nothing.
 *
 * @returns the same emitter, patched in place
 */
export function bindEmitter<E extends EventEmitter>(emitter: E): E {
  const target = emitter as E & Record<string | symbol, unknown>;
  if (boundEmitters.has(emitter)) return emitter;
  /** Per event: each original listener → the wrappers added for it, latest last. */
  const wrappers = new Map<string | symbol, Map<Listener, Listener[]>>();
  const remember = (event: string | symbol, listener: Listener, bound: Listener) => {
    const forEvent = wrappers.get(event) ?? new Map<Listener, Listener[]>();
    forEvent.set(listener, [...(forEvent.get(listener) ?? []), bound]);
    wrappers.set(event, forEvent);
  };
  /** Forgets `bound` (or the latest wrapper of `listener`) and returns it. */
  const forget = (event: string | symbol, listener: Listener, bound?: Listener): Listener | undefined => {
    const list = wrappers.get(event)?.get(listener);
    if (list === undefined) return undefined;
    const index = bound === undefined ? list.length - 1 : list.lastIndexOf(bound);
    const [found] = index < 0 ? [] : list.splice(index, 1);
    if (list.length === 0) wrappers.get(event)?.delete(listener);
    return found;
  };
  // `once` adds its own wrapper through `this.on`, which is patched too: wrap only the outer call.
  let adding = false;

  for (const method of ADD_METHODS) {
    const original = target[method] as (event: string | symbol, listener: Listener) => E;
    const isOnce = method === 'once' || method === 'prependOnceListener';
    target[method] = function (this: E, event: string | symbol, listener: Listener): E {
      if (adding) return original.call(this, event, listener);
      const ctx = storage.getStore();
      const bound: Listener = function (this: unknown, ...args: unknown[]) {
        if (isOnce) forget(event, listener, bound);
        const call = () => listener.apply(this, args);
        return ctx === undefined ? storage.exit(call) : storage.run(ctx, call);
      };
      remember(event, listener, bound);
      adding = true;
      try {
        return original.call(this, event, bound);
      } finally {
        adding = false;
      }
    };
  }

  for (const method of REMOVE_METHODS) {
    const original = target[method] as (event: string | symbol, listener: Listener) => E;
    target[method] = function (this: E, event: string | symbol, listener: Listener): E {
      return original.call(this, event, forget(event, listener) ?? listener);
    };
  }

  const removeAll = target.removeAllListeners as (event?: string | symbol) => E;
  target.removeAllListeners = function (this: E, ...args: [event?: string | symbol]): E {
    if (args.length === 0) wrappers.clear();
    else wrappers.delete(args[0] as string | symbol);
    return removeAll.apply(this, args);
  };

  boundEmitters.add(emitter);
  return emitter;
}
