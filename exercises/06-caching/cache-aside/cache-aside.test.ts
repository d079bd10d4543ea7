import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { deferred, ManualClock, useRedis, valueWithin, waitFor } from '../../../src/testing/index.js';
import {
  BadEntryError,
  type CacheAsideOptions,
  type CacheErrorStage,
  createCacheAside,
  type Loader,
} from './cache-aside.js';

const redis = useRedis();
const SECOND = 1000;
const MINUTE = 60_000;

let prefixes = 0;

/** A cache on a fresh prefix and a manual clock, with no jitter unless asked (so times are exact). */
function setup(options: Partial<CacheAsideOptions> = {}) {
  const admin = redis.client();
  const prefix = `ca${++prefixes}:`;
  const clock = new ManualClock();
  const errors: { error: unknown; stage: CacheErrorStage; key: string }[] = [];
  const cache = createCacheAside<unknown>({
    redis: options.redis ?? redis.client(),
    prefix,
    ttlMs: MINUTE,
    jitter: 0,
    clock,
    onError: (error, stage, key) => errors.push({ error, stage, key }),
    ...options,
  });
  /** The envelope stored for `key`, parsed, or null when Redis has none. */
  const entry = async (key: string) => {
    const stored = await admin.get(prefix + key);
    return stored === null ? null : (JSON.parse(stored) as Record<string, unknown>);
  };
  const pttl = (key: string) => admin.pttl(prefix + key);
  return { cache, clock, prefix, admin, errors, entry, pttl };
}

/** A loader that answers from `answer` and remembers every key it was called with. */
function loaderOf<V>(answer: (key: string, call: number) => V | Promise<V>) {
  const calls: string[] = [];
  const load: Loader<V> = async (key) => {
    calls.push(key);
    return answer(key, calls.length);
  };
  return Object.assign(load, { calls });
}

/** A connection whose commands are recorded (name only), from now on. */
async function recordedClient(): Promise<{ client: Redis; commands: string[] }> {
  const client = redis.client();
  await client.ping(); // connected and past ioredis' own start-up commands before recording begins
  const commands: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    commands.push(args[0].name.toUpperCase());
    return send(...args);
  }) as Redis['sendCommand'];
  return { client, commands };
}

describe('options', () => {
  it('rejects a bad TTL, stale period, negative TTL or jitter with a RangeError naming it and its value', () => {
    const bad: [keyof CacheAsideOptions, number][] = [
      ['ttlMs', 0],
      ['ttlMs', -1000],
      ['ttlMs', 1.5],
      ['ttlMs', Number.NaN],
      ['ttlMs', Number.POSITIVE_INFINITY],
      ['staleMs', -1],
      ['staleMs', 0.5],
      ['staleMs', Number.NaN],
      ['negativeTtlMs', -1],
      ['negativeTtlMs', 2.5],
      ['negativeTtlMs', Number.NaN],
      ['jitter', -0.1],
      ['jitter', 1],
      ['jitter', 1.5],
      ['jitter', Number.NaN],
    ];
    for (const [option, value] of bad) {
      const create = () =>
        createCacheAside({ redis: redis.client(), prefix: 'x:', ttlMs: 1000, [option]: value });
      expect(create, `${option}: ${value} must be refused`).toThrow(RangeError);
      expect(create, `the message names ${option} and ${value}`).toThrow(option);
      expect(create, `the message names ${option} and ${value}`).toThrow(String(value));
    }
  });

  it('rejects a missing redis or a prefix that is not a string with a TypeError', () => {
    expect(() =>
      createCacheAside({ redis: undefined as unknown as Redis, prefix: 'x:', ttlMs: 1000 }),
    ).toThrow(TypeError);
    expect(() =>
      createCacheAside({ redis: redis.client(), prefix: 42 as unknown as string, ttlMs: 1000 }),
    ).toThrow(TypeError);
  });

  it('accepts the edges: ttlMs 1, staleMs 0, negativeTtlMs 0, jitter 0 and 0.99', () => {
    const client = redis.client();
    for (const extra of [{ staleMs: 0, negativeTtlMs: 0, jitter: 0 }, { jitter: 0.99 }]) {
      expect(() => createCacheAside({ redis: client, prefix: 'x:', ttlMs: 1, ...extra })).not.toThrow();
    }
  });
});

