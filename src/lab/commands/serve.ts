/**
 * `npm run serve -- <exercise> [--target solutions] [--port N] [--host H] [-- args]`: starts a server
 * exercise by hand, with the implementation chosen as `LAB_TARGET` chooses it for the tests, and
 * Redis found the way the tests find it. Ctrl-C stops the service and everything it started.
 */
import type { ServeContext, Served } from '../../testing/runnable.js';
import { loadCourse } from '../course.js';
import { selectOneExercise } from '../select.js';
import { intFlag, parseEntryArgs } from '../serve/cli-args.js';
import { targetFromFlag, untilInterrupted, withEntry } from '../serve/run-entry.js';
import { color } from '../ui.js';

export const serveHelp = `Usage: npm run serve -- <exercise> [--target solutions] [--port N] [--host H] [-- args]

Starts a server exercise so you can try it with curl, a browser or a load tool. Prints its URL;
Ctrl-C stops it and whatever it started (Redis included).

  <exercise>          08/http-load-balancer, http-load-balancer or 08-traffic/http-load-balancer

Options:
  --target <t>        whose code runs: exercises (yours, the default), solutions, or an absolute
                      path to a folder laid out like exercises/ (as LAB_TARGET for the tests)
  --port <n>          port to listen on (default 0: any free port)
  --host <h>          address to listen on (default 127.0.0.1)
  -- <args>           passed to the exercise (e.g. backend URLs for a load balancer)
  -h, --help          this text

Redis (for exercises that need it) is found as the tests find it: REDIS_URL, else a container
from LAB_REDIS_IMAGE via Docker, else a redis-server on PATH.`;

export async function serveCommand(args: readonly string[]): Promise<number> {
  const parsed = parseEntryArgs(args, ['--target', '--port', '--host'], serveHelp);
  const course = loadCourse();
  const exercise = selectOneExercise(course, parsed.exercise);
  const target = targetFromFlag(parsed.flags.get('--target'), course.root);
  const port = intFlag(parsed.flags, '--port', 0, 0, 65_535);
  const host = parsed.flags.get('--host') ?? '127.0.0.1';

  // A service that forgot to close a connection, or an entry that failed half-way (demo backends
  // already listening, say), would keep the process alive after Ctrl-C or the error.
  const exitSoon = () => setTimeout(() => process.exit(), 2000).unref();
  const code = await withEntry(course, exercise, 'serve', target, async (entry, redisUrl) => {
    const ctx: ServeContext = {
      port,
      host,
      ...(redisUrl ? { redisUrl } : {}),
      args: parsed.extra,
      log: (line) => console.log(line),
    };
    const interrupted = untilInterrupted();
    const served = (await (entry as unknown as (c: ServeContext) => Promise<Served>)(ctx)) as Served;
    try {
      console.log(
        [
          `${color.green('Serving')} ${exercise.manifest.title} ${color.dim(`(${exercise.id}, code from ${target.dir})`)}`,
          `  ${color.bold(served.url)}`,
          ...(redisUrl ? [color.dim(`  Redis: ${redisUrl}`)] : []),
          ...(served.tryIt?.length ? ['', 'Try it:', ...served.tryIt.map((l) => `  ${color.cyan(l)}`)] : []),
          '',
          color.dim('Press Ctrl-C to stop.'),
        ].join('\n'),
      );
      await interrupted;
      console.log('\nStopping…');
    } finally {
      await served.close();
    }
    return 0;
  }).finally(exitSoon);
  process.exitCode = code;
  return code;
}
