import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualTimers, type Res, settle, testFactory, track, type ValidateAnswer } from './harness.js';
import { Pool, PoolClosedError, type PoolOptions, PoolTimeoutError, type ResourceFactory } from './pool.js';

const TIMEOUT = 1000;

/** A pool over the test factory on manual timers (max 2 unless told otherwise). */
function setup(options: Partial<PoolOptions> = {}, factoryOptions: Parameters<typeof testFactory>[0] = {}) {
  const clock = new ManualTimers();
  const f = testFactory(factoryOptions);
  const pool = new Pool<Res>(f.factory, { max: 2, acquireTimeoutMs: TIMEOUT, clock, ...options });
  return { clock, pool, ...f };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

const noop: ResourceFactory<object> = { create: async () => ({}), destroy: async () => {} };

describe('Pool: options', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '4' as unknown as number])(
    'rejects max %s with a RangeError that names the option and the value',
    (max) => {
      const error = thrown(() => new Pool(noop, { max, acquireTimeoutMs: 100 }));
      expect(error, `max ${String(max)} is not an integer ≥ 1`).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain('max');
      expect((error as Error).message).toContain(String(max));
    },
  );

  it.each([-1, 0.5, Number.NaN, 5])(
    'rejects min %s (with max 4) with a RangeError naming min and the value',
    (min) => {
      const error = thrown(() => new Pool(noop, { max: 4, min, acquireTimeoutMs: 100 }));
      expect(error, `min ${min} is not an integer from 0 to max`).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain('min');
      expect((error as Error).message).toContain(String(min));
    },
  );

  it('accepts min equal to max, and min 0', () => {
    expect(() => new Pool(noop, { max: 4, min: 4, acquireTimeoutMs: 100 })).not.toThrow();
    expect(() => new Pool(noop, { max: 4, min: 0, acquireTimeoutMs: 100 })).not.toThrow();
  });

  it.each([
    0,
    -5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2_147_483_648,
    undefined as unknown as number,
    '100' as unknown as number,
  ])('rejects acquireTimeoutMs %s with a RangeError naming the option and the value', (acquireTimeoutMs) => {
    const error = thrown(() => new Pool(noop, { max: 1, acquireTimeoutMs }));
    expect(
      error,
      `acquireTimeoutMs ${String(acquireTimeoutMs)} is not a number > 0 and ≤ 2,147,483,647`,
    ).toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain('acquireTimeoutMs');
    expect((error as Error).message).toContain(String(acquireTimeoutMs));
  });

  it('accepts acquireTimeoutMs at the timer limit, 2,147,483,647', () => {
    expect(() => new Pool(noop, { max: 1, acquireTimeoutMs: 2_147_483_647 })).not.toThrow();
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2_147_483_648])(
    'rejects idleTimeoutMs %s with a RangeError naming the option and the value',
    (idleTimeoutMs) => {
      const error = thrown(() => new Pool(noop, { max: 1, acquireTimeoutMs: 100, idleTimeoutMs }));
      expect(error, `idleTimeoutMs ${idleTimeoutMs} is not a number > 0 and ≤ 2,147,483,647`).toBeInstanceOf(
        RangeError,
      );
      expect((error as Error).message).toContain('idleTimeoutMs');
      expect((error as Error).message).toContain(String(idleTimeoutMs));
    },
  );

  it('rejects a factory without create or destroy, or with a validate that is not a function, with a TypeError', () => {
    const options = { max: 1, acquireTimeoutMs: 100 };
    const bad = [
      { destroy: async () => {} },
      { create: async () => ({}) },
      { create: async () => ({}), destroy: async () => {}, validate: true },
    ] as unknown as ResourceFactory<object>[];
    for (const factory of bad) {
      expect(() => new Pool(factory, options), `factory ${Object.keys(factory).join('+')}`).toThrow(
        TypeError,
      );
    }
  });
});

