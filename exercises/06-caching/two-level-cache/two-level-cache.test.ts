import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import {
  connection,
  countingLoader,
  defaults,
  gatedLoader,
  type Instance,
  L1_TTL_MS,
  L2_TTL_MS,
  listenerTotal,
  ManualClock,
  startInstance,
  tap,
  useNames,
  within,
} from './harness.js';
import { CacheClosedError, createTwoLevelCache, type TwoLevelCacheOptions } from './two-level-cache.js';

const redis = useRedis();
const names = useNames();

/** Starts one app server on the test's prefix and channel; every instance of a test shares `clock`. */
function server(clock = new ManualClock(), options: Partial<TwoLevelCacheOptions> = {}): Promise<Instance> {
  return startInstance(
    { redis: redis.url, subscriber: redis.url },
    { ...defaults(names, clock), ...options },
  );
}

/** Three app servers on one clock. */
async function servers(clock = new ManualClock()): Promise<[Instance, Instance, Instance]> {
  return Promise.all([server(clock), server(clock), server(clock)]);
}

const entry = (key: string) => `${names.prefix}${key}`;

/** Reads `key` and reports whether it cost any Redis command. */
async function read(instance: Instance, key: string): Promise<{ value: unknown; commands: string[] }> {
  instance.resetCommands();
  const value = await instance.cache.get(key);
  return { value, commands: instance.commands() };
}

/** A connection of the test's own, subscribed to the test's channel, that records every message. */
async function listen(): Promise<{ messages: string[]; heard(): Promise<void> }> {
  const subscriber = await connection(redis.url);
  const messages: string[] = [];
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === names.channel) messages.push(message);
  });
  await subscriber.subscribe(names.channel);
  return { messages, heard: async () => void (await subscriber.ping()) };
}

