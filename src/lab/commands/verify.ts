/**
 * `npm run verify`: the course's own test command (maintainers and CI). It proves the course keeps
 * its promises: the files are consistent, everything typechecks and lints, every test passes on
 * the reference solutions and fails on the stubs, the tooling's own tests pass, the site builds and
 * works in a real browser. It ends with a one-screen summary.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Catcher,
  type Counterexample,
  intoRounds,
  layOutForTypecheck,
  layOutSubmission,
  readCaughtBy,
  readCounterexamples,
  writeCaughtBy,
} from '../counterexamples.js';
import { type Course, checkCourse, courseRoot, type Exercise, loadCourse } from '../course.js';
import { buildSandbox } from '../grade/sandbox.js';
import { type ExerciseResult, type RunResults, resultsByExercise } from '../results.js';
import { selectExercises } from '../select.js';
import { runSuites, type SuiteRun } from '../suite-runner.js';
import { resolveTargetDir } from '../target.js';
import { color, UsageError } from '../ui.js';

/** A zone that is not UTC, has a half-hour offset and no daylight saving: catches "local day" bugs. */
export const VERIFY_TZ = 'Asia/Kolkata';

export const verifyHelp = `Usage: npm run verify [-- --skip <phases>] [-- --only <phases>] [-- <selector...>]

The course's own checks, in order:
  course      manifests valid, ids match folders, listed files, solutions, hints, docs pages exist
  lockfile    \`npm ci\` accepts package-lock.json (every platform's optional binaries recorded)
  types       tsc over exercises/, solutions/, src/
  lint        Biome (lint and format) over the whole tree
  solutions   every test passes against solutions/
  stubs       every test fails against the stubs in exercises/ (a test that passes checks nothing)
  counterexamples
              every wrong implementation in counterexamples/ typechecks and fails its suite
  tooling     the lab's own tests (src/**/*.test.ts) but the timed ones
  timed       the grader's tests and the learner commands' on a fresh clone, last and alone:
              they hold real runs to time limits
  site        the Docusaurus build (broken links and anchors fail it)
  browser     the built site in Debian's chromium (needs CHROMIUM_PATH: source the provision
              script with LAB_WITH_BROWSER=1)

Phases are comma-separated: --skip site,browser  or  --only solutions,stubs
Selectors (as for npm test: 08, traffic, 08/rate-limiter) limit the solutions, stubs and
counterexamples phases to those exercises:  --only counterexamples 08

The solutions and counterexamples phases run with TZ=${VERIFY_TZ}. The solutions phase runs each
file's tests in a shuffled order (the seed is printed, and LAB_SEED=<seed> repeats it); the
counterexamples phase runs the cheapest files and tests first and stops an exercise at its first
failure.`;

export interface PhaseOutcome {
  readonly ok: boolean;
  /** One line for the summary table. */
  readonly summary: string;
  /** Lines printed under the phase when it fails (or has something to say). */
  readonly details?: readonly string[];
  /** Tests this phase ran, for the closing count. */
  readonly passed?: number;
  readonly failed?: number;
}

export interface Phase<Context = VerifyContext> {
  readonly name: string;
  /**
   * Phases that must finish first (those selected for this run). A phase starts as soon as they have,
   * so phases with the same predecessors run side by side.
   */
  readonly after: readonly string[];
  readonly run: (context: Context) => Promise<PhaseOutcome>;
}

interface VerifyContext {
  readonly course: Course;
  /** The exercises the selectors name (every exercise when there are none). */
  readonly selected: readonly Exercise[];
  /** Vitest's shuffle seed for this run. */
  readonly seed: number;
  solutionRun?: ExerciseResult[];
}

/*
 * The order: cheap checks first, then the suites against the solutions and the stubs one after the
 * other (they are the primary signal, and real-time tests are steadier on an idle machine). The site
 * build starts beside the stubs (which only need to fail, so load cannot spoil them), and the browser
 * checks, the longest phase, follow it at once; the counterexamples phase, which mostly waits on real
 * time (servers, timers, Redis), runs beside them. The tooling tests follow the counterexamples, beside
 * the rest of the browser checks. The timed tests come last and alone: the grader's hold submissions to
 * time and memory limits (beside the counterexamples, load average 30 on two cores, a submission that
 * should hit the memory limit hit the time limit first), and the learner commands' wait for real runs
 * of Vitest on a fresh clone (beside the browser checks, `npm test -- --watch` once took over 80 s).
 * LAB_VERIFY_SERIAL=1 runs one phase at a time, to tell a timing flake from a real failure.
 */
