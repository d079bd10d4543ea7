/**
 * The worker's HTTP server: what each process of the cluster runs. It keeps nothing that another
 * worker would need: the hit counter lives in Redis, so any worker can answer any request and a
 * worker can be killed, replaced or restarted without losing a count.
 *
 * Redis keys this module owns:
 *
 * - `<counterKey>` (default `hits`): a plain integer string, raised by `INCR` once per `GET /hits`.
 *   One key for every worker: `INCR` is atomic in Redis, so two workers counting at once never lose
 *   an increment (a variable in the process would give each worker a count of its own).
 *
 * Its one Redis connection is named `app:<pid>` (`CLIENT SETNAME`), so `CLIENT LIST` shows which
 * worker holds which connection, and that a stopped worker left none behind.
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

/** What {@link startApp} needs. */
export interface AppOptions {
  /** The shared Redis, e.g. `redis://127.0.0.1:6379/1`. */
  readonly redisUrl: string;
  /**
   * The port to listen on (default 0: any free port). In a cluster worker the primary owns the
   * listening socket: every worker that listens on the same port, 0 included, shares one port.
   */
  readonly port?: number;
  /** The address to listen on (default `127.0.0.1`). */
  readonly host?: string;
  /** The Redis key of the shared counter (default `hits`). */
  readonly counterKey?: string;
}

/** A started app. */
export interface App {
  /** The HTTP server, listening. */
  readonly server: Server;
  /** The port it listens on (in a cluster worker: the port all the workers share). */
  readonly port: number;
  /**
   * Graceful shutdown: stops accepting connections, waits until every request already received has
   * been answered, then closes the Redis connection (`QUIT`). Safe to call twice; later calls
   * return the same promise.
   */
  close(): Promise<void>;
}

/** The longest `GET /slow` may wait, in milliseconds. */
export const MAX_SLOW_MS = 60_000;

/**
 * Starts the app and resolves once it listens. Routes (every body is JSON):
 *
 * - `GET /hits`: `INCR <counterKey>` in Redis, answers 200 `{ "hits": <the new count>, "pid": <this
 *   process's pid> }`; 503 `{ "error": ... }` when Redis fails.
 * - `GET /whoami`: 200 `{ "pid": <pid> }`.
 * - `GET /slow?ms=<n>`: waits n milliseconds (an integer from 0 to {@link MAX_SLOW_MS}), then 200
 *   `{ "pid": <pid>, "ms": n }`: a request that stays in flight, for shutdown tests. 400 `{ "error" }`
 *   naming the value for anything else.
 * - Another method on these paths: 405 with `Allow: GET`; any other path: 404.
 *
 * @throws {Error} when the server cannot listen (the port is taken, say)
 */
export async function startApp(options: AppOptions): Promise<App> {
  const counterKey = options.counterKey ?? 'hits';
  const redis = new Redis(options.redisUrl, {
    connectionName: `app:${process.pid}`,
    maxRetriesPerRequest: 1,
  });
  // Without a listener ioredis reports connection errors as unhandled; requests answer 503 instead.
  redis.on('error', () => {});

  const server = createServer((req, res) => {
    route(req, res, redis, counterKey).catch((error: unknown) => {
      send(res, 503, { error: `Redis failed: ${(error as Error).message}` });
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    redis.disconnect();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => {
      closing ??= (async () => {
        // In a cluster worker that the primary disconnected, the server is closed already.
        if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}

/**
 * The entry of a cluster worker: starts the app from the environment (`REDIS_URL`, required;
 * `PORT`, default 0; `HOST`, default `127.0.0.1`; `HITS_KEY`, default `hits`) and wires the graceful
 * shutdown. When the primary calls `worker.disconnect()`, Node closes this worker's server, waits for
 * the requests in flight to be answered, then closes the IPC channel: on that `disconnect` this
 * function closes Redis and exits with code 0.
 * @throws {Error} when `REDIS_URL` is missing or `PORT` is not a port number
 */
export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<App> {
  const redisUrl = env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set: the worker needs the shared Redis.');
  const port = Number(env.PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be a port number from 0 to 65535, not "${env.PORT}".`);
  }
  const app = await startApp({
    redisUrl,
    port,
    host: env.HOST ?? '127.0.0.1',
    ...(env.HITS_KEY ? { counterKey: env.HITS_KEY } : {}),
  });
  if (cluster.isWorker) {
    process.once('disconnect', () => {
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  return app;
}

const hits = new Map<string, number>();

async function route(req: IncomingMessage, res: ServerResponse, _redis: Redis, counterKey: string) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const known = ['/hits', '/whoami', '/slow'];
  if (!known.includes(url.pathname)) return send(res, 404, { error: `No route ${url.pathname}.` });
  if (req.method !== 'GET') {
    res.setHeader('Allow', 'GET');
    return send(res, 405, { error: `${url.pathname} answers GET only, not ${req.method}.` });
  }
  if (url.pathname === '/whoami') return send(res, 200, { pid: process.pid });
  if (url.pathname === '/hits') {
    // Cheaper than a round trip to Redis: count in memory.
    hits.set(counterKey, (hits.get(counterKey) ?? 0) + 1);
    return send(res, 200, { hits: hits.get(counterKey), pid: process.pid });
  }
  const raw = url.searchParams.get('ms') ?? '';
  const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms <= MAX_SLOW_MS)) {
    return send(res, 400, { error: `ms must be an integer from 0 to ${MAX_SLOW_MS}, not "${raw}".` });
  }
  await new Promise((resolve) => setTimeout(resolve, ms));
  send(res, 200, { pid: process.pid, ms });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
