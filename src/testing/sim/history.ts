/**
 * Client histories as Jepsen records them: JSON lines, one event each, in the order they happened.
 * A process invokes an operation (`{"process":0,"type":"invoke","f":"write","value":3}`) and later
 * completes it: `ok` (it took effect; a read's `ok` carries the value read), `fail` (it certainly did
 * not take effect) or `info` (unknown: it may take effect at any point after its invoke, or never).
 * An invoke that never completes counts as `info`. Events of the process `"nemesis"` (Jepsen's fault
 * injector) are not client operations and are skipped.
 *
 * This module parses the lines and pairs each invoke with its completion into an {@link Operation};
 * what the values mean is the model's business (`models.ts`).
 */

/** A client's name: Jepsen numbers them, other recorders name them. */
export type Process = number | string;

/** One line of a history. */
export interface HistoryEvent {
  readonly process: Process;
  readonly type: 'invoke' | 'ok' | 'fail' | 'info';
  /** The operation's name: `read`, `write`, `cas`, `get`, `put`, `append`. */
  readonly f: string;
  /** An invoke's argument, or an `ok`'s return value (a read's value). */
  readonly value?: unknown;
  /** The key, for the `kv` model. */
  readonly key?: unknown;
  /** A `cas` completion's outcome: `true` if it swapped, `false` if the compare did not match. */
  readonly result?: unknown;
  /** The 1-based line of the file the event came from. */
  readonly line: number;
}

/**
 * One invoke paired with its completion. `call` and `ret` are positions in the history (event
 * indices), so `a.ret < b.call` means a finished before b began; an `info` operation's `ret` is
 * `Infinity`. Operations that completed with `fail` are not operations: they never took effect.
 */
export interface Operation {
  /** Its index in the array {@link pairOperations} returns. */
  readonly id: number;
  readonly process: Process;
  readonly f: string;
  readonly key?: unknown;
  /** The invoke's value (what a write writes, a cas's `[from, to]`). */
  readonly value: unknown;
  /** The `ok` completion's value (what a read read); `undefined` for `info`. */
  readonly output: unknown;
  /** The `ok` completion's `result` (a cas's outcome); `undefined` for `info`. */
  readonly result: unknown;
  readonly status: 'ok' | 'info';
  readonly call: number;
  readonly ret: number;
  /** File lines of the invoke and of the completion (none for an invoke that never completed). */
  readonly callLine: number;
  readonly retLine?: number;
}

/** A history that cannot be read or paired; `line` is the 1-based line at fault. */
export class HistoryError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'HistoryError';
    this.line = line;
  }
}

const TYPES = new Set(['invoke', 'ok', 'fail', 'info']);

/** The process Jepsen gives its fault injector: its events are not client operations. */
const NEMESIS = 'nemesis';

/**
 * Parses JSON lines into events; blank lines are skipped.
 * @throws {HistoryError} on a line that is not a JSON object with a `process` (number or string), a
 *   `type` (`invoke`, `ok`, `fail` or `info`) and an `f` (string), naming the line and what is wrong
 */
