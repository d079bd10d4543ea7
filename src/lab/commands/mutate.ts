/**
 * `npm run mutate -- <exercise>`: how much of the reference solution the exercise's suite really
 * checks. Stryker changes the solution in small ways (a `<` becomes `<=`, a branch is dropped) and
 * runs the suite against each change; a change no test notices ("a survivor") is a wrong solution a
 * learner could hand in and be told it is right.
 */
import path from 'node:path';
import { loadCourse } from '../course.js';
import { selectOneExercise } from '../select.js';
import { TARGET_ENV } from '../target.js';
import { color, UsageError } from '../ui.js';

export const mutateHelp = `Usage: npm run mutate -- <exercise> [--concurrency N]

Mutation-tests the exercise's suite against its reference solution (Stryker, Vitest runner) and
prints the mutation score and every surviving mutant. Aim for 80% or more, and read each survivor:
it is a wrong solution the suite would accept.

Reports: .lab/mutation/<chapter>/<exercise>.html and .json`;

/** A mutant as Stryker reports it (the fields this command reads). */
interface MutantResult {
  readonly status: string;
  readonly fileName: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly location: { start: { line: number; column: number } };
}

export async function mutateCommand(args: readonly string[]): Promise<number> {
  const concurrencyIndex = args.indexOf('--concurrency');
  const concurrency = concurrencyIndex >= 0 ? Number(args[concurrencyIndex + 1]) : 2;
  if (!(concurrency >= 1)) throw new UsageError('--concurrency takes a positive number.');
  const positional = args.filter((a, i) => !a.startsWith('-') && args[i - 1] !== '--concurrency');
  if (positional.length !== 1) throw new UsageError(`Name one exercise.\n\n${mutateHelp}`);

  const course = loadCourse();
  const exercise = selectOneExercise(course, positional[0] as string);
  const reportBase = path.join(course.root, '.lab', 'mutation', exercise.id);
  const isPure = exercise.manifest.needs.length === 0 && !exercise.manifest.serve;

  // The suites run against the solutions inside Stryker's sandbox copy of the course.
  process.env[TARGET_ENV] = 'solutions';
  process.env.LAB_NEEDS_REDIS = exercise.manifest.needs.includes('redis') ? '1' : '0';
  process.env.LAB_FS_CACHE = '0';
  process.env.LAB_ONLY_EXERCISE = exercise.id;

  const { Stryker } = await import('@stryker-mutator/core');
  const stryker = new Stryker({
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: {
      configFile: 'vitest.config.mts',
      related: false,
      pool: 'forks',
    },
    mutate: exercise.manifest.files.map((f) => `solutions/${exercise.id}/${f}`),
    // Per-test coverage runs only the tests that executed a mutant. Code in a server's callbacks or
    // behind Redis runs outside the test that caused it, so it is misattributed and mutants the
    // suite kills are reported as survivors: those exercises run every test against every mutant.
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
  });
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
