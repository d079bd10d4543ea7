/**
 * `npm run mutate -- <exercise>`: how much of the reference solution the exercise's suite really
 * checks. Stryker changes the solution in small ways (a `<` becomes `<=`, a branch is dropped) and
 * runs the suite against each change; a change no test notices ("a survivor") is a wrong solution a
 * learner could hand in and be told it is right.
 */
import path from 'node:path';
import type { Stryker } from '@stryker-mutator/core';
import { type Course, type Exercise, loadCourse } from '../course.js';
import { selectOneExercise } from '../select.js';
import { TARGET_ENV } from '../target.js';
import { color, UsageError } from '../ui.js';

type PartialStrykerOptions = ConstructorParameters<typeof Stryker>[0];

export const mutateHelp = `Usage: npm run mutate -- <exercise> [--file <name>] [--tests <glob or path>] [--concurrency N]

Mutation-tests the exercise's suite against its reference solution (Stryker, Vitest runner) and
prints the mutation score and every surviving mutant. Aim for 80% or more, and read each survivor:
it is a wrong solution the suite would accept.

  --file <name>      mutate only this learner file of the exercise (one of the manifest's "files",
                     e.g. order-saga.ts); repeat it for several. Default: every learner file.
  --tests <glob>     run only these test files of the exercise against each mutant: a file name or
                     glob inside the exercise folder (saga.test.ts, "{saga,idempotency}.test.ts"),
                     or a path from the course root; repeat it for several. Default: all of them.
                     A mutant only these tests miss may be killed by the others: the score is a floor.
  --concurrency N    test runner processes (default 2).

Reports: .lab/mutation/<chapter>/<exercise>.html and .json; with --file <exercise>.<file>.html,
with --tests <exercise>[.<file>].some-tests.html (a partial run never overwrites the whole one).`;

/** A mutant as Stryker reports it (the fields this command reads). */
interface MutantResult {
  readonly status: string;
  readonly fileName: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly location: { start: { line: number; column: number } };
}

/** The command line of `npm run mutate`, parsed. */
export interface MutateArgs {
  readonly exercise: string;
  readonly concurrency: number;
  /** `--file` values, in the order given (empty: every learner file). */
  readonly files: readonly string[];
  /** `--tests` values, in the order given (empty: every test file). */
  readonly tests: readonly string[];
}

const VALUE_OPTIONS = ['--concurrency', '--file', '--tests'];

/** @throws {UsageError} for a missing exercise, a flag without its value, or a bad concurrency */
export function parseMutateArgs(args: readonly string[]): MutateArgs {
  const values = (flag: string): string[] =>
    args.flatMap((a, i) => {
      if (a !== flag) return [];
      const value = args[i + 1];
      if (value === undefined || value.startsWith('-'))
        throw new UsageError(`${flag} needs a value.\n\n${mutateHelp}`);
      return [value];
    });
  const concurrencyValues = values('--concurrency');
  const concurrency = concurrencyValues.length > 0 ? Number(concurrencyValues.at(-1)) : 2;
  if (!(concurrency >= 1)) throw new UsageError('--concurrency takes a positive number.');
  const files = values('--file');
  const tests = values('--tests');
  const positional = args.filter((a, i) => !a.startsWith('-') && !VALUE_OPTIONS.includes(args[i - 1] ?? ''));
  if (positional.length !== 1) throw new UsageError(`Name one exercise.\n\n${mutateHelp}`);
  return { exercise: positional[0] as string, concurrency, files, tests };
}

/** What one mutation run mutates, which tests it runs and where it reports. */
export interface MutationPlan {
  readonly exercise: Exercise;
  /** Learner files to mutate, from the course root (`solutions/<id>/<file>`). */
  readonly mutate: readonly string[];
  /** Absolute paths of the test files to run against each mutant; undefined: the whole suite. */
  readonly testFiles: readonly string[] | undefined;
  /** Absolute path of the reports, without `.html`/`.json`. */
  readonly reportBase: string;
}

/**
 * Checks `--file` against the manifest's learner files and resolves `--tests` to the exercise's test
 * files.
 * @throws {UsageError} for a file that is not one of the manifest's, or a `--tests` value that matches
 *   none of the exercise's test files; each message lists the valid names
 */
