import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { useRedis, waitFor } from '../../../src/testing/index.js';
import { connection, fenceKey, gate, heldKey, settled, tap, uniquePrefix } from './harness.js';
import { type Lease, RedisLock } from './redis-lock.js';

const redis = useRedis();

/** A lock on a connection of its own, with a prefix no other test uses, and a connection to look with. */
async function setup() {
  const prefix = uniquePrefix('lock');
  const admin = await connection(redis);
  const lock = new RedisLock(await connection(redis), { prefix });
  const another = async () => new RedisLock(await connection(redis), { prefix });
  const held = (resource: string) => heldKey(prefix, resource);
  return { prefix, admin, lock, another, held };
}

/** Waits (with a wide margin) until Redis has expired the key. */
async function expired(admin: Redis, key: string): Promise<void> {
  await waitFor(`Redis to expire ${key}`, async () => (await admin.exists(key)) === 0, { timeoutMs: 5000 });
}

describe('acquire (SET NX PX with a token, in one script with the fence)', () => {
  it('grants a free resource: the lock key holds the lease token and expires within ttlMs (PTTL)', async () => {
    const { admin, lock, held } = await setup();
    const lease = await lock.acquire('invoice-7', 10_000);
    expect(lease, 'a free resource must be granted').not.toBeNull();
    expect(lease).toMatchObject({ resource: 'invoice-7', fence: 1 });
    expect(typeof lease?.token, 'the lease carries its token').toBe('string');
    expect(await admin.get(held('invoice-7')), 'the lock key must hold the lease token').toBe(lease?.token);
    const pttl = await admin.pttl(held('invoice-7'));
    expect(pttl, 'the lock key must have an expiry of at most ttlMs (PX, in milliseconds)').toBeGreaterThan(
      0,
    );
    expect(pttl).toBeLessThanOrEqual(10_000);
    expect(pttl, 'PX takes milliseconds: 10 000 ms, not 10 000 s').toBeGreaterThan(5_000);
  });

  it('is exclusive: 20 concurrent acquires from 5 clients grant exactly one lease', async () => {
    const { admin, another, held } = await setup();
    const locks = await Promise.all(Array.from({ length: 5 }, another));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => locks[i % 5]?.acquire('the-one', 10_000) ?? null),
    );
    const granted = results.filter((lease): lease is Lease => lease !== null);
    expect(granted.length, 'exactly one of 20 concurrent acquires may get the lock').toBe(1);
    expect(granted[0]?.fence, 'the only grant is the first: fence 1').toBe(1);
    expect(await admin.get(held('the-one'))).toBe(granted[0]?.token);
  });

  it('refuses a held lock with null, and the refusal changes nothing (token, expiry, fence counter)', async () => {
    const { admin, lock, another, held } = await setup();
    const first = await lock.acquire('report', 10_000);
    const refused = await (await another()).acquire('report', 60_000);
    expect(refused, 'a held lock must not be granted again').toBeNull();
    expect(await admin.get(held('report')), 'a refused acquire must not overwrite the token').toBe(
      first?.token,
    );
    expect(
      await admin.pttl(held('report')),
      'a refused acquire must not change the expiry of the lock it did not get',
    ).toBeLessThanOrEqual(10_000);
    await lock.release(first as Lease);
    const next = await lock.acquire('report', 10_000);
    expect(next?.fence, 'a refused acquire burns no fence number: the next grant is 2').toBe(2);
  });

  it('expires after its TTL: the key disappears by itself and the next acquire gets the next fence', async () => {
    const { admin, lock, another, held } = await setup();
    const first = await lock.acquire('short', 100);
    expect(first?.fence).toBe(1);
    await expired(admin, held('short'));
    const second = await (await another()).acquire('short', 10_000);
    expect(second, 'once the TTL has run out, another client must get the lock').not.toBeNull();
    expect(second?.fence, 'the fence counter survives the expiry: the next grant carries 2').toBe(2);
  });

  it('gives every lease its own token, even when 20 are acquired at once while the clock stands still', async () => {
    const { lock } = await setup();
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-01-01T00:00:00Z') });
    try {
      const leases = await Promise.all(Array.from({ length: 20 }, (_, i) => lock.acquire(`r-${i}`, 10_000)));
      const tokens = new Set(leases.map((lease) => lease?.token));
      expect(tokens.size, 'tokens must be unique (random), not derived from the time').toBe(20);
    } finally {
      vi.useRealTimers();
    }
  });

  it('takes its tokens from options.random, one call per acquire', async () => {
    const prefix = uniquePrefix('lock');
    const admin = await connection(redis);
    let n = 0;
    const lock = new RedisLock(await connection(redis), { prefix, random: () => `token-${++n}` });
    const a = await lock.acquire('a', 10_000);
    const b = await lock.acquire('b', 10_000);
    expect([a?.token, b?.token], 'each acquire takes a fresh token from options.random').toEqual([
      'token-1',
      'token-2',
    ]);
    expect(await admin.get(heldKey(prefix, 'b'))).toBe('token-2');
  });

  it('keeps locks of different prefixes apart', async () => {
    const admin = await connection(redis);
    const one = new RedisLock(await connection(redis), { prefix: uniquePrefix('one') });
    const two = new RedisLock(await connection(redis), { prefix: uniquePrefix('two') });
    expect(await one.acquire('shared-name', 10_000)).not.toBeNull();
    expect(await two.acquire('shared-name', 10_000), 'another prefix is another lock').not.toBeNull();
    expect(await admin.exists('lock:held:shared-name'), 'the prefix option replaces the default one').toBe(0);
  });

  it.each([
    ['0', 0],
    ['negative', -5],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('rejects a %s ttlMs with a RangeError naming it, and writes nothing', async (_, ttl) => {
    const { admin, prefix, lock } = await setup();
    await expect(lock.acquire('r', ttl), 'ttlMs must be a positive safe integer').rejects.toThrow(RangeError);
    await expect(lock.acquire('r', ttl)).rejects.toThrow(String(ttl));
    expect(await admin.keys(`${prefix}*`), 'a rejected acquire must not touch Redis').toEqual([]);
  });

  it('rejects a resource that is not a non-empty string with a RangeError that says so', async () => {
    const { lock } = await setup();
    await expect(lock.acquire('', 1000), 'the resource must be a non-empty string').rejects.toThrow(
      RangeError,
    );
    await expect(lock.acquire('', 1000)).rejects.toThrow(/resource/);
    await expect(
      lock.acquire(42 as unknown as string, 1000),
      'a number is not a resource name',
    ).rejects.toThrow(RangeError);
  });

  it('accepts the shortest TTL, 1 ms', async () => {
    const { lock } = await setup();
    await expect(lock.acquire('blink', 1), 'ttlMs = 1 is a positive safe integer').resolves.not.toBeNull();
  });

  it("uses the default prefix 'lock:' when none is given", async () => {
    const admin = await connection(redis);
    const resource = uniquePrefix('default');
    const lease = await new RedisLock(await connection(redis)).acquire(resource, 10_000);
    expect(await admin.get(`lock:held:${resource}`), "the default lock key is 'lock:held:<resource>'").toBe(
      lease?.token,
    );
    expect(
      await admin.get(`lock:fence:${resource}`),
      "the default fence key is 'lock:fence:<resource>'",
    ).toBe('1');
  });

  it('sends one script and nothing else, whether the lock is free or held (no SET then INCR)', async () => {
    const client = await connection(redis);
    const lock = new RedisLock(client, { prefix: uniquePrefix('lock') });
    await lock.acquire('warm-up', 10_000);
    for (const resource of ['free', 'free']) {
      const spy = tap(client);
      await lock.acquire(resource, 10_000);
      spy.stop();
      expect(spy.commands.length, 'an acquire sends its script to Redis').toBeGreaterThan(0);
      expect(
        spy.commands.every((name) => name === 'evalsha' || name === 'eval'),
        `an acquire must be one Lua script (EVALSHA, EVAL after NOSCRIPT), but sent ${spy.commands.join(', ')}`,
      ).toBe(true);
    }
  });

  it.each([1, 2, 3])(
    'never leaves a lock without an expiry when the client dies after its first %i command(s)',
    async (survivors) => {
      const prefix = uniquePrefix('crash');
      const admin = await connection(redis);
      const client = await connection(redis);
      const lock = new RedisLock(client, { prefix });
      gate(client, (_, index) => {
        if (index >= survivors) client.disconnect();
      });
      await settled(lock.acquire('crashy', 10_000));
      const pttl = await admin.pttl(heldKey(prefix, 'crashy'));
      expect(pttl, 'the lock key must be absent (-2) or expiring, never without a TTL (-1)').not.toBe(-1);
      const next = await new RedisLock(await connection(redis), { prefix }).acquire('crashy', 10_000);
      if (pttl === -2) expect(next, 'with no lock key left, the resource must be free').not.toBeNull();
    },
  );
});

