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
  // snippets/1-timers-and-promises.cjs prints 7 lines.
  'timers-and-promises': [],
  // snippets/2-ticks-and-microtasks.cjs prints 9 lines.
  'ticks-and-microtasks': [],
  // snippets/3-inside-an-io-callback.cjs prints 6 lines.
  'inside-an-io-callback': [],
  // snippets/4-es-module-mix.mjs prints 9 lines.
  'es-module-mix': [],
};