describe('reading through the levels', () => {
  it('an L1 hit makes no Redis call; an L2 hit is copied into L1', async () => {
    const [a, b] = await servers();
    await a.cache.set('user:1', { name: 'Ada' });
    await b.heard(); // A's invalidation has reached B: it cannot drop what B reads next

    const first = await read(b, 'user:1');
    expect(first.value, 'B finds what A set, in L2').toEqual({ name: 'Ada' });
    expect(first.commands.length, 'B had nothing in L1, so it asked Redis').toBeGreaterThan(0);

    const second = await read(b, 'user:1');
    expect(second.value).toEqual({ name: 'Ada' });
    expect(second.commands, 'the L2 hit was copied into L1: the second read makes no Redis call').toEqual([]);
  });

  it('reads a value written to L2 by anyone (the hash <prefix><key>, field value)', async () => {
    const [a] = await servers();
    await redis.client().hset(entry('greeting'), 'value', JSON.stringify('hello'), 'version', '7');
    expect((await read(a, 'greeting')).value, 'the field `value` holds the JSON text').toBe('hello');
    expect((await read(a, 'greeting')).commands, 'and now from L1, without Redis').toEqual([]);
  });

  it('a full miss calls the loader once, then fills L2 and L1', async () => {
    const [a, b] = await servers();
    const { calls, loader } = countingLoader((key) => ({ id: key, loaded: true }));

    expect(await a.cache.get('order:9', loader)).toEqual({ id: 'order:9', loaded: true });
    expect(calls, 'the loader is called with the key').toEqual(['order:9']);

    a.resetCommands();
    expect(await a.cache.get('order:9', loader), 'now from L1').toEqual({ id: 'order:9', loaded: true });
    expect(a.commands(), 'an L1 hit: no Redis call').toEqual([]);
    expect(calls.length, 'and no second loader call').toBe(1);

    expect(await b.cache.get('order:9'), 'another instance finds the loaded value in L2').toEqual({
      id: 'order:9',
      loaded: true,
    });
  });

  it('without a loader, a miss resolves undefined', async () => {
    const [a] = await servers();
    expect(await a.cache.get('nothing-here')).toBeUndefined();
  });

  it('a loader that resolves undefined means "not found": nothing is cached in either level', async () => {
    const [a, b] = await servers();
    const { calls, loader } = countingLoader(() => undefined);
    expect(await a.cache.get('ghost', loader)).toBeUndefined();
    expect(await redis.client().exists(entry('ghost')), 'nothing written to L2').toBe(0);
    expect(await a.cache.get('ghost', loader)).toBeUndefined();
    expect(calls.length, 'not found is not cached: the loader is asked again').toBe(2);
    expect(await b.cache.get('ghost')).toBeUndefined();
  });

  it('null, 0, empty string and false are values: cached in both levels and returned as such', async () => {
    const [a, b] = await servers();
    for (const value of [null, 0, '', false]) {
      const key = `falsy:${JSON.stringify(value)}`;
      const { calls, loader } = countingLoader(() => value);
      expect(await a.cache.get(key, loader), `the loader's ${JSON.stringify(value)} is returned`).toBe(value);
      expect(await a.cache.get(key, loader), `${JSON.stringify(value)} from L1`).toBe(value);
      expect(calls.length, `${JSON.stringify(value)} is a value, not a miss: cached after one load`).toBe(1);
      expect(await b.cache.get(key, loader), `${JSON.stringify(value)} from L2 on another instance`).toBe(
        value,
      );
      expect(calls.length, `B found ${JSON.stringify(value)} in L2 and did not load it`).toBe(1);
    }
    await a.cache.set('set-null', null);
    expect(await b.cache.get('set-null'), 'a set null reads back as null, not as a miss').toBeNull();
  });

  it('every get returns a fresh copy: changing it, or the object that was set, changes nothing', async () => {
    const [a, b] = await servers();
    const original = { tags: ['a'], at: new Date(0) };
    await a.cache.set('doc', original);
    original.tags.push('changed after set');

    const first = await a.cache.get('doc');
    expect(first, 'L1 holds what was set, as JSON gives it back (a Date becomes its string)').toEqual({
      tags: ['a'],
      at: '1970-01-01T00:00:00.000Z',
    });
    first.tags.push('changed by a reader');
    const second = await a.cache.get('doc');
    expect(second, "one reader's change is not another reader's value").toEqual({
      tags: ['a'],
      at: '1970-01-01T00:00:00.000Z',
    });
    expect(second, 'each get resolves its own copy').not.toBe(first);
    expect(await b.cache.get('doc'), 'the same value from L2 on another instance').toEqual(second);

    const { loader, called, answer } = gatedLoader<{ n: number }>();
    const together = [b.cache.get('shared', loader), b.cache.get('shared', loader)];
    await called;
    answer({ n: 1 });
    const [one, two] = await Promise.all(together);
    expect(one).toEqual({ n: 1 });
    expect(two, 'callers that share a lookup still get copies of their own').not.toBe(one);
  });

  it('a loader value with no JSON text rejects the get with a TypeError, and nothing is cached', async () => {
    const [a] = await servers();
    await expect(
      a.cache.get('fn', async () => () => 1),
      'a function is not a value',
    ).rejects.toThrow(TypeError);
    expect(await redis.client().exists(entry('fn')), 'nothing written to L2').toBe(0);
    expect(await a.cache.get('fn', async () => 'fixed'), 'nor kept anywhere: the next get loads again').toBe(
      'fixed',
    );
  });

  it('set rejects a value with no JSON text with a TypeError, and writes nothing', async () => {
    const [a] = await servers();
    const listener = await listen();
    for (const [what, value] of [
      ['undefined', undefined],
      ['a function', () => 1],
      ['a BigInt', 1n],
    ] as const) {
      await expect(a.cache.set('bad', value), `set of ${what}`).rejects.toThrow(TypeError);
    }
    expect(await redis.client().exists(entry('bad')), 'nothing written to L2').toBe(0);
    await listener.heard();
    expect(listener.messages, 'nothing published').toEqual([]);
  });
});