const phases: readonly Phase[] = [
  { name: 'course', after: [], run: async (ctx) => courseConsistency(ctx.course) },
  { name: 'lockfile', after: ['course'], run: async () => lockfileInSync() },
  {
    name: 'types',
    after: ['lockfile'],
    run: () => command(['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']),
  },
  {
    name: 'lint',
    after: ['lockfile'],
    run: () => command(['node_modules/@biomejs/biome/bin/biome', 'check', '--diagnostic-level=warn', '.']),
  },
  { name: 'solutions', after: ['types', 'lint'], run: (ctx) => solutionsPass(ctx) },
  { name: 'stubs', after: ['solutions'], run: (ctx) => stubsFail(ctx) },
  { name: 'counterexamples', after: ['stubs'], run: (ctx) => counterexamplesFail(ctx) },
  {
    name: 'site',
    after: ['solutions'],
    run: () =>
      command(['node_modules/@docusaurus/core/bin/docusaurus.mjs', 'build'], 'site built into build/'),
  },
  { name: 'browser', after: ['site'], run: () => browserChecks() },
  { name: 'tooling', after: ['counterexamples'], run: () => toolingTests('tooling') },
  { name: 'timed', after: ['tooling', 'browser'], run: () => toolingTests('timed') },
];

export async function verifyCommand(args: readonly string[]): Promise<number> {
  const listArg = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? (args[i + 1] ?? '').split(',').filter(Boolean) : undefined;
  };
  const unknown = args.filter((a) => a.startsWith('-') && a !== '--skip' && a !== '--only');
  if (unknown.length > 0) throw new UsageError(`Unknown option ${unknown.join(', ')}.\n\n${verifyHelp}`);
  const selectors = args.filter(
    (a, i) => !a.startsWith('-') && args[i - 1] !== '--skip' && args[i - 1] !== '--only',
  );
  const skip = new Set(listArg('--skip') ?? []);
  const only = listArg('--only');
  for (const name of [...skip, ...(only ?? [])]) {
    if (!phases.some((p) => p.name === name)) {
      throw new UsageError(`No phase is called "${name}". Phases: ${phases.map((p) => p.name).join(', ')}`);
    }
  }
  const selected = phases.filter((p) => !skip.has(p.name) && (!only || only.includes(p.name)));

  const course = loadCourse();
  const seed = Number(process.env.LAB_SEED) || randomInt(1, 2 ** 31 - 1);
  const context: VerifyContext = { course, selected: selectExercises(course, selectors), seed };
  const started = performance.now();
  const rows = await runPhases(phases, selected, context, process.env.LAB_VERIFY_SERIAL === '1');

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
  if (rows.some((r) => r.name === 'solutions'))
    console.log(
      `  suites ran with TZ=${VERIFY_TZ}, the solutions' tests shuffled with seed ${seed} (LAB_SEED=${seed} repeats it)`,
    );
  else if (rows.some((r) => r.name === 'counterexamples'))
    console.log(`  suites ran with TZ=${VERIFY_TZ}, cheapest tests first`);
  const ok = rows.every((r) => r.outcome.ok);
  console.log(
    ok ? color.green('\nThe course verifies.') : color.red('\nThe course does not verify: see ✘ above.'),
  );
  // The closing count: tests checked across the solutions, stubs, tooling and timed phases.
  console.log(`verify: ${passed} passed, ${failed} failed`);
  return ok ? 0 : 1;
}

export interface PhaseRow {
  readonly name: string;
  readonly outcome: PhaseOutcome;
  readonly seconds: number;
}

/**
 * Runs the phases, each once its predecessors (among `selected`) have finished, and prints each one's
 * result as it ends. Rows come back in the phases' order, whatever order they finished in.
 */
