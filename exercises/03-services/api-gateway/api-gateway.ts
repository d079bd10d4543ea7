/**
 * An API gateway on `node:http`: the one door in front of a set of services.
 *
 * - Routing: the longest matching path prefix (whole segments) picks the service; its instances
 *   come from an {@link InstanceSource} (the registry), round robin, refreshed when it says so.
 * - Authentication at the edge: a bearer JWT verified with `jose` before any upstream call; the
 *   upstream trusts `X-Authenticated-Subject`, which only the gateway can set.
 * - Proxying: bodies stream both ways over keep-alive connections; hop-by-hop headers dropped,
 *   `X-Forwarded-For` and `Forwarded` appended (proxy-headers.ts).
 * - Failures get the status that says whose fault it is: 504 (upstream too slow), 502 (upstream
 *   broken), 503 (nothing to call, or the upstream's own 503 with its `Retry-After`).
 * - Aggregation: one client request fans out to several services under one deadline, and answers
 *   with what arrived in time, marking what did not.
 */
import type { Server } from 'node:http';
import type { JWSAlgorithm, KeyInput } from 'jose';
import type { InstanceSource } from './instance-source.js';

/** One routing rule: requests under `prefix` go to `service`. */
export interface Route {
  /** A path prefix matched on whole segments: `/users` matches `/users` and `/users/7`, not `/usersettings`. `/` matches everything. Starts with `/`, no trailing `/`. */
  readonly prefix: string;
  /** The service name to look up in the source. */
  readonly service: string;
  /** How long an upstream instance may take to send its response headers, in ms; then 504. */
  readonly timeoutMs: number;
  /** No token needed (default false). */
  readonly public?: boolean;
  /** Remove the prefix before forwarding: `/users/7` goes upstream as `/7` (default false: as is). */
  readonly stripPrefix?: boolean;
}

/** How bearer tokens are verified (passed to jose's `jwtVerify`). */
export interface AuthOptions {
  /** The verification key: an HMAC secret (`Uint8Array`), a public `KeyObject`/`CryptoKey`, or a JWK. */
  readonly key: KeyInput;
  /** The only accepted `iss`. */
  readonly issuer: string;
  /** The accepted `aud` value(s): the token's `aud` must contain one of them. */
  readonly audience: string | readonly string[];
  /** The accepted `alg` values, e.g. `['ES256']`: never empty, never `none`. */
  readonly algorithms: readonly JWSAlgorithm[];
}

/** One upstream call of an aggregation. */
export interface AggregationLeg {
  /** The key of this leg's result in `data` and `errors`. */
  readonly name: string;
  readonly service: string;
  /** The path (and query) requested from the service with GET, e.g. `/users/me`. */
  readonly path: string;
}

/** A GET endpoint of the gateway itself that fans out to several services at once. */
export interface Aggregation {
  /** The exact path, e.g. `/dashboard` (no prefix matching; the query string is ignored). */
  readonly path: string;
  /** One deadline for all legs together, in ms from the request's arrival. */
  readonly deadlineMs: number;
  /** At least one; names unique. */
  readonly legs: readonly AggregationLeg[];
  /** No token needed (default false). */
  readonly public?: boolean;
}

/** How one leg failed, as reported in {@link AggregateBody.errors}. */
export type LegError = 'timeout' | 'unavailable' | `status ${number}` | 'invalid json';

/** The JSON body an aggregation answers with (200 if any leg succeeded, else 502). */
export interface AggregateBody {
  /** The parsed JSON body of every leg that answered 2xx in time, by leg name. */
  readonly data: Record<string, unknown>;
  /** True when any leg is missing from `data`. */
  readonly partial: boolean;
  /** Why each missing leg is missing, by leg name (empty when none is). */
  readonly errors: Record<string, LegError>;
}

export interface ApiGatewayOptions {
  /** Prefixes unique. With the aggregations, at least one endpoint in all. */
  readonly routes: readonly Route[];
  /** Where the instances of each service are found. */
  readonly source: InstanceSource;
  readonly auth: AuthOptions;
  /** Checked before the routes (their paths win over any prefix). Paths unique. */
  readonly aggregations?: readonly Aggregation[];
  /** The longest upstream `Retry-After` the gateway waits out itself before one retry, in ms (default 1000). */
  readonly maxRetryAfterMs?: number;
  /** How the gateway waits out a `Retry-After` (default: a real timer). Tests pass a recorder. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The time for token expiry (`exp`, `nbf`) and `Retry-After` dates, in ms (default `Date.now`). */
  readonly clock?: { now(): number };
}

export interface ApiGateway {
  /** The gateway's server, not yet listening: call `listen()` on it. */
  readonly server: Server;
  /**
   * Stops the server (if it listens) and closes its connections, cuts requests in flight, stops
   * watching the source (every `watch` it started is undone) and closes upstream connections.
   */
  close(): Promise<void>;
}

