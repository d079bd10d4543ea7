/**
 * The files a cluster started by `npm run serve` or `npm run bench` runs (you do not edit this
 * file). The primary runs in the runner's process, where `--target` already chose whose
 * `cluster.ts` is imported; the workers are new Node processes that load `app.ts` by path, so the
 * path comes from the same choice (the runner sets `LAB_TARGET` for its entry, as for the tests).
 */
import { fileURLToPath } from 'node:url';
import { implementationFile } from '../../../src/testing/index.js';

/** The worker entry (`exec`) and the target's app.ts that it must load (`APP_FILE`). */
export function workerFiles(): { exec: string; appFile: string } {
  return {
    exec: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    appFile: implementationFile(import.meta.url, 'app.ts'),
  };
}
