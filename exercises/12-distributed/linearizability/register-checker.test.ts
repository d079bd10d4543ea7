/**
 * The checker on histories small enough to draw. Each history is written one event a line in a short
 * form of Jepsen's (`p0 invoke write 1`, `p1 ok read null`, `p2 ok cas [1,2] true`) and drawn above it
 * as a timeline: one row per process, time running left to right, `[ ... ]` from invoke to completion,
 * `...?` for an operation whose outcome is unknown (`info`).
 */
import { describe, expect, it } from 'vitest';
import { parseHistory } from '../../../src/testing/sim/history.js';
import { type HistoryOperation, numbered, operationsOf, orderProblem } from './harness.js';
import { applyRegister, checkRegister, type RegisterVerdict, type SearchStats } from './register-checker.js';

/** `p<process> <type> <f> [value as JSON] [result as JSON]`, one event per string. */
function history(...lines: string[]) {
  const jsonl = lines.map((line) => {
    const [process, type, f, value, result] = line.split(' ');
    const event: Record<string, unknown> = { process: Number(process!.slice(1)), type, f };
    if (value !== undefined) event.value = JSON.parse(value);
    if (result !== undefined) event.result = JSON.parse(result);
    return JSON.stringify(event);
  });
  return parseHistory(jsonl.join('\n'));
}

/** Far more configurations than any history here needs: a search that explodes fails at once. */
const BUDGET = 10_000;

/** Checks `events`, and when the verdict is linearizable, that its order is a linearization. */
function verdictOf(events: ReturnType<typeof history>): RegisterVerdict<HistoryOperation> {
  const operations = operationsOf(events);
  const verdict = checkRegister(operations, { maxConfigurations: BUDGET });
  if (verdict.linearizable) {
    const problem = orderProblem(operations, verdict.order);
    expect(problem, 'a linearizable verdict must come with a real linearization').toBeUndefined();
  }
  return verdict;
}

function expectLinearizable(events: ReturnType<typeof history>, why: string) {
  expect(verdictOf(events).linearizable, why).toBe(true);
}

function expectNotLinearizable(events: ReturnType<typeof history>, why: string) {
  expect(verdictOf(events).linearizable, why).toBe(false);
}

/** An operation as `pairOperations` makes it, for the unit tests of `applyRegister`. */
function op(fields: Partial<HistoryOperation> & Pick<HistoryOperation, 'f'>): HistoryOperation {
  return {
    id: 0,
    process: 0,
    value: undefined,
    output: undefined,
    result: undefined,
    status: 'ok',
    call: 0,
    ret: 1,
    callLine: 1,
    retLine: 2,
    ...fields,
  };
}

