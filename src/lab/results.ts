/**
 * What a run of the suites found, in the shape every command works with: per test, per test file,
 * and per exercise. The Vitest reporter writes {@link RunResults}; the runner, progress and the
 * grader read it.
 */
import path from 'node:path';
import type { Course, Exercise } from './course.js';
import { exerciseIdOf } from './course.js';

export type TestStatus = 'passed' | 'failed' | 'skipped';

/** One test, by its full name (`describe > it`). */
export interface TestOutcome {
  readonly name: string;
  readonly status: TestStatus;
  /** The first failure, assertion message first, without the stack. */
  readonly message?: string;
  readonly durationMs: number;
}

/** One test file. `error` is set when the file itself failed (did not compile, threw on import, a hook failed). */
export interface FileOutcome {
  /** Path relative to its suites folder: `08-traffic/rate-limiter/rate-limiter.test.ts`. */
  readonly file: string;
  /** Whether it is one of the course's suites or a hidden (grading-only) one. */
  readonly hidden: boolean;
  readonly tests: readonly TestOutcome[];
  readonly error?: string;
  readonly durationMs: number;
}

/** Everything one Vitest run reported. */
export interface RunResults {
  readonly target: string;
  readonly files: readonly FileOutcome[];
  /** Errors outside any test (an unhandled rejection, say); they fail the run. */
  readonly unhandledErrors: readonly string[];
  readonly durationMs: number;
}

/** The state of one exercise after a run. */
export interface ExerciseResult {
  readonly exercise: Exercise;
  readonly tests: readonly TestOutcome[];
  readonly passed: number;
  readonly failed: number;
  /** File-level errors: the suite could not run the code at all. */
  readonly errors: readonly string[];
  /** Every test passed and nothing errored. */
  readonly solved: boolean;
}

/** Groups a run's files by exercise, in course order; exercises the run did not include are left out. */
export function resultsByExercise(course: Course, run: RunResults): ExerciseResult[] {
  const byId = new Map<string, FileOutcome[]>();
  for (const file of run.files) {
    const id = exerciseIdOf(file.file);
    if (!id) continue;
    byId.set(id, [...(byId.get(id) ?? []), file]);
  }
  return course.exercises
    .filter((exercise) => byId.has(exercise.id))
    .map((exercise) => {
      const files = byId.get(exercise.id) ?? [];
      const tests = files.flatMap((f) => f.tests);
      const errors = files.flatMap((f) => (f.error ? [`${path.basename(f.file)}: ${f.error}`] : []));
      const passed = tests.filter((t) => t.status === 'passed').length;
      const failed = tests.filter((t) => t.status === 'failed').length;
      return {
        exercise,
        tests,
        passed,
        failed,
        errors,
        solved: errors.length === 0 && failed === 0 && passed > 0,
      };
    });
}

/** Trims an error message to what a learner needs: the first lines, no stack, no ANSI colours. */
export function cleanMessage(message: string, maxLines = 12): string {
  const lines = message
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escape codes
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((line) => !/^\s+at /.test(line));
  const kept = lines.slice(0, maxLines);
  if (lines.length > maxLines) kept.push('…');
  return kept.join('\n').trim();
}
