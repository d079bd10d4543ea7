/**
 * R + W > N with blocking read repair: every client history is linearizable, over many seeds of random
 * concurrent gets and puts on a lossy, reordering network with one node crashed and restarted.
 * A failure prints its seed, the witness, a sequence diagram and the command that replays it.
 */
import { describe, it } from 'vitest';
import { exploreInVitest } from '../../../src/testing/sim/explore-report.js';
import { checkRun, explain, randomRun } from './harness.js';
import type { QuorumConfig } from './quorum-kv.js';

const NODES = ['n1', 'n2', 'n3', 'n4'];

function config(r: number, w: number): QuorumConfig {
  return { nodes: NODES, n: 3, r, w, readRepair: 'blocking', sloppy: false, timeoutTicks: 16 };
}

describe('quorum-kv: R + W > N is linearizable under any single crash', () => {
  for (const [r, w] of [
    [2, 2],
    [1, 3],
    [3, 1],
  ] as const) {
    it(`N = 3, R = ${r}, W = ${w}, blocking read repair: every history over 120 seeds is linearizable`, () => {
      exploreInVitest({
        name: `quorum-r${r}-w${w}`,
        count: 120,
        build: (seed) =>
          randomRun(seed, {
            config: config(r, w),
            keys: ['a', 'b'],
            operations: 30,
            spread: 150,
            dropRate: 0.03,
            duplicateRate: 0.02,
            crashOne: true,
          }),
        property: (sim) => explain(checkRun(sim)),
      });
    });
  }
});