export function parseHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    const source = lines[index]!.trim();
    if (source === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(source);
    } catch (error) {
      throw new HistoryError(line, `not JSON (${(error as Error).message}): ${clip(source)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new HistoryError(line, `expected a JSON object, got ${clip(source)}`);
    }
    const event = parsed as Record<string, unknown>;
    const { process, type, f } = event;
    if (typeof process !== 'number' && typeof process !== 'string') {
      throw new HistoryError(
        line,
        `"process" must be a number or a string, got ${clip(JSON.stringify(process))}`,
      );
    }
    if (typeof type !== 'string' || !TYPES.has(type)) {
      throw new HistoryError(
        line,
        `"type" must be "invoke", "ok", "fail" or "info", got ${clip(JSON.stringify(type))}`,
      );
    }
    if (typeof f !== 'string') {
      throw new HistoryError(line, `"f" must be a string, got ${clip(JSON.stringify(f))}`);
    }
    events.push({
      process,
      type: type as HistoryEvent['type'],
      f,
      value: event.value,
      key: event.key,
      result: event.result,
      line,
    });
  }
  return events;
}

/**
 * Pairs each invoke with the next completion of the same process, in history order; `fail`ed
 * operations are dropped, and an invoke with no completion becomes `info`.
 * @throws {HistoryError} on a completion with no invoke pending for its process, a completion whose
 *   `f` differs from its invoke's, or an invoke by a process that still has one pending
 */
export function pairOperations(events: readonly HistoryEvent[]): Operation[] {
  interface Pending {
    readonly invoke: HistoryEvent;
    readonly call: number;
  }
  const pending = new Map<Process, Pending>();
  const paired: Omit<Operation, 'id'>[] = [];
  events.forEach((event, position) => {
    if (event.process === NEMESIS) return;
    const open = pending.get(event.process);
    if (event.type === 'invoke') {
      if (open) {
        throw new HistoryError(
          event.line,
          `process ${event.process} invokes ${event.f} while its ${open.invoke.f} invoked at line ${open.invoke.line} has not completed`,
        );
      }
      pending.set(event.process, { invoke: event, call: position });
      return;
    }
    if (!open) {
      throw new HistoryError(
        event.line,
        `${event.type} ${event.f} by process ${event.process}, which has no invoke pending`,
      );
    }
    if (open.invoke.f !== event.f) {
      throw new HistoryError(
        event.line,
        `process ${event.process} completes ${event.f}, but its invoke at line ${open.invoke.line} was ${open.invoke.f}`,
      );
    }
    pending.delete(event.process);
    if (event.type === 'fail') return;
    const ok = event.type === 'ok';
    paired.push({
      process: event.process,
      f: event.f,
      key: open.invoke.key,
      value: open.invoke.value,
      output: ok ? event.value : undefined,
      result: ok ? event.result : undefined,
      status: ok ? 'ok' : 'info',
      call: open.call,
      ret: ok ? position : Number.POSITIVE_INFINITY,
      callLine: open.invoke.line,
      ...(ok ? { retLine: event.line } : {}),
    });
  });
  for (const { invoke, call } of pending.values()) {
    paired.push({
      process: invoke.process,
      f: invoke.f,
      key: invoke.key,
      value: invoke.value,
      output: undefined,
      result: undefined,
      status: 'info',
      call,
      ret: Number.POSITIVE_INFINITY,
      callLine: invoke.line,
    });
  }
  return paired.sort((a, b) => a.call - b.call).map((operation, id) => ({ ...operation, id }));
}

/**
 * Draws operations as a text timeline, one row per process, time running left to right: each
 * operation is a bar from its invoke to its completion, labelled by `describe`; an `info`
 * operation's bar runs off the right edge (`...`). Only the order of the events is drawn, not their
 * spacing: a bar that ends left of another's start finished before the other began.
 */
export function drawTimeline(operations: readonly Operation[], describe: (op: Operation) => string): string {
  if (operations.length === 0) return '';
  const labels = new Map(
    operations.map((op) => [op, ` ${describe(op)}${op.status === 'info' ? ' ?' : ''} `]),
  );
  const times = [...new Set(operations.flatMap((op) => [op.call, op.ret]))].sort((a, b) => a - b);
  const rank = new Map(times.map((time, index) => [time, index]));
  const slot = Math.max(...[...labels.values()].map((label) => label.length)) + 2;
  const processes = [...new Set(operations.map((op) => op.process))].sort((a, b) =>
    String(a).localeCompare(String(b), 'en', { numeric: true }),
  );
  const names = processes.map((process) => `process ${process}`);
  const margin = Math.max(...names.map((name) => name.length)) + 2;
  const width = times.length * slot;
  const rows = processes.map((process, index) => {
    const row = Array.from({ length: width }, () => ' ');
    for (const op of operations) {
      if (op.process !== process) continue;
      const start = rank.get(op.call)! * slot;
      const open = op.ret === Number.POSITIVE_INFINITY;
      const end = open ? width - 1 : rank.get(op.ret)! * slot;
      const label = labels.get(op)!;
      row[start] = '[';
      for (let x = start + 1; x < end; x++) row[x] = '-';
      for (let x = 0; x < label.length && start + 1 + x < end; x++) row[start + 1 + x] = label[x]!;
      if (open) row.splice(end - 2, 3, '.', '.', '.');
      else row[end] = ']';
    }
    return `${names[index]!.padEnd(margin)}${row.join('').trimEnd()}`;
  });
  return rows.join('\n');
}

/** A line of input cut short for an error message. */
function clip(text: string | undefined): string {
  const shown = text ?? 'nothing';
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}
