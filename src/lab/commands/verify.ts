/**
 * `npm run verify`: the course's own test command (maintainers and CI). It proves the course keeps
 * its promises: the files are consistent, everything typechecks and lints, every test passes on
 * the reference solutions and fails on the stubs, the tooling's own tests pass, the site builds and
 * works in a real browser. It ends with a one-screen summary.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Course, checkCourse, courseRoot, loadCourse } from '../course.js';
import { type ExerciseResult, type RunResults, resultsByExercise } from '../results.js';
import { runSuites, type SuiteRun } from '../suite-runner.js';
import { resolveTargetDir } from '../target.js';
import { color, UsageError } from '../ui.js';

export const verifyHelp = `Usage: npm run verify [-- --skip <phases>] [-- --only <phases>]

The course's own checks, in order:
  course      manifests valid, ids match folders, listed files, solutions, hints, docs pages exist
  lockfile    \`npm ci\` accepts package-lock.json (every platform's optional binaries recorded)
  types       tsc over exercises/, solutions/, src/
  lint        Biome (lint and format) over the whole tree
  solutions   every test passes against solutions/
  stubs       every test fails against the stubs in exercises/ (a test that passes checks nothing)
  tooling     the lab's own tests (src/**/*.test.ts)
  site        the Docusaurus build (broken links and anchors fail it)
  browser     the built site in Debian's chromium (needs CHROMIUM_PATH: source the provision
              script with LAB_WITH_BROWSER=1)

Phases are comma-separated: --skip site,browser  or  --only solutions,stubs`;

interface PhaseOutcome {
  readonly ok: boolean;
  /** One line for the summary table. */
  readonly summary: string;
  /** Lines printed under the phase when it fails (or has something to say). */
  readonly details?: readonly string[];
  /** Tests this phase ran, for the closing count. */
  readonly passed?: number;
  readonly failed?: number;
}

interface Phase {
  readonly name: string;
  readonly run: (context: VerifyContext) => Promise<PhaseOutcome>;
}

interface VerifyContext {
  readonly course: Course;
  solutionRun?: ExerciseResult[];
}

const phases: readonly Phase[] = [
  { name: 'course', run: async () => courseConsistency() },
  { name: 'lockfile', run: async () => lockfileInSync() },
  {
    name: 'types',
    run: () => command(['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']),
  },
  {
    name: 'lint',
    run: () => command(['node_modules/@biomejs/biome/bin/biome', 'check', '--diagnostic-level=warn', '.']),
  },
  { name: 'solutions', run: (ctx) => solutionsPass(ctx) },
  { name: 'stubs', run: (ctx) => stubsFail(ctx) },
  { name: 'tooling', run: () => toolingTests() },
  {
    name: 'site',
    run: () =>
      command(['node_modules/@docusaurus/core/bin/docusaurus.mjs', 'build'], 'site built into build/'),
  },
  { name: 'browser', run: () => browserChecks() },
];

export async function verifyCommand(args: readonly string[]): Promise<number> {
  const listArg = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? (args[i + 1] ?? '').split(',').filter(Boolean) : undefined;
  };
  const skip = new Set(listArg('--skip') ?? []);
  const only = listArg('--only');
  for (const name of [...skip, ...(only ?? [])]) {
    if (!phases.some((p) => p.name === name)) {
      throw new UsageError(`No phase is called "${name}". Phases: ${phases.map((p) => p.name).join(', ')}`);
    }
  }
  const selected = phases.filter((p) => !skip.has(p.name) && (!only || only.includes(p.name)));

  const context: VerifyContext = { course: loadCourse() };
  const rows: { name: string; outcome: PhaseOutcome; seconds: number }[] = [];
  const started = performance.now();
  for (const phase of selected) {
    console.log(color.bold(`\n▶ ${phase.name}`));
    const t0 = performance.now();
    let outcome: PhaseOutcome;
    try {
      outcome = await phase.run(context);
    } catch (error) {
      outcome = { ok: false, summary: 'crashed', details: [String((error as Error)?.stack ?? error)] };
    }
    const seconds = (performance.now() - t0) / 1000;
    rows.push({ name: phase.name, outcome, seconds });
    console.log(
      `${outcome.ok ? color.green('✔') : color.red('✘')} ${phase.name}: ${outcome.summary} (${seconds.toFixed(1)} s)`,
    );
    for (const line of outcome.details ?? []) console.log(`    ${line}`);
  }

  const total = (performance.now() - started) / 1000;
  const passed = rows.reduce((n, r) => n + (r.outcome.passed ?? 0), 0);
  const failed = rows.reduce((n, r) => n + (r.outcome.failed ?? 0), 0);
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(color.bold('\nverify summary'));
  console.log(
    `  ${context.course.chapters.length} chapters, ${context.course.exercises.length} exercises, ${context.course.exercises.reduce((n, e) => n + e.testFiles.length, 0)} suites`,
  );
  for (const r of rows) {
    const mark = r.outcome.ok ? color.green('✔') : color.red('✘');
    console.log(
      `  ${mark} ${r.name.padEnd(width)} ${r.seconds.toFixed(1).padStart(6)} s  ${r.outcome.summary}`,
    );
  }
  console.log(`  total ${total.toFixed(1)} s`);
  const ok = rows.every((r) => r.outcome.ok);
  console.log(
    ok ? color.green('\nThe course verifies.') : color.red('\nThe course does not verify: see ✘ above.'),
  );
  // The closing count: tests checked across the solutions, stubs and tooling phases.
  console.log(`verify: ${passed} passed, ${failed} failed`);
  return ok ? 0 : 1;
}

/**
 * `npm ci` refuses a lockfile that lacks any platform's optional binary (npm/cli#4828), and npm on
 * Linux leaves out those it cannot resolve; a learner on macOS or Windows would be the one to find
 * out. A dry run of `npm ci` on a copy of package.json and the lockfile proves it here.
 */
function lockfileInSync(): PhaseOutcome {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-lockfile-'));
  try {
    for (const file of ['package.json', 'package-lock.json'])
      copyFileSync(path.join(courseRoot, file), path.join(scratch, file));
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const result = spawnSync(npm, ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: scratch,
      encoding: 'utf8',
      timeout: 5 * 60_000,
    });
    if (result.status === 0) return { ok: true, summary: 'npm ci accepts package-lock.json' };
    const errors = `${result.stdout}${result.stderr}`
      .split('\n')
      .filter((line) => /npm error (Missing|Invalid|code)/.test(line));
    return {
      ok: false,
      summary: 'npm ci rejects package-lock.json',
      details: [
        ...errors.slice(0, 20),
        'A "Missing: <platform binary>" means the registry lacks that platform at the locked version: pin the',
        'package (or add an override) to the newest version every platform has, then `npm install` again.',
      ],
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function courseConsistency(): PhaseOutcome {
  const problems = checkCourse();
  return problems.length === 0
    ? { ok: true, summary: 'manifests, files, solutions, hints and docs pages consistent' }
    : { ok: false, summary: `${problems.length} problem(s)`, details: problems };
}

/**
 * Runs a node script from the course root; output is shown only when it fails. A phase that has not
 * finished after `timeoutMs` is killed and fails, so a hang never eats CI's whole time budget.
 */
function command(
  argv: readonly string[],
  okSummary = 'clean',
  timeoutMs = 15 * 60_000,
): Promise<PhaseOutcome> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(process.execPath, argv, { cwd: courseRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      output += `\n(killed: still running after ${timeoutMs / 60_000} minutes)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      output += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(
        code === 0
          ? { ok: true, summary: okSummary }
          : { ok: false, summary: `exit code ${code}`, details: output.trim().split('\n').slice(-80) },
      );
    });
  });
}

