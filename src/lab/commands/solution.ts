/**
 * `npm run solution -- <exercise> [--diff] [--force]`: the reference solution, once the learner's
 * own tests pass (as `npm test` last recorded), so that it is a comparison and not a shortcut.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { courseDirs, loadCourse } from '../course.js';
import { readProgress } from '../progress-store.js';
import { selectOneExercise } from '../select.js';
import { color, errorColor, UsageError } from '../ui.js';
import { snapshotPristine } from './reset.js';

export const solutionHelp = `Usage: npm run solution -- <exercise> [--diff] [--force]

Shows the reference solution of an exercise once your tests for it pass (run
\`npm test -- <exercise>\` first: the result it records is what counts).

  <exercise>    08/rate-limiter, rate-limiter or 08-traffic/rate-limiter

Options:
  --diff        show the differences between your file and the solution instead
  --force       show it even though your tests do not pass yet (you lose the puzzle)
  -h, --help    this text`;

export async function solutionCommand(args: readonly string[]): Promise<number> {
  const known = ['--diff', '--force'];
  const flags = args.filter((a) => a.startsWith('-') && !known.includes(a));
  if (flags.length > 0) throw new UsageError(`Unknown option ${flags.join(', ')}.\n\n${solutionHelp}`);
  const names = args.filter((a) => !a.startsWith('-'));
  if (names.length !== 1) throw new UsageError(`Name one exercise.\n\n${solutionHelp}`);
  const course = loadCourse();
  snapshotPristine(course);
  const exercise = selectOneExercise(course, names[0] as string);
  const selector = `${exercise.chapter.slice(0, 2)}/${exercise.name}`;

  const solved = readProgress(course.root).exercises[exercise.id]?.solved === true;
  if (!solved && !args.includes('--force')) {
    console.error(
      [
        errorColor.yellow(
          `Your tests for ${exercise.id} do not pass yet (as far as \`npm test\` last recorded).`,
        ),
        `The solution is shown once they do: run ${errorColor.cyan(`npm test -- ${selector}`)}.`,
        `Stuck? ${errorColor.cyan(`npm run hint -- ${selector}`)} gives the next hint.`,
        `To see it anyway: ${errorColor.cyan(`npm run solution -- ${selector} --force`)}`,
      ].join('\n'),
    );
    return 1;
  }
  if (!solved)
    console.error(
      errorColor.yellow('Shown before your tests pass (--force). Try it yourself first next time.\n'),
    );

  const solutionsDir = path.join(courseDirs(course.root).solutions, exercise.id);
  for (const file of exercise.manifest.files) {
    const solution = path.join(solutionsDir, file);
    const mine = path.join(exercise.dir, file);
    if (!existsSync(solution)) {
      console.error(errorColor.red(`The course has no reference solution for ${exercise.id}/${file}.`));
      return 1;
    }
    console.log(color.bold(`── solutions/${exercise.id}/${file} ──`));
    if (args.includes('--diff') && existsSync(mine)) console.log(diff(mine, solution, course.root));
    else console.log(readFileSync(solution, 'utf8'));
  }
  return 0;
}

/** A unified diff from the learner's file to the solution (`diff -u`), or a note when there is none. */
function diff(mine: string, solution: string, root: string): string {
  const result = spawnSync(
    'diff',
    [
      '-u',
      '--label',
      `yours: ${path.relative(root, mine)}`,
      '--label',
      `solution: ${path.relative(root, solution)}`,
      mine,
      solution,
    ],
    { encoding: 'utf8' },
  );
  if (result.error)
    return `${color.yellow('(diff is not available; the solution follows)')}\n${readFileSync(solution, 'utf8')}`;
  if (result.status === 0) return 'Your file and the solution are identical.';
  return result.stdout
    .split('\n')
    .map((line) =>
      line.startsWith('+') && !line.startsWith('+++')
        ? color.green(line)
        : line.startsWith('-') && !line.startsWith('---')
          ? color.red(line)
          : line,
    )
    .join('\n');
}
