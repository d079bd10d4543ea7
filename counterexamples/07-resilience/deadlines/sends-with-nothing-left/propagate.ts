/**
 * Deadlines across HTTP hops. The caller sends what is left of its budget in a header, as gRPC sends
 * `grpc-timeout` and Envoy `x-envoy-expected-rq-timeout-ms`; the server starts its own deadline from
 * it, so a request that has 80 ms left is not worked on for 5 s further down. The header carries a
 * duration, not a point in time, so the two machines' clocks need not agree.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { type Clock, Deadline, DeadlineExceededError } from './deadline.js';

/** The request header that carries the remaining budget: whole milliseconds, `0` to `2147483647`. */
export const DEADLINE_HEADER = 'x-request-timeout-ms';

/** The largest budget the header can carry (2^31 − 1 ms, about 24.8 days; also `setTimeout`'s limit). */
export const MAX_HEADER_MS = 2 ** 31 - 1;

/**
 * `fetch` under a deadline.
 *
 * - Refuses to send when less than 1 ms remains (the header would say 0): rejects with a
 *   {@link DeadlineExceededError} and makes no request. A deadline whose signal has already aborted
 *   rejects with the signal's reason, and so does an `init.signal` that has.
 * - Sends {@link DEADLINE_HEADER} with the remaining milliseconds rounded down (never more than
 *   {@link MAX_HEADER_MS}), replacing any value `init.headers` had for it; the other headers in
 *   `init` are sent as given.
 * - Aborts the request, and the reading of its body, when the deadline's signal aborts (the fetch
 *   rejects with its reason: a `DeadlineExceededError` when the time ran out) or when `init.signal`
 *   aborts (with that reason).
 * - Leaves no 'abort' listener behind on the deadline's signal or on `init.signal` (`fetch` keeps
 *   listening to the signal it is given until the request is garbage-collected, so hand it a signal of
 *   its own). Never throws synchronously: every failure is a rejection.
 */
export async function fetchWithDeadline(
  url: string | URL,
  deadline: Deadline,
  init: RequestInit = {},
): Promise<Response> {
  deadline.ensure();
  if (init.signal?.aborted) throw init.signal.reason;
  const headers = new Headers(init.headers);
  headers.set(DEADLINE_HEADER, String(Math.min(MAX_HEADER_MS, Math.floor(deadline.remaining()))));
  // AbortSignal.any() follows its sources without adding listeners to them.
  const signal = AbortSignal.any(init.signal ? [deadline.signal, init.signal] : [deadline.signal]);
  return fetch(url, { ...init, headers, signal });
}

/** A handler that runs under the request's deadline. */
export type DeadlineHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  deadline: Deadline,
) => void | Promise<void>;

export interface WithDeadlineOptions {
  /** The budget of a request without the header, in ms. A finite number > 0. */
  readonly defaultMs: number;
  /** The most any request gets, whatever its header asks for, in ms. A finite number > 0. */
  readonly maxMs: number;
  /** Default: `performance.now()`. */
  readonly clock?: Clock;
}

/**
 * Wraps `handler` as a `node:http` request listener that gives every request a deadline.
 *
 * - The budget is the {@link DEADLINE_HEADER} value capped at `maxMs`, or `defaultMs` (also capped at
 *   `maxMs`) when the header is absent. A header that is not a whole number from 0 to 2147483647 in
 *   plain digits (`1e3`, `-5`, `12ms`, `1.5`, empty, or two values joined as `100, 200`) gets `400`
 *   with a text body that names the header, and the handler is not called.
 * - A budget of 0 (the caller has no time left) gets `504` at once, and the handler is not called.
 * - Otherwise the handler is called with `(req, res, deadline)`. When the deadline passes before the
 *   handler has finished the response, its signal aborts (so the handler's downstream calls stop) and
 *   the client gets `504` with a short text body; if the handler had already sent the headers, the
 *   response is destroyed instead (a truncated body must not look complete). Whatever the handler
 *   writes after that is ignored.
 * - When the client goes away before the response is finished, the deadline's signal aborts with an
 *   `AbortError`. (Not `req`'s 'close': that event fires as soon as the request body has been read.)
 * - When the handler throws or rejects before finishing the response: `500` if nothing was sent yet,
 *   otherwise the response is destroyed; the error never becomes an unhandled rejection.
 * - The request's deadline is disposed when the response closes (finished or not): no timer or
 *   listener outlives a request.
 * @throws {RangeError} when `defaultMs` or `maxMs` is not a finite number > 0 (the message names it)
 */
export function withDeadline(handler: DeadlineHandler, options: WithDeadlineOptions): RequestListener {
  const { defaultMs, maxMs, clock } = options;
  requirePositive('defaultMs', defaultMs);
  requirePositive('maxMs', maxMs);
  return (req, res) => {
    const asked = parseBudget(req.headers[DEADLINE_HEADER]);
    if (asked === 'malformed') {
      sendText(
        res,
        400,
        `${DEADLINE_HEADER} must be a whole number of milliseconds from 0 to ${MAX_HEADER_MS}`,
      );
      return;
    }
    const budgetMs = Math.min(asked ?? defaultMs, maxMs);
    if (budgetMs === 0) {
      sendText(res, 504, 'deadline exceeded: the request arrived with no time left');
      return;
    }
    const disconnect = new AbortController();
    const deadline = Deadline.after(budgetMs, { signal: disconnect.signal, ...(clock ? { clock } : {}) });
    res.once('close', () => {
      if (!res.writableFinished) disconnect.abort();
      deadline.dispose();
    });
    deadline.signal.addEventListener(
      'abort',
      () => {
        if (disconnect.signal.aborted || res.writableEnded) return;
        if (res.headersSent) res.destroy();
        else sendText(res, 504, 'deadline exceeded: the server ran out of time for this request');
      },
      { once: true },
    );
    Promise.resolve()
      .then(() => handler(req, res, deadline))
      .catch(() => {
        if (res.writableEnded) return;
        if (res.headersSent) res.destroy();
        else sendText(res, 500, 'internal error');
      });
  };
}

/** The header's budget in ms, `undefined` when absent, `'malformed'` when it is not a valid value. */
function parseBudget(value: string | string[] | undefined): number | undefined | 'malformed' {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value)) return 'malformed';
  const ms = Number(value);
  return ms <= MAX_HEADER_MS ? ms : 'malformed';
}

function requirePositive(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number of milliseconds above 0; got ${value}`);
  }
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
}
