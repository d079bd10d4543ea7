/**
 * Four state-based CRDTs (convergent replicated data types) from Shapiro, Preguiça, Baquero and
 * Zawirski: "Conflict-free Replicated Data Types" (SSS 2011) and "A comprehensive study of Convergent
 * and Commutative Replicated Data Types" (INRIA RR-7506, 2011), cited below as RR-7506.
 *
 * A state-based CRDT is a value that every replica updates locally, without asking anyone, and
 * sends whole to the others; a replica that receives a state merges it into its own. The states form
 * a join-semilattice: `merge` is the least upper bound, so it is **commutative** (`merge(a, b)` equals
 * `merge(b, a)`), **associative** and **idempotent** (`merge(a, a)` equals `a`), and every update
 * only moves a state up. Then the network may drop, duplicate and reorder states as it likes: two
 * replicas that have received the same updates, in any order, any number of times, hold equal
 * states (strong eventual consistency, defined in §2 of the SSS 2011 paper: Definition 2.3 in its
 * report version, INRIA RR-7687).
 *
 * **Plain JSON.** Every state is a plain JSON value (objects, arrays, strings, numbers, `null`), so
 * it crosses a network, or the simulator's, as it is. Every function here is pure: it returns a new
 * state (or its argument unchanged) and never mutates what it is given, so a state that was sent,
 * stored or shared stays as it was. A state is in **canonical form**: two states that mean the same
 * thing have the same JSON once object keys are sorted (no zero entries, arrays sorted, no
 * duplicates).
 *
 * **Replica ids** are strings of 1 to 64 characters among letters, digits and `_ . : -` (`n1`,
 * `eu-west-1`, `10.0.0.7:4000`). Each replica updates states under its own id only, and no two
 * replicas share one: the G-Counter's entry for `n1` and the OR-Set's tags `n1#…` are `n1`'s alone.
 */

/** A replica's name: 1 to 64 characters among `A-Z a-z 0-9 _ . : -`. */
export type ReplicaId = string;

/** A grow-only counter's state: each replica's increments, by replica id (no zero entries). */
export type GCounterState = Readonly<Record<ReplicaId, number>>;

/** A PN-Counter's state: two G-Counters, one of increments (`p`) and one of decrements (`n`). */
export interface PNCounterState {
  readonly p: GCounterState;
  readonly n: GCounterState;
}

/** A written LWW-Register: the value, and the stamp of the write that put it there. */
export interface LWWWrite<T> {
  readonly value: T;
  /** The writer's timestamp: a safe integer >= 0 (a logical clock, or milliseconds). */
  readonly timestamp: number;
  /** The replica that wrote it. */
  readonly replica: ReplicaId;
}

/** An LWW-Register's state: the winning write, or `null` before any write. */
export type LWWState<T> = LWWWrite<T> | null;

/** An OR-Set's state: every add seen, and the tags that removes have observed (tombstones). */
export interface ORSetState<T> {
  /** Every add seen, by its unique tag (`<replica>#<n>`), with its element. Never shrinks. */
  readonly adds: Readonly<Record<string, T>>;
  /** The tags removed so far, sorted in string order (`<` on strings), no duplicates. Never shrinks. */
  readonly removed: readonly string[];
}

const REPLICA_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Throws a TypeError naming `replica` unless it is a replica id. */
function checkReplica(replica: unknown): asserts replica is ReplicaId {
  if (typeof replica !== 'string' || !REPLICA_ID.test(replica)) {
    throw new TypeError(
      `a replica id is 1 to 64 characters among A-Z a-z 0-9 _ . : -, got ${JSON.stringify(replica) ?? String(replica)}`,
    );
  }
}

/** Throws a RangeError naming `what` and `by` unless `by` is a positive safe integer. */
function checkAmount(what: string, by: number): void {
  if (!(Number.isSafeInteger(by) && by > 0)) {
    throw new RangeError(`${what} takes a positive integer amount, got ${by}`);
  }
}

/** `replica`'s entry in `state`, 0 when it has none (own properties only: `__proto__` is an id too). */
function own(state: GCounterState, replica: ReplicaId): number {
  return Object.hasOwn(state, replica) ? (state[replica] as number) : 0;
}

/** Sums a G-Counter state's entries. */
function total(state: GCounterState): number {
  let sum = 0;
  for (const count of Object.values(state)) sum += count;
  return sum;
}

/**
 * The grow-only counter (G-Counter), RR-7506 §3.1.2, Specification 6: one entry per replica, which
 * only that replica increments; the value is the sum of the entries, and merge takes the maximum of
 * each entry. A sum would count twice a state that arrives twice; the maximum cannot.
 */
