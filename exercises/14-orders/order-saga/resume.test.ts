/**
 * Resuming in one process: an orchestrator "dies" by never getting an answer (the fake holds its
 * call at a gate forever), its lease is deleted as if it had expired, and another orchestrator
 * resumes the saga from Redis. Two orchestrators on one saga: the lease keeps the second out, and
 * the fence stops the first once it has lost its lease. (kill.test.ts does it with real SIGKILLs.)
 */
import { describe, expect, it } from 'vitest';
import { deferred, useRedis, waitFor } from '../../../src/testing/index.js';
import { type Setup, setup } from './fixtures.js';
import type { Call, ServiceName } from './harness.js';
import { order } from './harness.js';
import { SagaBusyError, SagaNotFoundError } from './order-saga.js';
import { replay } from './saga-machine.js';

const redis = useRedis();

const names = (calls: Call[]) => calls.map((c) => `${c.service} ${c.key}`);

/**
 * Starts the saga on an orchestrator that stops forever at `service` (`before` its work, or `after`
 * it), waits until it is stuck there, and deletes its lease: it is as good as dead.
 */
async function dieAt(
  service: ServiceName,
  when: 'before' | 'after',
  faults?: (c: Call) => 'refuse' | undefined,
) {
  const stuck = deferred();
  const forever = new Promise(() => {});
  const hook = (call: { service: ServiceName }) => {
    if (call.service !== service) return;
    stuck.resolve();
    return forever;
  };
  const r = await setup(redis, {
    faults: faults as never,
    ...(when === 'before' ? { before: hook } : { after: hook }),
  });
  void r.orchestrator.start(r.order).catch(() => {});
  await stuck.promise;
  await r.redis.del(r.keys(r.order.id).lease);
  const callsBefore = (await r.services.calls()).length;
  const heir = r.another({ faults: faults as never });
  return { r, heir, newCalls: async () => names((await r.services.calls()).slice(callsBefore)) };
}

async function consistent(r: Setup, id: string) {
  const saga = await r.orchestrator.get(id);
  expect(saga?.state, 'the log replays to the stored state').toEqual(
    replay(await r.orchestrator.history(id)),
  );
  return saga;
}

describe('OrderSaga.resume: a saga whose orchestrator died', () => {
  it('a non-idempotent charge found in flight is not called again: it is refunded, the stock released', async () => {
    const { r, heir, newCalls } = await dieAt('charge', 'before');
    const id = r.order.id;
    const saga = await heir.orchestrator.resume(id);
    expect(await newCalls()).toEqual([`refund ${id}:charge`, `releaseStock ${id}:reserve`]);
    expect(saga.state.status).toBe('compensated');
    expect(saga.state.failure?.step).toBe('charge');
    expect(await r.services.books(id)).toEqual({ held: 0, paid: 0, shipped: 0 });
    await consistent(r, id);
  });

  it('a charge that happened before the death is refunded exactly', async () => {
    const { r, heir } = await dieAt('charge', 'after');
    expect((await r.services.books(r.order.id)).paid, 'the charge happened').toBe(1999);
    const saga = await heir.orchestrator.resume(r.order.id);
    expect(saga.state.status).toBe('compensated');
    expect(await r.services.books(r.order.id)).toEqual({ held: 0, paid: 0, shipped: 0 });
  });

  it('an idempotent reserve found in flight is called again with the same key, and the saga completes', async () => {
    const { r, heir, newCalls } = await dieAt('reserveStock', 'after');
    const id = r.order.id;
    const saga = await heir.orchestrator.resume(id);
    expect(await newCalls()).toEqual([
      `reserveStock ${id}:reserve`,
      `charge ${id}:charge`,
      `createShipment ${id}:ship`,
    ]);
    expect(saga.state.status).toBe('completed');
    expect(await r.services.books(id)).toEqual({ held: 2, paid: 1999, shipped: 1 });
  });

  it('resumes where the saga was: the steps done are never called again', async () => {
    const { r, heir, newCalls } = await dieAt('createShipment', 'before');
    const id = r.order.id;
    const saga = await heir.orchestrator.resume(id);
    expect(await newCalls(), 'only the step in flight runs: not reserve, not charge').toEqual([
      `createShipment ${id}:ship`,
    ]);
    expect(saga.state.status).toBe('completed');
    expect(await r.services.books(id)).toEqual({ held: 2, paid: 1999, shipped: 1 });
  });

  it('resumes mid-compensation: a refund that succeeded is not run again, the release is', async () => {
    const { r, heir, newCalls } = await dieAt('releaseStock', 'before', (c) =>
      c.service === 'createShipment' ? 'refuse' : undefined,
    );
    const id = r.order.id;
    const saga = await heir.orchestrator.resume(id);
    expect(await newCalls()).toEqual([`releaseStock ${id}:reserve`]);
    expect(saga.state.status).toBe('compensated');
    expect(await r.services.books(id)).toEqual({ held: 0, paid: 0, shipped: 0 });
    await consistent(r, id);
  });

  it('resumeAll finishes every unfinished saga of the namespace', async () => {
    const { r, heir } = await dieAt('charge', 'after');
    const done = await heir.orchestrator.start(order('other'));
    const result = await heir.orchestrator.resumeAll();
    expect(result.busy).toEqual([]);
    expect(result.finished.map((s) => [s.order.id, s.state.status])).toEqual([[r.order.id, 'compensated']]);
    expect(done.state.status).toBe('completed');
    expect(await r.redis.smembers(r.keys(r.order.id).active), 'nothing is left active').toEqual([]);
  });

  it('throws SagaNotFoundError for a saga that was never started', async () => {
    const r = await setup(redis);
    await expect(r.orchestrator.resume('nobody')).rejects.toThrow(SagaNotFoundError);
  });
});

