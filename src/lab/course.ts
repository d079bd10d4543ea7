/**
 * The course on disk: chapters, exercises and their manifests, read from `exercises/` and checked
 * against `solutions/`, `docs/` and the syllabus. Every command starts from {@link loadCourse}.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allChapters } from '../course/syllabus.js';
import { type Manifest, ManifestError, parseManifest } from './manifest.js';

/** The repository root (the folder with package.json). */
export const courseRoot = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** One exercise: its manifest plus where its files are. */
export interface Exercise {
  /** `08-traffic/rate-limiter` */
  readonly id: string;
  /** `rate-limiter` */
  readonly name: string;
  /** `08-traffic` */
  readonly chapter: string;
  /** Absolute path of the pristine exercise folder. */
  readonly dir: string;
  /**
   * Absolute paths of the exercise's `*.test.ts` suites, in the order of the manifest's `files` (the
   * order the hints and the page teach them: `token-bucket.test.ts` before `http-limit.test.ts`), then
   * by name.
   */
  readonly testFiles: readonly string[];
  readonly manifest: Manifest;
}

/** A chapter that has exercises. */
export interface Chapter {
  /** `08-traffic` */
  readonly slug: string;
  /** `08` */
  readonly number: string;
  /** `traffic` */
  readonly name: string;
  readonly title: string;
  readonly exercises: readonly Exercise[];
}

export interface Course {
  readonly root: string;
  readonly chapters: readonly Chapter[];
  readonly exercises: readonly Exercise[];
}

/** The course's folders, relative to a root. */
export function courseDirs(root = courseRoot) {
  return {
    exercises: path.join(root, 'exercises'),
    solutions: path.join(root, 'solutions'),
    docs: path.join(root, 'docs'),
    lab: path.join(root, '.lab'),
  };
}

/** The course's files are inconsistent; lists every problem with the file it is in. */
export class CourseError extends Error {
  constructor(
    readonly problems: readonly string[],
    headline = "The course's files are inconsistent:",
    advice = '',
  ) {
    super(`${headline}\n${problems.map((p) => `  - ${p}`).join('\n')}${advice ? `\n\n${advice}` : ''}`);
    this.name = 'CourseError';
  }
}

/**
 * An `exercise.json` does not parse or validate. Fatal for every command: without the manifest the
 * lab cannot know that exercise exists, so whatever it said about the course (progress, "all solved",
 * a grade) would be wrong.
 */
export class ManifestsError extends CourseError {
  constructor(
    readonly files: readonly string[],
    problems: readonly string[],
  ) {
    super(
      problems,
      files.length === 1
        ? `${files[0]} is not a valid exercise manifest, so the lab cannot tell what that exercise is:`
        : `${files.length} exercise manifests are not valid (${files.join(', ')}), so the lab cannot tell what those exercises are:`,
      'Fix the field(s) named above (docs/maintainers/course-runner.mdx describes every field), or restore the\n' +
        'file from the course repository, then run the command again.',
    );
    this.name = 'ManifestsError';
  }
}

const listDirs = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((entry) => statSync(path.join(dir, entry)).isDirectory())
        .sort()
    : [];

/**
 * Reads every chapter and exercise below `root`. Lenient about a chapter being written (no docs page
 * yet, a missing hint file or solution): that never stops the rest of the course from running, and
 * `npm run verify` uses {@link checkCourse} to hold the course to every rule. Strict about manifests:
 * an `exercise.json` that does not parse or validate would make its exercise vanish, and every
 * command would then report a course it cannot know.
 * @throws {ManifestsError} naming each bad manifest and each bad field
 */
export function loadCourse(root = courseRoot): Course {
  const { course, badManifests, manifestProblems } = readCourse(root);
  if (badManifests.length > 0) throw new ManifestsError(badManifests, manifestProblems);
  return course;
}

/** Every consistency problem in the course, for `npm run verify`; empty when all is well. */
export function checkCourse(root = courseRoot): string[] {
  return readCourse(root).problems;
}

