/**
 * The learner's record of results, kept in `.lab/progress.json` (git-ignored): the last result of
 * every exercise `npm test` ran against the learner's own files. `npm run progress` reads it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { courseDirs, courseRoot } from './course.js';
import type { ExerciseResult } from './results.js';

/** The last recorded result of one exercise. */
export interface ExerciseRecord {
  readonly passed: number;
  readonly failed: number;
  readonly solved: boolean;
  /** ISO time of the run. */
  readonly at: string;
  /** ISO time of the first run that solved it, kept once set (until a reset). */
  readonly solvedAt?: string;
  /** ISO time of an `npm run reset` that put the stub back after this result; cleared by the next run. */
  readonly reset?: string;
}

export interface ProgressRecord {
  readonly version: 1;
  readonly exercises: Readonly<Record<string, ExerciseRecord>>;
}

const fileOf = (root: string) => path.join(courseDirs(root).lab, 'progress.json');

/** Reads the record; a missing or unreadable file is an empty record (never an error for the learner). */
export function readProgress(root = courseRoot): ProgressRecord {
  const file = fileOf(root);
  if (!existsSync(file)) return { version: 1, exercises: {} };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as ProgressRecord;
    return parsed.version === 1 && parsed.exercises ? parsed : { version: 1, exercises: {} };
  } catch {
    return { version: 1, exercises: {} };
  }
}

/** Adds a run's results to the record (written atomically, so Ctrl-C never leaves half a file). */
export function recordProgress(
  results: readonly ExerciseResult[],
  root = courseRoot,
  now = new Date(),
): ProgressRecord {
  const previous = readProgress(root);
  const exercises = { ...previous.exercises };
  for (const r of results) {
    const solvedAt = exercises[r.exercise.id]?.solvedAt ?? (r.solved ? now.toISOString() : undefined);
    exercises[r.exercise.id] = {
      passed: r.passed,
      failed: r.failed + r.errors.length,
      solved: r.solved,
      at: now.toISOString(),
      ...(solvedAt ? { solvedAt } : {}),
    };
  }
  const record: ProgressRecord = { version: 1, exercises };
  write(root, record);
  return record;
}

/**
 * Records that an exercise's files are the stub again (`npm run reset`): whatever the last run said
 * is no longer true of the files, so the exercise is neither solved nor in progress until it runs again.
 */
export function recordReset(exerciseId: string, root = courseRoot, now = new Date()): ProgressRecord {
  const previous = readProgress(root);
  const record: ProgressRecord = {
    version: 1,
    exercises: {
      ...previous.exercises,
      [exerciseId]: { passed: 0, failed: 0, solved: false, at: now.toISOString(), reset: now.toISOString() },
    },
  };
  write(root, record);
  return record;
}

function write(root: string, record: ProgressRecord): void {
  const file = fileOf(root);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2));
  renameSync(`${file}.tmp`, file);
}
