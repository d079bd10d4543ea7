/**
 * Predict the order: what do four small Node programs print, line by line?
 *
 * The programs are in `snippets/` next to this file (read them, do not edit them):
 *
 * 1. `1-timers-and-promises.cjs`: timers and promise chains in a CommonJS script.
 * 2. `2-ticks-and-microtasks.cjs`: `process.nextTick`, `queueMicrotask` and promises, each queuing more.
 * 3. `3-inside-an-io-callback.cjs`: a timer, an immediate, a tick and a promise queued from an I/O callback.
 * 4. `4-es-module-mix.mjs`: an ES module with an `async` function, ticks, promises and immediates.
 *
 * For each one, list the lines it prints (exactly as printed, without the quotes) in the order you
 * expect Node 24 to print them. Think first, then check with `npm test -- predict-the-order`:
 * the suite runs each program with `node` and tells you the first line you got wrong, and why.
 * Running a snippet yourself (`node exercises/01-event-loop/predict-the-order/snippets/...`) before
 * predicting it is allowed, but it teaches you nothing.
 *
 * Every program here prints the same order on every run: none of them races `setTimeout(0)`
 * against `setImmediate` from the main module, whose order Node does not guarantee.
 */

/** The four snippets, by the name the suite reports them under. */
export type SnippetName =
  | 'timers-and-promises'
  | 'ticks-and-microtasks'
  | 'inside-an-io-callback'
  | 'es-module-mix';

/** The log lines you expect each snippet to print, first line first. */
export const predictions: Record<SnippetName, readonly string[]> = {
  // Synchronous code first; then every promise job; then the timers phase runs the 1 ms list in
  // order, draining microtasks after each callback (Node >= 11), so timeout A's promise beats timeout B.
  'timers-and-promises': [
    'script start',
    'script end',
    'promise 1',
    'promise 2',
    'timeout A',
    'promise in timeout A',
    'timeout B',
  ],
  // In CommonJS the nextTick queue drains first; once V8 drains microtasks it runs that queue empty,
  // including jobs queued meanwhile, before Node looks at the nextTick queue again.
  'ticks-and-microtasks': [
    'start',
    'end',
    'tick 1',
    'promise 1',
    'microtask',
    'promise inside tick',
    'promise 2',
    'tick inside promise',
    'timeout',
  ],
  // From an I/O callback (poll phase) the loop reaches the check phase before it wraps around to timers.
  'inside-an-io-callback': ['reading', 'read done', 'tick', 'promise', 'immediate', 'timeout'],
  // An ES module's body is evaluated inside a promise job, so the microtask queue drains before the
  // nextTick queue; between the two immediates Node drains ticks, then microtasks.
  'es-module-mix': [
    'job starts',
    'end',
    'promise',
    'job resumes',
    'tick',
    'immediate 1',
    'tick in immediate',
    'promise in immediate',
    'immediate 2',
  ],
};
