/**
 * The kit's own register scenarios, for the explorer's and the history recorder's tests: five nodes of
 * the example register (`../examples/register.ts`), 1,000 ticks, three clients, lossy and duplicating
 * links, a partition and a crash and restart, so that shrinking has plenty to take away. Chapter 12's
 * linearizability exercise builds smaller runs of the same register on purpose (three nodes, 200 ticks:
 * histories a learner's checker gets through in a test), in its own `harness.ts`.
 */

import { type RegisterBuild, type RegisterMsg, registerNode } from '../examples/register.js';
import { Prng } from '../prng.js';
import type { ClientOperation, FaultEvent, Scenario } from '../simulation.js';

/** What {@link registerScenario} builds. */
export interface RegisterScenarioOptions {
  readonly build: RegisterBuild;
  readonly nodes?: number;
  readonly ticks?: number;
  readonly operations?: number;
  readonly dropRate?: number;
  readonly duplicateRate?: number;
}

/**
 * Seed `seed`'s scenario: `operations` client operations (reads and writes of unique values, by three
 * clients, to random nodes, at random ticks), a partition that cuts a random minority off for a while,
 * and a crash and restart of a random node other than n1.
 */
export function registerScenario(
  seed: number,
  options: RegisterScenarioOptions,
): { scenario: Scenario<RegisterMsg>; ticks: number } {
  const { build, nodes: count = 5, ticks = 1000, operations: opCount = 60 } = options;
  const prng = new Prng(seed).fork('scenario');
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const nodes = Object.fromEntries(ids.map((id) => [id, registerNode(build)]));
  const operations: ClientOperation<RegisterMsg>[] = [];
  for (let id = 0; id < opCount; id++) {
    const at = prng.int(0, ticks - 1);
    const msg: RegisterMsg = prng.chance(0.5) ? { type: 'write', id, value: id } : { type: 'read', id };
    operations.push({ at, client: prng.pick(['c1', 'c2', 'c3']), node: prng.pick(ids), msg });
  }
  operations.sort((a, b) => a.at - b.at);
  const start = prng.int(0, ticks >>> 1);
  const cut = ids.slice(0, Math.max(1, count >>> 1)).filter((id) => id !== 'n1');
  const crashed = prng.pick(ids.slice(1));
  const crashAt = prng.int(0, ticks - 50);
  const faults: FaultEvent[] = [
    { at: start, kind: 'partition', name: 'p', groups: [cut.length > 0 ? cut : [ids.at(-1)!]] },
    { at: start + prng.int(20, 200), kind: 'heal', name: 'p' },
    { at: crashAt, kind: 'crash', node: crashed },
    { at: crashAt + prng.int(5, 40), kind: 'restart', node: crashed },
  ];
  return {
    scenario: {
      nodes,
      network: {
        latency: { min: 1, max: 5 },
        dropRate: options.dropRate ?? 0.02,
        duplicateRate: options.duplicateRate ?? 0.02,
      },
      faults,
      operations,
    },
    ticks,
  };
}
