/**
 * `npm run serve -- 02-patterns/layered-api`: the users API on a real port, backed by Redis when
 * one is available (as the tests find it) and by memory otherwise.
 */
import { Redis } from 'ioredis';
import type { ServeContext, Served } from '../../../src/testing/runnable.js';
import { createUserServer } from './controller.js';
import { createMemoryUserRepository } from './memory-repository.js';
import { createRedisUserRepository } from './redis-repository.js';
import { createUserService } from './service.js';

export default async function serve(ctx: ServeContext): Promise<Served> {
  const redis = ctx.redisUrl ? new Redis(ctx.redisUrl) : undefined;
  const repository = redis ? createRedisUserRepository(redis) : createMemoryUserRepository();
  const server = createUserServer(createUserService(repository), {
    onError: (error) => ctx.log(`500: ${error instanceof Error ? error.stack : String(error)}`),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ctx.port, ctx.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : ctx.port;
  const url = `http://${ctx.host}:${port}`;
  ctx.log(`users API on ${url}, storing users ${redis ? `in Redis (${ctx.redisUrl})` : 'in memory'}`);

  return {
    url,
    tryIt: [
      `curl -i -X POST ${url}/users -H 'content-type: application/json' -d '{"name":"Ada","email":"ada@example.com"}'`,
      `curl -i ${url}/users/<id from the Location header>`,
      `curl -i -X POST ${url}/users -d '{"name":"Ada"'      # malformed JSON: 400`,
    ],
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      redis?.disconnect();
    },
  };
}
