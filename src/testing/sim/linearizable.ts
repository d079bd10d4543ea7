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
}

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
      ok = search(partOps, model, deadline);
    } catch (error) {
      if (!(error instanceof OutOfTime)) throw error;
      timedOut = true;
      continue;
    }
    if (!ok) {
      const { witness, minimal } = shrink(partOps, model, deadline);
      return { verdict: 'not linearizable', part, witness, minimal };
    }
  }
  return timedOut ? { verdict: 'unknown' } : { verdict: 'linearizable' };
}

/** An event of the search's list: an operation's invoke or its completion. */
interface Entry {
  readonly op: Operation;
  /** The operation's index in the part being searched (its bit). */
  readonly bit: number;
  readonly isCall: boolean;
  readonly time: number;
  /** The call's completion entry (on a call entry). */
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

/** Builds the doubly linked list of invokes and completions in time order, behind a head sentinel. */
function eventList(ops: readonly Operation[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, bit) => {
    const ret: Entry = { op, bit, isCall: false, time: op.ret };
    entries.push({ op, bit, isCall: true, time: op.call, match: ret }, ret);
  });
  // Info completions all sit at Infinity: keep them after every finite event, in a stable order.
  entries.sort((a, b) => a.time - b.time || a.bit - b.bit || Number(b.isCall) - Number(a.isCall));
  const head = { isCall: false, time: Number.NEGATIVE_INFINITY, bit: -1 } as Entry;
  let last = head;
  for (const entry of entries) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

/** Takes a call and its completion out of the list. */
function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Puts back what {@link lift} took out (in reverse order). */
function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
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
}

/** A well-spread 32-bit word for a bit index (a murmur3 finalizer). */
function mix(n: number): number {
  let h = Math.imul(n + 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** True if `ops` can be linearized against `model`. @throws {OutOfTime} past the deadline */
function search<State>(ops: readonly Operation[], model: Model<State>, deadline: Deadline): boolean {
  const head = eventList(ops);
  const linearized = new BitSet(ops.length);
  const seen = new Map<string, Uint32Array[]>();
  const stack: { call: Entry; state: State }[] = [];
  let state = model.init();
  let entry = head.next;
  let explored = 0;
  while (entry) {
    if (++explored % CLOCK_EVERY === 0) deadline.check();
    if (entry.isCall) {
      const next = model.step(state, entry.op);
      if (next !== undefined) {
        linearized.flip(entry.bit);
        const key = `${linearized.hash}|${model.hash(next)}`;
        const configurations = seen.get(key);
        if (!configurations?.some((words) => linearized.equals(words))) {
          if (configurations) configurations.push(linearized.words.slice());
          else seen.set(key, [linearized.words.slice()]);
          stack.push({ call: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.flip(entry.bit);
      }
      entry = entry.next;
    } else {
      // The first completion in the list: its operation was not linearized before it completed.
      // An info operation's completion is past the end of the history: every ok one is linearized.
      if (entry.op.status === 'info') return true;
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      linearized.flip(top.call.bit);
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return true;
}

/**
 * Shrinks a non-linearizable part to a witness: first the shortest failing prefix (by invoke), then
 * chunks and then single operations left out while the rest still fails.
 */
function shrink<State>(
  ops: readonly Operation[],
  model: Model<State>,
  deadline: Deadline,
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
  const fails = (subset: readonly Operation[]): boolean => !search(subset, model, deadline);
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
