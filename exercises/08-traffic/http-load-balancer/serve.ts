/**
 * `npm run serve -- 08-traffic/http-load-balancer [--port N] [-- http://127.0.0.1:3001 http://127.0.0.1:3002]`
 *
 * Starts the balancer in front of the backends named after `--`. Without any, it first starts three
 * demo backends on free ports, so there is something to balance at once: each answers with its name,
 * `/health` with 200, and `/slow?ms=N` after N milliseconds.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServeContext, Served } from '../../../src/testing/index.js';
import { createLoadBalancer } from './load-balancer.js';

function listenOn(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
  });
}

function closeAll(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A demo backend: names itself, so you can watch the balancer spread requests. */
function demoBackend(name: string): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    const answer = () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        `${JSON.stringify({ backend: name, path: url.pathname, forwardedFor: req.headers['x-forwarded-for'] ?? null })}\n`,
      );
    };
    if (url.pathname === '/slow') setTimeout(answer, Number(url.searchParams.get('ms') ?? 2000));
    else answer();
  });
}

export default async function serve(ctx: ServeContext): Promise<Served> {
  const demos: Server[] = [];
  let backends = ctx.args.filter((arg) => /^https?:\/\//.test(arg));
  if (backends.length === 0) {
    for (const name of ['demo-1', 'demo-2', 'demo-3']) demos.push(demoBackend(name));
    backends = await Promise.all(demos.map((server) => listenOn(server, 0, ctx.host)));
    ctx.log(`No backends given, so three demo backends are running: ${backends.join(' ')}`);
  }
  const lb = createLoadBalancer({ backends, healthCheck: { intervalMs: 2000 }, timeoutMs: 5000 });
  const url = await listenOn(lb.server, ctx.port, ctx.host);
  ctx.log(
    `Load balancer on ${url} in front of ${backends.length} backends (health checks: GET /health every 2 s)`,
  );
  return {
    url,
    tryIt: [
      `for i in 1 2 3 4 5 6; do curl -s ${url}/hello; done      # round robin`,
      `curl -si ${url}/ -H 'X-Forwarded-For: 203.0.113.7'      # what the backend is told`,
      `curl -si ${url}/slow?ms=6000                             # 504 after the 5 s timeout`,
      'stop a backend (or name one that is not running) and watch requests keep succeeding',
    ],
    async close() {
      await lb.close();
      await Promise.all(demos.map(closeAll));
    },
  };
}
