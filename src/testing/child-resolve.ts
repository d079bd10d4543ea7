/**
 * Loaded with `--import` into a child that {@link useChildProcesses} starts: a package `import` that
 * Node cannot resolve from where the importing file lies is resolved again from the course root.
 *
 * Why: the grader copies a learner's files into a sandbox under the system's temp folder, outside
 * the course, where `import { Redis } from 'ioredis'` finds no `node_modules`. Inside Vitest the
 * Vite resolver handles this; a plain Node child needs help. This hook covers ES modules (a `.mts`
 * file, or a `.ts` file under a `"type": "module"` package). A `.ts` file outside any such package
 * runs as CommonJS under tsx, and its `require` ignores a changed `parentURL`: `startTsChild` puts
 * the course's `node_modules` on `NODE_PATH` for it. Relative and absolute imports, `node:`
 * built-ins and URLs are left alone, so nothing but a package lookup ever changes.
 */
import { registerHooks } from 'node:module';

const fallbackParent = new URL('../../package.json', import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      const bare = !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z\d+.-]*:)/.test(specifier);
      if (!bare || (error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      return nextResolve(specifier, { ...context, parentURL: fallbackParent });
    }
  },
});
