/**
 * A structured logger: one JSON object per line, levels, child loggers with bindings, fields from
 * the request context on every line, redaction of configured paths, and writes that never block the
 * event loop on a slow destination.
 *
 * **The line.** Every call that passes the level writes exactly one line: `JSON.stringify` of a
 * record, then `'\n'`. The record's fields, in this order:
 *
 * 1. `level` (the number from {@link LEVELS}), `time` (the clock's epoch ms), `pid`
 *    (`process.pid`), `hostname` (`os.hostname()`);
 * 2. the fields of `context()` (called once per line, only for lines that pass the level);
 * 3. the bindings of the logger and its ancestors (parent's first, a child's override);
 * 4. the fields of the object passed to the call (or `err` for an `Error` passed as the object);
 * 5. `msg`, only when there is a message.
 *
 * A key that appears in more than one source keeps the position of its first appearance and the
 * value of its last (the order of JavaScript's object spread): the call's object beats bindings,
 * bindings beat the context, a child's bindings beat its parent's. `level`, `time`, `pid`,
 * `hostname` and `msg` are the logger's: such keys in the context, bindings or object are ignored.
 * For plain values this is byte for byte the line pino 10 writes with the same `time`.
 *
 * **Values.** What `JSON.stringify` does, plus: an `Error` anywhere (the call's object, a field such
 * as `err`, inside an array) becomes `{ type, message, stack, ...its own enumerable fields, cause }`,
 * in that order, where `type` is its constructor's name (`TypeError`, `HttpError`; the error's `name`
 * when the constructor has none) and `cause` (when not `undefined`) is serialized the same
 * way, at most {@link MAX_CAUSE_DEPTH} causes deep (the next one is replaced by {@link TRUNCATED});
 * an object met again inside itself (a cycle) is replaced by {@link CIRCULAR} (an object that only
 * appears twice side by side is written twice); a BigInt becomes its decimal string (`"12"`); a
 * symbol becomes its description string (`"Symbol(id)"`); `undefined` and functions are left out of
 * objects (and become `null` in arrays, as in JSON). Serializing never throws for these. Strings are
 * JSON-escaped, so a message or a field holding `\n` or `\r` can never start a new line: log
 * injection through a message is impossible.
 *
 * **Redaction.** `redact` lists dot-separated paths from the top of the record (`'password'`,
 * `'req.headers.authorization'`, as deep as you like; array elements by index, no wildcards). The
 * value at a path that exists, whatever its type, is written as {@link REDACTED}; a path that does
 * not exist adds nothing. Redaction applies to the context's fields, bindings and the call's object
 * alike, and it works on the copy being written: the caller's objects are never modified.
 *
 * **Backpressure.** Lines go to `destination.write()` and nowhere else (never `fs.writeSync`, even
 * when the destination has a file descriptor). When `write()` returns `false`, the logger keeps the
 * next lines in its own buffer (in memory, at most `maxBufferedBytes` bytes of UTF-8) and writes them,
 * in order, after the destination's `'drain'`. A line that does not fit in the buffer is dropped (the
 * newest line is dropped; the older ones that explain how the burst began are kept) and counted in
 * `stats().dropped`. When the buffer has emptied after drops, the logger writes one summary line,
 * whatever its level:
 * `{"level":40,"time":…,"pid":…,"hostname":…,"dropped":N,"msg":"dropped N log lines: the destination was too slow"}`
 * where `N` counts the lines dropped since the previous summary. Nothing ever waits: no busy loop,
 * no synchronous write, no timer.
 *
 * **Destination errors.** The logger listens for the destination's `'error'`, so an error never
 * crashes the process; a `write()` that throws counts as an error too. From then on the logger writes nothing more: the lines in its buffer and
 * every later line are counted in `stats().dropped`, and `flush()` resolves.
 */
import os from 'node:os';

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** pino's level numbers. A logger writes the lines whose level number is at least its own. */
export const LEVELS: Readonly<Record<Level, number>> = Object.freeze({
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
});

