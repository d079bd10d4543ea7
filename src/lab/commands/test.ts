/**
 * `npm test -- [selectors...] [--watch]`: the learner's command. Runs the selected exercises'
 * suites against the learner's files (or `LAB_TARGET`), then prints one line per exercise and the
 * next thing to do, and records the results for `npm run progress`.
 */
import path from 'node:path';
import { type Course, type Exercise, loadCourse } from '../course.js';
import { readProgress, recordProgress } from '../progress-store.js';
import { type ExerciseResult, NO_REDIS, type RunResults, resultsByExercise } from '../results.js';
import { selectExercises } from '../select.js';
import { runSuites } from '../suite-runner.js';
import { targetFromEnv } from '../target.js';
import { color, colorEnv, errorColor, UsageError } from '../ui.js';
import { snapshotPristine } from './reset.js';

export const testHelp = `Usage: npm test -- [selector...] [--watch]

Runs the exercises' tests against your files in exercises/ and tells you what to do next.

Selectors (any number; none runs everything):
  8, 08              a chapter by number
  traffic            a chapter by name
  08/rate-limiter    one exercise (also: rate-limiter, traffic/rate-limiter)

Options:
  --watch            re-run when you save a file (q quits in a terminal; Ctrl-C anywhere)
  -h, --help         this text

Environment:
  LAB_TARGET=solutions   run the reference solutions instead of your files
  REDIS_URL=redis://...  use your own Redis instead of starting one`;

/** Runs the command; resolves with the process exit code. */
export async function testCommand(args: readonly string[]): Promise<number> {
  const watch = args.includes('--watch') || args.includes('-w');
  const unknown = args.filter((a) => a.startsWith('-') && !['--watch', '-w'].includes(a));
  if (unknown.length > 0) throw new UsageError(`Unknown option ${unknown.join(', ')}.\n\n${testHelp}`);
  const course = loadCourse();
  snapshotPristine(course); // so `npm run reset` can restore any stub later
  const exercises = selectExercises(
    course,
    args.filter((a) => !a.startsWith('-')),
  );
  if (exercises.length === 0) throw new UsageError('The course has no exercises yet.');

  const run = await runSuites({
    files: exercises.flatMap((e) => e.testFiles),
    needsRedis: exercises.some((e) => e.manifest.needs.includes('redis')),
    watch,
    // Vitest watches only when stdin is a terminal unless told to: an editor's task runner, tmux or a
    // CI log has none, and without --watch it would run once and leave.
    ...(watch ? { extraArgs: ['--watch'] } : {}),
    // Vitest colours a pipe unless told otherwise; it gets the lab's choice (NO_COLOR, FORCE_COLOR, TTY).
    env: colorEnv(),
  });
  // In watch mode the summary was printed after every run (by the lab reporter).
  if (watch) return run.exitCode ?? 1;
  if (!run.results) {
    console.error(errorColor.red('\nThe test run ended before it could report (see the output above).'));
    return run.exitCode || 1;
  }
  const results = afterRun(run.results, { watching: false, course, selected: exercises });
  const allSolved = results.length === exercises.length && results.every((r) => r.solved);
  return allSolved && run.exitCode === 0 ? 0 : 1;
}

/**
 * Prints the per-exercise summary and the next step, and records progress when the run checked
 * the learner's own files. Called after a normal run, and by the reporter after each watch re-run.
 */
