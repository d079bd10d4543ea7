/**
 * `npm run reset -- <exercise> [--yes]`: puts an exercise's stub back, keeping the learner's version
 * under `.lab/backups/`.
 *
 * Where the pristine stub comes from (see docs/instructors/tooling.md): `exercises/` is the learner's
 * working copy, and the learner's git history is not to be trusted (it may hold no original commit
 * at all), so the lab keeps its own copy: `.lab/pristine/<exercise>/<file>`, taken the first time a
 * lab command sees an exercise (`npm run reset -- --snapshot` takes it for every exercise; run it
 * right after cloning, or let `npm install` run it). A course update that adds exercises adds them
 * to the snapshot when they are first seen; files already in the snapshot are never replaced.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { type Course, courseDirs, type Exercise, loadCourse } from '../course.js';
import { readProgress, recordReset } from '../progress-store.js';
import { selectOneExercise } from '../select.js';
import { color, UsageError } from '../ui.js';

export const resetHelp = `Usage: npm run reset -- <exercise> [--yes]

Puts the exercise's starting stub back in exercises/, after saving your version under
.lab/backups/<exercise>/<time>/. Asks before it overwrites anything.

  <exercise>    08/rate-limiter, rate-limiter or 08-traffic/rate-limiter

Options:
  --yes         do not ask (needed when not run in a terminal)
  --snapshot    record the pristine copy of every exercise not recorded yet (run once after cloning)
  -h, --help    this text`;

/** Where the pristine copy of one exercise file is kept. */
export const pristinePath = (root: string, exerciseId: string, file: string) =>
  path.join(courseDirs(root).lab, 'pristine', exerciseId, file);

/**
 * Records the pristine copy of every listed file that has none yet. Called by the lab commands on
 * start, so that an exercise is recorded the first time the lab sees it.
 * @returns the files recorded now
 */
export function snapshotPristine(course: Course): string[] {
  const recorded: string[] = [];
  for (const exercise of course.exercises) {
    for (const file of exercise.manifest.files) {
      const copy = pristinePath(course.root, exercise.id, file);
      const source = path.join(exercise.dir, file);
      if (existsSync(copy) || !existsSync(source)) continue;
      try {
        mkdirSync(path.dirname(copy), { recursive: true });
        copyFileSync(source, copy);
        recorded.push(path.relative(course.root, copy));
      } catch {
        // a read-only checkout: nothing to record, reset will say so
      }
    }
  }
  return recorded;
}

/** Whether every file the learner edits is byte for byte its pristine stub (false when that is unknown). */
export function isAtStub(course: Course, exercise: Exercise): boolean {
  return exercise.manifest.files.every((file) => {
    const copy = pristinePath(course.root, exercise.id, file);
    const current = path.join(exercise.dir, file);
    try {
      return readFileSync(current).equals(readFileSync(copy));
    } catch {
      return false;
    }
  });
}

/** Asks a yes/no question on the terminal; anything but y/yes is no. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

const timestamp = (now: Date) => now.toISOString().replace(/[:.]/g, '-');

/** Copies the exercise's listed files to `.lab/backups/<id>/<time>/`; returns that folder. */
export function backup(course: Course, exercise: Exercise, now = new Date()): string {
  const dir = path.join(courseDirs(course.root).lab, 'backups', exercise.id, timestamp(now));
  mkdirSync(dir, { recursive: true });
  for (const file of exercise.manifest.files) {
    const source = path.join(exercise.dir, file);
    if (existsSync(source)) copyFileSync(source, path.join(dir, file));
  }
  return dir;
}

export async function resetCommand(args: readonly string[]): Promise<number> {
  const yes = args.includes('--yes') || args.includes('-y');
  const snapshot = args.includes('--snapshot');
  const flags = args.filter((a) => a.startsWith('-') && !['--yes', '-y', '--snapshot'].includes(a));
  if (flags.length > 0) throw new UsageError(`Unknown option ${flags.join(', ')}.\n\n${resetHelp}`);
  const names = args.filter((a) => !a.startsWith('-'));
  const course = loadCourse();
  const recorded = snapshotPristine(course);
  if (snapshot) {
    console.log(
      recorded.length > 0
        ? `Recorded the pristine copy of ${recorded.length} file(s) in .lab/pristine/.`
        : 'Every exercise already has its pristine copy in .lab/pristine/.',
    );
    if (names.length === 0) return 0;
  }
  if (names.length !== 1) throw new UsageError(`Name one exercise.\n\n${resetHelp}`);
  const exercise = selectOneExercise(course, names[0] as string);

  const changed = exercise.manifest.files.filter((file) => {
    const copy = pristinePath(course.root, exercise.id, file);
    if (!existsSync(copy))
      throw new UsageError(
        `There is no pristine copy of ${exercise.id}/${file} in .lab/pristine/, so it cannot be restored.\n` +
          'Download the file from the course repository and put it in place of yours (keep a copy of yours first).',
        1,
      );
    const current = path.join(exercise.dir, file);
    return !existsSync(current) || !readFileSync(current).equals(readFileSync(copy));
  });
  if (changed.length === 0) {
    // Put back some other way (git checkout, by hand): the record must not go on saying "solved".
    if (readProgress(course.root).exercises[exercise.id]?.passed) recordReset(exercise.id, course.root);
    console.log(`${exercise.id} is already the untouched stub; nothing to do.`);
    return 0;
  }
  const list = changed.map((f) => path.join('exercises', exercise.id, f)).join(', ');
  if (!yes) {
    if (!process.stdin.isTTY)
      throw new UsageError(`This would overwrite ${list}. Add --yes to do it without a terminal to ask in.`);
    if (!(await confirm(`Replace ${list} with the starting stub? Your version is kept in .lab/backups/.`))) {
      console.log('Nothing changed.');
      return 1;
    }
  }
  const saved = backup(course, exercise);
  for (const file of changed)
    writeFileSync(path.join(exercise.dir, file), readFileSync(pristinePath(course.root, exercise.id, file)));
  recordReset(exercise.id, course.root);
  console.log(
    `${color.green('Restored')} ${list}: ${exercise.id} is back to its stub (npm run progress says so).\nYour version is in ${color.cyan(path.relative(course.root, saved))}.`,
  );
  return 0;
}
