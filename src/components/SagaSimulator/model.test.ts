import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replay } from '../../../solutions/14-orders/order-saga/saga-machine';
import { Prng } from '../../testing/sim/prng';
import {
  advance,
  balanced,
  CALL_TIMEOUT_MS,
  canAdvance,
  customerSees,
  ended,
  FAIL_AT,
  type FailAt,
  type FailMode,
  kill,
  outcome,
  resume,
  runToEnd,
  type SagaOptions,
  type SagaWorld,
  STEPS,
  start,
} from './model';

/** Runs to the end, resuming a killed orchestrator as often as needed. */
function finish(w: SagaWorld): SagaWorld {
  let current = runToEnd(w);
  for (let i = 0; i < 10 && !ended(current); i++) current = runToEnd(resume(current));
  return current;
}

const eventsOf = (w: SagaWorld) =>
  w.log.map((e) => `${e.event.type} ${e.event.step}${'reason' in e.event ? ` (${e.event.reason})` : ''}`);

const texts = (w: SagaWorld) => w.log.map((e) => e.text);

/** Every combination of the reader's choices. */
function* allOptions(seed: number): Generator<SagaOptions> {
  for (const failAt of FAIL_AT)
    for (const failMode of ['fail', 'timeout'] as FailMode[])
      for (const killAfter of [0, 1, 2, 3] as const)
        for (const retryCompensation of [false, true])
          for (const chargeIdempotent of [false, true])
            yield { seed, failAt, failMode, killAfter, retryCompensation, chargeIdempotent };
}

