/**
 * A linearizability checker: is there an order of the operations, each taking effect at one instant
 * between its invoke and its completion, in which the model explains every recorded result?
 *
 * The search is Wing & Gong's (1993): walk the history's events in order, try to linearize each
 * operation that has been invoked, and backtrack when one that has completed cannot be; with Lowe's
 * memoization (2017), as Porcupine and Knossos do: a configuration (which operations are linearized,
 * as a bitset, and the model's state) seen once is never explored again. An `info` operation (its
 * outcome unknown) may take effect at any point after its invoke, or never: its completion is placed
 * after the end of the history, where leaving it out is allowed.
 *
 * Two orders of search, both exact (see {@link Strategy}): greedy, in invoke order, which is quick when
 * the history nearly linearizes in that order; and `info` operations last, with a memo that prunes
 * configurations dominated by one with fewer `info` operations used, which is quick when there are many
 * `info` operations (real Jepsen histories). A configuration is stored compactly (the model's state
 * numbered, and the linearized set as a window of a few words), not as a copy of the whole set.
 *
 * On a violation the checker shrinks the failing part to a witness: a set of operations that cannot
 * be ordered, from which no single operation can be left out and the rest still fail.
 */
import type { Operation } from './history.js';
import type { Model } from './models.js';

/** What the checker concluded. */
export type Verdict =
  | { readonly verdict: 'linearizable' }
  | {
      readonly verdict: 'not linearizable';
      /** The part (a key, for `kv`) that failed; `''` for a model with one part. */
      readonly part: string;
      /** Operations that cannot be ordered, in invoke order. */
      readonly witness: readonly Operation[];
      /** False if the time limit cut the shrinking short: a true witness, but maybe not a minimal one. */
      readonly minimal: boolean;
    }
  | { readonly verdict: 'unknown' };

/** How long the checker may search: a limit in milliseconds on a clock the caller provides. */
export interface CheckOptions {
  /** Give up with `unknown` after this many ms of `now()`. Default: no limit. */
  readonly timeoutMs?: number;
  /** The clock the limit is measured on, in ms (`() => performance.now()`); required with `timeoutMs`. */
  readonly now?: () => number;
  /**
   * The search strategy (see {@link Strategy}); all give the same verdicts, at different speeds.
   * Default `auto`. The others are there to compare them.
   */
  readonly strategy?: Strategy;
}

/**
 * How the search orders its candidates. `greedy`: in invoke order, `info` operations among the others,
 * with an exact memo. `info-last`: `info` operations after the others, with a memo that prunes by
 * dominance. `auto`: `greedy` within a budget of steps, then `info-last`.
 */
export type Strategy = 'auto' | 'greedy' | 'info-last';

/** Configurations explored between two looks at the clock. */
const CLOCK_EVERY = 1024;

/** Thrown inside the search when the time limit is hit. */
class OutOfTime extends Error {}

/** When to give up: never, or at a deadline of the injected clock. */
interface Deadline {
  check(): void;
}

function deadlineOf({ timeoutMs, now }: CheckOptions): Deadline {
  if (timeoutMs === undefined) return { check() {} };
  if (!now) throw new TypeError('check: a timeoutMs needs a clock (options.now)');
  const end = now() + timeoutMs;
  return {
    check() {
      if (now() > end) throw new OutOfTime();
    },
  };
}

/**
 * Checks `ops` (as {@link pairOperations} gives them) against `model`, part by part.
 * @throws {TypeError} if an operation is malformed for the model (`model.problem`), naming its line
 */
export function check<State>(
  ops: readonly Operation[],
  model: Model<State>,
  options: CheckOptions = {},
): Verdict {
  for (const op of ops) {
    const problem = model.problem(op);
    if (problem) throw new TypeError(`line ${op.callLine}: ${problem}`);
  }
  const deadline = deadlineOf(options);
  const relevant = ops.filter((op) => !(op.status === 'info' && model.readOnly(op)));
  let timedOut = false;
  for (const [part, partOps] of model.partition(relevant)) {
    let ok: boolean;
    try {
      ok = search(partOps, model, deadline, options.strategy);
    } catch (error) {
      if (!(error instanceof OutOfTime)) throw error;
      timedOut = true;
      continue;
    }
    if (!ok) {
      const { witness, minimal } = shrink(partOps, model, deadline, options.strategy);
      return { verdict: 'not linearizable', part, witness, minimal };
    }
  }
  return timedOut ? { verdict: 'unknown' } : { verdict: 'linearizable' };
}

