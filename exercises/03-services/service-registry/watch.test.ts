import { afterEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  connection,
  GRACE_MS,
  listenerTotal,
  ManualClock,
  type Member,
  recorder,
  startMember,
  TTL_MS,
  useNamespace,
} from './harness.js';
import { createServiceRegistry, type Registration, RegistryClosedError } from './service-registry.js';

const redis = useRedis();
const ns = useNamespace();
const proxies: FaultProxy[] = [];

afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});

/** A registry object of its own (own connections) on the test's namespace and `clock`. */
function member(clock: ManualClock, subscriberUrl?: string): Promise<Member> {
  return startMember(
    { redis: redis.url, subscriber: subscriberUrl },
    { namespace: ns.current, ttlMs: TTL_MS, graceMs: GRACE_MS, clock },
  );
}

const users = (id: string, extra: Partial<Registration> = {}): Registration => ({
  service: 'users',
  id,
  host: '10.0.0.1',
  port: 8080,
  ...extra,
});

/**
 * Watches `service` on `m` from now on (after m has heard what earlier steps announced), and counts
 * what each later step announces.
 */
async function watching(m: Member, service = 'users') {
  await m.heard();
  const { calls, onChange } = recorder();
  const unwatch = m.registry.watch(service, onChange);
  return {
    calls,
    unwatch,
    /** How many times the watcher was called for what `step` did (all of it heard by m's subscriber). */
    async count(step: () => Promise<unknown>): Promise<number> {
      const before = calls.length;
      await step();
      await m.heard();
      return calls.length - before;
    },
  };
}

describe('watch: what is announced', () => {
  it('a register through one registry object calls the watcher of another, whose lookup then sees it', async () => {
    const clock = new ManualClock();
    const a = await member(clock);
    const b = await member(clock);
    const seen: string[][] = [];
    b.registry.watch('users', () => {
      void b.registry.lookup('users').then((list) => seen.push(list.map((i) => i.id)));
    });
    await a.registry.register(users('u1'));
    await waitFor("B is told of A's register and looks up", () => seen.some((ids) => ids.includes('u1')), {
      timeoutMs: 3_000,
    });
    expect(seen.at(-1), "B's lookup sees the instance A registered").toEqual(['u1']);
  });

  it('the watcher is called with the service name for a new instance, changed data and a deregister', async () => {
    const m = await member(new ManualClock());
    const w = await watching(m);
    expect(await w.count(() => m.registry.register(users('u1'))), 'a new instance: one call').toBe(1);
    expect(w.calls, 'onChange receives the service name').toEqual(['users']);
    expect(await w.count(() => m.registry.register(users('u1', { meta: { v: '2' } }))), 'changed meta').toBe(
      1,
    );
    expect(
      await w.count(() => m.registry.register(users('u1', { meta: { v: '2' }, port: 81 }))),
      'changed port',
    ).toBe(1);
    expect(
      await w.count(() => m.registry.register(users('u1', { meta: { v: '2' }, port: 81, host: 'x' }))),
      'changed host',
    ).toBe(1);
    expect(await w.count(() => m.registry.deregister('users', 'u1')), 'a deregister').toBe(1);
    expect(
      await w.count(() => m.registry.deregister('users', 'u1')),
      'deregistering an unknown instance: none',
    ).toBe(0);
  });

  it('no chatter: a heartbeat of a healthy instance, or an unchanged re-register of one, announces nothing', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1', { meta: { b: '2', a: '1' } }));
    const w = await watching(m);
    for (let i = 0; i < 5; i++) {
      clock.advance(TTL_MS / 2);
      expect(
        await w.count(() => m.registry.heartbeat('users', 'u1')),
        'a heartbeat of a healthy instance',
      ).toBe(0);
    }
    expect(
      await w.count(() => m.registry.register(users('u1', { meta: { a: '1', b: '2' } }))),
      'registering a healthy instance again with the same data (meta keys in another order)',
    ).toBe(0);
    expect(await w.count(() => m.registry.lookup('users')), 'a lookup that finds nothing new').toBe(0);
  });

  it('going critical is announced once (by the lookup or reap that finds it); a revival once more', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1'));
    await m.registry.register(users('u2'));
    const w = await watching(m);
    clock.advance(TTL_MS);
    expect(await w.count(() => m.registry.lookup('users')), 'the lookup that finds u1 and u2 critical').toBe(
      1,
    );
    expect(await w.count(() => m.registry.lookup('users')), 'already announced: not again').toBe(0);
    expect(await w.count(() => m.registry.reap()), 'nor by reap').toBe(0);
    expect(await w.count(() => m.registry.heartbeat('users', 'u1')), 'a heartbeat that revives u1').toBe(1);
    expect(
      await w.count(() => m.registry.register(users('u2'))),
      'a register that revives u2 unchanged',
    ).toBe(1);
    clock.advance(TTL_MS);
    expect(await w.count(() => m.registry.reap()), 'reap finding both critical again').toBe(1);
  });

  it('a removal after the grace period is announced, by reap or by any call that removes', async () => {
    const clock = new ManualClock();
    const m = await member(clock);
    await m.registry.register(users('u1'));
    const w = await watching(m);
    clock.advance(TTL_MS + GRACE_MS);
    expect(await w.count(() => m.registry.reap()), 'reap removes u1').toBe(1);
    expect(await w.count(() => m.registry.register(users('u2'))), 'a new instance').toBe(1);
    clock.advance(TTL_MS + GRACE_MS);
    expect(
      await w.count(() => m.registry.heartbeat('users', 'u2')),
      'a heartbeat that finds u2 removed',
    ).toBe(1);
  });

  it('watchers of another service are not called; every watcher of the service is, even if one throws', async () => {
    const m = await member(new ManualClock());
    const orders = await watching(m, 'orders');
    const thrower = m.registry.watch('users', () => {
      throw new Error('a watcher that fails');
    });
    const users1 = await watching(m);
    const users2 = await watching(m);
    await m.registry.register(users('u1'));
    await m.registry.register({ service: 'billing', id: 'b1', host: 'h', port: 1 });
    await m.heard();
    expect(orders.calls, 'nothing changed in orders').toEqual([]);
    expect(users1.calls, 'both users watchers are called, although another one threw').toEqual(['users']);
    expect(users2.calls).toEqual(['users']);
    thrower();
  });

  it('unwatch stops that watcher only; calling it twice is harmless', async () => {
    const m = await member(new ManualClock());
    const stopped = await watching(m);
    const kept = await watching(m);
    stopped.unwatch();
    stopped.unwatch();
    await m.registry.register(users('u1'));
    await m.heard();
    expect(stopped.calls, 'unwatched: not called').toEqual([]);
    expect(kept.calls, 'the other watcher still is').toEqual(['users']);
  });

  it('after the subscriber connection is lost and back, every watcher is called (changes meanwhile are lost)', async () => {
    const clock = new ManualClock();
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    proxies.push(proxy);
    const watcher = await member(clock, `redis://127.0.0.1:${proxy.port}/${redis.db}`);
    const writer = await member(clock);
    const usersWatch = await watching(watcher);
    const ordersWatch = await watching(watcher, 'orders');
    proxy.refuse(true);
    proxy.cut();
    await writer.registry.register(users('u1')); // announced while the watcher cannot hear it
    proxy.refuse(false);
    await waitFor(
      'every watcher is called once the subscriber is back',
      () => usersWatch.calls.length > 0 && ordersWatch.calls.length > 0,
      { timeoutMs: 5_000 },
    );
    expect(
      await watcher.registry.lookup('users'),
      'and its lookup then sees the change it missed',
    ).toHaveLength(1);
    const before = usersWatch.calls.length;
    await writer.registry.deregister('users', 'u1');
    await waitFor(
      'announcements reach it again after the reconnect',
      () => usersWatch.calls.length > before,
      {
        timeoutMs: 3_000,
      },
    );
  });
});