describe('a miss, then hits', () => {
  it('calls the loader once, stores an envelope under prefix + key with PX to staleUntil, and hits after', async () => {
    const { cache, clock, entry, pttl } = setup({ ttlMs: MINUTE, staleMs: 30 * SECOND });
    const t0 = clock.now();
    const load = loaderOf((key) => ({ id: key, name: 'Ada' }));
    expect(await cache.get('user:1', load)).toEqual({ id: 'user:1', name: 'Ada' });
    expect(load.calls, 'a miss calls the loader with the key').toEqual(['user:1']);
    expect(await entry('user:1'), 'the envelope is written before get resolves').toEqual({
      value: { id: 'user:1', name: 'Ada' },
      freshUntil: t0 + MINUTE,
      staleUntil: t0 + MINUTE + 30 * SECOND,
    });
    const ttl = await pttl('user:1');
    expect(ttl, "Redis's TTL runs to staleUntil: the fresh period plus the stale period").toBeLessThanOrEqual(
      90 * SECOND,
    );
    expect(ttl, 'PX is staleUntil − now (90 s here), not just the fresh period').toBeGreaterThan(85 * SECOND);

    clock.advance(MINUTE - 1);
    expect(await cache.get('user:1', load), 'still fresh 1 ms before freshUntil').toEqual({
      id: 'user:1',
      name: 'Ada',
    });
    expect(load.calls, 'a fresh entry is served without calling the loader').toHaveLength(1);
  });

  it('is fresh while now < freshUntil and a miss at freshUntil when there is no stale period', async () => {
    const { cache, clock } = setup({ ttlMs: SECOND });
    const load = loaderOf((_key, call) => `v${call}`);
    expect(await cache.get('k', load)).toBe('v1');
    clock.advance(SECOND - 1);
    expect(await cache.get('k', load), 'fresh at freshUntil − 1').toBe('v1');
    clock.advance(1);
    expect(await cache.get('k', load), 'at freshUntil the entry is no longer fresh: the loader runs').toBe(
      'v2',
    );
    expect(load.calls).toHaveLength(2);
  });

  it('decides freshness by the envelope on the cache clock, even while Redis still holds the key', async () => {
    const { cache, clock, pttl } = setup({ ttlMs: 5 * SECOND, negativeTtlMs: 5 * SECOND });
    const load = loaderOf((key, call) => (key === 'gone' ? undefined : `v${call}`));
    await cache.get('k', load);
    await cache.get('gone', load);
    clock.advance(10 * SECOND); // the clock moved on; Redis's own TTL (real time) has not
    expect(await pttl('k'), 'Redis still has the key').toBeGreaterThan(0);
    expect(await cache.get('k', load), 'a value past freshUntil is not served as fresh').toBe('v3');
    expect(await cache.get('gone', load), 'a "missing" past freshUntil is not served either').toBe(undefined);
    expect(load.calls, 'both were loaded again').toEqual(['k', 'gone', 'k', 'gone']);
  });

  it('counts an entry’s times from when the loader resolved, not from when the get started', async () => {
    const { cache, clock, entry, pttl } = setup({ ttlMs: 10 * SECOND, staleMs: 10 * SECOND });
    const slow = deferred<string>();
    const pending = cache.get('k', () => slow.promise);
    await waitFor('the loader to be called', () => cache.stats().loads === 1);
    clock.advance(4 * SECOND); // a slow query
    const resolvedAt = clock.now();
    slow.resolve('v');
    expect(await pending).toBe('v');
    expect(await entry('k'), 'times count from the moment the value arrived').toEqual({
      value: 'v',
      freshUntil: resolvedAt + 10 * SECOND,
      staleUntil: resolvedAt + 20 * SECOND,
    });
    expect(await pttl('k'), 'PX is a whole 20 s, not 20 s minus the load').toBeGreaterThan(17 * SECOND);
  });

  it('caches null, 0, false, "" and [] as values: a stored null is not a miss', async () => {
    for (const negativeTtlMs of [0, MINUTE]) {
      const { cache, entry } = setup({ negativeTtlMs });
      const values: Record<string, unknown> = { null: null, zero: 0, false: false, empty: '', list: [] };
      const load = loaderOf((key) => values[key]);
      for (const key of Object.keys(values)) {
        expect(await cache.get(key, load), `${key} is returned as loaded`).toEqual(values[key]);
      }
      for (const key of Object.keys(values)) {
        expect(await cache.get(key, load), `${key} comes back from the cache as itself`).toEqual(values[key]);
      }
      expect(
        await cache.get('null', load),
        `null stays null, never undefined (negativeTtlMs ${negativeTtlMs})`,
      ).toBeNull();
      expect(load.calls, `each value was loaded once (negativeTtlMs ${negativeTtlMs})`).toEqual(
        Object.keys(values),
      );
      expect(await entry('null'), 'null is stored as a value').toMatchObject({ value: null });
    }
  });

  it('keeps caches with different prefixes apart and lets caches with one prefix share entries', async () => {
    const a = setup();
    const b = setup();
    const sameAsA = createCacheAside<unknown>({
      redis: redis.client(),
      prefix: a.prefix,
      ttlMs: MINUTE,
      clock: a.clock,
    });
    expect(await a.cache.get('k', async () => 'from a')).toBe('from a');
    expect(await b.cache.get('k', async () => 'from b'), 'another prefix is another cache').toBe('from b');
    const load = loaderOf(() => 'never');
    expect(await sameAsA.get('k', load), 'another instance on the same prefix reads the entry').toBe(
      'from a',
    );
    expect(load.calls).toEqual([]);
  });

  it('does not share lookups between caches: two caches asked for one key at once load it each', async () => {
    const users = setup();
    const products = setup();
    const gate = deferred<void>();
    const userLoader = loaderOf(async (key) => {
      await gate.promise;
      return `user ${key}`;
    });
    const productLoader = loaderOf(async (key) => `product ${key}`);
    const user = users.cache.get('42', userLoader);
    const product = products.cache.get('42', productLoader);
    await waitFor('the users loader to be called', () => userLoader.calls.length > 0);
    gate.resolve();
    expect(await user).toBe('user 42');
    expect(await product, 'the products cache answers from its own loader, not the users cache').toBe(
      'product 42',
    );
    expect(await products.entry('42'), 'and stores under its own prefix').toMatchObject({
      value: 'product 42',
    });
  });

  it('counts every get once in hits, staleHits or misses, and hands out snapshots', async () => {
    const { cache, clock } = setup({ ttlMs: SECOND, staleMs: MINUTE });
    const load = loaderOf((_key, call) => `v${call}`);
    await Promise.all([cache.get('a', load), cache.get('a', load), cache.get('a', load)]);
    const before = cache.stats();
    expect(before, 'three gets shared one load: three misses').toEqual({
      hits: 0,
      staleHits: 0,
      misses: 3,
      loads: 1,
      loadErrors: 0,
    });
    await Promise.all([cache.get('a', load), cache.get('a', load)]);
    clock.advance(SECOND);
    await cache.get('a', load);
    await waitFor('the refresh to finish', () => load.calls.length === 2);
    await cache
      .get('b', async () => {
        throw new Error('down');
      })
      .catch(() => {});
    expect(cache.stats()).toEqual({ hits: 2, staleHits: 1, misses: 4, loads: 3, loadErrors: 1 });
    expect(before.hits, 'a snapshot does not change afterwards').toBe(0);
  });
});

