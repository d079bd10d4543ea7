/**
 * `npm run bench -- 08-traffic/http-load-balancer`: autocannon straight at one backend, then through
 * the balancer in front of two backends, in the same run. The backends live in a child process (one
 * process for both, so the backend capacity is the same in both phases); the balancer and autocannon
 * share this one. The ratio is what the extra hop costs: parsing, a second connection, copying bytes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { BenchContext } from '../../../src/testing/index.js';
import { comparisonTable, httpLoad, listen } from '../../../src/testing/index.js';
import { createLoadBalancer } from './load-balancer.js';

const BACKENDS_SCRIPT = `
const http = require('node:http');
const body = JSON.stringify({ ok: true, items: Array.from({ length: 10 }, (_, i) => ({ id: i, name: 'item ' + i })) });
const ports = [];
let started = 0;
for (let i = 0; i < 2; i++) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
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

export default async function bench(ctx: BenchContext): Promise<void> {
  const { child, urls } = await startBackends();
  const lb = createLoadBalancer({ backends: urls, healthCheck: { intervalMs: 5000 } });
  const front = await listen(lb.server);
  try {
    const load = { connections: ctx.connections, durationSeconds: ctx.durationSeconds, expectStatus: 200 };
    ctx.log(
      `${ctx.connections} connections, ${ctx.durationSeconds} s per phase, backends in a child process`,
    );
    const direct = await httpLoad({ label: 'direct to one backend', url: `${urls[0]}/items`, ...load });
    const balanced = await httpLoad({ label: 'through the balancer', url: `${front.url}/items`, ...load });
    for (const line of comparisonTable([direct, balanced])) ctx.log(line);
  } finally {
    await lb.close();
    await front.close();
    child.kill();
  }
}
