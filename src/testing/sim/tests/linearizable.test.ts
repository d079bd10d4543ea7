/**
 * The linearizability checker on hand-written histories with known verdicts (register with read,
 * write, cas and info; kv key by key), the witness it shrinks a violation to, and the time limit.
 */
import { describe, expect, it } from 'vitest';
import { type Operation, pairOperations, parseHistory } from '../history.js';
import { check, type Verdict } from '../linearizable.js';
import { kv, type Model, register } from '../models.js';
import { registerHistory } from './register-histories.js';

type Event = [
  process: number,
  type: 'invoke' | 'ok' | 'fail' | 'info',
  f: string,
  value?: unknown,
  extra?: object,
];

/** Operations from compact events: `[process, type, f, value, {result | key}]`. */
function history(...events: Event[]): Operation[] {
  const lines = events.map(([process, type, f, value, extra]) =>
    JSON.stringify({ process, type, f, value, ...extra }),
  );
  return pairOperations(parseHistory(lines.join('\n')));
}

const w = (p: number, value: unknown): Event[] => [
  [p, 'invoke', 'write', value],
  [p, 'ok', 'write', value],
];
const r = (p: number, value: unknown): Event[] => [
  [p, 'invoke', 'read', null],
  [p, 'ok', 'read', value],
];
const cas = (p: number, from: unknown, to: unknown, result: boolean): Event[] => [
  [p, 'invoke', 'cas', [from, to]],
  [p, 'ok', 'cas', [from, to], { result }],
];

/** The labels of a verdict's witness, or the verdict. */
function outcome(verdict: Verdict, model: Model<never> = register as Model<never>): string | string[] {
  return verdict.verdict === 'not linearizable'
    ? verdict.witness.map((op) => model.describe(op))
    : verdict.verdict;
}

describe('register: hand-written histories', () => {
  it.each<[string, Event[], string | string[]]>([
    ['the empty history', [], 'linearizable'],
    ['a read of the initial null', r(0, null), 'linearizable'],
    ['a write then a read of it', [...w(0, 1), ...r(1, 1)], 'linearizable'],
    [
      'a read concurrent with a write sees either value',
      [[0, 'invoke', 'write', 1], ...r(2, null), ...r(1, 1), [0, 'ok', 'write', 1]],
      'linearizable',
    ],
    ['a read of a value never written', [...w(0, 1), ...r(1, 2)], ['read → 2']],
    ['a stale read', [...w(0, 1), ...w(1, 2), ...r(2, 1)], ['write 1', 'write 2', 'read → 1']],
    ['the initial value after a write', [...w(0, 1), ...r(1, null)], ['write 1', 'read → null']],
    [
      'two readers that see concurrent writes in opposite orders',
      [
        [0, 'invoke', 'write', 1],
        [1, 'invoke', 'write', 2],
        ...r(2, 1),
        ...r(3, 2),
        ...r(2, 2),
        ...r(3, 1),
        [0, 'ok', 'write', 1],
        [1, 'ok', 'write', 2],
      ],
      ['write 1', 'write 2', 'read → 1', 'read → 2', 'read → 1'],
    ],
    [
      'a write that failed never took effect',
      [[0, 'invoke', 'write', 1], [0, 'fail', 'write', 1], ...r(1, 1)],
      ['read → 1'],
    ],
    [
      'an info write may take effect later',
      [[0, 'invoke', 'write', 1], [0, 'info', 'write', 1], ...r(1, null), ...r(1, 1)],
      'linearizable',
    ],
    [
      'an info write may never take effect',
      [[0, 'invoke', 'write', 1], [0, 'info', 'write', 1], ...r(1, null)],
      'linearizable',
    ],
    [
      'a write that never completed is info',
      [[0, 'invoke', 'write', 1], ...r(1, 1), ...r(2, 1)],
      'linearizable',
    ],
    [
      'an info write takes effect once',
      [[0, 'invoke', 'write', 1], [0, 'info', 'write', 1], ...r(1, 1), ...r(1, null)],
      ['write 1', 'read → 1', 'read → null'],
    ],
    [
      'an info write cannot take effect before its invoke',
      [...r(1, 1), [0, 'invoke', 'write', 1]],
      ['read → 1', 'write 1'],
    ],
    [
      'an info read says nothing',
      [...w(0, 1), [1, 'invoke', 'read', null], [1, 'info', 'read', null]],
      'linearizable',
    ],
    ['a cas that swapped', [...w(0, 1), ...cas(1, 1, 2, true), ...r(2, 2)], 'linearizable'],
    ['a cas whose compare failed', [...w(0, 1), ...cas(1, 3, 2, false), ...r(2, 1)], 'linearizable'],
    [
      'a cas that swapped a value the register did not hold',
      [...w(0, 1), ...cas(1, 3, 2, true)],
      ['cas 3→2 ✓'],
    ],
    [
      'a cas that failed although the register held its from',
      [...w(0, 1), ...cas(1, 1, 2, false)],
      ['write 1', 'cas 1→2 ✗'],
    ],
    [
      'an info cas may take effect',
      [...w(0, 1), [1, 'invoke', 'cas', [1, 2]], [1, 'info', 'cas', [1, 2]], ...r(2, 2)],
      'linearizable',
    ],
    [
      'an info cas whose compare fails changes nothing',
      [...w(0, 1), [1, 'invoke', 'cas', [5, 2]], [1, 'info', 'cas', [5, 2]], ...r(2, 2)],
      ['read → 2'],
    ],
    [
      'an info cas takes effect once',
      [...w(0, 1), [1, 'invoke', 'cas', [1, 2]], [1, 'info', 'cas', [1, 2]], ...r(2, 2), ...r(2, 1)],
      ['write 1', 'cas 1→2', 'read → 2', 'read → 1'],
    ],
  ])('%s', (_, events, expected) => {
    expect(outcome(check(history(...events), register))).toEqual(expected);
  });

  it('compares values as JSON: a register may hold objects and arrays', () => {
    expect(check(history(...w(0, { a: [1] }), ...r(1, { a: [1] })), register).verdict).toBe('linearizable');
    expect(check(history(...w(0, '1'), ...r(1, 1)), register).verdict).toBe('not linearizable');
  });

  it('refuses an operation the model cannot read, naming its line', () => {
    expect(() =>
      check(history([0, 'invoke', 'cas', 3], [0, 'ok', 'cas', 3, { result: true }]), register),
    ).toThrow('line 1: a cas whose "value" is not [from, to]');
    expect(() =>
      check(history(...cas(0, 1, 2, true).slice(0, 1), [0, 'ok', 'cas', [1, 2]]), register),
    ).toThrow('line 1: a cas whose ok has no "result": true or false');
    expect(() => check(history([0, 'invoke', 'incr', 1]), register)).toThrow(
      'the register model has no "incr"',
    );
  });
});

