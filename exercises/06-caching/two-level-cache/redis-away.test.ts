import { afterEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  connection,
  countingLoader,
  defaults,
  gatedLoader,
  type Instance,
  L1_TTL_MS,
  ManualClock,
  startInstance,
  urlVia,
  useNames,
  within,
} from './harness.js';

const redis = useRedis();
const names = useNames();
const entry = (key: string) => `${names.prefix}${key}`;

const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});

/** A fault proxy in front of the test file's Redis. */
async function proxy(): Promise<FaultProxy> {
  const started = await startFaultProxy({ host: redis.host, port: redis.port });
  proxies.push(started);
  return started;
}

/** An app server with both connections straight to Redis. */
const direct = (clock: ManualClock) =>
  startInstance({ redis: redis.url, subscriber: redis.url }, defaults(names, clock));

/** Cuts every connection through `through` and refuses new ones until {@link comeBack}. */
async function goAway(through: FaultProxy, ...clients: Instance['redis'][]): Promise<void> {
  through.refuse(true);
  through.cut();
  await waitFor(
    'the connections to notice that Redis is gone',
    () => clients.every((c) => c.status !== 'ready'),
    {
      timeoutMs: 5000,
    },
  );
}

/** Reads `key` through `instance` until it resolves `expected` (in real time: reconnects take a moment). */
function eventually(instance: Instance, key: string, expected: unknown, what: string): Promise<unknown> {
  return waitFor(what, async () => (await instance.cache.get(key)) === expected, {
    timeoutMs: 10_000,
    intervalMs: 20,
  });
}

describe('while Redis is away', () => {
  it('L1 keeps serving; a miss asks the loader and keeps its answer in L1; a miss without a loader rejects; writes reject', async () => {
    const through = await proxy();
    const url = urlVia(redis, through.port);
    const b = await startInstance({ redis: url, subscriber: url }, defaults(names, new ManualClock()));
    await b.cache.set('cached', 'v1');
    await goAway(through, b.redis, b.subscriber);

    expect(await b.cache.get('cached'), 'a fresh L1 entry is served without Redis').toBe('v1');

    const database = countingLoader(() => 'from the database');
    expect(await b.cache.get('cold', database.loader), 'a miss goes to the loader, not to an error').toBe(
      'from the database',
    );
    expect(await b.cache.get('cold', database.loader)).toBe('from the database');
    expect(
      database.calls.length,
      "the loader's answer is kept in L1: Redis being away must not stampede the database",
    ).toBe(1);

    await expect(
      b.cache.get('unknown'),
      'a miss with no loader and no Redis has no answer: it rejects',
    ).rejects.toThrow();

    await expect(b.cache.set('cached', 'v2'), 'a set that cannot reach L2 rejects').rejects.toThrow();
    expect(
      await b.cache.get('cached', async () => 'reloaded'),
      'after a failed set, L1 holds neither the new value nor the old one: the loader answers',
    ).toBe('reloaded');

    await expect(b.cache.delete('cold'), 'a delete that cannot reach L2 rejects').rejects.toThrow();
    expect(await b.cache.get('cold', async () => 'loaded again'), 'but L1 has dropped the key').toBe(
      'loaded again',
    );
  });

  it('when only the L2 read fails, the loader answers; its value goes into L1 but not into L2', async () => {
    const clock = new ManualClock();
    const a = await direct(clock);
    let reads = 0;
    a.tap.failing = () => reads++ === 0; // the first command (the L2 read) fails, the rest get through
    const { calls, loader } = countingLoader(() => 'loaded');
    expect(await a.cache.get('k', loader)).toBe('loaded');
    a.tap.failing = undefined;
    expect(
      await redis.client().exists(entry('k')),
      'without the version a read returns, a fill could not be conditional: L2 is not written',
    ).toBe(0);
    expect(await a.cache.get('k', loader), 'the value is in L1').toBe('loaded');
    expect(calls.length).toBe(1);
  });

  it('what L1 serves while Redis is away is at most l1.ttlMs old', async () => {
    const clock = new ManualClock();
    const through = await proxy();
    const url = urlVia(redis, through.port);
    const a = await direct(clock);
    const b = await startInstance({ redis: url, subscriber: url }, defaults(names, clock));
    await a.cache.set('price', 10);
    await b.heard(); // A's invalidation has reached B: it cannot drop what B reads next
    expect(await b.cache.get('price')).toBe(10);
    await goAway(through, b.redis, b.subscriber);

    await a.cache.set('price', 12); // B cannot hear it
    expect(await b.cache.get('price'), 'within l1.ttlMs, B serves the copy it has').toBe(10);
    clock.advance(L1_TTL_MS);
    expect(
      await b.cache.get('price', async () => 12),
      'after l1.ttlMs the stale copy must not be served, Redis or not',
    ).toBe(12);
  });

  it('nothing is published when the L2 write fails, for set and delete; the new value is not in L1', async () => {
    const clock = new ManualClock();
    const [a, b] = await Promise.all([direct(clock), direct(clock)]);
    await a.cache.set('k', 'v1');
    await b.heard();
    expect(await b.cache.get('k')).toBe('v1');
    const listener = await connection(redis.url);
    const messages: string[] = [];
    listener.on('message', (_channel: string, message: string) => messages.push(message));
    await listener.subscribe(names.channel);

    b.tap.failing = (name) => name !== 'publish'; // Redis refuses the writes but would relay a PUBLISH
    await expect(b.cache.set('k', 'v2'), 'the L2 write failed: set rejects').rejects.toThrow();
    expect(
      await b.cache.get('k', async () => 'from the database'),
      'the value of a failed set must not be in L1 (and L1 dropped the old one)',
    ).toBe('from the database');
    await expect(b.cache.delete('k'), 'the L2 delete failed: delete rejects').rejects.toThrow();
    b.tap.failing = undefined;

    await b.redis.ping(); // anything B sent has reached Redis
    await listener.ping(); // and anything Redis relayed has reached the listener
    expect(messages, 'a failed write must not tell the other instances to drop their copy').toEqual([]);
    expect(await b.cache.get('k'), 'L2 still holds v1, and B reads it').toBe('v1');
  });
});