describe('single-flight', () => {
  it('1,000 concurrent gets of a cold key: one Redis read, one loader call, one Redis write', async () => {
    const { client, commands } = await recordedClient();
    const { cache } = setup({ redis: client });
    const gate = deferred<void>();
    const load = loaderOf(async (key) => {
      await gate.promise;
      return { key, at: 'db' };
    });
    const gets = Array.from({ length: 1000 }, () => cache.get('hot', load));
    await waitFor('the loader to be called', () => load.calls.length > 0);
    gate.resolve();
    const values = await Promise.all(gets);
    expect(load.calls, '1,000 concurrent misses of one key call the loader once').toEqual(['hot']);
    expect(
      values.every((v) => v === values[0]),
      'every waiter receives the loaded value',
    ).toBe(true);
    expect(values[0]).toEqual({ key: 'hot', at: 'db' });
    expect(commands, 'one command to read the entry and one (SET with PX) to write it').toEqual([
      'GET',
      'SET',
    ]);
    expect(cache.stats()).toMatchObject({ misses: 1000, loads: 1 });
  });

  it('1,000 concurrent gets of a fresh key share one Redis read', async () => {
    const { client, commands } = await recordedClient();
    const { cache } = setup({ redis: client });
    await cache.get('hot', async () => 'v');
    commands.length = 0;
    const load = loaderOf(() => 'never');
    const values = await Promise.all(Array.from({ length: 1000 }, () => cache.get('hot', load)));
    expect(new Set(values)).toEqual(new Set(['v']));
    expect(commands, 'concurrent hits of one key ask Redis once').toEqual(['GET']);
    expect(load.calls).toEqual([]);
    expect(cache.stats()).toMatchObject({ hits: 1000 });
  });

  it('a get that joins a lookup under way does not call its own loader', async () => {
    const { cache } = setup();
    const gate = deferred<string>();
    const first = loaderOf(() => gate.promise);
    const second = loaderOf(() => 'second');
    const a = cache.get('k', first);
    const b = cache.get('k', second);
    await waitFor('the first loader to be called', () => first.calls.length > 0);
    gate.resolve('first');
    expect(await Promise.all([a, b]), 'both get the first loader’s value').toEqual(['first', 'first']);
    expect(second.calls, 'the joining get’s loader is not called').toEqual([]);
  });

  it('gets of different keys do not wait for each other, and each gets its own value', async () => {
    const { cache } = setup();
    const never = deferred<string>();
    void cache.get('stuck', () => never.promise);
    const load = loaderOf((key) => `value of ${key}`);
    const [a, b] = await valueWithin(
      Promise.all([cache.get('a', load), cache.get('b', load)]),
      4000,
      'a get of another key must not wait for a slow load of "stuck"',
    );
    expect([a, b]).toEqual(['value of a', 'value of b']);
    expect(load.calls.sort(), 'one load per key').toEqual(['a', 'b']);
    never.resolve('late');
  });

  it('a rejected load rejects every waiter with its error, is not cached, and the next get loads again', async () => {
    const { cache, entry } = setup({ negativeTtlMs: MINUTE });
    const failure = new Error('database is down');
    const gate = deferred<void>();
    const failing = loaderOf(async () => {
      await gate.promise;
      throw failure;
    });
    const gets = Array.from({ length: 100 }, () => cache.get('k', failing));
    await waitFor('the loader to be called', () => failing.calls.length > 0);
    gate.resolve();
    const outcomes = await Promise.allSettled(gets);
    expect(
      outcomes.every((o) => o.status === 'rejected' && o.reason === failure),
      'all 100 waiters reject with the loader’s own error',
    ).toBe(true);
    expect(failing.calls, 'one loader call for all of them').toHaveLength(1);
    expect(await entry('k'), 'a failure is not written to Redis (not even as "missing")').toBeNull();
    expect(cache.stats()).toMatchObject({ misses: 100, loads: 1, loadErrors: 1 });

    const recovered = loaderOf(() => 'back');
    expect(await cache.get('k', recovered), 'the next get calls the loader again').toBe('back');
    expect(recovered.calls).toEqual(['k']);
  });

  it('a loader that throws synchronously is a rejection like any other', async () => {
    const { cache } = setup();
    const failure = new Error('bad input');
    const throwing = (() => {
      throw failure;
    }) as unknown as Loader<unknown>;
    await expect(cache.get('k', throwing), 'the get rejects with the thrown error').rejects.toBe(failure);
    expect(await cache.get('k', async () => 'ok'), 'and the key is not stuck').toBe('ok');
    expect(cache.stats()).toMatchObject({ loads: 2, loadErrors: 1 });
  });
});

