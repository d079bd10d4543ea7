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

/** Register values are JSON values, equal when their JSON texts are (`{"a":1}` equals a copy of it). */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Why `op` is not a register operation, or nothing. */
function problem(op: RegisterOperation): string | undefined {
  if (op.f === 'read' || op.f === 'write') return undefined;
  if (op.f !== 'cas') return `the register has no "${op.f}" (read, write or cas)`;
  if (!Array.isArray(op.value) || op.value.length !== 2) return 'a cas whose "value" is not [from, to]';
  if (op.status === 'ok' && typeof op.result !== 'boolean')
    return 'a cas whose ok has no "result": true or false';
  return undefined;
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
  const wrong = problem(op);
  if (wrong) throw new TypeError(`line ${op.callLine}: ${wrong}`);
  const info = op.status === 'info';
  switch (op.f) {
    case 'read':
      return info || same(state, op.output) ? { ok: true, state } : { ok: false };
    case 'write':
      return { ok: true, state: op.value };
    default: {
      const [from, to] = op.value as [unknown, unknown];
      const matches = same(state, from);
      if (info) return { ok: true, state: matches ? to : state };
      if (op.result === true) return { ok: true, state: to };
      return matches ? { ok: false } : { ok: true, state };
    }
  }
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
  const relevant = operations.filter((op) => op.status !== 'fail');
  for (const op of relevant) {
    const wrong = problem(op);
    if (wrong) throw new TypeError(`line ${op.callLine}: ${wrong}`);
  }
  const ops = relevant
    .filter((op) => !(op.status === 'info' && op.f === 'read'))
    .sort((a, b) => a.call - b.call);
  const placed = new Array<boolean>(ops.length).fill(false);
  const order: Op[] = [];
  const seen = new Set<string>();
  let okLeft = ops.filter((op) => op.status === 'ok').length;
  const budget = options.maxConfigurations ?? Number.POSITIVE_INFINITY;

  /** The earliest completion among the `ok` operations not yet placed (Infinity when none is left). */
  const horizon = (): number => {
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < ops.length; i++) {
      if (!placed[i] && ops[i]!.ret < earliest) earliest = ops[i]!.ret;
    }
    return earliest;
  };

  /** Places `ops[i]` if it fits `state` and leads to a configuration not seen yet, and searches on. */
  const tryPlacing = (i: number, state: unknown): boolean => {
    const op = ops[i]!;
    const step = applyRegister(state, op);
    if (!step.ok) return false;
    placed[i] = true;
    const key = `${placed.map(Number).join('')}|${JSON.stringify(step.state)}`;
    if (!seen.has(key)) {
      if (seen.size === budget) {
        throw new RangeError(`checkRegister: no verdict within maxConfigurations = ${budget} configurations`);
      }
      seen.add(key);
      order.push(op);
      if (op.status === 'ok') okLeft--;
      if (search(step.state)) return true;
      if (op.status === 'ok') okLeft++;
      order.pop();
    }
    placed[i] = false;
    return false;
  };

  /**
   * Tries every candidate: the `ok` operations first, then the `info` ones (which the search may as
   * well leave out: trying them last finds most linearizations sooner; either order is exact).
   */
  const search = (state: unknown): boolean => {
    if (okLeft === 0) return true;
    const limit = horizon();
    for (const status of ['ok', 'info'] as const) {
      for (let i = 0; i < ops.length && ops[i]!.call < limit; i++) {
        if (!placed[i] && ops[i]!.status === status && tryPlacing(i, state)) return true;
      }
    }
    return false;
  };

  const found = search(null);
  if (options.stats) options.stats.configurations = seen.size;
  return found ? { linearizable: true, order } : { linearizable: false };
}
