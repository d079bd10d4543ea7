/**
 * Histories of a register shared by several clients, generated from a seed: a correct register
 * (every operation takes effect at one instant between its invoke and its completion, so the history
 * is linearizable by construction) or a broken one whose reads sometimes return a stale value (one
 * that a write had replaced, where that write began after the value's own write had completed and
 * completed before the read began: no order explains it). Some operations fail before taking
 * effect, some complete as `info` (taken effect or not), and the last ones never complete.
 */

import { seededRandom } from '../prng.js';

/** What to generate: how many operations by how many clients, and how the register misbehaves. */
export interface RegisterHistoryOptions {
  readonly seed: number;
  /** Operations invoked in all. */
  readonly operations: number;
  readonly processes: number;
  /** Chance that a read returns a stale value when one exists (0: a correct register). */
  readonly staleReads?: number;
  /** Chance that a completion is `info` (or `fail`, before the effect). */
  readonly indeterminate?: number;
}

/** A generated history and how many violations were planted in it. */
export interface GeneratedHistory {
  /** The history as JSON lines. */
  readonly jsonl: string;
  /** How many reads returned a stale value and completed `ok` (each one a violation). */
  readonly staleReads: number;
}

interface Invocation {
  readonly process: number;
  readonly f: 'read' | 'write' | 'cas';
  readonly value: unknown;
  readonly invokedAt: number;
  applied: boolean;
  output?: unknown;
  result?: boolean;
  stale?: boolean;
  okAt?: number;
}

/** A value the register held: who wrote it and, once replaced, who replaced it. */
interface Held {
  readonly value: unknown;
  readonly writer: Invocation | 'initial';
  replacer?: Invocation;
}

/** Generates a register history; the same options give the same history. */
export function registerHistory(options: RegisterHistoryOptions): GeneratedHistory {
  const { seed, operations, processes, staleReads = 0, indeterminate = 0.05 } = options;
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const lines: string[] = [];
  const emit = (event: object): void => {
    lines.push(JSON.stringify(event));
  };
  const pending = new Map<number, Invocation>();
  const held: Held[] = [{ value: null, writer: 'initial' }];
  let next = 1;
  let invoked = 0;
  let stale = 0;
  const current = (): Held => held[held.length - 1]!;
  const replace = (value: unknown, op: Invocation): void => {
    current().replacer = op;
    held.push({ value, writer: op });
  };
  /** A value no order can give a read invoked at `at`: see the module's comment. */
  const staleValue = (at: number): Held | undefined => {
    const candidates = held.filter(({ writer, replacer }) => {
      const written = writer === 'initial' ? -1 : writer.okAt;
      return (
        written !== undefined &&
        replacer?.okAt !== undefined &&
        replacer.invokedAt > written &&
        replacer.okAt < at
      );
    });
    return candidates[pick(candidates.length)];
  };
  while (invoked < operations) {
    const process = pick(processes);
    const op = pending.get(process);
    if (!op) {
      const roll = random();
      const f = roll < 0.5 ? 'read' : roll < 0.8 ? 'write' : 'cas';
      const value =
        f === 'read'
          ? null
          : f === 'write'
            ? next++
            : [random() < 0.6 ? current().value : pick(next), next++];
      pending.set(process, { process, f, value, invokedAt: lines.length, applied: false });
      emit({ process, type: 'invoke', f, value });
      invoked++;
    } else if (!op.applied) {
      if (random() < indeterminate) {
        // Completes before taking effect: certainly not (fail), or unknown to the client (info).
        emit({ process, type: random() < 0.5 ? 'fail' : 'info', f: op.f, value: op.value });
        pending.delete(process);
      } else if (random() < 0.5) {
        op.applied = true;
        if (op.f === 'read') {
          const old = random() < staleReads ? staleValue(op.invokedAt) : undefined;
          op.output = (old ?? current()).value;
          op.stale = old !== undefined;
        } else if (op.f === 'write') replace(op.value, op);
        else {
          const [from, to] = op.value as [unknown, unknown];
          op.result = current().value === from;
          if (op.result) replace(to, op);
        }
      }
    } else if (random() < 0.5) {
      pending.delete(process);
      if (random() < indeterminate) {
        emit({ process, type: 'info', f: op.f, value: op.value });
      } else {
        op.okAt = lines.length;
        if (op.stale) stale++;
        const value = op.f === 'read' ? op.output : op.value;
        emit({ process, type: 'ok', f: op.f, value, ...(op.f === 'cas' ? { result: op.result } : {}) });
      }
    }
  }
  return { jsonl: `${lines.join('\n')}\n`, staleReads: stale };
}