describe('when the subscriber comes back', () => {
  it('drops all of L1: invalidations sent while it was away are lost', async () => {
    const clock = new ManualClock();
    const through = await proxy();
    const url = urlVia(redis, through.port);
    const a = await direct(clock);
    const b = await startInstance({ redis: url, subscriber: url }, defaults(names, clock));
    await a.cache.set('price', 10);
    await a.cache.set('untouched', 'u');
    await b.heard();
    expect(await b.cache.get('price')).toBe(10);
    expect(await b.cache.get('untouched')).toBe('u');

    await goAway(through, b.redis, b.subscriber);
    await a.cache.set('price', 12); // published to nobody on B's side
    through.refuse(false);
    await eventually(
      b,
      'price',
      12,
      'B to read the new price once its subscriber is back (the L1 TTL has not moved)',
    );
    b.resetCommands();
    expect(await b.cache.get('untouched')).toBe('u');
    expect(
      b.commands().length,
      'every L1 entry was dropped, not only the ones known to have changed',
    ).toBeGreaterThan(0);
  });

  /** An app server whose command connection is direct and whose subscriber goes through a proxy. */
  async function withFlakySubscriber(clock: ManualClock) {
    const through = await proxy();
    // While `reconnect` is off the subscriber gives up (status 'end') instead of retrying: it then
    // comes back exactly when the test calls connect(), not at the next retry.
    const switches = { reconnect: true };
    const subscriber = urlVia(redis, through.port);
    const instance = await startInstance({ redis: redis.url, subscriber }, defaults(names, clock));
    instance.subscriber.options.retryStrategy = () => (switches.reconnect ? 50 : null);
    return {
      instance,
      async drop() {
        switches.reconnect = false;
        through.cut();
        await waitFor('the subscriber to give up', () => instance.subscriber.status === 'end', {
          timeoutMs: 5000,
        });
      },
      comeBack() {
        switches.reconnect = true;
        instance.subscriber.connect().catch(() => {});
      },
    };
  }

  it('when only the subscriber dropped, what L1 learned meanwhile is dropped when it is back', async () => {
    const clock = new ManualClock();
    const a = await direct(clock);
    const flaky = await withFlakySubscriber(clock);
    const b = flaky.instance;
    await a.cache.set('price', 10);
    await b.heard();

    await flaky.drop();
    expect(await b.cache.get('price'), 'B reads L2 (its command connection is fine) into L1').toBe(10);
    await a.cache.set('price', 12); // B's subscriber is gone: B never hears it
    expect(await b.cache.get('price'), 'while its subscriber is away, B serves its L1 copy').toBe(10);

    flaky.comeBack();
    await eventually(b, 'price', 12, 'B to drop L1 once it is subscribed again');
  });

  it('a load that L2 refuses as too late stays out of L1, even when its invalidation was lost', async () => {
    const clock = new ManualClock();
    const a = await direct(clock);
    const flaky = await withFlakySubscriber(clock);
    const b = flaky.instance;
    const slow = gatedLoader<string>();
    const load = b.cache.get('late', slow.loader);
    await slow.called;

    await flaky.drop();
    await a.cache.set('late', 'new'); // B does not hear it, but L2's version moves on
    slow.answer('old');
    expect(await load).toBe('old');
    expect(await b.cache.get('late'), "L2 refused the late fill: B's L1 must not keep it either").toBe('new');
  });

  it('a lookup under way while the subscriber was away does not fill L1 after it is back', async () => {
    const clock = new ManualClock();
    const a = await direct(clock);
    const flaky = await withFlakySubscriber(clock);
    const b = flaky.instance;
    await a.cache.set('probe', 'p1');
    await a.cache.set('k', 'v1');
    await b.heard(); // the invalidations of these sets must not be what saves B below
    expect(await b.cache.get('probe')).toBe('p1');

    b.tap.holding = (name) => name !== 'ping';
    const reading = b.cache.get('k');
    await expect.poll(() => b.tap.held, { timeout: 5000 }).toBeGreaterThan(0); // Redis answered v1
    b.tap.holding = undefined;

    await flaky.drop();
    await a.cache.set('k', 'v2'); // B hears neither of these
    await a.cache.set('probe', 'p2');
    flaky.comeBack();
    await eventually(b, 'probe', 'p2', 'B to start afresh once subscribed again');
    expect(
      await within(b.cache.get('k'), 3000),
      'a get after the reconnect starts a lookup of its own instead of joining the one from before',
    ).toBe('v2');

    b.tap.release(); // the reply read before the outage arrives now
    expect(await reading).toBe('v1');
    expect(await b.cache.get('k'), 'a lookup from before the outage must not fill the fresh L1').toBe('v2');
  });
});
