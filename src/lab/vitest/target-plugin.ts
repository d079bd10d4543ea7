/**
 * The one place `LAB_TARGET` takes effect: a Vite plugin that redirects an exercise's relative
 * imports of its own editable files (the manifest's `files`) to the chosen target folder.
 *
 * A suite in `exercises/08-traffic/rate-limiter/` imports `./limiter.js`. With the target
 * `solutions` that import loads `solutions/08-traffic/rate-limiter/limiter.ts`; with a learner's
 * folder, that folder's copy. Files the manifest does not list (fixtures, shared types) always come
 * from the pristine course, so a submission can change only what a learner is meant to edit.
 *
 * Vitest 5 caches transformed modules on disk, and a transformed test file carries its resolved
 * imports; the cache key therefore includes the target and the manifests' `files`, or a later run
 * would replay the first run's choice.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'vite';
import { courseDirs, courseRoot, exerciseIdOf, loadCourse } from '../course.js';
import { type Target, targetFromEnv } from '../target.js';

const MISSING_PREFIX = '\0lab-missing:';
const REFUSED_PREFIX = '\0lab-refused:';

/**
 * Set by the grader: a learner's file may import only Node built-ins, the course's runtime
 * dependencies and its own exercise's files (the exercise contract). Anything else (`vitest`, the
 * grader's own modules, another learner's copy by absolute path) fails to load with the reason.
 */
export const STRICT_IMPORTS_ENV = 'LAB_GRADE_STRICT_IMPORTS';

/**
 * Why a learner's file may not import `source`, or undefined when it may.
 * @param runtimeDeps the course's `dependencies` (not `devDependencies`)
 */
