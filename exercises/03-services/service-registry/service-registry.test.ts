import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useRedis, waitFor } from '../../../src/testing/index.js';
import {
  GRACE_MS,
  keyTtls,
  ManualClock,
  type Member,
  namespaceKeys,
  snapshot,
  snapshotBeforeEachCommand,
  startMember,
  TTL_MS,
  useNamespace,
} from './harness.js';
import { createServiceRegistry, type Registration, type ServiceRegistryOptions } from './service-registry.js';

const redis = useRedis();
const ns = useNamespace();

/** A registry object of its own (own connections) on the test's namespace and `clock`. */
function member(clock: ManualClock, options: Partial<ServiceRegistryOptions> = {}): Promise<Member> {
  return startMember(
    { redis: redis.url },
    { namespace: ns.current, ttlMs: TTL_MS, graceMs: GRACE_MS, clock, ...options },
  );
}

const users = (id: string, extra: Partial<Registration> = {}): Registration => ({
  service: 'users',
  id,
  host: '10.0.0.1',
  port: 8080,
  ...extra,
});

const ids = async (m: Pick<Member, 'registry'>, service = 'users') =>
  (await m.registry.lookup(service)).map((i) => i.id);

describe('register and lookup', () => {
  it('lookup returns a registered instance with every field; meta defaults to {}', async () => {
    const { registry } = await member(new ManualClock());
    await registry.register({
      service: 'users',
      id: 'u1',
      host: '10.0.0.7',
      port: 8081,
      meta: { zone: 'a' },
    });
    await registry.register({ service: 'users', id: 'u2', host: 'users-2.internal', port: 9000 });
    expect(await registry.lookup('users')).toEqual([
      { service: 'users', id: 'u1', host: '10.0.0.7', port: 8081, meta: { zone: 'a' } },
      { service: 'users', id: 'u2', host: 'users-2.internal', port: 9000, meta: {} },
    ]);
    expect(await registry.lookup('orders'), 'a service nobody registered has no instances').toEqual([]);
  });

  it('lookup sorts by id and returns fresh objects', async () => {
    const { registry } = await member(new ManualClock());
    for (const id of ['c', 'a', 'B', 'b10', 'b2']) await registry.register(users(id, { meta: { v: '1' } }));
    expect(await ids({ registry }), 'sorted by id in plain string order').toEqual([
      'B',
      'a',
      'b10',
      'b2',
      'c',
    ]);
    const [first] = await registry.lookup('users');
    (first!.meta as Record<string, string>).v = 'changed by a caller';
    expect(
      (await registry.lookup('users'))[0]!.meta,
      "a caller's change to a result changes nothing",
    ).toEqual({
      v: '1',
    });
  });

  it('registering the same (service, id) again replaces host, port and meta, and never adds an entry', async () => {
    const clock = new ManualClock();
    const a = await member(clock);
    const b = await member(clock);
    await a.registry.register(users('u1', { meta: { version: '1.0' } }));
    await a.registry.register(users('u1', { meta: { version: '1.0' } }));
    expect(await a.registry.lookup('users'), 'the same registration twice is one instance').toHaveLength(1);
    await b.registry.register(users('u1', { host: '10.0.0.9', port: 9090, meta: { version: '2.0' } }));
    await a.registry.register(
      users('u1', { host: '10.0.0.9', port: 9091, meta: { version: '2.1', zone: 'b' } }),
    );
    expect(
      await b.registry.lookup('users'),
      're-registering (from any registry object) replaces what was stored: one entry, the latest data',
    ).toEqual([
      { service: 'users', id: 'u1', host: '10.0.0.9', port: 9091, meta: { version: '2.1', zone: 'b' } },
    ]);
  });

  it('registering again moves the deadline to now + ttlMs', async () => {
    const clock = new ManualClock();
    const { registry } = await member(clock);
    await registry.register(users('u1'));
    clock.advance(TTL_MS - 1);
    await registry.register(users('u1'));
    clock.advance(TTL_MS - 1);
    expect(await ids({ registry }), 'registered again 1 ms before its deadline: healthy a TTL later').toEqual(
      ['u1'],
    );
  });

  it('the same instance id under two services is two instances', async () => {
    const { registry } = await member(new ManualClock());
    await registry.register(users('one'));
    await registry.register({ service: 'orders', id: 'one', host: '10.0.0.2', port: 8000 });
    expect(await ids({ registry }, 'users')).toEqual(['one']);
    expect(await registry.deregister('orders', 'one')).toBe(true);
    expect(await ids({ registry }, 'users'), 'deregistering orders/one leaves users/one').toEqual(['one']);
  });
});

