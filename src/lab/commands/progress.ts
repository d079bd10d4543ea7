/**
 * `npm run progress [-- --check]`: every chapter and exercise with its state, read from the record
 * `npm test` keeps in `.lab/progress.json` (so it answers at once), progress bars per chapter and
 * overall, and the next exercise to do. `--check` runs every suite first and records the results.
 */
import path from 'node:path';
import { type Course, courseDirs, type Exercise, loadCourse } from '../course.js';
import { type ProgressRecord, readProgress, recordProgress } from '../progress-store.js';
import { resultsByExercise } from '../results.js';
import { runSuites } from '../suite-runner.js';
import { color, colorEnv, errorColor, progressBar, UsageError } from '../ui.js';
import { isAtStub, snapshotPristine } from './reset.js';

export const progressHelp = `Usage: npm run progress [-- --check]

Shows every chapter and exercise with its state (not started, in progress, solved), a progress
bar per chapter and overall, and the next exercise to do. It reads the results your last
\`npm test\` runs recorded in .lab/progress.json, so it answers at once.

Options:
  --check      run every exercise's tests first (takes a while) and record the results
  -h, --help   this text`;

export type ExerciseState = 'solved' | 'in progress' | 'not started' | 'back to its stub';

/**
 * The state of one exercise in the record.
 * @param atStub whether the exercise's files are its stub now: a result recorded before they were put
 *   back (by `npm run reset`, git or hand) is no longer true of them
 */
export function stateOf(record: ProgressRecord, exercise: Exercise, atStub = false): ExerciseState {
  const r = record.exercises[exercise.id];
  if (!r) return 'not started';
  if (r.reset || (atStub && r.passed > 0)) return 'back to its stub';
  if (r.solved) return 'solved';
  // A run of the untouched stub fails every test: that is not a start yet.
  return r.passed > 0 || r.solvedAt ? 'in progress' : 'not started';
}

/** The exercise to do next: the first in course order that is in progress, else the first unsolved. */
export function nextExercise(
  course: Course,
  record: ProgressRecord,
  atStub: (e: Exercise) => boolean = () => false,
): Exercise | undefined {
  const states = course.exercises.map((e) => [e, stateOf(record, e, atStub(e))] as const);
  return states.find(([, s]) => s === 'in progress')?.[0] ?? states.find(([, s]) => s !== 'solved')?.[0];
}

/** The progress screen as text. */
export function renderProgress(
  course: Course,
  record: ProgressRecord,
  atStub: (e: Exercise) => boolean = () => false,
): string {
  const mark: Record<ExerciseState, string> = {
    solved: color.green('✔ solved'),
    'in progress': color.yellow('◐ in progress'),
    'not started': color.dim('○ not started'),
    'back to its stub': color.dim('○ back to its stub (reset; run its tests again)'),
  };
  const state = (e: Exercise) => stateOf(record, e, atStub(e));
  const width = Math.max(10, ...course.exercises.map((e) => e.name.length));
  const lines = [color.bold('Your progress'), ''];
  let solvedAll = 0;
  for (const chapter of course.chapters) {
    const solved = chapter.exercises.filter((e) => state(e) === 'solved').length;
    solvedAll += solved;
    lines.push(
      `${color.bold(`${chapter.number} ${chapter.title}`)}`,
      `   ${progressBar(solved, chapter.exercises.length)}  ${solved}/${chapter.exercises.length}`,
    );
    for (const e of chapter.exercises) {
      const r = record.exercises[e.id];
      const s = state(e);
      const detail = r && s === 'in progress' ? color.dim(` (${r.passed} passing, ${r.failed} failing)`) : '';
      lines.push(`   ${e.name.padEnd(width)}  ${mark[s]}${detail}`);
    }
    lines.push('');
  }
  const total = course.exercises.length;
  lines.push(
    `${color.bold('Overall')}  ${progressBar(solvedAll, total)}  ${solvedAll}/${total} exercises solved`,
    '',
  );
  const next = nextExercise(course, record, atStub);
  if (next) {
    const selector = `${next.chapter.slice(0, 2)}/${next.name}`;
    const files = next.manifest.files.map((f) => path.join('exercises', next.id, f)).join(', ');
    lines.push(
      `${color.bold('Next:')} ${next.manifest.title} (${next.manifest.minutes} min): edit ${color.cyan(files)}`,
      `      run ${color.cyan(`npm test -- ${selector}`)}, stuck? ${color.cyan(`npm run hint -- ${selector}`)}`,
    );
  } else if (total > 0) {
    lines.push(color.green('Every exercise is solved. Well done.'));
  }
  if (Object.keys(record.exercises).length === 0)
    lines.push('', color.dim('No results recorded yet: run `npm test`, or `npm run progress -- --check`.'));
  return lines.join('\n');
}

export async function progressCommand(args: readonly string[]): Promise<number> {
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length > 0) throw new UsageError(`Unknown argument ${unknown.join(', ')}.\n\n${progressHelp}`);
  const course = loadCourse();
  snapshotPristine(course);
  if (args.includes('--check')) {
    const run = await runSuites({
      target: { dir: courseDirs(course.root).exercises },
      files: course.exercises.flatMap((e) => e.testFiles),
      needsRedis: course.exercises.some((e) => e.manifest.needs.includes('redis')),
      reporter: 'dot',
      env: colorEnv(),
    });
    if (run.results) recordProgress(resultsByExercise(course, run.results));
    else
      console.error(
        errorColor.red('The test run ended before it could report; showing the last recorded results.'),
      );
    console.log('');
  }
  console.log(renderProgress(course, readProgress(course.root), (e) => isAtStub(course, e)));
  return 0;
}
