/**
 * `npm run bench -- 13-url-shortener/shortener-service`: the redirect path under load.
 *
 * Three phases in one run, same connections and duration: a bare `node:http` server that answers
 * every request with a constant 302 (the ceiling: what Node itself costs), the shortener with a warm
 * hot-link cache, and the shortener with its cache off (every redirect reads Redis). The first ratio
 * is the price of the service's own work; the gap between the last two is what the cache buys.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import type { BenchContext } from '../../../src/testing/index.js';
import { comparisonTable, httpLoad, listen } from '../../../src/testing/index.js';
import { createShortener, type ShortenerOptions } from './shortener.js';

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis: start one (see chapter 00) or set REDIS_URL');
  const keyPrefix = `bench13:${process.pid}:`;
  const phase = { connections: ctx.connections, durationSeconds: ctx.durationSeconds, expectStatus: 302 };
  ctx.log(`${ctx.connections} connections, ${ctx.durationSeconds} s per phase, GET /<code> → 302`);

  const bare = await listen(
    createServer((_req, res) => res.writeHead(302, { location: 'https://example.com/landing' }).end()),
  );
  const baseline = await httpLoad({ ...phase, label: 'bare node:http 302', url: `${bare.url}/abc12345` });
  await bare.close();

  const measureShortener = async (label: string, options: Partial<ShortenerOptions>) => {
    const shortener = await createShortener({ redisUrl: ctx.redisUrl!, keyPrefix, ...options });
    const service = await listen(shortener.server);
    try {
      const created = await fetch(`${service.url}/api/links`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'https://example.com/landing' }),
      });
      const { code } = (await created.json()) as { code: string };
      await fetch(`${service.url}/${code}`, { redirect: 'manual' }); // warms the cache, if there is one
      return await httpLoad({ ...phase, label, url: `${service.url}/${code}` });
    } finally {
      await shortener.close();
    }
  };
  const cached = await measureShortener('shortener, warm cache', {});
  const uncached = await measureShortener('shortener, cache off', { cache: false });

  for (const line of comparisonTable([baseline, cached, uncached])) ctx.log(line);
  const ratio = cached.perSecond / baseline.perSecond;
  ctx.log(`warm-cache redirects run at ${ratio.toFixed(2)}× the bare server (target: at least 0.6×)`);

  const admin = new Redis(ctx.redisUrl);
  try {
    const stale = await admin.keys(`${keyPrefix}*`);
    for (let i = 0; i < stale.length; i += 500) await admin.del(...stale.slice(i, i + 500));
  } finally {
    admin.disconnect();
  }
}