describe('single flight', () => {
  it('1,000 concurrent gets of a cold key share one L2 read, one loader call and one fill', async () => {
    const [a] = await servers();
    const { calls, loader, called, answer } = gatedLoader<string>();
    a.resetCommands();
    const gets = Array.from({ length: 1000 }, () => a.cache.get('hot', loader));
    await called;
    answer('value');
    expect(await Promise.all(gets)).toEqual(Array(1000).fill('value'));
    expect(calls.length, '1,000 concurrent misses, one loader call').toBe(1);
    expect(
      a.commands().length,
      `one read and one fill for all 1,000 callers, not a Redis read each (sent: ${a.commands().slice(0, 8).join(', ')}...)`,
    ).toBeLessThan(20);
  });

  it('gets of another key do not wait for a slow lookup', async () => {
    const [a] = await servers();
    const slow = gatedLoader<string>();
    const pending = a.cache.get('slow', slow.loader);
    await slow.called;
    const other = await within(
      a.cache.get('fast', async () => 'fast value'),
      3000,
    );
    expect(other, 'a lookup of "fast" must not queue behind the lookup of "slow"').toBe('fast value');
    slow.answer('slow value');
    expect(await pending).toBe('slow value');
  });

  it('a loader that rejects rejects every caller of its lookup; nothing is cached; the next get loads again', async () => {
    const [a] = await servers();
    const failure = new Error('database timeout');
    const { calls, loader, called, fail } = gatedLoader<string>();
    const gets = [a.cache.get('flaky', loader), a.cache.get('flaky', loader), a.cache.get('flaky', loader)];
    await called;
    fail(failure);
    for (const get of gets) await expect(get, 'every caller gets the loader’s error').rejects.toBe(failure);
    expect(calls.length).toBe(1);
    expect(await redis.client().exists(entry('flaky')), 'a failure is not written to L2').toBe(0);

    const retry = countingLoader(() => 'recovered');
    expect(await a.cache.get('flaky', retry.loader), 'a failure is not remembered: the next get loads').toBe(
      'recovered',
    );
    expect(retry.calls.length).toBe(1);

    const throwing = () => {
      throw failure;
    };
    await expect(
      a.cache.get('throws', throwing as never),
      'a loader that throws synchronously rejects the get',
    ).rejects.toBe(failure);
    expect(await a.cache.get('throws', async () => 'fine'), 'and is not remembered either').toBe('fine');
  });
});

