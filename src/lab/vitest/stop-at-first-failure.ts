/**
 * A setup file for runs that only need to know whether an exercise has a failing test, not which ones
 * (verify's counterexamples phase). After the first failure in a test file, its remaining tests are
 * skipped; and when `LAB_CAUGHT_DIR` names a folder, a failure also leaves a mark there for its
 * exercise, so that the tests of that exercise's other files, wherever they run, are skipped too.
 * A wrong implementation that hangs then costs one test's timeout, not every test's; one caught by a
 * unit test costs nothing in the exercise's slow, real-time files.
 * Setup files run once per test file, so the flag below is per file.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';

const caughtDir = process.env.LAB_CAUGHT_DIR;
let failed = false;

/** Where a failure of this test file's exercise is marked; undefined outside an exercise folder. */
function markFor(testFile: string): string | undefined {
  const exercise = /(?:^|\/)exercises\/([^/]+)\/([^/]+)\/[^/]+$/.exec(testFile.replaceAll('\\', '/'));
  if (!caughtDir || !exercise) return undefined;
  return path.join(caughtDir, `${exercise[1]}__${exercise[2]}`);
}

afterEach((context) => {
  if (context.task.result?.state !== 'fail') return;
  failed = true;
  const mark = markFor(context.task.file.filepath);
  if (mark) {
    mkdirSync(path.dirname(mark), { recursive: true });
    writeFileSync(mark, `${context.task.name}\n`);
  }
});

beforeEach((context) => {
  if (failed) context.skip('skipped: an earlier test in this file failed (LAB_STOP_AT_FIRST_FAILURE=1)');
  const mark = markFor(context.task.file.filepath);
  if (mark && existsSync(mark))
    context.skip('skipped: a test of this exercise in another file failed (LAB_STOP_AT_FIRST_FAILURE=1)');
});
