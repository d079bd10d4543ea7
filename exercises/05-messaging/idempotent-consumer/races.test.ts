import { describe, expect, it } from 'vitest';
import { deferred, useRedis } from '../../../src/testing/index.js';
import { barrier, type Member, message, reached, settle, useConsumers } from './harness.js';
import { type Handler, IdempotencyKeyReusedError, type Outcome } from './idempotent-consumer.js';

const redis = useRedis();
const consumers = useConsumers(redis);

/** The counting effect, after every delivery in flight has read "no record" (or 500 ms have passed). */
function racingHandler(parties: number): Handler {
  const meeting = barrier(parties, 500);
  return async (m, tx) => {
    await meeting.arrive();
    consumers.effects.handler(m, tx);
  };
}

function tally(outcomes: Outcome[]): Record<Outcome, number> {
  return {
    applied: outcomes.filter((o) => o === 'applied').length,
    duplicate: outcomes.filter((o) => o === 'duplicate').length,
  };
}

describe('concurrent deliveries of one message', () => {
  it('20 consumers (20 processes, 20 connections) at once: one effect, one applied, 19 duplicates', async () => {
    const handler = racingHandler(20);
    const members = await Promise.all(Array.from({ length: 20 }, () => consumers.member({ handler })));
    const m = message('order-20');
    const outcomes = await Promise.all(members.map(({ consumer }) => consumer.process(m)));
    expect(
      await consumers.effects.count('order-20'),
      'exactly one of 20 concurrent deliveries applies the effect',
    ).toBe(1);
    expect(
      tally(outcomes),
      "one delivery reports 'applied', the 19 whose EXEC Redis refused report 'duplicate'",
    ).toEqual({ applied: 1, duplicate: 19 });
  });

  it('one consumer, 20 calls at once (a worker with concurrency 20): one effect, one applied, 19 duplicates', async () => {
    const { consumer } = await consumers.member({ handler: racingHandler(20) });
    const m = message('order-21');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => consumer.process(m)));
    expect(
      await consumers.effects.count('order-21'),
      'calls in flight on one consumer must not share a connection: an EXEC forgets every WATCH of its connection',
    ).toBe(1);
    expect(tally(outcomes)).toEqual({ applied: 1, duplicate: 19 });
  });

  it('another delivery that commits at any point of this one’s work (before each of its commands in turn) leaves one effect', async () => {
    for (let k = 0; k < 30; k++) {
      const id = `order-k${k}`;
      const m = message(id);
      const held: Member = await consumers.member();
      const other: Member = await consumers.member();
      let otherOutcome: Outcome | undefined;
      let interleaved = false;
      held.duplicates.before = async (_command, index) => {
        if (index !== k) return;
        interleaved = true;
        otherOutcome = await other.consumer.process(m);
      };
      const heldOutcome = await held.consumer.process(m);
      if (!interleaved) {
        // This delivery sent fewer than k + 1 commands: every point has been tried.
        expect(k, 'a delivery sends at least WATCH, GET, MULTI, its writes, SET and EXEC').toBeGreaterThan(3);
        otherOutcome = await other.consumer.process(m);
        expect([heldOutcome, otherOutcome]).toEqual(['applied', 'duplicate']);
        return;
      }
      expect(
        await consumers.effects.count(id),
        `the other delivery committed just before this one's command #${k}: the effect must still happen once`,
      ).toBe(1);
      expect(
        [heldOutcome, otherOutcome].sort(),
        `with the other delivery committing before command #${k}, one applies and the other is a duplicate`,
      ).toEqual(['applied', 'duplicate']);
    }
    expect.fail('a delivery should not need 30 commands');
  });

  it('a delivery that loses the race to the same id with another body is refused (IdempotencyKeyReusedError), not a duplicate', async () => {
    const entered = deferred();
    const gate = deferred();
    const slow = await consumers.member({
      handler: async (m, tx) => {
        entered.resolve();
        await gate.promise;
        consumers.effects.handler(m, tx);
      },
    });
    const fast = await consumers.member();
    const late = settle(slow.consumer.process({ id: 'order-30', body: '{"amount":1250}' }));
    await reached(entered.promise, late, 'the first delivery must call its handler');
    expect(await fast.consumer.process({ id: 'order-30', body: '{"amount":9999}' })).toBe('applied');
    gate.resolve();
    const result = await late;
    expect(
      result.ok ? result.value : result.error,
      'the slow delivery’s EXEC is refused; the record it then finds holds another fingerprint: the id was reused',
    ).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await consumers.effects.count('order-30')).toBe(1);
  });

  it('after a handler error the connection watches nothing: the next delivery on it runs its handler once', async () => {
    const calls = new Map<string, number>();
    let failNext = true;
    const worker = await consumers.member({
      handler: (m, tx) => {
        calls.set(m.id, (calls.get(m.id) ?? 0) + 1);
        if (failNext) {
          failNext = false;
          throw new Error('transient');
        }
        consumers.effects.handler(m, tx);
      },
    });
    const other = await consumers.member();
    await expect(worker.consumer.process(message('m-1'))).rejects.toThrow('transient');
    // Another process applies m-1 meanwhile: its record key changes.
    expect(await other.consumer.process(message('m-1'))).toBe('applied');
    expect(await worker.consumer.process(message('m-2')), 'the next message on the same consumer').toBe(
      'applied',
    );
    expect(worker.duplicates.made, 'the same connection served both calls').toHaveLength(1);
    expect(
      calls.get('m-2'),
      "an uncontested delivery runs its handler once: a WATCH left over from the failed call must not refuse this one's EXEC",
    ).toBe(1);
  });
});
