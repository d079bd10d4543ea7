/**
 * An HTTP load balancer on `node:http`: a reverse proxy in front of N backends.
 *
 * - Bodies stream both ways; the balancer never holds a whole request or response in memory.
 * - Connections to backends are kept alive and reused (one `http.Agent` with `keepAlive`).
 * - Active health checks: `GET <path>` on every backend every `intervalMs`; `unhealthyAfter` failures
 *   in a row take a backend out of the pool, `healthyAfter` passes in a row bring it back.
 * - Passive failure: a backend that refuses or resets a connection before answering leaves the pool
 *   at once (active checks bring it back). An idempotent request without a body is then retried once
 *   on another backend; anything else gets 502, so a POST reaches a backend at most once.
 * - 503 with `Retry-After` when no backend is healthy, 504 when a backend does not answer in time.
 */
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { pipeline } from 'node:stream';

/**
 * How the balancer chooses a backend. Any object of this shape plugs in (least connections, power
 * of two choices, ...); the default is {@link roundRobinStrategy}.
 */
export interface Strategy {
  /** Chooses one of `candidates`: the healthy backends not yet tried for this request (never empty). */
  pick(candidates: readonly string[]): string;
  /** Called once for every pick, when that attempt is over (answered, failed or abandoned). */
  release?(backend: string): void;
}

export interface HealthCheckOptions {
  /** Default `/health`. A check passes on a 2xx answer within `timeoutMs`. */
  readonly path?: string;
  /** Default 2000. */
  readonly intervalMs?: number;
  /** Default 1000. */
  readonly timeoutMs?: number;
  /** Failed checks in a row that take a backend out of the pool. Default 2. */
  readonly unhealthyAfter?: number;
  /** Passed checks in a row that bring it back. Default 2. */
  readonly healthyAfter?: number;
}

export interface LoadBalancerOptions {
  /** Backend base URLs, e.g. `http://127.0.0.1:3001`. At least one. */
  readonly backends: readonly string[];
  readonly strategy?: Strategy;
  readonly healthCheck?: HealthCheckOptions;
  /** How long a backend may take to send its response headers, in ms (default 10 000); then 504. */
  readonly timeoutMs?: number;
  /** The `Retry-After` of a 503, in seconds (default 1). */
  readonly retryAfterSeconds?: number;
  /** How long `close()` waits for requests in flight before cutting them off, in ms (default 10 000). */
  readonly drainTimeoutMs?: number;
}

export interface LoadBalancer {
  /** The front server, not yet listening: call `listen()` on it. */
  readonly server: Server;
  /** The backends in the pool right now, in the order they were given. */
  healthyBackends(): string[];
  /**
   * Stops accepting connections and health checks, lets requests in flight finish (at most
   * `drainTimeoutMs`), closes idle connections, and resolves when everything is closed.
   */
  close(): Promise<void>;
}

/** Round robin over whatever candidates it is given: the default strategy. */
export function roundRobinStrategy(): Strategy {
  let next = 0;
  return { pick: (candidates) => candidates[next++ % candidates.length]! };
}

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. */

/** RFC 9110 §7.6.1: headers that describe one connection, not the message; a proxy drops them. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

interface BackendState {
  readonly url: URL;
  healthy: boolean;
  failedInARow: number;
  passedInARow: number;
}

/**
 * Creates the balancer (its server is not listening yet). The contract, in the order the suite
 * checks it:
 *
 * - Proxy each request to the backend the strategy picks among the healthy ones: same method, path
 *   with query, headers and body; the backend's status, headers (several `Set-Cookie` stay several)
 *   and body back. Stream both bodies.
 * - Drop hop-by-hop headers both ways (RFC 9110 §7.6.1: Connection, Keep-Alive, Proxy-Connection,
 *   TE, Trailer, Transfer-Encoding, Upgrade, and every header the Connection header names).
 * - Set `X-Forwarded-For` (append the client's address to any earlier value, keeping every earlier
 *   entry in order), `X-Forwarded-Proto: http` and `X-Forwarded-Host` (the client's Host).
 * - Reuse connections to backends (an `http.Agent` with `keepAlive: true`).
 * - A connection that is refused or reset before the backend answered: the backend leaves the pool
 *   at once; a request with an idempotent method (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) and no
 *   body is retried once on another healthy backend; otherwise, or if the retry fails too, 502.
 * - No healthy backend: 503 with `Retry-After`. No response headers within `timeoutMs`: 504, and
 *   the backend request is abandoned (not retried).
 * - The client hangs up (before or after the backend answered): abandon the backend request.
 * - Every pick is released once ({@link Strategy.release}), however its attempt ended.
 * - Health checks as {@link HealthCheckOptions} says; every backend starts healthy. A backend taken
 *   out by a refused or reset connection comes back after `healthyAfter` passed checks in a row,
 *   counted from its failure.
 * - Requests that `node:http` refuses itself never reach a backend: headers over its size limit
 *   (431), a malformed or ambiguous request such as Content-Length with Transfer-Encoding (400).
 *   Keep the server's defaults.
 * @throws {TypeError} when `backends` is empty or holds a string that is not an `http://` URL
 */