describe('validation', () => {
  const bad: [string, Partial<Registration> & Record<string, unknown>, ErrorConstructor, string][] = [
    ['an empty service', { service: '' }, TypeError, 'service'],
    ['a service with the separator', { service: 'a:b' }, TypeError, 'a:b'],
    ['a service that is not a string', { service: 7 as never }, TypeError, 'service'],
    ['an empty id', { id: '' }, TypeError, 'id'],
    ['an id with the separator', { id: 'host:8080' }, TypeError, 'host:8080'],
    ['an empty host', { host: '' }, TypeError, 'host'],
    ['port 0', { port: 0 }, RangeError, 'port'],
    ['port 65536', { port: 65536 }, RangeError, '65536'],
    ['port 80.5', { port: 80.5 }, RangeError, '80.5'],
    ['port NaN', { port: Number.NaN }, RangeError, 'NaN'],
    ['port -1', { port: -1 }, RangeError, '-1'],
    ['meta that is an array', { meta: ['a'] as never }, TypeError, 'meta'],
    ['meta with a number value', { meta: { version: 2 } as never }, TypeError, 'version'],
    ['meta with a nested object', { meta: { labels: { a: 'b' } } as never }, TypeError, 'labels'],
    ['meta that is null', { meta: null as never }, TypeError, 'meta'],
  ];

  it.each(bad)(
    'register rejects %s with the right error naming it, and writes nothing',
    async (_, change, type, named) => {
      const { registry } = await member(new ManualClock());
      const attempt = registry.register({ ...users('ok'), ...change } as Registration);
      await expect(attempt, 'the error class').rejects.toThrow(type);
      await expect(attempt, 'the message names the field or the bad value').rejects.toThrow(named);
      expect(
        await namespaceKeys(redis.client(), ns.current),
        'a rejected registration writes nothing',
      ).toEqual([]);
    },
  );

  it('heartbeat, deregister, lookup and watch check service (and id) the same way', async () => {
    const { registry } = await member(new ManualClock());
    for (const [call, run] of [
      ['heartbeat(service)', () => registry.heartbeat('a:b', 'x')],
      ['heartbeat(id)', () => registry.heartbeat('users', '')],
      ['deregister(service)', () => registry.deregister('', 'x')],
      ['deregister(id)', () => registry.deregister('users', 'x:1')],
      ['lookup(service)', () => registry.lookup('a:b')],
      ['watch(service)', async () => registry.watch('', () => {})],
    ] as const) {
      await expect(run(), `${call} with a bad name rejects (or throws) a TypeError`).rejects.toThrow(
        TypeError,
      );
    }
  });

  it('createServiceRegistry rejects bad options, naming the option and the value', async () => {
    const client = redis.client();
    const subscriber = redis.client();
    const base = { redis: client, subscriber, namespace: ns.current, ttlMs: TTL_MS, graceMs: GRACE_MS };
    for (const [change, type, named] of [
      [{ namespace: '' }, TypeError, 'namespace'],
      [{ ttlMs: 0 }, RangeError, 'ttlMs'],
      [{ ttlMs: 1.5 }, RangeError, '1.5'],
      [{ ttlMs: Number.NaN }, RangeError, 'ttlMs'],
      [{ graceMs: -1 }, RangeError, 'graceMs'],
      [{ graceMs: Number.POSITIVE_INFINITY }, RangeError, 'Infinity'],
    ] as const) {
      await expect(createServiceRegistry({ ...base, ...change }), JSON.stringify(change)).rejects.toThrow(
        type,
      );
      await expect(createServiceRegistry({ ...base, ...change }), JSON.stringify(change)).rejects.toThrow(
        named,
      );
    }
  });
});

