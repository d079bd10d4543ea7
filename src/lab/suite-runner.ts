/**
 * Runs exercise suites in a Vitest child process and returns what the lab reporter recorded.
 * Every command that runs tests (test, progress --check, verify, grade) goes through here.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { type RedisHandle, startRedis } from '../testing/redis-server.js';
import { courseRoot } from './course.js';
import type { RunResults } from './results.js';
import { HIDDEN_ENV, TARGET_ENV, type Target } from './target.js';

export interface SuiteRunOptions {
  /** Absolute paths of the test files to run. */
  readonly files: readonly string[];
  /** Default: the environment's target (the learner's own `exercises/`). */
  readonly target?: Target;
  /** Start a Redis for the run (when any selected exercise needs one). */
  readonly needsRedis: boolean;
  /** Vitest's own terminal reporter; `none` prints nothing but errors. */
  readonly reporter?: 'default' | 'dot' | 'none';
  /** Keep Vitest in watch mode (the lab summary is printed after every re-run). */
  readonly watch?: boolean;
  /** `inherit` streams Vitest's output to this terminal; `capture` keeps it in {@link SuiteRun.output}. */
  readonly output?: 'inherit' | 'capture';
  /** Kill the whole run (and every process it started) after this long. */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly extraArgs?: readonly string[];
  readonly cwd?: string;
}

export interface SuiteRun {
  /** What the reporter recorded; undefined when Vitest died before reporting. */
  readonly results?: RunResults;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** Vitest's output, when captured (its last 256 KB). */
  readonly output: string;
}

/** How much of a captured run's output is kept (its end). */
const MAX_OUTPUT_CHARS = 256 * 1024;

const require = createRequire(import.meta.url);
/** Vitest's CLI entry, resolved from this course's dependencies. */
export const vitestBin = path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs');

/** Runs the files and resolves when Vitest has exited (or was killed at the time limit). */
export async function runSuites(options: SuiteRunOptions): Promise<SuiteRun> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-run-'));
  const resultsFile = path.join(scratch, 'results.json');
  const reporter = options.reporter ?? 'default';
  const args = [
    vitestBin,
    ...(options.watch ? [] : ['run']),
    ...options.files,
    ...(reporter === 'none' ? [] : [`--reporter=${reporter}`]),
    `--reporter=${path.join(courseRoot, 'src/lab/vitest/lab-reporter.ts')}`,
    ...(options.extraArgs ?? []),
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    LAB_RESULTS_FILE: resultsFile,
    LAB_NEEDS_REDIS: options.needsRedis ? '1' : '0',
    ...(options.watch ? { LAB_WATCH_SUMMARY: '1' } : {}),
  };
  if (options.target) {
    env[TARGET_ENV] = options.target.dir;
    if (options.target.hiddenDir) env[HIDDEN_ENV] = options.target.hiddenDir;
    else delete env[HIDDEN_ENV];
  }
  // Redis starts here, while Vitest boots, and reaches the run's global setup through a file.
  // A hand-off inherited from an outer run (a suite that runs suites) is not this run's.
  delete env.LAB_REDIS_HANDOFF;
  let redis: Promise<RedisHandle | undefined> | undefined;
  if (options.needsRedis && !env.REDIS_URL) {
    const handoff = path.join(scratch, 'redis.json');
    env.LAB_REDIS_HANDOFF = handoff;
    const write = (value: object) => {
      writeFileSync(`${handoff}.tmp`, JSON.stringify(value));
      renameSync(`${handoff}.tmp`, handoff);
    };
    redis = startRedis({ env }).then(
      (handle) => {
        write({ url: handle.url, source: handle.source });
        return handle;
      },
      (error: Error) => {
        write({ problem: error.message });
        return undefined;
      },
    );
  }
  const capture = options.output === 'capture';
  // A time-limited run gets its own process group, so the limit can end Vitest's workers too.
  const detached = options.timeoutMs !== undefined;
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? courseRoot,
    env,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    detached,
  });
  let output = '';
  // Only the end is kept: code under test that floods stdout must not fill this process's memory.
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 2 * MAX_OUTPUT_CHARS) output = output.slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  // While Vitest runs, Ctrl-C is Vitest's to handle (it reaches the whole foreground group).
  const ignore = () => {};
  if (!detached) process.on('SIGINT', ignore);
  if (detached && child.pid) trackGroup(child.pid);
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          killGroup(child.pid);
        }, options.timeoutMs);

  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('exit', (code, sig) => resolve([code, sig]));
    child.once('error', () => resolve([null, null]));
  });
  if (timer) clearTimeout(timer);
  if (detached) {
    killGroup(child.pid); // workers a hung test left behind
    if (child.pid) liveGroups.delete(child.pid);
  }
  process.off('SIGINT', ignore);
  (await redis)?.release();

  const results = existsSync(resultsFile)
    ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as RunResults)
    : undefined;
  rmSync(scratch, { recursive: true, force: true });
  return {
    ...(results ? { results } : {}),
    exitCode,
    signal,
    timedOut,
    output: output.slice(-MAX_OUTPUT_CHARS),
  };
}

/**
 * Process groups of time-limited runs still going. They are not in the terminal's foreground group,
 * so Ctrl-C does not reach them: when this process exits or is interrupted, it ends them itself.
 */
const liveGroups = new Set<number>();
let cleanupInstalled = false;

function trackGroup(pid: number) {
  liveGroups.add(pid);
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const endAll = () => {
    for (const group of liveGroups) killGroup(group);
    liveGroups.clear();
  };
  process.on('exit', endAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      endAll();
      // When nobody else handles the signal, end as the signal would have ended us.
      if (process.listenerCount(signal) === 1) process.exit(128 + os.constants.signals[signal]);
    });
  }
}

function killGroup(pid: number | undefined) {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