export function createLoadBalancer(options: LoadBalancerOptions): LoadBalancer {
  const backends = parseBackends(options.backends);
  const strategy = options.strategy ?? roundRobinStrategy();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const agent = new Agent({ keepAlive: true });
  const stopChecks = startHealthChecks(backends, options.healthCheck ?? {});

  const healthyBackends = () => [...backends].filter(([, b]) => b.healthy).map(([id]) => id);
  const markFailed = (id: string) => {
    const backend = backends.get(id)!;
    backend.healthy = false;
    backend.passedInARow = 0;
  };

  let closing = false;
  const server = createServer((req, res) => {
    // While closing, a connection whose last response just ended is idle: close it now rather than
    // wait for the client to (server.close() closes only the connections idle at that moment).
    res.on('close', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    const tried = new Set<string>();
    const attempt = () => {
      const candidates = healthyBackends().filter((id) => !tried.has(id));
      if (candidates.length === 0) {
        if (tried.size === 0) return sendText(res, 503, 'no healthy backend', { 'retry-after': retryAfter });
        return sendText(res, 502, 'the backend failed');
      }
      const id = strategy.pick(candidates);
      tried.add(id);
      forward(
        req,
        res,
        backends.get(id)!.url,
        { agent, timeoutMs, release: () => strategy.release?.(id) },
        () => {
          markFailed(id);
          if (tried.size === 1 && isRetryable(req)) attempt();
          else sendText(res, 502, 'the backend failed');
        },
      );
    };
    attempt();
  });

  return {
    server,
    healthyBackends,
    async close() {
      closing = true;
      stopChecks();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
      await closed;
      clearTimeout(force);
      agent.destroy();
    },
  };
}

function parseBackends(urls: readonly string[]): Map<string, BackendState> {
  if (urls.length === 0) throw new TypeError('a load balancer needs at least one backend URL');
  const backends = new Map<string, BackendState>();
  for (const raw of urls) {
    const url = new URL(raw);
    if (url.protocol !== 'http:') throw new TypeError(`backend ${raw}: only http:// backends are supported`);
    backends.set(raw, { url, healthy: true, failedInARow: 0, passedInARow: 0 });
  }
  return backends;
}

/** Only a request we can send again unchanged: an idempotent method, and no body already consumed. */
function isRetryable(req: IncomingMessage): boolean {
  const hasBody =
    Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  return !hasBody;
}

interface ForwardOptions {
  readonly agent: Agent;
  readonly timeoutMs: number;
  /** Called exactly once, when this attempt is over. */
  readonly release: () => void;
}

/**
 * Sends `req` to `target` and streams the answer to `res`. Calls `onConnectionFailure` instead of
 * answering when the backend refused or reset the connection before sending a response.
 */
function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: URL,
  { agent, timeoutMs, release }: ForwardOptions,
  onConnectionFailure: () => void,
): void {
  let over = false;
  const finish = () => {
    if (!over) {
      over = true;
      release();
    }
  };
  const upstream = request({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    headers: forwardedHeaders(req),
    agent,
  });
  const timer = setTimeout(() => {
    finish();
    upstream.destroy();
    sendText(res, 504, 'the backend did not answer in time');
  }, timeoutMs);

  // The client hung up: stop the backend's work too (and do not count it against the backend).
  res.on('close', () => {
    clearTimeout(timer);
    finish();
    if (!res.writableFinished) upstream.destroy();
  });
  upstream.on('response', (answer) => {
    clearTimeout(timer);
    res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
    pipeline(answer, res, finish);
  });
  upstream.on('error', () => {
    clearTimeout(timer);
    if (over) return; // timed out or the client left: already handled
    finish();
    if (res.headersSent)
      res.destroy(); // broken mid-response: the client must see it is truncated
    else onConnectionFailure();
  });

  // A retried request has no body and has already ended; a first attempt streams its body.
  if (req.readableEnded) upstream.end();
  else req.pipe(upstream);
}

/** The client's headers for the backend: hop-by-hop ones dropped, `X-Forwarded-*` added. */
function forwardedHeaders(req: IncomingMessage): IncomingHttpHeaders {
  const headers = withoutHopByHop(req.headers);
  const clientIp = req.socket.remoteAddress ?? 'unknown';
  const earlier = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = earlier ? `${earlier}, ${clientIp}` : clientIp;
  headers['x-forwarded-proto'] = 'http';
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  return headers;
}

function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const copy: IncomingHttpHeaders = { ...headers };
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  for (const name of [...HOP_BY_HOP, ...named]) delete copy[name];
  return copy;
}

function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${text}\n`);
}

/** Checks every backend every `intervalMs` (one round at a time); returns the function that stops it. */
function startHealthChecks(backends: Map<string, BackendState>, options: HealthCheckOptions): () => void {
  const {
    path = '/health',
    intervalMs = 2000,
    timeoutMs = 1000,
    unhealthyAfter = 2,
    healthyAfter = 2,
  } = options;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const round = async () => {
    await Promise.all(
      [...backends.values()].map(async (backend) => {
        const ok = await probe(new URL(path, backend.url), timeoutMs);
        if (stopped) return;
        if (ok) {
          backend.failedInARow = 0;
          backend.passedInARow++;
          if (!backend.healthy && backend.passedInARow >= healthyAfter) backend.healthy = true;
        } else {
          backend.passedInARow = 0;
          backend.failedInARow++;
          if (backend.healthy && backend.failedInARow >= unhealthyAfter) backend.healthy = false;
        }
      }),
    );
    if (!stopped) timer = setTimeout(round, intervalMs).unref();
  };
  timer = setTimeout(round, intervalMs).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** One health check on a fresh connection: true on a 2xx answer within `timeoutMs`. */
function probe(url: URL, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const check = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    check.on('timeout', () => check.destroy());
    check.on('error', () => resolve(false));
    check.end();
  });
}
