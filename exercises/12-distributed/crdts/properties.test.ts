/**
 * The semilattice laws, checked with fast-check on states built the way replicas build them: a
 * random "world" of three replicas, each updating its own state with random operations under its own
 * id and now and then merging another replica's state into its own. From each world come three
 * states that share some history and differ in the rest, as real replicas' do.
 *
 * For every type: merge is commutative, associative and idempotent, compared both by `value()` and
 * by the state's canonical JSON (keys sorted: two states that mean the same must be the same JSON);
 * merge is the least upper bound the type's specification gives (nothing of either input is lost,
 * nothing else appears); and every update only moves a state up.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/testing/sim/trace.js';
import {
  type GCounterState,
  gcounter,
  type LWWState,
  type LWWWrite,
  lww,
  type ORSetState,
  orset,
  type PNCounterState,
  pncounter,
} from './crdts.js';

/** Replica ids chosen so that string order and numeric order disagree ("n10" < "n9"). */
const ID_SETS = [
  ['n1', 'n2', 'n3'],
  ['n9', 'n10', 'n2'],
  ['B', 'a', 'a-1'],
] as const;

const RUNS = 150;

/** One step of a world: replica `at` updates its state (`op`, `arg`), or merges replica `from`'s into it. */
type Step = { kind: 'op'; at: number; op: number; arg: number } | { kind: 'merge'; at: number; from: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('op' as const), at: fc.nat(2), op: fc.nat(3), arg: fc.nat(5) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('merge' as const), at: fc.nat(2), from: fc.nat(2) }),
  },
);

const world = fc.record({ ids: fc.constantFrom(...ID_SETS), steps: fc.array(step, { maxLength: 40 }) });

/** A type under test: how to start, update (from a step's numbers), merge, read, and compare. */
interface Crdt<S> {
  readonly name: string;
  zero(): S;
  /** Replica `replica` applies an operation chosen by `op` and `arg`; `used` remembers LWW stamps. */
  update(state: S, replica: string, op: number, arg: number, used: Set<string>): S;
  merge(a: S, b: S): S;
  value(state: S): unknown;
  /** Throws (with a message in plain words) unless `upper` holds everything `lower` holds. */
  below(lower: S, upper: S): void;
  /** The least upper bound as the type's specification defines it, computed here independently. */
  join(a: S, b: S): unknown;
}

/** Replays `steps`: three replicas, each starting at zero. Returns their final states. */
function build<S>(crdt: Crdt<S>, ids: readonly string[], steps: readonly Step[]): S[] {
  const states = ids.map(() => crdt.zero());
  const used = new Set<string>();
  for (const s of steps) {
    if (s.kind === 'op')
      states[s.at] = crdt.update(states[s.at] as S, ids[s.at] as string, s.op, s.arg, used);
    else states[s.at] = crdt.merge(states[s.at] as S, states[s.from] as S);
  }
  return states;
}

function entriesBelow(what: string, lower: GCounterState, upper: GCounterState): void {
  for (const [replica, count] of Object.entries(lower)) {
    expect(upper[replica] ?? 0, `${what}: ${replica}'s count must not go down`).toBeGreaterThanOrEqual(count);
  }
}

function maxJoin(a: GCounterState, b: GCounterState): Record<string, number> {
  const joined: Record<string, number> = { ...a };
  for (const [replica, count] of Object.entries(b)) joined[replica] = Math.max(joined[replica] ?? 0, count);
  return joined;
}

const G: Crdt<GCounterState> = {
  name: 'gcounter',
  zero: gcounter.zero,
  update: (state, replica, _op, arg) => gcounter.increment(state, replica, arg + 1),
  merge: gcounter.merge,
  value: gcounter.value,
  below: (lower, upper) => {
    entriesBelow('G-Counter', lower, upper);
    expect(gcounter.value(upper)).toBeGreaterThanOrEqual(gcounter.value(lower));
  },
  join: maxJoin,
};

const PN: Crdt<PNCounterState> = {
  name: 'pncounter',
  zero: pncounter.zero,
  update: (state, replica, op, arg) =>
    op % 2 === 0
      ? pncounter.increment(state, replica, arg + 1)
      : pncounter.decrement(state, replica, arg + 1),
  merge: pncounter.merge,
  value: pncounter.value,
  below: (lower, upper) => {
    entriesBelow('PN-Counter increments (p)', lower.p, upper.p);
    entriesBelow('PN-Counter decrements (n)', lower.n, upper.n);
  },
  join: (a, b) => ({ p: maxJoin(a.p, b.p), n: maxJoin(a.n, b.n) }),
};

/** Whether stamp `a` is above stamp `b` (timestamp, then replica id in string order). */
const above = (a: LWWWrite<unknown>, b: LWWWrite<unknown>) =>
  a.timestamp !== b.timestamp ? a.timestamp > b.timestamp : a.replica > b.replica;

