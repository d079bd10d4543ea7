/**
 * The grader's side inside a submission's container (see `container.ts`): runs the submission's
 * suites through {@link runSubmission} exactly as process mode does, and prints the verdicts as one
 * line on its own stdout, which only the host reads.
 *
 * This process and Vitest's main process run as the container's root (with almost no capabilities);
 * every test worker drops to an unprivileged user before the learner's code loads
 * (`drop-privileges.ts`). The reporter's events live in folders only root can open, so the learner's
 * code can neither read nor forge them; after every round this process ends whatever the round left
 * running (a fork bomb's processes, a detached child), so the next round starts clean.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { type ContainerJob, LEARNER_UID, VERDICTS_MARK } from './container.js';
import { type FileVerdict, runSubmission } from './run.js';

async function main(): Promise<void> {
  const job = JSON.parse(process.env.LAB_GRADE_JOB ?? '{}') as ContainerJob;
  delete process.env.LAB_GRADE_JOB;
  // Vitest keeps a token under $HOME; the learner's workers get HOME=/tmp back (drop-privileges.ts).
  mkdirSync('/tmp/grader-home', { recursive: true, mode: 0o700 });
  mkdirSync('/tmp/grader-cache', { recursive: true, mode: 0o755 });
  process.env.HOME = '/tmp/grader-home';
  if (process.env.REDIS_URL) await waitForPort(6379, 15_000);

  let oomKills = readOomKills();
  const verdicts = await runSubmission({
    ...job,
    cacheDir: '/tmp/grader-cache',
    env: { LAB_GRADE_LEARNER_UID: String(LEARNER_UID) },
    groupOf: (file) => job.groups[file] ?? file,
    vitestArgs: [
      '--configLoader=runner', // the default bundles the config into node_modules, which is read-only here
      `--execArgv=--import=${path.join(import.meta.dirname, 'drop-privileges.ts')}`,
    ],
    afterRound: (settled) => {
      endLeftovers();
      const now = readOomKills();
      if (now > oomKills)
        for (const [file, verdict] of settled)
          if (verdict.kind === 'crash')
            settled.set(file, {
              kind: 'crash',
              message: `${verdict.message}\nThe sandbox's out-of-memory killer ended it: the code used more memory than the limit.`,
            });
      oomKills = now;
    },
  });
  process.stdout.write(
    `${VERDICTS_MARK}${JSON.stringify([...verdicts] satisfies [string, FileVerdict][])}\n`,
  );
}

/**
 * Ends every process in the container but init and this one (they are the learner's, or Vitest's,
 * and the round is over), again until none is left: a fork bomb forks while it is being killed.
 */
function endLeftovers(): void {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      process.kill(-1, 'SIGKILL');
    } catch {
      // ESRCH: nothing to signal
    }
    if (othersAlive().length === 0) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** Live processes other than init (1) and this one; zombies (already dead, awaiting init) do not count. */
function othersAlive(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== 1 && pid !== process.pid)
    .filter((pid) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    });
}

/** How often the container's memory limit has made the kernel kill a process (cgroup v2, then v1). */
function readOomKills(): number {
  for (const file of ['/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control']) {
    try {
      const match = /oom_kill (\d+)/.exec(readFileSync(file, 'utf8'));
      if (match) return Number(match[1]);
    } catch {
      // not this cgroup version
    }
  }
  return 0;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

await main();
