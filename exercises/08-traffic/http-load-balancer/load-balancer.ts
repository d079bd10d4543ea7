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
import type { Server } from 'node:http';

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
  throw new Error(
    'roundRobinStrategy() is not implemented yet: open exercises/08-traffic/http-load-balancer/load-balancer.ts',
  );
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
  throw new Error(
    'createLoadBalancer() is not implemented yet: open exercises/08-traffic/http-load-balancer/load-balancer.ts',
  );
}
