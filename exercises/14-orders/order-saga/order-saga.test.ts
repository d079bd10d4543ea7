/**
 * The orchestrator in one process: the calls it makes, with which keys, in which order; what it
 * records in Redis and when; compensations for a refused step at every k; retries of failed
 * compensations; timeouts, retried only where the step is idempotent. Timeouts use real time with
 * wide margins (the fakes answer in a few ms; a call that hangs is waited for 150 ms).
 */
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import { setup } from './fixtures.js';
import type { Call, ServiceName } from './harness.js';
import { order } from './harness.js';
import { type Order, SagaOrchestrator, type SagaState } from './order-saga.js';
import { replay, type SagaEvent } from './saga-machine.js';

const redis = useRedis();

const FORWARD: Record<string, ServiceName> = {
  reserve: 'reserveStock',
  charge: 'charge',
  ship: 'createShipment',
};
const UNDO: Record<string, ServiceName> = { reserve: 'releaseStock', charge: 'refund' };

const names = (calls: Call[]) => calls.map((c) => `${c.service} ${c.key}`);
const timeouts = { stepTimeoutMs: 150, leaseMs: 10_000 };

async function stored(r: Awaited<ReturnType<typeof setup>>, id: string) {
  const k = r.keys(id);
  const hash = await r.redis.hgetall(k.hash);
  const log = (await r.redis.lrange(k.log, 0, -1)).map((e) => JSON.parse(e) as SagaEvent);
  return { hash, state: hash.state ? (JSON.parse(hash.state) as SagaState) : undefined, log };
}

describe('OrderSaga: the happy path', () => {
  it('calls reserve, charge, ship in order, each with the key <order id>:<step>, and completes', async () => {
    const r = await setup(redis);
    const saga = await r.orchestrator.start(r.order);
    const id = r.order.id;
    expect(names(await r.services.calls())).toEqual([
      `reserveStock ${id}:reserve`,
      `charge ${id}:charge`,
      `createShipment ${id}:ship`,
    ]);
    expect(saga.state.status).toBe('completed');
    expect(saga.state.done).toEqual(['reserve', 'charge', 'ship']);
    expect(saga.order).toEqual(r.order);
    expect(await r.services.books(id)).toEqual({ held: 2, paid: 1999, shipped: 1 });
    expect(await r.services.stock('mug')).toBe(98);
  });

  it('keeps the state in <ns>:saga:<id> and every event in <ns>:saga:<id>:log; the log replays to the state', async () => {
    const r = await setup(redis);
    await r.orchestrator.start(r.order);
    const { hash, state, log } = await stored(r, r.order.id);
    expect(log.map((e) => `${e.type} ${e.step}`)).toEqual([
      'StepStarted reserve',
      'StepSucceeded reserve',
      'StepStarted charge',
      'StepSucceeded charge',
      'StepStarted ship',
      'StepSucceeded ship',
    ]);
    expect(hash.status).toBe('completed');
    expect(Number(hash.version), 'version counts the events recorded').toBe(log.length);
    expect(JSON.parse(hash.order ?? '{}')).toEqual(r.order);
    expect(state, 'the log replays to the stored state').toEqual(replay(log));
    expect(await r.orchestrator.get(r.order.id)).toEqual({ order: r.order, state, version: log.length });
    expect(await r.orchestrator.history(r.order.id)).toEqual(log);
    const k = r.keys(r.order.id);
    expect(await r.redis.sismember(k.active, r.order.id), 'a finished saga leaves the active set').toBe(0);
    expect(await r.redis.exists(k.lease), 'a finished saga releases its lease').toBe(0);
  });

  it('records each step as started BEFORE its call, and its success before the next call', async () => {
    const seen: string[] = [];
    let r: Awaited<ReturnType<typeof setup>> | undefined;
    r = await setup(redis, {
      before: async (call) => {
        const s = await stored(r as NonNullable<typeof r>, (r as NonNullable<typeof r>).order.id);
        const last = s.log.at(-1);
        seen.push(
          `${call.service}: inFlight=${s.state?.inFlight} done=${s.state?.done.join(',')} last=${last?.type} ${last?.step}`,
        );
      },
    });
    await r.orchestrator.start(r.order);
    expect(seen).toEqual([
      'reserveStock: inFlight=reserve done= last=StepStarted reserve',
      'charge: inFlight=charge done=reserve last=StepStarted charge',
      'createShipment: inFlight=ship done=reserve,charge last=StepStarted ship',
    ]);
  });

  it('lists an unfinished saga in <ns>:active and holds <ns>:saga:<id>:lease while it runs', async () => {
    const probes: [number, string | null][] = [];
    let r: Awaited<ReturnType<typeof setup>> | undefined;
    r = await setup(redis, {
      before: async () => {
        const k = (r as NonNullable<typeof r>).keys((r as NonNullable<typeof r>).order.id);
        const redisConn = (r as NonNullable<typeof r>).redis;
        probes.push([
          await redisConn.sismember(k.active, (r as NonNullable<typeof r>).order.id),
          await redisConn.get(k.lease),
        ]);
      },
    });
    await r.orchestrator.start(r.order);
    expect(probes).toHaveLength(3);
    for (const [active, lease] of probes) {
      expect(active, 'a running saga is in the active set').toBe(1);
      expect(lease, 'a running saga holds its lease').toEqual(expect.any(String));
    }
  });

  it('starting an order whose saga exists resumes it and never runs a step twice', async () => {
    const r = await setup(redis);
    const first = await r.orchestrator.start(r.order);
    const again = await r.orchestrator.start(r.order);
    expect(again).toEqual(first);
    expect(await r.services.calls(), 'no call for a finished saga').toHaveLength(3);
  });
});

