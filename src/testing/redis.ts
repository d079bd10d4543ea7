/**
 * Redis for one test file: an empty database of its own, and connections that are closed for you.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';

/** This test file's Redis. */
export interface TestRedis {
  /** `redis://host:port/<db>`: pass it to the code under test. */
  readonly url: string;
  /** Host and port, for a fault proxy in front of Redis. */
  readonly host: string;
  readonly port: number;
  /** The database number this file owns (1-15; pub/sub channels are shared, so use unique names). */
  readonly db: number;
  /** A new connection to this file's database, closed after the file's tests. */
  client(options?: RedisOptions): Redis;
  /** Empties this file's database. */
  flush(): Promise<void>;
}

/**
 * Declares that this test file needs Redis. Call it once at the top level of the file.
 *
 * Files running at the same time get different databases of the run's Redis (by Vitest's pool id),
 * and each database is emptied before the file's first test. When no Redis could be started every
 * test in the file fails with a message that says how to get one.
 */
export function useRedis(): TestRedis {
  const base = inject('labRedisUrl');
  const problem = inject('labRedisProblem');
  const db = ((Number(process.env.VITEST_POOL_ID ?? 1) - 1) % 15) + 1;
  const clients: Redis[] = [];
  const parsed = base ? new URL(base) : undefined;
  const url = parsed ? withDatabase(parsed, db) : '';

  const requireRedis = () => {
    if (!base) throw new Error(problem ?? 'No Redis was started for this run.');
  };
  const client = (options: RedisOptions = {}) => {
    requireRedis();
    const connection = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, ...options });
    clients.push(connection);
    return connection;
  };
  const flush = async () => {
    requireRedis();
    const admin = new Redis(url, { maxRetriesPerRequest: 2 });
    try {
      await admin.flushdb();
    } finally {
      admin.disconnect();
    }
  };

  beforeAll(flush, 30_000);
  afterAll(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  return {
    get url() {
      requireRedis();
      return url;
    },
    host: parsed?.hostname ?? '127.0.0.1',
    port: Number(parsed?.port || 6379),
    db,
    client,
    flush,
  };
}

function withDatabase(base: URL, db: number): string {
  const url = new URL(base);
  url.pathname = `/${db}`;
  return url.toString();
}