describe('negative caching', () => {
  it('by default does not cache "does not exist": every get calls the loader, and no entry stays', async () => {
    const { cache, entry } = setup();
    const load = loaderOf(() => undefined);
    expect(await cache.get('ghost', load)).toBeUndefined();
    expect(await cache.get('ghost', load)).toBeUndefined();
    expect(load.calls, 'without negativeTtlMs each get asks the loader').toEqual(['ghost', 'ghost']);
    expect(await entry('ghost'), 'nothing is stored for a key that does not exist').toBeNull();
  });

  it('caches "does not exist" for negativeTtlMs, as a "missing" envelope with no stale period', async () => {
    const { cache, clock, entry, pttl } = setup({ negativeTtlMs: 5 * SECOND, staleMs: MINUTE });
    const t0 = clock.now();
    const load = loaderOf((_key, call) => (call === 1 ? undefined : 'created'));
    expect(await cache.get('ghost', load)).toBeUndefined();
    expect(await entry('ghost')).toEqual({
      missing: true,
      freshUntil: t0 + 5 * SECOND,
      staleUntil: t0 + 5 * SECOND,
    });
    const ttl = await pttl('ghost');
    expect(ttl, 'PX is negativeTtlMs: no stale period for "missing"').toBeLessThanOrEqual(5 * SECOND);
    expect(ttl).toBeGreaterThan(2 * SECOND);

    clock.advance(5 * SECOND - 1);
    expect(await cache.get('ghost', load), 'still cached as missing').toBeUndefined();
    expect(load.calls).toHaveLength(1);
    expect(cache.stats().hits, 'a cached "missing" is a hit').toBe(1);
    clock.advance(1);
    expect(
      await cache.get('ghost', load),
      'at freshUntil a "missing" is not served stale: the loader is asked and its answer returned',
    ).toBe('created');
    expect(load.calls).toHaveLength(2);
  });
  it('jitters the negative TTL like any other', async () => {
    let calls = 0;
    const random = () => {
      calls++;
      return 0.5;
    };
    const { cache, clock, entry } = setup({ negativeTtlMs: 1000, jitter: 0.5, random });
    const t0 = clock.now();
    expect(await cache.get('ghost', async () => undefined)).toBeUndefined();
    expect(calls, 'one random() for the "missing" entry written').toBe(1);
    expect(await entry('ghost'), '1000 × (1 − 0.5 × 0.5) = 750 ms').toEqual({
      missing: true,
      freshUntil: t0 + 750,
      staleUntil: t0 + 750,
    });
  });
});