describe('applyRegister: one step of a sequential register', () => {
  it('a write always fits and the register then holds its value', () => {
    expect(applyRegister(null, op({ f: 'write', value: 4 })), 'write 4 on null').toEqual({
      ok: true,
      state: 4,
    });
    expect(applyRegister(7, op({ f: 'write', value: null })), 'write null on 7').toEqual({
      ok: true,
      state: null,
    });
  });

  it('an ok read fits only if it read what the register holds, and changes nothing', () => {
    expect(applyRegister(3, op({ f: 'read', output: 3 })), 'read 3 from 3').toEqual({ ok: true, state: 3 });
    expect(applyRegister(3, op({ f: 'read', output: 4 })).ok, 'read 4 from 3 cannot be').toBe(false);
    expect(applyRegister(null, op({ f: 'read', output: 0 })).ok, 'null is not 0').toBe(false);
  });

  it('an info read fits any state', () => {
    expect(applyRegister(3, op({ f: 'read', status: 'info', ret: Number.POSITIVE_INFINITY }))).toEqual({
      ok: true,
      state: 3,
    });
  });

  it('compares values as JSON: equal texts are equal values, even as different objects', () => {
    expect(
      applyRegister({ a: [1, 2] }, op({ f: 'read', output: { a: [1, 2] } })).ok,
      'a copy of the object',
    ).toBe(true);
    expect(applyRegister({ a: [1, 2] }, op({ f: 'read', output: { a: [1] } })).ok, 'another object').toBe(
      false,
    );
    expect(
      applyRegister([1, 2], op({ f: 'cas', value: [[1, 2], 'x'], result: true })),
      'cas from a copy of the array',
    ).toEqual({ ok: true, state: 'x' });
    expect(applyRegister(1, op({ f: 'read', output: '1' })).ok, 'the number 1 is not the string "1"').toBe(
      false,
    );
  });

  it('a cas that swapped fits only if the register held `from`, and then holds `to`', () => {
    expect(applyRegister(1, op({ f: 'cas', value: [1, 2], result: true }))).toEqual({ ok: true, state: 2 });
    expect(
      applyRegister(5, op({ f: 'cas', value: [1, 2], result: true })).ok,
      'a cas 1→2 cannot swap a 5',
    ).toBe(false);
  });

  it('a cas that did not swap fits only if the register did not hold `from`, and changes nothing', () => {
    expect(applyRegister(5, op({ f: 'cas', value: [1, 2], result: false }))).toEqual({ ok: true, state: 5 });
    expect(
      applyRegister(1, op({ f: 'cas', value: [1, 2], result: false })).ok,
      'a cas 1→2 must swap a 1',
    ).toBe(false);
  });

  it('an info cas always fits: it swaps if the register holds `from`, else changes nothing', () => {
    const info = { status: 'info' as const, ret: Number.POSITIVE_INFINITY };
    expect(applyRegister(1, op({ f: 'cas', value: [1, 2], ...info }))).toEqual({ ok: true, state: 2 });
    expect(applyRegister(5, op({ f: 'cas', value: [1, 2], ...info }))).toEqual({ ok: true, state: 5 });
  });

  it('rejects what is not a register operation with a TypeError that says what is wrong', () => {
    expect(
      () => applyRegister(null, op({ f: 'append', value: 'x' })),
      'append is not a register operation',
    ).toThrow(TypeError);
    expect(() => applyRegister(null, op({ f: 'append', value: 'x' }))).toThrow(/append/);
    expect(
      () => applyRegister(null, op({ f: 'cas', value: 3, result: true })),
      'a cas needs [from, to]',
    ).toThrow(TypeError);
    expect(
      () => applyRegister(null, op({ f: 'cas', value: [1, 2, 3], result: true })),
      'a cas needs exactly [from, to]',
    ).toThrow(TypeError);
    expect(
      () => applyRegister(null, op({ f: 'cas', value: [1, 2] })),
      'an ok cas needs a boolean result',
    ).toThrow(TypeError);
  });
});

describe('checkRegister: histories without concurrency', () => {
  it('the empty history is linearizable, with an empty order', () => {
    expect(checkRegister([]), 'nothing to order').toEqual({ linearizable: true, order: [] });
  });

  it('the register starts at null', () => {
    expectLinearizable(history('p0 invoke read', 'p0 ok read null'), 'a first read returns null');
    expectNotLinearizable(history('p0 invoke read', 'p0 ok read 0'), 'nothing wrote 0');
  });

  // p0  [write 1]
  // p1            [read → 1]  or  [read → null]
  it('a read after a completed write sees it; a stale read is not linearizable', () => {
    expectLinearizable(
      history('p0 invoke write 1', 'p0 ok write', 'p1 invoke read', 'p1 ok read 1'),
      'read 1 after write 1',
    );
    expectNotLinearizable(
      history('p0 invoke write 1', 'p0 ok write', 'p1 invoke read', 'p1 ok read null'),
      'a read invoked after write 1 completed cannot return null',
    );
  });

  // p0  [write 1] [write 2]
  // p1                      [read → 1]
  it('real-time order: a read cannot see a value overwritten before it began', () => {
    expectNotLinearizable(
      history(
        'p0 invoke write 1',
        'p0 ok write',
        'p0 invoke write 2',
        'p0 ok write',
        'p1 invoke read',
        'p1 ok read 1',
      ),
      'write 2 completed after write 1 and before the read began: the read must see 2',
    );
  });
});

