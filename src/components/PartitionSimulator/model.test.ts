import { describe, expect, it } from 'vitest';
import { Prng } from '../../testing/sim/prng';
import {
  ALL_A,
  type Command,
  NODES,
  PartitionRun,
  PRESET,
  replay,
  type Sides,
  TIMEOUT,
  timedOperations,
  verdict,
  witnessIds,
} from './model';

/** Runs long enough for any operation in progress to complete or time out. */
function settle(run: PartitionRun, ticks = TIMEOUT + 2): PartitionRun {
  return run.run(ticks);
}

/** A random partition: each node on a side by a coin, at least one on each. */
function randomSides(prng: Prng): Sides {
  for (;;) {
    const sides = Object.fromEntries(NODES.map((id) => [id, prng.chance(0.5) ? 'A' : 'B'])) as Sides;
    const a = NODES.filter((id) => sides[id] === 'A').length;
    if (a > 0 && a < NODES.length) return sides;
  }
}

describe('quorum mode', () => {
  it('answers a write then a read with the value written when the network is whole', () => {
    const run = new PartitionRun({ seed: 1, mode: 'quorum' });
    run.apply({ kind: 'op', node: 'n1', f: 'write' });
    settle(run);
    run.apply({ kind: 'op', node: 'n4', f: 'read' });
    settle(run);
    const types = run.history.map((e) => `${e.process} ${e.type} ${e.f} ${e.value ?? ''}`.trim());
    expect(types).toEqual(['c1 invoke write 1', 'c1 ok write', 'c4 invoke read', 'c4 ok read 1']);
    expect(verdict(run.history).verdict).toBe('linearizable');
  });

  it('times out on the minority side of a partition and stays linearizable', () => {
    const run = new PartitionRun({ seed: 7, mode: 'quorum' });
    expect(run.apply({ kind: 'partition', sides: PRESET })).toBe(true);
    run.apply({ kind: 'op', node: 'n1', f: 'write' });
    run.apply({ kind: 'op', node: 'n3', f: 'read' });
    settle(run);
    const completions = run.history.filter((e) => e.type !== 'invoke');
    expect(completions).toContainEqual(expect.objectContaining({ process: 'c1', type: 'info' }));
    expect(completions).toContainEqual(expect.objectContaining({ process: 'c3', type: 'ok', value: null }));
    expect(verdict(run.history).verdict).toBe('linearizable');
  });

  it('stays linearizable over 100 seeds with random partitions, heals and crashes', () => {
    let oks = 0;
    let infos = 0;
    for (let seed = 0; seed < 100; seed++) {
      const chaos = new Prng(seed).fork('test');
      const run = new PartitionRun({ seed, mode: 'quorum' });
      run.apply({ kind: 'workload', on: true });
      for (let round = 0; round < 6; round++) {
        if (chaos.chance(0.6)) run.apply({ kind: 'partition', sides: randomSides(chaos) });
        else run.apply({ kind: 'heal' });
        if (chaos.chance(0.3)) run.apply({ kind: 'crash', node: chaos.pick(NODES) });
        const down = NODES.filter((id) => !run.sim.isUp(id));
        if (down.length > 0 && chaos.chance(0.5)) run.apply({ kind: 'restart', node: chaos.pick(down) });
        run.run(chaos.int(5, 25));
      }
      const result = verdict(run.history);
      expect(result.verdict, `seed ${seed}`).toBe('linearizable');
      oks += run.history.filter((e) => e.type === 'ok').length;
      infos += run.history.filter((e) => e.type === 'info').length;
    }
    // Both outcomes occur: operations on a majority succeed, those cut off time out.
    expect(oks).toBeGreaterThan(1000);
    expect(infos).toBeGreaterThan(100);
  });
});

