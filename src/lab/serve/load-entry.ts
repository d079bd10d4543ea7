/**
 * Loads an exercise's runnable entry (its manifest's `serve` or `bench` file) through the same
 * target resolver the tests use: a Vite server in middleware mode with {@link labTargetPlugin}, and
 * Vite's module runner to execute it. So `--target solutions` (or a learner's folder) decides whose
 * implementation the entry imports exactly as `LAB_TARGET` does for a suite.
 */
import path from 'node:path';
import { createServer, createServerModuleRunner } from 'vite';
import type { Course, Exercise } from '../course.js';
import type { Target } from '../target.js';
import { labTargetPlugin } from '../vitest/target-plugin.js';

export interface LoadedEntry<T> {
  /** The entry's default export. */
  readonly run: T;
  /** Stops the module runner and the Vite server (not what `run` started). */
  close(): Promise<void>;
}

/**
 * Imports `exercise`'s `file` with the target's implementation.
 * @throws {Error} when the file has no default export function
 */
export async function loadEntry<T extends (...args: never[]) => unknown>(
  course: Course,
  exercise: Exercise,
  file: string,
  target: Target,
): Promise<LoadedEntry<T>> {
  const server = await createServer({
    root: course.root,
    configFile: false,
    envFile: false,
    logLevel: 'error',
    appType: 'custom',
    clearScreen: false,
    server: { middlewareMode: true, hmr: false, ws: false, watch: null },
    optimizeDeps: { noDiscovery: true, include: [] },
    plugins: [labTargetPlugin(target, course.root)],
  });
  const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
  const close = async () => {
    await runner.close();
    await server.close();
  };
  try {
    const module = (await runner.import(path.join(exercise.dir, file))) as { default?: unknown };
    if (typeof module.default !== 'function')
      throw new Error(`exercises/${exercise.id}/${file} has no default export function.`);
    return { run: module.default as T, close };
  } catch (error) {
    await close();
    throw error;
  }
}