describe('the saga simulator model', () => {
  it('is deterministic per seed: the same options give the same run, another seed another order or timing', () => {
    const options: SagaOptions = { seed: 42, failAt: 'shipment', killAfter: 2, retryCompensation: true };
    const a = finish(start(options));
    const b = finish(start(options));
    expect(b).toEqual(a);
    const other = finish(start({ ...options, seed: 43 }));
    expect([other.order, other.now]).not.toEqual([a.order, a.now]);
  });

  it('uses no wall clock and no Math.random', () => {
    const code = readFileSync(new URL('./model.ts', import.meta.url), 'utf8').replace(
      /\/\*[\s\S]*?\*\/|\/\/.*$/gm,
      '',
    );
    expect(code, 'the model must be seeded and tick-driven').not.toMatch(
      /Math\.random|Date\.now|new Date|performance\.now|setTimeout|setInterval/,
    );
  });

  it('runs the happy path: three steps, each recorded as started before its call, then completed', () => {
    const w = runToEnd(start({ seed: 42 }));
    expect(eventsOf(w)).toEqual([
      'StepStarted reserve',
      'StepSucceeded reserve',
      'StepStarted charge',
      'StepSucceeded charge',
      'StepStarted ship',
      'StepSucceeded ship',
    ]);
    expect(outcome(w)).toBe('completed');
    expect(w.balances).toEqual({
      stockHeld: w.order.units,
      chargedCents: w.order.amountCents,
      refundedCents: 0,
      shipments: 1,
    });
    expect(balanced(w)).toBe('yes');
    expect(customerSees(w)).toBe('Order confirmed: shipping');
    expect(canAdvance(w), 'a completed saga has nothing left to do').toBe(false);
    expect(advance(w)).toBe(w);
  });

  it.each([
    ['stock', []],
    ['payment', ['CompensationSucceeded reserve']],
    ['shipment', ['CompensationSucceeded charge', 'CompensationSucceeded reserve']],
  ] as [FailAt, string[]][])(
    'a refused %s step: compensations of the steps before it run in reverse, once each, and the balances return to zero',
    (failAt, compensations) => {
      for (let seed = 0; seed < 20; seed++) {
        const w = runToEnd(start({ seed, failAt }));
        const events = eventsOf(w);
        expect(events.filter((e) => e.startsWith('Compensation'))).toEqual(compensations);
        expect(events.some((e) => e.startsWith('StepFailed'))).toBe(true);
        expect(outcome(w)).toBe('compensated');
        expect(w.balances.stockHeld).toBe(0);
        expect(w.balances.chargedCents - w.balances.refundedCents).toBe(0);
        expect(w.balances.shipments).toBe(0);
        expect(balanced(w)).toBe('yes');
        // The refused step itself is never compensated: it never happened.
        expect(w.handled[failAt === 'stock' ? 'release' : failAt === 'payment' ? 'refund' : 'ship']).toBe(
          failAt === 'shipment' ? 1 : undefined,
        );
      }
    },
  );

  it('says "release stock" after "payment failed" in the log, and what the customer sees along the way', () => {
    let w = start({ seed: 42, failAt: 'payment' });
    const seen = new Set<string>([customerSees(w)]);
    while (canAdvance(w)) {
      w = advance(w);
      seen.add(customerSees(w));
    }
    const log = texts(w);
    const failed = log.findIndex((t) => t.startsWith('payment failed'));
    const released = log.findIndex((t) => t.startsWith('release stock'));
    expect(failed, log.join('\n')).toBeGreaterThan(-1);
    expect(released, log.join('\n')).toBeGreaterThan(failed);
    expect([...seen]).toEqual([
      'Order received',
      'Order received: checking stock',
      'Payment pending',
      'Payment declined: cancelling the order',
      'Payment declined: order cancelled, nothing charged',
    ]);
  });

  it('a failed shipment shows "refund pending", then the refund', () => {
    let w = start({ seed: 7, failAt: 'shipment' });
    const seen: string[] = [];
    while (canAdvance(w)) {
      w = advance(w);
      if (seen.at(-1) !== customerSees(w)) seen.push(customerSees(w));
    }
    expect(seen).toContain('Shipping failed: refund pending');
    expect(seen.at(-1)).toMatch(/^Shipping failed: order cancelled, \d+\.\d\d refunded$/);
  });

  it('a timed-out idempotent step is called again with the same key and happens once', () => {
    for (const failAt of ['stock', 'shipment'] as FailAt[]) {
      const w = runToEnd(start({ seed: 3, failAt, failMode: 'timeout' }));
      const action = failAt === 'stock' ? 'reserve' : 'ship';
      const calls = w.messages.filter((m) => m.kind === 'request' && m.action === action);
      expect(calls.map((m) => m.attempt)).toEqual([1, 2]);
      expect(new Set(calls.map((m) => m.key)).size, 'both calls carry the same idempotency key').toBe(1);
      expect(calls[1]!.sentAt - calls[0]!.sentAt).toBeGreaterThanOrEqual(CALL_TIMEOUT_MS);
      const duplicate = w.messages.find((m) => m.kind === 'reply' && m.reply?.duplicate);
      expect(duplicate?.action).toBe(action);
      expect(outcome(w)).toBe('completed');
      expect(balanced(w)).toBe('yes');
    }
  });

  it('a timed-out charge that is not idempotent is not called again: its outcome is unknown, and it is refunded', () => {
    const w = runToEnd(start({ seed: 5, failAt: 'payment', failMode: 'timeout' }));
    expect(w.messages.filter((m) => m.kind === 'request' && m.action === 'charge')).toHaveLength(1);
    expect(eventsOf(w)).toContain('StepOutcomeUnknown charge (timed out after 1 call(s))');
    expect(eventsOf(w).filter((e) => e.startsWith('Compensation'))).toEqual([
      'CompensationSucceeded charge',
      'CompensationSucceeded reserve',
    ]);
    // The charge did happen (only its reply was lost): the refund gives the money back.
    expect(w.balances.chargedCents).toBe(w.order.amountCents);
    expect(w.balances.refundedCents).toBe(w.order.amountCents);
    expect(balanced(w)).toBe('yes');
    // When payment dedupes charges, the orchestrator may call again: one charge, the order completes.
    const idem = runToEnd(start({ seed: 5, failAt: 'payment', failMode: 'timeout', chargeIdempotent: true }));
    expect(idem.messages.filter((m) => m.kind === 'request' && m.action === 'charge')).toHaveLength(2);
    expect(idem.balances.chargedCents).toBe(idem.order.amountCents);
    expect(outcome(idem)).toBe('completed');
  });

  it('a retried compensation is harmless: the service sees its key again and does nothing twice', () => {
    const w = runToEnd(start({ seed: 11, failAt: 'shipment', retryCompensation: true }));
    const refunds = w.messages.filter((m) => m.kind === 'request' && m.action === 'refund');
    expect(refunds).toHaveLength(2);
    expect(refunds[0]!.key).toBe(refunds[1]!.key);
    expect(refunds[0]!.key).toBe(`${w.order.id}:charge`);
    expect(eventsOf(w)).toContain(`CompensationFailed charge (timed out after ${CALL_TIMEOUT_MS} ms)`);
    expect(w.balances.refundedCents, 'refunded once, not twice').toBe(w.order.amountCents);
    expect(balanced(w)).toBe('yes');
  });

  it('kill after step k, then resume: the new orchestrator carries on from the log, never from step 1', () => {
    for (const killAfter of [1, 2, 3] as const) {
      const killed = runToEnd(start({ seed: 42, killAfter, chargeIdempotent: true }));
      expect(outcome(killed)).toBe('orchestrator down');
      expect(killed.record.state.inFlight).toBe(STEPS[killAfter - 1]);
      expect(customerSees(killed)).not.toMatch(/confirmed|cancelled/);
      expect(resume(resume(killed)), 'a second Resume while restarting changes nothing').toEqual(
        resume(killed),
      );
      const w = runToEnd(resume(killed));
      expect(outcome(w)).toBe('completed');
      // Each step started once; the step in flight was called again (same key), the others not.
      expect(eventsOf(w).filter((e) => e.startsWith('StepStarted'))).toEqual(
        STEPS.map((s) => `StepStarted ${s}`),
      );
      for (const [i, step] of STEPS.entries()) {
        const calls = w.messages.filter((m) => m.kind === 'request' && m.action === step);
        expect(calls.length, `${step} after a kill after step ${killAfter}`).toBe(
          i === killAfter - 1 ? 2 : 1,
        );
      }
      expect(balanced(w)).toBe('yes');
      expect(w.notes.map((n) => n.kind)).toEqual(['killed', 'resumed']);
    }
  });

  it('a charge found in flight after a restart is not called again unless it is idempotent: unknown, then refunded', () => {
    const w = finish(start({ seed: 42, killAfter: 2 }));
    expect(eventsOf(w)).toContain(
      'StepOutcomeUnknown charge (found in flight after a restart; not idempotent, so not called again)',
    );
    expect(w.messages.filter((m) => m.kind === 'request' && m.action === 'charge')).toHaveLength(1);
    expect(outcome(w)).toBe('compensated');
    expect(balanced(w)).toBe('yes');
  });

  it('the balance check catches a saga whose services do not match its end', () => {
    const done = runToEnd(start({ seed: 4, failAt: 'shipment' }));
    expect(balanced(done)).toBe('yes');
    expect(
      balanced({ ...done, balances: { ...done.balances, refundedCents: 2 * done.order.amountCents } }),
    ).toBe('no');
    expect(balanced({ ...done, balances: { ...done.balances, stockHeld: done.order.units } })).toBe('no');
    expect(balanced(start({ seed: 4 }))).toBe('pending');
  });

  it('refuses what cannot be done: kill when dead or ended, resume when alive', () => {
    const w = start({ seed: 1 });
    expect(resume(w)).toBe(w);
    const dead = kill(w);
    expect(kill(dead)).toBe(dead);
    expect(canAdvance(dead)).toBe(false);
    expect(advance(dead)).toBe(dead);
    const done = runToEnd(w);
    expect(kill(done)).toBe(done);
    expect(() => start({ seed: -1 })).toThrow(RangeError);
  });

  it('every choice, every seed: the saga ends completed or fully compensated, balanced to the cent, its log replays to its state', () => {
    for (let seed = 0; seed < 8; seed++) {
      for (const options of allOptions(seed)) {
        const w = finish(start(options));
        const label = JSON.stringify(options);
        expect(ended(w), label).toBe(true);
        expect(balanced(w), `${label}: ${JSON.stringify(w.balances)}`).toBe('yes');
        expect(replay(w.log.map((e) => e.event)), label).toEqual(w.record.state);
        // Compensations run once each (a retried one is recorded as failed first).
        const succeeded = eventsOf(w).filter((e) => e.startsWith('CompensationSucceeded'));
        expect(new Set(succeeded).size, label).toBe(succeeded.length);
        expect(w.balances.chargedCents, `${label}: charged at most once`).toBeLessThanOrEqual(
          w.order.amountCents,
        );
      }
    }
  });

  it('killing the orchestrator at any step, again and again, never leaves the order half done (300 random runs)', () => {
    const prng = new Prng(2026);
    let kills = 0;
    for (let run = 0; run < 300; run++) {
      const options: SagaOptions = {
        seed: prng.int(0, 2 ** 32 - 1),
        failAt: prng.pick(FAIL_AT),
        failMode: prng.pick(['fail', 'timeout'] as const),
        retryCompensation: prng.chance(0.5),
        chargeIdempotent: prng.chance(0.5),
      };
      let w = start(options);
      for (let i = 0; i < 400 && !ended(w); i++) {
        if (w.orchestrator.alive && prng.chance(0.15)) {
          w = kill(w);
          kills += 1;
        } else if (!canAdvance(w)) w = resume(w);
        else w = advance(w);
      }
      const label = `${JSON.stringify(options)} after ${w.step} steps`;
      expect(ended(w), label).toBe(true);
      expect(balanced(w), `${label}: ${JSON.stringify(w.balances)}`).toBe('yes');
      expect(replay(w.log.map((e) => e.event)), label).toEqual(w.record.state);
      expect(w.balances.chargedCents, `${label}: charged at most once`).toBeLessThanOrEqual(
        w.order.amountCents,
      );
    }
    expect(kills, 'the runs did kill the orchestrator').toBeGreaterThan(300);
  });
});
