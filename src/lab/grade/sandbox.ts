/**
 * The grader's sandbox: a fresh folder laid out like `exercises/` that holds exactly the files the
 * manifests list, copied from a submission. Nothing else of the submission is ever read, so edited
 * tests, extra modules or a replaced `package.json` have no effect. A listed file that is missing,
 * is a symbolic link leading outside the submission, is not a regular file, is too large or is not
 * text is left out, and the exercise gets a plain reason instead of a run.
 */
import { closeSync, copyFileSync, lstatSync, mkdirSync, openSync, readSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Exercise } from '../course.js';

/** A listed file larger than this is not source code a learner wrote. */
export const MAX_FILE_BYTES = 512 * 1024;

export interface Sandbox {
  /** The folder to pass as the run's target. */
  readonly dir: string;
  /** Why an exercise cannot be graded, by exercise id (its files were not all copied). */
  readonly problems: ReadonlyMap<string, string>;
}

/**
 * Copies the listed files of `exercises` from `submissionRoot` (a learner's copy of the course, with
 * its own `exercises/` folder) into `sandboxDir`, which must be empty or absent.
 */
export function buildSandbox(
  submissionRoot: string,
  exercises: readonly Exercise[],
  sandboxDir: string,
): Sandbox {
  const realRoot = realpathSync(submissionRoot);
  const problems = new Map<string, string>();
  mkdirSync(sandboxDir, { recursive: true });
  for (const exercise of exercises) {
    const reasons: string[] = [];
    const copies: [string, string][] = [];
    for (const file of exercise.manifest.files) {
      const shown = `exercises/${exercise.id}/${file}`;
      const source = path.join(submissionRoot, 'exercises', exercise.id, file);
      const problem = checkFile(source, realRoot, shown);
      if (problem) reasons.push(problem);
      else copies.push([source, path.join(sandboxDir, exercise.id, file)]);
    }
    if (reasons.length > 0) {
      problems.set(exercise.id, reasons.join(' '));
      continue;
    }
    for (const [from, to] of copies) {
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(realpathSync(from), to);
    }
  }
  return { dir: sandboxDir, problems };
}

/** A plain reason why `file` cannot be graded, or undefined when it can. */
function checkFile(file: string, realRoot: string, shown: string): string | undefined {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(file);
  } catch {
    return `${shown} is missing from the submission.`;
  }
  if (stat.isSymbolicLink()) {
    let target: string;
    try {
      target = realpathSync(file);
    } catch {
      return `${shown} is a symbolic link to a file that does not exist.`;
    }
    if (!target.startsWith(realRoot + path.sep))
      return `${shown} is a symbolic link to a file outside the submission; it was not read.`;
    stat = lstatSync(target);
  }
  if (!stat.isFile()) return `${shown} is not a regular file.`;
  if (stat.size > MAX_FILE_BYTES)
    return `${shown} is ${Math.round(stat.size / 1024)} KB, more than the ${MAX_FILE_BYTES / 1024} KB a source file may have.`;
  if (!isText(realpathSync(file), stat.size)) return `${shown} is not a text file (it contains binary data).`;
  return undefined;
}

/** UTF-8 without NUL bytes: what every TypeScript source a learner writes is. */
function isText(file: string, size: number): boolean {
  const buffer = Buffer.alloc(size);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, size, 0);
  } finally {
    closeSync(fd);
  }
  if (buffer.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    return true;
  } catch {
    return false;
  }
}
