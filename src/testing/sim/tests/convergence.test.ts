/**
 * Convergence of a G-Counter over a network that drops, duplicates, reorders and partitions: the
 * correct merge (max) converges after a final flush over 200 seeds, and its final reads obey
 * Maelstrom's counter rule; a broken merge (sum) is caught, with the replicas that differ.
 */
import { describe, expect, it } from 'vitest';
import { historyOf } from '../client-history.js';
import { checkConvergence, finalFlush, replicaStates } from '../convergence.js';
import { checkCounter } from '../counter.js';
import { pairOperations } from '../history.js';
import { Simulation } from '../simulation.js';
import {
  type CounterMsg,
  counterProtocol,
  counterScenario,
  type GCounter,
  type Merge,
} from './crdt-nodes.js';

const SEEDS = 200;

/** Runs seed `seed` for 200 ticks, then flushes until the replicas agree (at most 300 ticks). */
function flushed(seed: number, merge: Merge) {
  const sim = new Simulation(seed, counterScenario(seed, merge)).run(200);
  const states = () => replicaStates(sim, (node) => (node as GCounter).counts);
  const flush = finalFlush(sim, { maxTicks: 300, until: () => checkConvergence(states()).converged });
  return { sim, flush, convergence: checkConvergence(states()) };
}

describe('checkConvergence', () => {
  it('says converged for equal states, whatever their field order', () => {
    expect(checkConvergence({ a: { x: 1, y: 2 }, b: { y: 2, x: 1 } })).toEqual({
      converged: true,
      state: '{"x":1,"y":2}',
    });
    expect(checkConvergence(new Map())).toEqual({ converged: true, state: '' });
  });

  it('groups the replicas by state and diffs the minority against the majority, field by field', () => {
    const result = checkConvergence({ n1: { a: 1, b: 2 }, n2: { a: 1, b: 2 }, n3: { a: 1, b: 3, c: 1 } });
    expect(result.converged).toBe(false);
    if (result.converged) return;
    expect(result.groups.map((group) => group.replicas)).toEqual([['n1', 'n2'], ['n3']]);
    expect(result.diff).toBe(
      [
        '2 different states among 3 replicas:',
        'n3 vs n1, n2:',
        '  b: 3, reference 2',
        '  c: 1, reference missing',
      ].join('\n'),
    );
    expect(checkConvergence({ n1: 1, n2: 2 }, String)).toMatchObject({
      converged: false,
      diff: expect.stringContaining('2, reference 1'),
    });
  });

  it(`a max-merge G-Counter converges after a final flush, over ${SEEDS} seeds, and its final reads obey the counter rule`, {
    timeout: 120_000,
  }, () => {
    let finalReads = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { sim, flush, convergence } = flushed(seed, 'max');
      expect(convergence.converged ? '' : convergence.diff, `seed ${seed}`).toBe('');
      expect(flush.done).toBe(true);
      sim.run(650 - sim.tick);
      const ops = pairOperations(historyOf(sim, counterProtocol));
      const verdict = checkCounter(ops, { isFinal: (op) => String(op.process).startsWith('final') });
      expect(verdict.errors, `seed ${seed}: acceptable ${JSON.stringify(verdict.acceptable)}`).toEqual([]);
      finalReads += verdict.finalReads.length;
    }
    // Most final reads get through the 20% drops.
    expect(finalReads).toBeGreaterThan(SEEDS * 5 * 0.5);
  });

  it('catches a sum-merge G-Counter: it never converges, and its final reads break the counter rule', () => {
    const { sim, flush, convergence } = flushed(1, 'sum');
    expect(flush.done).toBe(false);
    expect(convergence.converged).toBe(false);
    if (!convergence.converged)
      expect(convergence.diff).toMatch(/^\d different states among 5 replicas:\nn\d/);
    sim.run(650 - sim.tick);
    const verdict = checkCounter(pairOperations(historyOf(sim, counterProtocol)), {
      isFinal: (op) => String(op.process).startsWith('final'),
    });
    expect(verdict.valid).toBe(false);
  });

  it('replicaStates leaves crashed nodes out, and the final flush restarts them and heals partitions', () => {
    const sim = new Simulation<CounterMsg>(1, counterScenario(1, 'max')).run(60);
    sim.crash('n2');
    expect([...replicaStates(sim, (node) => (node as GCounter).value).keys()]).toEqual([
      'n1',
      'n3',
      'n4',
      'n5',
    ]);
    expect(sim.network.partitions()).toEqual(['split']);
    finalFlush(sim, { maxTicks: 0 });
    expect(sim.isUp('n2')).toBe(true);
    expect(sim.network.partitions()).toEqual([]);
  });
});