describe('release and extend: only by the owner (Lua compare-and-delete, compare-and-expire)', () => {
  it('release by the owner deletes the lock and frees the resource; a second release returns false', async () => {
    const { admin, lock, another, held } = await setup();
    const lease = (await lock.acquire('doc', 10_000)) as Lease;
    expect(await lock.release(lease), 'the owner releases its lock').toBe(true);
    expect(await admin.exists(held('doc')), 'after release the lock key is gone').toBe(0);
    expect(
      await (await another()).acquire('doc', 10_000),
      'a released lock can be taken again',
    ).not.toBeNull();
    expect(await lock.release(lease), 'a lease released already releases nothing').toBe(false);
  });

  it('a forged lease (right resource and fence, another token) releases nothing and extends nothing', async () => {
    const { admin, lock, another, held } = await setup();
    const lease = (await lock.acquire('doc', 10_000)) as Lease;
    const forged: Lease = { ...lease, token: 'not-the-token' };
    const stranger = await another();
    expect(await stranger.release(forged), 'release with another token must return false').toBe(false);
    expect(await stranger.extend(forged, 60_000), 'extend with another token must return false').toBe(false);
    expect(await admin.get(held('doc')), "the owner's lock must still be there").toBe(lease.token);
    expect(await admin.pttl(held('doc')), 'a non-owner must not change the expiry').toBeLessThanOrEqual(
      10_000,
    );
  });

  it("an expired lease whose lock another client took releases and extends nothing of the new holder's", async () => {
    const { admin, lock, another, held } = await setup();
    const old = (await lock.acquire('doc', 100)) as Lease;
    await expired(admin, held('doc'));
    const current = (await (await another()).acquire('doc', 10_000)) as Lease;
    expect(await lock.release(old), 'release of an expired lease must return false').toBe(false);
    expect(await lock.extend(old, 60_000), 'extend of an expired lease must return false').toBe(false);
    expect(await admin.get(held('doc')), "the new holder's lock must survive").toBe(current.token);
    expect(await admin.pttl(held('doc')), "the new holder's expiry must not change").toBeLessThanOrEqual(
      10_000,
    );
  });

  it('the GET-then-DEL race: the lease expires and another client takes the lock between the commands of a release', async () => {
    const prefix = uniquePrefix('race');
    const admin = await connection(redis);
    const client = await connection(redis);
    const lock = new RedisLock(client, { prefix });
    const other = new RedisLock(await connection(redis), { prefix });
    const key = heldKey(prefix, 'doc');
    const lease = (await lock.acquire('doc', 10_000)) as Lease;
    let taken: Lease | null = null;
    const spy = gate(client, async (_, index) => {
      if (index === 0 || taken) return;
      await admin.pexpire(key, 1); // the lease runs out right now ...
      await expired(admin, key);
      taken = await other.acquire('doc', 10_000); // ... and another client takes the lock
    });
    const released = await lock.release(lease);
    spy.stop();
    if (taken === null) {
      expect(released, 'a release that ran before anything happened frees the lock').toBe(true);
    } else {
      expect(
        await admin.get(key),
        `release sent ${spy.commands.join(', ')}; between them the lease expired and another client took the lock, which the release must not delete (compare and delete in one script)`,
      ).toBe((taken as Lease).token);
      expect(released, 'a release that deleted nothing returns false').toBe(false);
    }
  });

  it('the GET-then-PEXPIRE race: an extend whose lease expires between its commands leaves the new holder alone', async () => {
    const prefix = uniquePrefix('race');
    const admin = await connection(redis);
    const client = await connection(redis);
    const lock = new RedisLock(client, { prefix });
    const other = new RedisLock(await connection(redis), { prefix });
    const key = heldKey(prefix, 'doc');
    const lease = (await lock.acquire('doc', 10_000)) as Lease;
    let taken: Lease | null = null;
    const spy = gate(client, async (_, index) => {
      if (index === 0 || taken) return;
      await admin.pexpire(key, 1);
      await expired(admin, key);
      taken = await other.acquire('doc', 5_000);
    });
    const extended = await lock.extend(lease, 60_000);
    spy.stop();
    if (taken !== null) {
      expect(
        await admin.pttl(key),
        `extend sent ${spy.commands.join(', ')}; between them the lock changed hands, and the new holder's expiry must not change`,
      ).toBeLessThanOrEqual(5_000);
      expect(extended).toBe(false);
    } else {
      expect(extended).toBe(true);
    }
  });

  it('extend by the owner sets a new TTL from now and keeps the fence (an extension is not a new grant)', async () => {
    const { admin, lock, held } = await setup();
    const lease = (await lock.acquire('job', 1_000)) as Lease;
    expect(await lock.extend(lease, 60_000), 'the owner extends its lock').toBe(true);
    expect(
      await admin.pttl(held('job')),
      'after extend the lock expires about 60 s from now',
    ).toBeGreaterThan(30_000);
    expect(await admin.get(held('job')), 'extend keeps the token').toBe(lease.token);
    expect(await lock.extend(lease, 500), 'extend sets the TTL, it may also shorten it').toBe(true);
    expect(await admin.pttl(held('job'))).toBeLessThanOrEqual(500);
    await lock.release(lease);
    const next = await lock.acquire('job', 1_000);
    expect(next?.fence, 'extend must not bump the fence counter: the next grant is 2').toBe(2);
  });

  it('cannot revive a released lease: extend returns false and creates no key', async () => {
    const { admin, lock, held } = await setup();
    const lease = (await lock.acquire('job', 10_000)) as Lease;
    await lock.release(lease);
    expect(await lock.extend(lease, 10_000), 'extend of a released lease must return false').toBe(false);
    expect(await admin.exists(held('job')), 'extend must not create a lock key').toBe(0);
  });

  it('extend rejects a bad ttlMs with a RangeError', async () => {
    const { lock } = await setup();
    const lease = (await lock.acquire('job', 10_000)) as Lease;
    await expect(lock.extend(lease, 0), 'ttlMs must be a positive safe integer').rejects.toThrow(RangeError);
  });

  it('release and extend each send one script and nothing else', async () => {
    const prefix = uniquePrefix('lock');
    const client = await connection(redis);
    const lock = new RedisLock(client, { prefix });
    const lease = (await lock.acquire('job', 10_000)) as Lease;
    await lock.extend(lease, 10_000);
    await lock.release(lease);
    const again = (await lock.acquire('job', 10_000)) as Lease;
    const spy = tap(client);
    await lock.extend(again, 10_000);
    await lock.release(again);
    spy.stop();
    expect(
      spy.commands.every((name) => name === 'evalsha' || name === 'eval'),
      `release and extend must each be one Lua script, but sent ${spy.commands.join(', ')}`,
    ).toBe(true);
  });
});