describe('close', () => {
  it('close unsubscribes, removes its listeners and calls no watcher again; calls then reject', async () => {
    const clock = new ManualClock();
    const subscriber = await connection(redis.url);
    const listenersBefore = listenerTotal(subscriber);
    const registry = await createServiceRegistry({
      redis: await connection(redis.url),
      subscriber,
      namespace: ns.current,
      ttlMs: TTL_MS,
      graceMs: GRACE_MS,
      clock,
    });
    const { calls, onChange } = recorder();
    registry.watch('users', onChange);
    await registry.close();
    await registry.close();
    expect(listenerTotal(subscriber), 'close removes every listener it added to the subscriber').toBe(
      listenersBefore,
    );
    const observer = redis.client();
    expect(
      await observer.pubsub('CHANNELS', `${ns.current}:*`),
      'close unsubscribes from the namespace',
    ).toEqual([]);
    const writer = await member(clock);
    await writer.registry.register(users('u1'));
    await subscriber.ping();
    expect(calls, 'a closed registry calls no watcher').toEqual([]);
    for (const [call, run] of [
      ['register', () => registry.register(users('u2'))],
      ['heartbeat', () => registry.heartbeat('users', 'u1')],
      ['deregister', () => registry.deregister('users', 'u1')],
      ['lookup', () => registry.lookup('users')],
      ['reap', () => registry.reap()],
      ['watch', async () => registry.watch('users', () => {})],
    ] as const) {
      const attempt = run();
      await expect(attempt, `${call} after close`).rejects.toThrow(RegistryClosedError);
      await expect(attempt, `${call} after close: code`).rejects.toMatchObject({ code: 'REGISTRY_CLOSED' });
    }
  });

  it('100 registries created and closed on one subscriber leave no listener and no subscription behind', async () => {
    const clock = new ManualClock();
    const client = await connection(redis.url);
    const subscriber = await connection(redis.url);
    const listenersBefore = listenerTotal(subscriber);
    for (let i = 0; i < 100; i++) {
      const registry = await createServiceRegistry({
        redis: client,
        subscriber,
        namespace: `${ns.current}-${i}`,
        ttlMs: TTL_MS,
        graceMs: GRACE_MS,
        clock,
      });
      registry.watch('users', () => {});
      await registry.close();
    }
    expect(listenerTotal(subscriber), 'no listener left by 100 create/close').toBe(listenersBefore);
    const observer = redis.client();
    expect(await observer.pubsub('CHANNELS', `${ns.current}-*`), 'no subscription left').toEqual([]);
  });
});