export function planMutation(course: Course, args: MutateArgs): MutationPlan {
  const exercise = selectOneExercise(course, args.exercise);
  const learnerFiles = exercise.manifest.files;
  for (const f of args.files) {
    if (!learnerFiles.includes(f))
      throw new UsageError(
        `--file ${f}: not a learner file of ${exercise.id}. Its files (exercise.json "files"): ${learnerFiles.join(', ')}.`,
      );
  }
  const files = args.files.length > 0 ? learnerFiles.filter((f) => args.files.includes(f)) : learnerFiles;

  let testFiles: string[] | undefined;
  if (args.tests.length > 0) {
    const matched = new Set<string>();
    for (const pattern of args.tests) {
      const hits = exercise.testFiles.filter((abs) =>
        [path.relative(exercise.dir, abs), path.relative(course.root, abs), abs].some((name) =>
          path.matchesGlob(name, pattern.replace(/^\.\//, '')),
        ),
      );
      if (hits.length === 0)
        throw new UsageError(
          `--tests ${pattern}: matches no test file of ${exercise.id}. Its test files: ${exercise.testFiles.map((f) => path.basename(f)).join(', ')}.`,
        );
      for (const hit of hits) matched.add(hit);
    }
    testFiles = exercise.testFiles.filter((f) => matched.has(f));
  }

  const base = path.join(course.root, '.lab', 'mutation', exercise.id);
  // A partial run reports beside the whole exercise's report, never over it.
  const reportBase = `${base}${args.files.length > 0 ? `.${files.map((f) => f.replace(/\.ts$/, '')).join('+')}` : ''}${
    testFiles ? '.some-tests' : ''
  }`;
  return { exercise, mutate: files.map((f) => `solutions/${exercise.id}/${f}`), testFiles, reportBase };
}

/** Stryker's options for a plan (without `--file`/`--tests`: the same as before those options existed). */
export function strykerOptions(plan: MutationPlan, concurrency: number): PartialStrykerOptions {
  const { exercise, reportBase } = plan;
  const isPure = exercise.manifest.needs.length === 0 && !exercise.manifest.serve;
  return {
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: {
      configFile: 'vitest.config.mts',
      related: false,
      pool: 'forks',
    },
    mutate: [...plan.mutate],
    // Stryker's `testFiles` (core 9.5+): only these files run, in the initial run and for each mutant.
    // The Vitest runner itself can only narrow by `dir` or by `related` imports, neither of which
    // picks files inside one exercise folder.
    ...(plan.testFiles ? { testFiles: [...plan.testFiles] } : {}),
    // Per-test coverage runs only the tests that executed a mutant. Code in a server's callbacks or
    // behind Redis runs outside the test that caused it, so it is misattributed and mutants the
    // suite kills are reported as survivors: those exercises ask for every test against every mutant.
    // But the Vitest runner (10.1) records per-test coverage whatever this option says, and Stryker
    // then runs each mutant only against the tests that executed it: a survivor's `testsCompleted`
    // in the JSON report is the number of tests it faced, not the suite's size.
    coverageAnalysis: isPure ? 'perTest' : 'all',
    concurrency,
    reporters: ['clear-text', 'progress', 'html', 'json'],
    htmlReporter: { fileName: `${reportBase}.html` },
    jsonReporter: { fileName: `${reportBase}.json` },
    clearTextReporter: { allowColor: Boolean(process.stdout.isTTY), logTests: false, reportScoreTable: true },
    tempDirName: '.lab/stryker-tmp',
    cleanTempDir: true,
    ignorePatterns: ['build', '.docusaurus', '.lab', 'docs', 'static'],
    timeoutMS: 10_000,
    disableTypeChecks: true,
  };
}

export async function mutateCommand(args: readonly string[]): Promise<number> {
  const parsed = parseMutateArgs(args);
  const course = loadCourse();
  const plan = planMutation(course, parsed);
  const { exercise, reportBase } = plan;

  // The suites run against the solutions inside Stryker's sandbox copy of the course.
  process.env[TARGET_ENV] = 'solutions';
  process.env.LAB_NEEDS_REDIS = exercise.manifest.needs.includes('redis') ? '1' : '0';
  process.env.LAB_FS_CACHE = '0';
  process.env.LAB_ONLY_EXERCISE = exercise.id;

  if (parsed.files.length > 0 || plan.testFiles)
    console.log(
      `Mutating ${plan.mutate.map((f) => path.basename(f)).join(', ')}; running ${
        plan.testFiles ? plan.testFiles.map((f) => path.basename(f)).join(', ') : 'every test file'
      } against each mutant.`,
    );

  const { Stryker: StrykerRunner } = await import('@stryker-mutator/core');
  const stryker = new StrykerRunner(strykerOptions(plan, parsed.concurrency));
  const results = (await stryker.runMutationTest()) as readonly MutantResult[];

  const detected = results.filter((m) => ['Killed', 'Timeout'].includes(m.status)).length;
  const survived = results.filter((m) => ['Survived', 'NoCoverage'].includes(m.status));
  const valid = detected + survived.length;
  const score = valid === 0 ? 0 : (100 * detected) / valid;
  console.log(
    `\n${color.bold(exercise.id)}: mutation score ${color.bold(`${score.toFixed(1)}%`)} (${detected} of ${valid} mutants detected)`,
  );
  for (const m of survived) {
    const where = `${path.relative(course.root, m.fileName)}:${m.location.start.line}:${m.location.start.column + 1}`;
    console.log(
      `  ${color.yellow('survived')} ${where} ${m.mutatorName}${m.replacement ? ` → ${m.replacement.split('\n')[0]}` : ''}`,
    );
  }
  console.log(color.dim(`\nReport: ${path.relative(course.root, reportBase)}.html`));
  return 0;
}