describe('invalidation across instances', () => {
  it('a set on A makes B and C drop their L1 copy of that key (and only that key)', async () => {
    const [a, b, c] = await servers();
    await a.cache.set('price', 10);
    await a.cache.set('stock', 3);
    await Promise.all([b.heard(), c.heard()]);
    expect(await b.cache.get('price')).toBe(10);
    expect(await c.cache.get('price')).toBe(10);
    expect(await b.cache.get('stock')).toBe(3);

    await a.cache.set('price', 12);
    await Promise.all([b.heard(), c.heard()]);
    expect(await b.cache.get('price'), 'B dropped its L1 copy when the invalidation arrived').toBe(12);
    expect(await c.cache.get('price'), 'and so did C (the L1 TTL has not moved)').toBe(12);
    expect(await read(b, 'stock'), 'an invalidation of "price" leaves "stock" in L1').toEqual({
      value: 3,
      commands: [],
    });
  });

  it('a delete on A makes B drop its copy; L2 keeps a tombstone with a new version', async () => {
    const [a, b] = await servers();
    await a.cache.set('session', 'alive');
    await b.heard();
    expect(await b.cache.get('session')).toBe('alive');

    await a.cache.delete('session');
    await b.heard();
    expect(await b.cache.get('session'), 'B dropped its copy').toBeUndefined();
    expect(await a.cache.get('session'), 'A too').toBeUndefined();
    const tombstone = await redis.client().hgetall(entry('session'));
    expect(tombstone, 'the hash stays, with no value and the version incremented by the delete').toEqual({
      version: '2',
    });
    const ttl = await redis.client().pttl(entry('session'));
    expect(ttl, `the tombstone expires after l2TtlMs (${L2_TTL_MS} ms)`).toBeGreaterThan(L2_TTL_MS - 10_000);
    expect(ttl).toBeLessThanOrEqual(L2_TTL_MS);
  });

  it('publishes {origin, key, version} as JSON on the channel for every set and delete', async () => {
    const clock = new ManualClock();
    const a = await server(clock, { instanceId: 'server-a' });
    const listener = await listen();
    await a.cache.set('k', 1);
    await a.cache.set('k', 2);
    await a.cache.delete('k');
    await a.cache.set('other/ké"y', 3);
    await listener.heard();
    expect(listener.messages.map((m) => JSON.parse(m))).toEqual([
      { origin: 'server-a', key: 'k', version: 1 },
      { origin: 'server-a', key: 'k', version: 2 },
      { origin: 'server-a', key: 'k', version: 3 },
      { origin: 'server-a', key: 'other/ké"y', version: 1 },
    ]);
    expect(await redis.client().hget(entry('k'), 'version'), 'the version in L2 is the one published').toBe(
      '3',
    );
  });

  it('an instance ignores its own invalidations: a get right after its own set is an L1 hit', async () => {
    const [a] = await servers();
    await a.cache.set('mine', 'v1');
    await a.heard(); // its own message has come back by now
    expect(await read(a, 'mine'), 'the value A just wrote is still in its L1').toEqual({
      value: 'v1',
      commands: [],
    });

    const publisher = redis.client();
    await publisher.publish(
      names.channel,
      JSON.stringify({ origin: a.cache.instanceId, key: 'mine', version: 9 }),
    );
    await a.heard();
    expect((await read(a, 'mine')).commands, 'a message with its own origin is ignored').toEqual([]);

    await publisher.publish(
      names.channel,
      JSON.stringify({ origin: 'someone-else', key: 'mine', version: 10 }),
    );
    await a.heard();
    expect(
      (await read(a, 'mine')).commands.length,
      "another origin's message for the key drops it: the next get asks Redis",
    ).toBeGreaterThan(0);
  });

  it('a peer that hears an invalidation publishes nothing in return and leaves L2 alone', async () => {
    const [a, b, c] = await servers();
    await a.cache.set('config', 'old');
    await Promise.all([b.heard(), c.heard()]);
    await b.cache.get('config');
    await c.cache.get('config');
    const listener = await listen();

    await a.cache.set('config', 'new');
    await Promise.all([b.heard(), c.heard()]);
    await Promise.all([b.redis.ping(), c.redis.ping()]); // anything they sent in reaction has reached Redis
    await listener.heard();
    expect(listener.messages.length, 'one set, one message: peers do not answer invalidations').toBe(1);
    expect(await redis.client().hget(entry('config'), 'value'), "the writer's value is still in L2").toBe(
      JSON.stringify('new'),
    );
    expect(await b.cache.get('config')).toBe('new');
  });

  it('caches created without an instanceId get distinct ids, so instances in one process hear each other', async () => {
    const clock = new ManualClock();
    const [a, b] = await Promise.all([server(clock), server(clock)]);
    expect(typeof a.cache.instanceId).toBe('string');
    expect(a.cache.instanceId.length).toBeGreaterThan(0);
    expect(a.cache.instanceId, 'two caches in one process must not share an id').not.toBe(b.cache.instanceId);

    await a.cache.set('shared', 1);
    await b.heard();
    expect(await b.cache.get('shared')).toBe(1);
    await a.cache.set('shared', 2);
    await b.heard();
    expect(await b.cache.get('shared'), "B hears A's invalidation").toBe(2);
  });

  it("messages on the subscriber's other channels are not invalidations", async () => {
    const [a, b] = await servers();
    const other = `${names.channel}:other`;
    await b.subscriber.subscribe(other);
    await a.cache.set('steady', 'v');
    await b.heard();
    await b.cache.get('steady');

    const publisher = redis.client();
    await publisher.publish(other, JSON.stringify({ origin: 'x', key: 'steady', version: 99 }));
    await publisher.publish(other, 'not json at all');
    await b.heard();
    expect((await read(b, 'steady')).commands, 'L1 is untouched by messages on other channels').toEqual([]);
  });

  it('a message on the channel that is not a readable invalidation drops all of L1', async () => {
    const [a, b] = await servers();
    await a.cache.set('one', 1);
    await a.cache.set('two', 2);
    await b.heard();
    const publisher = redis.client();

    for (const garbage of ['not json', '{"origin":"x"}', '42', 'null', '{"origin":"x","key":7}']) {
      await b.cache.get('one');
      await b.cache.get('two');
      await publisher.publish(names.channel, garbage);
      await b.heard();
      expect(
        (await read(b, 'one')).commands.length,
        `after ${garbage}: "one" is read from Redis again`,
      ).toBeGreaterThan(0);
      expect((await read(b, 'two')).commands.length, `after ${garbage}: so is "two"`).toBeGreaterThan(0);
    }
    await a.cache.set('one', 'still listening');
    await b.heard();
    expect(await b.cache.get('one'), 'B still handles invalidations after the garbage').toBe(
      'still listening',
    );
  });
});

