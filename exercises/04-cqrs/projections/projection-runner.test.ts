import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock, startFaultProxy, useRedis } from '../../../src/testing/index.js';
import { accountSummary } from './account-summary.js';
import {
  append,
  connection,
  ev,
  expectedModel,
  hooked,
  onCleanup,
  PROJECTION,
  readModel,
  sampleEvents,
  tapCommands,
  track,
  useNamespace,
  wholeLog,
} from './harness.js';
import { projectionKeys } from './keys.js';
import { createProjectionRunner, LeaseLostError, type ProjectionRunnerOptions } from './projection-runner.js';

const redis = useRedis();
const namespace = useNamespace('run');
let admin: Redis;
beforeAll(async () => {
  admin = redis.client();
});

function runner(client: Redis, options: Partial<ProjectionRunnerOptions> = {}) {
  return track(
    createProjectionRunner({
      redis: client,
      namespace: namespace.current,
      projection: accountSummary(),
      leaseMs: 10_000,
      clock: new ManualClock(),
      ...options,
    }),
  );
}

async function drain(r: { runOnce(): Promise<number> }): Promise<number> {
  let total = 0;
  for (let n = await r.runOnce(); n > 0; n = await r.runOnce()) total += n;
  return total;
}

describe('createProjectionRunner: options', () => {
  it('rejects bad options with a TypeError or RangeError naming the option and the value', async () => {
    const client = await connection(redis.url);
    const base: ProjectionRunnerOptions = {
      redis: client,
      namespace: 'ns',
      projection: accountSummary(),
      leaseMs: 1000,
    };
    const bad: [Partial<ProjectionRunnerOptions>, ErrorConstructor, RegExp][] = [
      [{ namespace: '' }, TypeError, /namespace/],
      [{ namespace: 42 as never }, TypeError, /namespace.*42/],
      [{ projection: { ...accountSummary(), name: 'a:b' } }, TypeError, /projection\.name.*a:b/],
      [{ projection: { ...accountSummary(), name: '' } }, TypeError, /projection\.name/],
      [
        { projection: { ...accountSummary(), apply: undefined as never } },
        TypeError,
        /projection\.apply.*undefined/,
      ],
      [{ projection: accountSummary(0) }, RangeError, /projection\.version.*0/],
      [{ projection: accountSummary(1.5) }, RangeError, /projection\.version.*1\.5/],
      [{ batchSize: 0 }, RangeError, /batchSize.*0/],
      [{ batchSize: Number.NaN }, RangeError, /batchSize.*NaN/],
      [{ batchSize: 2.5 }, RangeError, /batchSize.*2\.5/],
      [{ leaseMs: -1 }, RangeError, /leaseMs.*-1/],
      [{ leaseMs: Number.POSITIVE_INFINITY }, RangeError, /leaseMs.*Infinity/],
      [{ pollMs: 0 }, RangeError, /pollMs.*0/],
      [{ owner: '' }, TypeError, /owner/],
      [{ owner: 7 as never }, TypeError, /owner.*7/],
    ];
    for (const [change, type, message] of bad) {
      expect(
        () => createProjectionRunner({ ...base, ...change }),
        `options ${JSON.stringify(change)}`,
      ).toThrow(type);
      expect(() => createProjectionRunner({ ...base, ...change })).toThrow(message);
    }
  });
});

