import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, sleep, useRedis, waitFor, within } from '../../../src/testing/index.js';
import { accountSummary } from './account-summary.js';
import { allStreamKey } from './event-log.js';
import {
  append,
  connection,
  ev,
  expectedModel,
  gate,
  hooked,
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
const namespace = useNamespace('lease');
let admin: Redis;
beforeAll(async () => {
  admin = redis.client();
});

async function runner(options: Partial<ProjectionRunnerOptions> & { owner: string }) {
  return track(
    createProjectionRunner({
      redis: await connection(redis.url),
      namespace: namespace.current,
      projection: accountSummary(),
      leaseMs: 10_000,
      clock: new ManualClock(),
      ...options,
    }),
  );
}

const leaseKey = () => projectionKeys(namespace.current, PROJECTION, 1).lease;
const model = async () => readModel(admin, namespace.current, 1);
const expected = async () => expectedModel(await wholeLog(admin, namespace.current));

describe('ProjectionRunner: one writer per version', () => {
  it('holds the lease under its owner id with a TTL of at most leaseMs', async () => {
    await append(admin, namespace.current, sampleEvents(3));
    const a = await runner({ owner: 'runner-a', leaseMs: 5000 });
    expect(a.owner).toBe('runner-a');
    await a.runOnce();
    expect(await admin.get(leaseKey()), 'the lease holds the owner id').toBe('runner-a');
    const ttl = await admin.pttl(leaseKey());
    expect(ttl, 'the lease expires (PX leaseMs)').toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  it('a second runner stands by while the lease is live: it applies nothing and resolves 0', async () => {
    await append(admin, namespace.current, sampleEvents(3));
    const a = await runner({ owner: 'runner-a' });
    const b = await runner({ owner: 'runner-b' });
    expect(await a.runOnce()).toBe(3);
    await append(admin, namespace.current, [ev.deposited('a', 50), ev.deposited('b', 60)]);
    const before = await model();
    expect(await b.runOnce(), 'runner-b must not apply while runner-a holds the lease').toBe(0);
    expect(await b.runOnce()).toBe(0);
    expect(await model(), 'the standby wrote nothing').toEqual(before);
    expect(await admin.get(leaseKey()), 'the standby did not take or overwrite the lease').toBe('runner-a');
    expect(await a.runOnce(), 'the holder goes on').toBe(2);
    expect(await model()).toEqual(await expected());
  });

  it('without an owner option, each runner gets an id of its own (host, pid, a random UUID)', async () => {
    const make = async () =>
      track(
        createProjectionRunner({
          redis: await connection(redis.url),
          namespace: namespace.current,
          projection: accountSummary(),
          leaseMs: 10_000,
          clock: new ManualClock(),
        }),
      );
    const a = await make();
    const b = await make();
    expect(a.owner, 'the default owner id names the host').toContain(hostname());
    expect(a.owner, 'the default owner id names the process').toContain(String(process.pid));
    expect(
      b.owner,
      'two runners of one process must not share an owner id: both would hold the lease',
    ).not.toBe(a.owner);
    await append(admin, namespace.current, sampleEvents(3));
    expect(await a.runOnce()).toBe(3);
    await append(admin, namespace.current, [ev.deposited('a', 5)]);
    expect(await b.runOnce(), 'the second runner stands by while the first holds the lease').toBe(0);
  });

  it('renews the lease at every batch, even an empty one, so the holder keeps it while it runs', async () => {
    await append(admin, namespace.current, sampleEvents(2));
    const a = await runner({ owner: 'runner-a', leaseMs: 5000 });
    await a.runOnce();
    await admin.pexpire(leaseKey(), 100);
    await a.runOnce();
    expect(await admin.pttl(leaseKey()), 'an empty batch renews the lease to leaseMs').toBeGreaterThan(1000);
  });

  it('takes over once the holder stops renewing and its lease runs out', async () => {
    await append(admin, namespace.current, sampleEvents(3));
    const a = await runner({ owner: 'runner-a', leaseMs: 300 });
    const b = await runner({ owner: 'runner-b', leaseMs: 300 });
    expect(await a.runOnce()).toBe(3);
    await append(admin, namespace.current, [ev.deposited('c', 70)]);
    expect(await b.runOnce()).toBe(0);
    await waitFor(
      'runner-a’s lease to run out (300 ms)',
      async () => (await admin.exists(leaseKey())) === 0,
      {
        timeoutMs: 5000,
      },
    );
    expect(await b.runOnce(), 'runner-b takes over and applies the new event').toBe(1);
    expect(await admin.get(leaseKey())).toBe('runner-b');
    expect(await a.runOnce(), 'runner-a is now the standby').toBe(0);
    expect(await model()).toEqual(await expected());
  });

  it('fences a stalled runner: its late commit is rejected with LeaseLostError and applies nothing', async () => {
    await append(admin, namespace.current, sampleEvents(4));
    const held = gate();
    const entered = gate();
    let stall = true;
    const a = await runner({
      owner: 'runner-a',
      leaseMs: 300,
      projection: hooked(1, async () => {
        if (!stall) return;
        stall = false;
        entered.open();
        await held.promise; // a GC pause, a stopped VM: the runner is frozen mid-batch
      }),
    });
    const late = a.runOnce().then(
      () => undefined,
      (error: unknown) => error,
    );
    await entered.promise;
    await waitFor(
      'runner-a’s lease to run out (300 ms)',
      async () => (await admin.exists(leaseKey())) === 0,
      {
        timeoutMs: 5000,
      },
    );
    const b = await runner({ owner: 'runner-b', leaseMs: 10_000 });
    expect(await b.runOnce(), 'runner-b takes over and applies the batch').toBe(4);
    held.open();
    const error = await late;
    expect(error, 'the stalled runner must learn that it lost the lease').toBeInstanceOf(LeaseLostError);
    expect(error).toMatchObject({ code: 'ELEASELOST', name: 'LeaseLostError' });
    expect(await model(), 'every event applied once: the late commit was fenced off').toEqual(
      await expected(),
    );
    expect(await admin.get(leaseKey()), 'runner-b still holds the lease').toBe('runner-b');
    expect(await b.position()).toBe(4);
  });
});

describe('ProjectionRunner: start and stop', () => {
  it('start() applies what is appended while it runs; stop() ends the loop and releases the lease', async () => {
    await append(admin, namespace.current, sampleEvents(3));
    const a = await runner({ owner: 'runner-a', batchSize: 2, pollMs: 20 });
    const running = a.start();
    await waitFor('the loop to apply the first 3 events', async () => (await a.position()) === 3);
    await append(admin, namespace.current, [ev.deposited('a', 5), ev.withdrawn('b', 1)]);
    await waitFor(
      'the loop to apply the 2 events appended while it runs',
      async () => (await a.position()) === 5,
    );
    await a.stop();
    await expect(running, 'start() resolves once stopped').resolves.toBeUndefined();
    expect(await admin.exists(leaseKey()), 'stop() releases the lease').toBe(0);
    await append(admin, namespace.current, [ev.deposited('c', 9)]);
    const b = await runner({ owner: 'runner-b' });
    expect(await b.runOnce(), 'a successor takes over at once, without waiting for leaseMs').toBe(1);
    expect(await model()).toEqual(await expected());
  });

  it('start(): a batch that applied events is followed at once by the next; one that applied nothing by a pause of pollMs', async () => {
    await append(admin, namespace.current, sampleEvents(4));
    const client = await connection(redis.url);
    const log = allStreamKey(namespace.current);
    let reads = 0;
    let lastRead = Date.now();
    tapCommands(client, (_name, args) => {
      if (!args.some((arg) => String(arg) === log)) return;
      reads++;
      lastRead = Date.now();
    });
    const a = await runner({ owner: 'runner-a', redis: client, batchSize: 1, pollMs: 60_000 });
    const running = a.start();
    await waitFor(
      'the loop to apply 4 events in 4 batches of 1, with no pause after a batch that applied something',
      async () => (await a.position()) === 4,
    );
    await waitFor(
      'the loop to read the log once more, find nothing, and pause',
      () => reads >= 5 && Date.now() - lastRead > 150,
    );
    const idle = reads;
    await sleep(400);
    expect(
      reads,
      'after a batch that applied nothing the loop waits pollMs (60 s here) before it reads the log again',
    ).toBe(idle);
    expect(await within(a.stop(), 5000), 'stop() ends a pause of pollMs at once').not.toBe('pending');
    await expect(running).resolves.toBeUndefined();
  });

  it('stop() of a runner that is not the holder leaves the holder’s lease alone', async () => {
    await append(admin, namespace.current, sampleEvents(2));
    const a = await runner({ owner: 'runner-a' });
    const b = await runner({ owner: 'runner-b' });
    await a.runOnce();
    await b.runOnce();
    await b.stop();
    expect(await admin.get(leaseKey())).toBe('runner-a');
  });

  it('start() rejects with the error that ended the loop (a handler that throws)', async () => {
    await append(admin, namespace.current, sampleEvents(3));
    const boom = new Error('bad event');
    const a = await runner({
      owner: 'runner-a',
      pollMs: 20,
      projection: hooked(1, (event) => {
        if (event.position === 2) throw boom;
      }),
    });
    await expect(a.start()).rejects.toBe(boom);
    expect(await a.position()).toBe(0);
    await expect(a.start(), 'the loop is over after its error: start() runs a new one').rejects.toBe(boom);
  });

  it('start() twice without stop() throws; after stop() it starts again', async () => {
    const a = await runner({ owner: 'runner-a', pollMs: 20 });
    const running = a.start();
    expect(() => a.start()).toThrow(Error);
    await a.stop();
    await running;
    await append(admin, namespace.current, sampleEvents(2));
    const again = a.start();
    await waitFor('the restarted loop to apply the 2 events', async () => (await a.position()) === 2);
    await a.stop();
    await expect(again).resolves.toBeUndefined();
  });
});