/** What a redacted value is written as. */
export const REDACTED = '[Redacted]';
/** What an object met again inside itself is written as. */
export const CIRCULAR = '[Circular]';
/** What the cause after {@link MAX_CAUSE_DEPTH} causes is written as. */
export const TRUNCATED = '[Truncated]';
/** How many causes of an error are written: a chain of wrapped errors can be arbitrarily long. */
export const MAX_CAUSE_DEPTH = 10;
/** The default `maxBufferedBytes`: 1 MiB waits for a slow destination, no more. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;

export interface LoggerOptions {
  /** The lowest level written. Default `'info'`. Any other string throws a `RangeError` naming it. */
  readonly level?: Level;
  /** Where lines go, through `write()` only: `process.stdout`, a file stream, a socket. */
  readonly destination: NodeJS.WritableStream;
  /** Paths whose values are written as `'[Redacted]'`, e.g. `'req.headers.authorization'`. A path that is not a string, or has an empty segment (`''`, `'a..b'`), throws a `TypeError` naming it. */
  readonly redact?: readonly string[];
  /** Fields for every line, e.g. read from an `AsyncLocalStorage`: `requestId`, `traceId`, `spanId`. Called once per written line; `undefined` adds nothing. */
  readonly context?: () => Readonly<Record<string, unknown>> | undefined;
  /** The most bytes (UTF-8) the logger keeps while the destination is slow: a positive integer, default 1 MiB; anything else throws a `RangeError` naming `maxBufferedBytes`. */
  readonly maxBufferedBytes?: number;
  /** Epoch ms for `time`. Default `Date.now`. */
  readonly clock?: () => number;
}

/** A log method: `info('message')`, `info({ userId }, 'message')`, `info(error)`, `info(error, 'message')`. */
export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

export interface LogStats {
  /** Lines handed to `destination.write()` (summary lines not counted). */
  readonly written: number;
  /** Lines dropped: no room in the buffer, or the destination failed. */
  readonly dropped: number;
  /** Bytes of the lines waiting in the logger's buffer; never above `maxBufferedBytes`. */
  readonly bufferedBytes: number;
}

export interface Logger {
  /**
   * Writes a line at that level, or, below the logger's level, returns at once without reading the
   * arguments or calling `context()`. With a string: it is `msg` (no printf-style formatting). With
   * an object: its own enumerable fields, then `msg` if given. With an `Error`: the error serialized
   * as field `err`, and `msg` is the given message or else the error's `message`. A `null` (from
   * untyped code) adds no fields.
   */
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
  /**
   * A logger with these bindings added to every line (serialized and redacted now, at `child()`),
   * the same level, context, redaction and destination, and the same buffer and counters as its
   * parent: `stats()` and `flush()` of either see the lines of both.
   */
  child(bindings: Record<string, unknown>): Logger;
  /** Whether a line at `level` would be written. */
  isLevelEnabled(level: Level): boolean;
  /** Resolves once the buffer is empty and the destination has drained (or failed). */
  flush(): Promise<void>;
  stats(): LogStats;
}

const RESERVED = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/** A node of the redaction paths: `leaf` when the path ends here, `children` for longer paths. */
interface RedactNode {
  leaf: boolean;
  readonly children: Map<string, RedactNode>;
}

function redactTree(paths: readonly string[]): RedactNode | undefined {
  if (paths.length === 0) return undefined;
  const root: RedactNode = { leaf: false, children: new Map() };
  for (const path of paths) {
    if (typeof path !== 'string' || path.split('.').includes(''))
      throw new TypeError(`redact path ${JSON.stringify(path)} is not a dot-separated list of keys`);
    let node = root;
    for (const segment of path.split('.')) {
      let next = node.children.get(segment);
      if (next === undefined) {
        next = { leaf: false, children: new Map() };
        node.children.set(segment, next);
      }
      node = next;
    }
    node.leaf = true;
  }
  return root;
}

/**
 * Turns a value into one `JSON.stringify` can write as stated in the header: errors, cycles, BigInt,
 * symbols, redaction. `path` holds the objects being serialized around this one (to spot a cycle).
 */
function toJsonValue(
  value: unknown,
  redact: RedactNode | undefined,
  path: object[],
  causes: number,
): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
    case 'symbol':
      return value.toString();
    case 'undefined':
    case 'function':
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (path.includes(object)) return CIRCULAR;
  path.push(object);
  try {
    if (object instanceof Error) return errorToJson(object, redact, path, causes);
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toJsonValue(toJSON.call(object), redact, path, causes);
    if (Array.isArray(object)) {
      return Array.from(object, (item: unknown, i) => {
        const node = redact?.children.get(String(i));
        return node?.leaf ? REDACTED : (toJsonValue(item, node, path, causes) ?? null);
      });
    }
    const out: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(object)) {
      setField(out, key, (object as Record<string, unknown>)[key], redact, path, causes);
    }
    return out;
  } finally {
    path.pop();
  }
}