export async function runPhases<Context>(
  all: readonly Phase<Context>[],
  selected: readonly Phase<Context>[],
  context: Context,
  serial: boolean,
): Promise<PhaseRow[]> {
  const names = new Set(selected.map((p) => p.name));
  const done = new Map<string, Promise<PhaseRow>>();
  let previous: Promise<unknown> = Promise.resolve();
  const running = new Set<string>();
  const runOne = async (phase: Phase<Context>): Promise<PhaseRow> => {
    const besides = serial ? [] : [...running];
    running.add(phase.name);
    console.log(
      color.bold(`\n▶ ${phase.name}`) + (besides.length > 0 ? ` (beside ${besides.join(', ')})` : ''),
    );
    const t0 = performance.now();
    let outcome: PhaseOutcome;
    try {
      outcome = await phase.run(context);
    } catch (error) {
      outcome = { ok: false, summary: 'crashed', details: [String((error as Error)?.stack ?? error)] };
    }
    const seconds = (performance.now() - t0) / 1000;
    running.delete(phase.name);
    console.log(
      `${outcome.ok ? color.green('✔') : color.red('✘')} ${phase.name}: ${outcome.summary} (${seconds.toFixed(1)} s)`,
    );
    for (const line of outcome.details ?? []) console.log(`    ${line}`);
    return { name: phase.name, outcome, seconds };
  };
  const byName = new Map(all.map((p) => [p.name, p]));
  // A predecessor left out of this run hands on its own predecessors: the order still holds.
  const predecessors = (phase: Phase<Context>): string[] =>
    phase.after.flatMap((name) =>
      names.has(name) ? [name] : predecessors(byName.get(name) as Phase<Context>),
    );
  for (const phase of selected) {
    const before = serial ? [previous] : [...new Set(predecessors(phase))].map((name) => done.get(name));
    const row = Promise.all(before).then(() => runOne(phase));
    done.set(phase.name, row);
    previous = row;
  }
  return Promise.all(selected.map((p) => done.get(p.name) as Promise<PhaseRow>));
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

function courseConsistency(course: Course): PhaseOutcome {
  const problems = [...checkCourse(), ...readCounterexamples(course).problems];
  return problems.length === 0
    ? { ok: true, summary: 'manifests, files, solutions, hints, docs pages and counterexamples consistent' }
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

const testFilesOf = (exercises: readonly Exercise[]) => exercises.flatMap((e) => e.testFiles);
const needsRedis = (exercises: readonly Exercise[]) =>
  exercises.some((e) => e.manifest.needs.includes('redis'));
/** Vitest arguments that run each file's tests in an order drawn from `seed`. */
const shuffled = (seed: number) => ['--sequence.shuffle.tests', `--sequence.seed=${seed}`];

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
  // The solutions must pass whatever the zone and the order of tests; the stubs fail either way.
  const onSolutions = target === 'solutions';
  const run = await runSuites({
    files: testFilesOf(ctx.selected),
    target: { dir: resolveTargetDir(target) },
    needsRedis: needsRedis(ctx.selected),
    reporter: onSolutions ? 'dot' : 'none',
    output: 'capture',
    timeoutMs: SUITE_RUN_LIMIT_MS,
    ...(onSolutions ? { env: { TZ: VERIFY_TZ }, extraArgs: shuffled(ctx.seed) } : {}),
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
  rememberFileCosts(run);
  const details: string[] = [];
  for (const r of results) {
    for (const e of r.errors) details.push(`${r.exercise.id}: ${e.split('\n')[0]}`);
    for (const t of r.tests.filter((t) => t.status !== 'passed')) {
      details.push(
        `${r.exercise.id} › ${t.name}: ${t.status}${t.message ? ` — ${t.message.split('\n')[0]}` : ''}`,
      );
    }
  }
  for (const e of ctx.selected)
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

/**
 * Where each test file's and each test's duration on the solutions is kept between runs (`.lab/` is
 * git-ignored), for the counterexamples phase to run the cheap ones first, also when it runs alone.
 */
const fileCostsPath = path.join(courseRoot, '.lab', 'file-costs.json');

function rememberFileCosts(run: RunResults): void {
  const suites = run.files.filter((f) => !f.hidden);
  const costs = {
    files: Object.fromEntries(suites.map((f) => [`exercises/${f.file}`, f.durationMs])),
    tests: Object.fromEntries(
      suites.map((f) => [
        `exercises/${f.file}`,
        Object.fromEntries(f.tests.map((t) => [t.name, t.durationMs])),
      ]),
    ),
  };
  mkdirSync(path.dirname(fileCostsPath), { recursive: true });
  writeFileSync(fileCostsPath, `${JSON.stringify(costs, null, 2)}\n`);
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

/**
 * Every counterexample must typecheck (a wrong implementation that does not compile proves nothing)
 * and must fail its exercise's suite when graded as a submission. Each round is one submission
 * holding at most one variant per exercise; rounds run side by side.
 */
async function counterexamplesFail(ctx: VerifyContext): Promise<PhaseOutcome> {
  const { counterexamples: all, problems: everyProblem } = readCounterexamples(ctx.course);
  const corpus = all.filter((c) => ctx.selected.includes(c.exercise));
  const problems = everyProblem.filter((p) =>
    ctx.selected.some((e) => p.startsWith(`counterexamples/${e.id}`)),
  );
  if (corpus.length === 0)
    return { ok: problems.length === 0, summary: 'no counterexamples selected', details: problems };
  // Inside the course (the typecheck resolves node_modules from there), one folder per run.
  mkdirSync(path.join(courseRoot, '.lab'), { recursive: true });
  const work = mkdtempSync(path.join(courseRoot, '.lab', 'counterexamples-'));
  try {
    // A variant that does not typecheck proves nothing; the others still run.
    const typeErrors = await typecheckCounterexamples(ctx.course, corpus, path.join(work, 'typecheck'));
    const compiles = corpus.filter(
      (c) => !typeErrors.some((line) => line.startsWith(`counterexamples/${c.id}/`)),
    );
    const details = [...problems];
    if (typeErrors.length > 0)
      details.push(
        'counterexamples that do not typecheck (a wrong implementation must compile):',
        ...typeErrors,
      );

    const rounds = intoRounds(compiles);
    const caughtBefore = new Map(ctx.selected.map((e) => [e, readCaughtBy(ctx.course, e)]));
    const cores = os.availableParallelism();
    // Rounds mostly wait on real time (servers, timers) once each file no longer gets a fresh worker:
    // measured on two cores, 474 variants, two rounds at once 317 s, four 165 s (same catchers).
    // LAB_COUNTEREXAMPLE_JOBS overrides.
    const jobs = Math.min(
      rounds.length,
      Number(process.env.LAB_COUNTEREXAMPLE_JOBS) || Math.max(JOBS_DEFAULT, cores),
    );
    const verdicts = new Map<Counterexample, Verdict>();
    let next = 0;
    const worker = async () => {
      for (let k = next++; k < rounds.length; k = next++) {
        const round = rounds[k] as Counterexample[];
        const firsts = round.flatMap((c) => {
          const catcher = caughtBefore.get(c.exercise)?.[c.variant];
          return catcher ? [{ c, catcher }] : [];
        });
        for (const [c, v] of await runRound(
          ctx,
          round,
          firsts,
          path.join(work, `round-${k + 1}`),
          cores,
          jobs,
        ))
          verdicts.set(c, v);
      }
    };
    await Promise.all(Array.from({ length: jobs }, worker));

    let caught = 0;
    for (const c of corpus) {
      const verdict = verdicts.get(c) ?? { kind: 'lost', why: 'it does not typecheck (see above)' };
      const why = `counterexamples/${c.id}/WHY.md`;
      if (verdict.kind === 'caught') {
        caught++;
        if (ctx.selected.length < ctx.course.exercises.length)
          details.push(
            `${color.green('✔')} ${c.id}: caught by ${verdict.by[0]}${verdict.by.length > 1 ? ` (+${verdict.by.length - 1} more)` : ''}`,
          );
      } else if (verdict.kind === 'survived') {
        details.push(`${color.red('✘')} ${c.id} SURVIVED: ${c.title}`);
        details.push(`    every test passed; the suite has a hole or the contract is vague (${why})`);
      } else {
        details.push(`${color.red('✘')} ${c.id} proves nothing: ${verdict.why}`);
      }
    }
    // Which test caught each variant, kept beside the corpus for the next run to try first.
    const changed = ctx.selected.filter((exercise) => {
      const previous = caughtBefore.get(exercise) ?? {};
      const inRun = corpus.filter((c) => c.exercise === exercise);
      const ledger: Record<string, Catcher> = {};
      for (const c of inRun) {
        const v = verdicts.get(c);
        const kept = v?.kind === 'caught' ? v.catcher : previous[c.variant];
        if (kept) ledger[c.variant] = kept;
      }
      return inRun.length > 0 && writeCaughtBy(ctx.course, exercise, ledger);
    });
    if (changed.length > 0)
      details.push(
        `the tests that catch ${changed.length === 1 ? 'one exercise’s' : `${changed.length} exercises’`} counterexamples changed (git diff shows which; LAB_ISOLATE=1 confirms a catch with a fresh worker per file); commit ${changed.map((e) => `counterexamples/${e.id}/caught-by.json`).join(', ')}`,
      );
    // What makes the phase slow, for whoever wants it faster: the counterexamples that took longest.
    const costly = [...verdicts]
      .flatMap(([c, v]) => (v.kind === 'caught' ? [{ c, ms: v.ms }] : []))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5);
    // All of them, by id, in .lab/ (git-ignored).
    writeFileSync(
      path.join(courseRoot, '.lab', 'counterexample-costs.json'),
      `${JSON.stringify(Object.fromEntries([...verdicts].map(([c, v]) => [c.id, v.kind === 'caught' ? v.ms : v.kind])), null, 2)}\n`,
    );
    if (costly.length > 0)
      details.push(
        `slowest to catch: ${costly.map(({ c, ms }) => `${c.id} ${(ms / 1000).toFixed(1)} s`).join(', ')}`,
      );
    const wrong = corpus.length - caught;
    return {
      ok: wrong === 0 && problems.length === 0 && typeErrors.length === 0,
      summary: `${caught} of ${corpus.length} counterexamples caught${wrong ? `; ${wrong} not` : ''}`,
      details,
      passed: caught,
      failed: wrong + problems.length,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

type Verdict =
  | {
      readonly kind: 'caught';
      readonly by: readonly string[];
      /** The first test that failed, with its file: tried first next time. */
      readonly catcher?: Catcher;
      readonly ms: number;
    }
  | { readonly kind: 'survived' }
  | { readonly kind: 'lost'; readonly why: string };

const JOBS_DEFAULT = 4;

/** Grades one round as a submission and says, per counterexample, whether its suite caught it. */
async function runRound(
  ctx: VerifyContext,
  round: readonly Counterexample[],
  firsts: readonly { c: Counterexample; catcher: Catcher }[],
  dir: string,
  cores: number,
  jobs: number,
): Promise<Map<Counterexample, Verdict>> {
  const exercises = round.map((c) => c.exercise);
  layOutSubmission(ctx.course, round, path.join(dir, 'submission'));
  const sandbox = buildSandbox(path.join(dir, 'submission'), exercises, path.join(dir, 'sandbox'));
  // The tests that caught these variants last time run first (src/lab/vitest/cheap-first-runner.ts).
  const catchersFile = path.join(dir, 'run-first.json');
  const runFirst: Record<string, string[]> = {};
  for (const { c, catcher } of firsts) {
    const file = `exercises/${c.exercise.id}/${catcher.file}`;
    runFirst[file] = [...(runFirst[file] ?? []), catcher.test];
  }
  writeFileSync(catchersFile, JSON.stringify(runFirst));
  const run = await runSuites({
    files: testFilesOf(exercises),
    target: { dir: sandbox.dir },
    needsRedis: needsRedis(exercises),
    reporter: 'none',
    output: 'capture',
    timeoutMs: SUITE_RUN_LIMIT_MS,
    env: {
      TZ: VERIFY_TZ,
      FORCE_COLOR: '0',
      NO_COLOR: '1',
      // Only whether each exercise fails matters: cheap files and tests first, and an exercise's
      // remaining tests skipped once one failed (src/lab/vitest/stop-at-first-failure.ts).
      LAB_STOP_AT_FIRST_FAILURE: '1',
      LAB_CAUGHT_DIR: path.join(dir, 'caught'),
      LAB_RUN_FIRST: catchersFile,
      ...(existsSync(fileCostsPath) ? { LAB_FILE_COSTS: fileCostsPath } : {}),
    },
    // Cheapest tests first rather than shuffled: the order decides only how soon a failure comes.
    extraArgs: [
      `--maxWorkers=${Math.max(1, Math.floor(cores / jobs))}`,
      `--fsModuleCachePath=${path.join(dir, 'cache')}`,
    ],
  });
  const verdicts = new Map<Counterexample, Verdict>();
  const results = run.results ? resultsByExercise(ctx.course, run.results) : [];
  // The time the exercise's files took in this run: what catching the counterexample cost.
  const filesOf = (c: Counterexample) =>
    (run.results?.files ?? []).filter((f) => f.file.startsWith(`${c.exercise.id}/`));
  const firstFailure = (c: Counterexample): Catcher | undefined => {
    for (const f of filesOf(c)) {
      const test = f.tests.find((t) => t.status === 'failed');
      if (test) return { file: path.basename(f.file), test: test.name };
    }
    return undefined;
  };
  const timeSpentOn = (c: Counterexample) =>
    (run.results?.files ?? [])
      .filter((f) => f.file.startsWith(`${c.exercise.id}/`))
      .reduce((sum, f) => sum + f.durationMs, 0);
  for (const c of round) {
    const problem = sandbox.problems.get(c.exercise.id);
    const result = results.find((r) => r.exercise === c.exercise);
    const failing = result?.tests.filter((t) => t.status === 'failed').map((t) => t.name) ?? [];
    if (problem) verdicts.set(c, { kind: 'lost', why: problem });
    else if (failing.length > 0)
      verdicts.set(c, { kind: 'caught', by: failing, catcher: firstFailure(c), ms: timeSpentOn(c) });
    else if (result && result.errors.length === 0 && result.passed > 0) verdicts.set(c, { kind: 'survived' });
    else
      verdicts.set(c, {
        kind: 'lost',
        why: result?.errors[0]
          ? `its suite could not run it: ${result.errors[0].split('\n')[0]}`
          : `the run ended before it reported (exit ${run.exitCode}${run.timedOut ? ', time limit' : ''}): ${run.output.trim().split('\n').slice(-3).join(' / ')}`,
      });
  }
  return verdicts;
}

/**
 * One `tsc` program over every variant laid out with the given files it imports; resolves with the
 * error lines, paths shown as `counterexamples/<id>/<file>` (empty when everything typechecks).
 */
async function typecheckCounterexamples(
  course: Course,
  corpus: readonly Counterexample[],
  dir: string,
): Promise<string[]> {
  layOutForTypecheck(course, corpus, dir);
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: path.join(courseRoot, 'tsconfig.json'),
      compilerOptions: { rootDirs: [], types: ['node'] },
      include: ['./**/*.ts'],
      exclude: [],
    }),
  );
  const checked = await command([
    'node_modules/typescript/bin/tsc',
    '-p',
    config,
    '--noEmit',
    '--pretty',
    'false',
  ]);
  if (checked.ok) return [];
  return (checked.details ?? []).map((line) =>
    line.replaceAll(`${path.relative(courseRoot, dir)}/`, 'counterexamples/'),
  );
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

/** ", 1 skipped (it needs Docker)" style tail for a summary; empty when nothing was skipped. */
function skipped(tests: readonly { status: string }[]): string {
  const n = tests.filter((t) => t.status === 'skipped').length;
  return n === 0
    ? ''
    : `, ${n} skipped (${n === 1 ? 'it needs' : 'they need'} what this machine lacks, e.g. Docker)`;
}

/** Tests that hold real runs to time limits, so they run alone: the grader's, the learner commands'. */
const TIMED_TESTS = [
  path.join(courseRoot, 'src', 'lab', 'grade') + path.sep,
  path.join(courseRoot, 'src', 'lab', 'commands', 'learner.test.ts'),
];
const isTimed = (file: string) => TIMED_TESTS.some((prefix) => file.startsWith(prefix));

/** `tooling`: the lab's own tests but the timed ones; `timed`: those alone. */
async function toolingTests(part: 'tooling' | 'timed'): Promise<PhaseOutcome> {
  const files = findTests(path.join(courseRoot, 'src')).filter(
    (file) => isTimed(file) === (part === 'timed'),
  );
  if (files.length === 0) return { ok: true, summary: `no ${part} tests` };
  const run = await runSuites({
    files,
    needsRedis: true,
    reporter: 'dot',
    output: 'capture',
    timeoutMs: SUITE_RUN_LIMIT_MS,
  });
  const broken = runFailure(run, part);
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
    summary: `${passed} of ${tests.length} ${part} tests pass${skipped(tests)}`,
    details: details.length > 0 || run.exitCode === 0 ? details : run.output.trim().split('\n').slice(-40),
    passed,
    // A test skipped for want of Docker is neither: counting it as failed made a green run say "1 failed".
    failed: tests.filter((t) => t.status === 'failed').length,
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