describe('ProjectionRunner: batches', () => {
  it('applies the log in batches of batchSize, each moving the checkpoint to its last event', async () => {
    const log = await append(admin, namespace.current, sampleEvents(7));
    const r = runner(await connection(redis.url), { batchSize: 3 });
    const { checkpoint } = projectionKeys(namespace.current, PROJECTION, 1);
    expect(await r.position(), 'nothing applied yet: position 0').toBe(0);
    expect(await r.runOnce(), 'the first batch holds batchSize events').toBe(3);
    expect(await admin.get(checkpoint), 'the checkpoint is the position of the last event applied').toBe('3');
    expect(await r.runOnce()).toBe(3);
    expect(await r.runOnce(), 'the last, partial batch is applied too').toBe(1);
    expect(await r.position()).toBe(7);
    expect(await r.runOnce(), 'nothing new: 0').toBe(0);
    expect(await readModel(admin, namespace.current, 1)).toEqual(expectedModel(log));
  });

  it('applies events appended after a partial batch (the checkpoint is the last position read, not a count)', async () => {
    await append(admin, namespace.current, sampleEvents(4));
    const r = runner(await connection(redis.url), { batchSize: 3 });
    expect(await drain(r)).toBe(4);
    await append(admin, namespace.current, [ev.deposited('a', 7), ev.deposited('b', 9)]);
    expect(await drain(r), 'the two new events are applied').toBe(2);
    expect(await r.position()).toBe(6);
    expect(await readModel(admin, namespace.current, 1)).toEqual(
      expectedModel(await wholeLog(admin, namespace.current)),
    );
  });

  it('resumes after the checkpoint: a new runner never applies the checkpoint event again', async () => {
    await append(admin, namespace.current, sampleEvents(5));
    expect(await drain(runner(await connection(redis.url), { batchSize: 2, owner: 'first' }))).toBe(5);
    await admin.del(projectionKeys(namespace.current, PROJECTION, 1).lease);
    await append(admin, namespace.current, [ev.deposited('c', 11)]);
    const second = runner(await connection(redis.url), { batchSize: 2, owner: 'second' });
    expect(await second.runOnce(), 'only the one event after the checkpoint').toBe(1);
    expect(await readModel(admin, namespace.current, 1)).toEqual(
      expectedModel(await wholeLog(admin, namespace.current)),
    );
  });

  it('moves the checkpoint past events the projection ignores (other streams)', async () => {
    await append(admin, namespace.current, [
      ev.opened('a', 'Ada'),
      { streamName: 'cart-1', type: 'ItemAdded', data: { sku: 'x' } },
      ev.deposited('a', 5),
    ]);
    const r = runner(await connection(redis.url));
    expect(await r.runOnce()).toBe(3);
    expect(await r.position()).toBe(3);
  });

  it('points the active alias at the first version that commits, and leaves it there for later versions', async () => {
    await append(admin, namespace.current, sampleEvents(3));
    const { active } = projectionKeys(namespace.current, PROJECTION, 1);
    expect(await admin.get(active)).toBeNull();
    await runner(await connection(redis.url)).runOnce();
    expect(await admin.get(active), 'the first commit of version 1 makes it active').toBe('1');
    await runner(await connection(redis.url), { projection: accountSummary(2) }).runOnce();
    expect(await admin.get(active), 'a live runner of version 2 does not switch queries to it').toBe('1');
  });

  it('publishes {"version","position"} on the positions channel after each commit', async () => {
    const subscriber = await connection(redis.url);
    const messages: unknown[] = [];
    subscriber.on('message', (_channel: string, message: string) => messages.push(JSON.parse(message)));
    await subscriber.subscribe(projectionKeys(namespace.current, PROJECTION, 1).channel);
    await append(admin, namespace.current, sampleEvents(5));
    const r = runner(await connection(redis.url), { batchSize: 3 });
    await drain(r);
    await subscriber.ping();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(messages).toEqual([
      { version: 1, position: 3 },
      { version: 1, position: 5 },
    ]);
  });

  it('runs calls on one runner one at a time (two runOnce at once apply two batches, nothing twice)', async () => {
    const log = await append(admin, namespace.current, sampleEvents(6));
    const r = runner(await connection(redis.url), { batchSize: 3 });
    expect(await Promise.all([r.runOnce(), r.runOnce()])).toEqual([3, 3]);
    expect(await readModel(admin, namespace.current, 1)).toEqual(expectedModel(log));
  });
});

