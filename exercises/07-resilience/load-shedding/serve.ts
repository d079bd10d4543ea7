/**
 * `npm run serve -- 07-resilience/load-shedding [--port N] [-- <service ms> <concurrency> <target ms> <max queue>]`
 *
 * Starts a server whose handler takes a fixed service time (default 20 ms, a timer, like a call to a
 * database), behind the load shedder (default: 2 at once, a 50 ms queueing target, 20 waiting).
 * Point a load tool at it and watch the 503s: admitted requests stay fast while the excess is shed.
 * `GET /stats` answers the shedder's counters without going through it.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServeContext, Served } from '../../../src/testing/index.js';
import { loadShedder } from './shedder.js';

function listenOn(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
  });
}

/** The numeric argument at `index`, or the default when it is missing or not a number. */
const numberArg = (args: readonly string[], index: number, fallback: number) => {
  const value = Number(args[index]);
  return args[index] !== undefined && Number.isFinite(value) ? value : fallback;
};

export default async function serve(ctx: ServeContext): Promise<Served> {
  const serviceMs = numberArg(ctx.args, 0, 20);
  const concurrency = numberArg(ctx.args, 1, 2);
  const targetQueueMs = numberArg(ctx.args, 2, 50);
  const maxQueue = numberArg(ctx.args, 3, 20);
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const work: RequestListener = (_req, res) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      res.end(`served after ${serviceMs} ms of work\n`);
    }, serviceMs);
    timers.add(timer);
  };
  const shedder = loadShedder(work, { concurrency, targetQueueMs, maxQueue });
  const server = createServer((req, res) => {
    if (req.url === '/stats') {
      res.setHeader('content-type', 'application/json');
      res.end(`${JSON.stringify(shedder.stats())}\n`);
      return;
    }
    shedder(req, res);
  });
  const url = await listenOn(server, ctx.port, ctx.host);
  const capacity = Math.round((concurrency * 1000) / serviceMs);
  ctx.log(
    `Load shedder on ${url}: ${serviceMs} ms per request, ${concurrency} at once (about ${capacity} requests/s), ` +
      `queueing target ${targetQueueMs} ms, at most ${maxQueue} waiting`,
  );
  return {
    url,
    tryIt: [
      `curl -si ${url}/                                   # one request: 200`,
      `npx autocannon -c 30 -d 5 -R ${capacity * 3} ${url}/      # 3x capacity: many 503s, fast 200s`,
      `npx autocannon -c 30 -d 5 -R ${capacity * 3} -H x-priority=high ${url}/   # the same, all high priority`,
      `curl -s ${url}/stats                              # running, queued, served, shed, dropped`,
    ],
    async close() {
      for (const timer of timers) clearTimeout(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
