/**
 * `npm run bench -- 12-distributed/linearizability`: your `checkRegister` against the course kit's
 * `check(ops, register)` (`src/testing/sim/linearizable.ts`, the checker `npm run check-history`
 * runs; Porcupine and Knossos are the production ones, in Go and Clojure, so the kit stands in for
 * them here) on the same pre-generated histories:
 *
 * - 1,000 small histories: 4 processes, 20 operations each, some failed or indeterminate, some with a
 *   read or cas that lies (about four in five are not linearizable);
 * - one long linearizable history: 5 processes, 2,000 operations, a few indeterminate.
 *
 * Both checkers must give the same verdicts; the bench says so when they do not. Each workload runs
 * twice after a warm-up and the faster run counts. Times are wall-clock milliseconds and the CPU time
 * the process used; the ratio is of CPU time, which on a busy machine is closer to what the code costs.
 */
import os from 'node:os';
import type { BenchContext } from '../../../src/testing/index.js';
import { type HistoryEvent, pairOperations } from '../../../src/testing/sim/history.js';
import { check } from '../../../src/testing/sim/linearizable.js';
import { register } from '../../../src/testing/sim/models.js';
import { Prng } from '../../../src/testing/sim/prng.js';
import { longHistory, operationsOf, type ScriptStep, scriptedHistory } from './harness.js';
import { checkRegister } from './register-checker.js';

interface Contender {
  readonly label: string;
  readonly verdict: (events: readonly HistoryEvent[]) => boolean;
}

const yours: Contender = {
  label: 'your checkRegister',
  verdict: (events) => checkRegister(operationsOf(events)).linearizable,
};
const kit: Contender = {
  label: 'kit check (register)',
  verdict: (events) => check(pairOperations(events), register).verdict === 'linearizable',
};

/** Seeded small histories of `processes` clients and `operations` operations each. */
function smallHistories(count: number, processes: number, operations: number): HistoryEvent[][] {
  const prng = new Prng(12);
  return Array.from({ length: count }, () => {
    const script: ScriptStep[] = Array.from({ length: operations * 8 }, () => [
      prng.int(0, processes - 1),
      prng.int(0, 1000),
      prng.int(0, 1000),
    ]);
    return scriptedHistory(processes, script, operations);
  });
}

interface Run {
  readonly ms: number;
  readonly cpuMs: number;
  readonly verdicts: boolean[];
}

function runOnce(contender: Contender, histories: readonly HistoryEvent[][]): Run {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const verdicts = histories.map((events) => contender.verdict(events));
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000, verdicts };
}

/** A warm-up on a few histories, then the cheaper (in CPU time) of two full runs. */
function measure(contender: Contender, histories: readonly HistoryEvent[][]): Run {
  runOnce(contender, histories.slice(0, 20));
  const first = runOnce(contender, histories);
  const second = runOnce(contender, histories);
  return first.cpuMs <= second.cpuMs ? first : second;
}

const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

export default async function bench(ctx: BenchContext): Promise<void> {
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  ctx.log(`Node ${process.version}, ${os.availableParallelism()} cores, load average ${load}`);
  ctx.log('Generating histories (seeded; not timed) ...');
  const workloads = [
    { name: '1,000 histories, 4 processes x 20 operations', histories: smallHistories(1000, 4, 20) },
    { name: '1 linearizable history, 5 processes x 2,000 operations', histories: [longHistory(5, 5, 2000)] },
  ];
  for (const { name, histories } of workloads) {
    const ops = histories.reduce((sum, events) => sum + pairOperations(events).length, 0);
    ctx.log('');
    ctx.log(`Workload: ${name} (${fmt(ops)} ok or info operations in all)`);
    const runs = [yours, kit].map((contender) => ({ contender, run: measure(contender, histories) }));
    const base = runs[1]!.run;
    ctx.log(
      `${'checker'.padEnd(24)}${'ms'.padStart(10)}${'CPU ms'.padStart(10)}${'CPU vs kit'.padStart(12)}  linearizable`,
    );
    for (const { contender, run } of runs) {
      const ratio = run.cpuMs / base.cpuMs;
      const yes = run.verdicts.filter(Boolean).length;
      ctx.log(
        `${contender.label.padEnd(24)}${fmt(run.ms).padStart(10)}${fmt(run.cpuMs).padStart(10)}${`${ratio.toFixed(2)}x`.padStart(12)}  ${yes} of ${run.verdicts.length}`,
      );
    }
    const differ = runs[0]!.run.verdicts.filter((v, i) => v !== base.verdicts[i]).length;
    ctx.log(
      differ === 0
        ? 'Same verdicts on every history.'
        : `Verdicts differ on ${differ} histories: run the suite.`,
    );
  }
}
