/**
 * The same comparison on real time, over real HTTP: a server on 127.0.0.1 that holds every response
 * during the last 300 ms of every 1.5 s, and each generator run for 3 s with `node:http` requests over
 * a keep-alive agent. In theory the open loop's p99 is ~100× the closed loop's; the test asks for 5×.
 *
 * One thing no margin fixes: a client that is itself frozen cannot measure a 1 ms p99. On a two-core
 * machine at a load average of 20 (a mutation run beside three suites), the test process is
 * descheduled for 100-200 ms at a time, every such freeze lands in whichever call is outstanding, and
 * the closed loop's p99 reads 100-200 ms: the machine's, not the server's. So the test measures its
 * own event loop's delay while the closed loop runs (`monitorEventLoopDelay`), and asks for 5× only
 * when that delay's p99 stayed under 20 ms; above, it asks only that the open loop's p99 be the larger.
 * What does not depend on the machine is checked every time: the server counts the requests that
 * arrive during its stalls, one per stall from a closed loop of one user, dozens from the open loop.
 */
import { Agent, request, type Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, startHttpServer } from '../../../src/testing/index.js';
import { closedLoop, openLoop } from './load.js';

const PERIOD_MS = 1500;
const STALL_MS = 300;
const RUN_MS = 3000;
/** Wall-clock limit for a test: each run takes 3 s, and a loaded machine stretches it. */
const TEST_TIMEOUT_MS = 30_000;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => closeServer(s)));
});

/** The client's event-loop delay p99 (ms) under which a 5x ratio of p99s is measurable. */
const QUIET_LOOP_DELAY_MS = 20;

/**
 * A server whose epoch is its start: responses asked for during a stall are sent when it ends. It
 * counts the requests that arrived during a stall.
 */
async function stallingHttpServer() {
  const epoch = performance.now();
  const counts = { arrivedInStall: 0 };
  const { server, url } = await startHttpServer((_req, res) => {
    const phase = (performance.now() - epoch) % PERIOD_MS;
    const wait = phase >= PERIOD_MS - STALL_MS ? PERIOD_MS - phase : 0;
    const respond = () => res.end('ok');
    if (wait > 0) {
      counts.arrivedInStall++;
      // Timers round their delay down to whole ms: wait one more, so the stall is over when we answer.
      setTimeout(respond, Math.ceil(wait) + 1);
    } else {
      respond();
    }
  });
  servers.push(server);
  return { url: `${url}/`, counts };
}

const agents: Agent[] = [];
afterEach(() => {
  for (const agent of agents.splice(0)) agent.destroy();
});

/**
 * One GET with `node:http` through a keep-alive agent of its own (no limit on sockets, so the open
 * loop is never queued by the client): cheaper per request than `fetch`, which matters on a busy
 * machine where the closed loop needs a few hundred calls for its p99 to mean anything.
 */
function getter(url: string): () => Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  agents.push(agent);
  return () =>
    new Promise<void>((resolve, reject) => {
      const req = request(url, { agent, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('no response in 5 s')));
      req.on('error', reject);
      req.end();
    });
}

describe('open vs closed loop over real HTTP', () => {
  it(
    'against a server that stalls 300 ms every 1.5 s, the open loop keeps sending and reports a p99 at least 5x the closed loop’s',
    async () => {
      const closedServer = await stallingHttpServer();
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      const closed = await closedLoop({ call: getter(closedServer.url), concurrency: 1, durationMs: RUN_MS });
      loopDelay.disable();
      const openServer = await stallingHttpServer();
      const open = await openLoop({ call: getter(openServer.url), ratePerSecond: 100, durationMs: RUN_MS });
      const closedP99 = closed.latency.percentile(99);
      const openP99 = open.latency.percentile(99);
      const clientDelayMs = loopDelay.percentile(99) / 1e6;
      const report = `closed loop: ${closed.sent} sent, ${closedServer.counts.arrivedInStall} during stalls, p99 ${closedP99} µs; open loop: ${open.sent} sent, ${openServer.counts.arrivedInStall} during stalls, p99 ${openP99} µs; the client's own event-loop delay p99 ${clientDelayMs.toFixed(1)} ms`;
      expect(
        closedServer.counts.arrivedInStall,
        `a closed loop of one user sends one request into each of the 2 stalls, then waits (${report})`,
      ).toBeLessThanOrEqual(2);
      expect(
        openServer.counts.arrivedInStall,
        `the open loop keeps sending during stalls: about 30 per stall (${report})`,
      ).toBeGreaterThanOrEqual(20);
      expect(open.sent, `the open loop sends 100/s × 3 s whatever the server does (${report})`).toBe(300);
      expect(open.errors + closed.errors, `no request fails (${report})`).toBe(0);
      expect(open.latency.count, `every open-loop call is recorded (${report})`).toBe(300);
      expect(
        open.latency.max,
        `a request sent as a stall began waited most of its 300 ms (${report})`,
      ).toBeGreaterThanOrEqual(200_000);
      if (clientDelayMs < QUIET_LOOP_DELAY_MS) {
        expect(openP99, `the open loop must see the stalls in its p99 (${report})`).toBeGreaterThanOrEqual(
          5 * closedP99,
        );
      } else {
        expect(
          openP99,
          `the machine was too busy for a 5x check, but the open loop's p99 must still be the larger (${report})`,
        ).toBeGreaterThan(closedP99);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a refused connection is an error, and the open loop still sends every request',
    async () => {
      const { url } = await stallingHttpServer();
      const server = servers.pop() as Server;
      await closeServer(server);
      const r = await openLoop({ call: getter(url), ratePerSecond: 50, durationMs: 400 });
      expect(
        [r.sent, r.completed, r.errors, r.latency.count],
        'all 20 requests sent, failed and recorded',
      ).toEqual([20, 0, 20, 20]);
    },
    TEST_TIMEOUT_MS,
  );
});
