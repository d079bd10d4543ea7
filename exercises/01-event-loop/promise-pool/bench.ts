/**
 * `npm run bench -- 01-event-loop/promise-pool [-- <requests>]`: fetch N ids (default 10 000) from a
 * local server that answers each request after 20 ms, once with an unbounded `Promise.all` (the
 * baseline) and once through `mapLimit` with `--connections` in flight (default 50). Prints the
 * usual comparison table (jobs per second, per-request latency from call to response) plus what the
 * server saw: peak sockets and peak requests in flight.
 *
 * Each phase gets its own keep-alive agent with no socket limit, so the only limit is the pool's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable } from '../../../src/testing/index.js';
import { mapLimit } from './map-limit.js';

const RESPONSE_DELAY_MS = 20;

interface ServerStats {
  peakInFlight: number;
  peakSockets: number;
}

/** A server that answers every request after 20 ms and counts what it holds at once. */
async function startSlowServer() {
  let inFlight = 0;
  let sockets = 0;
  const stats: ServerStats = { peakInFlight: 0, peakSockets: 0 };
  const server = http.createServer((_req, res) => {
    inFlight += 1;
    stats.peakInFlight = Math.max(stats.peakInFlight, inFlight);
    setTimeout(() => {
      inFlight -= 1;
      res.end('ok');
    }, RESPONSE_DELAY_MS);
  });
  server.on('connection', (socket) => {
    sockets += 1;
    stats.peakSockets = Math.max(stats.peakSockets, sockets);
    socket.on('close', () => {
      sockets -= 1;
    });
  });
  server.maxConnections = 20_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 511, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    takeStats: () => {
      const taken = { ...stats };
      stats.peakInFlight = 0;
      stats.peakSockets = 0;
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function get(url: string, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

type FanOut = (ids: number[], fetchOne: (id: number) => Promise<number>) => Promise<number[]>;

/** Fetches every id with `fanOut`, and measures each request from the call to its response. */
async function measure(label: string, url: string, count: number, fanOut: FanOut): Promise<Measurement> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const latencies: number[] = [];
  let errors = 0;
  const ids = Array.from({ length: count }, (_, i) => i);
  const started = performance.now();
  try {
    await fanOut(ids, async (id) => {
      const t0 = performance.now();
      try {
        await get(`${url}?id=${id}`, agent);
        latencies.push(performance.now() - t0);
      } catch {
        errors += 1;
      }
      return id;
    });
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.max(0, Math.ceil((p * latencies.length) / 100) - 1)] ?? 0;
  return {
    label,
    operations: latencies.length,
    perSecond: latencies.length / seconds,
    p50Ms: Math.round(at(50) * 100) / 100,
    p99Ms: Math.round(at(99) * 100) / 100,
    errors,
  };
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const count = Number(ctx.args[0] ?? 10_000);
  if (!Number.isInteger(count) || count < 1) throw new Error(`the request count must be a positive integer`);
  const limit = ctx.connections;
  const server = await startSlowServer();
  try {
    ctx.log(`${count} requests to a local server that answers after ${RESPONSE_DELAY_MS} ms\n`);
    const rows: Measurement[] = [];
    const seen: string[] = [];
    for (const [label, fanOut] of [
      ['Promise.all (unbounded)', (ids, one) => Promise.all(ids.map(one))],
      [`mapLimit, ${limit} in flight`, (ids, one) => mapLimit(ids, limit, one)],
    ] as [string, FanOut][]) {
      rows.push(await measure(label, server.url, count, fanOut));
      const stats = server.takeStats();
      seen.push(
        `${label}: the server saw up to ${stats.peakSockets} sockets and ${stats.peakInFlight} requests at once`,
      );
      await new Promise((resolve) => setTimeout(resolve, 500)); // let closed sockets drain
    }
    for (const line of comparisonTable(rows)) ctx.log(line);
    ctx.log('');
    for (const line of seen) ctx.log(line);
    ctx.log(
      '\np50/p99: per request, from the moment it was started to its response. Promise.all starts every request at once, so they wait in socket and server queues; the pool starts a request only when a slot is free.',
    );
  } finally {
    await server.close();
  }
}