describe('checkRegister: concurrent operations', () => {
  // p0  [write 1 ------]
  // p1     [write 2 ------]
  // p2                      [read → 1 or 2]
  it.each([1, 2])(
    'two overlapping writes may take effect in either order: a later read of %s is fine',
    (seen) => {
      expectLinearizable(
        history(
          'p0 invoke write 1',
          'p1 invoke write 2',
          'p0 ok write',
          'p1 ok write',
          'p2 invoke read',
          `p2 ok read ${seen}`,
        ),
        `write 1 and write 2 overlap, so either may be last and the read may return ${seen}`,
      );
    },
  );

  it('finds the only order when it is not the order of the invokes', () => {
    const events = history(
      'p0 invoke write 1',
      'p1 invoke write 2',
      'p0 ok write',
      'p1 ok write',
      'p2 invoke read',
      'p2 ok read 1',
    );
    const verdict = checkRegister(operationsOf(events));
    expect(verdict.linearizable, 'write 2 then write 1 then the read explains it').toBe(true);
    const order = verdict.linearizable
      ? verdict.order.map((o) => `${o.f} ${o.f === 'read' ? o.output : o.value}`)
      : [];
    expect(order, 'the only linearization: write 2, write 1, read 1').toEqual([
      'write 2',
      'write 1',
      'read 1',
    ]);
  });

  // p0  [write 1 -------------------------]
  // p1     [read → 1]
  // p2                [read → null]
  it('a read that saw a write in flight, then a later read of the old value, is not linearizable', () => {
    expectNotLinearizable(
      history(
        'p0 invoke write 1',
        'p1 invoke read',
        'p1 ok read 1',
        'p2 invoke read',
        'p2 ok read null',
        'p0 ok write',
      ),
      'once a read has returned 1, write 1 has taken effect: a read that begins later cannot return null',
    );
  });

  // p0  [write 1 --------------]
  // p1     [read → 1 ------]
  // p2        [read → null -------]
  it('concurrent reads may see the new value and the old one when they overlap each other', () => {
    expectLinearizable(
      history(
        'p0 invoke write 1',
        'p1 invoke read',
        'p2 invoke read',
        'p1 ok read 1',
        'p0 ok write',
        'p2 ok read null',
      ),
      'read → null, write 1, read → 1 is an order that fits every interval',
    );
  });

  // Herlihy & Wing's figure 1 style, on a register: three overlapping writers, then two readers.
  // p0  [write 1 ---]              [read → 3]
  // p1     [write 2 -------]
  // p2        [write 3 ---]                    [read → 3 or 2]
  it('a history in the style of Herlihy & Wing (1990), figure 1', () => {
    const writes = [
      'p0 invoke write 1',
      'p1 invoke write 2',
      'p2 invoke write 3',
      'p0 ok write',
      'p2 ok write',
      'p1 ok write',
    ];
    const reads = ['p0 invoke read', 'p0 ok read 3', 'p2 invoke read'];
    expectLinearizable(
      history(...writes, ...reads, 'p2 ok read 3'),
      'the writes overlap: write 3 may be the last one',
    );
    expectNotLinearizable(
      history(...writes, ...reads, 'p2 ok read 2'),
      'all three writes completed before the reads: once a read saw 3, write 3 came last, and a later read cannot return 2',
    );
  });
});