/** An event of the search's list: an operation's invoke or its completion. */
interface Entry {
  readonly op: Operation;
  /** The operation's index in the part being searched. */
  readonly bit: number;
  /** Its index among the part's `ok` operations, or among its `info` ones: its bit in that set. */
  readonly slot: number;
  readonly isCall: boolean;
  readonly time: number;
  /** The call's completion entry (on a call entry). */
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

/**
 * Builds the search's lists, each behind a head sentinel: the `ok` operations' invokes and completions
 * in time order, and the `info` operations' invokes in time order, in a list of their own if
 * `infoLast`, else among the others. An `info` operation has no completion in the lists: it would be
 * past the end of the history, where leaving the operation out is allowed.
 */
function eventLists(ops: readonly Operation[], infoLast: boolean): { head: Entry; infoHead: Entry } {
  const entries: Entry[] = [];
  const infoCalls: Entry[] = [];
  const counts = { ok: 0, info: 0 };
  ops.forEach((op, bit) => {
    const slot = counts[op.status]++;
    if (op.status === 'info') {
      (infoLast ? infoCalls : entries).push({ op, bit, slot, isCall: true, time: op.call });
      return;
    }
    const ret: Entry = { op, bit, slot, isCall: false, time: op.ret };
    entries.push({ op, bit, slot, isCall: true, time: op.call, match: ret }, ret);
  });
  entries.sort((a, b) => a.time - b.time || a.bit - b.bit || Number(b.isCall) - Number(a.isCall));
  infoCalls.sort((a, b) => a.time - b.time || a.bit - b.bit);
  return { head: linked(entries), infoHead: linked(infoCalls) };
}

function linked(entries: readonly Entry[]): Entry {
  const head = { isCall: false, time: Number.NEGATIVE_INFINITY, bit: -1, slot: -1 } as Entry;
  let last = head;
  for (const entry of entries) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

/** Takes a call and its completion (if it has one) out of their list. */
function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match;
  if (!ret) return;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Puts back what {@link lift} took out (in reverse order). */
function unlift(call: Entry): void {
  const ret = call.match;
  if (ret) {
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
  }
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/** A set of linearized operations with an incrementally kept hash (XOR of a random word per bit). */
class BitSet {
  readonly words: Uint32Array;
  hash = 0;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }
  flip(bit: number): void {
    this.words[bit >>> 5]! ^= 1 << (bit & 31);
    this.hash ^= mix(bit);
  }
  equals(words: Uint32Array): boolean {
    for (let i = 0; i < words.length; i++) if (words[i] !== this.words[i]) return false;
    return true;
  }
  has(bit: number): boolean {
    return ((this.words[bit >>> 5]! >>> (bit & 31)) & 1) === 1;
  }
  /** Whether `words` equals this set's words `from` to `to` (inclusive word indices). */
  matches(words: Uint32Array, from: number, to: number): boolean {
    if (words.length !== Math.max(0, to - from + 1)) return false;
    for (let i = 0; i < words.length; i++) if (words[i] !== this.words[from + i]) return false;
    return true;
  }
}

/** A well-spread 32-bit word for a bit index (a murmur3 finalizer). */
function mix(n: number): number {
  let h = Math.imul(n + 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A configuration the search has seen, stored compactly. The model's state, as a number standing for
 * its hash text. The `ok` operations linearized, as `first` (every one below it is linearized, and it
 * is not) and the words of the set from `first`'s word to the word of the highest one linearized: the
 * search only linearizes operations invoked before the first completion it has not passed, so that
 * window is about as wide as the history's concurrency, a few words, not a copy of the whole set
 * (10,000 operations would be 313 words a configuration). And the `info` operations linearized, whole.
 */
interface Seen {
  readonly state: number;
  readonly first: number;
  readonly words: Uint32Array;
  readonly info: Uint32Array;
}

/** Whether every bit of `a` is set in `b` (two sets of the same size). */
function subset(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i]! & ~b[i]!) !== 0) return false;
  return true;
}

/**
 * Wing & Gong's search, giving up (`undefined`) after `budget` steps. At each step the candidates are
 * the operations invoked before the first completion not yet passed, in invoke order; with `infoLast`,
 * the `ok` ones first, then the `info` ones (their outcome unknown: they may take effect, or never).
 *
 * Without `infoLast` the memo is exact: a configuration seen once (same state, same operations
 * linearized) is not explored again. The memo prunes by dominance on the `info` operations: a configuration is skipped
 * when one was seen with the same state, the same `ok` operations linearized and a subset of its `info`
 * ones, which can do all it can and more (the `info` operations it has not used are still open to
 * it). Trying `info` operations last makes the smaller sets come first. Without this, each `info`
 * operation doubles the configurations from its invoke to the end of the history: used or not.
 */
function searchWith<State>(
  ops: readonly Operation[],
  model: Model<State>,
  deadline: Deadline,
  strategy: { readonly infoLast: boolean; readonly budget: number },
): boolean | undefined {
  const { infoLast, budget } = strategy;
  const { head, infoHead } = eventLists(ops, infoLast);
  const okCount = ops.filter((op) => op.status === 'ok').length;
  const linearized = new BitSet(okCount);
  const infos = new BitSet(ops.length - okCount);
  const seen = new Map<number, Seen[]>();
  /** The model's states by hash text, numbered. */
  const stateIds = new Map<string, number>();
  interface Frame {
    readonly call: Entry;
    readonly state: State;
    readonly first: number;
    readonly top: number;
    readonly boundary: Entry | undefined;
  }
  const stack: Frame[] = [];
  let state = model.init();
  /** The lowest `ok` operation not linearized, and the highest linearized (-1: none). */
  let first = 0;
  let top = -1;
  /** The next candidate; `boundary` is the first completion not passed, once the `ok` calls before it are tried. */
  let entry = head.next;
  let boundary: Entry | undefined;
  let explored = 0;
  for (;;) {
    if (++explored % CLOCK_EVERY === 0) deadline.check();
    if (explored > budget) return undefined;
    if (boundary === undefined) {
      // Pass 1: the ok calls before the first completion.
      if (!entry) return true;
      if (!entry.isCall) {
        boundary = entry;
        entry = infoHead.next;
        continue;
      }
    } else if (!(entry && entry.time < boundary.time)) {
      // Every candidate was tried: undo the last step and try the candidates after it.
      const frame = stack.pop();
      if (!frame) return false;
      ({ state, first, top, boundary } = frame);
      if (frame.call.op.status === 'info') infos.flip(frame.call.slot);
      else linearized.flip(frame.call.slot);
      unlift(frame.call);
      entry = frame.call.next;
      continue;
    }
    const next = model.step(state, entry.op);
    if (next !== undefined) {
      const { slot } = entry;
      const info = entry.op.status === 'info';
      let nextFirst = first;
      let nextTop = top;
      if (info) infos.flip(slot);
      else {
        linearized.flip(slot);
        while (nextFirst < okCount && linearized.has(nextFirst)) nextFirst++;
        nextTop = Math.max(top, slot);
      }
      const text = model.hash(next);
      let stateId = stateIds.get(text);
      if (stateId === undefined) {
        stateId = stateIds.size;
        stateIds.set(text, stateId);
      }
      // Info-last: the key leaves the info set out, to find the configurations that dominate.
      const key = (linearized.hash ^ mix(stateId + 0x40000000) ^ (infoLast ? 0 : infos.hash)) >>> 0;
      const from = nextFirst >>> 5;
      const to = nextTop >>> 5;
      const configurations = seen.get(key);
      const dominated = configurations?.some(
        (memo) =>
          memo.state === stateId &&
          memo.first === nextFirst &&
          linearized.matches(memo.words, from, to) &&
          (infoLast ? subset(memo.info, infos.words) : infos.equals(memo.info)),
      );
      if (!dominated) {
        const memo = {
          state: stateId,
          first: nextFirst,
          words: linearized.words.slice(from, Math.max(from, to + 1)),
          info: infos.words.slice(),
        };
        if (configurations) configurations.push(memo);
        else seen.set(key, [memo]);
        stack.push({ call: entry, state, first, top, boundary });
        state = next;
        first = nextFirst;
        top = nextTop;
        lift(entry);
        entry = head.next;
        boundary = undefined;
        continue;
      }
      if (info) infos.flip(slot);
      else linearized.flip(slot);
    }
    entry = entry.next;
  }
}

/**
 * True if `ops` can be linearized against `model`: two exact strategies of {@link searchWith}, the
 * greedy one first (`info` operations among the others), within a budget of 100,000 steps plus 200 an
 * operation, then the one that tries `info` operations last with a dominance memo. The first is quick
 * on long histories whose operations mostly linearize in invoke order; the second on histories with
 * many `info` operations, whose configurations the first multiplies (a Jepsen etcd history of 77
 * operations, 19 of them `info`: 1.1 million configurations and seconds for the first, a few hundred
 * and milliseconds for the second).
 * @throws {OutOfTime} past the deadline
 */
function search<State>(
  ops: readonly Operation[],
  model: Model<State>,
  deadline: Deadline,
  strategy: Strategy = 'auto',
): boolean {
  const unbounded = Number.POSITIVE_INFINITY;
  if (strategy !== 'auto')
    return searchWith(ops, model, deadline, { infoLast: strategy === 'info-last', budget: unbounded })!;
  const budget = 100_000 + 200 * ops.length;
  return (
    searchWith(ops, model, deadline, { infoLast: false, budget }) ??
    searchWith(ops, model, deadline, { infoLast: true, budget: unbounded })!
  );
}

/**
 * Shrinks a non-linearizable part to a witness: first the shortest failing prefix (by invoke), then
 * chunks and then single operations left out while the rest still fails.
 */
function shrink<State>(
  ops: readonly Operation[],
  model: Model<State>,
  deadline: Deadline,
  strategy: Strategy | undefined,
): { witness: Operation[]; minimal: boolean } {
  const unexplained = model.unexplained(ops);
  // Leaving out a write also leaves out the reads that saw it: a witness never shows a read without
  // the write it read, only the writes it missed.
  // (A cas that saw a value left out is left out too, and then what read its value: until none is.)
  const explained = (subset: readonly Operation[]): Operation[] => {
    let kept = [...subset];
    for (let before = -1; before !== kept.length; ) {
      before = kept.length;
      const orphans = model.unexplained(kept);
      kept = kept.filter((op) => !orphans.has(op) || unexplained.has(op));
    }
    return kept;
  };
  const fails = (subset: readonly Operation[]): boolean => !search(subset, model, deadline, strategy);
  let current = [...ops].sort((a, b) => a.call - b.call);
  try {
    let low = 0;
    let high = current.length;
    while (low + 1 < high) {
      const middle = (low + high) >>> 1;
      if (fails(explained(current.slice(0, middle)))) high = middle;
      else low = middle;
    }
    current = explained(current.slice(0, high));
    // Halves, quarters, ... then single operations, again until none can go: no operation of the
    // witness can be left out.
    const leaveOut = (chunk: number): boolean => {
      let shrunk = false;
      for (let start = 0; start < current.length; ) {
        const without = explained([...current.slice(0, start), ...current.slice(start + chunk)]);
        if (without.length > 0 && fails(without)) {
          current = without;
          shrunk = true;
        } else start += chunk;
      }
      return shrunk;
    };
    for (let chunk = current.length >>> 1; chunk > 1; chunk >>>= 1) leaveOut(chunk);
    while (leaveOut(1)) {}
    return { witness: current, minimal: true };
  } catch (error) {
    if (!(error instanceof OutOfTime)) throw error;
    return { witness: current, minimal: false };
  }
}