describe('OrderSaga: a step refused at every k', () => {
  it.each([
    ['reserve', []],
    ['charge', ['reserve']],
    ['ship', ['charge', 'reserve']],
  ] as const)(
    '%s refused: compensations %j run in reverse, once each, with the keys of the steps they undo',
    async (failing, undo) => {
      const r = await setup(redis, {
        faults: (c) => (c.service === FORWARD[failing] ? 'refuse' : undefined),
      });
      const id = r.order.id;
      const saga = await r.orchestrator.start(r.order);
      const steps = ['reserve', 'charge', 'ship'];
      const forward = steps.slice(0, steps.indexOf(failing) + 1).map((s) => `${FORWARD[s]} ${id}:${s}`);
      expect(
        names(await r.services.calls()),
        `the refused ${failing} never happened: it is not compensated`,
      ).toEqual([...forward, ...undo.map((s) => `${UNDO[s]} ${id}:${s}`)]);
      expect(saga.state.status).toBe('compensated');
      expect(saga.state.compensated).toEqual(undo);
      expect(saga.state.failure?.step).toBe(failing);
      expect(
        await r.services.books(id),
        'fully compensated: nothing held, nothing paid, nothing shipped',
      ).toEqual({
        held: 0,
        paid: 0,
        shipped: 0,
      });
      expect(await r.services.stock('mug')).toBe(100);
      const { state, log } = await stored(r, id);
      expect(state).toEqual(replay(log));
      expect(log.filter((e) => e.type === 'CompensationSucceeded').map((e) => e.step)).toEqual(undo);
    },
  );
});

describe('OrderSaga: failed compensations', () => {
  it('retries a failing refund with capped exponential backoff until it succeeds, then releases the stock', async () => {
    const r = await setup(
      redis,
      {
        faults: (c) =>
          c.service === 'createShipment' || (c.service === 'refund' && c.attempt <= 5) ? 'refuse' : undefined,
      },
      { backoff: { baseMs: 10, maxMs: 40 } },
    );
    const id = r.order.id;
    const saga = await r.orchestrator.start(r.order);
    const calls = await r.services.calls();
    expect(
      calls.filter((c) => c.service === 'refund').map((c) => c.key),
      'every retry of the refund carries the same key',
    ).toEqual(Array(6).fill(`${id}:charge`));
    expect(r.delays, 'delays: baseMs, doubled each time, capped at maxMs').toEqual([10, 20, 40, 40, 40]);
    expect(calls.at(-1)?.service, 'the release runs only after the refund succeeded').toBe('releaseStock');
    expect(saga.state.status).toBe('compensated');
    expect(await r.services.books(id)).toEqual({ held: 0, paid: 0, shipped: 0 });
    const failures = (await r.orchestrator.history(id)).filter((e) => e.type === 'CompensationFailed');
    expect(failures.map((e) => 'attempt' in e && e.attempt)).toEqual([1, 2, 3, 4, 5]);
  });

  it('never skips a compensation: a release that fails twice is retried, and the saga ends compensated', async () => {
    const r = await setup(redis, {
      faults: (c) =>
        c.service === 'charge' || (c.service === 'releaseStock' && c.attempt <= 2) ? 'refuse' : undefined,
    });
    const saga = await r.orchestrator.start(r.order);
    expect(names(await r.services.calls())).toEqual([
      `reserveStock ${r.order.id}:reserve`,
      `charge ${r.order.id}:charge`,
      `releaseStock ${r.order.id}:reserve`,
      `releaseStock ${r.order.id}:reserve`,
      `releaseStock ${r.order.id}:reserve`,
    ]);
    expect(r.delays).toEqual([100, 200]);
    expect(saga.state.status).toBe('compensated');
    expect(await r.services.stock('mug')).toBe(100);
  });

  it('a compensation that times out is retried with the same key', async () => {
    const r = await setup(
      redis,
      {
        faults: (c) =>
          c.service === 'createShipment'
            ? 'refuse'
            : c.service === 'refund' && c.attempt === 1
              ? 'hang'
              : undefined,
      },
      timeouts,
    );
    const saga = await r.orchestrator.start(r.order);
    const refunds = (await r.services.calls()).filter((c) => c.service === 'refund');
    expect(refunds.map((c) => c.key)).toEqual([`${r.order.id}:charge`, `${r.order.id}:charge`]);
    expect(saga.state.status).toBe('compensated');
    expect(await r.services.books(r.order.id)).toEqual({ held: 0, paid: 0, shipped: 0 });
  });
});