describe('races between lookups and invalidations', () => {
  it("a peer's set during a load wins: the loaded value goes neither into L1 nor over the new value in L2", async () => {
    const [a, b, c] = await servers();
    const slow = gatedLoader<string>();
    const load = b.cache.get('race', slow.loader);
    await slow.called; // B has read L2 (a miss) and is loading

    await a.cache.set('race', 'new');
    await b.heard();
    slow.answer('old');
    expect(await load, 'the caller still gets what its loader returned').toBe('old');

    expect(await b.cache.get('race'), "B's L1 must not keep the load that the set overtook").toBe('new');
    expect(
      await redis.client().hget(entry('race'), 'value'),
      'the slow fill must not overwrite the set',
    ).toBe(JSON.stringify('new'));
    expect(await c.cache.get('race'), 'every other instance reads the new value').toBe('new');
  });

  it('a delete during a load wins: the deleted key does not come back', async () => {
    const [a, b, c] = await servers();
    const slow = gatedLoader<string>();
    const load = b.cache.get('gone', slow.loader);
    await slow.called;

    await a.cache.delete('gone');
    await b.heard();
    slow.answer('resurrected?');
    expect(await load).toBe('resurrected?');

    expect(
      await redis.client().hget(entry('gone'), 'value'),
      'the fill must not bring the key back in L2',
    ).toBeNull();
    expect(await b.cache.get('gone'), "nor in B's L1").toBeUndefined();
    expect(await c.cache.get('gone'), 'nor anywhere else').toBeUndefined();
  });

  it('a set or delete on the same instance during its own load wins', async () => {
    const [a, b] = await servers();
    const slowSet = gatedLoader<string>();
    const loading = a.cache.get('local-set', slowSet.loader);
    await slowSet.called;
    await a.cache.set('local-set', 'new');
    slowSet.answer('old');
    expect(await loading).toBe('old');
    expect(await read(a, 'local-set'), 'L1 keeps what the set wrote, not what the load found').toEqual({
      value: 'new',
      commands: [],
    });

    const slowDelete = gatedLoader<string>();
    const loadingDeleted = a.cache.get('local-delete', slowDelete.loader);
    await slowDelete.called;
    await a.cache.delete('local-delete');
    slowDelete.answer('old');
    expect(await loadingDeleted).toBe('old');
    expect(await a.cache.get('local-delete'), 'a key deleted during its load stays deleted').toBeUndefined();
    expect(await b.cache.get('local-delete')).toBeUndefined();
  });

  it('an invalidation that arrives while an L2 reply is on its way wins too', async () => {
    const [a, b] = await servers();
    await a.cache.set('racing-read', 'v1');
    await b.heard(); // the invalidation of this first set must not be the one that saves B below
    b.tap.holding = (name) => name !== 'ping';
    const reading = b.cache.get('racing-read');
    await expect.poll(() => b.tap.held, { timeout: 5000 }).toBeGreaterThan(0); // Redis has answered v1
    b.tap.holding = undefined;

    await a.cache.set('racing-read', 'v2');
    await b.heard(); // the invalidation reaches B before the reply it sent for
    b.tap.release();
    expect(await reading, 'the read itself may answer v1: Redis read it before the set').toBe('v1');
    expect(await b.cache.get('racing-read'), 'but v1 must not stay in L1 after its invalidation').toBe('v2');
  });

  it("a peer's set that lands after this instance's set wins in this instance's L1 too", async () => {
    const [a, b] = await servers();
    b.tap.holding = (name) => name !== 'ping';
    const writing = b.cache.set('last-writer', 'from B');
    await expect.poll(() => b.tap.held, { timeout: 5000 }).toBeGreaterThan(0); // B's write is done in Redis
    b.tap.holding = undefined;

    await a.cache.set('last-writer', 'from A'); // a later write, whose invalidation B hears first
    await b.heard();
    b.tap.release();
    await writing;
    expect(
      await b.cache.get('last-writer'),
      "B must not keep its own, older value after A's invalidation",
    ).toBe('from A');
  });

  it("a lookup that an invalidation replaced does not take its successor's place when it ends", async () => {
    const [a, b] = await servers();
    const first = gatedLoader<string>();
    const old = b.cache.get('relay', first.loader);
    await first.called;
    await a.cache.delete('relay');
    await b.heard(); // the next get of "relay" on B starts a lookup of its own
    const second = gatedLoader<string>();
    const fresh = b.cache.get('relay', second.loader);
    await second.called;

    first.answer('old');
    expect(await old).toBe('old');
    const third = countingLoader(() => 'third');
    const joining = b.cache.get('relay', third.loader);
    second.answer('new');
    expect(await fresh).toBe('new');
    expect(await joining, 'a get during the second lookup shares it, even after the first one ended').toBe(
      'new',
    );
    expect(third.calls, 'no third load').toEqual([]);
  });

  it('an invalidation during a load wins even when the fill of L2 fails', async () => {
    const [a, b] = await servers();
    const slow = gatedLoader<string>();
    const load = b.cache.get('no-fill', slow.loader);
    await slow.called;

    b.tap.failing = () => true; // B's commands fail from now on; its subscriber still hears
    await a.cache.set('no-fill', 'new');
    await b.heard();
    slow.answer('old');
    expect(await load).toBe('old');
    b.tap.failing = undefined;
    expect(await b.cache.get('no-fill'), 'an invalidated load must not fill L1, whatever L2 said').toBe(
      'new',
    );
  });

  it('a get that starts after an invalidation does not join the lookup that started before it', async () => {
    const [a, b] = await servers();
    const slow = gatedLoader<string>();
    const old = b.cache.get('rejoin', slow.loader);
    await slow.called;

    await a.cache.set('rejoin', 'new');
    await b.heard();
    const fresh = await within(b.cache.get('rejoin', slow.loader), 3000);
    expect(fresh, 'a get after the invalidation reads the new value, without waiting for the old load').toBe(
      'new',
    );
    slow.answer('old');
    expect(await old).toBe('old');
    expect(slow.calls.length).toBe(1);
  });
});

