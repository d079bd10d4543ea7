import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, sleep, useRedis } from '../../../src/testing/index.js';
import { accountSummary, type Projection } from './account-summary.js';
import type { NewEvent } from './event-log.js';
import {
  append,
  connection,
  ev,
  expectedModel,
  gate,
  hooked,
  keysOf,
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
const namespace = useNamespace('rebuild');
let admin: Redis;
beforeAll(async () => {
  admin = redis.client();
});

async function runner(projection: Projection, options: Partial<ProjectionRunnerOptions> = {}) {
  return track(
    createProjectionRunner({
      redis: await connection(redis.url),
      namespace: namespace.current,
      projection,
      leaseMs: 10_000,
      clock: new ManualClock(),
      ...options,
    }),
  );
}

async function drain(r: { runOnce(): Promise<number> }): Promise<void> {
  while ((await r.runOnce()) > 0) {
    // until the log is read to its end
  }
}

const active = () => admin.get(projectionKeys(namespace.current, PROJECTION, 1).active);

describe('ProjectionRunner.rebuild: blue-green versions', () => {
  it('builds version 2 from zero beside the live version 1, then points the alias at it', async () => {
    const log = await append(admin, namespace.current, sampleEvents(9));
    await drain(await runner(accountSummary(1), { batchSize: 4 }));
    expect(await active()).toBe('1');
    const subscriber = await connection(redis.url);
    const messages: unknown[] = [];
    subscriber.on('message', (_channel: string, message: string) => messages.push(JSON.parse(message)));
    await subscriber.subscribe(projectionKeys(namespace.current, PROJECTION, 2).channel);
    const v2 = await runner(accountSummary(2), { batchSize: 2 });
    await v2.rebuild();
    expect(await active(), 'after the rebuild, queries read version 2').toBe('2');
    await subscriber.ping();
    await sleep(50);
    expect(messages.at(-1), 'each message on the positions channel is {"version","position"}').toEqual({
      version: 2,
      position: 9,
    });
    for (const message of messages) expect(message).toEqual({ version: 2, position: expect.any(Number) });
    expect(await v2.position(), 'version 2 has read the whole log').toBe(9);
    expect(await readModel(admin, namespace.current, 2)).toEqual(expectedModel(log));
    expect(await readModel(admin, namespace.current, 1), 'version 1 is left as it was').toEqual(
      expectedModel(log),
    );
  });

  it('keeps the alias on the old version until the new one is complete', async () => {
    await append(admin, namespace.current, sampleEvents(8));
    await drain(await runner(accountSummary(1)));
    const v1Model = await readModel(admin, namespace.current, 1);
    const paused = gate();
    const reached = gate();
    const v2 = await runner(
      hooked(2, async (event) => {
        if (event.position === 6) {
          reached.open();
          await paused.promise;
        }
      }),
      { batchSize: 2 },
    );
    const rebuilding = v2.rebuild();
    await reached.promise;
    expect(await active(), 'mid-rebuild, queries must still read version 1').toBe('1');
    expect(await readModel(admin, namespace.current, 1), 'version 1 is untouched by the rebuild').toEqual(
      v1Model,
    );
    paused.open();
    await rebuilding;
    expect(await active()).toBe('2');
  });

  it('starts from zero: whatever the version held before the rebuild is deleted first', async () => {
    const log = await append(admin, namespace.current, sampleEvents(6));
    await drain(await runner(accountSummary(1), { owner: 'v1' }));
    const v2 = await runner(accountSummary(2), { owner: 'v2', batchSize: 4 });
    expect(await v2.runOnce(), 'version 2 ran live for a while before the rebuild').toBe(4);
    await admin.set(`${projectionKeys(namespace.current, PROJECTION, 2).prefix}:deposits:1999-01-01`, '5');
    await v2.rebuild();
    expect(await readModel(admin, namespace.current, 2), 'nothing counted twice, nothing stale').toEqual(
      expectedModel(log),
    );
  });

  it('keeps its own lease from the claim to the switch: the delete spares it, no other runner can step in', async () => {
    await append(admin, namespace.current, sampleEvents(6));
    await drain(await runner(accountSummary(1), { owner: 'v1' }));
    const client = await connection(redis.url);
    const lease = projectionKeys(namespace.current, PROJECTION, 2).lease;
    let held = false;
    const gaps: string[] = [];
    tapCommands(client, (name, _args, inBatch) => {
      if (inBatch) return;
      return (async () => {
        const holder = await admin.get(lease);
        if (holder === 'v2') held = true;
        else if (held)
          gaps.push(`before ${name}: the lease was ${holder === null ? 'free' : `held by ${holder}`}`);
      })();
    });
    const v2 = await runner(accountSummary(2), { owner: 'v2', batchSize: 2, redis: client });
    await v2.rebuild();
    expect(held, 'the rebuilding runner claims the version’s lease').toBe(true);
    expect(
      gaps,
      'the rebuild deletes every key of the version except the lease: between its claim and the switch, another runner could take a lease that was free',
    ).toEqual([]);
  });

  it('does not move the alias when its lease is taken after the last batch, at any command before the switch (LeaseLostError)', async () => {
    // Takes the lease for 'thief' if version 1 is still the active one, atomically.
    const steal = `if redis.call('GET', KEYS[1]) == '1' then
      redis.call('SET', KEYS[2], 'thief', 'PX', 10000) return 1 end return 0`;
    let stealAt = 1;
    for (; stealAt < 50; stealAt++) {
      const ns = `${namespace.current}-steal${stealAt}`;
      await append(admin, ns, sampleEvents(3));
      const keys = projectionKeys(ns, PROJECTION, 2);
      await admin.set(keys.active, '1');
      const client = await connection(redis.url);
      let after = 0;
      let stolen = false;
      tapCommands(client, (_name, _args, inBatch) => {
        if (inBatch || stolen) return;
        return (async () => {
          if (Number(await admin.get(keys.checkpoint)) !== 3) return; // the log is not applied to its end yet
          if (++after === stealAt) stolen = (await admin.eval(steal, 2, keys.active, keys.lease)) === 1;
        })();
      });
      const v2 = createProjectionRunner({
        redis: client,
        namespace: ns,
        projection: accountSummary(2),
        batchSize: 3,
        leaseMs: 10_000,
        owner: 'v2',
        clock: new ManualClock(),
      });
      const outcome = await v2.rebuild().then(
        () => 'switched',
        (error: unknown) => error,
      );
      if (!stolen) {
        expect(outcome, 'nobody took the lease: the rebuild switches').toBe('switched');
        break; // the rebuild was over before command number stealAt: every point has been tried
      }
      expect(
        outcome,
        `the lease was taken before command #${stealAt} after the last batch: the rebuild must reject`,
      ).toBeInstanceOf(LeaseLostError);
      expect(
        await admin.get(keys.active),
        'the alias stays on version 1: the switch is guarded by the lease',
      ).toBe('1');
    }
    expect(stealAt, 'the rebuild sends commands between its last batch and the switch').toBeGreaterThan(1);
  }, 30_000);

  it('refuses to rebuild the active version (ActiveVersionError), touching nothing', async () => {
    const log = await append(admin, namespace.current, sampleEvents(4));
    const v1 = await runner(accountSummary(1));
    await drain(v1);
    await expect(v1.rebuild()).rejects.toMatchObject({ code: 'EACTIVEVERSION', name: 'ActiveVersionError' });
    expect(await readModel(admin, namespace.current, 1)).toEqual(expectedModel(log));
    expect(await v1.position()).toBe(4);
  });

  it('refuses to rebuild while another runner holds the version’s lease (LeaseHeldError)', async () => {
    await append(admin, namespace.current, sampleEvents(4));
    await drain(await runner(accountSummary(1), { owner: 'v1' }));
    await (await runner(accountSummary(2), { owner: 'v2-live' })).runOnce();
    const other = await runner(accountSummary(2), { owner: 'v2-rebuild' });
    await expect(other.rebuild()).rejects.toMatchObject({ code: 'ELEASEHELD', name: 'LeaseHeldError' });
    expect(await active()).toBe('1');
  });

  it('dropVersion(v) deletes every key of version v and nothing else; the active version cannot be dropped', async () => {
    await append(admin, namespace.current, sampleEvents(5));
    const v1 = await runner(accountSummary(1), { owner: 'v1' });
    await drain(v1);
    await v1.stop();
    const v2 = await runner(accountSummary(2), { owner: 'v2' });
    await v2.rebuild();
    const v2Keys = await keysOf(admin, projectionKeys(namespace.current, PROJECTION, 2).prefix);
    const v1Prefix = projectionKeys(namespace.current, PROJECTION, 1).prefix;
    const v1Count = (await keysOf(admin, v1Prefix)).length;
    expect(await v2.dropVersion(1), 'resolves how many keys it deleted').toBe(v1Count);
    expect(await keysOf(admin, v1Prefix)).toEqual([]);
    expect(await keysOf(admin, projectionKeys(namespace.current, PROJECTION, 2).prefix)).toEqual(v2Keys);
    await expect(v2.dropVersion(2)).rejects.toMatchObject({ code: 'EACTIVEVERSION' });
    await expect(v2.dropVersion(0)).rejects.toThrow(RangeError);
    await expect(v2.dropVersion(1.5)).rejects.toThrow(/version.*1\.5/);
  });

  it('dropVersion(v) finds every key of v however many keys Redis holds (SCAN until the cursor is 0 again)', async () => {
    const v1 = projectionKeys(namespace.current, PROJECTION, 1).prefix;
    const writes = admin.pipeline();
    for (let i = 0; i < 3000; i++) writes.set(`${namespace.current}:other:${i}`, '1');
    for (let i = 0; i < 500; i++) writes.set(`${v1}:deposits:day-${i}`, '1');
    await writes.exec();
    const v2 = await runner(accountSummary(2), { owner: 'v2' });
    expect(await v2.dropVersion(1), 'all 500 keys of version 1, not just those of the first SCAN page').toBe(
      500,
    );
    expect(await keysOf(admin, v1)).toEqual([]);
    expect(await admin.exists(`${namespace.current}:other:0`), 'keys of nothing else').toBe(1);
  });
});

interface Operation {
  readonly account: string;
  readonly kind: string;
  readonly amount: number;
  readonly day: string;
  readonly hour: number;
}

/** Random operations over three accounts (made a valid event sequence by toEvents). */
const operations: fc.Arbitrary<Operation[]> = fc.array(
  fc.record({
    account: fc.constantFrom('a', 'b', 'c'),
    kind: fc.constantFrom('deposit', 'deposit', 'withdraw', 'close'),
    amount: fc.integer({ min: 1, max: 10_000 }),
    day: fc.constantFrom('2024-02-29', '2024-03-01'),
    hour: fc.integer({ min: 0, max: 23 }),
  }),
  { minLength: 1, maxLength: 15 },
);

function toEvents(ops: readonly Operation[]): NewEvent[] {
  const state = new Map<string, 'open' | 'closed'>();
  const events: NewEvent[] = [];
  for (const op of ops) {
    const at = `${op.day}T${String(op.hour).padStart(2, '0')}:30:00.000Z`;
    const status = state.get(op.account);
    if (status === undefined) {
      events.push(ev.opened(op.account, `owner-${op.account}`, at));
      state.set(op.account, 'open');
    } else if (status === 'open') {
      if (op.kind === 'deposit') events.push(ev.deposited(op.account, op.amount, at));
      else if (op.kind === 'withdraw') events.push(ev.withdrawn(op.account, op.amount, at));
      else {
        events.push(ev.closed(op.account, at));
        state.set(op.account, 'closed');
      }
    }
  }
  return events;
}

describe('ProjectionRunner: live equals rebuilt (property)', () => {
  it('for random event sequences appended in random chunks and applied in random batches, a rebuild from zero gives the live model', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        operations,
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        async (ops, liveBatch, rebuildBatch, chunk) => {
          const ns = `${namespace.current}-p${run++}`;
          const make = async (version: number, batchSize: number) =>
            track(
              createProjectionRunner({
                redis: await connection(redis.url),
                namespace: ns,
                projection: accountSummary(version),
                batchSize,
                leaseMs: 10_000,
              }),
            );
          const events = toEvents(ops);
          const live = await make(1, liveBatch);
          for (let i = 0; i < events.length; i += chunk) {
            await append(admin, ns, events.slice(i, i + chunk));
            await live.runOnce(); // one batch per chunk: the live model lags, then catches up
          }
          await drain(live);
          const rebuilt = await make(2, rebuildBatch);
          await rebuilt.rebuild();
          const log = await wholeLog(admin, ns);
          const liveModel = await readModel(admin, ns, 1);
          expect(liveModel, 'the live model is the exactly-once fold of the log').toEqual(expectedModel(log));
          expect(await readModel(admin, ns, 2), 'the rebuilt model equals the live one').toEqual(liveModel);
          expect(await rebuilt.position()).toBe(await live.position());
        },
      ),
      { numRuns: 12, seed: Number(process.env.LAB_SEED ?? 4) || 4 },
    );
  }, 30_000);
});
