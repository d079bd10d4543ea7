import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type FaultProxy,
  ManualClock,
  startFaultProxy,
  useRedis,
  valueWithin,
  waitFor,
} from '../../../src/testing/index.js';
import { type CacheErrorStage, createCacheAside, type Loader } from './cache-aside.js';

const redis = useRedis();
const opened: Redis[] = [];
const proxies: FaultProxy[] = [];
afterAll(async () => {
  for (const client of opened.splice(0)) client.disconnect();
  for (const proxy of proxies.splice(0)) await proxy.close();
});

let prefixes = 0;

/**
 * A cache whose connection goes through a fault proxy, configured as the contract asks for a cache
 * that must not wait on a Redis that is away: no offline queue and one retry (commands fail at once
 * while disconnected), and a command timeout when the test needs one (for a Redis that stalls).
 */
async function setupBehindProxy({ commandTimeout }: { commandTimeout?: number } = {}) {
  const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
  proxies.push(proxy);
  const client = new Redis(`redis://127.0.0.1:${proxy.port}/${redis.db}`, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    ...(commandTimeout ? { commandTimeout } : {}),
    retryStrategy: () => 50,
  });
  client.on('error', () => {}); // reconnect attempts are expected here
  opened.push(client);
  await waitFor('the proxied connection to be ready', () => client.status === 'ready');
  const admin = redis.client();
  const prefix = `fail${++prefixes}:`;
  const errors: { stage: CacheErrorStage; key: string }[] = [];
  const cache = createCacheAside<string>({
    redis: client,
    prefix,
    ttlMs: 60_000,
    jitter: 0,
    clock: new ManualClock(),
    onError: (_error, stage, key) => errors.push({ stage, key }),
  });
  /** Redis goes down: open connections are cut and new ones refused, until `restore`. */
  const breakRedis = async () => {
    proxy.refuse(true);
    proxy.cut();
    await waitFor('the client to notice the cut', () => client.status !== 'ready');
  };
  const restore = async () => {
    proxy.refuse(false);
    await waitFor('the client to reconnect', () => client.status === 'ready', { timeoutMs: 10_000 });
  };
  const stored = async (key: string) => {
    const text = await admin.get(prefix + key);
    return text === null ? null : (JSON.parse(text) as Record<string, unknown>);
  };
  return { proxy, client, cache, errors, breakRedis, restore, stored };
}

/** A loader that answers `value` and remembers every key it was called with. */
function loaderOf(answer: () => string | Promise<string>) {
  const calls: string[] = [];
  const load: Loader<string> = async (key) => {
    calls.push(key);
    return answer();
  };
  return Object.assign(load, { calls });
}

describe('when Redis goes away', () => {
  it('every get answers from the loader, single-flight still holds, and both failures are reported', async () => {
    const { cache, errors, breakRedis, restore, stored } = await setupBehindProxy();
    expect(await cache.get('warm', async () => 'cached')).toBe('cached');
    await breakRedis();

    const load = loaderOf(() => 'from the database');
    const values = await valueWithin(
      Promise.all(Array.from({ length: 50 }, () => cache.get('k', load))),
      5000,
      'gets while Redis is down must answer from the loader, not wait for Redis',
    );
    expect(new Set(values), 'every get resolves with the loaded value').toEqual(
      new Set(['from the database']),
    );
    expect(load.calls, 'single-flight does not depend on Redis: one loader call for 50 gets').toEqual(['k']);
    expect(
      errors.filter((e) => e.key === 'k').map((e) => e.stage),
      'the failed read and the failed write are reported to onError',
    ).toEqual(['read', 'write']);

    const warm = loaderOf(() => 'loaded again');
    expect(await cache.get('warm', warm), 'a cached key cannot be read either: the loader answers').toBe(
      'loaded again',
    );
    await expect(cache.delete('warm'), 'a delete that cannot reach Redis rejects').rejects.toThrow();

    await restore();
    expect(await cache.get('k', load), 'once Redis is back, a miss is loaded ...').toBe('from the database');
    expect(await stored('k'), '... and written to Redis again').toMatchObject({ value: 'from the database' });
    expect(await cache.get('k', load), 'and served from it').toBe('from the database');
    expect(load.calls).toHaveLength(2);
  }, 30_000);

  it('a write that fails after the read worked still resolves the get with the loaded value', async () => {
    const { cache, errors, breakRedis, restore, stored } = await setupBehindProxy();
    const load = loaderOf(async () => {
      await breakRedis(); // Redis goes away while the loader runs: the read worked, the write will not
      return 'loaded';
    });
    expect(
      await valueWithin(cache.get('k', load), 5000, 'the get must not wait for Redis'),
      'the get resolves with the loaded value although the write failed',
    ).toBe('loaded');
    expect(errors, 'only the write failed').toEqual([{ stage: 'write', key: 'k' }]);
    await restore();
    expect(await stored('k'), 'nothing was written').toBeNull();
  }, 30_000);

  it('a Redis that stalls (the client times the commands out) is a failed read and write, not a hang', async () => {
    const { proxy, cache, errors } = await setupBehindProxy({ commandTimeout: 500 });
    proxy.pause();
    try {
      const load = loaderOf(() => 'loaded');
      expect(await valueWithin(cache.get('k', load), 5000, 'a stalled Redis must not hang the get')).toBe(
        'loaded',
      );
      expect(errors.map((e) => e.stage)).toEqual(['read', 'write']);
    } finally {
      proxy.resume();
    }
  }, 30_000);
});
