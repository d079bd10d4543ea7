/**
 * Preloaded (`node --import`) into every Vitest worker in the grader's container, before any of the
 * learner's code: the worker makes itself the first process the out-of-memory killer picks, then
 * gives up root for the learner's unprivileged user. From then on the learner's code cannot read or
 * write what the grader's processes own (the reporter's events, the results), cannot signal them,
 * and cannot read their environment. Plain erasable TypeScript: Node strips the types itself.
 */
import { writeFileSync } from 'node:fs';

const uid = Number(process.env.LAB_GRADE_LEARNER_UID);
if (uid > 0 && process.getuid?.() === 0) {
  try {
    writeFileSync('/proc/self/oom_score_adj', '1000');
  } catch {
    // not fatal: the container's memory limit still holds
  }
  process.setgroups?.([]);
  process.setgid?.(uid);
  process.setuid?.(uid);
  if (process.getuid?.() !== uid) throw new Error('the grader could not drop the test worker’s privileges');
}
// The grader's own home and temp folders are closed to the learner's user; give it /tmp instead.
process.env.HOME = '/tmp';
