import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { predictions, type SnippetName } from './predictions.js';

const run = promisify(execFile);

/** Why each line comes where it does, for the message about the first wrong line. */
type Reasons = Record<string, string>;

interface Snippet {
  readonly name: SnippetName;
  readonly file: string;
  readonly reasons: Reasons;
}

const SYNC =
  'it is synchronous code: the whole script runs to its end before any callback, tick or promise job.';
const TICKS_FIRST_CJS =
  'after a CommonJS script (and after every callback) Node drains the process.nextTick queue first, then the promise (microtask) queue.';
const DRAIN_ALL =
  'once V8 starts draining the microtask queue it runs it until it is empty, including jobs queued meanwhile (a .then() queues the next link of its chain when it settles).';
const BETWEEN_CALLBACKS =
  'since Node 11, ticks and microtasks queued by a timer or immediate callback run right after that callback, before the next timer or immediate.';

const snippets: readonly Snippet[] = [
  {
    name: 'timers-and-promises',
    file: '1-timers-and-promises.cjs',
    reasons: {
      'script start': SYNC,
      'script end': SYNC,
      'promise 1': `it is a promise job: ${TICKS_FIRST_CJS} Timers wait for the event loop's timers phase.`,
      'promise 2': `the second .then() is queued when 'promise 1' settles, and ${DRAIN_ALL}`,
      'timeout A':
        'both timeouts have the same delay, so they sit in one list and fire in the order they were set, in the first timers phase after every microtask has run.',
      'promise in timeout A': BETWEEN_CALLBACKS,
      'timeout B': `it was set after timeout A with the same delay; and ${BETWEEN_CALLBACKS}`,
    },
  },
  {
    name: 'ticks-and-microtasks',
    file: '2-ticks-and-microtasks.cjs',
    reasons: {
      start: SYNC,
      end: SYNC,
      'tick 1': TICKS_FIRST_CJS,
      'promise 1': `it is the oldest job in the microtask queue, and ${TICKS_FIRST_CJS}`,
      microtask: 'queueMicrotask() uses the same queue as promise jobs, in the order they were queued.',
      'promise inside tick': `'tick 1' queued it into the microtask queue before the microtasks began to drain, and ${DRAIN_ALL}`,
      'promise 2': DRAIN_ALL,
      'tick inside promise':
        'a tick queued from a promise job waits until the microtask queue is empty; then Node drains ticks again before it moves on to timers.',
      timeout: 'timers run in the loop’s timers phase, after every tick and microtask of the script.',
    },
  },
  {
    name: 'inside-an-io-callback',
    file: '3-inside-an-io-callback.cjs',
    reasons: {
      reading:
        'fs.readFile only starts the read (on the libuv thread pool); the script goes on and ends first.',
      'read done': 'the read finished on the thread pool, and its callback runs in the poll phase.',
      tick: `${TICKS_FIRST_CJS} This holds after an I/O callback too.`,
      promise: `${TICKS_FIRST_CJS} This holds after an I/O callback too.`,
      immediate:
        'from an I/O callback (poll phase) the loop reaches the check phase, where immediates run, before it wraps around to timers: inside I/O, setImmediate always beats setTimeout(0).',
      timeout:
        'the timer waits for the next iteration of the loop; the check phase (immediates) comes first.',
    },
  },
  {
    name: 'es-module-mix',
    file: '4-es-module-mix.mjs',
    reasons: {
      'job starts': 'an async function runs synchronously up to its first await.',
      end: `${SYNC} Calling job() only ran it up to its first await.`,
      'job resumes':
        'the code after an await is a promise job, queued before the explicit Promise.resolve().then(); in an ES module, promise jobs run before ticks (see the next line).',
      promise:
        'Node evaluates an ES module from inside its (async) module loader, so V8 is already draining the microtask queue when the module body ends: promise jobs queued by the body run before Node gets back to its nextTick queue. In CommonJS it is the other way round.',
      tick: 'the nextTick queue is drained once the microtask queue that evaluated the ES module is empty, still before the event loop starts.',
      'immediate 1':
        'immediates run in the check phase of the first loop iteration, after all ticks and microtasks.',
      'tick in immediate': `${BETWEEN_CALLBACKS} Ticks first, then microtasks.`,
      'promise in immediate': `${BETWEEN_CALLBACKS} Ticks first, then microtasks.`,
      'immediate 2': `it was queued after immediate 1, and ${BETWEEN_CALLBACKS}`,
    },
  },
];

const snippetPath = (file: string) => fileURLToPath(new URL(`./snippets/${file}`, import.meta.url));

/** Runs a snippet in a fresh `node` (no loaders, no inherited flags) and returns its log lines. */
async function printedBy(file: string): Promise<string[]> {
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  const { stdout } = await run(process.execPath, [snippetPath(file)], { env, timeout: 20_000 });
  return stdout.split('\n').filter((line) => line !== '');
}

/** Plain words about the first place a prediction parts from what Node printed. */
function firstDifference(predicted: readonly string[], actual: readonly string[], reasons: Reasons): string {
  if (predicted.length === 0)
    return `You have not predicted anything yet: this snippet prints ${actual.length} lines. Fill in its list in predictions.ts.`;
  const unknown = predicted.find((line) => !(line in reasons));
  if (unknown !== undefined)
    return `This snippet never prints "${unknown}". Copy the labels exactly as the snippet logs them: ${actual
      .toSorted()
      .map((l) => `"${l}"`)
      .join(', ')}.`;
  const index = actual.findIndex((line, i) => predicted[i] !== line);
  if (index === -1)
    return `Node printed only ${actual.length} lines, but you predicted ${predicted.length}: every line is printed exactly once.`;
  const expected = actual[index] as string;
  const yours = predicted[index];
  const where = `Line ${index + 1}:`;
  if (yours === undefined)
    return `${where} your prediction ends, but Node printed "${expected}" next, because ${reasons[expected]}`;
  return `${where} Node printed "${expected}" where you predicted "${yours}". "${expected}" comes here because ${reasons[expected]}`;
}

describe('predict the order of log lines', () => {
  for (const snippet of snippets) {
    it(`snippet ${snippet.file}: your order is the order Node prints`, async () => {
      const actual = await printedBy(snippet.file);
      const predicted = predictions[snippet.name] ?? [];
      const message = firstDifference(predicted, actual, snippet.reasons);
      expect([...predicted], message).toEqual(actual);
    });
  }
});
