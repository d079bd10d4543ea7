/**
 * A Vitest reporter that sits beside Vitest's own and writes the run's {@link RunResults} to the
 * file named by `LAB_RESULTS_FILE`, so the runner, the progress record and the grader read one
 * format. In watch mode it also calls the runner's summary after every re-run (`LAB_WATCH_SUMMARY=1`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { courseDirs, courseRoot } from '../course.js';
import {
  cleanMessage,
  describeFileError,
  type FileOutcome,
  type RunResults,
  type TestOutcome,
} from '../results.js';
import { type Target, targetFromEnv } from '../target.js';

export default class LabReporter implements Reporter {
  #started = Date.now();

  onTestRunStart(): void {
    this.#started = Date.now();
  }

  async onTestRunEnd(
    modules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<{ message?: string }>,
  ): Promise<void> {
    const target = targetFromEnv();
    const results: RunResults = {
      target: target.dir,
      files: modules.map((m) => fileOutcome(m, target)),
      unhandledErrors: unhandledErrors.map((e) => cleanMessage(e.message ?? String(e))),
      durationMs: Date.now() - this.#started,
    };
    const out = process.env.LAB_RESULTS_FILE;
    if (out) {
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(results, null, 2));
    }
    if (process.env.LAB_WATCH_SUMMARY === '1') {
      const { afterRun } = await import('../commands/test.js');
      afterRun(results, { watching: true });
    }
  }
}

export function fileOutcome(module: TestModule, target: Target): FileOutcome {
  const hiddenDir = target.hiddenDir;
  // Messages name files from the learner's folder (the one holding the target's exercises/).
  const describe = (message: string) => describeFileError(message, path.dirname(target.dir), courseRoot);
  const hidden = Boolean(hiddenDir && module.moduleId.startsWith(hiddenDir + path.sep));
  const exercises = courseDirs().exercises;
  // Exercise suites are named from exercises/ (that is how results map to exercises); anything else from the root.
  const base =
    hidden && hiddenDir
      ? hiddenDir
      : module.moduleId.startsWith(exercises + path.sep)
        ? exercises
        : courseRoot;
  const tests: TestOutcome[] = [...module.children.allTests()].map((test) => {
    const result = test.result();
    const error = result.state === 'failed' ? result.errors?.[0] : undefined;
    return {
      name: test.fullName,
      status: result.state === 'passed' ? 'passed' : result.state === 'failed' ? 'failed' : 'skipped',
      ...(error ? { message: describe(error.message ?? String(error)) } : {}),
      durationMs: Math.round(test.diagnostic()?.duration ?? 0),
    };
  });
  const errors = module.errors();
  const firstError = errors[0];
  return {
    file: path.relative(base, module.moduleId),
    hidden,
    tests,
    ...(firstError ? { error: describe(firstError.message ?? String(firstError)) } : {}),
    durationMs: Math.round(module.diagnostic().duration),
  };
}
