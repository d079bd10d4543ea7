/**
 * `npm run bench -- <exercise> [--target solutions] [--duration S] [--connections N] [-- args]`:
 * runs the exercise's bench entry, which measures the implementation and a baseline in the same run
 * and prints the comparison. Redis is found as the tests find it; everything started is stopped.
 */
import type { BenchContext } from '../../testing/runnable.js';
import { type Exercise, loadCourse } from '../course.js';
import { selectOneExercise } from '../select.js';
import { intFlag, parseEntryArgs } from '../serve/cli-args.js';
import { targetFromFlag, untilInterrupted, withEntry } from '../serve/run-entry.js';
import { color } from '../ui.js';

export const benchHelp = `Usage: npm run bench -- <exercise> [--target solutions] [--duration S] [--connections N] [-- args]

Load-tests an exercise's implementation against a baseline in one run and prints the ratio.

  <exercise>          e.g. 08/rate-limiter

Options:
  --target <t>        whose code is measured: exercises (yours, the default), solutions, or an
                      absolute path to a folder laid out like exercises/
  --duration <s>      measuring time in seconds (default 5); each bench prints how it spends it
  --connections <n>   concurrent connections in load phases (default 50)
  -- <args>           passed to the bench entry
  -h, --help          this text

Benchmarks are noisy: close other programs, and compare numbers from the same machine and run.`;

/**
 * The line before a bench's own output. It names the --duration given, not "per phase": each entry
 * decides how to spend it (phases, interleaved rounds) and says so itself.
 */
export function benchHeader(
  exercise: Exercise,
  targetDir: string,
  durationSeconds: number,
  connections: number,
): string {
  return `${color.bold('Benchmark')} ${exercise.manifest.title} ${color.dim(`(${exercise.id}, code from ${targetDir}; --duration ${durationSeconds} s, --connections ${connections})`)}\n`;
}

export async function benchCommand(args: readonly string[]): Promise<number> {
  const parsed = parseEntryArgs(args, ['--target', '--duration', '--connections'], benchHelp);
  const course = loadCourse();
  const exercise = selectOneExercise(course, parsed.exercise);
  const target = targetFromFlag(parsed.flags.get('--target'), course.root);
  const durationSeconds = intFlag(parsed.flags, '--duration', 5, 1, 600);
  const connections = intFlag(parsed.flags, '--connections', 50, 1, 10_000);

  const code = await withEntry(course, exercise, 'bench', target, async (entry, redisUrl) => {
    const ctx: BenchContext = {
      ...(redisUrl ? { redisUrl } : {}),
      durationSeconds,
      connections,
      args: parsed.extra,
      log: (line) => console.log(line),
    };
    console.log(benchHeader(exercise, target.dir, durationSeconds, connections));
    const stopped = untilInterrupted().then(() => 'interrupted' as const);
    const outcome = await Promise.race([
      (entry as unknown as (c: BenchContext) => Promise<void>)(ctx).then(() => 'done' as const),
      stopped,
    ]);
    if (outcome === 'interrupted') {
      console.log('\nBenchmark interrupted.');
      return 130;
    }
    return 0;
  }).catch((error: unknown) => {
    // An entry that failed half-way may still hold servers open: leave once the error is printed.
    setTimeout(() => process.exit(), 1000).unref();
    throw error;
  });
  // An interrupted entry may still hold servers open; everything the lab started is stopped by now.
  if (code !== 0) setTimeout(() => process.exit(code), 1000).unref();
  return code;
}