describe('L2 entries', () => {
  it('after a delete, the next load fills both levels again (the tombstone is no obstacle)', async () => {
    const [a, b] = await servers();
    await a.cache.set('reborn', 'v1');
    await a.cache.delete('reborn');
    const { calls, loader } = countingLoader(() => 'v2');
    expect(await a.cache.get('reborn', loader)).toBe('v2');
    expect(await redis.client().hgetall(entry('reborn')), 'the fill wrote L2 over the tombstone').toEqual({
      value: JSON.stringify('v2'),
      version: '2',
    });
    expect((await read(a, 'reborn')).commands, 'and L1').toEqual([]);
    expect(await b.cache.get('reborn')).toBe('v2');
    expect(calls.length).toBe(1);
  });

  it('set and fill write the hash <prefix><key> {value, version} that expires after l2TtlMs', async () => {
    const [a] = await servers();
    const admin = redis.client();
    await a.cache.set('written', { a: 1 });
    expect(await admin.hgetall(entry('written'))).toEqual({ value: '{"a":1}', version: '1' });
    const afterSet = await admin.pttl(entry('written'));
    expect(afterSet, `a set expires after l2TtlMs (${L2_TTL_MS} ms)`).toBeGreaterThan(L2_TTL_MS - 10_000);
    expect(afterSet).toBeLessThanOrEqual(L2_TTL_MS);

    await a.cache.get('loaded', async () => [1, 2]);
    expect(await admin.hget(entry('loaded'), 'value'), 'a fill writes the value').toBe('[1,2]');
    const afterFill = await admin.pttl(entry('loaded'));
    expect(afterFill, 'a fill expires after l2TtlMs too').toBeGreaterThan(L2_TTL_MS - 10_000);
    expect(afterFill).toBeLessThanOrEqual(L2_TTL_MS);
  });
});