export function refusedImport(source: string, runtimeDeps: ReadonlySet<string>): string | undefined {
  if (/^\.\.?\//.test(source)) return undefined; // relative: checked against the exercise folder by the caller
  if (source.startsWith('node:') || builtinModules.includes(source)) return undefined;
  const pkg = /^(@[^/]+\/[^/]+|[^/@.:\\][^/:]*)/.exec(source)?.[1];
  if (pkg && !/^[a-z]+:/i.test(source) && runtimeDeps.has(pkg)) return undefined;
  return `it imports "${source}"`;
}

/** The course's runtime dependencies: what a learner's code may import besides Node's own modules. */
export function runtimeDependencies(root = courseRoot): ReadonlySet<string> {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  return new Set(Object.keys(pkg.dependencies ?? {}));
}

/** A digest of every exercise's editable `files`, the part of the course the redirection depends on. */
function editableFilesDigest(root: string): string {
  try {
    const files = loadCourse(root).exercises.map((e) => [e.id, e.manifest.files]);
    return createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
  } catch {
    return 'unreadable-manifests'; // the course check reports why; the tests still run
  }
}

/** The import rule, as the refusal states it. */
export const IMPORT_RULE =
  "A submission may import only Node's built-in modules, the course's runtime dependencies (package.json's dependencies) and files of its own exercise.";

/** Creates the resolver for one target (by default, the one in the environment). */
export function labTargetPlugin(target: Target = targetFromEnv(), root = courseRoot): Plugin {
  const dirs = courseDirs(root);
  // Only for a learner's copy: the course's own folders are trusted (and verify runs them).
  const strict =
    process.env[STRICT_IMPORTS_ENV] === '1' && target.dir !== dirs.exercises && target.dir !== dirs.solutions;
  // A learner working in exercises/ meets the same rule in `npm test`, on the files they edit (the
  // manifest's `files`; the suites beside them import vitest and the test kit), so no import that
  // works on the laptop is refused at grading time.
  const working = target.dir === dirs.exercises;
  let runtimeDeps: ReadonlySet<string> | undefined;
  let editableFiles: Map<string, ReadonlySet<string>> | undefined;
  const editable = (exerciseId: string) => {
    editableFiles ??= new Map(loadCourse(root).exercises.map((e) => [e.id, new Set(e.manifest.files)]));
    return editableFiles.get(exerciseId);
  };
  /** Whether `file` (under exercises/) is one the learner edits: listed in its manifest's `files`. */
  const isEditedFile = (file: string) => {
    if (!file.startsWith(dirs.exercises + path.sep)) return false;
    const relative = path.relative(dirs.exercises, file);
    const exerciseId = exerciseIdOf(relative);
    const files = exerciseId ? editable(exerciseId) : undefined;
    return Boolean(exerciseId && files?.has(path.relative(exerciseId, relative).split(path.sep).join('/')));
  };
  // Folders laid out like exercises/ whose files may import an exercise's siblings.
  const roots = [
    ...new Set([target.dir, target.hiddenDir, dirs.exercises, dirs.solutions].filter(Boolean)),
  ] as string[];

  return {
    name: 'lab-target',
    enforce: 'pre',
    configureVitest({ defineCacheKeyGenerator }) {
      // Which imports are redirected follows the manifests' `files`: a new or edited manifest must
      // not replay resolutions cached before it existed (a maintainer adding an exercise met this).
      let manifests: string | undefined;
      defineCacheKeyGenerator(() => {
        manifests ??= editableFilesDigest(root);
        return `lab-target:${target.dir}|${target.hiddenDir ?? ''}|${manifests}`;
      });
    },
    resolveId(source, importer) {
      if (!importer) return null;
      const importerPath = importer.split('?')[0] ?? importer;
      const learnerFile =
        (strict && importerPath.startsWith(target.dir + path.sep)) || (working && isEditedFile(importerPath));
      const refuse = (why: string) =>
        `${REFUSED_PREFIX}${JSON.stringify({ file: path.relative(target.dir, importerPath), why, working })}`;
      if (learnerFile) {
        runtimeDeps ??= runtimeDependencies(root);
        const why = refusedImport(source, runtimeDeps);
        if (why) return refuse(why);
      }
      if (!/^\.\.?\//.test(source)) return null;
      const home = roots.find((r) => importerPath.startsWith(r + path.sep));
      if (!home) return null;
      const exerciseId = exerciseIdOf(path.relative(home, importerPath));
      const files = exerciseId ? editable(exerciseId) : undefined;
      if (!exerciseId || !files) return learnerFile ? refuse(`it imports "${source}"`) : null;

      const exerciseDir = path.join(home, exerciseId);
      const wanted = path.relative(exerciseDir, path.resolve(path.dirname(importerPath), source));
      if (wanted.startsWith('..')) {
        // Another exercise or the test kit: not ours to move; and never a learner's to import.
        return learnerFile ? refuse(`it imports "${source}", outside its exercise's folder`) : null;
      }
      const tsName = wanted.replace(/\.(js|mjs)$/, '.ts').replace(/^(?!.*\.\w+$)(.*)$/, '$1.ts');

      if (files.has(tsName)) {
        const file = path.join(target.dir, exerciseId, tsName);
        return existsSync(file) ? file : `${MISSING_PREFIX}${file}`;
      }
      for (const base of [home, dirs.exercises]) {
        const file = path.join(base, exerciseId, tsName);
        if (existsSync(file)) return file;
      }
      return null;
    },
    load(id) {
      if (id.startsWith(REFUSED_PREFIX)) {
        const { file, why, working } = JSON.parse(id.slice(REFUSED_PREFIX.length)) as {
          file: string;
          why: string;
          working: boolean;
        };
        const message = working
          ? `exercises/${file} cannot be graded as it is: ${why}, and the grader refuses that. ${IMPORT_RULE} Write what you need in the exercise's folder, or use Node's own modules.`
          : `exercises/${file} may not be graded: ${why}. ${IMPORT_RULE}`;
        return `throw new Error(${JSON.stringify(message)});`;
      }
      if (!id.startsWith(MISSING_PREFIX)) return null;
      const file = id.slice(MISSING_PREFIX.length);
      return `throw new Error(${JSON.stringify(
        `The implementation file ${file} does not exist. Restore it with \`npm run reset -- <exercise>\`, or check LAB_TARGET.`,
      )});`;
    },
  };
}