describe('checkRegister: failed and indeterminate operations', () => {
  // p0  [write 1 ✗]
  // p1              [read → 1]
  it('a failed write never took effect: reading its value is not linearizable', () => {
    expectNotLinearizable(
      history('p0 invoke write 1', 'p0 fail write', 'p1 invoke read', 'p1 ok read 1'),
      'write 1 failed, so no read can return 1',
    );
    const events = history('p0 invoke write 1', 'p0 fail write', 'p1 invoke read', 'p1 ok read null');
    expectLinearizable(events, 'write 1 failed, so the register still holds null');
  });

  // p0  [write 1 ...?
  // p1                 [read → 1]
  it('an info write may have taken effect: a later read of its value is linearizable', () => {
    const events = history('p0 invoke write 1', 'p0 info write', 'p1 invoke read', 'p1 ok read 1');
    const verdict = verdictOf(events);
    expect(verdict.linearizable, 'the info write took effect before the read').toBe(true);
    expect(
      verdict.linearizable && verdict.order.map((o) => o.f),
      'the order includes the info write',
    ).toEqual(['write', 'read']);
  });

  // p0  [write 1 ...?
  // p1                 [read → null] [read → null]
  it('an info write may never have taken effect', () => {
    expectLinearizable(
      history(
        'p0 invoke write 1',
        'p0 info write',
        'p1 invoke read',
        'p1 ok read null',
        'p1 invoke read',
        'p1 ok read null',
      ),
      'write 1 may never have happened (or happened after both reads)',
    );
  });

  // p0  [write 1 ...?                      (its info comes after both reads)
  // p1     [read → 1] [read → null]
  it('an info write takes effect at most once: seen, then unseen, is not linearizable', () => {
    expectNotLinearizable(
      history(
        'p0 invoke write 1',
        'p1 invoke read',
        'p1 ok read 1',
        'p1 invoke read',
        'p1 ok read null',
        'p0 info write',
      ),
      'write 1 took effect before the first read; nothing wrote null after it',
    );
  });

  // p0  [write 1 ...?    (reported info right away)
  // p1                  [read → 1] [write 2] [read → 1]
  it('an info write may take effect long after its info completion', () => {
    expectLinearizable(
      history(
        'p0 invoke write 1',
        'p0 info write',
        'p1 invoke read',
        'p1 ok read null',
        'p1 invoke write 2',
        'p1 ok write',
        'p1 invoke read',
        'p1 ok read 1',
      ),
      'an info operation may take effect at any point after its invoke: here after write 2',
    );
  });

  // p1  [read → 1]
  // p0             [write 1 ...?
  it('an info write cannot take effect before its invoke', () => {
    expectNotLinearizable(
      history('p1 invoke read', 'p1 ok read 1', 'p0 invoke write 1', 'p0 info write'),
      'the read completed before write 1 was invoked',
    );
  });

  // p0  [write 1 ...      (never completes)
  // p1      [read → 1]
  it('an invoke that never completes counts as info', () => {
    expectLinearizable(
      history('p0 invoke write 1', 'p1 invoke read', 'p1 ok read 1'),
      'the pending write may have taken effect',
    );
    expectLinearizable(history('p0 invoke write 1', 'p1 invoke read', 'p1 ok read null'), 'or not yet');
  });

  // p0  [read ...?
  // p1     [write 1 ...?
  // p2                     [read → 1]
  it('an info read constrains nothing and is left out of the order', () => {
    const events = history(
      'p0 invoke read',
      'p0 info read',
      'p1 invoke write 1',
      'p1 info write',
      'p2 invoke read',
      'p2 ok read 1',
    );
    const verdict = verdictOf(events);
    expect(verdict.linearizable, 'the info write took effect before the read').toBe(true);
    expect(
      verdict.linearizable && verdict.order.map((o) => `${o.f} ${o.status}`),
      'the info write and the ok read are in the order, the info read is not',
    ).toEqual(['write info', 'read ok']);
  });
});