describe('TTL health: healthy, critical, removed', () => {
  it('an instance is healthy until its deadline (now + ttlMs) and critical from it: not returned', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1'));
    clock.advance(TTL_MS - 1);
    expect(await ids(m), '1 ms before the deadline it is healthy').toEqual(['u1']);
    clock.advance(1);
    expect(await ids(m), 'at the deadline it is critical, and lookup leaves it out').toEqual([]);
  });

  it('lookup decides with the injected clock, not with Redis key expiry', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1'));
    clock.advance(TTL_MS * 3);
    expect(
      await ids(m),
      'three TTLs later on the registry clock the instance is critical, although its keys have not expired in Redis',
    ).toEqual([]);
  });

  it('heartbeat keeps an instance healthy: the deadline becomes now + ttlMs', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1'));
    await m.registry.register(users('u2'));
    for (let i = 0; i < 5; i++) {
      clock.advance(TTL_MS - 1);
      expect(await m.registry.heartbeat('users', 'u1'), 'a known instance: heartbeat resolves true').toBe(
        true,
      );
    }
    expect(await ids(m), 'u1 reported in each TTL and is healthy; u2 did not').toEqual(['u1']);
  });

  it('a critical instance is known until deadline + graceMs: heartbeat revives it', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1'));
    clock.advance(TTL_MS + GRACE_MS - 1);
    expect(await ids(m), 'critical').toEqual([]);
    expect(
      await m.registry.heartbeat('users', 'u1'),
      '1 ms before the grace period ends it is still known',
    ).toBe(true);
    expect(await ids(m), 'and healthy again').toEqual(['u1']);
    clock.advance(TTL_MS - 1);
    expect(await ids(m), 'with a new deadline of now + ttlMs').toEqual(['u1']);
  });

  it('at deadline + graceMs the instance is removed: heartbeat resolves false, even with no lookup or reap before', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1'));
    clock.advance(TTL_MS + GRACE_MS);
    expect(
      await m.registry.heartbeat('users', 'u1'),
      'the grace period is over: the instance is removed and must register again (Consul answers 404)',
    ).toBe(false);
    expect(await ids(m), 'the heartbeat did not bring it back').toEqual([]);
    clock.advance(1);
    expect(await m.registry.heartbeat('users', 'u1'), 'nor does a second one').toBe(false);
  });

  it('the grace period starts at the deadline, not at the last report', async () => {
    const clock = new ManualClock();
    const m = await member(clock, { ttlMs: 20_000, graceMs: 5_000 });
    await m.registry.register(users('u1'));
    clock.advance(20_000 + 5_000 - 1);
    expect(
      await m.registry.heartbeat('users', 'u1'),
      'removal is at deadline + graceMs = 25 s after the report',
    ).toBe(true);
  });

  it('heartbeat of an unknown instance resolves false and stores nothing', async () => {
    const m = await member(new ManualClock());
    expect(await m.registry.heartbeat('users', 'nobody')).toBe(false);
    expect(await ids(m)).toEqual([]);
    expect(await namespaceKeys(redis.client(), ns.current), 'nothing stored for an unknown instance').toEqual(
      [],
    );
  });

  it('deregister removes an instance, healthy or critical, and resolves whether it was known', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1'));
    await m.registry.register(users('u2'));
    expect(await m.registry.deregister('users', 'u1'), 'u1 was known').toBe(true);
    expect(await m.registry.deregister('users', 'u1'), 'now it is not').toBe(false);
    expect(await ids(m)).toEqual(['u2']);
    clock.advance(TTL_MS);
    expect(
      await m.registry.deregister('users', 'u2'),
      'a critical instance is known: deregister removes it',
    ).toBe(true);
    expect(await m.registry.heartbeat('users', 'u2'), 'gone: heartbeat resolves false').toBe(false);
    expect(await m.registry.deregister('orders', 'x'), 'nothing to remove').toBe(false);
  });

  it('reap removes exactly the instances whose grace period is over, across services, and counts them', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    const reaper = await member(clock); // the reaper is usually another process than the instances
    await m.registry.register(users('old-1'));
    await m.registry.register({ service: 'orders', id: 'old-2', host: 'h', port: 1 });
    clock.advance(1);
    await m.registry.register(users('later'));
    await m.registry.register({ service: 'billing', id: 'fresh', host: 'h', port: 2 });
    clock.advance(TTL_MS + GRACE_MS - 1);
    await m.registry.heartbeat('billing', 'fresh');
    expect(
      await reaper.registry.reap(),
      'old-1 and old-2 (registered through another registry object) are at deadline + graceMs; "later" is 1 ms short',
    ).toBe(2);
    expect(await reaper.registry.reap(), 'nothing more to remove').toBe(0);
    expect(await m.registry.heartbeat('users', 'later'), '"later" is critical, still known').toBe(true);
    expect(await m.registry.heartbeat('orders', 'old-2'), 'old-2 was removed').toBe(false);
    expect(await ids(m, 'billing')).toEqual(['fresh']);
  });
});

