/**
 * The pool with real TCP connections: an ioredis connection per resource, to this file's Redis.
 * Redis itself counts the connections (`CLIENT LIST`, filtered by a connection name unique to each
 * test), so the check does not trust the pool's own numbers. Real timers here, with wide margins.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { useRedis, waitFor } from '../../../src/testing/index.js';
import { Pool, type ResourceFactory } from './pool.js';

const redis = useRedis();
const admin = () => redis.client();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A factory of ioredis connections named `name`, that never reconnect by themselves. */
function redisFactory(
  name: string,
): ResourceFactory<Redis> & { opened: number; maxOpen: number; open: number; all: Redis[] } {
  const factory = {
    all: [] as Redis[],
    opened: 0,
    open: 0,
    maxOpen: 0,
    async create() {
      factory.opened++;
      factory.open++;
      factory.maxOpen = Math.max(factory.maxOpen, factory.open);
      const connection = new Redis(redis.url, {
        connectionName: name,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
      });
      connection.on('error', () => {}); // a killed connection reports here; validate sees its status
      factory.all.push(connection);
      try {
        await connection.connect();
      } catch (error) {
        connection.disconnect();
        factory.open--;
        throw error;
      }
      return connection;
    },
    async destroy(connection: Redis) {
      try {
        if (connection.status === 'ready') await connection.quit();
        else connection.disconnect();
      } finally {
        factory.open--;
      }
    },
    async validate(connection: Redis) {
      return connection.status === 'ready';
    },
  };
  return factory;
}

/** The ids of the connections Redis lists under `name`. */
async function clientIds(client: Redis, name: string): Promise<string[]> {
  const list = (await client.client('LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1] as string);
}

describe('Pool: real TCP connections to Redis', () => {
  it('50 concurrent use() calls with max 4 never open more than 4 connections, and drain closes them all', async () => {
    const name = `pool-${randomUUID().slice(0, 8)}`;
    const factory = redisFactory(name);
    const pool = new Pool(factory, { max: 4, acquireTimeoutMs: 20_000 });
    cleanups.push(() => pool.drain());
    const watcher = admin();
    let maxSeen = 0;
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        pool.use(async (connection) => {
          const reply = await connection.ping();
          if (i % 5 === 0) maxSeen = Math.max(maxSeen, (await clientIds(watcher, name)).length);
          return reply;
        }),
      ),
    );
    expect(
      replies.every((r) => r === 'PONG'),
      'every use() ran its PING',
    ).toBe(true);
    expect(factory.maxOpen, 'the factory never had more than max 4 connections open').toBeLessThanOrEqual(4);
    expect(maxSeen, 'Redis never saw more than 4 of the pool’s connections').toBeLessThanOrEqual(4);
    expect(maxSeen, 'and it did see the pool’s connections').toBeGreaterThan(0);
    expect(factory.opened, 'the pool reused connections instead of opening one per call').toBeLessThanOrEqual(
      4,
    );
    expect(pool.stats()).toMatchObject({ size: factory.opened, borrowed: 0, pending: 0 });
    await pool.drain();
    expect(factory.open, 'after drain the factory has closed every connection').toBe(0);
    const left = await waitFor(
      'Redis to list none of the pool’s connections after drain',
      async () => ((await clientIds(watcher, name)).length === 0 ? 'none' : undefined),
      { timeoutMs: 5000 },
    );
    expect(left).toBe('none');
  }, 30_000);

  it('replaces connections the server killed while they were idle', async () => {
    const name = `pool-${randomUUID().slice(0, 8)}`;
    const factory = redisFactory(name);
    const pool = new Pool(factory, { max: 2, acquireTimeoutMs: 20_000 });
    cleanups.push(() => pool.drain());
    const watcher = admin();
    await Promise.all([0, 1].map(() => pool.use((c) => c.ping())));
    expect(pool.stats()).toMatchObject({ size: 2, available: 2 });
    const before = await clientIds(watcher, name);
    expect(before).toHaveLength(2);
    for (const id of before) await watcher.client('KILL', 'ID', id);
    // Wait until ioredis has noticed: the pool's validate reads the connection's status.
    await waitFor('both killed connections to report closed', () =>
      factory.all.every((c) => c.status === 'end') ? true : undefined,
    );
    const replies = await Promise.all([0, 1, 2].map(() => pool.use((c) => c.ping())));
    expect(replies, 'every call got a working connection').toEqual(['PONG', 'PONG', 'PONG']);
    expect(factory.opened, 'the two dead connections were replaced').toBe(4);
    const after = await clientIds(watcher, name);
    expect(
      after.some((id) => before.includes(id)),
      'none of the killed connections is in use',
    ).toBe(false);
    expect(factory.maxOpen).toBeLessThanOrEqual(2);
  }, 30_000);
});