describe('stale-while-revalidate', () => {
  it('serves a stale value at once and refreshes it once in the background', async () => {
    const { cache, clock, entry } = setup({ ttlMs: SECOND, staleMs: MINUTE });
    await cache.get('k', async () => 'old');
    clock.advance(SECOND); // at freshUntil: stale
    const refresh = deferred<string>();
    const load = loaderOf(() => refresh.promise);
    expect(
      await valueWithin(
        cache.get('k', load),
        4000,
        'a stale read must answer without waiting for the refresh',
      ),
    ).toBe('old');
    expect(load.calls, 'the stale read started a refresh').toEqual(['k']);

    const concurrent = await Promise.all(Array.from({ length: 50 }, () => cache.get('k', load)));
    for (let i = 0; i < 5; i++) concurrent.push(await cache.get('k', load));
    expect(new Set(concurrent), 'every stale read gets the stale value').toEqual(new Set(['old']));
    expect(load.calls, 'one refresh for all the stale reads while it runs').toHaveLength(1);
    expect(cache.stats()).toMatchObject({ staleHits: 56, loads: 2 });

    const refreshedAt = clock.now();
    refresh.resolve('new');
    await waitFor('the refresh to be written', async () => (await entry('k'))?.value === 'new');
    expect(await entry('k')).toEqual({
      value: 'new',
      freshUntil: refreshedAt + SECOND,
      staleUntil: refreshedAt + SECOND + MINUTE,
    });
    expect(await cache.get('k', load), 'after the refresh the new value is fresh').toBe('new');
    expect(load.calls).toHaveLength(1);
  });

  it('is stale from freshUntil up to staleUntil, and a miss from staleUntil on', async () => {
    const { cache, clock } = setup({ ttlMs: SECOND, staleMs: 2 * SECOND });
    await cache.get('a', async () => 'old a');
    await cache.get('b', async () => 'old b');
    clock.advance(3 * SECOND - 1);
    const refresh = deferred<string>();
    expect(await cache.get('a', () => refresh.promise), 'stale at staleUntil − 1').toBe('old a');
    clock.advance(1);
    const load = loaderOf(() => 'new b');
    expect(await cache.get('b', load), 'at staleUntil the entry is gone: the get waits for the loader').toBe(
      'new b',
    );
    expect(cache.stats()).toMatchObject({ staleHits: 1, misses: 3 });
    refresh.resolve('new a');
  });

  it('a miss while a refresh of the key runs waits for that refresh instead of loading again', async () => {
    const { cache, clock } = setup({ ttlMs: SECOND, staleMs: SECOND });
    await cache.get('k', async () => 'old');
    clock.advance(SECOND);
    const refresh = deferred<string>();
    expect(await cache.get('k', () => refresh.promise), 'stale: a refresh starts').toBe('old');
    clock.advance(SECOND); // past staleUntil while the refresh is still running
    const load = loaderOf(() => 'second load');
    const miss = cache.get('k', load);
    await cache.get('other', async () => 'x'); // give the miss time to read Redis and decide
    refresh.resolve('refreshed');
    expect(await miss, 'the miss is answered by the running refresh').toBe('refreshed');
    expect(load.calls, 'at most one load of a key at a time: the miss did not call its loader').toEqual([]);
    expect(cache.stats()).toMatchObject({ loads: 3 });
  });

  it('a failed refresh keeps the stale value, is reported, and the next stale read tries again', async () => {
    const { cache, clock, entry, errors } = setup({ ttlMs: SECOND, staleMs: MINUTE });
    await cache.get('k', async () => 'old');
    const stored = await entry('k');
    clock.advance(SECOND);
    const failure = new Error('refresh failed');
    const refresh = deferred<string>();
    const failing = loaderOf(() => refresh.promise);
    for (let i = 0; i < 3; i++) expect(await cache.get('k', failing)).toBe('old');
    refresh.reject(failure);
    await waitFor('the failed refresh to be reported', () => errors.length > 0);
    await cache.get('other', async () => 'x'); // time for any further report to arrive
    expect(errors, 'reported to onError once, as a refresh of the key').toEqual([
      { error: failure, stage: 'refresh', key: 'k' },
    ]);
    expect(await entry('k'), 'the stale entry is left as it was').toEqual(stored);
    expect(cache.stats()).toMatchObject({ loadErrors: 1 });

    const working = loaderOf(() => 'new');
    expect(await cache.get('k', working), 'still stale').toBe('old');
    expect(working.calls, 'the next stale read starts a new refresh').toEqual(['k']);
    await waitFor('the second refresh to be written', async () => (await entry('k'))?.value === 'new');
  });

  it('a refresh that finds the key gone deletes the entry, or caches "missing" with negativeTtlMs', async () => {
    for (const negativeTtlMs of [0, MINUTE]) {
      const { cache, clock, entry } = setup({ ttlMs: SECOND, staleMs: MINUTE, negativeTtlMs });
      await cache.get('k', async () => 'old');
      clock.advance(SECOND);
      const gone = loaderOf(() => undefined);
      expect(await cache.get('k', gone)).toBe('old');
      await waitFor(
        `the refresh to replace the entry (negativeTtlMs ${negativeTtlMs})`,
        async () => {
          const e = await entry('k');
          return e === null || e.missing === true;
        },
        { timeoutMs: 4000 },
      );
      expect(
        await cache.get('k', gone),
        `once the source says the key is gone, the stale value is not served (negativeTtlMs ${negativeTtlMs})`,
      ).toBeUndefined();
    }
  });
});

