/**
 * The file order for runs that stop an exercise at its first failure (verify's counterexamples
 * phase): cheapest files first, so that a wrong implementation a quick unit test catches is never
 * run through the exercise's slow real-time files (stop-at-first-failure.ts skips them once caught).
 *
 * A file's cost is its duration on the reference solutions, read from the `files` entry of
 * the JSON file `LAB_FILE_COSTS` names (`{ "files": { "<path from the course root>": ms } }`); files without one come
 * after, smallest first; a file `LAB_RUN_FIRST` names comes before all. Sharding is the base
 * sequencer's.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { readJsonObject } from './read-json.js';

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

export default class CheapFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const costs = { ...(readJsonObject(process.env.LAB_FILE_COSTS).files ?? {}) } as Record<string, number>;
    // Files holding a test that caught the variant last time go first (see cheap-first-runner.ts).
    for (const file of Object.keys(readJsonObject(process.env.LAB_RUN_FIRST))) costs[file] = -1;
    const root = this.ctx.config.root;
    const key = (spec: TestSpecification) => {
      const known = costs[path.relative(root, spec.moduleId).replaceAll('\\', '/')];
      // Known costs first (in ms), then unknown files by size: bytes are never compared with ms.
      return known === undefined ? [1, sizeOf(spec.moduleId)] : [0, known];
    };
    return [...files].sort((a, b) => {
      const [ka, va] = key(a) as [number, number];
      const [kb, vb] = key(b) as [number, number];
      return ka - kb || va - vb;
    });
  }
}
