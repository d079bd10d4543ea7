/**
 * A setup file for runs that only need to know whether a file has a failing test, not which ones
 * (verify's counterexamples phase): after the first failure in a test file, its remaining tests are
 * skipped. A wrong implementation that hangs then costs one test's timeout per file, not every test's.
 * Setup files run once per test file, so the flag below is per file.
 */
import { afterEach, beforeEach } from 'vitest';

let failed = false;

afterEach((context) => {
  if (context.task.result?.state === 'fail') failed = true;
});

beforeEach((context) => {
  if (failed) context.skip('skipped: an earlier test in this file failed (LAB_STOP_AT_FIRST_FAILURE=1)');
});
