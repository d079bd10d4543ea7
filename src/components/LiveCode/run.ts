/**
 * Runs one ```ts live block: strips the TypeScript with sucrase (the same transformer react-live
 * already ships, so no extra download), wraps the program in an async function so top-level await
 * works, and runs it in a Web Worker of its own (worker.ts) with its own console, timers and helpers.
 *
 * The worker keeps the page responsive whatever the program does. It says it is alive every
 * {@link HEARTBEAT_MS}; when it has been silent for the time limit (2 s by default) the program is
 * stuck in code that never yields, and the worker is ended with "stopped after 2 s: is there a loop
 * that never ends?". A program that merely waits (a long `sleep`, a timer) keeps its worker answering
 * and is not stopped. Each run is isolated: starting a new run ends the previous run's worker, and
 * with it its timers and late output.
 */
import { transform } from 'sucrase';
import { type ConsoleLine, describeError } from './format';
import type { FromWorker, ToWorker } from './worker';

export { type ConsoleLine, format, type LineKind } from './format';

export interface RunHandle {
  /** Resolves when the program's top-level code has finished (or failed, or was stopped). */
  done: Promise<{ ok: boolean; ms: number }>;
  /** Ends the run: its worker, its timers, and any further output. */
  cancel(): void;
}

export interface RunOptions {
  /** How long the program may run without yielding before it is stopped. */
  timeLimitMs?: number;
  /** How long the worker may take to start (download and parse) before the run gives up. */
  startLimitMs?: number;
}

export const DEFAULT_TIME_LIMIT_MS = 2_000;
/** How many times a worker that failed to load is started again before the run reports it. */
const LOAD_RETRIES = 2;

/** The console line a stuck program ends with. */
export const stoppedMessage = (limitMs: number) =>
  `stopped after ${+(limitMs / 1000).toFixed(1)} s: is there a loop that never ends?`;

/** Compiles a TypeScript program to plain JavaScript; throws a SyntaxError-like error with a line number. */
export function compile(code: string): string {
  // The wrapper line comes first, so a compile error's line number is off by one: the caller fixes it.
  const wrapped = `return (async () => {\n${code}\n})();`;
  return transform(wrapped, { transforms: ['typescript'], disableESTransforms: true }).code;
}

/**
 * Starts a program. `emit` receives each console line; it is never called after `cancel()`.
 */
export function runProgram(
  code: string,
  emit: (line: ConsoleLine) => void,
  { timeLimitMs = DEFAULT_TIME_LIMIT_MS, startLimitMs = 20_000 }: RunOptions = {},
): RunHandle {
  const started = performance.now();
  let js: string;
  try {
    js = compile(code);
  } catch (error) {
    emit({ kind: 'error', text: describeError(error) });
    return { done: Promise.resolve({ ok: false, ms: performance.now() - started }), cancel() {} };
  }

  let over = false;
  let settle: (result: { ok: boolean; ms: number }) => void = () => {};
  const done = new Promise<{ ok: boolean; ms: number }>((resolve) => {
    settle = resolve;
  });
  let worker: Worker;
  let heardFrom: number | undefined;
  let finished = false;
  let loadFailures = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const end = () => {
    over = true;
    clearInterval(watchdog);
    clearTimeout(retry);
    worker.terminate();
  };
  const stop = (text: string) => {
    if (over) return;
    emit({ kind: 'error', text });
    end();
    settle({ ok: false, ms: performance.now() - started });
  };

  const start = () => {
    worker = new Worker(new URL('./worker.ts', import.meta.url), { name: 'live-code' });
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (over) return;
      const message = event.data;
      if (message.type === 'alive') heardFrom = performance.now();
      else if (message.type === 'line') emit({ kind: message.kind, text: message.text });
      else if (message.type === 'done') {
        finished = true;
        settle({ ok: message.ok, ms: message.ms });
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      if (over) return;
      // A worker that never said it was alive failed to load (a dropped download, a browser short of
      // memory): nothing of the program has run yet, so starting it again repeats nothing.
      if (heardFrom === undefined && loadFailures < LOAD_RETRIES) {
        loadFailures++;
        worker.terminate();
        retry = setTimeout(start, 250 * loadFailures);
        return;
      }
      stop(
        `the live code could not run: ${event.message || `its worker failed to load ${loadFailures + 1} times; reload the page`}`,
      );
    };
    worker.postMessage({ type: 'run', js } satisfies ToWorker);
  };

  // Checked from the page's thread, which the program cannot block.
  const watchdog = setInterval(() => {
    const now = performance.now();
    if (heardFrom === undefined) {
      if (now - started > startLimitMs) stop('the live code did not start (its worker did not load)');
    } else if (now - heardFrom > timeLimitMs) {
      // After the top-level code finished, a stuck timer callback is stopped the same way.
      stop(stoppedMessage(timeLimitMs));
      if (finished) settle({ ok: false, ms: now - started });
    }
  }, 100);
  start();

  return {
    done,
    cancel() {
      if (over) return;
      end();
      settle({ ok: false, ms: performance.now() - started });
    },
  };
}
