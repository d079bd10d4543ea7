/**
 * The Web Worker a ```ts live block's program runs in (one worker per run; see run.ts). Off the page's
 * thread, a program that never yields (`while (true) {}`) stalls only this worker, which the page
 * then ends. The program gets the same scope as before: its own console, timers, sleep, FakeClock
 * and MiniRedis.
 *
 * Messages: page → worker `{ type: 'run', js }` (already compiled); worker → page `{ type: 'alive' }`
 * every HEARTBEAT_MS while the worker can run anything, `{ type: 'line', kind, text }` per console
 * line, `{ type: 'done', ok, ms }` when the top-level code has finished or failed.
 */
import { describeError, format, type LineKind } from './format';
import { FakeClock, MiniRedis } from './scope';

/** How often the worker says it is not stuck; the page's time limit counts from the last one. */
export const HEARTBEAT_MS = 100;
const MAX_LINES = 500;

export type FromWorker =
  | { type: 'alive' }
  | { type: 'line'; kind: LineKind; text: string }
  | { type: 'done'; ok: boolean; ms: number };

export interface ToWorker {
  type: 'run';
  js: string;
}

const host = globalThis as unknown as {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  onunhandledrejection: ((event: PromiseRejectionEvent) => void) | null;
};

let lines = 0;
const write = (kind: LineKind, args: unknown[]) => {
  lines++;
  if (lines === MAX_LINES + 1)
    host.postMessage({ type: 'line', kind: 'warn', text: `… output stopped after ${MAX_LINES} lines` });
  if (lines > MAX_LINES) return;
  host.postMessage({ type: 'line', kind, text: args.map((a) => format(a)).join(' ') });
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

/** A timer callback's error (or rejected promise) prints `Uncaught …`, as in Node. */
const guard =
  (fn: (...a: unknown[]) => unknown) =>
  (...a: unknown[]) => {
    try {
      const result = fn(...a);
      if (result instanceof Promise) result.catch(reportUncaught);
    } catch (error) {
      reportUncaught(error);
    }
  };

const timerApi = {
  setTimeout: (fn: (...a: unknown[]) => unknown, ms = 0, ...args: unknown[]) =>
    setTimeout(() => guard(fn)(...args), ms),
  clearTimeout: (id: ReturnType<typeof setTimeout>) => clearTimeout(id),
  setInterval: (fn: (...a: unknown[]) => unknown, ms = 0, ...args: unknown[]) =>
    setInterval(() => guard(fn)(...args), ms),
  clearInterval: (id: ReturnType<typeof setInterval>) => clearInterval(id),
};
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const scope: Record<string, unknown> = { console: blockConsole, ...timerApi, sleep, FakeClock, MiniRedis };

host.onunhandledrejection = (event) => {
  event.preventDefault();
  reportUncaught(event.reason);
};

host.onmessage = async (event) => {
  if (event.data.type !== 'run') return;
  const started = performance.now();
  try {
    const fn = new Function(...Object.keys(scope), event.data.js) as (...values: unknown[]) => Promise<void>;
    await fn(...Object.values(scope));
    host.postMessage({ type: 'done', ok: true, ms: performance.now() - started });
  } catch (error) {
    write('error', [describeError(error)]);
    host.postMessage({ type: 'done', ok: false, ms: performance.now() - started });
  }
};

setInterval(() => host.postMessage({ type: 'alive' }), HEARTBEAT_MS);
host.postMessage({ type: 'alive' });
