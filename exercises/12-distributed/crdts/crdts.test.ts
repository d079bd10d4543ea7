/**
 * Examples, one behaviour each: the classic anomalies of replicated counters, registers and sets,
 * the bad inputs that must throw, and the rule that nothing mutates its arguments.
 */
import { describe, expect, it } from 'vitest';
import {
  type GCounterState,
  gcounter,
  type LWWState,
  lww,
  type ORSetState,
  orset,
  type PNCounterState,
  pncounter,
} from './crdts.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

/** Freezes `value` and everything in it, so that any write to it throws (modules are strict). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe('gcounter', () => {
  it('starts at 0 and counts increments from several replicas', () => {
    let state = gcounter.zero();
    expect(gcounter.value(state), 'a new G-Counter must read 0').toBe(0);
    state = gcounter.increment(state, 'n1');
    state = gcounter.increment(state, 'n1', 4);
    state = gcounter.increment(state, 'n2', 2);
    expect(gcounter.value(state), '1 + 4 + 2 increments must read 7').toBe(7);
    expect(state, 'the state is each replica’s own count, by replica id').toEqual({ n1: 5, n2: 2 });
  });

  it('merges by taking the larger count of each replica, so a state received twice counts once', () => {
    const a = gcounter.increment(gcounter.increment(gcounter.zero(), 'n1', 3), 'n2', 1);
    const b = gcounter.increment(gcounter.increment(gcounter.zero(), 'n2', 5), 'n3', 2);
    expect(gcounter.merge(a, b)).toEqual({ n1: 3, n2: 5, n3: 2 });
    const once = gcounter.merge(a, b);
    expect(gcounter.value(gcounter.merge(once, b)), 'merging b again must change nothing').toBe(10);
    expect(gcounter.merge(a, a), 'a state merged with itself must stay as it was').toEqual(a);
  });

  it('concurrent increments on two replicas both survive the merge', () => {
    const base = gcounter.increment(gcounter.zero(), 'n1', 2);
    const left = gcounter.increment(base, 'n1');
    const right = gcounter.increment(base, 'n2');
    expect(gcounter.value(gcounter.merge(left, right))).toBe(4);
    expect(gcounter.value(gcounter.merge(right, left))).toBe(4);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])(
    'rejects an increment by %s with a RangeError that names the amount',
    (by) => {
      const error = thrown(() => gcounter.increment(gcounter.zero(), 'n1', by));
      expect(error, `an increment by ${by} is not a positive safe integer`).toBeInstanceOf(RangeError);
      expect(error.message).toContain(String(by));
    },
  );

  it.each(['', 'n 1', 'n1#2', 'a'.repeat(65), 'é', 42, undefined])(
    'rejects the replica id %j with a TypeError',
    (replica) => {
      const error = thrown(() => gcounter.increment(gcounter.zero(), replica as string));
      expect(error, `${JSON.stringify(replica)} is not a replica id`).toBeInstanceOf(TypeError);
      expect(error.message, 'the message shows the bad id').toContain(String(replica));
    },
  );

  it('accepts every replica id shape the contract allows', () => {
    let state = gcounter.zero();
    for (const replica of ['n1', 'eu-west-1', '10.0.0.7:4000', 'A_b.c', 'x'.repeat(64)]) {
      state = gcounter.increment(state, replica);
    }
    expect(gcounter.value(state)).toBe(5);
  });
});

describe('pncounter', () => {
  it('counts increments minus decrements, and may go below 0', () => {
    let state = pncounter.zero();
    expect(pncounter.value(state), 'a new PN-Counter must read 0').toBe(0);
    state = pncounter.increment(state, 'n1', 3);
    state = pncounter.decrement(state, 'n1');
    state = pncounter.decrement(state, 'n2', 5);
    expect(pncounter.value(state)).toBe(-3);
    expect(state, 'the state is two G-Counters: p for increments, n for decrements').toEqual({
      p: { n1: 3 },
      n: { n1: 1, n2: 5 },
    });
  });

  it('a decrement on another replica survives the merge with an older, larger state', () => {
    const shared = pncounter.increment(pncounter.zero(), 'n1', 10);
    const a = pncounter.increment(shared, 'n1', 5); // n1 counts up to 15
    const b = pncounter.decrement(shared, 'n2', 4); // n2 takes 4 off, concurrently
    expect(pncounter.value(pncounter.merge(a, b)), '10 + 5 - 4').toBe(11);
    expect(pncounter.value(pncounter.merge(b, a)), '10 + 5 - 4').toBe(11);
    const c = pncounter.decrement(a, 'n1', 7); // n1 goes down after going up
    expect(
      pncounter.value(pncounter.merge(a, c)),
      'n1’s own decrement must not lose to its older state',
    ).toBe(8);
    expect(pncounter.value(pncounter.merge(c, a))).toBe(8);
  });

  it('merging a state with itself or twice changes nothing', () => {
    const a = pncounter.decrement(pncounter.increment(pncounter.zero(), 'n1', 2), 'n2', 3);
    expect(pncounter.merge(a, a)).toEqual(a);
    const b = pncounter.increment(pncounter.zero(), 'n3');
    expect(pncounter.merge(pncounter.merge(a, b), b)).toEqual(pncounter.merge(a, b));
  });

  it.each([0, -2, 0.5, Number.NaN])('rejects an increment or a decrement by %s with a RangeError', (by) => {
    expect(() => pncounter.increment(pncounter.zero(), 'n1', by)).toThrow(RangeError);
    expect(() => pncounter.decrement(pncounter.zero(), 'n1', by)).toThrow(RangeError);
    expect(thrown(() => pncounter.decrement(pncounter.zero(), 'n1', by)).message).toContain(String(by));
  });

  it('rejects a bad replica id on decrement too', () => {
    expect(() => pncounter.decrement(pncounter.zero(), 'no spaces')).toThrow(TypeError);
  });
});

describe('lww', () => {
  it('holds nothing before the first write, then the write with the latest timestamp', () => {
    let state = lww.zero<string>();
    expect(lww.value(state), 'an unwritten register reads undefined').toBeUndefined();
    state = lww.set(state, 'n1', 'first', 5);
    expect(lww.value(state)).toBe('first');
    state = lww.set(state, 'n2', 'second', 9);
    expect(state).toEqual({ value: 'second', timestamp: 9, replica: 'n2' });
    state = lww.set(state, 'n1', 'late', 7);
    expect(lww.value(state), 'a write stamped 7 must lose to the one stamped 9').toBe('second');
  });

  it('merge keeps the write with the later timestamp, whichever side it is on', () => {
    const older = lww.set(lww.zero<number>(), 'n9', 1, 100);
    const newer = lww.set(lww.zero<number>(), 'n1', 2, 101);
    expect(lww.value(lww.merge(older, newer))).toBe(2);
    expect(lww.value(lww.merge(newer, older))).toBe(2);
    expect(lww.merge(lww.zero(), older), 'the empty register is the bottom: merge returns the other').toEqual(
      older,
    );
    expect(lww.merge(older, lww.zero())).toEqual(older);
    expect(lww.merge(lww.zero(), lww.zero())).toBeNull();
  });

  it('on equal timestamps the greater replica id in string order wins, on either side of the merge', () => {
    const fromN2 = lww.set(lww.zero<string>(), 'n2', 'from n2', 50);
    const fromN10 = lww.set(lww.zero<string>(), 'n10', 'from n10', 50);
    // "n2" > "n10" as strings (the character '2' comes after '1'), whatever the numbers say.
    expect(lww.value(lww.merge(fromN2, fromN10)), 'n2 > n10 in string order').toBe('from n2');
    expect(lww.value(lww.merge(fromN10, fromN2)), 'n2 > n10 in string order').toBe('from n2');
    const fromLower = lww.set(lww.zero<string>(), 'a', 'from a', 7);
    const fromUpper = lww.set(lww.zero<string>(), 'B', 'from B', 7);
    // Code units: 'B' is 66 and 'a' is 97, so "a" wins; a locale-aware comparison says otherwise.
    expect(lww.value(lww.merge(fromUpper, fromLower)), '"a" > "B" in code-unit order').toBe('from a');
    expect(lww.value(lww.merge(fromLower, fromUpper)), '"a" > "B" in code-unit order').toBe('from a');
  });

  it('a local write that ties with the held one is decided by replica id too', () => {
    const held = lww.set(lww.zero<string>(), 'n5', 'held', 20);
    expect(lww.value(lww.set(held, 'n3', 'smaller id', 20)), 'n3 < n5: the held write stays').toBe('held');
    expect(lww.value(lww.set(held, 'n7', 'greater id', 20)), 'n7 > n5: the new write wins').toBe(
      'greater id',
    );
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])(
    'rejects the timestamp %s with a RangeError that names it',
    (timestamp) => {
      const error = thrown(() => lww.set(lww.zero(), 'n1', 'x', timestamp));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toContain(String(timestamp));
    },
  );

  it('accepts timestamp 0, and rejects a second write by the same replica at the same timestamp', () => {
    const state = lww.set(lww.zero<string>(), 'n1', 'zero', 0);
    expect(lww.value(state)).toBe('zero');
    const error = thrown(() => lww.set(state, 'n1', 'again', 0));
    expect(error, 'a replica’s timestamps must increase').toBeInstanceOf(RangeError);
    expect(() => lww.set(state, 'bad id', 'x', 1)).toThrow(TypeError);
  });
});

describe('orset', () => {
  it('adds and removes elements; value lists each element once, in the order of its JSON', () => {
    let state = orset.zero<string>();
    expect(orset.value(state)).toEqual([]);
    state = orset.add(state, 'n1', 'pear');
    state = orset.add(state, 'n1', 'apple');
    state = orset.add(state, 'n2', 'pear');
    expect(orset.value(state)).toEqual(['apple', 'pear']);
    expect(orset.has(state, 'pear')).toBe(true);
    state = orset.remove(state, 'pear');
    expect(orset.has(state, 'pear'), 'remove takes away every add of pear this replica saw').toBe(false);
    expect(orset.value(state)).toEqual(['apple']);
  });

  it('tags each add <replica>#<n>, counting that replica’s adds from 1, and keeps removed tags', () => {
    let state = orset.zero<string>();
    state = orset.add(state, 'n1', 'a');
    state = orset.add(state, 'n2', 'a');
    state = orset.add(state, 'n1', 'b');
    state = orset.remove(state, 'a');
    expect(state).toEqual({ adds: { 'n1#1': 'a', 'n2#1': 'a', 'n1#2': 'b' }, removed: ['n1#1', 'n2#1'] });
    state = orset.merge(state, orset.add(orset.zero<string>(), 'n2', 'z'));
    state = orset.add(state, 'n1', 'c');
    expect(Object.keys(state.adds).sort(), 'n1’s third add is n1#3 whatever n2 did').toEqual([
      'n1#1',
      'n1#2',
      'n1#3',
      'n2#1',
    ]);
  });

  it('a concurrent add and remove of the same element: the add wins', () => {
    const shared = orset.add(orset.zero<string>(), 'n1', 'milk');
    const removedOnN1 = orset.remove(shared, 'milk');
    const addedOnN2 = orset.add(shared, 'n2', 'milk'); // n2 had not seen the remove
    expect(
      orset.has(orset.merge(removedOnN1, addedOnN2), 'milk'),
      'the add the remove never saw survives',
    ).toBe(true);
    expect(orset.has(orset.merge(addedOnN2, removedOnN1), 'milk')).toBe(true);
  });

  it('a remove stays removed when merged with a state that saw only the add', () => {
    const added = orset.add(orset.zero<string>(), 'n1', 'eggs');
    const removed = orset.remove(added, 'eggs');
    expect(
      orset.has(orset.merge(removed, added), 'eggs'),
      'the add the remove observed must stay removed',
    ).toBe(false);
    expect(orset.has(orset.merge(added, removed), 'eggs')).toBe(false);
  });

  it('an element removed and then added again is in the set, here and after merges', () => {
    let state = orset.add(orset.zero<string>(), 'n1', 'tea');
    const afterRemove = orset.remove(state, 'tea');
    state = orset.add(afterRemove, 'n1', 'tea');
    expect(orset.has(state, 'tea'), 're-adding after a remove must work').toBe(true);
    expect(orset.value(orset.merge(afterRemove, state))).toEqual(['tea']);
    expect(orset.value(orset.merge(state, afterRemove))).toEqual(['tea']);
    state = orset.add(orset.remove(orset.remove(state, 'tea'), 'tea'), 'n1', 'tea');
    expect(orset.has(state, 'tea'), 'and again, after a second remove').toBe(true);
  });

  it('removing an element the state never saw does nothing, even once it is added elsewhere', () => {
    const state = orset.add(orset.zero<string>(), 'n1', 'a');
    const after = orset.remove(state, 'never');
    expect(after, 'nothing to remove: the state is unchanged').toEqual(state);
    const elsewhere = orset.add(orset.zero<string>(), 'n2', 'never');
    expect(orset.value(orset.merge(after, elsewhere))).toEqual(['a', 'never']);
  });

  it('merge is the union of the adds and of the removed tags, sorted and without duplicates', () => {
    const base = orset.add(orset.add(orset.zero<string>(), 'n1', 'x'), 'n1', 'y');
    const left = orset.remove(orset.add(base, 'n2', 'w'), 'x');
    const right = orset.remove(orset.remove(orset.add(base, 'n3', 'v'), 'y'), 'x');
    const merged = orset.merge(left, right);
    expect(merged.removed).toEqual(['n1#1', 'n1#2']);
    expect(Object.keys(merged.adds).sort()).toEqual(['n1#1', 'n1#2', 'n2#1', 'n3#1']);
    expect(orset.value(merged)).toEqual(['v', 'w']);
    expect(orset.merge(merged, merged)).toEqual(merged);
  });

  it('compares elements by their JSON with sorted keys', () => {
    let state = orset.zero<{ a: number; b: number } | number[]>();
    state = orset.add(state, 'n1', { a: 1, b: 2 });
    state = orset.add(state, 'n1', [1, 2]);
    expect(orset.has(state, { b: 2, a: 1 }), 'the same object with its keys in another order').toBe(true);
    expect(orset.has(state, [2, 1]), 'arrays keep their order').toBe(false);
    expect(orset.value(state)).toHaveLength(2);
    state = orset.add(state, 'n2', { b: 2, a: 1 });
    expect(orset.value(state), 'the same element added twice is listed once').toHaveLength(2);
    state = orset.remove(state, { b: 2, a: 1 });
    expect(orset.value(state)).toEqual([[1, 2]]);
  });

  it('tells apart elements whose JSON differs, however alike they look', () => {
    const elements: unknown[] = [
      1,
      2,
      '1',
      'pear',
      null,
      true,
      [1, 2],
      [12],
      ['1,2'],
      { '0': 1, '1': 2 },
      { a: 1 },
      { b: 1 },
      { a: [1] },
    ];
    let state = orset.zero<unknown>();
    for (const element of elements) state = orset.add(state, 'n1', element);
    expect(orset.value(state), 'every one of these is its own element').toHaveLength(elements.length);
    for (const [i, element] of elements.entries()) {
      const without = orset.remove(state, element);
      expect(orset.value(without), `removing ${JSON.stringify(element)} removes only it`).toHaveLength(
        elements.length - 1,
      );
      expect(orset.has(without, element)).toBe(false);
      expect(orset.has(without, elements[(i + 1) % elements.length])).toBe(true);
    }
  });

  it('rejects a bad replica id and an undefined element', () => {
    expect(() => orset.add(orset.zero(), 'n#1', 'x')).toThrow(TypeError);
    expect(() => orset.add(orset.zero(), 'n1', undefined)).toThrow(TypeError);
  });
});

describe('purity: no function mutates the states it is given', () => {
  it('every update and merge leaves frozen arguments as they were', () => {
    const g1: GCounterState = deepFreeze({ n1: 2, n2: 1 });
    const g2: GCounterState = deepFreeze({ n2: 4, n3: 1 });
    const p1: PNCounterState = deepFreeze({ p: { n1: 2 }, n: { n2: 1 } });
    const p2: PNCounterState = deepFreeze({ p: { n1: 1, n3: 3 }, n: { n2: 2 } });
    const l1: LWWState<string> = deepFreeze({ value: 'a', timestamp: 3, replica: 'n1' });
    const l2: LWWState<string> = deepFreeze({ value: 'b', timestamp: 4, replica: 'n2' });
    const s1: ORSetState<string> = deepFreeze({ adds: { 'n1#1': 'a', 'n1#2': 'b' }, removed: ['n1#1'] });
    const s2: ORSetState<string> = deepFreeze({ adds: { 'n1#1': 'a', 'n2#1': 'a' }, removed: [] });
    const copies = structuredClone({ g1, g2, p1, p2, l1, l2, s1, s2 });
    const calls: [string, () => unknown][] = [
      ['gcounter.increment', () => gcounter.increment(g1, 'n1')],
      ['gcounter.merge', () => gcounter.merge(g1, g2)],
      ['gcounter.merge (other way)', () => gcounter.merge(g2, g1)],
      ['pncounter.increment', () => pncounter.increment(p1, 'n2')],
      ['pncounter.decrement', () => pncounter.decrement(p1, 'n1')],
      ['pncounter.merge', () => pncounter.merge(p1, p2)],
      ['pncounter.merge (other way)', () => pncounter.merge(p2, p1)],
      ['lww.set', () => lww.set(l1, 'n3', 'c', 9)],
      ['lww.merge', () => lww.merge(l1, l2)],
      ['orset.add', () => orset.add(s1, 'n1', 'c')],
      ['orset.remove', () => orset.remove(s2, 'a')],
      ['orset.merge', () => orset.merge(s1, s2)],
      ['orset.merge (other way)', () => orset.merge(s2, s1)],
    ];
    for (const [name, call] of calls) {
      expect(call, `${name} must not write to its (frozen) arguments`).not.toThrow();
    }
    expect({ g1, g2, p1, p2, l1, l2, s1, s2 }, 'the arguments must be unchanged').toEqual(copies);
  });

  it('a merged state is a new value: later updates to it leave both inputs alone', () => {
    const a = gcounter.increment(gcounter.zero(), 'n1');
    const b = gcounter.increment(gcounter.zero(), 'n2');
    const merged = gcounter.increment(gcounter.merge(a, b), 'n1', 5);
    expect(a).toEqual({ n1: 1 });
    expect(b).toEqual({ n2: 1 });
    expect(merged).toEqual({ n1: 6, n2: 1 });
    const s = orset.add(orset.zero<string>(), 'n1', 'x');
    const t = orset.remove(orset.merge(s, orset.zero()), 'x');
    expect(s.removed).toEqual([]);
    expect(t.removed).toEqual(['n1#1']);
  });
});
