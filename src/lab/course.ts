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
  /** Absolute paths of the exercise's `*.test.ts` suites, sorted. */
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
  constructor(readonly problems: readonly string[]) {
    super(`The course's files are inconsistent:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'CourseError';
  }
}

const listDirs = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((entry) => statSync(path.join(dir, entry)).isDirectory())
        .sort()
    : [];

/**
 * Reads every chapter and exercise below `root`. Lenient, so that a chapter being written (no docs
 * page yet, a missing hint file) never stops the rest of the course from running: an exercise whose
 * manifest is not valid is left out, and nothing else is checked. `npm run verify` uses
 * {@link checkCourse} to hold the course to every rule.
 */
export function loadCourse(root = courseRoot): Course {
  return readCourse(root).course;
}

/** Every consistency problem in the course, for `npm run verify`; empty when all is well. */
export function checkCourse(root = courseRoot): string[] {
  return readCourse(root).problems;
}

function readCourse(root: string): { course: Course; problems: string[] } {
  const dirs = courseDirs(root);
  const problems: string[] = [];
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
        problems.push(...error.problems.map((p) => `${error.file}: ${p}`));
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
      const testFiles = readdirSync(dir)
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => path.join(dir, f));
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
  return { course: { root, chapters, exercises: chapters.flatMap((c) => c.exercises) }, problems };
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
