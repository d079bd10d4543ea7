// What a user-id label costs. prom-client keeps one series per distinct label set, forever (until the
// process restarts or the metric is reset), and the scrape carries every one of them. The script records
// the same 200,000 requests into a counter and a histogram labelled by route and status only, then by
// route, status and user_id for 1,000, 10,000 and 50,000 distinct users, and prints the series count, the
// heap the metrics hold (after a forced GC) and the size and time of one scrape (register.metrics()).
// node --expose-gc docs/11-observability/cardinality.mjs

import { createRequire } from 'node:module';
import os from 'node:os';
import client from 'prom-client';

const require = createRequire(import.meta.url);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const REQUESTS = 200_000;
const routes = ['/orders', '/orders/:id', '/cart', '/login', '/search'];
const statuses = ['200', '404', '500'];

async function trial(users) {
  const register = new client.Registry();
  const labelNames = users ? ['route', 'status', 'user_id'] : ['route', 'status'];
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  const counter = new client.Counter({
    name: 'http_requests_total',
    help: 'Requests.',
    labelNames,
    registers: [register],
  });
  const histogram = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'Request duration.',
    labelNames,
    registers: [register],
  });
  for (let i = 0; i < REQUESTS; i++) {
    const labels = {
      route: routes[i % routes.length],
      status: statuses[i % 97 === 0 ? 2 : i % 13 === 0 ? 1 : 0],
    };
    if (users) labels.user_id = `u${(i * 7919) % users}`;
    counter.inc(labels);
    histogram.observe(labels, 0.001 * (i % 300));
  }
  globalThis.gc();
  const heap = process.memoryUsage().heapUsed - before;
  const start = performance.now();
  const text = await register.metrics();
  const scrapeMs = performance.now() - start;
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  console.log(
    `${(users ? `+ user_id, ${users.toLocaleString('en-US')} users` : 'route + status').padEnd(26)}` +
      `${lines.toLocaleString('en-US').padStart(10)} series ` +
      `${(heap / 1e6).toFixed(1).padStart(7)} MB heap ` +
      `${(Buffer.byteLength(text) / 1e6).toFixed(2).padStart(7)} MB per scrape ` +
      `${scrapeMs.toFixed(0).padStart(6)} ms to render`,
  );
  return [counter, histogram]; // keep them alive until the heap was measured
}

console.log(
  `Node ${process.version}, prom-client ${require('prom-client/package.json').version}, ${os.availableParallelism()} cores, ` +
    `load average ${os.loadavg()[0].toFixed(2)}; ${REQUESTS.toLocaleString('en-US')} requests into a counter + a histogram (default buckets)`,
);
for (const users of [0, 1_000, 10_000, 50_000]) await trial(users);