/** A whole-course run takes a few minutes; one that runs for this long is hung. */
const SUITE_RUN_LIMIT_MS = 20 * 60_000;

const allTestFiles = (course: Course) => course.exercises.flatMap((e) => e.testFiles);
const needsRedis = (course: Course) => course.exercises.some((e) => e.manifest.needs.includes('redis'));

function runFailure(run: SuiteRun, what: string): PhaseOutcome | undefined {
  if (run.timedOut) {
    return {
      ok: false,
      summary: `the ${what} run was still going after ${SUITE_RUN_LIMIT_MS / 60_000} minutes and was stopped`,
      details: run.output.trim().split('\n').slice(-60),
    };
  }
  if (run.results) return undefined;
  return {
    ok: false,
    summary: `the ${what} run ended before it could report (exit ${run.exitCode})`,
    details: run.output.trim().split('\n').slice(-60),
  };
}

/** Runs every exercise suite against one target; a run that died or hung is a failed phase. */
async function runEveryExercise(
  ctx: VerifyContext,
  target: 'solutions' | 'exercises',
): Promise<{ run: RunResults; results: ExerciseResult[] } | PhaseOutcome> {
  const run = await runSuites({
    files: allTestFiles(ctx.course),
    target: { dir: resolveTargetDir(target) },
    needsRedis: needsRedis(ctx.course),
    reporter: target === 'solutions' ? 'dot' : 'none',
    output: 'capture',
    timeoutMs: SUITE_RUN_LIMIT_MS,
  });
  const broken = runFailure(run, target === 'solutions' ? 'solutions' : 'stubs');
  if (broken || !run.results) return broken as PhaseOutcome;
  return { run: run.results, results: resultsByExercise(ctx.course, run.results) };
}

