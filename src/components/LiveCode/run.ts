/**
 * Runs one ```ts live block: strips the TypeScript with sucrase (the same transformer react-live
 * already ships, so no extra download), wraps the program in an async function so top-level await
 * works, and gives it its own console, timers and helpers. Each run is isolated: starting a new run
 * cancels the previous run's timers and drops its late output.
 */
import { transform } from 'sucrase';
import { FakeClock, MiniRedis } from './scope';

export type LineKind = 'log' | 'info' | 'warn' | 'error';

export interface ConsoleLine {
  kind: LineKind;
  text: string;
}

export interface RunHandle {
  /** Resolves when the program's top-level code has finished (or failed). */
  done: Promise<{ ok: boolean; ms: number }>;
  /** Cancels pending timers and ignores any further output. */
  cancel(): void;
}

const MAX_LINES = 500;

/** Compiles a TypeScript program to plain JavaScript; throws a SyntaxError-like error with a line number. */
export function compile(code: string): string {
  // The wrapper line comes first, so a compile error's line number is off by one: the caller fixes it.
  const wrapped = `return (async () => {\n${code}\n})();`;
  return transform(wrapped, { transforms: ['typescript'], disableESTransforms: true }).code;
}

/** Formats a value the way Node's console.log roughly does (good enough for teaching output). */
export function format(value: unknown, depth = 0, seen = new WeakSet<object>()): string {
  const nested = depth > 0;
  if (typeof value === 'string') return nested ? `'${value}'` : value;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return `[Function: ${value.name || '(anonymous)'}]`;
  if (value === null || typeof value !== 'object') return String(value);
  if (value instanceof Error)
    return nested ? `[${value.name}: ${value.message}]` : `${value.name}: ${value.message}`;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (seen.has(value)) return '[Circular]';
  if (depth > 3) return Array.isArray(value) ? '[Array]' : '[Object]';
  seen.add(value);
  const inner = (v: unknown) => format(v, depth + 1, seen);
  let out: string;
  if (Array.isArray(value)) {
    out = value.length === 0 ? '[]' : `[ ${value.map(inner).join(', ')} ]`;
  } else if (value instanceof Map) {
    const items = [...value].map(([k, v]) => `${inner(k)} => ${inner(v)}`);
    out = `Map(${value.size}) {${items.length ? ` ${items.join(', ')} ` : ''}}`;
  } else if (value instanceof Set) {
    const items = [...value].map(inner);
    out = `Set(${value.size}) {${items.length ? ` ${items.join(', ')} ` : ''}}`;
  } else if (value instanceof Promise) {
    out = 'Promise { <pending> }';
  } else {
    const name = value.constructor && value.constructor !== Object ? `${value.constructor.name} ` : '';
    const items = Object.entries(value).map(
      ([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${inner(v)}`,
    );
    out = items.length ? `${name}{ ${items.join(', ')} }` : `${name}{}`;
  }
  seen.delete(value);
  return out;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const where = (error as { loc?: { line: number } }).loc;
    // sucrase reports the wrapped program's line; the wrapper added one line above the code.
    const line = where ? ` (line ${where.line - 1})` : '';
    return `${error.name}: ${error.message.replace(/\s*\(\d+:\d+\)$/, '')}${line}`;
  }
  return `Uncaught ${format(error, 1)}`;
}

/**
 * Starts a program. `emit` receives each console line; it is never called after `cancel()`.
 */
export function runProgram(code: string, emit: (line: ConsoleLine) => void): RunHandle {
  let cancelled = false;
  let lines = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const intervals = new Set<ReturnType<typeof setInterval>>();

  const write = (kind: LineKind, args: unknown[]) => {
    if (cancelled) return;
    lines++;
    if (lines === MAX_LINES + 1) emit({ kind: 'warn', text: `… output stopped after ${MAX_LINES} lines` });
    if (lines > MAX_LINES) return;
    emit({ kind, text: args.map((a) => format(a)).join(' ') });
  };
  const reportUncaught = (error: unknown) => write('error', [`Uncaught ${describeError(error)}`]);

  const blockConsole = {
    log: (...args: unknown[]) => write('log', args),
    info: (...args: unknown[]) => write('info', args),
    debug: (...args: unknown[]) => write('log', args),
    warn: (...args: unknown[]) => write('warn', args),
    error: (...args: unknown[]) => write('error', args),
    table: (data: unknown) => write('log', [data]),
    dir: (data: unknown) => write('log', [data]),
  };

  const guard =
    (fn: (...a: unknown[]) => unknown) =>
    (...a: unknown[]) => {
      if (cancelled) return;
      try {
        const result = fn(...a);
        if (result instanceof Promise) result.catch(reportUncaught);
      } catch (error) {
        reportUncaught(error);
      }
    };

  const timerApi = {
    setTimeout: (fn: (...a: unknown[]) => unknown, ms = 0, ...args: unknown[]) => {
      const id = setTimeout(() => {
        timers.delete(id);
        guard(fn)(...args);
      }, ms);
      timers.add(id);
      return id;
    },
    clearTimeout: (id: ReturnType<typeof setTimeout>) => {
      timers.delete(id);
      clearTimeout(id);
    },
    setInterval: (fn: (...a: unknown[]) => unknown, ms = 0, ...args: unknown[]) => {
      const id = setInterval(() => guard(fn)(...args), ms);
      intervals.add(id);
      return id;
    },
    clearInterval: (id: ReturnType<typeof setInterval>) => {
      intervals.delete(id);
      clearInterval(id);
    },
  };
  const sleep = (ms: number) => new Promise<void>((resolve) => timerApi.setTimeout(() => resolve(), ms));

  const scope: Record<string, unknown> = {
    console: blockConsole,
    ...timerApi,
    sleep,
    FakeClock,
    MiniRedis,
  };

  const started = performance.now();
  const done = (async () => {
    try {
      const js = compile(code);
      const fn = new Function(...Object.keys(scope), js) as (...values: unknown[]) => Promise<void>;
      await fn(...Object.values(scope));
      return { ok: true, ms: performance.now() - started };
    } catch (error) {
      write('error', [describeError(error)]);
      return { ok: false, ms: performance.now() - started };
    }
  })();

  return {
    done,
    cancel() {
      cancelled = true;
      for (const id of timers) clearTimeout(id);
      for (const id of intervals) clearInterval(id);
      timers.clear();
      intervals.clear();
    },
  };
}