describe('Pool: lending and giving back', () => {
  it('creates a resource for the first acquire and keeps it idle after release', async () => {
    const { pool, state } = setup();
    expect(pool.stats(), 'a new pool creates nothing ahead of demand').toEqual({
      size: 0,
      available: 0,
      borrowed: 0,
      pending: 0,
    });
    const r = await pool.acquire();
    expect(state.createCalls).toBe(1);
    expect(pool.stats(), 'one resource on loan').toEqual({ size: 1, available: 0, borrowed: 1, pending: 0 });
    pool.release(r);
    expect(pool.stats(), 'after release the resource is idle, not destroyed').toEqual({
      size: 1,
      available: 1,
      borrowed: 0,
      pending: 0,
    });
    expect(state.destroyed).toEqual([]);
  });

  it('lends an idle resource again instead of creating one', async () => {
    const { pool, state } = setup();
    for (let i = 0; i < 5; i++) pool.release(await pool.acquire());
    expect(state.createCalls, 'five loans one after another need one resource').toBe(1);
  });

  it('lends the most recently released idle resource first (LIFO)', async () => {
    const { pool } = setup({ max: 3 });
    const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    pool.release(b as Res);
    pool.release(c as Res);
    pool.release(a as Res);
    expect((await pool.acquire()).id, 'the last one released comes out first').toBe(a?.id);
    expect((await pool.acquire()).id).toBe(c?.id);
  });

  it('release throws "not on loan" for a resource it never lent, twice released, or destroyed; the counts do not move', async () => {
    const { pool } = setup();
    const r = await pool.acquire();
    expect(() => pool.release({ id: 99, broken: false }), 'a stranger').toThrow(/not on loan/);
    pool.release(r);
    expect(() => pool.release(r), 'a second release of the same loan').toThrow(/not on loan/);
    expect(pool.stats()).toEqual({ size: 1, available: 1, borrowed: 0, pending: 0 });
    const again = await pool.acquire();
    await pool.destroy(again);
    expect(() => pool.release(again), 'a destroyed resource').toThrow(/not on loan/);
    await expect(pool.destroy(again), 'destroying it twice').rejects.toThrow(/not on loan/);
    expect(pool.stats()).toEqual({ size: 0, available: 0, borrowed: 0, pending: 0 });
  });
});

describe('Pool: never more than max', () => {
  it('starts only max creates for a burst of acquires, counting creates still in flight', async () => {
    const { pool, state, resolveCreate } = setup({ max: 3 }, { holdCreates: true });
    const acquires = Array.from({ length: 10 }, () => track(pool.acquire()));
    await settle();
    expect(state.createCalls, 'ten callers and max 3: three creates, the rest wait').toBe(3);
    expect(pool.stats(), 'creates in flight count in size').toEqual({
      size: 3,
      available: 0,
      borrowed: 0,
      pending: 10,
    });
    resolveCreate();
    resolveCreate();
    resolveCreate();
    await settle();
    expect(acquires.filter((a) => a.outcome.status === 'resolved').length).toBe(3);
    expect(state.createCalls).toBe(3);
    expect(pool.stats()).toEqual({ size: 3, available: 0, borrowed: 3, pending: 7 });
    expect(state.maxExists).toBe(3);
  });

  it('starts no more creates than there are callers waiting', async () => {
    const { pool, state } = setup({ max: 5 }, { holdCreates: true });
    track(pool.acquire());
    track(pool.acquire());
    await settle();
    expect(state.createCalls, 'two callers need two creates, not max').toBe(2);
  });

  it('counts validations in flight too: one caller and one idle resource start one validation and no create', async () => {
    const { pool, state } = setup({ max: 3 }, { withValidate: true, holdCreates: false });
    pool.release(await pool.acquire());
    state.validateAnswer = () => 'hangs';
    track(pool.acquire());
    await settle();
    expect(state.validateCalls, 'the idle resource is being checked').toHaveLength(1);
    expect(state.createCalls, 'no create for a caller whose resource is being validated').toBe(1);
    track(pool.acquire());
    await settle();
    expect(state.createCalls, 'a second caller gets a create of its own').toBe(2);
  });

  it('counts a resource until its destroy settles: no replacement is created before that', async () => {
    const { pool, state, finishDestroy } = setup({ max: 1 }, { holdDestroys: true });
    const r = await pool.acquire();
    const destroyed = track(pool.destroy(r));
    const next = track(pool.acquire());
    await settle();
    expect(state.createCalls, 'the old resource still exists while its destroy runs').toBe(1);
    expect(pool.stats().size).toBe(1);
    expect(destroyed.outcome.status, 'destroy() waits for the factory').toBe('pending');
    finishDestroy();
    await settle();
    expect(destroyed.outcome.status).toBe('resolved');
    expect(next.value.id, 'then the waiter gets a new resource').toBe(2);
    expect(state.maxExists).toBe(1);
  });
});

