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
      // The suites in the exercise's order (its manifest's files), whatever order Vitest finished them in.
      const order = exercise.testFiles.map((f) => path.basename(f));
      const rank = (f: FileOutcome) => {
        const i = order.indexOf(path.basename(f.file));
        return (f.hidden ? order.length : 0) + (i < 0 ? order.length : i);
      };
      const files = [...(byId.get(exercise.id) ?? [])].sort((a, b) => rank(a) - rank(b));
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
  const lines = stripAnsi(message)
    .split('\n')
    .filter((line) => !/^\s+at /.test(line));
  const kept = lines.slice(0, maxLines);
  if (lines.length > maxLines) kept.push('…');
  return kept.join('\n').trim();
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escape codes
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

/** The start of the message `src/testing` throws when no Redis could be found or started. */
export const NO_REDIS = /needs Redis, and none could be found or started/;

/**
 * Why a test file could not run, in full and in terms of the learner's folder: the file, line, column
 * and message of a compile error (Vite's "Transform failed with 1 error:" puts them below a box drawn
 * in ANSI colours, which a first line alone loses), the whole no-Redis message, and every path made
 * relative to the folder that holds `exercises/` (the learner's copy, or the grader's sandbox, whose
 * temp path means nothing to the learner).
 * @param learnerRoot the folder whose `exercises/` was tested (`dirname` of the target)
 * @param courseRoot the course (its pristine suites are named from here)
 */
export function describeFileError(
  message: string,
  learnerRoot: string,
  courseRoot: string,
  cwd = process.cwd(),
): string {
  let text = stripAnsi(message);
  for (const root of new Set([learnerRoot, courseRoot])) {
    // The form relative to the working folder first: it contains the absolute one without its start.
    const fromCwd = path.relative(cwd, root);
    if (fromCwd.startsWith('..')) text = text.split(`${fromCwd}${path.sep}`).join('');
    text = text.split(`${root}${path.sep}`).join('');
  }
  const compile = /^Transform failed with \d+ errors?:/.exec(text.trimStart());
  if (compile) text = describeCompileErrors(text) ?? text;
  return cleanMessage(text, NO_REDIS.test(text) ? 30 : 16);
}

/**
 * `[PARSE_ERROR] Unexpected token` + `╭─[ file:3:22 ]` + the code frame → `file:3:22: Unexpected token
 * (PARSE_ERROR)` followed by the frame's source and marker lines.
 */
function describeCompileErrors(text: string): string | undefined {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = /^\s*\[([A-Z_]+)\]\s*(.*)$/.exec(lines[i] ?? '');
    if (!head) continue;
    const [, code, what] = head;
    let where = '';
    const frame: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j] ?? '';
      if (/^\s*\[[A-Z_]+\]/.test(line) || /^\s*(Plugin|File):/.test(line)) break;
      const at = /╭─\[\s*(.+?)\s*\]/.exec(line);
      if (at) where = at[1] ?? '';
      else if (/^\s*\d+\s*│/.test(line) || (/^\s*│.*[┬^]/.test(line) && frame.length > 0))
        frame.push(line.replace(/\s+$/, ''));
    }
    out.push(`${where ? `${where}: ` : ''}${what} (${code})`, ...frame);
  }
  return out.length > 0 ? out.join('\n') : undefined;
}