describe('jittered TTLs', () => {
  it('cuts each fresh period by jitter × random(), calling random() once per entry written', async () => {
    const draws = [0, 0.25, 0.5, 0.75];
    let calls = 0;
    const random = () => draws[calls++ % draws.length]!;
    const { cache, clock, entry, pttl } = setup({ ttlMs: 1000, jitter: 0.5, random, staleMs: 100 });
    const t0 = clock.now();
    for (const key of ['a', 'b', 'c', 'd']) await cache.get(key, async () => key);
    for (const key of ['a', 'b', 'c', 'd']) await cache.get(key, async () => 'again');
    expect(calls, 'one random() per entry written, none on reads').toBe(4);
    const fresh = await Promise.all(['a', 'b', 'c', 'd'].map(async (k) => (await entry(k))?.freshUntil));
    expect(fresh, 'fresh periods of 1000 × (1 − 0.5 × r) for r = 0, 0.25, 0.5, 0.75').toEqual([
      t0 + 1000,
      t0 + 875,
      t0 + 750,
      t0 + 625,
    ]);
    const ttls = await Promise.all(['a', 'b', 'c', 'd'].map(pttl));
    expect(ttls[3], 'PX follows the jittered period (625 + 100 ms stale)').toBeLessThanOrEqual(725);
    expect(ttls[0]).toBeGreaterThan(725);
    clock.advance(625);
    const load = loaderOf(() => 'reloaded');
    await cache.get('d', load);
    await cache.get('c', load);
    expect(load.calls, 'd is stale at 625 ms, c (750 ms) is still fresh').toEqual(['d']);
  });

  it('jitters by 0.1 by default and with Math.random when none is given', async () => {
    const { cache, clock, entry } = setup({ ttlMs: 10_000, jitter: undefined, random: () => 0.5 });
    const t0 = clock.now();
    await cache.get('k', async () => 'v');
    const freshFor = Number((await entry('k'))?.freshUntil) - t0;
    expect(freshFor, 'default jitter 0.1: 10 s × (1 − 0.1 × 0.5) = 9.5 s').toBeGreaterThanOrEqual(9499);
    expect(freshFor).toBeLessThanOrEqual(9501);

    const spread = setup({ ttlMs: 100_000, jitter: undefined, random: undefined });
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => spread.cache.get(k, async () => k)));
    const periods = await Promise.all(
      keys.map(async (k) => Number((await spread.entry(k))?.freshUntil) - spread.clock.now()),
    );
    expect(new Set(periods).size, '200 keys written together get many different expiries').toBeGreaterThan(
      50,
    );
    expect(Math.min(...periods), 'never less than 90% of ttlMs').toBeGreaterThanOrEqual(90_000);
    expect(Math.max(...periods), 'never more than ttlMs').toBeLessThanOrEqual(100_000);
  });

  it('rounds the fresh period up to whole milliseconds, so a tiny TTL never becomes 0', async () => {
    const { cache, clock, entry, errors } = setup({
      ttlMs: 1,
      staleMs: MINUTE,
      jitter: 0.5,
      random: () => 0.5,
    });
    const t0 = clock.now();
    await cache.get('k', async () => 'v');
    expect(errors, 'the write succeeded').toEqual([]);
    expect(await entry('k'), '1 ms × 0.75 rounds up to 1 ms, never down to 0').toEqual({
      value: 'v',
      freshUntil: t0 + 1,
      staleUntil: t0 + 1 + MINUTE,
    });
    const load = loaderOf(() => 'never');
    expect(await cache.get('k', load), 'fresh for that 1 ms').toBe('v');
    expect(load.calls).toEqual([]);
  });
});