describe('fencing tokens: strictly increasing per resource (INCR)', () => {
  it('increase 1, 2, 3 … across grants by different clients, and survive releases', async () => {
    const { another } = await setup();
    const clients = [await another(), await another()];
    const fences: number[] = [];
    for (let i = 0; i < 6; i++) {
      const lock = clients[i % 2] as RedisLock;
      const lease = (await lock.acquire('counter', 10_000)) as Lease;
      fences.push(lease.fence);
      await lock.release(lease);
    }
    expect(fences, 'fences come from one counter in Redis, shared by every client').toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
  });

  it('are independent across resources', async () => {
    const { lock } = await setup();
    const fences: string[] = [];
    for (const resource of ['a', 'b', 'a', 'a', 'b']) {
      const lease = (await lock.acquire(resource, 10_000)) as Lease;
      fences.push(`${resource}${lease.fence}`);
      await lock.release(lease);
    }
    expect(fences, 'each resource has a fence counter of its own').toEqual(['a1', 'b1', 'a2', 'a3', 'b2']);
  });

  it('live in a counter key with no expiry, beside the lock key', async () => {
    const { admin, prefix, lock } = await setup();
    const lease = (await lock.acquire('doc', 10_000)) as Lease;
    await lock.release(lease);
    expect(await admin.get(fenceKey(prefix, 'doc')), 'the counter holds the last fence granted').toBe('1');
    expect(await admin.pttl(fenceKey(prefix, 'doc')), 'the counter must never expire').toBe(-1);
  });
});