export const gcounter = {
  /** The counter at 0: `{}`. */
  zero(): GCounterState {
    return {};
  },

  /**
   * Adds `by` to `replica`'s entry.
   * @param by a positive safe integer (default 1)
   * @throws {TypeError} when `replica` is not a replica id (see the top of this file; its message shows the bad id)
   * @throws {RangeError} (its message shows the bad `by`) when `by` is not a positive safe integer (0, negative, fractional,
   *   `NaN`, `Infinity`): a G-Counter never goes down
   */
  increment(state: GCounterState, replica: ReplicaId, by = 1): GCounterState {
    checkReplica(replica);
    checkAmount('gcounter.increment', by);
    return { ...state, [replica]: own(state, replica) + by };
  },

  /** The sum of every replica's increments. */
  value(state: GCounterState): number {
    return total(state);
  },

  /** The least upper bound: for every replica in either state, the larger of its two entries. */
  merge(a: GCounterState, b: GCounterState): GCounterState {
    // A Map, then `Object.fromEntries`: an id like `__proto__` stays an entry like any other.
    const merged = new Map(Object.entries(a));
    for (const [replica, count] of Object.entries(b)) {
      merged.set(replica, Math.max(merged.get(replica) ?? 0, count));
    }
    return Object.fromEntries(merged);
  },
} as const;

/**
 * The PN-Counter, RR-7506 §3.1.3, Specification 7: a counter that goes up and down, built from two
 * G-Counters, `p` for increments and `n` for decrements; the value is `value(p) - value(n)`, and
 * merge merges `p` with `p` and `n` with `n`. One signed entry per replica merged by maximum would
 * lose a decrement to the older, larger entry.
 */
export const pncounter = {
  /** The counter at 0: `{ p: {}, n: {} }`. */
  zero(): PNCounterState {
    return { p: {}, n: {} };
  },

  /**
   * Adds `by` to the counter, as `replica`.
   * @throws {TypeError} when `replica` is not a replica id (see the top of this file; its message shows the bad id)
   * @throws {RangeError} (its message shows the bad `by`) when `by` is not a positive safe integer
   */
  increment(state: PNCounterState, replica: ReplicaId, by = 1): PNCounterState {
    return { p: gcounter.increment(state.p, replica, by), n: state.n };
  },

  /**
   * Subtracts `by` from the counter, as `replica` (the value may go below 0).
   * @throws {TypeError} when `replica` is not a replica id (see the top of this file; its message shows the bad id)
   * @throws {RangeError} (its message shows the bad `by`) when `by` is not a positive safe integer (to add, call `increment`)
   */
  decrement(state: PNCounterState, replica: ReplicaId, by = 1): PNCounterState {
    return { p: state.p, n: gcounter.increment(state.n, replica, by) };
  },

  /** Every increment minus every decrement. */
  value(state: PNCounterState): number {
    return total(state.p) - total(state.n);
  },

  /** The least upper bound: `p` merged with `p`, `n` with `n`. */
  merge(a: PNCounterState, b: PNCounterState): PNCounterState {
    return { p: gcounter.merge(a.p, b.p), n: gcounter.merge(a.n, b.n) };
  },
} as const;

/** Whether write `a` wins over write `b`: the later timestamp; on a tie, the greater replica id. */
function wins<T>(a: LWWWrite<T>, b: LWWWrite<T>): boolean {
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return a.replica > b.replica;
}

/**
 * The last-writer-wins register (LWW-Register), RR-7506 §3.2.1, Specification 8: the write with the
 * greatest stamp wins. The paper's timestamps are unique and totally ordered; here a stamp is the
 * pair (timestamp, replica id), compared by timestamp, then, **on equal timestamps, by replica id: the
 * greater id in string order (`>` on strings, UTF-16 code units, the same on every machine and in
 * every locale) wins**. So `n2` beats `n10` and `a` beats `B`.
 *
 * The caller supplies timestamps; a replica never writes twice with the same timestamp (its clock,
 * a Lamport clock or a hybrid logical clock, moves forward). A write whose stamp is below the one the
 * register holds is lost, at once or at the next merge: with wall clocks, a replica whose clock runs
 * behind loses writes that happened later in real time.
 */
export const lww = {
  /** The register before any write: `null`. */
  zero<T>(): LWWState<T> {
    return null;
  },

  /**
   * Writes `value` as `replica` at `timestamp`: the result holds the new write if its stamp wins
   * over the register's, else the register unchanged (the write lost, as it would at a merge).
   * @param value a JSON value (it travels in the state)
   * @throws {TypeError} when `replica` is not a replica id (see the top of this file; its message shows the bad id)
   * @throws {RangeError} (its message shows the bad `timestamp`) when `timestamp` is not a safe integer >= 0, or when the register
   *   already holds a write by `replica` at `timestamp` (a replica's timestamps must increase)
   */
  set<T>(state: LWWState<T>, replica: ReplicaId, value: T, timestamp: number): LWWState<T> {
    checkReplica(replica);
    if (!(Number.isSafeInteger(timestamp) && timestamp >= 0)) {
      throw new RangeError(`lww.set takes a timestamp that is a safe integer >= 0, got ${timestamp}`);
    }
    if (state !== null && state.timestamp === timestamp && state.replica === replica) {
      throw new RangeError(
        `replica ${replica} already wrote at timestamp ${timestamp}: a replica's timestamps must increase`,
      );
    }
    const write: LWWWrite<T> = { value, timestamp, replica };
    return state === null || wins(write, state) ? write : state;
  },

  /** The winning write's value, or `undefined` before any write. */
  value<T>(state: LWWState<T>): T | undefined {
    return state === null ? undefined : state.value;
  },

  /** The least upper bound: the write whose stamp wins (either one when both are the same write). */
  merge<T>(a: LWWState<T>, b: LWWState<T>): LWWState<T> {
    if (a === null) return b;
    if (b === null) return a;
    return wins(b, a) ? b : a;
  },
} as const;