function readCourse(root: string): {
  course: Course;
  problems: string[];
  badManifests: string[];
  manifestProblems: string[];
} {
  const dirs = courseDirs(root);
  const problems: string[] = [];
  const badManifests: string[] = [];
  const manifestProblems: string[] = [];
  const chapters: Chapter[] = [];
  const rel = (p: string) => path.relative(root, p);

  for (const slug of listDirs(dirs.exercises)) {
    const info = allChapters.find((c) => c.slug === slug);
    if (!info) {
      problems.push(`exercises/${slug}: not a chapter of the syllabus (src/course/syllabus.ts)`);
      continue;
    }
    if (
      !existsSync(path.join(dirs.docs, `${slug}.mdx`)) &&
      !existsSync(path.join(dirs.docs, slug, 'index.mdx'))
    ) {
      problems.push(
        `exercises/${slug}: the chapter has no docs page (docs/${slug}.mdx or docs/${slug}/index.mdx)`,
      );
    }
    const exercises: Exercise[] = [];
    for (const name of listDirs(path.join(dirs.exercises, slug))) {
      const dir = path.join(dirs.exercises, slug, name);
      const manifestFile = path.join(dir, 'exercise.json');
      if (!existsSync(manifestFile)) {
        problems.push(`${rel(dir)}: exercise folder without exercise.json`);
        continue;
      }
      let manifest: Manifest;
      try {
        manifest = parseManifest(rel(manifestFile), readFileSync(manifestFile, 'utf8'));
      } catch (error) {
        if (!(error instanceof ManifestError)) throw error;
        const named = error.problems.map((p) => `${error.file}: ${p}`);
        problems.push(...named);
        manifestProblems.push(...named);
        badManifests.push(error.file);
        continue;
      }
      const id = `${slug}/${name}`;
      const where = rel(manifestFile);
      if (manifest.id !== id) problems.push(`${where}: id is "${manifest.id}", but its folder says "${id}"`);
      for (const file of manifest.files) {
        if (!existsSync(path.join(dir, file)))
          problems.push(`${where}: files lists ${file}, which is not in ${rel(dir)}`);
        if (!existsSync(path.join(dirs.solutions, id, file)))
          problems.push(`${where}: files lists ${file}, but solutions/${id}/${file} is missing`);
      }
      for (const [file, source] of Object.entries(manifest.copies)) {
        problems.push(...copyProblems(where, dir, file, path.join(root, source), source, manifest.files));
      }
      for (const field of ['serve', 'bench'] as const) {
        const file = manifest[field];
        if (file && !existsSync(path.join(dir, file)))
          problems.push(`${where}: ${field} names ${file}, which is not there`);
      }
      if (!existsSync(path.join(dir, 'HINTS.md'))) problems.push(`${rel(dir)}: no HINTS.md`);
      const testFiles = orderSuites(
        readdirSync(dir).filter((f) => f.endsWith('.test.ts')),
        manifest.files,
      ).map((f) => path.join(dir, f));
      if (testFiles.length === 0) problems.push(`${rel(dir)}: no *.test.ts suite`);
      exercises.push({ id, name, chapter: slug, dir, testFiles, manifest });
    }
    // The manifests' `order` first (an exercise without one goes last), then the folder name.
    exercises.sort(
      (a, b) =>
        (a.manifest.order ?? Number.MAX_SAFE_INTEGER) - (b.manifest.order ?? Number.MAX_SAFE_INTEGER) ||
        a.name.localeCompare(b.name),
    );
    const [number = '', ...rest] = slug.split('-');
    chapters.push({ slug, number, name: rest.join('-'), title: info.title, exercises });
  }
  return {
    course: { root, chapters, exercises: chapters.flatMap((c) => c.exercises) },
    problems,
    badManifests,
    manifestProblems,
  };
}

/**
 * Suites in the order of the files they test: `limiter.test.ts` goes where `limiter.ts` is in the
 * manifest's `files`; a suite named after part of a file (`repository.test.ts` for
 * `memory-repository.ts`) where that file is; the rest (an end-to-end `api.test.ts`) last, by name.
 */
export function orderSuites(suites: readonly string[], files: readonly string[]): string[] {
  const stems = files.map((f) => f.replace(/\.ts$/, ''));
  const rank = (suite: string) => {
    const stem = suite.replace(/\.test\.ts$/, '');
    const exact = stems.indexOf(stem);
    if (exact >= 0) return exact;
    const partial = stems.findIndex((s) => s.includes(stem) || stem.includes(s));
    return partial >= 0 ? partial : stems.length;
  };
  return [...suites].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The exercise a file belongs to, from its path relative to an `exercises/`-shaped folder. */
export function exerciseIdOf(relativePath: string): string | undefined {
  const [chapter, name] = relativePath.split(/[\\/]/);
  return chapter && name && /^\d\d-/.test(chapter) ? `${chapter}/${name}` : undefined;
}

/** A given copy of another exercise's answer must exist, not be an edited file, and match its source. */
function copyProblems(
  where: string,
  dir: string,
  file: string,
  sourcePath: string,
  source: string,
  editable: readonly string[],
): string[] {
  if (editable.includes(file))
    return [`${where}: copies lists ${file}, which is also in files (a copy is given, not edited)`];
  if (!existsSync(path.join(dir, file)))
    return [`${where}: copies lists ${file}, which is not in the exercise folder`];
  if (!existsSync(sourcePath))
    return [`${where}: copies says ${file} comes from ${source}, which does not exist`];
  // One plain block comment may head the copy (saying what it is); the rest is the source, unchanged.
  const body = readFileSync(path.join(dir, file), 'utf8').replace(/^\/\*(?!\*)[\s\S]*?\*\/\n/, '');
  return body === readFileSync(sourcePath, 'utf8')
    ? []
    : [`${where}: ${file} no longer matches ${source}; copy it again (keeping its header comment)`];
}