async function solutionsPass(ctx: VerifyContext): Promise<PhaseOutcome> {
  const outcome = await runEveryExercise(ctx, 'solutions');
  if ('ok' in outcome) return outcome;
  const { run, results } = outcome;
  ctx.solutionRun = results;
  const details: string[] = [];
  for (const r of results) {
    for (const e of r.errors) details.push(`${r.exercise.id}: ${e.split('\n')[0]}`);
    for (const t of r.tests.filter((t) => t.status !== 'passed')) {
      details.push(
        `${r.exercise.id} › ${t.name}: ${t.status}${t.message ? ` — ${t.message.split('\n')[0]}` : ''}`,
      );
    }
  }
  for (const e of ctx.course.exercises)
    if (!results.some((r) => r.exercise === e)) details.push(`${e.id}: did not run`);
  for (const u of run.unhandledErrors) details.push(`unhandled: ${u.split('\n')[0]}`);
  const passed = results.reduce((n, r) => n + r.passed, 0);
  return {
    ok: details.length === 0,
    summary: `${passed} tests pass on the reference solutions${details.length ? `; ${details.length} problem(s)` : ''}`,
    details,
    passed,
    failed: details.length,
  };
}

async function stubsFail(ctx: VerifyContext): Promise<PhaseOutcome> {
  const outcome = await runEveryExercise(ctx, 'exercises');
  if ('ok' in outcome) return outcome;
  const { results } = outcome;
  const details: string[] = [];
  let redOnStub = 0;
  for (const r of results) {
    for (const t of r.tests) {
      if (t.status === 'failed') redOnStub++;
      else
        details.push(
          `${r.exercise.id} › ${t.name}: ${t.status} on the stub, so it checks nothing the learner wrote`,
        );
    }
    if (r.tests.length === 0 && r.errors.length > 0) {
      details.push(
        `${r.exercise.id}: the suite cannot load the stub (${r.errors[0]?.split('\n')[0]}); stubs must typecheck and import`,
      );
    }
    const onSolution = ctx.solutionRun?.find((s) => s.exercise === r.exercise);
    if (onSolution && onSolution.tests.length !== r.tests.length) {
      details.push(
        `${r.exercise.id}: ${r.tests.length} tests ran on the stub but ${onSolution.tests.length} on the solution`,
      );
    }
  }
  return {
    ok: details.length === 0,
    summary: `${redOnStub} tests fail on the stubs${details.length ? `; ${details.length} problem(s)` : ', as they must'}`,
    details,
    passed: redOnStub,
    failed: details.length,
  };
}

function findTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'fixtures' || entry.name === 'node_modules' ? [] : findTests(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

async function toolingTests(): Promise<PhaseOutcome> {
  const files = findTests(path.join(courseRoot, 'src'));
  if (files.length === 0) return { ok: true, summary: 'no tooling tests' };
  const run = await runSuites({
    files,
    needsRedis: true,
    reporter: 'dot',
    output: 'capture',
    timeoutMs: SUITE_RUN_LIMIT_MS,
  });
  const broken = runFailure(run, 'tooling');
  if (broken || !run.results) return broken as PhaseOutcome;
  const tests = run.results.files.flatMap((f) => f.tests.map((t) => ({ ...t, file: f.file })));
  const details = [
    ...run.results.files.flatMap((f) => (f.error ? [`${f.file}: ${f.error.split('\n')[0]}`] : [])),
    ...tests
      .filter((t) => t.status === 'failed')
      .map((t) => `${t.file} › ${t.name}: ${t.message?.split('\n')[0] ?? ''}`),
  ];
  const passed = tests.filter((t) => t.status === 'passed').length;
  return {
    ok: details.length === 0 && run.exitCode === 0,
    summary: `${passed} of ${tests.length} tooling tests pass`,
    details: details.length > 0 || run.exitCode === 0 ? details : run.output.trim().split('\n').slice(-40),
    passed,
    failed: tests.length - passed,
  };
}

async function browserChecks(): Promise<PhaseOutcome> {
  const entry = path.join(courseRoot, 'src/site-checks/run.ts');
  if (!existsSync(entry)) return { ok: false, summary: 'src/site-checks/run.ts is missing' };
  if (!process.env.CHROMIUM_PATH) {
    return {
      ok: false,
      summary: 'no browser: CHROMIUM_PATH is not set',
      details: [
        'Run `LAB_WITH_BROWSER=1 source ../shared/ci/provision.sh` (or point CHROMIUM_PATH at a Chromium),',
        'or skip this phase with `npm run verify -- --skip browser`.',
      ],
    };
  }
  return command(
    ['node_modules/tsx/dist/cli.mjs', entry, '--build-dir', 'build'],
    'pages checked in chromium',
  );
}
