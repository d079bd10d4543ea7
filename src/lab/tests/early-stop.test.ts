/**
 * The counterexamples phase's early stop (src/lab/vitest/stop-at-first-failure.ts,
 * cheap-first-sequencer.ts, cheap-first-runner.ts): files and tests run cheapest first, a test that
 * caught the variant last time runs before all, and an exercise's first failure skips the rest of
 * it, in its other files too. Runs Vitest on two fixture files of one fixture exercise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { courseRoot } from '../course.js';
import { vitestBin } from '../suite-runner.js';

const fixtures = 'src/lab/tests/fixtures/exercises/zz-fixture/early-stop';
const cheap = `${fixtures}/cheap.test.ts`;
const costly = `${fixtures}/costly.test.ts`;
let scratch: string;

beforeEach(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-early-stop-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the two fixture files as the counterexamples phase would; returns the tests in run order. */
function run(runFirst?: Record<string, string[]>): string[] {
  const costs = {
    files: { [cheap]: 10, [costly]: 5_000 },
    tests: {
      [cheap]: {
        'cheap file > quick passes': 1,
        'cheap file > the catcher': 20,
        'cheap file > slow passes': 300,
      },
    },
  };
  writeFileSync(path.join(scratch, 'costs.json'), JSON.stringify(costs));
  if (runFirst) writeFileSync(path.join(scratch, 'first.json'), JSON.stringify(runFirst));
  const order = path.join(scratch, 'order.txt');
  writeFileSync(order, '');
  const result = spawnSync(process.execPath, [vitestBin, 'run', cheap, costly, '--maxWorkers=1'], {
    cwd: courseRoot,
    encoding: 'utf8',
    env: {
      ...process.env,
      LAB_FIXTURES: '1',
      LAB_NEEDS_REDIS: '0',
      LAB_STOP_AT_FIRST_FAILURE: '1',
      LAB_CAUGHT_DIR: path.join(scratch, 'caught'),
      LAB_FILE_COSTS: path.join(scratch, 'costs.json'),
      ...(runFirst ? { LAB_RUN_FIRST: path.join(scratch, 'first.json') } : {}),
      LAB_TEST_ORDER_FILE: order,
      NO_COLOR: '1',
    },
  });
  expect(result.status, `the run fails (the catcher fails): ${result.stdout}${result.stderr}`).toBe(1);
  return readFileSync(order, 'utf8').trim().split('\n');
}

it('runs the cheapest test first and stops the exercise at its first failure, in every file', () => {
  expect(
    run(),
    'quick (1 ms), then the catcher (20 ms); nothing after it, here or in the costly file',
  ).toEqual(['quick passes', 'the catcher']);
});

it('runs the test that caught the variant last time before all others', () => {
  expect(run({ [cheap]: ['cheap file > the catcher'] })).toEqual(['the catcher']);
});
