/**
 * `npm run serve -- 06-caching/http-cache [--port N]`
 *
 * Starts two servers: an origin whose `/report` page is wrapped in `cacheable` (each render takes
 * 300 ms and is counted in `X-Render-Count`), and the caching proxy in front of it on the port you
 * ask for. `POST /bump` on the origin publishes a new version of the report. Then watch the
 * headers: 200 and 304 from the origin, `Cache-Status` and `Age` from the proxy.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServeContext, Served } from '../../../src/testing/index.js';
import { cacheable, strongETag } from './cache-headers.js';
import { createCachingProxy } from './caching-proxy.js';

const CACHE_CONTROL = 'public, max-age=10, stale-while-revalidate=20, stale-if-error=300';

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

/** Each command under a `#` line that says what to look for. */
function commented(lines: [command: string, comment: string][]): string[] {
  return lines.flatMap(([command, comment]) => [`# ${comment}`, `  ${command}`]);
}

export default async function serve(ctx: ServeContext): Promise<Served> {
  let version = 1;
  let renders = 0;
  const report = cacheable({
    validator: () => `report-v${version}`,
    render: async () => {
      renders++;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const body = `Quarterly report, version ${version} (render #${renders})\n`;
      return { body, contentType: 'text/plain; charset=utf-8' };
    },
    cacheControl: CACHE_CONTROL,
    vary: ['Accept-Language'],
  });
  const origin = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://origin').pathname;
    if (path === '/report') {
      res.setHeader('x-render-count', String(renders));
      return report(req, res);
    }
    if (path === '/bump' && req.method === 'POST') {
      version++;
      res.end(`the report is now at version ${version}, ETag ${strongETag(`report-v${version}`)}\n`);
      return;
    }
    res.statusCode = 404;
    res.end('try /report, or POST /bump\n');
  });
  const originUrl = await listenOn(origin, 0, ctx.host);
  const proxy = createServer(createCachingProxy({ origin: originUrl, maxEntries: 1000, timeoutMs: 5000 }));
  const url = await listenOn(proxy, ctx.port, ctx.host);
  ctx.log(`Origin on ${originUrl}: /report is cacheable (Cache-Control: ${CACHE_CONTROL})`);
  ctx.log(`Caching proxy on ${url}, in front of it`);
  const etag = strongETag('report-v1');
  return {
    url,
    tryIt: commented([
      [`curl -si ${originUrl}/report`, `200, and ETag: ${etag}`],
      [`curl -si ${originUrl}/report -H 'If-None-Match: ${etag}'`, '304: no body, no render'],
      [`curl -si ${url}/report`, 'Cache-Status: fwd=miss; fwd-status=200; stored'],
      [`curl -si ${url}/report`, 'Cache-Status: hit, and Age'],
      [`sleep 11; curl -si ${url}/report`, 'stale: served at once, revalidated behind'],
      [`curl -si -X POST ${originUrl}/bump`, 'a new version at the origin'],
      [`sleep 31; curl -si ${url}/report`, 'fwd=stale; fwd-status=200: the new version'],
      [`curl -si ${url}/report -H 'Accept-Language: fr'`, 'Vary: another variant, another entry'],
    ]),
    async close() {
      await closeAll(proxy);
      await closeAll(origin);
    },
  };
}