describe('Pool: waiters are served first in, first out', () => {
  it('hands released resources to waiters in the order they arrived', async () => {
    const { pool } = setup({ max: 1 });
    const first = await pool.acquire();
    const waiters = Array.from({ length: 5 }, () => track(pool.acquire()));
    await settle();
    const order: number[] = [];
    let held = first;
    for (let i = 0; i < 5; i++) {
      pool.release(held);
      await settle();
      const served = waiters.findIndex((w, j) => w.outcome.status === 'resolved' && !order.includes(j));
      expect(served, `release ${i + 1} must serve exactly one waiter`).toBeGreaterThanOrEqual(0);
      order.push(served);
      held = (waiters[served] as (typeof waiters)[number]).value;
    }
    expect(order, 'the longest-waiting caller is served first').toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps the order over a long line (3,000 waiters)', async () => {
    const { pool } = setup({ max: 1, acquireTimeoutMs: 2_000_000_000 });
    let held = await pool.acquire();
    const served: number[] = [];
    const waiters = Array.from({ length: 3000 }, (_, i) =>
      pool.acquire().then((r) => {
        served.push(i);
        return r;
      }),
    );
    for (const waiter of waiters) {
      pool.release(held);
      held = await waiter;
    }
    expect(
      served.every((n, i) => n === i),
      'served in arrival order',
    ).toBe(true);
    pool.release(held);
  });

  it('serves created resources to the longest-waiting caller', async () => {
    const { pool, resolveCreate } = setup({ max: 3 }, { holdCreates: true });
    const a = track(pool.acquire());
    const b = track(pool.acquire());
    await settle();
    const r = resolveCreate();
    await settle();
    expect(a.outcome.status, 'the first caller gets the first resource created').toBe('resolved');
    expect(a.value).toBe(r);
    expect(b.outcome.status).toBe('pending');
  });

  it('a caller arriving after a release does not take the resource from a waiter', async () => {
    const { pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const waiting = track(pool.acquire());
    await settle();
    pool.release(held);
    const newcomer = track(pool.acquire());
    await settle();
    expect(waiting.outcome.status, 'the waiter was first in line').toBe('resolved');
    expect(newcomer.outcome.status, 'the newcomer waits its turn').toBe('pending');
  });

  it('a resource that passed validation goes to the head of the line, not to the caller whose arrival started the check', async () => {
    const { pool, state } = setup({ max: 2 }, { withValidate: true });
    const [a, b] = (await Promise.all([pool.acquire(), pool.acquire()])) as [Res, Res];
    state.validateAnswer = (r) => (r === a ? 'hangs' : 'true');
    pool.release(a);
    const first = track(pool.acquire());
    await settle();
    pool.release(b);
    const second = track(pool.acquire());
    await settle();
    expect(first.outcome.status, 'the first caller is served first').toBe('resolved');
    expect(first.value).toBe(b);
    expect(second.outcome.status, 'the second waits for the hanging check').toBe('pending');
  });
});

describe('Pool: acquire timeout', () => {
  it('rejects with PoolTimeoutError after exactly acquireTimeoutMs, stating how long it waited', async () => {
    const { clock, pool } = setup({ max: 1 });
    await pool.acquire();
    const waiting = track(pool.acquire());
    await clock.advance(TIMEOUT - 1);
    expect(waiting.outcome.status, `still waiting at ${TIMEOUT - 1} ms`).toBe('pending');
    await clock.advance(1);
    const error = waiting.error as PoolTimeoutError;
    expect(error, 'a typed error').toBeInstanceOf(PoolTimeoutError);
    expect(error.name).toBe('PoolTimeoutError');
    expect(error.waitedMs, 'waitedMs is the time spent in line').toBe(TIMEOUT);
    expect(error.message).toContain(String(TIMEOUT));
    expect(pool.stats().pending, 'a timed-out caller has left the line').toBe(0);
  });

  it('a timed-out waiter never receives a resource later: it goes to the next waiter (cds-dbs #1721)', async () => {
    const { clock, pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const late = track(pool.acquire());
    await clock.advance(TIMEOUT / 2);
    const next = track(pool.acquire());
    await clock.advance(TIMEOUT / 2);
    expect(late.error).toBeInstanceOf(PoolTimeoutError);
    pool.release(held);
    await settle();
    expect(next.value, 'the released resource goes to the caller still waiting').toBe(held);
    expect(pool.stats()).toEqual({ size: 1, available: 0, borrowed: 1, pending: 0 });
  });

  it('a resource released after every waiter timed out goes back to idle, and is lent again', async () => {
    const { clock, pool, state } = setup({ max: 1 });
    const held = await pool.acquire();
    track(pool.acquire());
    await clock.advance(TIMEOUT);
    pool.release(held);
    await settle();
    expect(pool.stats(), 'the resource is idle, not lost to the caller who left').toEqual({
      size: 1,
      available: 1,
      borrowed: 0,
      pending: 0,
    });
    expect(await pool.acquire()).toBe(held);
    expect(state.createCalls).toBe(1);
  });

  it('a resource created for a caller who timed out goes to idle, not into the dead promise', async () => {
    const { clock, pool, state, resolveCreate } = setup({ max: 1 }, { holdCreates: true });
    const gone = track(pool.acquire());
    await settle();
    await clock.advance(TIMEOUT);
    expect(gone.error).toBeInstanceOf(PoolTimeoutError);
    const r = resolveCreate();
    await settle();
    expect(pool.stats(), 'the late resource is idle').toEqual({
      size: 1,
      available: 1,
      borrowed: 0,
      pending: 0,
    });
    const again = track(pool.acquire());
    await settle();
    expect(again.value, 'and the next caller gets it without a new create').toBe(r);
    expect(state.createCalls).toBe(1);
  });

  it('leaves no timer behind once an acquire is served, and none after a timeout', async () => {
    const { clock, pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const waiting = track(pool.acquire());
    await settle();
    pool.release(held);
    await settle();
    expect(waiting.outcome.status).toBe('resolved');
    expect(clock.pending, 'the served waiter’s timeout timer must be cleared').toBe(0);
    track(pool.acquire());
    await clock.advance(TIMEOUT);
    expect(clock.pending).toBe(0);
  });

  it('uses real time by default (a 50 ms timeout, checked with wide margins)', async () => {
    const pool = new Pool(noop, { max: 1, acquireTimeoutMs: 50 });
    await pool.acquire();
    const started = performance.now();
    const error = await pool.acquire().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'the default clock’s timer fires').toBeInstanceOf(PoolTimeoutError);
    const { waitedMs } = error as PoolTimeoutError;
    expect(waitedMs, 'waitedMs measured on the real clock').toBeGreaterThanOrEqual(40);
    expect(waitedMs).toBeLessThanOrEqual(performance.now() - started + 1);
  });

  it('times out even when validate never answers', async () => {
    const { clock, pool, state } = setup({ max: 1 }, { withValidate: true });
    pool.release(await pool.acquire());
    state.validateAnswer = () => 'hangs';
    const waiting = track(pool.acquire());
    await clock.advance(TIMEOUT);
    expect(waiting.error, 'the deadline holds while a validation hangs').toBeInstanceOf(PoolTimeoutError);
  });
});

describe('Pool: abort', () => {
  it('an abort while waiting rejects with signal.reason and frees the place in line', async () => {
    const { pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const aborted = track(pool.acquire({ signal: controller.signal }));
    const next = track(pool.acquire());
    await settle();
    const reason = new Error('the client went away');
    controller.abort(reason);
    await settle();
    expect(aborted.error, 'rejects with the signal’s reason').toBe(reason);
    expect(pool.stats().pending).toBe(1);
    pool.release(held);
    await settle();
    expect(next.value, 'the resource goes to the caller who stayed').toBe(held);
  });

  it('an already aborted signal rejects at once, even with a resource free, and creates nothing', async () => {
    const { pool, state } = setup();
    const reason = new Error('already gone');
    await expect(pool.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(state.createCalls).toBe(0);
    pool.release(await pool.acquire());
    await expect(pool.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(pool.stats()).toEqual({ size: 1, available: 1, borrowed: 0, pending: 0 });
  });

  it('leaves no abort listener on the signal once the acquire is served or timed out', async () => {
    const { clock, pool } = setup({ max: 1 });
    const controller = new AbortController();
    const held = await pool.acquire({ signal: controller.signal });
    const waiting = track(pool.acquire({ signal: controller.signal }));
    await settle();
    pool.release(held);
    await settle();
    expect(waiting.outcome.status).toBe('resolved');
    const timedOut = track(pool.acquire({ signal: controller.signal }));
    await clock.advance(TIMEOUT);
    expect(timedOut.error).toBeInstanceOf(PoolTimeoutError);
    expect(
      getEventListeners(controller.signal, 'abort'),
      'a long-lived signal must not collect listeners',
    ).toHaveLength(0);
  });

  it('an abort after the acquire was served changes nothing', async () => {
    const { pool } = setup();
    const controller = new AbortController();
    const r = await pool.acquire({ signal: controller.signal });
    controller.abort();
    await settle();
    expect(pool.stats().borrowed).toBe(1);
    pool.release(r);
  });
});

describe('Pool: validation on loan', () => {
  it.each<ValidateAnswer>(['false', 'throws', 'rejects'])(
    'an idle resource whose validate answers %s is destroyed and replaced by a new one',
    async (answer) => {
      const { pool, state } = setup({ max: 1 }, { withValidate: true });
      const old = await pool.acquire();
      pool.release(old);
      state.validateAnswer = (r) => (r.id === old.id ? answer : 'true');
      const fresh = await pool.acquire();
      expect(fresh, 'the caller gets a new resource').not.toBe(old);
      expect(state.destroyed, 'the broken one is destroyed').toEqual([old.id]);
      await settle();
      expect(pool.stats()).toEqual({ size: 1, available: 0, borrowed: 1, pending: 0 });
      expect(state.maxExists, 'the replacement waits for the old one’s slot').toBe(1);
    },
  );

  it('tries the other idle resources before creating one', async () => {
    const { pool, state } = setup({ max: 3 }, { withValidate: true });
    const all = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const r of all) pool.release(r);
    (all[2] as Res).broken = true;
    (all[1] as Res).broken = true;
    const got = await pool.acquire();
    expect(got, 'the one good idle resource is lent').toBe(all[0]);
    expect(state.createCalls).toBe(3);
    expect(state.destroyed.sort()).toEqual([all[1]?.id, all[2]?.id].sort());
  });

  it('does not wait for a broken resource’s destroy before checking the next idle one', async () => {
    const { pool, state, finishDestroy } = setup({ max: 2 }, { withValidate: true, holdDestroys: true });
    const [a, b] = (await Promise.all([pool.acquire(), pool.acquire()])) as [Res, Res];
    pool.release(a);
    pool.release(b);
    b.broken = true;
    const got = track(pool.acquire());
    await settle();
    expect(state.destroyed, 'the broken one is being destroyed').toEqual([b.id]);
    expect(got.outcome.status, 'the good idle one is lent meanwhile').toBe('resolved');
    expect(got.value).toBe(a);
    finishDestroy();
  });

  it('validates an idle resource before each loan, and never a resource just created', async () => {
    const { pool, state } = setup({ max: 1 }, { withValidate: true });
    const r = await pool.acquire();
    expect(state.validateCalls, 'a new resource is lent without validation').toEqual([]);
    pool.release(r);
    await settle();
    expect(state.validateCalls, 'release does not validate').toEqual([]);
    pool.release(await pool.acquire());
    pool.release(await pool.acquire());
    expect(state.validateCalls, 'each loan of the idle resource validates it').toEqual([r.id, r.id]);
  });

  it('a waiter keeps its place while a broken resource is replaced', async () => {
    const { pool, state } = setup({ max: 1 }, { withValidate: true });
    const r = await pool.acquire();
    const first = track(pool.acquire());
    const second = track(pool.acquire());
    r.broken = true;
    pool.release(r);
    await settle();
    expect(first.outcome.status).toBe('resolved');
    expect(first.value.id, 'the first waiter gets the replacement').toBe(2);
    expect(second.outcome.status).toBe('pending');
    expect(state.destroyed).toEqual([r.id]);
  });
});

describe('Pool: create errors', () => {
  it('a failed create rejects the waiting acquire with the factory’s error and frees its slot', async () => {
    const { pool, state } = setup({ max: 1 });
    const refused = new Error('ECONNREFUSED');
    state.createErrors.push(refused);
    await expect(pool.acquire(), 'the caller learns why').rejects.toBe(refused);
    expect(pool.stats(), 'the failed create holds no slot').toEqual({
      size: 0,
      available: 0,
      borrowed: 0,
      pending: 0,
    });
    const r = await pool.acquire();
    expect(r.id, 'once create works again, acquires succeed').toBeGreaterThan(0);
  });

  it('a create that throws synchronously is a create error too', async () => {
    const { pool, state } = setup({ max: 1 });
    const boom = new Error('bad config');
    state.syncThrow = boom;
    await expect(pool.acquire()).rejects.toBe(boom);
    expect(pool.stats().size).toBe(0);
    await expect(pool.acquire()).resolves.toBeDefined();
  });

  it('many failed creates do not wedge the line: the callers behind get resources once create works', async () => {
    const { pool, failCreate, resolveCreate } = setup({ max: 2 }, { holdCreates: true });
    const callers = Array.from({ length: 5 }, () => track(pool.acquire()));
    await settle();
    failCreate();
    failCreate();
    await settle();
    expect(
      callers.map((c) => c.outcome.status),
      'each failure rejects one caller, the head of the line',
    ).toEqual(['rejected', 'rejected', 'pending', 'pending', 'pending']);
    expect(pool.stats().size, 'the pool starts new creates for the callers still waiting').toBe(2);
    resolveCreate();
    resolveCreate();
    await settle();
    expect(callers[2]?.outcome.status).toBe('resolved');
    expect(callers[3]?.outcome.status).toBe('resolved');
    pool.release(callers[2]?.value as Res);
    await settle();
    expect(callers[4]?.outcome.status).toBe('resolved');
  });

  it('a create error after its caller timed out rejects the next caller in line, not nobody', async () => {
    const { clock, pool, failCreate } = setup({ max: 1 }, { holdCreates: true });
    const gone = track(pool.acquire());
    await clock.advance(TIMEOUT / 2);
    const next = track(pool.acquire());
    await clock.advance(TIMEOUT / 2);
    expect(gone.error).toBeInstanceOf(PoolTimeoutError);
    failCreate(new Error('down'));
    await settle();
    expect((next.error as Error).message).toBe('down');
    expect(pool.stats()).toEqual({ size: 0, available: 0, borrowed: 0, pending: 0 });
  });
});

describe('Pool: destroy', () => {
  it('destroys a broken resource and gives its slot to a waiter', async () => {
    const { pool, state } = setup({ max: 1 });
    const r = await pool.acquire();
    const waiting = track(pool.acquire());
    await settle();
    await pool.destroy(r);
    await settle();
    expect(state.destroyed).toEqual([r.id]);
    expect(waiting.value, 'the waiter gets a new resource').not.toBe(r);
    expect(pool.stats()).toEqual({ size: 1, available: 0, borrowed: 1, pending: 0 });
  });

  it('a factory destroy that rejects still frees the slot, and destroy() resolves', async () => {
    const { pool, state } = setup({ max: 1 });
    state.destroyRejects = true;
    await expect(pool.destroy(await pool.acquire())).resolves.toBeUndefined();
    expect(pool.stats().size).toBe(0);
    await expect(pool.acquire()).resolves.toBeDefined();
  });
});

describe('Pool: use', () => {
  it('releases the resource after fn resolves, and after fn rejects (with fn’s error)', async () => {
    const { pool, state } = setup({ max: 1 });
    await expect(pool.use(async (r) => `got ${r.id}`)).resolves.toBe('got 1');
    expect(pool.stats()).toEqual({ size: 1, available: 1, borrowed: 0, pending: 0 });
    const failure = new Error('WRONGTYPE');
    await expect(pool.use(async () => Promise.reject(failure))).rejects.toBe(failure);
    expect(pool.stats(), 'an error in fn releases, it does not destroy').toEqual({
      size: 1,
      available: 1,
      borrowed: 0,
      pending: 0,
    });
    expect(state.destroyed).toEqual([]);
  });

  it('leaves the resource alone when fn destroyed or released it itself', async () => {
    const { pool } = setup({ max: 1 });
    await expect(pool.use((r) => pool.destroy(r))).resolves.toBeUndefined();
    expect(pool.stats().size).toBe(0);
    await expect(pool.use(async (r) => pool.release(r))).resolves.toBeUndefined();
    expect(pool.stats()).toEqual({ size: 1, available: 1, borrowed: 0, pending: 0 });
  });

  it('does not release a later loan of the same resource that fn’s early release let another caller take', async () => {
    const { pool } = setup({ max: 1 });
    let other: Promise<Res> | undefined;
    await pool.use(async (r) => {
      pool.release(r);
      other = pool.acquire();
      await other;
    });
    expect(pool.stats().borrowed, 'the other caller’s loan is still on').toBe(1);
    pool.release(await (other as Promise<Res>));
  });
});

describe('Pool: idle reaper', () => {
  it('destroys an idle resource after exactly idleTimeoutMs', async () => {
    const { clock, pool, state } = setup({ idleTimeoutMs: 5000 });
    const r = await pool.acquire();
    pool.release(r);
    await clock.advance(4999);
    expect(pool.stats().available, 'still idle at 4999 ms').toBe(1);
    await clock.advance(1);
    expect(state.destroyed, 'reaped at 5000 ms').toEqual([r.id]);
    expect(pool.stats().size).toBe(0);
  });

  it('keeps min resources however long they are idle', async () => {
    const { clock, pool, state } = setup({ max: 5, min: 2, idleTimeoutMs: 5000 });
    const all = await Promise.all(Array.from({ length: 5 }, () => pool.acquire()));
    for (const r of all) pool.release(r);
    await clock.advance(5000);
    expect(pool.stats(), 'three reaped, min 2 kept').toEqual({
      size: 2,
      available: 2,
      borrowed: 0,
      pending: 0,
    });
    await clock.advance(60_000);
    expect(pool.stats().size, 'and kept for good').toBe(2);
    expect(state.destroyed).toHaveLength(3);
  });

  it('counts borrowed resources toward min', async () => {
    const { clock, pool } = setup({ max: 3, min: 2, idleTimeoutMs: 1000 });
    const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    pool.release(a as Res);
    pool.release(b as Res);
    await clock.advance(1000);
    expect(pool.stats(), 'one on loan plus one idle make min').toEqual({
      size: 2,
      available: 1,
      borrowed: 1,
      pending: 0,
    });
    pool.release(c as Res);
  });

  it('measures idleness from the last release, not from creation', async () => {
    const { clock, pool } = setup({ idleTimeoutMs: 1000 });
    const r = await pool.acquire();
    pool.release(r);
    await clock.advance(600);
    pool.release(await pool.acquire());
    await clock.advance(600);
    expect(pool.stats().available, 'idle for 600 ms only').toBe(1);
    await clock.advance(400);
    expect(pool.stats().size).toBe(0);
  });

  it('reaps the resources a quiet period does not need, and keeps the one in use', async () => {
    const { clock, pool } = setup({ max: 3, idleTimeoutMs: 1000 });
    const all = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const r of all) pool.release(r);
    for (let t = 0; t < 10; t++) {
      pool.release(await pool.acquire());
      await clock.advance(250);
    }
    expect(pool.stats(), 'one caller at a time needs one resource').toEqual({
      size: 1,
      available: 1,
      borrowed: 0,
      pending: 0,
    });
  });

  it('reaps idle resources while others stay on loan', async () => {
    const { clock, pool } = setup({ max: 2, idleTimeoutMs: 1000 });
    const [a, b] = (await Promise.all([pool.acquire(), pool.acquire()])) as [Res, Res];
    pool.release(a);
    await clock.advance(1000);
    expect(pool.stats(), 'the idle one is reaped, the borrowed one untouched').toEqual({
      size: 1,
      available: 0,
      borrowed: 1,
      pending: 0,
    });
    await clock.advance(5000);
    pool.release(b);
    await clock.advance(1000);
    expect(pool.stats().size).toBe(0);
  });

  it('reaps a resource that went idle because the caller it was created for had left', async () => {
    const { clock, pool, resolveCreate } = setup({ max: 1, idleTimeoutMs: 5000 }, { holdCreates: true });
    track(pool.acquire());
    await clock.advance(TIMEOUT);
    resolveCreate();
    await settle();
    expect(pool.stats().available).toBe(1);
    await clock.advance(5000);
    expect(pool.stats().size, 'idle since it was created, and reaped').toBe(0);
  });

  it('reaps nothing, and schedules no timer, without idleTimeoutMs', async () => {
    const { clock, pool } = setup();
    pool.release(await pool.acquire());
    expect(clock.pending).toBe(0);
    await clock.advance(24 * 3600_000);
    expect(pool.stats().available).toBe(1);
  });
});

describe('Pool: drain', () => {
  it('waits for resources on loan to come back, then destroys everything', async () => {
    const { pool, state } = setup();
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.release(a as Res);
    const drained = track(pool.drain());
    await settle();
    expect(state.destroyed, 'the idle one goes at once').toEqual([a?.id]);
    expect(drained.outcome.status, 'drain waits for the loan').toBe('pending');
    pool.release(b as Res);
    await settle();
    expect(drained.outcome.status).toBe('resolved');
    expect(state.destroyed.sort()).toEqual([a?.id, b?.id].sort());
    expect(pool.stats()).toEqual({ size: 0, available: 0, borrowed: 0, pending: 0 });
  });

  it('rejects the callers in line and every later acquire with PoolClosedError', async () => {
    const { pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const waiting = track(pool.acquire());
    await settle();
    const drained = pool.drain();
    await settle();
    expect(waiting.error, 'the waiter is told the pool closed').toBeInstanceOf(PoolClosedError);
    await expect(pool.acquire()).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.acquire()).rejects.toHaveProperty('name', 'PoolClosedError');
    pool.release(held);
    await drained;
  });

  it('waits for a create in flight and destroys what it makes', async () => {
    const { pool, state, resolveCreate } = setup({}, { holdCreates: true });
    const waiting = track(pool.acquire());
    await settle();
    const drained = track(pool.drain());
    await settle();
    expect(waiting.error).toBeInstanceOf(PoolClosedError);
    expect(drained.outcome.status, 'a create is still running').toBe('pending');
    const r = resolveCreate();
    await settle();
    expect(state.destroyed).toEqual([r.id]);
    expect(drained.outcome.status).toBe('resolved');
  });

  it('waits for a create in flight that then fails, and resolves', async () => {
    const { pool, failCreate } = setup({}, { holdCreates: true });
    track(pool.acquire());
    await settle();
    const drained = track(pool.drain());
    await settle();
    expect(drained.outcome.status).toBe('pending');
    failCreate();
    await settle();
    expect(drained.outcome.status, 'nothing exists any more').toBe('resolved');
  });

  it('waits for every destroy to settle', async () => {
    const { pool, finishDestroy } = setup({}, { holdDestroys: true });
    pool.release(await pool.acquire());
    const drained = track(pool.drain());
    await settle();
    expect(drained.outcome.status, 'the destroy is still running').toBe('pending');
    finishDestroy();
    await settle();
    expect(drained.outcome.status).toBe('resolved');
  });

  it('can be called twice, and clears the reaper', async () => {
    const { clock, pool } = setup({ idleTimeoutMs: 1000 });
    pool.release(await pool.acquire());
    const first = pool.drain();
    const second = pool.drain();
    await Promise.all([first, second]);
    expect(clock.pending, 'no timer left').toBe(0);
  });
});
