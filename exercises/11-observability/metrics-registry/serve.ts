/**
 * `npm run serve -- 11-observability/metrics-registry [--port N]`: a tiny HTTP app instrumented with
 * your registry, on 127.0.0.1. Port: `--port`, else `PORT`, else 9464 (the port the course's
 * `docker compose --profile observability up` Prometheus scrapes, at host.docker.internal:9464).
 *
 * - `GET /`: "hello"; `GET /slow?ms=N`: answers after N ms (0-2000); anything else: 404.
 * - Every request counts in `http_requests_total{route,status}` and its duration is observed in
 *   `http_request_duration_seconds{route}`. The route is the path for known routes and `other`
 *   for the rest: a raw URL as a label value would let any client create series without end.
 * - `GET /metrics`: your `metricsHandler`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServeContext, Served } from '../../../src/testing/runnable.js';
import { metricsHandler, Registry } from './registry.js';

const KNOWN_ROUTES = new Set(['/', '/slow', '/metrics']);
const MAX_SLOW_MS = 2000;

export interface Demo {
  readonly url: string;
  /** The registry `/metrics` exposes: add your own metrics to it. */
  readonly registry: Registry;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts the demo app on `host:port` (port 0: any free port). */
export async function startDemo({ port = 0, host = '127.0.0.1' } = {}): Promise<Demo> {
  const registry = new Registry();
  const requests = registry.counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route and status code.',
    labelNames: ['route', 'status'],
  });
  const duration = registry.histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response end, in seconds, by route.',
    labelNames: ['route'],
  });
  const metrics = metricsHandler(registry);
  const server = createServer((req, res) => {
    // Not `new URL(req.url, base)`: it throws on request targets like `//`, and a throw here would end the process.
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    const route = KNOWN_ROUTES.has(path) ? path : 'other';
    const stop = duration.startTimer({ route });
    res.on('finish', () => {
      stop();
      requests.inc({ route, status: res.statusCode });
    });
    if (route === '/metrics') return metrics(req, res);
    if (route === '/') return void res.end('hello\n');
    if (route === '/slow') {
      const ms = Math.min(MAX_SLOW_MS, Math.max(0, Number(new URLSearchParams(query).get('ms')) || 0));
      const timer = setTimeout(() => res.end(`slept ${ms} ms\n`), ms);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    res.writeHead(404).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    registry,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export default async function serve(ctx: ServeContext): Promise<Served> {
  const port = ctx.port || Number(process.env.PORT ?? 9464);
  const demo = await startDemo({ port, host: ctx.host });
  return {
    url: demo.url,
    tryIt: [
      `curl ${demo.url}/  and  curl '${demo.url}/slow?ms=300'`,
      `curl ${demo.url}/metrics`,
      'docker compose --profile observability up  (Prometheus scrapes this app on port 9464)',
    ],
    close: () => demo.close(),
  };
}