const LWW: Crdt<LWWState<number>> = {
  name: 'lww',
  zero: () => lww.zero<number>(),
  update: (state, replica, op, arg, used) => {
    // Timestamps from a small range, so that different replicas tie often; a replica never reuses one.
    const timestamp = (op * 6 + arg) % 7;
    if (used.has(`${replica}@${timestamp}`)) return state;
    used.add(`${replica}@${timestamp}`);
    return lww.set(state, replica, op * 10 + arg, timestamp);
  },
  merge: lww.merge,
  value: lww.value,
  below: (lower, upper) => {
    if (lower === null) return;
    expect(upper, 'an LWW-Register once written stays written').not.toBeNull();
    expect(
      upper !== null &&
        (upper.timestamp === lower.timestamp && upper.replica === lower.replica ? true : above(upper, lower)),
      `the register's stamp must not go back from ${lower.timestamp}/${lower.replica}`,
    ).toBe(true);
  },
  join: (a, b) => (a === null ? b : b === null ? a : above(b, a) ? b : a),
};

const ELEMENTS = ['apple', 'pear', 'fig', 'kiwi'];

const SET: Crdt<ORSetState<string>> = {
  name: 'orset',
  zero: () => orset.zero<string>(),
  update: (state, replica, op, arg) =>
    op % 2 === 0 || op === 3
      ? orset.add(state, replica, ELEMENTS[arg % ELEMENTS.length] as string)
      : orset.remove(state, ELEMENTS[arg % ELEMENTS.length] as string),
  merge: orset.merge,
  value: orset.value,
  below: (lower, upper) => {
    for (const [tag, element] of Object.entries(lower.adds)) {
      expect(upper.adds[tag], `the add ${tag} (${element}) must not be forgotten`).toBe(element);
    }
    for (const tag of lower.removed) {
      expect(upper.removed, `the removal of ${tag} must not be forgotten`).toContain(tag);
    }
  },
  join: (a, b) => ({
    adds: { ...a.adds, ...b.adds },
    removed: [...new Set([...a.removed, ...b.removed])].sort(),
  }),
};

/** Both ways of comparing two states: by what they read, and by their canonical JSON. */
function same<S>(crdt: Crdt<S>, actual: S, expected: S, law: string): void {
  expect(crdt.value(actual), `${crdt.name}: ${law} (by value)`).toEqual(crdt.value(expected));
  expect(canonicalJson(actual), `${crdt.name}: ${law} (by canonical JSON)`).toBe(canonicalJson(expected));
}

describe.each([G, PN, LWW, SET] as Crdt<unknown>[])('$name: merge is a semilattice join', (crdt) => {
  it('is commutative: merge(a, b) equals merge(b, a)', () => {
    fc.assert(
      fc.property(world, ({ ids, steps }) => {
        const [a, b, c] = build(crdt, ids, steps);
        same(crdt, crdt.merge(a, b), crdt.merge(b, a), 'merge(a, b) must equal merge(b, a)');
        same(crdt, crdt.merge(b, c), crdt.merge(c, b), 'merge(b, c) must equal merge(c, b)');
      }),
      { numRuns: RUNS },
    );
  });

  it('is associative: merge(merge(a, b), c) equals merge(a, merge(b, c))', () => {
    fc.assert(
      fc.property(world, ({ ids, steps }) => {
        const [a, b, c] = build(crdt, ids, steps);
        same(
          crdt,
          crdt.merge(crdt.merge(a, b), c),
          crdt.merge(a, crdt.merge(b, c)),
          'merge(merge(a, b), c) must equal merge(a, merge(b, c))',
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('is idempotent: merge(a, a) equals a, and merging b a second time changes nothing', () => {
    fc.assert(
      fc.property(world, ({ ids, steps }) => {
        const [a, b] = build(crdt, ids, steps);
        same(crdt, crdt.merge(a, a), a, 'merge(a, a) must equal a');
        const once = crdt.merge(a, b);
        same(crdt, crdt.merge(once, b), once, 'merge(merge(a, b), b) must equal merge(a, b)');
      }),
      { numRuns: RUNS },
    );
  });

  it('is the least upper bound: it keeps all of a and all of b, and adds nothing else', () => {
    fc.assert(
      fc.property(world, ({ ids, steps }) => {
        const [a, b] = build(crdt, ids, steps);
        const merged = crdt.merge(a, b);
        crdt.below(a, merged);
        crdt.below(b, merged);
        expect(canonicalJson(merged), `${crdt.name}: merge must be exactly the join of its inputs`).toBe(
          canonicalJson(crdt.join(a, b)),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('only moves up: every update and every merge keeps what the state held', () => {
    fc.assert(
      fc.property(world, ({ ids, steps }) => {
        const states = ids.map(() => crdt.zero());
        const used = new Set<string>();
        for (const s of steps) {
          const before = states[s.at];
          const after =
            s.kind === 'op'
              ? crdt.update(before, ids[s.at] as string, s.op, s.arg, used)
              : crdt.merge(before, states[s.from]);
          crdt.below(before, after);
          states[s.at] = after;
        }
      }),
      { numRuns: RUNS },
    );
  });
});
