import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { expect, it } from 'vitest';
import { waitFor } from '../../testing/index.js';

/** Processes whose command line contains `marker` (pgrep), other than pgrep itself. */
function processesWith(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', marker]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

it.each(['SIGINT', 'SIGTERM'] as const)(
  'a time-limited run (verify, grade) ends its Vitest process group when the runner gets %s',
  async (signal) => {
    const marker = `lab-interrupt-${randomUUID()}`;
    const runner = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures/run-and-hang.ts')],
      { stdio: 'ignore', env: { ...process.env, LAB_TEST_MARKER: marker } },
    );
    try {
      // Vitest runs in its own process group, out of reach of a Ctrl-C sent to the terminal's group.
      await waitFor('the Vitest run to start', () => processesWith(marker).length > 0, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      runner.kill(signal);
      await new Promise((resolve) => runner.once('exit', resolve));
      await waitFor(`no process of the run left after ${signal}`, () => processesWith(marker).length === 0, {
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      expect(processesWith(marker)).toEqual([]);
    } finally {
      runner.kill('SIGKILL');
      for (const pid of processesWith(marker)) process.kill(Number(pid), 'SIGKILL');
    }
  },
  60_000,
);
