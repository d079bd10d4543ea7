/**
 * Which implementation a suite checks: the stubs, the reference solutions, or a learner's copy.
 * Read from the environment so that a child process (the grader's, `npm run serve`'s) inherits it.
 */
import path from 'node:path';
import { courseDirs, courseRoot } from './course.js';

/** `exercises` (the default: the learner's own working copy), `solutions`, or an absolute folder. */
export type TargetName = 'exercises' | 'solutions' | (string & {});

/** Where suites and implementations are found for one run. */
export interface Target {
  /** The folder laid out like `exercises/` whose listed files are the implementation under test. */
  readonly dir: string;
  /** Extra suites in the `exercises/` layout that only the grader uses (`--hidden`). */
  readonly hiddenDir?: string;
}

export const TARGET_ENV = 'LAB_TARGET';
export const HIDDEN_ENV = 'LAB_HIDDEN_DIR';

/**
 * Turns a `LAB_TARGET` value into a folder.
 * @throws {Error} for a relative path, which would silently depend on the working directory
 */
export function resolveTargetDir(name: TargetName | undefined, root = courseRoot): string {
  const dirs = courseDirs(root);
  if (name === undefined || name === '' || name === 'exercises') return dirs.exercises;
  if (name === 'solutions') return dirs.solutions;
  if (!path.isAbsolute(name)) {
    throw new Error(
      `${TARGET_ENV}="${name}" is neither "exercises", "solutions" nor an absolute path to a folder laid out like exercises/.`,
    );
  }
  return path.resolve(name);
}

/** The target this process was started with. */
export function targetFromEnv(env: NodeJS.ProcessEnv = process.env, root = courseRoot): Target {
  const hidden = env[HIDDEN_ENV];
  return {
    dir: resolveTargetDir(env[TARGET_ENV], root),
    ...(hidden ? { hiddenDir: path.resolve(hidden) } : {}),
  };
}