describe('OrderSaga: timeouts', () => {
  it('retries an idempotent step (reserve) that timed out, with the same key, and goes on', async () => {
    const r = await setup(
      redis,
      { faults: (c) => (c.service === 'reserveStock' && c.attempt === 1 ? 'hang' : undefined) },
      timeouts,
    );
    const saga = await r.orchestrator.start(r.order);
    expect(names(await r.services.calls())).toEqual([
      `reserveStock ${r.order.id}:reserve`,
      `reserveStock ${r.order.id}:reserve`,
      `charge ${r.order.id}:charge`,
      `createShipment ${r.order.id}:ship`,
    ]);
    expect(r.delays, 'one backoff before the second call').toEqual([100]);
    expect(saga.state.status).toBe('completed');
    expect(await r.services.books(r.order.id)).toEqual({ held: 2, paid: 1999, shipped: 1 });
  });

  it('never calls a non-idempotent charge twice: a timed-out charge may have happened, so it is refunded', async () => {
    const r = await setup(
      redis,
      { faults: (c) => (c.service === 'charge' && c.attempt === 1 ? 'apply-then-hang' : undefined) },
      timeouts,
    );
    const saga = await r.orchestrator.start(r.order);
    expect(names(await r.services.calls())).toEqual([
      `reserveStock ${r.order.id}:reserve`,
      `charge ${r.order.id}:charge`,
      `refund ${r.order.id}:charge`,
      `releaseStock ${r.order.id}:reserve`,
    ]);
    expect(saga.state.status).toBe('compensated');
    expect(saga.state.failure?.step).toBe('charge');
    expect(await r.services.books(r.order.id), 'the charge that happened was refunded').toEqual({
      held: 0,
      paid: 0,
      shipped: 0,
    });
  });

  it('retries a charge declared idempotent, which then counts once', async () => {
    const r = await setup(
      redis,
      {
        idempotentCharge: true,
        faults: (c) => (c.service === 'charge' && c.attempt === 1 ? 'apply-then-hang' : undefined),
      },
      { ...timeouts, idempotent: { charge: true } },
    );
    const saga = await r.orchestrator.start(r.order);
    expect((await r.services.calls()).filter((c) => c.service === 'charge')).toHaveLength(2);
    expect(saga.state.status).toBe('completed');
    expect(await r.services.books(r.order.id)).toEqual({ held: 2, paid: 1999, shipped: 1 });
  });

  it('gives an idempotent step maxAttempts calls; then its outcome is unknown and it is compensated too', async () => {
    const r = await setup(
      redis,
      { faults: (c) => (c.service === 'reserveStock' ? 'apply-then-hang' : undefined) },
      { ...timeouts, maxAttempts: 2 },
    );
    const saga = await r.orchestrator.start(r.order);
    expect(names(await r.services.calls())).toEqual([
      `reserveStock ${r.order.id}:reserve`,
      `reserveStock ${r.order.id}:reserve`,
      `releaseStock ${r.order.id}:reserve`,
    ]);
    expect(saga.state.status).toBe('compensated');
    expect(await r.services.stock('mug')).toBe(100);
  });

  it('retries the pivot (ship) until it answers, beyond maxAttempts', async () => {
    const r = await setup(
      redis,
      { faults: (c) => (c.service === 'createShipment' && c.attempt <= 2 ? 'hang' : undefined) },
      { ...timeouts, maxAttempts: 1 },
    );
    const saga = await r.orchestrator.start(r.order);
    expect((await r.services.calls()).filter((c) => c.service === 'createShipment')).toHaveLength(3);
    expect(r.delays).toEqual([100, 200]);
    expect(saga.state.status).toBe('completed');
  });
});

describe('OrderSaga: bad input', () => {
  const bad: [string, Partial<Order>][] = [
    ['id', { id: '' }],
    ['quantity', { quantity: 0 }],
    ['quantity', { quantity: 1.5 }],
    ['amountCents', { amountCents: 19.99 }],
    ['amountCents', { amountCents: -5 }],
    ['amountCents', { amountCents: Number.NaN }],
    ['sku', { sku: '' }],
  ];
  it.each(bad)(
    'refuses an order with a bad %s (%j) with a RangeError naming the field, calling nothing',
    async (field, change) => {
      const r = await setup(redis);
      await expect(r.orchestrator.start(order('bad', change))).rejects.toThrow(RangeError);
      await expect(r.orchestrator.start(order('bad', change))).rejects.toThrow(field);
      expect(await r.services.calls()).toEqual([]);
      expect(await r.orchestrator.get('bad')).toBeUndefined();
    },
  );

  it('refuses a lease shorter than stepTimeoutMs + backoff.maxMs', async () => {
    const r = await setup(redis);
    expect(
      () =>
        new SagaOrchestrator({
          redis: r.redis,
          services: r.services,
          leaseMs: 1_000,
          stepTimeoutMs: 800,
          backoff: { maxMs: 500 },
        }),
    ).toThrow(RangeError);
  });
});