describe('checkRegister: compare-and-set', () => {
  // p0  [write 1] [cas 1→2 ✓] [read → 2]
  it('a cas that swapped changes the value', () => {
    expectLinearizable(
      history(
        'p0 invoke write 1',
        'p0 ok write',
        'p0 invoke cas [1,2]',
        'p0 ok cas [1,2] true',
        'p0 invoke read',
        'p0 ok read 2',
      ),
      'write 1, cas 1→2, read 2',
    );
  });

  it('a cas cannot report a swap when the register did not hold `from`', () => {
    expectNotLinearizable(
      history('p0 invoke write 3', 'p0 ok write', 'p0 invoke cas [1,2]', 'p0 ok cas [1,2] true'),
      'the register held 3, not 1: cas 1→2 cannot have swapped',
    );
  });

  it('a cas that did not swap must have met another value, and leaves it', () => {
    expectNotLinearizable(
      history('p0 invoke write 1', 'p0 ok write', 'p0 invoke cas [1,2]', 'p0 ok cas [1,2] false'),
      'the register held 1, so cas 1→2 must have swapped',
    );
    expectLinearizable(
      history(
        'p0 invoke write 3',
        'p0 ok write',
        'p0 invoke cas [1,2]',
        'p0 ok cas [1,2] false',
        'p0 invoke read',
        'p0 ok read 3',
      ),
      'the register held 3: the cas failed and 3 stays',
    );
  });

  // p0  [cas null→5 ...?
  // p1                    [read → 5]
  it('an info cas may have swapped', () => {
    expectLinearizable(
      history('p0 invoke cas [null,5]', 'p0 info cas', 'p1 invoke read', 'p1 ok read 5'),
      'the cas swapped null for 5',
    );
  });

  // p0  [write 1 ---------]
  // p1     [cas 1→2 ✓ ---------]
  // p2                            [read → 2]
  it('a concurrent write can be ordered before a cas that needs it', () => {
    expectLinearizable(
      history(
        'p0 invoke write 1',
        'p1 invoke cas [1,2]',
        'p0 ok write',
        'p1 ok cas [1,2] true',
        'p2 invoke read',
        'p2 ok read 2',
      ),
      'write 1, then the cas swaps 1 for 2',
    );
  });
});

describe('checkRegister: JSON values', () => {
  it('a read of an object equal as JSON to the one written fits', () => {
    expectLinearizable(
      history('p0 invoke write {"a":[1,2]}', 'p0 ok write', 'p1 invoke read', 'p1 ok read {"a":[1,2]}'),
      'the read returns an equal object (parsed separately, so not the same object)',
    );
    expectNotLinearizable(
      history('p0 invoke write {"a":[1,2]}', 'p0 ok write', 'p1 invoke read', 'p1 ok read {"a":[2,1]}'),
      '[2,1] is not [1,2]',
    );
  });

  it('a cas compares its `from` as JSON', () => {
    expectLinearizable(
      history(
        'p0 invoke write [1]',
        'p0 ok write',
        'p0 invoke cas [[1],[2]]',
        'p0 ok cas [[1],[2]] true',
        'p0 invoke read',
        'p0 ok read [2]',
      ),
      'the register held [1], equal to the cas’s from',
    );
  });
});

