/**
 * A linearizability checker for one register (read, write, cas): is there an order of the
 * operations, each taking effect at one instant between its invoke and its completion, in which a
 * plain sequential register explains every result the clients saw? (Herlihy & Wing, 1990.)
 *
 * **The search** is Wing & Gong's (1993). A *linearization* is built one operation at a time, front
 * to back. The operation put next must be one that nothing pending has to precede: an operation that
 * completed (`ok`) before another was invoked must come first, so the candidates are the operations
 * not yet placed whose invoke came before the earliest completion of the `ok` operations not yet
 * placed. Each candidate is tried against the register ({@link applyRegister}); one that fits is
 * placed and the search goes on from there, and when every candidate fails the search backtracks to
 * the last choice. It succeeds once every `ok` operation is placed: the `info` operations left over
 * are the ones that never took effect.
 *
 * **The memo** is Lowe's (2017, "Testing for linearizability"; Porcupine and Knossos do the same): the
 * future of the search depends only on *which* operations are placed and on the register's value,
 * not on the order they were placed in, so a configuration (placed set, value) reached once is never
 * explored again. Seven overlapping writes can be ordered in 5,040 ways but reach only 127 placed
 * sets: the memo turns the permutations into subsets.
 *
 * The kit's `check` (`src/testing/sim/linearizable.ts`) does the same with more machinery (any model,
 * a kv store split by key, a minimal witness, a time limit, a compact memo); this one is the core.
 * The operations come from the kit too: `pairOperations(parseHistory(jsonl))`
 * (`src/testing/sim/history.ts`) pairs a recorded history's invokes and completions into the
 * `Operation`s this checker takes. (This file imports nothing: an exercise's files may import only
 * their own folder, so {@link RegisterOperation} names the fields of the kit's `Operation` it reads.)
 *
 * Run the suite with `npm test -- 12/linearizability`; `npm run hint -- 12/linearizability` when stuck.
 */

/**
 * One operation of a history: an invoke paired with its completion, as the kit's `pairOperations`
 * makes it (its `Operation` has these fields and more). `call` and `ret` are positions in the history
 * (event indices), so `a.ret < b.call` means `a` completed before `b` was invoked.
 */
export interface RegisterOperation {
  /** `read`, `write` or `cas`. */
  readonly f: string;
  /** The invoke's value: what a write writes, a cas's `[from, to]`. */
  readonly value: unknown;
  /** What an `ok` read read. */
  readonly output: unknown;
  /** An `ok` cas's outcome: `true` if it swapped, `false` if the register did not hold `from`. */
  readonly result: unknown;
  /**
   * `ok`: it took effect, once, between `call` and `ret`. `info`: unknown; it took effect once at
   * some point after `call`, or never (`ret` is `Infinity`). `fail`: it certainly never took effect
   * (`pairOperations` drops these; a checker given one ignores it).
   */
  readonly status: 'ok' | 'info' | 'fail';
  readonly call: number;
  readonly ret: number;
  /** The history line of the invoke, for error messages. */
  readonly callLine: number;
}

/** One step of the sequential register: the value after `op`, or `ok: false` if `op`'s result cannot be. */
export type RegisterStep = { readonly ok: true; readonly state: unknown } | { readonly ok: false };

/** What the checker concluded. */
export type RegisterVerdict<Op extends RegisterOperation = RegisterOperation> =
  | {
      readonly linearizable: true;
      /**
       * A linearization: every `ok` operation once, and the `info` operations the search chose to let
       * take effect, in the order they took effect (the objects given, not copies).
       */
      readonly order: readonly Op[];
    }
  | { readonly linearizable: false };

/** What the search did, for the curious and for the tests of its work bound. */
export interface SearchStats {
  /**
   * Configurations explored: each distinct (set of operations placed, register value) the search
   * reached by placing one more operation counts once; the empty start does not count.
   */
  configurations: number;
}

export interface CheckOptions {
  /** Filled in (its `configurations` set) when the search ends with a verdict. */
  readonly stats?: SearchStats;
  /**
   * A budget: the search throws a `RangeError` (naming the budget) rather than explore more than this
   * many configurations. Default: no limit. A search is synchronous, so a time limit could not stop
   * it; this can (the suite uses it to fail fast on a search that explodes).
   */
  readonly maxConfigurations?: number;
}

/**
 * The sequential register, one operation at a time, from `state` (the value it holds).
 * - `read`: fits if it read `state` (an `info` read fits any state); the state stays.
 * - `write`: always fits; the state becomes its value.
 * - `cas` with value `[from, to]`: `result: true` fits only if `state` equals `from`, and the state
 *   becomes `to`; `result: false` fits only if `state` differs from `from`, and the state stays. An
 *   `info` cas (outcome unknown) always fits: it swaps if `state` equals `from`, else changes nothing.
 * Values are compared as JSON: equal when `JSON.stringify` gives the same text.
 * @throws {TypeError} for an `f` other than read, write, cas, a cas whose value is not `[from, to]`,
 *   or an `ok` cas without a boolean `result`; the message names what is wrong
 */
export function applyRegister(state: unknown, op: RegisterOperation): RegisterStep {
  throw new Error(
    'not implemented: applyRegister() in exercises/12-distributed/linearizability/register-checker.ts',
  );
}

/**
 * Searches for a linearization of `operations` on a register that starts at `null`.
 * - An `ok` operation took effect exactly once, at an instant between its `call` and its `ret`.
 * - An `info` operation took effect once at an instant after its `call`, or never; an `info` read
 *   constrains nothing (it is left out of the order).
 * - A `fail` operation never took effect: it is ignored (and never in the order).
 * - Real-time order: if `a.ret < b.call`, `a` comes before `b`.
 * Each configuration (operations placed, register value) is explored at most once, so the work is
 * bounded by the number of distinct configurations, not by the number of orders; `options.stats`
 * reports the count.
 * @throws {TypeError} as {@link applyRegister} does, for any operation but a `fail`, before searching
 * @throws {RangeError} when the search would explore more than `options.maxConfigurations`
 */
export function checkRegister<Op extends RegisterOperation>(
  operations: readonly Op[],
  options: CheckOptions = {},
): RegisterVerdict<Op> {
  throw new Error(
    'not implemented: checkRegister() in exercises/12-distributed/linearizability/register-checker.ts',
  );
}