/**
 * Creates the gateway. The contract, in the order the suite checks it:
 *
 * **Routing.** An aggregation's exact path first; otherwise the route with the longest prefix that
 * matches on whole path segments. The path is normalised first (`.` and `..` segments resolved, as
 * a URL parser does), and the normalised path is what is matched and forwarded. No match: 404 with
 * a JSON error body. A request target that does not start with `/`: 400.
 *
 * **Authentication**, unless the route is `public`: the request needs `Authorization: Bearer <jwt>`
 * (scheme in any case), verified with jose's `jwtVerify` against {@link AuthOptions}: the signature,
 * `alg` in `algorithms`, `iss`, `aud`, and `exp`/`nbf` at `clock.now()` (no tolerance). A token must
 * carry `exp` and a non-empty string `sub`. Otherwise 401 with a JSON error body, **no upstream
 * call**, and `WWW-Authenticate: Bearer` when no bearer token was sent or
 * `WWW-Authenticate: Bearer error="invalid_token"` when one was (RFC 6750 §3).
 *
 * **Headers to the upstream.** The client's headers, except: hop-by-hop ones dropped
 * (`stripHopByHop`); `Authorization` never forwarded (the gateway is the trust boundary: services
 * trust the gateway, not the token); a client-sent `X-Authenticated-Subject` always removed (on
 * public routes too), and on an authenticated route set to the token's `sub`; `X-Forwarded-For`
 * appended with the client's address (`appendForwardedFor`); `Forwarded` appended with
 * `for=<client address>;host=<client's Host>;proto=http` (`forwardedHeader`);
 * `X-Forwarded-Proto: http`; `X-Forwarded-Host`: the client's Host; `Host`: the instance's
 * `host:port`.
 *
 * **Proxying.** Instances of the route's service come from `source.lookup`, fetched on the first
 * request for that service and again after `source.watch` reports a change (never per request),
 * picked round robin. Method, path with query string (minus the prefix with `stripPrefix`) and body
 * go upstream; status, headers (hop-by-hop dropped, several `Set-Cookie` kept several) and body come
 * back. Bodies stream; upstream connections are kept alive (one `http.Agent` with `keepAlive`).
 *
 * **Failures.**
 * - No instance listed, or the lookup failed: 503. A failed lookup is not kept: the next request
 *   looks up again.
 * - No response headers within the route's `timeoutMs`: 504, and the upstream request is destroyed
 *   (not retried: the upstream may still be working on it).
 * - The connection fails before a response (refused, reset): 502. A GET or HEAD without a body is
 *   first tried once more on another instance, if the service has one. Any other method is never
 *   sent twice (a POST may have been processed).
 * - The upstream answers 503 with a `Retry-After` (delta-seconds or an IMF-fixdate, `retryAfterMs`)
 *   to a GET or HEAD without a body: if the wait is at most `maxRetryAfterMs`, the gateway waits it
 *   out with `sleep` and sends the request once more; if the wait is longer, the value is unusable,
 *   the method is another one, or the retry answers 503 again, the client gets the upstream's 503
 *   with its `Retry-After`.
 * - The client disconnects: the upstream request is destroyed (and a pending retry is not sent).
 * - Each attempt gets its own `timeoutMs`.
 * - The upstream connection breaks after the response started: the client's connection is
 *   destroyed too (a truncated body must not look complete).
 *
 * **Aggregation.** GET on an aggregation's path (another method: 405 with `Allow: GET`; auth as for
 * routes) calls every leg at once with GET (same headers as a proxied request would carry), each on
 * the next instance of its service, under one deadline. A leg fails with `timeout` (no complete
 * answer by the deadline), `unavailable` (no instance, or the connection failed), `status <n>`
 * (a non-2xx answer) or `invalid json` (a 2xx body that does not parse). The answer is sent as soon
 * as every leg has settled or the deadline passes, whichever is first (unfinished legs are destroyed):
 * 200 with {@link AggregateBody} when any leg succeeded, else 502 with the same shape. A client that
 * disconnects abandons every leg still running.
 *
 * @throws {TypeError} when `routes` and `aggregations` are both empty, a prefix or aggregation
 *   path does not start with `/` (or ends with `/`, other than `/` itself) or is given twice, a
 *   service name is empty, an aggregation has no legs or two legs with one name, or
 *   `auth.algorithms` is empty or holds `none` (the message names the option and the value)
 * @throws {RangeError} when a `timeoutMs` or `deadlineMs` is not a positive finite number, or
 *   `maxRetryAfterMs` is negative or not finite (the message names the option and the value)
 */
export function createApiGateway(options: ApiGatewayOptions): ApiGateway {
  throw new Error(
    'createApiGateway() is not implemented yet: open exercises/03-services/api-gateway/api-gateway.ts',
  );
}
