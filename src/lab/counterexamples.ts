/**
 * The counterexample corpus: plausible wrong implementations that every suite must reject.
 *
 * `counterexamples/<NN-slug>/<exercise>/<variant>/` holds the file(s) a variant changes (full
 * files, named as in the manifest's `files`) and `WHY.md`, which says the defect and the contract
 * clause it breaks. A variant is the reference solution with those files swapped in: it is laid out
 * as a learner's submission ({@link layOutSubmission}) and graded by the same sandbox and target
 * resolver the grader uses, so "caught" means what a learner's grade would say.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Course, Exercise } from './course.js';

/** One wrong implementation of one exercise. */
export interface Counterexample {
  readonly exercise: Exercise;
  /** The folder name, which says the defect: `local-calendar-day`. */
  readonly variant: string;
  /** `00-setup/redis-hello/local-calendar-day`, for messages. */
  readonly id: string;
  /** Absolute path of the variant's folder. */
  readonly dir: string;
  /** The files it replaces (names from the manifest's `files`). */
  readonly files: readonly string[];
  /** The first heading of WHY.md: the defect in one line. */
  readonly title: string;
}

/** Every exercise needs at least this many (COURSE-DESIGN.md §2). */
export const MIN_COUNTEREXAMPLES = 3;

/** The corpus, read from disk, and whatever is wrong with its layout. */
export function readCounterexamples(course: Course): {
  counterexamples: Counterexample[];
  problems: string[];
} {
  const base = path.join(course.root, 'counterexamples');
  const problems: string[] = [];
  const counterexamples: Counterexample[] = [];
  const byId = new Map(course.exercises.map((e) => [e.id, e]));
  for (const chapter of subfolders(base)) {
    for (const name of subfolders(path.join(base, chapter))) {
      const exerciseId = `${chapter}/${name}`;
      const exercise = byId.get(exerciseId);
      if (!exercise) {
        problems.push(`counterexamples/${exerciseId}: no exercise is called ${exerciseId}`);
        continue;
      }
      for (const variant of subfolders(path.join(base, exerciseId))) {
        const dir = path.join(base, exerciseId, variant);
        const where = `counterexamples/${exerciseId}/${variant}`;
        const entries = readdirSync(dir);
        const files = entries.filter((f) => f !== 'WHY.md');
        const strays = files.filter((f) => !exercise.manifest.files.includes(f));
        if (strays.length > 0)
          problems.push(
            `${where}: ${strays.join(', ')} ${strays.length === 1 ? 'is' : 'are'} not among the files a learner edits (${exercise.manifest.files.join(', ')})`,
          );
        if (files.length === 0) problems.push(`${where}: changes no file`);
        const title = whyTitle(path.join(dir, 'WHY.md'));
        if (title === undefined)
          problems.push(`${where}: no WHY.md (the defect, and the contract clause it breaks)`);
        else if (title === '') problems.push(`${where}/WHY.md: must start with "# <the defect in one line>"`);
        if (strays.length === 0 && files.length > 0 && title)
          counterexamples.push({ exercise, variant, id: `${exerciseId}/${variant}`, dir, files, title });
      }
    }
  }
  for (const exercise of course.exercises) {
    const count = counterexamples.filter((c) => c.exercise === exercise).length;
    if (count < MIN_COUNTEREXAMPLES)
      problems.push(
        `counterexamples/${exercise.id}: ${count} counterexample(s); every exercise needs at least ${MIN_COUNTEREXAMPLES}`,
      );
  }
  return { counterexamples, problems };
}

/**
 * Writes each counterexample into `submissionRoot/exercises/<id>/` as a learner's copy would hold
 * it: every file the manifest lists, from the reference solution, with the variant's files swapped
 * in. At most one counterexample per exercise fits one submission.
 */
export function layOutSubmission(
  course: Course,
  counterexamples: readonly Counterexample[],
  submissionRoot: string,
) {
  for (const c of counterexamples) {
    const into = path.join(submissionRoot, 'exercises', c.exercise.id);
    mkdirSync(into, { recursive: true });
    for (const file of c.exercise.manifest.files) {
      const from = c.files.includes(file)
        ? path.join(c.dir, file)
        : path.join(course.root, 'solutions', c.exercise.id, file);
      copyFileSync(from, path.join(into, file));
    }
  }
}

