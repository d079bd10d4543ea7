/**
 * `npm run bench -- 03-services/api-gateway [--target solutions] [--duration S] [--connections N]`
 *
 * autocannon against one service, four ways, in the same run:
 *
 * 1. straight at the service (the floor);
 * 2. through your gateway on a public route (`/api/*`, prefix stripped): the cost of the extra hop;
 * 3. through Fastify 5 with `@fastify/http-proxy` 11 doing the same prefix routing to the same
 *    service: what you would otherwise install (it proxies with undici's keep-alive pool);
 * 4. through your gateway on an authenticated route (`/secure/*`), every request carrying an HS256
 *    JWT: what verifying a token on every request adds.
 *
 * The service lives in a child process, so its capacity is the same in every phase; autocannon runs
 * in a worker thread, so the proxy under test has this process's main thread to itself. The service
 * answers a 1 KB JSON body at once: the worst case for a proxy, whose own work is then as large as
 * the service's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { SignJWT } from 'jose';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, httpLoad, listen } from '../../../src/testing/index.js';
import { createApiGateway } from './api-gateway.js';
import { StaticSource } from './instance-source.js';

const SERVICE_SCRIPT = `
const http = require('node:http');
const body = JSON.stringify({ ok: true, items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: 'item ' + i })) });
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

const SECRET = new TextEncoder().encode('bench-secret-bench-secret-bench-secret!!');

async function startService(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', SERVICE_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, port: Number(line.toString().trim()) };
}

/** autocannon in a worker thread, off the proxy's event loop. */
function load(
  label: string,
  url: string,
  ctx: BenchContext,
  headers: Record<string, string> = {},
): Promise<Measurement> {
  return httpLoad({
    label,
    url,
    headers,
    connections: ctx.connections,
    durationSeconds: ctx.durationSeconds,
    inWorker: true,
  });
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const { child, port } = await startService();
  const source = new StaticSource({ items: [{ id: 'items-1', host: '127.0.0.1', port }] });
  const gateway = createApiGateway({
    source,
    auth: { key: SECRET, issuer: 'bench', audience: 'bench', algorithms: ['HS256'] },
    routes: [
      { prefix: '/api', service: 'items', timeoutMs: 5000, public: true, stripPrefix: true },
      { prefix: '/secure', service: 'items', timeoutMs: 5000, stripPrefix: true },
    ],
  });
  const front = await listen(gateway.server);
  // Fastify and its proxy load only here, so importing this file costs nothing elsewhere.
  const { default: Fastify } = await import('fastify');
  const { default: httpProxy } = await import('@fastify/http-proxy');
  const fastify = Fastify({ logger: false });
  await fastify.register(httpProxy, { upstream: `http://127.0.0.1:${port}`, prefix: '/api' });
  const fastifyUrl = await fastify.listen({ port: 0, host: '127.0.0.1' });
  const token = await new SignJWT({ sub: 'bench-user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('bench')
    .setAudience('bench')
    .setExpirationTime('1h')
    .sign(SECRET);
  try {
    ctx.log(
      `${ctx.connections} connections, ${ctx.durationSeconds} s per phase, the service in a child process`,
    );
    const rows = [
      await load('direct to the service', `http://127.0.0.1:${port}/items`, ctx),
      await load('your gateway, public route', `${front.url}/api/items`, ctx),
      await load('@fastify/http-proxy, same route', `${fastifyUrl}/api/items`, ctx),
      await load('your gateway, JWT route', `${front.url}/secure/items`, ctx, {
        authorization: `Bearer ${token}`,
      }),
    ];
    for (const line of comparisonTable(rows)) ctx.log(line);
    ctx.log('');
    for (const line of comparisonTable([rows[2]!, rows[1]!])) ctx.log(line);
  } finally {
    await fastify.close();
    await gateway.close();
    await front.close();
    child.kill();
  }
}