describe('OrderSaga: two orchestrators on one saga', () => {
  it('a second resumer of a running saga gets SagaBusyError and calls nothing; the first finishes it', async () => {
    const gate = deferred();
    const atCharge = deferred();
    const r = await setup(redis, {
      before: (c) => {
        if (c.service !== 'charge' || c.attempt > 1) return;
        atCharge.resolve();
        return gate.promise;
      },
    });
    const running = r.orchestrator.start(r.order);
    await atCharge.promise;
    const before = (await r.services.calls()).length;
    const rival = r.another();
    await expect(rival.orchestrator.resume(r.order.id), 'the lease is held by the first').rejects.toThrow(
      SagaBusyError,
    );
    const busy = await rival.orchestrator.resumeAll();
    expect(busy).toEqual({ finished: [], busy: [r.order.id] });
    expect((await r.services.calls()).length, 'the rival made no call').toBe(before);
    gate.resolve();
    expect((await running).state.status).toBe('completed');
    expect(await r.services.books(r.order.id)).toEqual({ held: 2, paid: 1999, shipped: 1 });
    expect(
      (await rival.orchestrator.resume(r.order.id)).state.status,
      'resuming a finished saga returns it',
    ).toBe('completed');
    expect((await r.services.calls()).filter((c) => c.service === 'charge')).toHaveLength(1);
  });

  it('an orchestrator whose lease expired records nothing more and makes no further call (the fence)', async () => {
    const gate = deferred();
    const stuck = deferred();
    const r = await setup(redis, {
      before: (c) => {
        if (c.service !== 'reserveStock' || c.attempt > 1) return;
        stuck.resolve();
        return gate.promise;
      },
    });
    const slow = r.orchestrator.start(r.order);
    slow.catch(() => {});
    await stuck.promise;
    await r.redis.del(r.keys(r.order.id).lease); // the lease expired while the call hung
    const heir = r.another();
    const saga = await heir.orchestrator.resume(r.order.id);
    expect(saga.state.status).toBe('completed');
    const callsAfterHeir = (await r.services.calls()).length;
    gate.resolve();
    await expect(slow, 'the first orchestrator finds it lost the saga').rejects.toThrow(SagaBusyError);
    await waitFor(
      'the late reserve to be recorded',
      async () => (await r.services.calls()).length > callsAfterHeir,
    );
    expect(
      names((await r.services.calls()).slice(callsAfterHeir)),
      'after its late answer, the first orchestrator calls nothing',
    ).toEqual([`reserveStock ${r.order.id}:reserve`]);
    expect(await r.services.books(r.order.id)).toEqual({ held: 2, paid: 1999, shipped: 1 });
    expect(await consistent(r, r.order.id)).toMatchObject({ version: 6 });
  });
});
