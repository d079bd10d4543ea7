// Coordinated omission, measured. A server on 127.0.0.1 (a child process) answers at once, except that it
// stalls for 300 ms every 1.5 s (think: a GC pause, a lock, a synchronous JSON.parse of a big body):
// a request that arrives during a stall is answered when the stall ends. Four load tests, 6 s each:
//   1. autocannon, 2 connections, no rate: a closed loop, as fast as it can
//   2. autocannon, 2 connections, overallRate 200/s: autocannon corrects the latencies (its default
//      when a rate is set: it calls HdrHistogram's recordValueWithExpectedInterval)
//   3. the same with ignoreCoordinatedOmission (the CLI's -C): the correction switched off
//   4. a hand-written open loop: 200 requests/s sent at their scheduled times whatever the server does,
//      latency measured from the time each request was SCHEDULED to go
// and what the truth is: 20% of the time the server is stalled, so about 20% of the requests a steady
// 200/s sends land in a stall and wait up to 300 ms; the p99 of the open loop should be near 285 ms.
// node docs/11-observability/coordinated-omission.mjs
import { fork } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';

const PERIOD_MS = 1_500;
const STALL_MS = 300;

if (process.argv[2] === 'server') {
  const t0 = performance.now();
  const server = http.createServer((_req, res) => {
    const phase = (performance.now() - t0) % PERIOD_MS;
    const wait = phase >= PERIOD_MS - STALL_MS ? PERIOD_MS - phase : 0; // the last 300 ms of every 1.5 s
    if (wait === 0) res.end('ok');
    else setTimeout(() => res.end('ok'), wait);
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('disconnect', () => process.exit(0));
} else {
  const require = createRequire(import.meta.url);
  const autocannon = require('autocannon');
  const DURATION_S = 6;
  const RATE = 200;
  const child = fork(new URL(import.meta.url).pathname, ['server']);
  const port = await new Promise((resolve) => child.once('message', resolve));
  const url = `http://127.0.0.1:${port}/`;
  console.log(
    `Node ${process.version}, autocannon ${require('autocannon/package.json').version}, ${os.availableParallelism()} cores, ` +
      `load average ${os.loadavg()[0].toFixed(2)}; server stalls ${STALL_MS} ms every ${PERIOD_MS} ms; ${DURATION_S} s per run`,
  );
  const line = (name, requests, p50, p99, max) =>
    console.log(
      `${name.padEnd(48)}${String(requests).padStart(8)}  ${p50.toFixed(1).padStart(7)} ms  ${p99.toFixed(1).padStart(7)} ms  ${max.toFixed(1).padStart(7)} ms`,
    );
  console.log(
    `${''.padEnd(48)}${'samples'.padStart(8)}  ${'p50'.padStart(10)}  ${'p99'.padStart(10)}  ${'max'.padStart(10)}`,
  );
  for (const [name, opts] of [
    ['autocannon -c 2 (closed loop)', {}],
    [`autocannon -c 2 -R ${RATE} (corrected, the default)`, { overallRate: RATE }],
    [
      `autocannon -c 2 -R ${RATE} -C (correction off)`,
      { overallRate: RATE, ignoreCoordinatedOmission: true },
    ],
  ]) {
    const r = await autocannon({ url, connections: 2, duration: DURATION_S, ...opts });
    line(name, r.latency.totalCount, r.latency.p50, r.latency.p99, r.latency.max);
  }

  // The open loop: request i is due at start + i * 1000 / RATE; a late timer does not move the schedule.
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const latencies = [];
  const start = performance.now();
  const total = DURATION_S * RATE;
  const inFlight = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      new Promise((resolve, reject) => {
        http
          .get(url, { agent }, (res) => {
            res.resume();
            res.on('end', () => {
              latencies.push(performance.now() - due); // from the INTENDED send time
              resolve();
            });
          })
          .on('error', reject);
      }),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.ceil(q * latencies.length) - 1];
  line(
    `open loop, ${RATE}/s, from the intended send time`,
    latencies.length,
    at(0.5),
    at(0.99),
    latencies.at(-1),
  );
  console.log(`load average after: ${os.loadavg()[0].toFixed(2)}`);
  child.disconnect();
}
