/**
 * Scoring: turns the verdicts of one submission's run into points, per test and per exercise, by
 * the manifests (`points` split over the exercise's tests, by `weights` or equally), with a plain
 * reason wherever an exercise could not be graded.
 */
import path from 'node:path';
import type { Exercise } from '../course.js';
import { NO_REDIS, type TestStatus } from '../results.js';
import type { FileVerdict } from './run.js';

export interface TestGrade {
  /** `describe > it` */
  readonly name: string;
  readonly status: TestStatus;
  /** The assertion's message when it failed. */
  readonly message?: string;
  /** What the test printed (console), if anything. */
  readonly output?: string;
  /** From a hidden (grading-only) suite. */
  readonly hidden: boolean;
  readonly score: number;
  readonly maxScore: number;
}

export type ExerciseStatus = 'passed' | 'failed' | 'error';

export interface ExerciseGrade {
  readonly id: string;
  readonly chapter: string;
  readonly title: string;
  readonly status: ExerciseStatus;
  readonly score: number;
  readonly maxScore: number;
  readonly tests: readonly TestGrade[];
  /** Why the exercise scored 0 without its tests being counted, in plain words. */
  readonly error?: string;
  /** No test passed, and the stub's "not implemented yet" is why. */
  readonly notImplemented: boolean;
}

export interface SubmissionGrade {
  readonly learner: string;
  readonly exercises: readonly ExerciseGrade[];
  readonly score: number;
  readonly maxScore: number;
  readonly durationMs: number;
}

const NOT_IMPLEMENTED = /is not implemented yet/;

/** Rounds points for display and files: two decimals, and no -0. */
export const round = (n: number): number => Math.round(n * 100) / 100 + 0;

/**
 * Grades one exercise.
 * @param files the exercise's test files (absolute) with their verdicts; empty when it did not run
 * @param problem why its files could not be copied, if so
 */
export function gradeExercise(
  exercise: Exercise,
  files: ReadonlyArray<readonly [string, FileVerdict | undefined]>,
  options: { problem?: string; memoryMb: number },
): ExerciseGrade {
  const base = {
    id: exercise.id,
    chapter: exercise.chapter,
    title: exercise.manifest.title,
    maxScore: exercise.manifest.points,
  };
  const failed = (error: string): ExerciseGrade => ({
    ...base,
    status: 'error',
    score: 0,
    tests: [],
    error,
    notImplemented: false,
  });
  if (options.problem) return failed(options.problem);

  // The most telling problem first: a file that hung or crashed, before one that was not run.
  const problems = files
    .map(([file, verdict]) => ({
      verdict,
      reason: fileProblem(path.basename(file), verdict, options.memoryMb),
    }))
    .filter((p) => p.reason)
    .sort((a, b) => Number(a.verdict?.kind === 'lost') - Number(b.verdict?.kind === 'lost'));
  if (problems[0]?.reason) return failed(problems[0].reason);

  const tests: Omit<TestGrade, 'score' | 'maxScore'>[] = [];
  for (const [, verdict] of files) {
    if (verdict?.kind !== 'ran') continue;
    for (const t of verdict.outcome.tests) {
      const output = verdict.output[t.name];
      tests.push({
        name: t.name,
        status: t.status,
        ...(t.message ? { message: t.message } : {}),
        ...(output ? { output } : {}),
        hidden: verdict.outcome.hidden,
      });
    }
  }
  if (files.length === 0) return failed('The course has no tests for this exercise yet.');
  if (tests.length === 0) return failed('The suites ran but reported no tests.');

  const weightOf = (name: string) => exercise.manifest.weights[name] ?? 1;
  const totalWeight = tests.reduce((sum, t) => sum + weightOf(t.name), 0);
  const graded = tests.map((t) => {
    const maxScore = totalWeight === 0 ? 0 : (exercise.manifest.points * weightOf(t.name)) / totalWeight;
    return { ...t, maxScore, score: t.status === 'passed' ? maxScore : 0 };
  });
  const failing = graded.filter((t) => t.status !== 'passed');
  return {
    ...base,
    status: failing.length === 0 ? 'passed' : 'failed',
    score: round(graded.reduce((sum, t) => sum + t.score, 0)),
    tests: graded,
    notImplemented:
      failing.length === graded.length && failing.some((t) => NOT_IMPLEMENTED.test(t.message ?? '')),
  };
}

/** The plain reason a file's verdict costs its exercise every point, or undefined when its tests count. */
function fileProblem(name: string, verdict: FileVerdict | undefined, memoryMb: number): string | undefined {
  if (!verdict) return `${name} was not run.`;
  switch (verdict.kind) {
    case 'timeout':
      return `${name} did not finish within its time limit of ${Math.round(verdict.limitMs / 1000)} s: the code is stuck, most likely in an endless loop or waiting on a promise that never settles.`;
    case 'crash':
      return /SIGABRT|heap|memory/i.test(verdict.message)
        ? `The test process crashed while running ${name}: the code most likely used more than the memory limit (${memoryMb} MB).`
        : `The test process crashed while running ${name}: ${firstLine(verdict.message)}`;
    case 'lost':
      return `${name} could not be graded: ${verdict.message}`;
    case 'ran': {
      const error = verdict.outcome.error;
      if (!error) return undefined;
      // The whole message: a compile error's file:line:column and code frame come after its first line.
      if (/process\.exit unexpectedly called/.test(error))
        return `The code called process.exit() while ${name} ran, which ends the tests; a module must never exit the process.`;
      if (COMPILE_ERROR.test(error))
        return `The code does not compile, so ${name} could not load it:\n${error}`;
      if (NO_REDIS.test(error))
        return `${name} could not run because the grading machine had no Redis (not the learner's doing: grade again once Redis is there):\n${error}`;
      return `${name} could not run:\n${error}`;
    }
  }
}

/** How Vite and Node report code that does not parse. */
const COMPILE_ERROR = /Transform failed|\(PARSE_ERROR\)|ParseError|SyntaxError|Unexpected token|Expected "/;

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? text
  );
}

/** Adds up one submission. */
export function gradeSubmission(
  learner: string,
  exercises: readonly ExerciseGrade[],
  durationMs: number,
): SubmissionGrade {
  return {
    learner,
    exercises,
    score: round(exercises.reduce((sum, e) => sum + e.score, 0)),
    maxScore: round(exercises.reduce((sum, e) => sum + e.maxScore, 0)),
    durationMs,
  };
}
