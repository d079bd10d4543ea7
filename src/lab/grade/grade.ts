/**
 * The grader: the course runner plus scoring. For each submission it builds a sandbox of the files
 * the manifests list, runs the course's pristine suites (and hidden ones) against it with time and
 * memory limits (in a container of its own when a Docker engine answers, else in a child Vitest
 * run), scores the results and writes the files under `--out`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_REDIS_IMAGE, type RedisHandle, startRedis } from '../../testing/redis-server.js';
import type { Course, Exercise } from '../course.js';
import { UsageError } from '../ui.js';
import {
  checkImage,
  dockerAnswers,
  imageForCourse,
  nodeImage,
  removeContainers,
  runInContainer,
} from './container.js';
import {
  classSummary,
  exercismResults,
  gradebookCsv,
  gradescopeResults,
  junitXml,
  learnerReport,
} from './outputs.js';
import { type FileVerdict, runSubmission } from './run.js';
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
  /**
   * `docker`: every submission in a container (an error when no engine answers); `process`: child
   * processes on this machine, as the learner's `npm test`; `auto` (the default): `docker` when an
   * engine answers, else `process`.
   */
  readonly sandbox?: SandboxChoice;
  /** Told once, before the first submission, how submissions are isolated. */
  readonly onSandbox?: (description: string) => void;
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

export type SandboxChoice = 'auto' | 'docker' | 'process';

export const DEFAULTS = {
  jobs: Math.max(1, os.availableParallelism()),
  fileTimeoutMs: 60_000,
  submissionTimeoutMs: 15 * 60_000,
  memoryMb: 1024,
};

/** How the run isolates submissions. */
type Isolation =
  | { readonly kind: 'docker'; readonly image: string; readonly redisImage: string; readonly cpus: number }
  | { readonly kind: 'process'; readonly why: string };

/** Decides container or process mode once per run. */
async function isolation(options: GradeOptions): Promise<Isolation> {
  const choice = options.sandbox ?? 'auto';
  if (choice === 'process') return { kind: 'process', why: 'not sandboxed: --sandbox process' };
  if (!(await dockerAnswers())) {
    if (choice === 'docker')
      throw new UsageError('--sandbox docker: no Docker engine answered (is Docker running?).');
    return { kind: 'process', why: 'not sandboxed: no Docker engine' };
  }
  const usable = await imageForCourse(nodeImage());
  if ('problem' in usable) throw new UsageError(`Cannot grade in containers: ${usable.problem}`);
  const { image } = usable;
  const redisImage = process.env.LAB_REDIS_IMAGE || DEFAULT_REDIS_IMAGE;
  const problem = await checkImage(image, redisImage);
  if (problem) throw new UsageError(`Cannot grade in containers: ${problem}`);
  const cpus = Math.max(1, Math.floor((os.availableParallelism() / Math.max(1, options.jobs)) * 10) / 10);
  return { kind: 'docker', image, redisImage, cpus };
}

const describe = (mode: Isolation) =>
  mode.kind === 'docker'
    ? `sandboxed: one container per submission (${mode.image}, no network but its own Redis, read-only course, ${mode.cpus} CPU each)`
    : mode.why;

/** A learner id that is safe as a folder name. */
export const safeId = (learner: string) =>
  learner.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^\.+/, '_') || '_';

/** Grades every submission and writes the outputs; resolves with the grades in submission order. */
export async function gradeAll(options: GradeOptions): Promise<SubmissionGrade[]> {
  const mode = await isolation(options);
  options.onSandbox?.(describe(mode));
  const started = Date.now();
  const work = mkdtempSync(path.join(os.tmpdir(), 'lab-grade-'));
  const redisBySlot = new Map<number, RedisHandle>();
  try {
    mkdirSync(path.join(work, 'unpacked'));
    const submissions = findSubmissions(options.paths, path.join(work, 'unpacked'));
    mkdirSync(options.outDir, { recursive: true });
    const grades: SubmissionGrade[] = new Array(submissions.length);
    let next = 0;
    let done = 0;
    const onAbort = () => {
      killChildGroups();
      if (mode.kind === 'docker') removeContainers(); // the `docker run` clients then return at once
    };
    options.signal?.addEventListener('abort', onAbort);
    const worker = async (slot: number) => {
      for (let i = next++; i < submissions.length && !options.signal?.aborted; i = next++) {
        const submission = submissions[i] as Submission;
        options.onProgress?.({ done, total: submissions.length, learner: submission.learner });
        const grade = await gradeOne(submission, slot, work, options, mode, redisBySlot);
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
    writeFileSync(
      path.join(options.outDir, 'summary.md'),
      classSummary(grades, { durationMs: Date.now() - started, jobs: slots, sandbox: describe(mode) }),
    );
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
  mode: Isolation,
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
  const files = runnable.flatMap(testFilesOf);
  let verdicts: Map<string, FileVerdict>;
  if (files.length === 0) verdicts = new Map();
  else if (mode.kind === 'docker')
    verdicts = await runInContainer({
      files,
      sandboxDir: sandbox.dir,
      ...(options.hiddenDir ? { hiddenDir: options.hiddenDir } : {}),
      needsRedis,
      fileTimeoutMs: options.fileTimeoutMs,
      submissionTimeoutMs: options.submissionTimeoutMs,
      memoryMb: options.memoryMb,
      groups: Object.fromEntries(exerciseOfFile),
      image: mode.image,
      redisImage: mode.redisImage,
      cpus: mode.cpus,
    });
  else
    verdicts = await runInProcess(
      files,
      sandbox.dir,
      needsRedis,
      slot,
      work,
      options,
      redisBySlot,
      exerciseOfFile,
    );
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

/** Process mode: a child Vitest run on this machine, with one Redis per slot. */
async function runInProcess(
  files: string[],
  targetDir: string,
  needsRedis: boolean,
  slot: number,
  work: string,
  options: GradeOptions,
  redisBySlot: Map<number, RedisHandle>,
  exerciseOfFile: ReadonlyMap<string, string>,
): Promise<Map<string, FileVerdict>> {
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
  return runSubmission({
    files,
    targetDir,
    ...(options.hiddenDir ? { hiddenDir: options.hiddenDir } : {}),
    needsRedis,
    fileTimeoutMs: options.fileTimeoutMs,
    submissionTimeoutMs: options.submissionTimeoutMs,
    memoryMb: options.memoryMb,
    cacheDir: path.join(work, 'module-cache'),
    env,
    groupOf: (file) => exerciseOfFile.get(file) ?? file,
  });
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
