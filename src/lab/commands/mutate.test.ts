/**
 * `npm run mutate`'s command line: which learner files it mutates and which test files it runs per
 * mutant (`--file`, `--tests`), checked on the real course without starting Stryker.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCourse } from '../course.js';
import { UsageError } from '../ui.js';
import { type MutateArgs, mutateHelp, parseMutateArgs, planMutation, strykerOptions } from './mutate.js';

const course = loadCourse();
const SAGA = '14-orders/order-saga';
const sagaDir = path.join(course.root, 'exercises', SAGA);

function plan(...args: string[]) {
  return planMutation(course, parseMutateArgs(args));
}

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error, 'a mistake on the command line is a UsageError (no stack trace)').toBeInstanceOf(
      UsageError,
    );
    return (error as Error).message;
  }
  throw new Error('expected a UsageError, but the command line was accepted');
}

describe('npm run mutate: the command line', () => {
  it('reads the exercise, --concurrency, and every --file and --tests with its value', () => {
    const args: MutateArgs = parseMutateArgs([
      SAGA,
      '--file',
      'order-saga.ts',
      '--tests',
      'resume.test.ts',
      '--concurrency',
      '1',
      '--tests',
      'order-saga.test.ts',
    ]);
    expect(args).toEqual({
      exercise: SAGA,
      concurrency: 1,
      files: ['order-saga.ts'],
      tests: ['resume.test.ts', 'order-saga.test.ts'],
    });
    expect(parseMutateArgs([SAGA]), 'defaults: concurrency 2, no filters').toEqual({
      exercise: SAGA,
      concurrency: 2,
      files: [],
      tests: [],
    });
  });

  it('refuses a flag without its value, and a missing exercise', () => {
    expect(usageError(() => parseMutateArgs([SAGA, '--file']))).toMatch(/--file needs a value/);
    expect(usageError(() => parseMutateArgs([SAGA, '--tests', '--file', 'x.ts']))).toMatch(
      /--tests needs a value/,
    );
    expect(usageError(() => parseMutateArgs(['--file', 'order-saga.ts']))).toMatch(/Name one exercise/);
    expect(usageError(() => parseMutateArgs([SAGA, '--concurrency', '0']))).toMatch(/positive number/);
  });

  it('documents both options in its help', () => {
    expect(mutateHelp).toMatch(/--file <name>/);
    expect(mutateHelp).toMatch(/--tests <glob>/);
  });
});

describe('npm run mutate: what a run mutates and runs', () => {
  it('without options: every learner file of the manifest, the whole suite, the usual report', () => {
    const p = plan(SAGA);
    expect(p.mutate).toEqual([`solutions/${SAGA}/saga-machine.ts`, `solutions/${SAGA}/order-saga.ts`]);
    expect(p.testFiles, 'no --tests: Stryker is not given a test file filter').toBeUndefined();
    expect(p.reportBase).toBe(path.join(course.root, '.lab/mutation', SAGA));
    const options = strykerOptions(p, 2);
    expect(options).not.toHaveProperty('testFiles');
    expect(options.mutate).toEqual(p.mutate);
    expect(options.coverageAnalysis, 'a Redis exercise runs every test against every mutant').toBe('all');
    expect(options.jsonReporter).toEqual({ fileName: `${p.reportBase}.json` });
  });

  it('--file: only that learner file, reported under a name of its own', () => {
    const p = plan(SAGA, '--file', 'order-saga.ts');
    expect(p.mutate).toEqual([`solutions/${SAGA}/order-saga.ts`]);
    expect(p.reportBase, 'a partial run must not overwrite the whole exercise report').toBe(
      path.join(course.root, '.lab/mutation', `${SAGA}.order-saga`),
    );
  });

  it('--file that is not a learner file: an error naming the manifest files', () => {
    const message = usageError(() => plan(SAGA, '--file', 'harness.ts'));
    expect(message).toMatch(/--file harness\.ts: not a learner file of 14-orders\/order-saga/);
    expect(message).toMatch(/saga-machine\.ts, order-saga\.ts/);
  });

  it('--tests takes a file name, a glob inside the exercise folder, or a path from the course root', () => {
    expect(plan(SAGA, '--tests', 'resume.test.ts').testFiles).toEqual([path.join(sagaDir, 'resume.test.ts')]);
    expect(plan(SAGA, '--tests', '{resume,order-saga}.test.ts').testFiles).toEqual(
      ['order-saga.test.ts', 'resume.test.ts'].map((f) => path.join(sagaDir, f)).sort(byCourseOrder),
    );
    expect(plan(SAGA, '--tests', `exercises/${SAGA}/kill.test.ts`).testFiles).toEqual([
      path.join(sagaDir, 'kill.test.ts'),
    ]);
    const all = plan(SAGA, '--tests', '*.test.ts').testFiles;
    expect(all, 'a glob for every file gives the whole suite, each file once').toEqual(
      course.exercises.find((e) => e.id === SAGA)?.testFiles,
    );
    const some = plan(SAGA, '--file', 'order-saga.ts', '--tests', 'resume.test.ts');
    expect(strykerOptions(some, 2).testFiles).toEqual([path.join(sagaDir, 'resume.test.ts')]);
    expect(some.reportBase, 'a run on some tests reports beside the whole report').toBe(
      path.join(course.root, '.lab/mutation', `${SAGA}.order-saga.some-tests`),
    );
  });

  it('--tests that matches no test file of the exercise: an error naming its test files', () => {
    const message = usageError(() => plan(SAGA, '--tests', 'e2e.test.ts'));
    expect(message).toMatch(/--tests e2e\.test\.ts: matches no test file of 14-orders\/order-saga/);
    expect(message).toMatch(/kill\.test\.ts/);
    expect(
      usageError(() => plan(SAGA, '--tests', 'exercises/14-orders/order-service/e2e.test.ts')),
      "another exercise's test file is not one of this exercise's",
    ).toMatch(/matches no test file/);
  });
});

/** The order the course lists an exercise's test files in. */
function byCourseOrder(a: string, b: string): number {
  const files = course.exercises.find((e) => e.id === SAGA)?.testFiles ?? [];
  return files.indexOf(a) - files.indexOf(b);
}
