/**
 * `npm run serve -- 03-services/api-gateway [--target solutions] [--port N]`
 *
 * Starts three demo services on free ports (users, orders, inventory; inventory is slow on
 * `/inventory/slow`), lists them in a {@link StaticSource}, and puts the gateway in front:
 *
 * - `/users`, `/orders`: need a bearer token (HS256 with a demo secret; a token is printed);
 * - `/inventory`: public, 1 s timeout (so `/inventory/slow`, 3 s, is a 504);
 * - `/dashboard`: an aggregation of all three under a 500 ms deadline, where the stock leg is the
 *   slow path, so the answer is partial.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { ServeContext, Served } from '../../../src/testing/index.js';
import { createApiGateway } from './api-gateway.js';
import { StaticSource } from './instance-source.js';

const DEMO_SECRET = new TextEncoder().encode('demo-secret-change-me-demo-secret-change-me');
const ISSUER = 'https://auth.demo.local';
const AUDIENCE = 'demo-gateway';

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeAll(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A demo service: answers JSON about itself and what the gateway told it; `/slow` after 3 s. */
function demoService(name: string): Server {
  return createServer((req, res) => {
    req.resume();
    const answer = () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        `${JSON.stringify({
          service: name,
          path: req.url,
          subject: req.headers['x-authenticated-subject'] ?? null,
          forwardedFor: req.headers['x-forwarded-for'] ?? null,
          forwarded: req.headers.forwarded ?? null,
        })}\n`,
      );
    };
    if (req.url?.startsWith('/slow')) setTimeout(answer, 3000).unref();
    else answer();
  });
}

export default async function serve(ctx: ServeContext): Promise<Served> {
  const names = ['users', 'orders', 'inventory'] as const;
  const demos = names.map((name) => demoService(name));
  const ports = await Promise.all(demos.map((server) => listenOn(server, 0, ctx.host)));
  const source = new StaticSource(
    Object.fromEntries(
      names.map((name, i) => [name, [{ id: `${name}-1`, host: ctx.host, port: ports[i]! }]]),
    ),
  );
  ctx.log(`Demo services: ${names.map((name, i) => `${name} on :${ports[i]}`).join(', ')}`);

  const gateway = createApiGateway({
    source,
    auth: { key: DEMO_SECRET, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] },
    routes: [
      { prefix: '/users', service: 'users', timeoutMs: 2000 },
      { prefix: '/orders', service: 'orders', timeoutMs: 2000 },
      { prefix: '/inventory', service: 'inventory', timeoutMs: 1000, public: true, stripPrefix: true },
    ],
    aggregations: [
      {
        path: '/dashboard',
        deadlineMs: 500,
        legs: [
          { name: 'user', service: 'users', path: '/users/me' },
          { name: 'orders', service: 'orders', path: '/orders?mine=1' },
          { name: 'stock', service: 'inventory', path: '/slow' },
        ],
      },
    ],
  });
  const port = await listenOn(gateway.server, ctx.port, ctx.host);
  const url = `http://${ctx.host}:${port}`;
  const token = await new SignJWT({ sub: 'demo-user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(DEMO_SECRET);
  ctx.log(`API gateway on ${url}. A demo token for sub=demo-user, valid for an hour:`);
  ctx.log(`  TOKEN=${token}`);
  return {
    url,
    tryIt: [
      `curl -si ${url}/users/me -H "Authorization: Bearer $TOKEN"          # 200, the service sees x-authenticated-subject`,
      `curl -si ${url}/users/me                                            # 401, WWW-Authenticate: Bearer`,
      `curl -si ${url}/users/me -H "Authorization: Bearer nope"            # 401, error="invalid_token"`,
      `curl -si ${url}/inventory/stock -H 'X-Forwarded-For: 203.0.113.7'   # public; XFF appended, Forwarded added`,
      `curl -si ${url}/inventory/slow                                      # 504 after the 1 s route timeout`,
      `curl -s  ${url}/dashboard -H "Authorization: Bearer $TOKEN"         # partial: true, errors.stock = "timeout"`,
    ],
    async close() {
      await gateway.close();
      await Promise.all(demos.map(closeAll));
    },
  };
}