describe('the Redis state', () => {
  /** Registers, heartbeats, lets some go critical and deregisters, across three services. */
  async function busyNamespace(clock: ManualClock): Promise<Member> {
    const m = await member(clock);
    await m.registry.register(users('u1', { meta: { zone: 'a' } }));
    await m.registry.register(users('u2'));
    await m.registry.register({ service: 'orders', id: 'o1', host: 'h', port: 1 });
    await m.registry.register({ service: 'billing', id: 'b1', host: 'h', port: 2 });
    clock.advance(TTL_MS / 2);
    await m.registry.heartbeat('users', 'u1');
    await m.registry.deregister('billing', 'b1');
    clock.advance(TTL_MS / 2);
    await m.registry.lookup('users'); // u2 is now critical
    await m.registry.lookup('orders'); // o1 too
    await m.registry.reap();
    return m;
  }

  it('every key is under <namespace>: and carries a TTL of at most ttlMs + graceMs', async () => {
    await busyNamespace(new ManualClock());
    const ttls = await keyTtls(redis.client(), ns.current);
    expect(ttls.length, 'the registry keeps its data under <namespace>:').toBeGreaterThan(0);
    for (const [key, ttl] of ttls) {
      expect(ttl, `key ${key} must expire (PTTL > 0), or dead instances leave it behind`).toBeGreaterThan(0);
      expect(ttl, `key ${key}: a TTL of at most ttlMs + graceMs`).toBeLessThanOrEqual(TTL_MS + GRACE_MS);
    }
  });

  it('register and heartbeat set the TTL of every key back to ttlMs + graceMs', async () => {
    const m = await member(new ManualClock());
    const client = redis.client();
    await m.registry.register(users('u1'));
    await m.registry.register(users('u2'));
    for (const [report, run] of [
      ['heartbeat', () => m.registry.heartbeat('users', 'u1')],
      ['register', () => m.registry.register(users('u2'))],
    ] as const) {
      const keys = await namespaceKeys(client, ns.current);
      for (const key of keys) await client.pexpire(key, 1_000); // as if a long time had passed in Redis
      await run();
      for (const [key, ttl] of await keyTtls(client, ns.current)) {
        expect(ttl, `after a ${report}, key ${key} expires ttlMs + graceMs later again`).toBeGreaterThan(
          TTL_MS + GRACE_MS - 5_000,
        );
      }
    }
  });

  it('nothing is left of removed instances and of a service without instances', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    const client = redis.client();
    await m.registry.register({ service: 'ghosts', id: 'ghost-1', host: 'h', port: 1, meta: { k: 'v' } });
    await m.registry.register({ service: 'ghosts', id: 'ghost-2', host: 'h', port: 2 });
    await m.registry.register(users('gone-by-deregister'));
    await m.registry.register(users('gone-by-lookup'));
    await m.registry.register(users('keeper'));
    clock.advance(TTL_MS);
    await m.registry.lookup('ghosts'); // every ghost is critical now
    await m.registry.deregister('users', 'gone-by-deregister');
    expect(await m.registry.heartbeat('users', 'keeper')).toBe(true);
    clock.advance(GRACE_MS);
    await m.registry.lookup('users'); // lazily removes gone-by-lookup
    await m.registry.reap(); // removes the ghosts
    const state = JSON.stringify(await snapshot(client, ns.current));
    for (const dead of ['ghost-1', 'ghost-2', 'ghosts', 'gone-by-deregister', 'gone-by-lookup']) {
      expect(state, `no key or member of the namespace may still hold "${dead}"`).not.toContain(dead);
    }
    expect(state, 'the living instance is still there').toContain('keeper');
  });

  it('the key TTL is a backstop: a namespace nobody reaps empties on its own (real time, short TTL)', async () => {
    const m = await startMember({ redis: redis.url }, { namespace: ns.current, ttlMs: 100, graceMs: 100 });
    await m.registry.register(users('u1'));
    await m.registry.register({ service: 'orders', id: 'o1', host: 'h', port: 1 });
    const client = redis.client();
    await waitFor(
      'with ttlMs + graceMs = 200 ms and no reap, every key must expire within a few hundred ms',
      async () => (await namespaceKeys(client, ns.current)).length === 0,
      { timeoutMs: 3_000 },
    );
  });

  it('a register is atomic: another client sees the namespace before it or after it, never in between', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    const observer = redis.client();
    await m.registry.register({ service: 'orders', id: 'o1', host: 'h', port: 1 });
    const steps: [string, () => Promise<unknown>][] = [
      ['a first register', () => m.registry.register(users('u1', { meta: { version: '1' } }))],
      [
        'a register with new data',
        () => m.registry.register(users('u1', { port: 9, meta: { version: '2' } })),
      ],
      ['a second instance', () => m.registry.register(users('u2'))],
      ['a deregister', () => m.registry.deregister('users', 'u1')],
    ];
    for (const [what, run] of steps) {
      clock.advance(1_000);
      const before = await snapshot(observer, ns.current);
      const tap = snapshotBeforeEachCommand(m.redis, observer, ns.current);
      await run();
      tap.stop();
      const after = await snapshot(observer, ns.current);
      expect(after, `${what} changes Redis`).not.toEqual(before);
      for (const [i, seen] of tap.states.entries()) {
        const whole = isDeepStrictEqual(seen, before) || isDeepStrictEqual(seen, after);
        expect(
          whole,
          `${what}: before its command #${i + 1} another client saw a state that is neither before nor after it: ${JSON.stringify(seen)}`,
        ).toBe(true);
      }
    }
  });
});
