/**
 * The grader: the course runner plus scoring. For each submission it builds a sandbox of the files
 * the manifests list, runs the course's pristine suites (and hidden ones) against it in a child
 * Vitest run with time and memory limits, scores the results and writes the files under `--out`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type RedisHandle, startRedis } from '../../testing/redis-server.js';
import type { Course, Exercise } from '../course.js';
import {
  classSummary,
  exercismResults,
  gradebookCsv,
  gradescopeResults,
  junitXml,
  learnerReport,
} from './outputs.js';
import { runSubmission } from './run.js';
import { buildSandbox } from './sandbox.js';
import { gradeExercise, gradeSubmission, type SubmissionGrade } from './score.js';
import { findSubmissions, type Submission } from './submissions.js';

export interface GradeOptions {
  readonly course: Course;
  /** The exercises to grade (all, or the `--chapters` selection), in course order. */
  readonly exercises: readonly Exercise[];
  /** What the instructor named: copies, folders of copies, archives. */
  readonly paths: readonly string[];
  readonly outDir: string;
  /** Grading-only suites in the `exercises/` layout. */
  readonly hiddenDir?: string;
  /** Submissions graded at the same time. */
  readonly jobs: number;
  readonly fileTimeoutMs: number;
  readonly submissionTimeoutMs: number;
  readonly memoryMb: number;
  /** Stops grading: no new submission starts, and the runs under way are killed. */
  readonly signal?: AbortSignal;
  /** Called when a submission starts and when it is graded (for progress output). */
  readonly onProgress?: (event: {
    done: number;
    total: number;
    grade?: SubmissionGrade;
    learner: string;
  }) => void;
}

export const DEFAULTS = { jobs: 1, fileTimeoutMs: 60_000, submissionTimeoutMs: 15 * 60_000, memoryMb: 1024 };

/** A learner id that is safe as a folder name. */
export const safeId = (learner: string) =>
  learner.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^\.+/, '_') || '_';

/** Grades every submission and writes the outputs; resolves with the grades in submission order. */
export async function gradeAll(options: GradeOptions): Promise<SubmissionGrade[]> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'lab-grade-'));
  const redisBySlot = new Map<number, RedisHandle>();
  try {
    mkdirSync(path.join(work, 'unpacked'));
    const submissions = findSubmissions(options.paths, path.join(work, 'unpacked'));
    mkdirSync(options.outDir, { recursive: true });
    const grades: SubmissionGrade[] = new Array(submissions.length);
    let next = 0;
    let done = 0;
    const onAbort = () => killChildGroups();
    options.signal?.addEventListener('abort', onAbort);
    const worker = async (slot: number) => {
      for (let i = next++; i < submissions.length && !options.signal?.aborted; i = next++) {
        const submission = submissions[i] as Submission;
        options.onProgress?.({ done, total: submissions.length, learner: submission.learner });
        const grade = await gradeOne(submission, slot, work, options, redisBySlot);
        if (options.signal?.aborted) break; // its runs were killed: not a grade to hand out
        grades[i] = grade;
        writeLearnerFiles(grade, options);
        done++;
        options.onProgress?.({ done, total: submissions.length, grade, learner: submission.learner });
      }
    };
    const slots = Math.max(1, Math.min(options.jobs, submissions.length));
    await Promise.all(Array.from({ length: slots }, (_, slot) => worker(slot)));
    options.signal?.removeEventListener('abort', onAbort);
    if (options.signal?.aborted) return grades.filter(Boolean);

    const chapters = [...new Set(options.exercises.map((e) => e.chapter))];
    writeFileSync(path.join(options.outDir, 'gradebook.csv'), gradebookCsv(grades, chapters));
    writeFileSync(path.join(options.outDir, 'summary.md'), classSummary(grades));
    return grades;
  } finally {
    await Promise.all([...redisBySlot.values()].map((r) => r.stop()));
    rmSync(work, { recursive: true, force: true });
  }
}