export function afterRun(
  run: RunResults,
  options: { watching: boolean; course?: Course; selected?: readonly Exercise[] },
): ExerciseResult[] {
  const course = options.course ?? loadCourse();
  const results = resultsByExercise(course, run);
  const target = targetFromEnv();
  const ownFiles = target.dir === path.join(course.root, 'exercises');
  if (ownFiles) recordProgress(results);

  const width = Math.max(...results.map((r) => r.exercise.id.length), 10);
  const lines = ['', color.bold(ownFiles ? 'Your exercises' : `Exercises (LAB_TARGET=${target.dir})`)];
  for (const r of results) {
    const total = r.passed + r.failed;
    const status = r.solved
      ? color.green(`✔ solved (${total} tests)`)
      : r.errors.length > 0 && total === 0
        ? color.red(`✘ did not run: ${summaryOf(r.errors[0])}`)
        : color.red(`✘ ${r.failed} of ${total} tests failing`);
    lines.push(`  ${r.exercise.id.padEnd(width)}  ${status}`);
  }
  const missing = (options.selected ?? []).filter((e) => !results.some((r) => r.exercise === e));
  for (const e of missing)
    lines.push(`  ${e.id.padEnd(width)}  ${color.red('✘ did not run (see the errors above)')}`);
  if (run.unhandledErrors.length > 0) {
    lines.push('', color.red('Errors outside any test (they fail the run):'));
    for (const e of run.unhandledErrors) lines.push(`  ${e.split('\n')[0]}`);
  }
  lines.push('', nextStep(course, results, ownFiles ? undefined : target.dir));
  console.log(lines.join('\n'));
  if (options.watching)
    console.log(
      color.dim(
        process.stdin.isTTY
          ? '\nWatching for changes; press q to quit.'
          : '\nWatching for changes; stop with Ctrl-C.',
      ),
    );
  return results;
}

/** `08/rate-limiter`: what a learner types to select one exercise. */
const selectorOf = (e: Exercise) => `${e.chapter.slice(0, 2)}/${e.name}`;

/**
 * What to do next. An exercise that failed comes first (its first failing test, in the order its
 * manifest lists the files); when every exercise that ran passed, the next unsolved one in the course
 * as far as the record knows, never "all solved" for a course that has unsolved exercises left.
 * @param targetDir the folder whose files were tested, when not the learner's own `exercises/`
 */
function nextStep(course: Course, results: readonly ExerciseResult[], targetDir?: string): string {
  const unsolved = results.find((r) => !r.solved);
  if (unsolved) {
    const e = unsolved.exercise;
    const selector = selectorOf(e);
    const run = `Run just this exercise: ${color.cyan(`npm test -- ${selector}`)}`;
    const noRedis = unsolved.errors.find((error) => NO_REDIS.test(error));
    if (noRedis)
      return [
        `${color.bold('Next:')} start a Redis for ${e.manifest.title}: your code was not run, so there is nothing to fix in it yet.`,
        '  Any one of: start Docker (the tests then start a Redis container themselves);',
        `  ${color.cyan('docker compose up -d redis')} and ${color.cyan(`REDIS_URL=redis://127.0.0.1:6379 npm test -- ${selector}`)};`,
        '  or install redis-server (the message above says how, and what was tried).',
        `  ${run}`,
      ].join('\n');
    const base = targetDir ?? path.join(course.root, 'exercises');
    const files = e.manifest.files
      .map((f) => path.relative(course.root, path.join(base, e.id, f)) || f)
      .join(', ');
    const firstFailure = unsolved.tests.find((t) => t.status === 'failed');
    const lines = [`${color.bold('Next:')} ${e.manifest.title}: edit ${color.cyan(files)}`];
    if (unsolved.errors.length > 0 && !firstFailure)
      lines.push(`  The suite did not run: ${summaryOf(unsolved.errors[0], 200)}`);
    if (firstFailure) {
      lines.push(`  Start with: ${color.yellow(firstFailure.name)}`);
      if (firstFailure.message) lines.push(`  ${color.dim(firstFailure.message.split('\n')[0] ?? '')}`);
    }
    lines.push(`  ${run}   Stuck? ${color.cyan(`npm run hint -- ${selector}`)}`);
    return lines.join('\n');
  }
  const passed =
    results.length === 1 && results[0]
      ? `${results[0].exercise.id} is solved.`
      : `All ${results.length} exercises you ran pass.`;
  if (targetDir) return color.green(passed);
  const progress = readProgress(course.root);
  const next = course.exercises.find((e) => !progress.exercises[e.id]?.solved);
  return next
    ? `${color.green(passed)} ${color.bold('Next:')} ${next.manifest.title} (${color.cyan(`npm test -- ${selectorOf(next)}`)})`
    : color.green('All solved: that is every exercise in the course. Well done.');
}

/**
 * One line about why a suite did not run: a compile error's `file:line:col: message`, "no Redis", or
 * the error's first line, without the suite name the results put in front of it.
 */
function summaryOf(error: string | undefined, max = 110): string {
  const text = (error ?? '').replace(/^[^:\n]+\.test\.ts: /, '');
  if (NO_REDIS.test(text)) return 'no Redis could be found or started (the message above says why)';
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
