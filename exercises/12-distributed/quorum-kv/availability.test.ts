/**
 * Availability: with R = W = 2 of N = 3 and one node down, every operation sent to a live node is
 * answered ok within its timeout; with two home replicas down (strict quorum) operations answer
 * `error`, never a wrong value.
 */
import { describe, expect, it } from 'vitest';
import { exploreInVitest } from '../../../src/testing/sim/explore-report.js';
import { Simulation } from '../../../src/testing/sim/simulation.js';
import { historyFor, randomRun } from './harness.js';
import type { QuorumConfig } from './quorum-kv.js';

const NODES = ['n1', 'n2', 'n3', 'n4'];
const TIMEOUT = 16;
const config: QuorumConfig = {
  nodes: NODES,
  n: 3,
  r: 2,
  w: 2,
  readRepair: 'blocking',
  sloppy: false,
  timeoutTicks: TIMEOUT,
};

describe('quorum-kv: availability', () => {
  it('R = W = 2 with one node crashed: every operation to a live node gets ok, over 60 seeds', () => {
    exploreInVitest({
      name: 'quorum-available',
      count: 60,
      budget: 60,
      build: (seed) => {
        const down = NODES[seed % NODES.length]!;
        return randomRun(seed, {
          config,
          operations: 24,
          spread: 120,
          entryNodes: NODES.filter((id) => id !== down),
          faults: [{ at: 0, kind: 'crash', node: down }],
        });
      },
      property: (sim) => {
        const events = historyFor(sim);
        const notOk = events.filter((event) => event.type !== 'invoke' && event.type !== 'ok');
        if (notOk.length > 0) {
          return `with one node down, R = W = 2 must answer every operation ok, but ${notOk.length} were not: ${JSON.stringify(notOk[0])}`;
        }
        const sent = new Map<unknown, number>();
        for (const record of sim.trace) {
          if (record.kind === 'send' && !NODES.includes(record.from))
            sent.set((record.msg as { id: string }).id, record.tick);
          if (record.kind === 'deliver' && !NODES.includes(record.to)) {
            const id = (record.msg as { id: string }).id;
            const took = record.tick - (sent.get(id) ?? record.tick);
            // two phases (a read, then a write or a write-back), each within the timeout, plus the client's hops
            if (took > 2 * TIMEOUT + 8)
              return `operation ${id} took ${took} ticks: more than two phases' timeouts`;
          }
        }
        return undefined;
      },
    });
  });

  it('with 2 of 3 home replicas down and no sloppy quorum, every answer is error (never a wrong ok)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const run = randomRun(seed, {
        config: { ...config, nodes: ['n1', 'n2', 'n3'] },
        operations: 12,
        spread: 60,
        entryNodes: ['n1'],
        faults: [
          { at: 0, kind: 'crash', node: 'n2' },
          { at: 0, kind: 'crash', node: 'n3' },
        ],
      });
      const sim = new Simulation(seed, run.scenario).run(run.ticks);
      const completions = historyFor(sim).filter((event) => event.type !== 'invoke');
      expect(completions.length, `seed ${seed}: every request to n1 is answered`).toBe(12);
      expect(
        sim.replies.map((reply) => reply.msg.type),
        `seed ${seed}: n1 alone cannot make a quorum of 2: every reply must be error`,
      ).toEqual(Array(12).fill('error'));
    }
  });
});
