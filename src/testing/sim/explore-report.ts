/**
 * The Node side of {@link exploreSeeds}: reads `SIM_SEED` and `SIM_TICKS` from the process's
 * environment, names the running Vitest test in the replay command, and saves a failure's diagram to
 * `reports/sim/<name>-seed<seed>.mmd` (git-ignored), for the course site's diagram viewer. The core
 * (`explore.ts`) stays browser-safe; only tests import this module.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import {
  type ExploreFailure,
  type ExploreOptions,
  type ExploreResult,
  exploreSeeds,
  replayCommand,
} from './explore.js';

/** Where diagrams go, relative to the working directory (the course root when Vitest runs). */
export const REPORT_DIR = path.join('reports', 'sim');

/** A file-name-safe form of a scenario name. */
function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'scenario';
}

/** Writes `failure`'s diagram to `<dir>/<name>-seed<seed>.mmd` and returns the path. */
export function saveDiagram<M>(failure: ExploreFailure<M>, dir: string = REPORT_DIR): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${slug(failure.name)}-seed${failure.seed}.mmd`);
  writeFileSync(file, failure.diagram);
  return file;
}

/**
 * {@link exploreSeeds} inside a Vitest test: `SIM_SEED`/`SIM_TICKS` from `process.env`, the replay
 * command naming this test file and this test (`-t` with its full name), the diagram saved and its path
 * printed in the failure's message. Options given explicitly win.
 */
export function exploreInVitest<M>(options: ExploreOptions<M>): ExploreResult {
  const { testPath, currentTestName } = expect.getState();
  const file = testPath ? path.relative(process.cwd(), testPath) : undefined;
  // -t takes a pattern: the test's own name, its pattern characters escaped.
  const test = (currentTestName?.split(' > ').at(-1) ?? options.name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return exploreSeeds({
    env: process.env,
    command: (seed, ticks) => replayCommand(test, seed, ticks, file),
    save: (failure) => {
      // Best effort: in a read-only checkout (the grader's sandbox) the failure still reads whole,
      // with the diagram printed in it; only the copy on disk is missing.
      try {
        return saveDiagram(failure);
      } catch {
        return undefined;
      }
    },
    ...options,
  });
}
