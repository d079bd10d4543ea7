/**
 * Maelstrom's counter rule (`g-counter`, `pn-counter` workloads): every final read must equal the sum
 * of the `ok` adds plus the deltas of some subset of the indeterminate (`info`) adds, each of which
 * may or may not have taken effect. A `fail`ed add certainly did not.
 *
 * The acceptable set is computed exactly as Maelstrom's `pn_counter.clj` does with a `TreeRangeSet`:
 * start from `{okSum}`, and for each `info` delta `d` add a copy of the set shifted by `d`; the result
 * is kept as sorted, disjoint, inclusive integer ranges. With non-negative deltas (a g-counter) that is
 * within `[okSum, okSum + Σ info]`; with negative deltas the bounds are `okSum + Σ negative info` and
 * `okSum + Σ positive info`, taken separately, and not every value between them need be acceptable
 * (ok 0 with info adds of -5 and +5 accepts -5, 0 and 5, not 1). {@link CounterVerdict.bounds} gives
 * those two bounds; {@link CounterVerdict.acceptable} the exact set.
 */

import type { Operation } from './history.js';

/** An inclusive integer range `[low, high]`. */
export type Range = readonly [number, number];

/** What {@link checkCounter} found. */
export interface CounterVerdict {
  /** Every final read is in the acceptable set. */
  readonly valid: boolean;
  /** The sum of the `ok` adds' deltas. */
  readonly okSum: number;
  /** `[okSum + Σ negative info deltas, okSum + Σ positive info deltas]`. */
  readonly bounds: Range;
  /** The acceptable final values, as sorted, disjoint, inclusive ranges. */
  readonly acceptable: readonly Range[];
  /** The reads judged. */
  readonly finalReads: readonly Operation[];
  /** The final reads whose value is not acceptable. */
  readonly errors: readonly Operation[];
}

/** Which operations are adds and reads, and which reads are final. */
export interface CounterOptions {
  /** The add operation's `f`; its invoke's `value` is the delta. Default `add`. */
  readonly add?: string;
  /** The read operation's `f`; its `ok`'s value is what it read. Default `read`. */
  readonly read?: string;
  /**
   * Whether an `ok` read is a final one (Maelstrom marks them `final?`). Default: a read invoked after
   * every add had completed (an `info` add never completes, so it does not hold reads back).
   */
  readonly isFinal?: (read: Operation, ops: readonly Operation[]) => boolean;
}

/** Merges ranges that overlap or touch (integers: `[1, 2]` and `[3, 4]` are `[1, 4]`). */
function normalize(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [low, high] of sorted) {
    const last = merged.at(-1);
    if (last && low <= last[1] + 1) last[1] = Math.max(last[1], high);
    else merged.push([low, high]);
  }
  return merged;
}

/**
 * The sums `okSum + Σ S` over every subset `S` of `infoDeltas`, as sorted, disjoint, inclusive ranges.
 * @throws {TypeError} if a value is not an integer (ranges of integers merge when they touch)
 */
export function acceptableSums(okSum: number, infoDeltas: readonly number[]): Range[] {
  for (const value of [okSum, ...infoDeltas]) {
    if (!Number.isSafeInteger(value)) throw new TypeError(`counter deltas must be integers, got ${value}`);
  }
  let ranges: Range[] = [[okSum, okSum]];
  for (const delta of infoDeltas) {
    if (delta === 0) continue;
    ranges = normalize([...ranges, ...ranges.map(([low, high]): Range => [low + delta, high + delta])]);
  }
  return ranges;
}

/** Whether `value` lies in one of `ranges`. */
function contains(ranges: readonly Range[], value: unknown): boolean {
  return typeof value === 'number' && ranges.some(([low, high]) => value >= low && value <= high);
}

/**
 * Checks a counter history (as `pairOperations` gives it) against Maelstrom's rule.
 * @throws {TypeError} if an add's delta is not an integer
 */
export function checkCounter(ops: readonly Operation[], options: CounterOptions = {}): CounterVerdict {
  const { add = 'add', read = 'read' } = options;
  const adds = ops.filter((op) => op.f === add);
  const deltaOf = (op: Operation): number => {
    if (!Number.isSafeInteger(op.value)) {
      throw new TypeError(
        `line ${op.callLine}: an ${add}'s value must be an integer delta, got ${JSON.stringify(op.value)}`,
      );
    }
    return op.value as number;
  };
  const okSum = adds.filter((op) => op.status === 'ok').reduce((sum, op) => sum + deltaOf(op), 0);
  const infoDeltas = adds.filter((op) => op.status === 'info').map(deltaOf);
  const lastAdd = Math.max(-1, ...adds.filter((op) => op.status === 'ok').map((op) => op.ret));
  const isFinal = options.isFinal ?? ((op: Operation) => op.call > lastAdd);
  const finalReads = ops.filter((op) => op.f === read && op.status === 'ok' && isFinal(op, ops));
  const acceptable = acceptableSums(okSum, infoDeltas);
  const errors = finalReads.filter((op) => !contains(acceptable, op.output));
  const negative = infoDeltas.filter((delta) => delta < 0).reduce((sum, delta) => sum + delta, 0);
  const positive = infoDeltas.filter((delta) => delta > 0).reduce((sum, delta) => sum + delta, 0);
  return {
    valid: errors.length === 0,
    okSum,
    bounds: [okSum + negative, okSum + positive],
    acceptable,
    finalReads,
    errors,
  };
}