describe('delete', () => {
  it('removes the entry: the next get loads again', async () => {
    const { cache, entry } = setup();
    const load = loaderOf((_key, call) => `v${call}`);
    await cache.get('k', load);
    await cache.delete('k');
    expect(await entry('k'), 'delete removes the entry from Redis').toBeNull();
    expect(await cache.get('k', load)).toBe('v2');
  });

  for (const order of ['the old load finishes first', 'the new load finishes first']) {
    it(`a load that started before delete never writes, and later gets do not join it (${order})`, async () => {
      const { client, commands } = await recordedClient();
      const { cache, entry } = setup({ redis: client });
      const before = deferred<string>();
      const after = deferred<string>();
      const oldLoad = loaderOf(() => before.promise);
      const newLoad = loaderOf(() => after.promise);
      const early = cache.get('k', oldLoad);
      await waitFor('the first load to start', () => oldLoad.calls.length > 0);
      await cache.delete('k'); // the source changed while the first load was reading it
      const late = cache.get('k', newLoad);
      await waitFor(
        'a get after delete to call its own loader instead of joining the earlier load',
        () => newLoad.calls.length > 0,
        { timeoutMs: 4000 },
      );
      if (order === 'the old load finishes first') {
        before.resolve('old');
        expect(await early, 'the waiters of the old load still get its answer').toBe('old');
        commands.length = 0;
        const third = loaderOf(() => 'third');
        const joining = cache.get('k', third); // the lookup started after the delete is still under way
        after.resolve('new');
        expect(await joining, 'a get during the newer lookup joins it').toBe('new');
        expect(third.calls).toEqual([]);
        expect(
          commands,
          'the old lookup, when it ended, must not have unregistered the newer one: no second read',
        ).toEqual(['SET']);
      } else {
        after.resolve('new');
        await late;
        before.resolve('old');
        expect(await early).toBe('old');
      }
      expect(await late).toBe('new');
      expect(await entry('k'), 'the entry holds the value loaded after the delete').toMatchObject({
        value: 'new',
      });
      expect(
        await cache.get(
          'k',
          loaderOf(() => 'x'),
        ),
      ).toBe('new');
    });
  }

  it('a refresh running when delete is called does not write its result', async () => {
    const { cache, clock, entry } = setup({ ttlMs: SECOND, staleMs: MINUTE });
    await cache.get('k', async () => 'v1');
    clock.advance(SECOND);
    const refresh = deferred<string>();
    expect(await cache.get('k', () => refresh.promise)).toBe('v1');
    await cache.delete('k');
    refresh.resolve('read before the delete');
    await cache.get('other', async () => 'x'); // a round trip after the refresh settled
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await entry('k'), 'the refresh read the source before the change: not written').toBeNull();
  });
});

