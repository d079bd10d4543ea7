/**
 * `npm run serve -- 13-url-shortener/shortener-service`: starts the shortener on Redis so you can
 * try it with curl. Add `-- --no-cache` to turn the hot-link cache off.
 */
import type { ServeContext, Served } from '../../../src/testing/runnable.js';
import { createShortener } from './shortener.js';

export default async function serve(ctx: ServeContext): Promise<Served> {
  if (!ctx.redisUrl)
    throw new Error('the shortener needs Redis: start one (see chapter 00) or set REDIS_URL');
  const shortener = await createShortener({
    redisUrl: ctx.redisUrl,
    keyPrefix: 'short:',
    ...(ctx.args.includes('--no-cache') ? { cache: false as const } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    shortener.server.once('error', reject);
    shortener.server.listen(ctx.port, ctx.host, () => resolve());
  });
  const address = shortener.server.address();
  const port = typeof address === 'object' && address ? address.port : ctx.port;
  const url = `http://${ctx.host}:${port}`;
  return {
    url,
    tryIt: [
      `Create:   curl -si ${url}/api/links -H 'content-type: application/json' -d '{"url":"https://example.com/docs","ttlSeconds":3600}'`,
      `Alias:    curl -si ${url}/api/links -H 'content-type: application/json' -d '{"url":"https://example.com","alias":"hello"}'`,
      `Follow:   curl -si ${url}/hello          (a 302 with Location)`,
      `Stats:    curl -s ${url}/api/links/hello`,
      `Delete:   curl -si -X DELETE ${url}/api/links/hello -H 'authorization: Bearer <deleteToken>'`,
      `Refused:  curl -si ${url}/api/links -H 'content-type: application/json' -d '{"url":"javascript:alert(1)"}'`,
    ],
    close: () => shortener.close(),
  };
}