describe('checkRegister: the contract’s edges', () => {
  it('returns the operation objects it was given', () => {
    const ops = operationsOf(history('p0 invoke write 1', 'p1 invoke read', 'p0 ok write', 'p1 ok read 1'));
    const verdict = checkRegister(ops);
    expect(verdict.linearizable).toBe(true);
    if (verdict.linearizable) {
      expect(verdict.order[0], 'the write object itself, not a copy').toBe(ops[0]);
      expect(verdict.order[1], 'the read object itself, not a copy').toBe(ops[1]);
    }
  });

  it('does not depend on the order of the array it is given', () => {
    const ops = operationsOf(
      history(
        'p0 invoke write 1',
        'p1 invoke write 2',
        'p0 ok write',
        'p1 ok write',
        'p2 invoke read',
        'p2 ok read 1',
      ),
    );
    const verdict = checkRegister([...ops].reverse());
    expect(verdict.linearizable && verdict.order.map((o) => o.callLine), 'write 2, write 1, read 1').toEqual([
      2, 1, 5,
    ]);
  });

  it('checks every operation before searching, even one the search would never reach', () => {
    // The first read is already impossible, so a search alone would stop before the append.
    const events = history('p0 invoke read', 'p0 ok read 9', 'p0 invoke append 2', 'p0 ok append');
    expect(() => checkRegister(operationsOf(events)), 'an append is not a register operation').toThrow(
      TypeError,
    );
    const cas = history('p0 invoke read', 'p0 ok read 9', 'p1 invoke cas 3', 'p1 info cas');
    expect(() => checkRegister(operationsOf(cas)), 'an info cas still needs [from, to]').toThrow(/cas/);
  });

  it('ignores failed operations, even malformed ones', () => {
    const events = history('p0 invoke append 2', 'p0 fail append', 'p1 invoke read', 'p1 ok read null');
    expect(checkRegister(operationsOf(events)).linearizable, 'a failed append never happened').toBe(true);
  });

  it('throws a TypeError naming the unknown operation before searching', () => {
    expect(() =>
      checkRegister(
        operationsOf(history('p0 invoke write 1', 'p0 ok write', 'p0 invoke append 2', 'p0 ok append')),
      ),
    ).toThrow(/append/);
    expect(() => checkRegister(operationsOf(history('p0 invoke append 2', 'p0 ok append')))).toThrow(
      TypeError,
    );
  });
});

describe('checkRegister: the memo bounds the work by configurations, not orders', () => {
  /**
   * n processes write 1 at once (all overlapping), then a read returns 2, which nothing wrote: not
   * linearizable, so the search must rule out every configuration. The writes can be ordered in n!
   * ways but leave only 2^n - 1 non-empty sets of writes placed, each with the register at 1.
   */
  function identicalWrites(n: number): HistoryOperation[] {
    const events = [];
    for (let p = 0; p < n; p++) events.push({ process: p, type: 'invoke' as const, f: 'write', value: 1 });
    for (let p = 0; p < n; p++) events.push({ process: p, type: 'ok' as const, f: 'write' });
    events.push(
      { process: n, type: 'invoke' as const, f: 'read' },
      { process: n, type: 'ok' as const, f: 'read', value: 2 },
    );
    return operationsOf(numbered(events));
  }

  it('7 overlapping identical writes: exactly the 127 configurations, each explored once (not 13,699 orders)', () => {
    const stats: SearchStats = { configurations: -1 };
    expect(
      checkRegister(identicalWrites(7), { stats, maxConfigurations: 10_000 }).linearizable,
      'nothing wrote 2',
    ).toBe(false);
    expect(stats.configurations, 'every non-empty set of writes with the register at 1, counted once').toBe(
      127,
    );
  });

  it('throws a RangeError naming the budget rather than explore more than maxConfigurations', () => {
    expect(() => checkRegister(identicalWrites(7), { maxConfigurations: 126 }), '127 are needed').toThrow(
      RangeError,
    );
    expect(() => checkRegister(identicalWrites(7), { maxConfigurations: 126 })).toThrow(/126/);
    expect(checkRegister(identicalWrites(7), { maxConfigurations: 127 }).linearizable, '127 are enough').toBe(
      false,
    );
  });

  it('counts each configuration a successful search explored', () => {
    const stats: SearchStats = { configurations: -1 };
    const events = history('p0 invoke write 1', 'p0 ok write', 'p0 invoke read', 'p0 ok read 1');
    expect(checkRegister(operationsOf(events), { stats }).linearizable).toBe(true);
    expect(stats.configurations, 'write placed, then write and read placed').toBe(2);
  });

  it('14 overlapping identical writes answer at once (16,383 configurations; 14! orders without the memo)', {
    timeout: 20_000,
  }, () => {
    const stats: SearchStats = { configurations: -1 };
    expect(checkRegister(identicalWrites(14), { stats, maxConfigurations: 100_000 }).linearizable).toBe(
      false,
    );
    expect(stats.configurations).toBe(2 ** 14 - 1);
  });
});
