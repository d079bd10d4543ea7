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
import {
  Agent,
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type JWSAlgorithm, jwtVerify, type KeyInput } from 'jose';
import type { Instance, InstanceSource } from './instance-source.js';
import { appendForwardedFor, forwardedHeader, retryAfterMs, stripHopByHop } from './proxy-headers.js';

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
  const routes = validateRoutes(options.routes);
  const aggregations = validateAggregations(options.aggregations ?? []);
  const auth = validateAuth(options.auth);
  if (routes.length === 0 && aggregations.size === 0) {
    throw new TypeError('a gateway needs at least one route or aggregation');
  }
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 1000;
  if (!(Number.isFinite(maxRetryAfterMs) && maxRetryAfterMs >= 0)) {
    throw new RangeError(`maxRetryAfterMs must be a finite number of ms >= 0, got ${maxRetryAfterMs}`);
  }
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const clock = options.clock ?? { now: () => Date.now() };
  const agent = new Agent({ keepAlive: true });
  const instances = new InstancePicker(options.source);

  const authenticate = async (req: IncomingMessage, res: ServerResponse): Promise<string | undefined> => {
    const match = /^bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
    if (!match) {
      sendJson(res, 401, errorBody('unauthorized', 'a bearer token is required'), {
        'www-authenticate': 'Bearer',
      });
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(match[1]!, auth.key, {
        issuer: auth.issuer,
        audience: [...(typeof auth.audience === 'string' ? [auth.audience] : auth.audience)],
        algorithms: [...auth.algorithms],
        currentDate: new Date(clock.now()),
        requiredClaims: ['exp', 'sub'],
      });
      if (typeof payload.sub !== 'string' || !/^[\x21-\x7e]+$/.test(payload.sub)) {
        throw new Error('"sub" must be a non-empty printable string');
      }
      return payload.sub;
    } catch (error) {
      sendJson(res, 401, errorBody('invalid_token', (error as Error).message), {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
      return undefined;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!req.url?.startsWith('/')) return sendJson(res, 400, errorBody('bad_request', 'bad request target'));
    const url = new URL(`http://gateway${req.url}`);
    const aggregation = aggregations.get(url.pathname);
    const route = aggregation ? undefined : matchRoute(routes, url.pathname);
    const target = aggregation ?? route;
    if (!target) return sendJson(res, 404, errorBody('not_found', `no route for ${url.pathname}`));
    if (aggregation && req.method !== 'GET') {
      return sendJson(res, 405, errorBody('method_not_allowed', 'aggregations answer GET only'), {
        allow: 'GET',
      });
    }
    let subject: string | undefined;
    if (!target.public) {
      subject = await authenticate(req, res);
      if (subject === undefined) return;
    }
    const headers = upstreamHeaders(req, subject);
    if (aggregation) {
      return aggregate(res, aggregation, headers, { instances, agent });
    }
    const path = route!.stripPrefix ? stripPrefix(url.pathname, route!.prefix) : url.pathname;
    return proxy(req, res, route!, `${path}${url.search}`, headers, {
      instances,
      agent,
      sleep,
      maxRetryAfterMs,
      now: () => clock.now(),
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => sendJson(res, 502, errorBody('bad_gateway', error.message)));
  });

  return {
    server,
    async close() {
      instances.close();
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Instances: one lookup per service until the source reports a change, round robin over the list.

interface ServiceEntry {
  list: Promise<Instance[]> | undefined;
  next: number;
  readonly unwatch: () => void;
}

class InstancePicker {
  readonly #source: InstanceSource;
  readonly #services = new Map<string, ServiceEntry>();

  constructor(source: InstanceSource) {
    this.#source = source;
  }

  /** The next instance of `service` round robin, skipping `avoid` (ids); undefined when none is left. */
  async pick(service: string, avoid: ReadonlySet<string> = new Set()): Promise<Instance | undefined> {
    const entry = this.#entry(service);
    const candidates = (await this.#list(entry, service)).filter((instance) => !avoid.has(instance.id));
    if (candidates.length === 0) return undefined;
    return candidates[entry.next++ % candidates.length];
  }

  close(): void {
    for (const entry of this.#services.values()) entry.unwatch();
    this.#services.clear();
  }

  #entry(service: string): ServiceEntry {
    let entry = this.#services.get(service);
    if (!entry) {
      const created: ServiceEntry = {
        list: undefined,
        next: 0,
        unwatch: this.#source.watch(service, () => {
          created.list = undefined; // looked up again on the next request
        }),
      };
      entry = created;
      this.#services.set(service, entry);
    }
    return entry;
  }

  #list(entry: ServiceEntry, service: string): Promise<Instance[]> {
    if (entry.list) return entry.list;
    const fetching = this.#source.lookup(service);
    entry.list = fetching;
    // A failed lookup is not cached: the next request asks again.
    fetching.catch(() => {
      if (entry.list === fetching) entry.list = undefined;
    });
    return fetching;
  }
}

// ---------------------------------------------------------------------------------------------
// Proxying one request.

interface ProxyContext {
  readonly instances: InstancePicker;
  readonly agent: Agent;
  readonly sleep: (ms: number) => Promise<void>;
  readonly maxRetryAfterMs: number;
  readonly now: () => number;
}

type Outcome =
  | { readonly kind: 'answered' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'connection-failed'; readonly error: Error }
  | { readonly kind: 'retry-after'; readonly waitMs: number }
  | { readonly kind: 'client-gone' };

async function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  path: string,
  headers: OutgoingHttpHeaders,
  ctx: ProxyContext,
): Promise<void> {
  // Only a request without a body can be sent twice: the body of any other has been streamed away.
  const replayable = (req.method === 'GET' || req.method === 'HEAD') && !hasBody(req);
  if (replayable) req.resume();
  let clientGone = false;
  res.once('close', () => {
    clientGone = !res.writableFinished;
  });
  const failed = new Set<string>();
  let waitedOnce = false;
  for (;;) {
    let instance: Instance | undefined;
    try {
      instance = await ctx.instances.pick(route.service, failed);
    } catch (error) {
      return sendJson(res, 503, errorBody('unavailable', `looking up ${route.service} failed: ${error}`));
    }
    if (!instance) {
      if (failed.size > 0) return sendJson(res, 502, errorBody('bad_gateway', `${route.service} failed`));
      return sendJson(res, 503, errorBody('unavailable', `no instance of ${route.service} is available`));
    }
    const outcome = await attempt(req, res, instance, {
      path,
      headers,
      replayable,
      timeoutMs: route.timeoutMs,
      agent: ctx.agent,
      // The wait an upstream 503 asks for, if the gateway may wait it out itself.
      waitFor: (value) => {
        if (!replayable || waitedOnce) return undefined;
        const waitMs = retryAfterMs(value, ctx.now());
        return waitMs !== undefined && waitMs <= ctx.maxRetryAfterMs ? waitMs : undefined;
      },
    });
    switch (outcome.kind) {
      case 'answered':
      case 'client-gone':
        return;
      case 'timeout':
        return sendJson(res, 504, errorBody('gateway_timeout', `${route.service} did not answer in time`));
      case 'connection-failed':
        failed.add(instance.id);
        if (replayable && failed.size === 1) continue;
        return sendJson(
          res,
          502,
          errorBody('bad_gateway', `${route.service} failed: ${outcome.error.message}`),
        );
      case 'retry-after':
        waitedOnce = true;
        await ctx.sleep(outcome.waitMs);
        if (clientGone) return; // the client left while we waited: do not send the retry
    }
  }
}

interface AttemptOptions {
  readonly path: string;
  readonly headers: OutgoingHttpHeaders;
  readonly replayable: boolean;
  readonly timeoutMs: number;
  readonly agent: Agent;
  readonly waitFor: (retryAfter: string | undefined) => number | undefined;
}

/** One upstream request; streams the answer to `res` unless the outcome says otherwise. */
function attempt(
  req: IncomingMessage,
  res: ServerResponse,
  instance: Instance,
  options: AttemptOptions,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const upstream = request({
      host: instance.host,
      port: instance.port,
      method: req.method,
      path: options.path,
      headers: { ...options.headers, host: hostHeader(instance) },
      agent: options.agent,
    });
    const settle = (outcome: Outcome) => {
      clearTimeout(timer);
      res.off('close', onClientClose);
      resolve(outcome);
    };
    const onClientClose = () => {
      upstream.destroy();
      settle({ kind: 'client-gone' });
    };
    const timer = setTimeout(() => {
      upstream.destroy();
      settle({ kind: 'timeout' });
    }, options.timeoutMs);
    res.on('close', onClientClose);

    upstream.on('error', (error) => settle({ kind: 'connection-failed', error }));
    upstream.on('response', (answer) => {
      const retryAfter = answer.headers['retry-after'];
      const waitMs = answer.statusCode === 503 ? options.waitFor(retryAfter) : undefined;
      if (waitMs !== undefined) {
        answer.resume(); // drain it, so the connection can be reused
        return settle({ kind: 'retry-after', waitMs });
      }
      res.writeHead(answer.statusCode ?? 502, stripHopByHop(answer.headers) as OutgoingHttpHeaders);
      // An error after this point (the upstream or the client hung up mid-body) destroys both sides.
      answer.pipe(res);
      answer.on('error', () => res.end());
      settle({ kind: 'answered' });
    });

    if (options.replayable) upstream.end();
    else req.pipe(upstream);
  });
}

