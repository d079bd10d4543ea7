/**
 * Runs an exercise's serve or bench entry with what it needs: the target's implementation, a Redis
 * found the way tests find it (when the manifest needs one), and a clean stop on Ctrl-C that ends
 * the service, Redis (a container or a redis-server) and the loader.
 */
import path from 'node:path';
import type { RedisHandle } from '../../testing/redis-server.js';
import { startRedis } from '../../testing/redis-server.js';
import type { Course, Exercise } from '../course.js';
import { resolveTargetDir, TARGET_ENV, type Target } from '../target.js';
import { UsageError } from '../ui.js';
import { type LoadedEntry, loadEntry } from './load-entry.js';

/** `exercises` (default), `solutions` or an absolute folder → a target. */
export function targetFromFlag(value: string | undefined, root: string): Target {
  try {
    return { dir: resolveTargetDir(value ?? process.env.LAB_TARGET, root) };
  } catch (error) {
    throw new UsageError((error as Error).message.replace('LAB_TARGET=', '--target '));
  }
}

export interface Resources {
  readonly redis?: RedisHandle;
  readonly entry: LoadedEntry<(ctx: never) => unknown>;
}

/**
 * Starts Redis when needed and loads the entry; `use` gets both. Whatever happens (an error, Ctrl-C
 * through {@link untilInterrupted}), everything started here is stopped before this resolves.
 */
export async function withEntry<T>(
  course: Course,
  exercise: Exercise,
  field: 'serve' | 'bench',
  target: Target,
  use: (entry: (ctx: never) => unknown, redisUrl: string | undefined) => Promise<T>,
): Promise<T> {
  const file = exercise.manifest[field];
  if (!file) {
    const others = course.exercises.filter((e) => e.manifest[field]).map((e) => `  ${e.id}`);
    throw new UsageError(
      `${exercise.id} has no ${field} entry (its exercise.json names no "${field}" file).` +
        (others.length > 0 ? `\nExercises you can ${field}:\n${others.join('\n')}` : ''),
    );
  }
  let redis: RedisHandle | undefined;
  let entry: LoadedEntry<(ctx: never) => unknown> | undefined;
  // An entry that starts processes of its own (a cluster's workers) finds the target's files the
  // way the suites do, through LAB_TARGET (the kit's `implementationFile`).
  const previousTarget = process.env[TARGET_ENV];
  process.env[TARGET_ENV] = target.dir;
  try {
    if (exercise.manifest.needs.includes('redis')) redis = await startRedis();
    entry = await loadEntry<(ctx: never) => unknown>(course, exercise, file, target);
    return await use(entry.run, redis?.url);
  } catch (error) {
    throw notImplementedYet(error, exercise, field, target, course.root) ?? error;
  } finally {
    await entry?.close().catch(() => {});
    await redis?.stop().catch(() => {});
    if (previousTarget === undefined) delete process.env[TARGET_ENV];
    else process.env[TARGET_ENV] = previousTarget;
  }
}

/**
 * A stub's "… is not implemented yet" thrown while the entry starts or runs, as the plain message a
 * learner needs (no stack trace): which function, and how to run the reference instead.
 */
function notImplementedYet(
  error: unknown,
  exercise: Exercise,
  field: 'serve' | 'bench',
  target: Target,
  root: string,
): UsageError | undefined {
  const message = (error as Error)?.message ?? '';
  const stub = /^(.*?) is not implemented yet/.exec(message);
  if (!stub) return undefined;
  const selector = `${exercise.chapter.slice(0, 2)}/${exercise.name}`;
  const whose = path.relative(root, target.dir) === 'exercises' ? 'your' : `the ${target.dir}`;
  return new UsageError(
    [
      `${exercise.id} cannot ${field === 'serve' ? 'start' : 'be measured'} yet: ${stub[1]} is not implemented in ${whose} code.`,
      `  ${message.split('\n')[0]}`,
      '',
      `Make its tests pass first (npm test -- ${selector}), or ${field} the reference solution:`,
      `  npm run ${field} -- ${selector} --target solutions`,
    ].join('\n'),
    1,
  );
}

/** Resolves on the first Ctrl-C (SIGINT) or SIGTERM; a second one exits at once. */
export function untilInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const hard = () => process.exit(130);
      process.once('SIGINT', hard);
      process.once('SIGTERM', hard);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