/**
 * Writes each counterexample into `root/<id>/` with the given files it imports (the modules the
 * learner does not edit, found by following relative imports), so that one `tsc` program can
 * typecheck every variant. Entry points that import the implementation (serve.ts, bench.ts) are
 * not needed, and their own imports of the test kit would not resolve from there.
 */
export function layOutForTypecheck(course: Course, counterexamples: readonly Counterexample[], root: string) {
  for (const c of counterexamples) {
    const into = path.join(root, c.id);
    mkdirSync(into, { recursive: true });
    const sourceOf = (file: string) =>
      c.files.includes(file)
        ? path.join(c.dir, file)
        : c.exercise.manifest.files.includes(file)
          ? path.join(course.root, 'solutions', c.exercise.id, file)
          : path.join(c.exercise.dir, file);
    const pending = [...c.exercise.manifest.files];
    const copied = new Set<string>();
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (copied.has(file) || !existsSync(sourceOf(file))) continue;
      copied.add(file);
      const text = readFileSync(sourceOf(file), 'utf8');
      copyFileSync(sourceOf(file), path.join(into, file));
      pending.push(...siblingImports(text));
    }
  }
}

/** `./protocol.js` and `./codes` in `from '...'` and `import('...')`, as sibling `.ts` file names. */
function siblingImports(source: string): string[] {
  const specifiers = [...source.matchAll(/(?:from|import)\s*\(?\s*['"](\.\/[^'"/]+)['"]/g)].map(
    (m) => m[1] ?? '',
  );
  return specifiers.map((s) =>
    s
      .slice(2)
      .replace(/\.(js|mjs|ts)$/, '')
      .concat('.ts'),
  );
}

/**
 * Splits the corpus into rounds that each hold at most one counterexample per exercise, so that a
 * round is one submission and one test run. Round k holds the k-th variant of every exercise.
 */
export function intoRounds(counterexamples: readonly Counterexample[]): Counterexample[][] {
  const rounds: Counterexample[][] = [];
  const seen = new Map<Exercise, number>();
  for (const c of counterexamples) {
    const k = seen.get(c.exercise) ?? 0;
    seen.set(c.exercise, k + 1);
    const round = rounds[k] ?? [];
    round.push(c);
    rounds[k] = round;
  }
  return rounds;
}

function subfolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((entry) => !entry.startsWith('.') && statSync(path.join(dir, entry)).isDirectory())
    .sort();
}

/** The text of WHY.md's first `# ` heading; '' when it has none; undefined when there is no WHY.md. */
function whyTitle(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const heading = readFileSync(file, 'utf8')
    .split('\n')
    .find((line) => line.trim() !== '');
  return heading?.startsWith('# ') ? heading.slice(2).trim() : '';
}

/** The test that caught a counterexample in the last run: a test file of its exercise, and a test in it. */
export interface Catcher {
  /** The test file's name in the exercise's folder: `visits.test.ts`. */
  readonly file: string;
  /** The test's full name: `describe > test`. */
  readonly test: string;
}

/**
 * Each exercise's `counterexamples/<exercise>/caught-by.json`: which test caught each variant when
 * verify last ran it. Verify runs that test first (a variant it still catches then costs one test)
 * and rewrites the file when a catcher changed; a stale or missing entry only costs time, never a
 * verdict. It also tells a reader of the suite which test stands for which mistake.
 */
export const CAUGHT_BY_FILE = 'caught-by.json';

export function readCaughtBy(course: Course, exercise: Exercise): Record<string, Catcher> {
  const file = path.join(course.root, 'counterexamples', exercise.id, CAUGHT_BY_FILE);
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Catcher>;
    return Object.fromEntries(
      Object.entries(parsed).filter(([, c]) => typeof c?.file === 'string' && typeof c?.test === 'string'),
    );
  } catch {
    return {};
  }
}

/** Writes an exercise's catchers, variants in name order; says whether the file changed. */
export function writeCaughtBy(
  course: Course,
  exercise: Exercise,
  catchers: Record<string, Catcher>,
): boolean {
  const file = path.join(course.root, 'counterexamples', exercise.id, CAUGHT_BY_FILE);
  const sorted = Object.fromEntries(
    Object.keys(catchers)
      .sort()
      .map((variant) => [variant, catchers[variant]]),
  );
  const text = `${JSON.stringify(sorted, null, 2)}\n`;
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  writeFileSync(file, text);
  return true;
}
