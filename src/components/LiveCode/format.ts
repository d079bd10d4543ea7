/**
 * Console formatting for live blocks, shared by the page (compile errors) and the worker that runs
 * the program (everything it prints).
 */

export type LineKind = 'log' | 'info' | 'warn' | 'error';

export interface ConsoleLine {
  kind: LineKind;
  text: string;
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

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const where = (error as { loc?: { line: number } }).loc;
    // sucrase reports the wrapped program's line; the wrapper added one line above the code.
    const line = where ? ` (line ${where.line - 1})` : '';
    return `${error.name}: ${error.message.replace(/\s*\(\d+:\d+\)$/, '')}${line}`;
  }
  return `Uncaught ${format(error, 1)}`;
}
