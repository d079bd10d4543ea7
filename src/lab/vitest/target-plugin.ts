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
 * imports; the cache key therefore includes the target, or a later run would replay the first
 * run's choice.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Plugin } from 'vite';
import { courseDirs, courseRoot, exerciseIdOf, loadCourse } from '../course.js';
import { type Target, targetFromEnv } from '../target.js';

const MISSING_PREFIX = '\0lab-missing:';

/** Creates the resolver for one target (by default, the one in the environment). */
export function labTargetPlugin(target: Target = targetFromEnv(), root = courseRoot): Plugin {
  const dirs = courseDirs(root);
  let editableFiles: Map<string, ReadonlySet<string>> | undefined;
  const editable = (exerciseId: string) => {
    editableFiles ??= new Map(loadCourse(root).exercises.map((e) => [e.id, new Set(e.manifest.files)]));
    return editableFiles.get(exerciseId);
  };
  // Folders laid out like exercises/ whose files may import an exercise's siblings.
  const roots = [
    ...new Set([target.dir, target.hiddenDir, dirs.exercises, dirs.solutions].filter(Boolean)),
  ] as string[];

  return {
    name: 'lab-target',
    enforce: 'pre',
    configureVitest({ defineCacheKeyGenerator }) {
      defineCacheKeyGenerator(() => `lab-target:${target.dir}|${target.hiddenDir ?? ''}`);
    },
    resolveId(source, importer) {
      if (!importer || !/^\.\.?\//.test(source)) return null;
      const importerPath = importer.split('?')[0] ?? importer;
      const home = roots.find((r) => importerPath.startsWith(r + path.sep));
      if (!home) return null;
      const exerciseId = exerciseIdOf(path.relative(home, importerPath));
      const files = exerciseId ? editable(exerciseId) : undefined;
      if (!exerciseId || !files) return null;

      const exerciseDir = path.join(home, exerciseId);
      const wanted = path.relative(exerciseDir, path.resolve(path.dirname(importerPath), source));
      if (wanted.startsWith('..')) return null; // another exercise or the test kit: not ours to move
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
      if (!id.startsWith(MISSING_PREFIX)) return null;
      const file = id.slice(MISSING_PREFIX.length);
      return `throw new Error(${JSON.stringify(
        `The implementation file ${file} does not exist. Restore it with \`npm run reset -- <exercise>\`, or check LAB_TARGET.`,
      )});`;
    },
  };
}
