/**
 * Child processes for suites that must kill the code under test for real (`SIGKILL`, not a polite
 * close): a worker that dies mid-job leaves its state in Redis exactly as a crashed server would.
 *
 * - {@link implementationFile}: the absolute path of an exercise's implementation file under the
 *   run's target (`LAB_TARGET`: the stubs, the solutions or a submission), the file a relative
 *   import in the suite reaches inside Vitest. A child process is plain Node: the target plugin
 *   does not run there, so the suite hands the child this path.
 * - {@link useChildProcesses}: starts a TypeScript entry as `node --import tsx <entry>` and kills
 *   whatever is still running after each test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach } from 'vitest';

const courseRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The folder a `LAB_TARGET` value names: the same rule as `resolveTargetDir` in
 * `src/lab/target.ts` (kept apart so that suites do not load the runner; the kit's tests hold the
 * two together).
 */
export function targetFolder(name: string | undefined = process.env.LAB_TARGET): string {
  if (name === undefined || name === '' || name === 'exercises') return path.join(courseRoot, 'exercises');
  if (name === 'solutions') return path.join(courseRoot, 'solutions');
  if (!path.isAbsolute(name)) {
    throw new Error(
      `LAB_TARGET="${name}" is neither "exercises", "solutions" nor an absolute path to a folder laid out like exercises/.`,
    );
  }
  return path.resolve(name);
}

/**
 * The absolute path of `file` (a file the exercise's manifest lists, e.g. `'job-queue.ts'`) of the
 * exercise whose suite is `suiteUrl` (pass `import.meta.url`), under the run's target.
 * @throws {Error} when the target has no such file, naming it
 */
export function implementationFile(suiteUrl: string, file: string): string {
  const suiteDir = path.dirname(fileURLToPath(suiteUrl));
  const exercise = path.basename(suiteDir);
  const chapter = path.basename(path.dirname(suiteDir));
  const found = path.join(targetFolder(), chapter, exercise, file);
  if (!existsSync(found)) {
    throw new Error(
      `The implementation file ${found} does not exist. Restore it with \`npm run reset -- ${chapter}/${exercise}\`, or check LAB_TARGET.`,
    );
  }
  return found;
}

/** How a child ended: an exit code, or the signal that killed it. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  /** Arguments after the entry (`process.argv.slice(2)` in the child). */
  readonly args?: readonly string[];
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** A running TypeScript child. */
export interface TsChild {
  readonly pid: number;
  /** Every line the child has written to stdout so far, in order. */
  readonly lines: readonly string[];
  /** What it has written to stderr so far (for failure messages). */
  readonly stderr: string;
  /** Calls `listener` with each stdout line from now on. */
  onLine(listener: (line: string) => void): void;
  /**
   * The first stdout line, already written or still to come, for which `match` is true. Rejects,
   * naming `what` and the child's stderr, after `timeoutMs` (default 10 s) or when the child exits
   * without writing one.
   */
  waitForLine(what: string, match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Settles when the child has exited and everything it wrote has been read. */
  readonly exited: Promise<ChildExit>;
  /** Sends `signal` (default `SIGKILL`: no handler runs, nothing is flushed) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ChildExit>;
}

/** tsx's loader, found on first use (every suite imports the kit; few start children). */
let tsxLoader: string | undefined;
const resolveFallback = new URL('./child-resolve.ts', import.meta.url).href;

/**
 * Declares that this test file starts child processes; call it once at the top level. Every child
 * still running after a test is killed with `SIGKILL`, and the next test starts once it is gone.
 */
export function useChildProcesses(): { start(entry: string, options?: ChildOptions): TsChild } {
  const running = new Set<TsChild>();
  afterEach(async () => {
    await Promise.all([...running].map((child) => child.kill('SIGKILL')));
  });
  return {
    start(entry, options = {}) {
      const child = startTsChild(entry, options);
      running.add(child);
      child.exited.then(() => running.delete(child));
      return child;
    },
  };
}

/** Starts `node --import tsx <entry> ...args` (see {@link useChildProcesses}, which cleans up). */
export function startTsChild(entry: string, options: ChildOptions = {}): TsChild {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  // A .ts file outside any `"type": "module"` package runs as CommonJS, whose `require` looks in
  // NODE_PATH last (child-resolve.ts does the same for `import`): see child-resolve.ts for why.
  env.NODE_PATH = [path.join(courseRoot, 'node_modules'), env.NODE_PATH].filter(Boolean).join(path.delimiter);
  // Under `npm run mutate` the child must run the same mutant as the test that started it: Stryker's
  // instrumented code reads it from this variable when its global is not set.
  const stryker = (globalThis as { __stryker__?: { activeMutant?: unknown } }).__stryker__;
  if (stryker?.activeMutant !== undefined) env.__STRYKER_ACTIVE_MUTANT__ = String(stryker.activeMutant);
  tsxLoader ??= pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const proc: ChildProcess = spawn(
    process.execPath,
    ['--import', tsxLoader, '--import', resolveFallback, entry, ...(options.args ?? [])],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let stderr = '';
  let partial = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const listener of listeners) listener(line);
    }
  });
  proc.stdout?.on('end', () => {
    // A last line without a newline still counts.
    if (partial === '') return;
    lines.push(partial);
    for (const listener of listeners) listener(partial);
    partial = '';
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  let done: ChildExit | undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    // 'close', not 'exit': 'exit' can come before the last lines have been read from the pipe, and
    // waitForLine would then report a line the child did write as missing.
    proc.on('close', (code, signal) => {
      done = { code, signal };
      resolve(done);
    });
    proc.on('error', (error) => {
      stderr += `\n${error.message}`;
      done = { code: null, signal: null };
      resolve(done);
    });
  });

  return {
    pid: proc.pid ?? -1,
    lines,
    get stderr() {
      return stderr;
    },
    onLine(listener) {
      listeners.add(listener);
    },
    waitForLine(what, match, timeoutMs = 10_000) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        let settled = false;
        const finish = (outcome: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          listeners.delete(listener);
          outcome();
        };
        const failure = (why: string) =>
          new Error(`${why} waiting for ${what}${stderr ? `; the child's stderr:\n${stderr}` : ''}`);
        const listener = (line: string) => {
          if (match(line)) finish(() => resolve(line));
        };
        const timer = setTimeout(
          () => finish(() => reject(failure(`Timed out after ${timeoutMs} ms`))),
          timeoutMs,
        );
        listeners.add(listener);
        exited.then((exit) =>
          finish(() => reject(failure(`The child exited (code ${exit.code}, signal ${exit.signal}) before`))),
        );
      });
    },
    exited,
    kill(signal = 'SIGKILL') {
      if (!done) proc.kill(signal);
      return exited;
    },
  };
}