/** Writes `out[key]`: redacted or serialized (`undefined` is then left out by `JSON.stringify`). */
function setField(
  out: Record<string, unknown>,
  key: string,
  value: unknown,
  redact: RedactNode | undefined,
  path: object[],
  causes: number,
): void {
  const node = redact?.children.get(key);
  if (node?.leaf) {
    out[key] = REDACTED;
    return;
  }
  out[key] = toJsonValue(value, node, path, causes);
}

function errorToJson(error: Error, redact: RedactNode | undefined, path: object[], causes: number) {
  const out: Record<string, unknown> = Object.create(null);
  const type = (error.constructor as { name?: string } | undefined)?.name || error.name;
  setField(out, 'type', type, redact, path, causes);
  setField(out, 'message', error.message, redact, path, causes);
  setField(out, 'stack', error.stack, redact, path, causes);
  for (const key of Object.keys(error)) {
    if (key !== 'cause')
      setField(out, key, (error as unknown as Record<string, unknown>)[key], redact, path, causes);
  }
  if (error.cause !== undefined) {
    if (causes >= MAX_CAUSE_DEPTH) out.cause = TRUNCATED;
    else setField(out, 'cause', error.cause, redact, path, causes + 1);
  }
  return out;
}

/** Copies the fields of `source` (not the reserved ones) into the record, serialized and redacted. */
function mergeFields(record: Record<string, unknown>, source: object, redact: RedactNode | undefined): void {
  const path: object[] = [source];
  for (const key of Object.keys(source)) {
    if (RESERVED.has(key)) continue;
    setField(record, key, (source as Record<string, unknown>)[key], redact, path, 0);
  }
}

/**
 * The one buffer between every logger of a family and the destination: writes while the destination
 * accepts, buffers (bounded) while it is draining, drops and counts beyond that, and summarizes drops.
 */
class LineWriter {
  readonly #destination: NodeJS.WritableStream;
  readonly #maxBytes: number;
  readonly #summary: (dropped: number) => string;
  readonly #queue: string[] = [];
  #queueHead = 0;
  #bufferedBytes = 0;
  #waitingForDrain = false;
  #failed = false;
  #written = 0;
  #dropped = 0;
  #droppedSinceSummary = 0;
  #flushWaiters: (() => void)[] = [];

  constructor(destination: NodeJS.WritableStream, maxBytes: number, summary: (dropped: number) => string) {
    this.#destination = destination;
    this.#maxBytes = maxBytes;
    this.#summary = summary;
    destination.on('error', () => this.#fail());
  }

  push(line: string): void {
    if (this.#failed) {
      this.#dropped++;
      return;
    }
    if (!this.#waitingForDrain) {
      this.#written++;
      this.#write(line);
      return;
    }
    const bytes = Buffer.byteLength(line);
    if (this.#bufferedBytes + bytes > this.#maxBytes) {
      this.#dropped++;
      this.#droppedSinceSummary++;
      return;
    }
    this.#queue.push(line);
    this.#bufferedBytes += bytes;
  }

  stats(): LogStats {
    return { written: this.#written, dropped: this.#dropped, bufferedBytes: this.#bufferedBytes };
  }

  flush(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  #idle(): boolean {
    return this.#failed || (!this.#waitingForDrain && this.#bufferedBytes === 0);
  }

  /** Hands one line to the destination; on `false`, waits for `'drain'` before writing more. */
  #write(line: string): void {
    let accepted: boolean;
    try {
      accepted = this.#destination.write(line);
    } catch {
      this.#fail();
      return;
    }
    if (!accepted && !this.#failed) {
      this.#waitingForDrain = true;
      this.#destination.once('drain', this.#onDrain);
    }
  }

  readonly #onDrain = (): void => {
    this.#waitingForDrain = false;
    while (!this.#waitingForDrain && !this.#failed && this.#queueHead < this.#queue.length) {
      const line = this.#queue[this.#queueHead] as string;
      this.#queue[this.#queueHead++] = '';
      this.#bufferedBytes -= Buffer.byteLength(line);
      this.#written++;
      this.#write(line);
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
      if (this.#droppedSinceSummary > 0 && !this.#failed) {
        const dropped = this.#droppedSinceSummary;
        this.#droppedSinceSummary = 0;
        this.#write(this.#summary(dropped));
      }
    }
    this.#settleFlushes();
  };