async function gradeOne(
  submission: Submission,
  slot: number,
  work: string,
  options: GradeOptions,
  redisBySlot: Map<number, RedisHandle>,
): Promise<SubmissionGrade> {
  const started = Date.now();
  const sandboxDir = path.join(work, `slot-${slot}`, 'exercises');
  rmSync(sandboxDir, { recursive: true, force: true });
  const sandbox = buildSandbox(submission.root, options.exercises, sandboxDir);

  const testFilesOf = (e: Exercise) => [...e.testFiles, ...hiddenSuites(options.hiddenDir, e)];
  const runnable = options.exercises.filter((e) => !sandbox.problems.has(e.id));
  const exerciseOfFile = new Map(runnable.flatMap((e) => testFilesOf(e).map((f) => [f, e.id] as const)));
  const needsRedis = runnable.some((e) => e.manifest.needs.includes('redis'));
  const env: NodeJS.ProcessEnv = {};
  if (needsRedis && (!process.env.REDIS_URL || options.jobs > 1)) {
    // One Redis per slot, kept for the whole grading run: starting one per submission costs seconds.
    let redis = redisBySlot.get(slot);
    if (!redis) {
      // Parallel slots must not share one Redis: each run hands databases 1-15 to its test files.
      redis = await startRedis(options.jobs > 1 ? { env: { ...process.env, REDIS_URL: '' } } : {});
      redisBySlot.set(slot, redis);
    }
    env.REDIS_URL = redis.url;
  }
  const verdicts =
    runnable.length === 0
      ? new Map()
      : await runSubmission({
          files: runnable.flatMap(testFilesOf),
          targetDir: sandbox.dir,
          ...(options.hiddenDir ? { hiddenDir: options.hiddenDir } : {}),
          needsRedis,
          fileTimeoutMs: options.fileTimeoutMs,
          submissionTimeoutMs: options.submissionTimeoutMs,
          memoryMb: options.memoryMb,
          cacheDir: path.join(work, 'module-cache'),
          env,
          groupOf: (file) => exerciseOfFile.get(file) ?? file,
        });
  const exercises = options.exercises.map((e) => {
    const problem = sandbox.problems.get(e.id);
    return gradeExercise(
      e,
      testFilesOf(e).map((f) => [f, verdicts.get(f)] as const),
      { ...(problem ? { problem } : {}), memoryMb: options.memoryMb },
    );
  });
  return gradeSubmission(submission.learner, exercises, Date.now() - started);
}

/**
 * Kills the process groups of this process's children (the Vitest runs, which the runner starts as
 * group leaders so that a time limit can end their workers too). Ctrl-C at the terminal does not
 * reach them for that very reason.
 */
function killChildGroups(): void {
  let listing = '';
  try {
    listing = execFileSync('ps', ['-o', 'pid=,pgid=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of listing.trim().split('\n')) {
    const [pid, pgid] = line.trim().split(/\s+/).map(Number);
    if (pid && pid === pgid) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** The hidden suites of one exercise: `<hidden>/<chapter>/<exercise>/*.test.ts`. */
function hiddenSuites(hiddenDir: string | undefined, exercise: Exercise): string[] {
  if (!hiddenDir) return [];
  const dir = path.join(hiddenDir, exercise.id);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => path.join(dir, f));
}

function writeLearnerFiles(grade: SubmissionGrade, options: GradeOptions): void {
  const dir = path.join(options.outDir, safeId(grade.learner));
  mkdirSync(dir, { recursive: true });
  const report = learnerReport(grade, options.course);
  writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(exercismResults(grade), null, 2)}\n`);
  writeFileSync(
    path.join(dir, 'gradescope.json'),
    `${JSON.stringify(gradescopeResults(grade, report), null, 2)}\n`,
  );
  writeFileSync(path.join(dir, 'junit.xml'), junitXml(grade));
  writeFileSync(path.join(dir, 'report.md'), report);
}
