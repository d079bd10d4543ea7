/**
 * Kleppmann, "How to do distributed locking" (2016), the figure "Using fencing tokens to make resource
 * access safe": client 1 takes the lock (token 33), pauses past its TTL, client 2 takes the lock
 * (token 34) and writes, client 1 wakes up and writes with 33. The pause is a deferred promise that
 * the test resolves; the expiry is Redis's own (a short TTL, waited for with a wide margin).
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { deferred, useRedis, waitFor } from '../../../src/testing/index.js';
import { connection, heldKey, uniquePrefix } from './harness.js';
import { FencedStore, type Lease, RedisLock } from './redis-lock.js';

const redis = useRedis();

/** Two clients, each with its own connection, a lock and a way to the storage service; and an observer. */
async function twoClients() {
  const prefix = uniquePrefix('kleppmann');
  const storePrefix = uniquePrefix('storage');
  const client = async () => {
    const connectionOfClient = await connection(redis);
    return {
      lock: new RedisLock(connectionOfClient, { prefix }),
      storage: new FencedStore(connectionOfClient, { prefix: storePrefix }),
      connection: connectionOfClient,
    };
  };
  return { prefix, one: await client(), two: await client(), admin: await connection(redis) };
}

/** Grants and releases the lock `n` times, so the next grant carries fence n + 1. */
async function burn(lock: RedisLock, resource: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await lock.release((await lock.acquire(resource, 10_000)) as Lease);
}

async function expired(admin: Redis, key: string): Promise<void> {
  await waitFor(`Redis to expire ${key}`, async () => (await admin.exists(key)) === 0, { timeoutMs: 5000 });
}

describe("Kleppmann's figure: a paused client and fencing tokens", () => {
  it("client 1 pauses past its TTL, client 2 writes with fence 34, client 1's write with 33 is rejected", async () => {
    const { prefix, one, two, admin } = await twoClients();
    await burn(two.lock, 'file', 32);
    const gcPause = deferred();

    // Client 1: get the lease, "do some work" (the pause), then write with its fence.
    const client1 = (async () => {
      const lease = (await one.lock.acquire('file', 150)) as Lease;
      expect(lease.fence, 'after 32 grants, client 1 gets fence 33').toBe(33);
      await gcPause.promise; // stop-the-world GC pause: the lease expires meanwhile
      return { lease, write: await one.storage.write('file', 'written by client 1', lease.fence) };
    })();

    await waitFor(
      'client 1 to hold the lock',
      async () => (await admin.exists(heldKey(prefix, 'file'))) === 1,
    );
    await expired(admin, heldKey(prefix, 'file'));
    const lease2 = (await two.lock.acquire('file', 10_000)) as Lease;
    expect(lease2?.fence, 'client 2 gets the lock once the TTL ran out, with fence 34').toBe(34);
    expect(
      await two.storage.write('file', 'written by client 2', lease2.fence),
      'client 2 writes with 34',
    ).toBe('ok');

    gcPause.resolve(); // client 1 wakes up, believing it still holds the lock
    const { lease, write } = await client1;
    expect(write, 'the storage must reject client 1: fence 33 is older than the 34 it accepted').toBe(
      'stale',
    );
    expect(await one.storage.read('file'), "the data is client 2's").toEqual({
      value: 'written by client 2',
      fence: 34,
    });
    expect(await one.lock.release(lease), "client 1's release must not free client 2's lock").toBe(false);
    expect(await admin.get(heldKey(prefix, 'file'))).toBe(lease2.token);
  });

  it('the same scenario without fencing (a plain SET) loses client 2’s update: the lock alone is not enough', async () => {
    const { prefix, one, two, admin } = await twoClients();
    const data = uniquePrefix('unfenced-data');
    const gcPause = deferred();

    const client1 = (async () => {
      const lease = (await one.lock.acquire('file', 150)) as Lease;
      await gcPause.promise;
      await one.connection.set(data, 'written by client 1'); // no fence: the storage cannot tell
      return lease;
    })();

    await waitFor(
      'client 1 to hold the lock',
      async () => (await admin.exists(heldKey(prefix, 'file'))) === 1,
    );
    await expired(admin, heldKey(prefix, 'file'));
    const lease2 = await two.lock.acquire('file', 10_000);
    expect(lease2, 'client 2 gets the lock once the TTL ran out').not.toBeNull();
    await two.connection.set(data, 'written by client 2');

    gcPause.resolve();
    await client1;
    expect(
      await admin.get(data),
      "without fencing, the paused client's late write silently overwrites client 2's: a lost update",
    ).toBe('written by client 1');
  });

  it('fencing still protects the data when the lock key vanishes behind the holder’s back (eviction, a restart)', async () => {
    const { prefix, one, two, admin } = await twoClients();
    const lease1 = (await one.lock.acquire('file', 60_000)) as Lease;
    await admin.del(heldKey(prefix, 'file')); // evicted, or lost in a failover: nobody tells client 1
    const lease2 = (await two.lock.acquire('file', 60_000)) as Lease;
    expect(
      lease2,
      'with the key gone, client 2 gets the lock while client 1 still thinks it holds it',
    ).not.toBeNull();
    expect(lease2.fence, 'the fence counter is a key of its own: it was not lost with the lock key').toBe(
      lease1.fence + 1,
    );
    expect(await two.storage.write('file', 'client 2', lease2.fence)).toBe('ok');
    expect(
      await one.storage.write('file', 'client 1', lease1.fence),
      "client 1's older fence is rejected",
    ).toBe('stale');
    expect(await one.storage.read('file')).toEqual({ value: 'client 2', fence: lease2.fence });
  });
});
