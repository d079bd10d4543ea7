/**
 * `npm run bench -- 08-traffic/http-load-balancer`: autocannon straight at one backend, then through
 * the balancer in front of two backends, in the same run. The backends live in a child process (one
 * process for both, so the backend capacity is the same in both phases); autocannon runs in a worker
 * thread, so the balancer has this process's main thread to itself rather than sharing it with the
 * load generator. The ratio is what the extra hop costs: parsing, a second connection, copying bytes.
 * Two backends are measured: an instant one (the proxy's worst case) and one that waits 10 ms.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, httpLoad, listen } from '../../../src/testing/index.js';
import { createLoadBalancer } from './load-balancer.js';

const BACKENDS_SCRIPT = `
const http = require('node:http');
const body = JSON.stringify({ ok: true, items: Array.from({ length: 10 }, (_, i) => ({ id: i, name: 'item ' + i })) });
const ports = [];
let started = 0;
for (let i = 0; i < 2; i++) {
  const server = http.createServer((req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const waitMs = Number(new URL(req.url, 'http://x').searchParams.get('wait') ?? 0);
    if (waitMs > 0) setTimeout(answer, waitMs); // a backend that waits on its database
    else answer();
  });
  server.listen(0, '127.0.0.1', () => {
    ports.push(server.address().port);
    if (++started === 2) process.stdout.write(JSON.stringify(ports) + '\\n');
  });
}
`;

async function startBackends(): Promise<{ child: ChildProcess; urls: string[] }> {
  const child = spawn(process.execPath, ['-e', BACKENDS_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const ports = JSON.parse(line.toString()) as number[];
  return { child, urls: ports.map((port) => `http://127.0.0.1:${port}`) };
}

/** autocannon in a worker thread, off the balancer's event loop. */
function loadFromWorker(label: string, url: string, ctx: BenchContext): Promise<Measurement> {
  return httpLoad({
    label,
    url,
    connections: ctx.connections,
    durationSeconds: ctx.durationSeconds,
    inWorker: true,
  });
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const { child, urls } = await startBackends();
  const lb = createLoadBalancer({ backends: urls, healthCheck: { intervalMs: 5000 } });
  const front = await listen(lb.server);
  try {
    ctx.log(
      `${ctx.connections} connections, ${ctx.durationSeconds} s per phase, backends in a child process`,
    );
    // An instant backend: the worst case for a proxy, whose work per request (parse, connect, copy)
    // is then as large as the backend's own.
    const direct = await loadFromWorker('direct, instant backend', `${urls[0]}/items`, ctx);
    const balanced = await loadFromWorker('balancer, instant backend', `${front.url}/items`, ctx);
    for (const line of comparisonTable([direct, balanced])) ctx.log(line);
    ctx.log('');
    // A backend that spends 10 ms waiting on I/O per request, as most real ones do.
    const directIo = await loadFromWorker('direct, 10 ms backend', `${urls[0]}/items?wait=10`, ctx);
    const balancedIo = await loadFromWorker('balancer, 10 ms backend', `${front.url}/items?wait=10`, ctx);
    for (const line of comparisonTable([directIo, balancedIo])) ctx.log(line);
  } finally {
    await lb.close();
    await front.close();
    child.kill();
  }
}
