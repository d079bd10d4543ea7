/**
 * The event loop simulator's snippets. Each one is the code a learner sees plus the operations that
 * code performs (see engine.ts); `expected` is what real Node 24 prints, checked by engine.test.ts
 * against the engine and, for the record, against `node` itself.
 *
 * Use one in a page with `<EventLoopSimulator snippet="nexttick-vs-promise" />`.
 */
import type { ModuleKind, Op, Task } from './engine';

export interface SnippetVariant {
  /** Shown on the variant buttons. */
  label: string;
  module: ModuleKind;
  loopStartMs?: number;
  /** What real Node prints for this variant, one line per entry. */
  expected: string[];
  /** Why this variant behaves as it does (one or two sentences). */
  explanation: string;
}

export interface Snippet {
  id: string;
  title: string;
  /** The code shown, exactly; line numbers in `script` refer to it (1-based). */
  code: string;
  script: Task;
  variants: SnippetVariant[];
}

const log = (line: number, text: string): Op => ({ kind: 'log', line, text });
const task = (label: string, ...ops: Op[]): Task => ({ label, ops });

export const snippets: Snippet[] = [
  {
    id: 'timers-vs-immediate',
    title: 'setTimeout(0) or setImmediate: which runs first?',
    code: `setTimeout(() => console.log('timeout'), 0);
setImmediate(() => console.log('immediate'));`,
    script: task(
      'main script',
      { kind: 'timeout', line: 1, ms: 0, task: task('timeout callback', log(1, 'timeout')) },
      { kind: 'immediate', line: 2, task: task('immediate callback', log(2, 'immediate')) },
    ),
    variants: [
      {
        label: 'ES module, fast start',
        module: 'esm',
        loopStartMs: 0.5,
        expected: ['immediate', 'timeout'],
        explanation:
          'An ES module also runs before the loop starts. Its two lines take far less than 1 ms, so the timer (0 means 1 ms) is usually not due on the first timers phase and the immediate wins: 92 to 100 runs in 100 on Node 24.21, measured. Usually is not always.',
      },
      {
        label: 'ES module, slow start',
        module: 'esm',
        loopStartMs: 1.5,
        expected: ['timeout', 'immediate'],
        explanation:
          'The same module on a busy machine, or with a little more work after the two calls: the timer is due on the first timers phase and runs first. Only inside an I/O callback is the order guaranteed (see the I/O snippet).',
      },
      {
        label: 'CommonJS, fast start',
        module: 'cjs',
        loopStartMs: 0.5,
        expected: ['immediate', 'timeout'],
        explanation:
          'CommonJS runs the script before the loop starts. If the loop reaches the timers phase in under 1 ms, the timer (0 means 1 ms) is not due yet, so the immediate wins.',
      },
      {
        label: 'CommonJS, slow start',
        module: 'cjs',
        loopStartMs: 1.5,
        expected: ['timeout', 'immediate'],
        explanation:
          'Same code, but startup took over 1 ms: the timer is due on the first timers phase. In CommonJS the order depends on machine speed; never rely on it.',
      },
    ],
  },
  {
    id: 'nexttick-vs-promise',
    title: 'process.nextTick or a resolved promise?',
    code: `process.nextTick(() => console.log('nextTick 1'));
Promise.resolve().then(() => {
  console.log('promise 1');
  process.nextTick(() => console.log('nextTick inside promise'));
});
process.nextTick(() => {
  console.log('nextTick 2');
  Promise.resolve().then(() => console.log('promise inside nextTick'));
});
Promise.resolve().then(() => console.log('promise 2'));
console.log('sync');`,
    script: task(
      'main script',
      { kind: 'nextTick', line: 1, task: task('nextTick 1 callback', log(1, 'nextTick 1')) },
      {
        kind: 'promise',
        line: 2,
        task: task('promise 1 callback', log(3, 'promise 1'), {
          kind: 'nextTick',
          line: 4,
          task: task('nextTick-inside-promise callback', log(4, 'nextTick inside promise')),
        }),
      },
      {
        kind: 'nextTick',
        line: 6,
        task: task('nextTick 2 callback', log(7, 'nextTick 2'), {
          kind: 'promise',
          line: 8,
          task: task('promise-inside-nextTick callback', log(8, 'promise inside nextTick')),
        }),
      },
      { kind: 'promise', line: 10, task: task('promise 2 callback', log(10, 'promise 2')) },
      log(11, 'sync'),
    ),
    variants: [
      {
        label: 'ES module',
        module: 'esm',
        expected: [
          'sync',
          'promise 1',
          'promise 2',
          'nextTick 1',
          'nextTick 2',
          'nextTick inside promise',
          'promise inside nextTick',
        ],
        explanation:
          'An ES module is evaluated inside a promise job, so the microtasks it queued run before Node gets to the nextTick queue. After that the usual rule applies: all nextTicks, then all microtasks.',
      },
      {
        label: 'CommonJS',
        module: 'cjs',
        expected: [
          'sync',
          'nextTick 1',
          'nextTick 2',
          'promise 1',
          'promise 2',
          'promise inside nextTick',
          'nextTick inside promise',
        ],
        explanation:
          'After the script, Node empties the whole nextTick queue, then the whole microtask queue, and repeats: a nextTick queued by a promise waits for the microtask queue to empty.',
      },
    ],
  },
  {
    id: 'io-callback-ordering',
    title: 'Inside an I/O callback, setImmediate always wins',
    code: `import { readFile } from 'node:fs';

readFile(import.meta.filename, () => {
  setTimeout(() => console.log('timeout'), 0);
  setImmediate(() => console.log('immediate'));
  process.nextTick(() => console.log('nextTick'));
  console.log('read done');
});
console.log('main done');`,
    script: task(
      'main script',
      {
        kind: 'readFile',
        line: 3,
        task: task(
          'readFile callback',
          { kind: 'timeout', line: 4, ms: 0, task: task('timeout callback', log(4, 'timeout')) },
          { kind: 'immediate', line: 5, task: task('immediate callback', log(5, 'immediate')) },
          { kind: 'nextTick', line: 6, task: task('nextTick callback', log(6, 'nextTick')) },
          log(7, 'read done'),
        ),
      },
      log(9, 'main done'),
    ),
    variants: [
      {
        label: 'ES module',
        module: 'esm',
        expected: ['main done', 'read done', 'nextTick', 'immediate', 'timeout'],
        explanation:
          'The read finishes in a poll phase. The next phase is check, so the immediate runs before the loop comes back round to timers: always, on any machine.',
      },
    ],
  },
  {
    id: 'mixed-puzzle',
    title: 'Puzzle: predict the order',
    code: `import { readFile } from 'node:fs';
console.log('script start');
setTimeout(() => {
  console.log('timeout');
  Promise.resolve().then(() => console.log('promise in timeout'));
}, 0);
setImmediate(() => console.log('immediate'));
readFile(import.meta.filename, () => {
  console.log('file read');
  setImmediate(() => console.log('immediate from I/O'));
  process.nextTick(() => console.log('nextTick from I/O'));
});
Promise.resolve().then(() => console.log('promise'));
process.nextTick(() => console.log('nextTick'));
const end = Date.now() + 5; while (Date.now() < end); // block 5 ms
console.log('script end');`,
    script: task(
      'main script',
      log(2, 'script start'),
      {
        kind: 'timeout',
        line: 3,
        ms: 0,
        task: task('timeout callback', log(4, 'timeout'), {
          kind: 'promise',
          line: 5,
          task: task('promise-in-timeout callback', log(5, 'promise in timeout')),
        }),
      },
      { kind: 'immediate', line: 7, task: task('immediate callback', log(7, 'immediate')) },
      {
        kind: 'readFile',
        line: 8,
        task: task(
          'readFile callback',
          log(9, 'file read'),
          {
            kind: 'immediate',
            line: 10,
            task: task('immediate-from-I/O callback', log(10, 'immediate from I/O')),
          },
          {
            kind: 'nextTick',
            line: 11,
            task: task('nextTick-from-I/O callback', log(11, 'nextTick from I/O')),
          },
        ),
      },
      { kind: 'promise', line: 13, task: task('promise callback', log(13, 'promise')) },
      { kind: 'nextTick', line: 14, task: task('nextTick callback', log(14, 'nextTick')) },
      { kind: 'block', line: 15, ms: 5 },
      log(16, 'script end'),
    ),
    variants: [
      {
        label: 'ES module',
        module: 'esm',
        expected: [
          'script start',
          'script end',
          'promise',
          'nextTick',
          'timeout',
          'promise in timeout',
          'immediate',
          'file read',
          'nextTick from I/O',
          'immediate from I/O',
        ],
        explanation:
          'The module body runs inside a promise job, so the promise callback it queued runs before its nextTick (the reverse of CommonJS). The 5 ms block makes the timer due on the first timers phase, so it runs before the immediate, and the microtask it queues straight after it. The file read needs more than one trip through the thread pool, so its callback comes a turn later; its nextTick runs right after it, its immediate in the next check phase.',
      },
      {
        label: 'CommonJS',
        module: 'cjs',
        expected: [
          'script start',
          'script end',
          'nextTick',
          'promise',
          'timeout',
          'promise in timeout',
          'immediate',
          'file read',
          'nextTick from I/O',
          'immediate from I/O',
        ],
        explanation:
          'The script blocked for 5 ms before the loop started, so the timer is due on the first timers phase and runs before the immediate; the microtask it queues runs straight after it.',
      },
    ],
  },
];

export function findSnippet(id: string): Snippet {
  const snippet = snippets.find((s) => s.id === id);
  if (!snippet) {
    throw new Error(
      `<EventLoopSimulator snippet="${id}">: unknown snippet; known: ${snippets.map((s) => s.id).join(', ')}`,
    );
  }
  return snippet;
}