describe('ProjectionRunner: a crash mid-batch', () => {
  it('applies nothing of a batch whose handler throws on its k-th event; a fresh runner applies each event once', async () => {
    const log = await append(admin, namespace.current, sampleEvents(8));
    const boom = new Error('handler failed on the 5th event');
    let seen = 0;
    const crashing = runner(await connection(redis.url), {
      batchSize: 4,
      owner: 'crashing',
      projection: hooked(1, () => {
        if (++seen === 6) throw boom;
      }),
    });
    expect(await crashing.runOnce()).toBe(4);
    const before = await readModel(admin, namespace.current, 1);
    await expect(crashing.runOnce(), 'the error of apply reaches the caller').rejects.toBe(boom);
    expect(await crashing.position(), 'the checkpoint stays where the last good batch left it').toBe(4);
    expect(await readModel(admin, namespace.current, 1), 'no write of the failed batch is visible').toEqual(
      before,
    );
    await admin.del(projectionKeys(namespace.current, PROJECTION, 1).lease); // its lease would run out
    const fresh = runner(await connection(redis.url), { batchSize: 4, owner: 'fresh' });
    expect(await drain(fresh)).toBe(4);
    expect(await readModel(admin, namespace.current, 1)).toEqual(expectedModel(log));
  });

  it('rejects with the error Redis gave a command of the transaction (EXEC does not roll back)', async () => {
    await append(admin, namespace.current, sampleEvents(4)); // the 4th is a deposit on 2024-03-01
    const { prefix } = projectionKeys(namespace.current, PROJECTION, 1);
    await admin.hset(`${prefix}:deposits:2024-03-01`, 'not', 'a string'); // INCRBY on it: WRONGTYPE
    const r = runner(await connection(redis.url));
    await expect(
      r.runOnce(),
      'EXEC answers each command; one answered WRONGTYPE: runOnce must reject with it, not resolve 4',
    ).rejects.toThrow(/WRONGTYPE/);
  });

  it('a runner whose connection is cut at any command of its run leaves a model a fresh runner completes exactly once', async () => {
    const direct = await connection(redis.url);
    let cutAt = 1;
    for (; cutAt < 200; cutAt++) {
      const ns = `${namespace.current}-cut${cutAt}`;
      const log = await append(admin, ns, sampleEvents(4));
      const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
      onCleanup(() => proxy.close());
      const client = new Redis(`redis://127.0.0.1:${proxy.port}/${redis.db}`, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        lazyConnect: true,
      });
      client.on('error', () => {});
      await client.connect();
      let sent = 0;
      let crashed = false;
      tapCommands(client, () => {
        if (++sent === cutAt) {
          crashed = true;
          proxy.cut();
          client.disconnect(); // the process is gone: nothing is sent again
        }
        return crashed ? 'drop' : undefined;
      });
      const doomed = createProjectionRunner({
        redis: client,
        namespace: ns,
        projection: accountSummary(),
        batchSize: 3,
        leaseMs: 10_000,
        owner: 'doomed',
        clock: new ManualClock(),
      });
      await drain(doomed).catch(() => {});
      client.disconnect();
      await proxy.close();
      if (!crashed) break; // the run ended before command number cutAt: every point has been tried
      await admin.del(projectionKeys(ns, PROJECTION, 1).lease); // the crashed runner's lease would run out
      const fresh = createProjectionRunner({
        redis: direct,
        namespace: ns,
        projection: accountSummary(),
        batchSize: 3,
        leaseMs: 10_000,
        owner: 'fresh',
      });
      await drain(fresh);
      expect(
        await readModel(admin, ns, 1),
        `cut before command #${cutAt} of the first runner: the fresh runner must finish with every event applied exactly once`,
      ).toEqual(expectedModel(log));
      expect(await fresh.position()).toBe(4);
      await fresh.stop();
    }
    expect(cutAt, 'the first runner sends some commands').toBeGreaterThan(5);
  }, 30_000);
});

describe('ProjectionRunner: the lease on the clock', () => {
  it('does not commit a batch that took leaseMs or more on the clock: LeaseLostError, nothing applied', async () => {
    const log = await append(admin, namespace.current, sampleEvents(4));
    const clock = new ManualClock();
    let seen = 0;
    const slow = runner(await connection(redis.url), {
      clock,
      leaseMs: 5000,
      projection: hooked(1, () => {
        if (++seen === 2) clock.advance(5000);
      }),
    });
    const error = await slow.runOnce().catch((e: unknown) => e);
    expect(error, 'a batch that outlived its lease must not commit').toBeInstanceOf(LeaseLostError);
    expect(error).toMatchObject({ code: 'ELEASELOST', name: 'LeaseLostError' });
    expect(await slow.position()).toBe(0);
    expect(await readModel(admin, namespace.current, 1)).toEqual({ accounts: {}, deposits: {} });
    clock.advance(1);
    expect(await slow.runOnce(), 'a batch within the lease commits').toBe(4);
    expect(await readModel(admin, namespace.current, 1)).toEqual(expectedModel(log));
  });

  it('without a clock option it measures the batch on Date', async () => {
    await append(admin, namespace.current, sampleEvents(3));
    vi.useFakeTimers({ toFake: ['Date'] });
    onCleanup(() => vi.useRealTimers());
    let seen = 0;
    const r = runner(await connection(redis.url), {
      clock: undefined,
      leaseMs: 10_000,
      projection: hooked(1, () => {
        if (++seen === 2) vi.setSystemTime(Date.now() + 10_000);
      }),
    });
    const error = await r.runOnce().catch((e: unknown) => e);
    expect(error, '10 s (leaseMs) passed on Date during the batch: it must not commit').toBeInstanceOf(
      LeaseLostError,
    );
    expect(await r.position()).toBe(0);
  });

  it('commits a batch that took just under leaseMs', async () => {
    await append(admin, namespace.current, sampleEvents(2));
    const clock = new ManualClock();
    let seen = 0;
    const r = runner(await connection(redis.url), {
      clock,
      leaseMs: 5000,
      projection: hooked(1, () => {
        if (++seen === 2) clock.advance(4999);
      }),
    });
    expect(await r.runOnce()).toBe(2);
  });
});
