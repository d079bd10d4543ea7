/**
 * A Vitest reporter that the grader adds beside the lab reporter (through the runner's `extraArgs`).
 *
 * It appends one JSON line per event to the file named by `LAB_GRADE_EVENTS` while the run goes, so
 * the grader still knows which files finished when a run has to be killed. It also enforces the
 * per-file time limit (`LAB_GRADE_FILE_TIMEOUT_MS`): Vitest's own test timeout cannot interrupt a
 * synchronous loop or a module whose top-level `await` never settles, so a file that runs longer
 * than the limit is recorded as timed out and the run's whole process group is ended. The grader
 * then re-runs the files that had not finished.
 */
import { appendFileSync } from 'node:fs';
import type { UserConsoleLog } from 'vitest';
import type { Reporter, SerializedError, TestModule } from 'vitest/node';
import { cleanMessage, type FileOutcome } from '../results.js';
import { targetFromEnv } from '../target.js';
import { fileOutcome } from '../vitest/lab-reporter.js';

/** One line of the events file. */
export type GradeEvent =
  | { readonly type: 'start'; readonly moduleId: string }
  | {
      readonly type: 'end';
      readonly moduleId: string;
      readonly outcome: FileOutcome;
      /** Vitest's test ids → full names, to match console output to its test. */
      readonly testIds: Readonly<Record<string, string>>;
    }
  | { readonly type: 'timeout'; readonly moduleId: string; readonly limitMs: number }
  | { readonly type: 'crash'; readonly moduleId: string; readonly message: string }
  | { readonly type: 'unhandled'; readonly message: string }
  | { readonly type: 'log'; readonly taskId: string; readonly content: string };

/** `Worker exited unexpectedly with signal SIGABRT ... while running test file /x/y.test.ts` */
const WORKER_CRASH = /while running test file (\S+\.test\.ts)/;
/** Console output kept per test before the grader trims it further. */
const MAX_LOG_CHARS = 2000;

export default class GradeReporter implements Reporter {
  readonly #out = process.env.LAB_GRADE_EVENTS;
  readonly #limitMs = Number(process.env.LAB_GRADE_FILE_TIMEOUT_MS || 0);
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #logged = new Map<string, number>();

  #write(event: GradeEvent): void {
    if (this.#out) appendFileSync(this.#out, `${JSON.stringify(event)}\n`);
  }

  onTestModuleQueued(module: TestModule): void {
    this.#write({ type: 'start', moduleId: module.moduleId });
    if (this.#limitMs <= 0) return;
    const timer = setTimeout(() => {
      this.#write({ type: 'timeout', moduleId: module.moduleId, limitMs: this.#limitMs });
      // The worker is stuck where Vitest cannot reach it: end this run's process group (the runner
      // started Vitest as its leader), which takes the worker with it.
      try {
        process.kill(-process.pid, 'SIGKILL');
      } catch {
        process.kill(process.pid, 'SIGKILL');
      }
    }, this.#limitMs);
    timer.unref();
    this.#timers.set(module.moduleId, timer);
  }

  onUserConsoleLog(log: UserConsoleLog): void {
    if (!log.taskId) return;
    const sofar = this.#logged.get(log.taskId) ?? 0;
    if (sofar >= MAX_LOG_CHARS) return;
    const content = log.content.slice(0, MAX_LOG_CHARS - sofar);
    this.#logged.set(log.taskId, sofar + content.length);
    this.#write({ type: 'log', taskId: log.taskId, content });
  }

  onTestModuleEnd(module: TestModule): void {
    clearTimeout(this.#timers.get(module.moduleId));
    this.#timers.delete(module.moduleId);
    const testIds = Object.fromEntries([...module.children.allTests()].map((t) => [t.id, t.fullName]));
    const outcome = fileOutcome(module, targetFromEnv());
    this.#write({ type: 'end', moduleId: module.moduleId, outcome, testIds });
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    for (const error of errors) {
      const cause = (error as { cause?: { message?: string } }).cause;
      const text = [error.message, cause?.message].filter(Boolean).join('\n');
      const crashed = WORKER_CRASH.exec(text)?.[1];
      this.#write(
        crashed
          ? { type: 'crash', moduleId: crashed, message: cleanMessage(text) }
          : { type: 'unhandled', message: cleanMessage(text) },
      );
    }
  }
}
