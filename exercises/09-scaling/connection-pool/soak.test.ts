/**
 * A randomized soak: fast-check generates interleavings of acquires (some abortable), releases,
 * destroys, resources that break, creates that succeed or fail late, destroys that finish late, and
 * time that passes (timeouts, the reaper); after every step the pool's counts are checked against
 * what the test itself knows (the factory's own count of resources that exist, the resources the
 * test holds, the acquires still waiting) and against the rules: never more than max, no resource
 * lent twice or lent after its destroy, and no caller served while an earlier one still waits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualTimers, type Res, settle, testFactory, track } from './harness.js';
import { Pool, PoolClosedError, PoolTimeoutError } from './pool.js';

const TIMEOUT = 1000;

type Op =
  | { kind: 'acquire'; abortable: boolean }
  | { kind: 'release'; pick: number }
  | { kind: 'destroy'; pick: number }
  | { kind: 'break'; pick: number }
  | { kind: 'abort'; pick: number }
  | { kind: 'resolveCreate' }
  | { kind: 'failCreate' }
  | { kind: 'finishDestroy' }
  | { kind: 'advance'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('acquire' as const), abortable: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('destroy' as const), pick: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('break' as const), pick: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat(7) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'resolveCreate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'failCreate' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'finishDestroy' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1500 }) }),
  },
);

interface Caller {
  readonly index: number;
  readonly acquire: ReturnType<typeof track<Res>>;
  readonly controller: AbortController | undefined;
}

async function soak(
  config: { max: number; min: number; idleTimeoutMs: number | undefined; holdDestroys: boolean },
  ops: Op[],
) {
  const clock = new ManualTimers();
  const f = testFactory({ holdCreates: true, holdDestroys: config.holdDestroys, withValidate: true });
  const pool = new Pool<Res>(f.factory, {
    max: config.max,
    min: config.min,
    acquireTimeoutMs: TIMEOUT,
    clock,
    ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
  });
  const callers: Caller[] = [];
  /** Resources the test holds now, by the caller that got them. */
  const held = new Map<Res, Caller>();
  const given = new Set<Caller>();
  const destroyedIds = () => new Set(f.state.destroyed);
  const pick = <T>(items: readonly T[], n: number): T | undefined => items[n % Math.max(1, items.length)];

  const check = (step: string) => {
    // Record what the acquires resolved with: each resource in one hand only.
    for (const caller of callers) {
      if (caller.acquire.outcome.status !== 'resolved' || given.has(caller)) continue;
      given.add(caller);
      const r = caller.acquire.value;
      expect(
        held.has(r),
        `${step}: resource ${r.id} lent to a second caller while the first still holds it`,
      ).toBe(false);
      expect(destroyedIds().has(r.id), `${step}: resource ${r.id} lent after it was destroyed`).toBe(false);
      held.set(r, caller);
    }
    const waiting = callers.filter((c) => c.acquire.outcome.status === 'pending');
    const stats = pool.stats();
    expect(
      f.state.maxExists,
      `${step}: more than max ${config.max} resources existed at once`,
    ).toBeLessThanOrEqual(config.max);
    expect(
      stats.size,
      `${step}: stats().size must be the resources that exist (created, not yet destroyed)`,
    ).toBe(f.state.exists);
    expect(stats.borrowed, `${step}: stats().borrowed must be the resources callers hold`).toBe(held.size);
    expect(stats.pending, `${step}: stats().pending must be the acquires still waiting`).toBe(waiting.length);
    expect(
      stats.available + stats.borrowed,
      `${step}: available + borrowed cannot exceed size`,
    ).toBeLessThanOrEqual(stats.size);
    // FIFO: nobody is served while someone who came earlier still waits.
    const firstWaiting = waiting[0]?.index ?? Number.POSITIVE_INFINITY;
    for (const caller of callers) {
      if (caller.index > firstWaiting && caller.acquire.outcome.status === 'resolved') {
        expect.fail(
          `${step}: caller ${caller.index} was served while caller ${firstWaiting}, who came first, still waits`,
        );
      }
    }
    for (const caller of callers) {
      if (caller.acquire.outcome.status !== 'rejected') continue;
      const error = caller.acquire.error;
      const expected =
        error instanceof PoolTimeoutError ||
        error instanceof PoolClosedError ||
        (error as Error).message === 'connection refused' ||
        (error as Error).message === 'aborted by the test';
      expect(expected, `${step}: unexpected rejection ${String(error)}`).toBe(true);
    }
  };

  for (const [i, o] of ops.entries()) {
    const step = `step ${i} (${JSON.stringify(o)})`;
    const holders = [...held.keys()];
    switch (o.kind) {
      case 'acquire': {
        const controller = o.abortable ? new AbortController() : undefined;
        const acquire = track(pool.acquire(controller ? { signal: controller.signal } : {}));
        callers.push({ index: callers.length, acquire, controller });
        break;
      }
      case 'release': {
        const r = pick(holders, o.pick);
        if (r) {
          held.delete(r);
          pool.release(r);
        }
        break;
      }
      case 'destroy': {
        const r = pick(holders, o.pick);
        if (r) {
          held.delete(r);
          void pool.destroy(r);
        }
        break;
      }
      case 'break': {
        const r = pick(holders, o.pick);
        if (r) r.broken = true;
        break;
      }
      case 'abort': {
        const abortable = callers.filter((c) => c.controller && c.acquire.outcome.status === 'pending');
        pick(abortable, o.pick)?.controller?.abort(new Error('aborted by the test'));
        break;
      }
      case 'resolveCreate':
        if (f.state.heldCreates.length > 0) f.resolveCreate();
        break;
      case 'failCreate':
        if (f.state.heldCreates.length > 0) f.failCreate();
        break;
      case 'finishDestroy':
        if (f.state.heldDestroys.length > 0) f.finishDestroy();
        break;
      case 'advance':
        await clock.advance(o.ms);
        break;
    }
    await settle();
    check(step);
  }

  // Wind down: give everything back, let every create and destroy finish, drain.
  for (const r of [...held.keys()]) {
    held.delete(r);
    pool.release(r);
  }
  const drained = track(pool.drain());
  for (let round = 0; round < 100 && drained.outcome.status === 'pending'; round++) {
    while (f.state.heldCreates.length > 0) f.resolveCreate();
    while (f.state.heldDestroys.length > 0) f.finishDestroy();
    await settle();
    check(`drain round ${round}`);
  }
  expect(drained.outcome.status, 'drain must finish once every loan, create and destroy has').toBe(
    'resolved',
  );
  expect(f.state.exists, 'after drain no resource exists').toBe(0);
  expect(pool.stats()).toEqual({ size: 0, available: 0, borrowed: 0, pending: 0 });
  expect(clock.pending, 'after drain no timer is left').toBe(0);
}

describe('Pool: randomized soak (fast-check)', () => {
  it('keeps its counts right, never exceeds max, and serves in order, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .record({
            max: fc.integer({ min: 1, max: 4 }),
            minShare: fc.integer({ min: 0, max: 4 }),
            idleTimeoutMs: fc.option(fc.integer({ min: 200, max: 3000 }), { nil: undefined }),
            holdDestroys: fc.boolean(),
          })
          .map(({ minShare, ...rest }) => ({ ...rest, min: Math.min(minShare, rest.max) })),
        fc.array(op, { minLength: 10, maxLength: 60, size: 'max' }),
        soak,
      ),
      { numRuns: 150, seed: 9_2026 },
    );
  }, 30_000);
});
