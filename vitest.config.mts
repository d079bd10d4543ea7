import os from 'node:os';
import { defineConfig } from 'vitest/config';
import CheapFirstSequencer from './src/lab/vitest/cheap-first-sequencer.js';
import { labTargetPlugin } from './src/lab/vitest/target-plugin.js';

// Grading-only suites in the exercises/ layout (`npm run grade -- --hidden <dir>`).
const hidden = process.env.LAB_HIDDEN_DIR;
// One exercise's folder only (`npm run mutate`, whose runner cannot pass file filters).
const only = process.env.LAB_ONLY_EXERCISE;
const stopAtFirstFailure = process.env.LAB_STOP_AT_FIRST_FAILURE === '1';

export default defineConfig({
  plugins: [labTargetPlugin()],
  test: {
    include: only
      ? [`exercises/${only}/*.test.ts`]
      : ['exercises/**/*.test.ts', 'src/**/*.test.ts', ...(hidden ? [`${hidden}/**/*.test.ts`] : [])],
    exclude: [
      '**/node_modules/**',
      '**/.lab/**',
      ...(process.env.LAB_FIXTURES === '1' ? [] : ['**/fixtures/**']),
    ],
    globalSetup: ['./src/testing/redis-global-setup.ts'],
    // Only whether an exercise fails matters (verify's counterexamples phase): cheap files first, the
    // rest of an exercise's tests skipped after its first failure, and no fresh worker per file.
    ...(stopAtFirstFailure
      ? {
          setupFiles: ['./src/lab/vitest/stop-at-first-failure.ts'],
          // One worker for all files instead of a fresh one per file (~0.25 s each, and the phase runs
          // about 800 files). A catch by another test than caught-by.json names is reported;
          // LAB_ISOLATE=1 gives each file a fresh worker again, to confirm it.
          isolate: process.env.LAB_ISOLATE === '1',
          sequence: { sequencer: CheapFirstSequencer },
          runner: './src/lab/vitest/cheap-first-runner.ts',
        }
      : {}),
    pool: 'forks',
    // Each concurrently running file gets its own Redis database (1-15), so never more than 15 at once.
    maxWorkers: Math.max(1, Math.min(15, os.availableParallelism() - 1)),
    testTimeout: 10_000,
    hookTimeout: 30_000,
    // Transformed modules are cached on disk across runs; the lab-target plugin keys the cache by target.
    // LAB_FS_CACHE=0 turns it off (mutation testing, grading of many one-off sandboxes).
    fsModuleCache: process.env.LAB_FS_CACHE !== '0',
    // Vitest's tuning advice after a run ("Isolate: N workers spawned … faster with isolate: false")
    // is noise to a learner, and wrong for this course: suites rely on a fresh worker per file.
    experimental: { diagnostics: false },
  },
});