describe('entries that are not envelopes', () => {
  it('treats them as misses, reports a BadEntryError, and overwrites them', async () => {
    const { cache, admin, prefix, errors, entry } = setup();
    const junk = [
      'not json',
      '42',
      'null',
      '[1,2]',
      '{"value":1}',
      '{"freshUntil":1,"staleUntil":2}',
      '{"value":1,"freshUntil":"soon","staleUntil":2}',
      'x'.repeat(300),
    ];
    for (const [i, stored] of junk.entries()) {
      await admin.set(`${prefix}junk${i}`, stored);
      const load = loaderOf(() => `loaded ${i}`);
      expect(await cache.get(`junk${i}`, load), `${stored} is a miss`).toBe(`loaded ${i}`);
      expect(load.calls).toHaveLength(1);
      expect(await entry(`junk${i}`), 'and is replaced by an envelope').toMatchObject({
        value: `loaded ${i}`,
      });
    }
    expect(errors.map((e) => [e.stage, e.key])).toEqual(junk.map((_, i) => ['read', `junk${i}`]));
    for (const { error } of errors) {
      expect(error).toBeInstanceOf(BadEntryError);
      expect((error as BadEntryError).code).toBe('CACHE_BAD_ENTRY');
    }
    const stored = errors.map((e) => [(e.error as BadEntryError).key, (e.error as BadEntryError).stored]);
    expect(stored, 'each error names the key and the first 100 characters stored').toEqual(
      junk.map((text, i) => [`junk${i}`, text.slice(0, 100)]),
    );
  });

  it('treats a failed read (a key of the wrong type) as a miss, reports it, and answers from the loader', async () => {
    const { cache, admin, prefix, errors } = setup();
    await admin.hset(`${prefix}k`, 'field', 'value'); // GET on a hash fails with WRONGTYPE
    expect(await cache.get('k', async () => 'loaded')).toBe('loaded');
    expect(errors.map((e) => e.stage)).toEqual(['read']);
    expect(
      await cache.get(
        'k',
        loaderOf(() => 'again'),
      ),
      'the write replaced it',
    ).toBe('loaded');
  });

  it('ignores an onError that throws', async () => {
    const { cache, admin, prefix } = setup({
      onError: () => {
        throw new Error('broken logger');
      },
    });
    await admin.set(`${prefix}k`, 'junk');
    expect(await cache.get('k', async () => 'loaded')).toBe('loaded');
  });
});