/**
 * An element's identity: its JSON with object keys sorted, so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }`
 * are one element.
 */
function elementKey(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(elementKey).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${elementKey((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The union of two sorted, duplicate-free arrays of strings, sorted and duplicate-free. */
function sortedUnion(a: readonly string[], b: readonly string[]): string[] {
  const union: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) {
      union.push(x as string);
      i++;
    } else if (x === undefined || y < x) {
      union.push(y);
      j++;
    } else {
      union.push(x);
      i++;
      j++;
    }
  }
  return union;
}

/**
 * The observed-remove set (OR-Set), add-wins: RR-7506 §3.3.5 gives it op-based (Specification 15);
 * this is its state-based form, with tombstones. Every add gets a tag no other add has; a remove
 * removes the tags of the element that **this** state has seen (it observed them), and no other. So
 * an add concurrent with a remove, whose tag the remove could not see, survives the merge: **add
 * wins**. Re-adding an element after its removal works, because the new add has a new tag.
 *
 * **Tags** are deterministic: `<replica>#<n>`, where `n` counts `replica`'s adds from 1 (the first
 * add by `n1` is `n1#1`, its next `n1#2`, whatever elements they add). The state keeps every tag it
 * has seen, removed or not, so `n` is one more than the largest of `replica`'s tags in `adds`.
 *
 * **Elements** are JSON values; two are the same element when their JSON with object keys sorted is
 * the same (`{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` are one element).
 *
 * Tombstones make the state grow with every add ever made; Bieniusa et al., "An optimized
 * conflict-free replicated set" (2012), replace them with a version vector.
 */
export const orset = {
  /** The empty set: `{ adds: {}, removed: [] }`. */
  zero<T>(): ORSetState<T> {
    return { adds: {}, removed: [] };
  },

  /**
   * Adds `element` as `replica`, under the new tag `<replica>#<n>` (see above), even when the
   * element is already in the set.
   * @param element a JSON value
   * @throws {TypeError} when `replica` is not a replica id (see the top of this file; its message shows the bad id), or `element` is `undefined`
   */
  add<T>(state: ORSetState<T>, replica: ReplicaId, element: T): ORSetState<T> {
    checkReplica(replica);
    if (element === undefined)
      throw new TypeError('orset.add takes a JSON value as the element, got undefined');
    // One entry per element: the element's JSON is its tag.
    const tag = elementKey(element);
    return { adds: { ...state.adds, [tag]: element }, removed: state.removed };
  },

  /**
   * Removes `element`: every tag of it that this state has seen and not yet removed joins `removed`.
   * An element this state never saw is left alone (the result equals `state`): a remove only removes
   * the adds it observed, so an add it did not see, concurrent or later, keeps the element in the set.
   */
  remove<T>(state: ORSetState<T>, element: T): ORSetState<T> {
    const key = elementKey(element);
    const removed = new Set(state.removed);
    const tags = Object.entries(state.adds)
      .filter(([tag, added]) => !removed.has(tag) && elementKey(added) === key)
      .map(([tag]) => tag)
      .sort();
    if (tags.length === 0) return state;
    return { adds: state.adds, removed: sortedUnion(state.removed, tags) };
  },

  /** Whether `element` has an add whose tag is not removed. */
  has<T>(state: ORSetState<T>, element: T): boolean {
    const key = elementKey(element);
    const removed = new Set(state.removed);
    return Object.entries(state.adds).some(([tag, added]) => !removed.has(tag) && elementKey(added) === key);
  },

  /**
   * The elements in the set, each once, in the string order of their JSON with sorted keys (so the
   * same set always lists the same way).
   */
  value<T>(state: ORSetState<T>): T[] {
    const removed = new Set(state.removed);
    const elements = new Map<string, T>();
    for (const [tag, element] of Object.entries(state.adds)) {
      if (!removed.has(tag)) elements.set(elementKey(element), element);
    }
    return [...elements.keys()].sort().map((key) => elements.get(key) as T);
  },

  /** The least upper bound: the union of the adds and the union of the removed tags (sorted). */
  merge<T>(a: ORSetState<T>, b: ORSetState<T>): ORSetState<T> {
    return { adds: { ...a.adds, ...b.adds }, removed: sortedUnion(a.removed, b.removed) };
  },
} as const;