  #fail(): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#dropped += this.#queue.length - this.#queueHead;
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#bufferedBytes = 0;
    this.#destination.removeListener('drain', this.#onDrain);
    this.#settleFlushes();
  }

  #settleFlushes(): void {
    if (!this.#idle() || this.#flushWaiters.length === 0) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** What every logger of a family shares. */
interface Core {
  readonly threshold: number;
  readonly clock: () => number;
  readonly pid: number;
  readonly hostname: string;
  readonly context: (() => Readonly<Record<string, unknown>> | undefined) | undefined;
  readonly redact: RedactNode | undefined;
  readonly writer: LineWriter;
}

class JsonLogger implements Logger {
  readonly #core: Core;
  /** The bindings of this logger and its ancestors, already serialized and redacted. */
  readonly #bindings: Record<string, unknown>;

  readonly trace: LogFn = (a: object | string, b?: string) => this.#log(LEVELS.trace, a, b);
  readonly debug: LogFn = (a: object | string, b?: string) => this.#log(LEVELS.debug, a, b);
  readonly info: LogFn = (a: object | string, b?: string) => this.#log(LEVELS.info, a, b);
  readonly warn: LogFn = (a: object | string, b?: string) => this.#log(LEVELS.warn, a, b);
  readonly error: LogFn = (a: object | string, b?: string) => this.#log(LEVELS.error, a, b);
  readonly fatal: LogFn = (a: object | string, b?: string) => this.#log(LEVELS.fatal, a, b);

  constructor(core: Core, bindings: Record<string, unknown>) {
    this.#core = core;
    this.#bindings = bindings;
  }

  child(bindings: Record<string, unknown>): Logger {
    const merged: Record<string, unknown> = Object.assign(Object.create(null), this.#bindings);
    mergeFields(merged, bindings, this.#core.redact);
    return new JsonLogger(this.#core, merged);
  }

  isLevelEnabled(level: Level): boolean {
    return LEVELS[level] >= this.#core.threshold;
  }

  flush(): Promise<void> {
    return this.#core.writer.flush();
  }

  stats(): LogStats {
    return this.#core.writer.stats();
  }

  #log(level: number, a: object | string, b: string | undefined): void {
    const core = this.#core;
    if (level < core.threshold) return;
    const record: Record<string, unknown> = Object.create(null);
    record.level = level;
    record.time = core.clock();
    record.pid = core.pid;
    record.hostname = core.hostname;
    const context = core.context?.();
    if (context) mergeFields(record, context, core.redact);
    Object.assign(record, this.#bindings);
    let msg = b;
    if (typeof a === 'string') msg = a;
    else if (a instanceof Error) {
      mergeFields(record, { err: a }, core.redact);
      msg ??= a.message;
    } else if (a !== null) mergeFields(record, a, core.redact);
    record.msg = msg;
    core.writer.push(`${JSON.stringify(record)}\n`);
  }
}

/** Creates a logger; see the file's header for the line, the values, redaction and backpressure. */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? 'info';
  if (!Object.hasOwn(LEVELS, level))
    throw new RangeError(`level ${JSON.stringify(level)} is not one of ${Object.keys(LEVELS).join(', ')}`);
  const maxBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)
    throw new RangeError(`maxBufferedBytes must be a positive integer, got ${maxBytes}`);
  const clock = options.clock ?? Date.now;
  const pid = process.pid;
  const hostname = os.hostname();
  const summary = (dropped: number) =>
    `${JSON.stringify({
      level: LEVELS.warn,
      time: clock(),
      pid,
      hostname,
      dropped,
      msg: `dropped ${dropped} log lines: the destination was too slow`,
    })}\n`;
  const core: Core = {
    threshold: LEVELS[level],
    clock,
    pid,
    hostname,
    context: options.context,
    redact: redactTree(options.redact ?? []),
    writer: new LineWriter(options.destination, maxBytes, summary),
  };
  return new JsonLogger(core, Object.create(null));
}
