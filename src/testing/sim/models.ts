/**
 * Sequential specifications the linearizability checker tests histories against: what each operation
 * does to the object's state, and whether what a client saw fits. Two models, as Jepsen's and
 * Maelstrom's workloads use them: `register` (one value) and `kv` (a map of string registers that
 * are checked key by key).
 */
import type { Operation } from './history.js';

/**
 * A sequential object. `step` answers "can `op` take effect in `state`, and what state follows?";
 * for an `info` operation (its outcome unknown) it must answer as if the operation took effect and
 * nobody saw its result, so it never refuses a write and a cas whose compare fails leaves the state
 * as it was.
 */
export interface Model<State> {
  readonly name: string;
  /** The state before any operation. */
  init(): State;
  /** The state after `op`, or `undefined` if `op`'s recorded outcome is impossible in `state`. */
  step(state: State, op: Operation): State | undefined;
  /** A string equal for equal states and different for different ones (the memo's key). */
  hash(state: State): string;
  /** Why `op` is malformed for this model (a missing key, a cas without `[from, to]`), or nothing. */
  problem(op: Operation): string | undefined;
  /** Whether `op` changes nothing, so that if its outcome is unknown it can be left out. */
  readOnly(op: Operation): boolean;
  /** Splits a history into independent parts checked one by one (`kv`: one per key), labelled. */
  partition(ops: readonly Operation[]): Map<string, Operation[]>;
  /**
   * The operations in `ops` that saw a value none of `ops` could have produced (a read of 3 with no
   * write of 3). The shrinker keeps a witness's reads explained, so that it shows the writes a stale
   * read missed instead of a lone read.
   */
  unexplained(ops: readonly Operation[]): Set<Operation>;
  /** A short label for a timeline: `write 3`, `read → 3`, `cas 1→2 ✗`. */
  describe(op: Operation): string;
}

/** The whole history is one part. */
function whole(ops: readonly Operation[]): Map<string, Operation[]> {
  return new Map([['', [...ops]]]);
}

/** Equality of JSON values (what a register can hold): same type and same JSON text. */
function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? 'undefined';
}

/** A register value the model accepts: any JSON value but `undefined` (a missing field). */
function isValue(value: unknown): boolean {
  return value !== undefined;
}

/**
 * One register holding a JSON value, initially `null`. `read` (its `ok` carries the value read),
 * `write` with its value, `cas` with `value: [from, to]` whose `ok` carries `result: true` (it
 * swapped) or `false` (the register did not hold `from`, which the model checks).
 */
export const register: Model<unknown> = {
  name: 'register',
  init: () => null,
  step(state, op) {
    switch (op.f) {
      case 'read':
        return op.status === 'info' || same(state, op.output) ? state : undefined;
      case 'write':
        return op.value;
      case 'cas': {
        const [from, to] = op.value as [unknown, unknown];
        const matches = same(state, from);
        if (op.status === 'info') return matches ? to : state;
        if (op.result === true) return matches ? to : undefined;
        return matches ? undefined : state;
      }
      default:
        return undefined;
    }
  },
  hash: (state) => show(state),
  problem(op) {
    switch (op.f) {
      case 'read':
        return op.status === 'ok' && !isValue(op.output) ? 'a read whose ok has no "value"' : undefined;
      case 'write':
        return isValue(op.value) ? undefined : 'a write with no "value"';
      case 'cas':
        if (!Array.isArray(op.value) || op.value.length !== 2) return 'a cas whose "value" is not [from, to]';
        if (op.status === 'ok' && typeof op.result !== 'boolean') {
          return 'a cas whose ok has no "result": true or false';
        }
        return undefined;
      default:
        return `the register model has no "${op.f}" (read, write or cas)`;
    }
  },
  readOnly: (op) => op.f === 'read',
  unexplained(ops) {
    // The values some order could put in the register: null, what is written, and what a cas
    // (swapped or info) could swap in from a value that could be there.
    const possible = new Set([show(null)]);
    const swaps = ops
      .filter((op) => op.f === 'cas' && op.result !== false)
      .map((op) => op.value as unknown[]);
    for (const op of ops) if (op.f === 'write') possible.add(show(op.value));
    for (let before = 0; before !== possible.size; ) {
      before = possible.size;
      for (const [from, to] of swaps) if (possible.has(show(from))) possible.add(show(to));
    }
    const seen = (op: Operation): unknown =>
      op.status !== 'ok'
        ? null
        : op.f === 'read'
          ? op.output
          : op.f === 'cas' && op.result
            ? (op.value as unknown[])[0]
            : null;
    return new Set(ops.filter((op) => !possible.has(show(seen(op)))));
  },
  partition: whole,
  describe(op) {
    switch (op.f) {
      case 'read':
        return op.status === 'ok' ? `read → ${show(op.output)}` : 'read';
      case 'cas': {
        const [from, to] = op.value as [unknown, unknown];
        const outcome = op.status === 'ok' ? (op.result ? ' ✓' : ' ✗') : '';
        return `cas ${show(from)}→${show(to)}${outcome}`;
      }
      default:
        return `${op.f} ${show(op.value)}`;
    }
  },
};

/**
 * One string register of a key-value store, initially `""`: `get` (its `ok` carries the value),
 * `put` and `append` with a string `value`. {@link kv} checks one per key.
 */
const keyRegister: Omit<Model<string>, 'partition'> = {
  name: 'kv',
  init: () => '',
  step(state, op) {
    switch (op.f) {
      case 'get':
        return op.status === 'info' || state === op.output ? state : undefined;
      case 'put':
        return op.value as string;
      case 'append':
        return state + (op.value as string);
      default:
        return undefined;
    }
  },
  hash: (state) => state,
  problem(op) {
    if (typeof op.key !== 'string') return `a ${op.f} with no string "key"`;
    switch (op.f) {
      case 'get':
        return op.status === 'ok' && typeof op.output !== 'string'
          ? 'a get whose ok has no string "value"'
          : undefined;
      case 'put':
      case 'append':
        return typeof op.value === 'string' ? undefined : `a ${op.f} with no string "value"`;
      default:
        return `the kv model has no "${op.f}" (get, put or append)`;
    }
  },
  readOnly: (op) => op.f === 'get',
  unexplained(ops) {
    // Roughly: a value read must start with a put's value or end with an appended one.
    const puts = ops.filter((op) => op.f === 'put').map((op) => op.value as string);
    const appends = ops.filter((op) => op.f === 'append').map((op) => op.value as string);
    const explained = (value: string): boolean =>
      value === '' ||
      puts.some((put) => value.startsWith(put)) ||
      appends.some((tail) => value.endsWith(tail));
    return new Set(
      ops.filter((op) => op.f === 'get' && op.status === 'ok' && !explained(op.output as string)),
    );
  },
  describe(op) {
    const key = show(op.key);
    if (op.f === 'get') return op.status === 'ok' ? `get ${key} → ${show(op.output)}` : `get ${key}`;
    return `${op.f} ${key} ${show(op.value)}`;
  },
};

/**
 * A map from string keys to string registers, every key initially `""`. Keys are independent, so a
 * history is linearizable when each key's sub-history is, and each is checked alone (much faster).
 */
export const kv: Model<string> = {
  ...keyRegister,
  partition(ops) {
    const byKey = new Map<string, Operation[]>();
    for (const op of ops) {
      const key = String(op.key);
      const part = byKey.get(key);
      if (part) part.push(op);
      else byKey.set(key, [op]);
    }
    return byKey;
  },
};

/** The models by name, as the CLI's `--model` names them. */
export const models = { register, kv } as const satisfies Record<string, Model<any>>;
