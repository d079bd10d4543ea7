/**
 * A client for one named service: the piece of client-side discovery that lives in every caller.
 * It asks an {@link InstanceSource} (a registry) which instances exist, spreads calls over them round
 * robin, keeps connections alive, bounds every attempt with a timeout, retries what is safe to retry
 * on another instance, and steers around an instance that refuses connections for a while.
 *
 * ```
 *   request ─▶ list (cached; looked up again after a change notification)
 *           ─▶ pick (round robin; untried and not suspect first)
 *           ─▶ attempt (keep-alive agent, timeoutMs for the whole attempt)
 *              ├─ response of any status ─▶ resolve
 *              └─ refused / reset before a response / timed out
 *                   ─▶ idempotent method and retries left? next attempt on another instance
 *                   ─▶ otherwise reject
 * ```
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Instance, InstanceSource } from './instance-source.js';

export type { Instance, InstanceSource };

/** What the client reads the time from (ms). Default: `Date.now()`. */
export interface Clock {
  now(): number;
}

export interface ServiceClientOptions {
  /** The service to call, e.g. `"orders"`: a non-empty string. */
  readonly service: string;
  /** Where the instances come from: an object with `lookup` and `watch` functions. */
  readonly source: InstanceSource;
  /**
   * The limit for one attempt, in ms: connecting, sending, and receiving the whole response (headers
   * and body). A positive finite number. A call with retries can take up to `(retries + 1) * timeoutMs`.
   */
  readonly timeoutMs: number;
  /** How many times a failed idempotent call is tried again: an integer ≥ 0. Default 1. */
  readonly retries?: number;
  /** How long an instance that refused a connection stays suspect, in ms: a finite number ≥ 0. Default 5000. */
  readonly suspectMs?: number;
  /** Default: `Date.now()`. Only suspicion reads it; timeouts are real timers. */
  readonly clock?: Clock;
}

/** One call, as the caller describes it. */
export interface ServiceRequest {
  /** An HTTP method, any case (`'get'` is GET). */
  readonly method: string;
  /** The path and query, starting with `/`, e.g. `/orders/7?expand=items`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent with a `Content-Length`; kept, so a retry sends the same bytes. */
  readonly body?: string | Uint8Array;
}

/** The answer of the instance that answered. */
export interface ServiceResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The whole body, byte for byte. */
  readonly body: Buffer;
  /** Which instance answered. */
  readonly instance: Instance;
}

export interface ServiceClient {
  /**
   * Calls one instance of the service and resolves with its answer, whatever its status.
   * @throws {TypeError} (as a rejection) when `method` is not an HTTP token or `path` does not
   * start with `/`; nothing is sent
   * @throws {NoInstanceError} (as a rejection) when the source lists no instance
   * @throws {ServiceTimeoutError} (as a rejection) when the last attempt timed out
   * @throws the last attempt's socket error (as a rejection), with Node's `code`: `ECONNREFUSED`,
   * `ECONNRESET`, ...
   * @throws the source's error (as a rejection) when its `lookup` failed
   * @throws {Error} (as a rejection) once the client is closed
   */
  request(request: ServiceRequest): Promise<ServiceResponse>;
  /**
   * Stops watching the source and destroys the client's agent: its connections close, calls in
   * flight reject and are not retried, and later calls reject.
   */
  close(): void;
}

/** The rejection of a call when the source lists no instance of the service. */
export class NoInstanceError extends Error {
  readonly code = 'ENOINSTANCE';
  override readonly name = 'NoInstanceError';

  constructor(readonly service: string) {
    super(`no instance of service "${service}" is registered: start one, or check its heartbeats`);
  }
}

/** The rejection of a call whose last attempt did not finish within `timeoutMs`. */
export class ServiceTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  override readonly name = 'ServiceTimeoutError';

  constructor(
    readonly instance: Instance,
    readonly timeoutMs: number,
  ) {
    super(
      `instance ${instance.id} of service "${instance.service}" (${instance.host}:${instance.port}) ` +
        `did not answer completely within ${timeoutMs} ms`,
    );
  }
}

const todo = (fn: string) =>
  new Error(`${fn}() is not implemented yet: open exercises/03-services/service-client/service-client.ts`);

/**
 * Creates a client for `options.service`.
 *
 * **The list.** The client calls `source.watch(service, ...)` once, when it is created. It calls
 * `source.lookup(service)` on the first request, and then again only on the first request after a
 * change notification (however many notifications came in between): never per request. Requests
 * that need the list while a lookup is in flight wait for that lookup instead of starting another,
 * unless a notification came after it started: its answer may be stale, so the next request looks
 * up again. A lookup that fails rejects the requests waiting for it and is not kept: the next
 * request looks up again. An empty list rejects with {@link NoInstanceError}.
 *
 * **Round robin** (chapter 08's rule): the instances in list order, one after another. After picking
 * the instance at position i, the search for the next pick starts at position i + 1 (modulo the
 * list's length at that time), also when the list was looked up again in between: a refresh does
 * not send the next call back to the first instance. From there, each attempt takes the first
 * instance that this call has not tried and that is not suspect; failing that, the first not tried;
 * failing that, the first not suspect; failing that, the first.
 *
 * **Connections.** One `http.Agent({ keepAlive: true })` per client, for every instance: sequential
 * calls to one instance reuse one TCP connection. `close()` destroys it.
 *
 * **Timeouts.** Each attempt must finish (connect, send, and receive the whole body) within
 * `timeoutMs`, or it fails with {@link ServiceTimeoutError} and its socket is destroyed, so the
 * instance sees the request closed. A response that is slow to start but complete within the limit
 * is not cut. When an attempt ends, its timer is cleared: no timer outlives a call.
 *
 * **Retries.** Only the idempotent methods (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and
 * DELETE, in any case) are retried; POST, PATCH and every other method are sent once, whatever
 * happens. An attempt is retried when the connection was refused (`ECONNREFUSED`), reset before any
 * of the response arrived (`ECONNRESET`), or timed out; at most `retries` times per call, each time
 * on an instance this call has not tried when one exists (with a single instance, the same one
 * again). A retry sends the same method, path, headers and body. A response of any status (a 500, a
 * 503) is an answer: it is returned, not retried. A response cut off after it started rejects with
 * the socket's error and is not retried.
 *
 * **Suspicion.** An instance that refused a connection is suspect for `suspectMs` on the clock: from
 * the refusal at time t until t + suspectMs (at t + suspectMs it is not suspect any more), the picker
 * skips it while any instance that is not suspect is listed (see round robin above). Nothing else
 * makes an instance suspect: not a reset, not a timeout, not a status. A refresh of the list keeps
 * the suspicion of the instances still listed (by `id`) and forgets the others.
 *
 * @throws {TypeError} naming the option and its value, when `service` is not a non-empty string or
 * `source` lacks a `lookup` or `watch` function
 * @throws {RangeError} naming the option and its value, when `timeoutMs` is not a positive finite
 * number, `retries` is not an integer ≥ 0, or `suspectMs` is not a finite number ≥ 0
 */
export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  throw todo('createServiceClient');
}
