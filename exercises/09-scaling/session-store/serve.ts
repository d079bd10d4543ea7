/**
 * `npm run serve -- 09-scaling/session-store [--target solutions]`: the demo app (see `app.ts`) over
 * the Redis that the runner found. Sessions idle out after 5 minutes, access tokens after 2; the
 * JWT secret is new at every start, so tokens from an earlier run are refused.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import type { ServeContext, Served } from '../../../src/testing/runnable.js';
import { createDemoApp } from './app.js';

export default async function serve(ctx: ServeContext): Promise<Served> {
  if (!ctx.redisUrl) throw new Error('session-store needs Redis: see npm run serve --help');
  const redis = new Redis(ctx.redisUrl);
  redis.on('error', (error) => ctx.log(`redis: ${error.message}`));
  const app = createDemoApp({
    redis,
    jwtSecret: randomBytes(32),
    sessionTtlSeconds: 300,
    accessTtlSeconds: 120,
    refreshTtlSeconds: 3600,
  });
  const server = createServer(app.handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ctx.port, ctx.host, () => resolve());
  });
  const address = server.address();
  const url = `http://${ctx.host}:${typeof address === 'object' && address ? address.port : ctx.port}`;
  const jar = '/tmp/session-store.jar';
  return {
    url,
    tryIt: [
      'Redis session (cookie jar in /tmp/session-store.jar):',
      `  curl -i -c ${jar} -b ${jar} '${url}/cart/add?item=book'     # a new session: see Set-Cookie`,
      `  curl -i -c ${jar} -b ${jar} '${url}/login?user=ada'         # a NEW id: the old one is dead`,
      `  curl -s -c ${jar} -b ${jar} '${url}/me'`,
      `  cp ${jar} /tmp/stolen.jar; curl -s -c ${jar} -b ${jar} '${url}/logout'`,
      `  curl -s -b /tmp/stolen.jar '${url}/me'                      # the stolen cookie: anonymous`,
      'JWT:',
      `  T=$(curl -s '${url}/jwt/login?user=ada'); A=$(echo $T | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken'); R=$(echo $T | node -pe 'JSON.parse(require("fs").readFileSync(0)).refreshToken')`,
      `  curl -s -H "Authorization: Bearer $A" '${url}/jwt/me'`,
      `  curl -s -H "Authorization: Bearer $R" '${url}/jwt/logout'`,
      `  curl -s -H "Authorization: Bearer $A" '${url}/jwt/me'           # still ada: a JWT lives until exp (120 s)`,
      `  curl -s -H "Authorization: Bearer $R" '${url}/jwt/refresh'      # refused: the refresh token was revoked`,
    ],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    },
  };
}
