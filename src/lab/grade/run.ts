/**
 * Runs one submission's suites through the course runner ({@link runSuites}) and says, per test
 * file, what happened: it ran (with its outcome), it hit the time limit, or its worker crashed.
 *
 * All files go into one Vitest run, so a well-behaved submission costs what `npm test` costs. When a
 * file hangs, the grade reporter ends that run; the files that finished keep their results and the
 * ones that had not are run again, without the file that hung. Every round settles at least one
 * file, so a submission with several hostile files still ends, and never costs the others.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FileOutcome } from '../results.js';
import { runSuites } from '../suite-runner.js';
import { STRICT_IMPORTS_ENV } from '../vitest/target-plugin.js';
import type { GradeEvent } from './grade-reporter.js';

/** What happened to one test file. */
export type FileVerdict =
  | { readonly kind: 'ran'; readonly outcome: FileOutcome; readonly output: Readonly<Record<string, string>> }
  | { readonly kind: 'timeout'; readonly limitMs: number }
  | { readonly kind: 'crash'; readonly message: string }
  /** The run ended (submission time limit, or Vitest itself failed) before this file reported. */
  | { readonly kind: 'lost'; readonly message: string };

export interface SubmissionRunOptions {
  /** Absolute paths of the test files (the course's pristine suites, and hidden ones). */
  readonly files: readonly string[];
  /** The sandbox laid out like `exercises/`. */
  readonly targetDir: string;
  readonly hiddenDir?: string;
  readonly needsRedis: boolean;
  /** Time limit per test file. */
  readonly fileTimeoutMs: number;
  /** Time limit for the whole submission. */
  readonly submissionTimeoutMs: number;
  /** Heap limit for each test worker, in MB. */
  readonly memoryMb: number;
  /** Where Vitest may cache transformed modules (a temp folder; never the course's own cache). */
  readonly cacheDir: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Files that score together (one exercise's suites): once one of them hangs or crashes, the
   * others are not run, since the exercise scores 0 anyway.
   */
  readonly groupOf?: (file: string) => string;
  /** More Vitest arguments (the sandbox's: its config loader, the worker's privilege drop). */
  readonly vitestArgs?: readonly string[];
  /** Called after every round, once Vitest has exited (the sandbox ends what the round left running). */
  readonly afterRound?: (verdicts: Map<string, FileVerdict>) => void;
}

const GRADE_REPORTER = path.join(import.meta.dirname, 'grade-reporter.ts');

/** Runs the files; resolves with a verdict for every one of them. */
export async function runSubmission(options: SubmissionRunOptions): Promise<Map<string, FileVerdict>> {
  const verdicts = new Map<string, FileVerdict>();
  const deadline = Date.now() + options.submissionTimeoutMs;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-grade-run-'));
  try {
    let oneAtATime = false;
    for (let round = 1; ; round++) {
      const pending = options.files.filter((f) => !verdicts.has(f));
      const batch = oneAtATime ? pending.slice(0, 1) : pending;
      const remaining = deadline - Date.now();
      if (pending.length === 0) break;
      if (remaining <= 0) {
        const message = `the submission's time limit (${Math.round(options.submissionTimeoutMs / 1000)} s) ran out before this file could run`;
        for (const f of pending) verdicts.set(f, { kind: 'lost', message });
        break;
      }
      const eventsFile = path.join(scratch, `events-${round}.jsonl`);
      const run = await runSuites({
        files: batch,
        target: { dir: options.targetDir, ...(options.hiddenDir ? { hiddenDir: options.hiddenDir } : {}) },
        needsRedis: options.needsRedis,
        reporter: 'none',
        output: 'capture',
        timeoutMs: remaining,
        env: {
          ...options.env,
          LAB_GRADE_EVENTS: eventsFile,
          LAB_GRADE_FILE_TIMEOUT_MS: String(options.fileTimeoutMs),
          // The lab-target plugin refuses a learner's import of anything but Node built-ins, the
          // course's runtime dependencies and the exercise's own files (see target-plugin.ts).
          [STRICT_IMPORTS_ENV]: '1',
          FORCE_COLOR: '0',
          NO_COLOR: '1',
        },
        extraArgs: [
          `--reporter=${GRADE_REPORTER}`,
          '--no-cache', // Vitest's record of past runs lives in node_modules; a grader writes only to temp
          `--fsModuleCachePath=${options.cacheDir}`,
          `--execArgv=--max-old-space-size=${options.memoryMb}`,
          '--passWithNoTests',
          ...(options.vitestArgs ?? []),
        ],
      });
      const settled = settle(readEvents(eventsFile), batch);
      options.afterRound?.(settled);
      for (const [file, verdict] of settled) verdicts.set(file, verdict);
      for (const [file, verdict] of settled) {
        if (verdict.kind === 'ran' || !options.groupOf) continue;
        const group = options.groupOf(file);
        for (const other of options.files.filter((f) => !verdicts.has(f) && options.groupOf?.(f) === group))
          verdicts.set(other, {
            kind: 'lost',
            message: `not run, because ${path.basename(file)} of the same exercise failed first`,
          });
      }
      // Files that did not settle run again in the next round when a file's time limit (or the
      // submission's) ended this one. When the run died some other way (code that killed the runner
      // itself), nobody knows which file did it: from now on each file runs alone, so the culprit
      // loses only its own points.
      const silent = batch.filter((f) => !verdicts.has(f));
      const stoppedForHang = [...settled.values()].some((v) => v.kind === 'timeout');
      if (silent.length === 0 || stoppedForHang || run.timedOut) continue;
      if (batch.length > 1) {
        oneAtATime = true;
        continue;
      }
      for (const f of silent)
        verdicts.set(f, {
          kind: 'lost',
          message: `the test run ended without reporting it (did the code kill the test process?). Its last output:\n${lastLines(run.output)}`,
        });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return verdicts;
}

function readEvents(file: string): GradeEvent[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as GradeEvent];
      } catch {
        return []; // a line cut short when the run was killed
      }
    });
}

/** Turns one round's events into verdicts for the files that settled in it. */
function settle(events: readonly GradeEvent[], pending: readonly string[]): Map<string, FileVerdict> {
  const verdicts = new Map<string, FileVerdict>();
  const logs = new Map<string, string>();
  for (const e of events) if (e.type === 'log') logs.set(e.taskId, (logs.get(e.taskId) ?? '') + e.content);
  for (const e of events) {
    if (!('moduleId' in e) || !pending.includes(e.moduleId)) continue;
    if (e.type === 'end') {
      const output: Record<string, string> = {};
      for (const [id, name] of Object.entries(e.testIds)) {
        const text = logs.get(id);
        if (text) output[name] = text;
      }
      verdicts.set(e.moduleId, { kind: 'ran', outcome: e.outcome, output });
    } else if (e.type === 'timeout') verdicts.set(e.moduleId, { kind: 'timeout', limitMs: e.limitMs });
    else if (e.type === 'crash') verdicts.set(e.moduleId, { kind: 'crash', message: e.message });
  }
  return verdicts;
}

function lastLines(output: string, count = 5): string {
  const lines = output.trim().split('\n').filter(Boolean);
  return lines.slice(-count).join('\n') || '(no output)';
}