describe('L1', () => {
  it('keeps at most l1.maxEntries values (least recently used go first)', async () => {
    const a = await server(new ManualClock(), { l1: { maxEntries: 2, ttlMs: L1_TTL_MS } });
    await a.cache.set('k1', 1);
    await a.cache.set('k2', 2);
    await a.cache.set('k3', 3);
    expect((await read(a, 'k3')).commands, 'k3 is in L1').toEqual([]);
    expect((await read(a, 'k1')).commands.length, 'k1 was evicted for k3: read from Redis').toBeGreaterThan(
      0,
    );
  });

  it('forgets a value l1.ttlMs after it was put there, on the injected clock', async () => {
    const clock = new ManualClock();
    const a = await server(clock);
    await a.cache.set('short', 's');
    clock.advance(L1_TTL_MS - 1);
    expect((await read(a, 'short')).commands, 'fresh until l1.ttlMs has passed').toEqual([]);
    clock.advance(1);
    const expired = await read(a, 'short');
    expect(expired.commands.length, 'at l1.ttlMs L1 no longer answers').toBeGreaterThan(0);
    expect(expired.value, 'and L2 still has it').toBe('s');
  });
});

describe('options', () => {
  it('refuses bad numbers with a RangeError naming the option and the value', async () => {
    const [redisClient, subscriber] = await Promise.all([connection(redis.url), connection(redis.url)]);
    const base = { ...defaults(names, new ManualClock()), redis: redisClient, subscriber };
    const cases: [string, Partial<TwoLevelCacheOptions>, unknown][] = [];
    for (const v of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      cases.push(['l1.maxEntries', { l1: { maxEntries: v, ttlMs: 1000 } }, v]);
    for (const v of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      cases.push(['l1.ttlMs', { l1: { maxEntries: 10, ttlMs: v } }, v]);
    for (const v of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY])
      cases.push(['l2TtlMs', { l2TtlMs: v }, v]);
    for (const [option, override, value] of cases) {
      const attempt = createTwoLevelCache({ ...base, ...override });
      await expect(attempt, `${option} = ${value}`).rejects.toThrow(RangeError);
      await expect(attempt, `the error names ${option} and ${value}`).rejects.toThrow(option);
      await expect(attempt).rejects.toThrow(String(value));
    }
  });

  it('refuses a channel or instanceId that is not a non-empty string, or a prefix that is not a string, with a TypeError', async () => {
    const [redisClient, subscriber] = await Promise.all([connection(redis.url), connection(redis.url)]);
    const base = { ...defaults(names, new ManualClock()), redis: redisClient, subscriber };
    for (const [option, override] of [
      ['channel', { channel: '' }],
      ['channel', { channel: 5 as unknown as string }],
      ['instanceId', { instanceId: '' }],
      ['instanceId', { instanceId: 5 as unknown as string }],
      ['prefix', { prefix: 7 as unknown as string }],
    ] as const) {
      const attempt = createTwoLevelCache({ ...base, ...override });
      await expect(attempt, option).rejects.toThrow(TypeError);
      await expect(attempt, `the error names ${option}`).rejects.toThrow(option);
    }
  });
});

describe('closing', () => {
  it('get, set and delete reject with CacheClosedError after close; a second close does nothing', async () => {
    const [a] = await servers();
    await a.cache.set('k', 1);
    await a.cache.close();
    await a.cache.close();
    for (const [what, call] of [
      ['get', () => a.cache.get('k')],
      ['set', () => a.cache.set('k', 2)],
      ['delete', () => a.cache.delete('k')],
    ] as const) {
      const attempt = call();
      await expect(attempt, `${what} after close`).rejects.toBeInstanceOf(CacheClosedError);
      await expect(attempt).rejects.toMatchObject({ code: 'CACHE_CLOSED' });
    }
  });

  it('close removes every listener it added and unsubscribes from its channel only (100 create/close)', async () => {
    const [redisClient, subscriber] = await Promise.all([connection(redis.url), connection(redis.url)]);
    const other = `${names.channel}:someone-elses`;
    await subscriber.subscribe(other);
    const before = { redis: listenerTotal(redisClient), subscriber: listenerTotal(subscriber) };
    const options = { ...defaults(names, new ManualClock()), redis: redisClient, subscriber };

    for (let created = 0; created < 100; created++) {
      const cache = await createTwoLevelCache(options);
      await cache.close();
    }
    expect(
      { redis: listenerTotal(redisClient), subscriber: listenerTotal(subscriber) },
      'after 100 caches created and closed on the same connections, no listener is left',
    ).toEqual(before);
    const admin = redis.client();
    expect(
      await admin.pubsub('NUMSUB', names.channel, other),
      'unsubscribed from its channel, not from others',
    ).toEqual([names.channel, 0, other, 1]);
    expect(await redisClient.ping(), 'close leaves the connections to their owner').toBe('PONG');
    expect(await subscriber.ping()).toBe('PONG');
  });

  it('close resolves and removes its listeners even when UNSUBSCRIBE fails', async () => {
    const [redisClient, subscriber] = await Promise.all([connection(redis.url), connection(redis.url)]);
    const subTap = tap(subscriber);
    const before = listenerTotal(subscriber);
    const cache = await createTwoLevelCache({
      ...defaults(names, new ManualClock()),
      redis: redisClient,
      subscriber,
    });
    subTap.failing = (name) => name === 'unsubscribe';
    expect(await within(cache.close(), 3000), 'close resolves, Redis or not').toBeUndefined();
    expect(listenerTotal(subscriber), 'and its listeners are gone').toBe(before);
  });

  it('a create whose SUBSCRIBE fails rejects with the error and leaves no listener behind', async () => {
    const [redisClient, subscriber] = await Promise.all([connection(redis.url), connection(redis.url)]);
    const subTap = tap(subscriber);
    subTap.failing = (name) => name === 'subscribe';
    const before = listenerTotal(subscriber);
    for (let i = 0; i < 5; i++) {
      await expect(
        createTwoLevelCache({ ...defaults(names, new ManualClock()), redis: redisClient, subscriber }),
        'a cache that cannot subscribe cannot hear invalidations: create rejects',
      ).rejects.toThrow(/SUBSCRIBE/);
    }
    expect(listenerTotal(subscriber), 'five failed starts leave no listener on the connection').toBe(before);
  });
});