describe('async mode', () => {
  it('gives a stale read across the preset partition, and the checker says so', () => {
    const run = new PartitionRun({ seed: 42, mode: 'async' });
    run.apply({ kind: 'partition', sides: PRESET });
    run.apply({ kind: 'op', node: 'n1', f: 'write' });
    settle(run);
    run.apply({ kind: 'op', node: 'n3', f: 'read' });
    settle(run);
    expect(run.history.map((e) => e.type)).toEqual(['invoke', 'ok', 'invoke', 'ok']);
    expect(run.history[3]).toMatchObject({ process: 'c3', f: 'read', value: null });
    const result = verdict(run.history);
    expect(result.verdict).toBe('not linearizable');
    const { operations } = timedOperations(run.history);
    expect([...witnessIds(result)].map((id) => operations[id]!.process).sort()).toEqual(['c1', 'c3']);
  });

  it('gives a violation with the workload on under the preset partition (seed 42, 60 ticks)', () => {
    const run = new PartitionRun({ seed: 42, mode: 'async' });
    run.apply({ kind: 'partition', sides: PRESET });
    run.apply({ kind: 'workload', on: true });
    run.run(60);
    expect(verdict(run.history).verdict).toBe('not linearizable');
  });

  it('converges after a heal: gossip brings the minority up to date', () => {
    const run = new PartitionRun({ seed: 3, mode: 'async' });
    run.apply({ kind: 'partition', sides: PRESET });
    run.apply({ kind: 'op', node: 'n4', f: 'write' });
    settle(run);
    expect(run.replica('n1')?.copy.value).toBeNull();
    run.apply({ kind: 'heal' });
    run.run(20);
    for (const id of NODES) expect(run.replica(id)?.copy.value, id).toBe(1);
  });
});

describe('actions', () => {
  it('refuses what cannot be done and does not log it', () => {
    const run = new PartitionRun({ seed: 1, mode: 'quorum' });
    expect(run.apply({ kind: 'heal' })).toBe(false);
    expect(run.apply({ kind: 'partition', sides: ALL_A })).toBe(false);
    expect(run.apply({ kind: 'restart', node: 'n2' })).toBe(false);
    expect(run.apply({ kind: 'crash', node: 'n2' })).toBe(true);
    expect(run.apply({ kind: 'crash', node: 'n2' })).toBe(false);
    expect(run.apply({ kind: 'op', node: 'n1', f: 'read' })).toBe(true);
    expect(run.apply({ kind: 'op', node: 'n1', f: 'read' })).toBe(false);
    expect(run.actions.map((a) => a.kind)).toEqual(['crash', 'op']);
  });

  it('a crashed replica keeps what it persisted', () => {
    const run = new PartitionRun({ seed: 5, mode: 'quorum' });
    run.apply({ kind: 'op', node: 'n2', f: 'write' });
    settle(run);
    run.apply({ kind: 'crash', node: 'n2' });
    expect(run.replica('n2')).toBeUndefined();
    run.apply({ kind: 'restart', node: 'n2' });
    expect(run.replica('n2')?.copy.value).toBe(1);
  });
});

describe('determinism', () => {
  const script: [number, Command][] = [
    [0, { kind: 'workload', on: true }],
    [3, { kind: 'partition', sides: PRESET }],
    [9, { kind: 'crash', node: 'n4' }],
    [20, { kind: 'heal' }],
    [24, { kind: 'restart', node: 'n4' }],
  ];
  function scripted(seed: number, mode: 'quorum' | 'async'): PartitionRun {
    const run = new PartitionRun({ seed, mode });
    for (const [at, command] of script) {
      run.run(at - run.tick);
      run.apply(command);
    }
    return run.run(40 - run.tick);
  }

  it('the same seed and the same actions give the same trace hash, in both modes', () => {
    for (const mode of ['quorum', 'async'] as const) {
      expect(scripted(11, mode).hash()).toBe(scripted(11, mode).hash());
      expect(scripted(11, mode).hash()).not.toBe(scripted(12, mode).hash());
    }
  });

  it('replay rebuilds a run from its action log, record for record', () => {
    const run = scripted(11, 'async');
    const again = replay(run.config, run.actions, run.tick);
    expect(again.tick).toBe(run.tick);
    expect(again.hash()).toBe(run.hash());
    expect(again.history).toEqual(run.history);
  });
});