describe('kv: key by key', () => {
  const put = (p: number, key: string, value: string): Event[] => [
    [p, 'invoke', 'put', value, { key }],
    [p, 'ok', 'put', value, { key }],
  ];
  const append = (p: number, key: string, value: string): Event[] => [
    [p, 'invoke', 'append', value, { key }],
    [p, 'ok', 'append', value, { key }],
  ];
  const get = (p: number, key: string, value: string): Event[] => [
    [p, 'invoke', 'get', null, { key }],
    [p, 'ok', 'get', value, { key }],
  ];

  it('checks each key alone: a value of one key is not visible under another', () => {
    expect(
      check(
        history(...get(0, 'x', ''), ...put(0, 'x', 'a'), ...append(1, 'x', 'b'), ...get(2, 'x', 'ab')),
        kv,
      ),
    ).toEqual({
      verdict: 'linearizable',
    });
    const verdict = check(
      history(...put(0, 'x', 'a'), ...put(1, 'y', 'b'), ...get(2, 'x', 'a'), ...get(2, 'y', 'a')),
      kv,
    );
    expect(verdict).toMatchObject({ verdict: 'not linearizable', part: 'y' });
    expect(outcome(verdict, kv as Model<never>)).toEqual(['get "y" → "a"']);
  });

  it('appends in one order only', () => {
    const events: Event[] = [
      [0, 'invoke', 'append', 'a', { key: 'k' }],
      [1, 'invoke', 'append', 'b', { key: 'k' }],
      [0, 'ok', 'append', 'a', { key: 'k' }],
      [1, 'ok', 'append', 'b', { key: 'k' }],
    ];
    expect(check(history(...events, ...get(2, 'k', 'ba')), kv).verdict).toBe('linearizable');
    expect(check(history(...events, ...get(2, 'k', 'ab'), ...get(2, 'k', 'ba')), kv).verdict).toBe(
      'not linearizable',
    );
  });

  it('refuses an event without a string key', () => {
    expect(() => check(history([0, 'invoke', 'put', 'a']), kv)).toThrow('line 1: a put with no string "key"');
  });
});

describe('the witness', () => {
  it('cannot be ordered, and no operation of it can be left out (with the reads that saw only it)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { jsonl } = registerHistory({ seed, operations: 60, processes: 4, staleReads: 0.5 });
      const verdict = check(pairOperations(parseHistory(jsonl)), register);
      if (verdict.verdict !== 'not linearizable') throw new Error(`seed ${seed}: ${verdict.verdict}`);
      expect(verdict.minimal).toBe(true);
      expect(check(verdict.witness, register).verdict).toBe('not linearizable');
      for (const left of verdict.witness) {
        const rest = verdict.witness.filter((op) => op !== left);
        const orphans = register.unexplained(rest);
        expect(check(rest, register).verdict === 'linearizable' || orphans.size > 0, `seed ${seed}`).toBe(
          true,
        );
      }
      expect(verdict.witness.length).toBeLessThanOrEqual(6);
    }
  });
});

describe('the time limit', () => {
  it('gives unknown when the clock passes the limit, on the clock it is given', () => {
    const ops = pairOperations(
      parseHistory(registerHistory({ seed: 3, operations: 3000, processes: 8 }).jsonl),
    );
    let now = 0;
    const clock = () => (now += 10);
    expect(check(ops, register, { timeoutMs: 50, now: clock })).toEqual({ verdict: 'unknown' });
    expect(check(ops, register, { timeoutMs: 1e9, now: clock })).toEqual({ verdict: 'linearizable' });
    expect(() => check(ops, register, { timeoutMs: 50 })).toThrow('a timeoutMs needs a clock');
  });
});