// ---------------------------------------------------------------------------------------------
// Aggregation.

async function aggregate(
  res: ServerResponse,
  aggregation: Aggregation,
  headers: OutgoingHttpHeaders,
  ctx: { readonly instances: InstancePicker; readonly agent: Agent },
): Promise<void> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), aggregation.deadlineMs);
  const onClientClose = () => deadline.abort();
  res.on('close', onClientClose);
  const outcomes = await Promise.all(
    aggregation.legs.map((leg) => callLeg(leg, headers, ctx, deadline.signal)),
  );
  clearTimeout(timer);
  res.off('close', onClientClose);
  const data: Record<string, unknown> = {};
  const errors: Record<string, LegError> = {};
  aggregation.legs.forEach((leg, i) => {
    const outcome = outcomes[i]!;
    if ('error' in outcome) errors[leg.name] = outcome.error;
    else data[leg.name] = outcome.value;
  });
  const body: AggregateBody = { data, partial: Object.keys(errors).length > 0, errors };
  sendJson(res, Object.keys(data).length > 0 ? 200 : 502, body);
}

type LegOutcome = { readonly value: unknown } | { readonly error: LegError };

/** Settles by the deadline at the latest: `signal` aborts whatever is still running. */
function callLeg(
  leg: AggregationLeg,
  headers: OutgoingHttpHeaders,
  ctx: { readonly instances: InstancePicker; readonly agent: Agent },
  signal: AbortSignal,
): Promise<LegOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: LegOutcome) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    let upstream: ReturnType<typeof request> | undefined;
    const onAbort = () => {
      upstream?.destroy();
      settle({ error: 'timeout' });
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);

    ctx.instances.pick(leg.service).then(
      (instance) => {
        if (settled) return;
        if (!instance) return settle({ error: 'unavailable' });
        upstream = request({
          host: instance.host,
          port: instance.port,
          method: 'GET',
          path: leg.path,
          headers: { ...headers, host: hostHeader(instance), accept: 'application/json' },
          agent: ctx.agent,
        });
        upstream.on('error', () => settle({ error: 'unavailable' }));
        upstream.on('response', (answer) => {
          const status = answer.statusCode ?? 0;
          if (status < 200 || status > 299) {
            answer.resume();
            return settle({ error: `status ${status}` });
          }
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('error', () => settle({ error: 'unavailable' }));
          answer.on('end', () => {
            try {
              settle({ value: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
            } catch {
              settle({ error: 'invalid json' });
            }
          });
        });
        upstream.end();
      },
      () => settle({ error: 'unavailable' }),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

function matchRoute(routes: readonly Route[], path: string): Route | undefined {
  // `routes` is sorted longest prefix first, so the first match is the longest.
  return routes.find(({ prefix }) => prefix === '/' || path === prefix || path.startsWith(`${prefix}/`));
}

function stripPrefix(path: string, prefix: string): string {
  if (prefix === '/') return path;
  return path.slice(prefix.length) || '/';
}

/** The headers every upstream request carries, derived from the client's request. */
function upstreamHeaders(req: IncomingMessage, subject: string | undefined): OutgoingHttpHeaders {
  const headers = stripHopByHop(req.headers) as OutgoingHttpHeaders;
  delete headers.authorization;
  delete headers['x-authenticated-subject'];
  delete headers.host;
  const clientIp = req.socket.remoteAddress ?? 'unknown';
  const host = req.headers.host;
  headers['x-forwarded-for'] = appendForwardedFor(req.headers['x-forwarded-for'], clientIp);
  headers.forwarded = forwardedHeader(req.headers.forwarded, { for: clientIp, host, proto: 'http' });
  headers['x-forwarded-proto'] = 'http';
  if (host !== undefined) headers['x-forwarded-host'] = host;
  else delete headers['x-forwarded-host'];
  if (subject !== undefined) headers['x-authenticated-subject'] = subject;
  return headers;
}

function hostHeader(instance: Instance): string {
  return instance.host.includes(':')
    ? `[${instance.host}]:${instance.port}`
    : `${instance.host}:${instance.port}`;
}

function hasBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

function errorBody(error: string, message: string): { error: string; message: string } {
  return { error, message };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = `${JSON.stringify(body)}\n`;
  res
    .writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    })
    .end(text);
}

// ---------------------------------------------------------------------------------------------
// Validation.

function validatePath(kind: string, path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || (path !== '/' && path.endsWith('/'))) {
    throw new TypeError(`${kind} must start with "/" and not end with one, got ${JSON.stringify(path)}`);
  }
  return path;
}

function validatePositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive finite number of ms, got ${value}`);
  }
}

function validateService(name: string, service: unknown): void {
  if (typeof service !== 'string' || service === '') {
    throw new TypeError(`${name} must be a non-empty service name, got ${JSON.stringify(service)}`);
  }
}

function validateRoutes(routes: readonly Route[]): Route[] {
  const seen = new Set<string>();
  for (const route of routes) {
    const prefix = validatePath('a route prefix', route.prefix);
    if (seen.has(prefix)) throw new TypeError(`route prefix "${prefix}" is given twice`);
    seen.add(prefix);
    validateService(`route "${prefix}": service`, route.service);
    validatePositive(`route "${prefix}": timeoutMs`, route.timeoutMs);
  }
  return [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
}

function validateAggregations(aggregations: readonly Aggregation[]): Map<string, Aggregation> {
  const byPath = new Map<string, Aggregation>();
  for (const aggregation of aggregations) {
    const path = validatePath('an aggregation path', aggregation.path);
    if (byPath.has(path)) throw new TypeError(`aggregation path "${path}" is given twice`);
    validatePositive(`aggregation "${path}": deadlineMs`, aggregation.deadlineMs);
    if (aggregation.legs.length === 0) throw new TypeError(`aggregation "${path}" has no legs`);
    const names = new Set<string>();
    for (const leg of aggregation.legs) {
      if (names.has(leg.name))
        throw new TypeError(`aggregation "${path}": leg name "${leg.name}" is given twice`);
      names.add(leg.name);
      validateService(`aggregation "${path}", leg "${leg.name}": service`, leg.service);
    }
    byPath.set(path, aggregation);
  }
  return byPath;
}

function validateAuth(auth: AuthOptions): AuthOptions {
  const algorithms: readonly string[] = auth.algorithms;
  if (algorithms.length === 0 || algorithms.some((alg) => alg.toLowerCase() === 'none')) {
    throw new TypeError(
      `auth.algorithms must list the accepted algorithms, never "none", got ${JSON.stringify(algorithms)}`,
    );
  }
  return auth;
}
