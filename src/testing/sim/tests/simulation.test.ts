import { describe, expect, it } from 'vitest';
import type { NodeFactory, Scenario, SimulationRun } from '../simulation.js';
import { Simulation, simulate } from '../simulation.js';
import { canonicalJson, type TraceRecord, traceHash } from '../trace.js';
import { Gossip, type GossipMsg, type Numbered, Sink, sender } from './sim-nodes.js';

const ofKind = <K extends TraceRecord['kind']>(trace: readonly TraceRecord[], kind: K) =>
  trace.filter((record): record is Extract<TraceRecord, { kind: K }> => record.kind === kind);

/** Five gossip nodes, a client telling rumours, and every fault type on the schedule. */
const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const gossipScenario: Scenario<GossipMsg> = {
  nodes: Object.fromEntries(NODES.map((id) => [id, (context) => new Gossip(context)])),
  network: { latency: { min: 1, max: 4 }, dropRate: 0.1, duplicateRate: 0.05 },
  clocks: { n4: { offset: 3 }, n5: { rate: 1.5 } },
  faults: [
    {
      at: 40,
      kind: 'partition',
      name: 'split',
      groups: [
        ['n1', 'n2'],
        ['n3', 'n4', 'n5'],
      ],
    },
    { at: 60, kind: 'crash', node: 'n3' },
    { at: 90, kind: 'restart', node: 'n3' },
    { at: 120, kind: 'heal', name: 'split' },
  ],
  operations: [
    { at: 1, client: 'c1', node: 'n1', msg: { type: 'tell', rumour: 'r1' } },
    { at: 5, client: 'c1', node: 'n3', msg: { type: 'tell', rumour: 'r2' } },
    { at: 30, client: 'c2', node: 'n5', msg: { type: 'tell', rumour: 'r3' } },
    { at: 130, client: 'c2', node: 'n2', msg: { type: 'tell', rumour: 'r4' } },
  ],
};

describe('determinism', () => {
  it('the same seed gives the identical trace (hashed), another seed a different one', () => {
    const first = simulate(7, gossipScenario, 300).trace;
    const second = simulate(7, gossipScenario, 300).trace;
    expect(first.length).toBeGreaterThan(1000);
    expect(traceHash(second)).toBe(traceHash(first));
    expect(second).toEqual(first);
    expect(traceHash(simulate(8, gossipScenario, 300).trace)).not.toBe(traceHash(first));
  });

  it('stepping tick by tick, or with faults applied by hand at the same ticks, gives the same trace', () => {
    const byRun = simulate(3, gossipScenario, 150).trace;
    const byHand = new Simulation(3, { ...gossipScenario, faults: [] });
    byHand.run(40).partition('split', [
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ]);
    byHand.run(20).crash('n3');
    byHand.run(30).restart('n3');
    byHand.run(30).heal('split');
    byHand.run(30);
    expect(traceHash(byHand.trace)).toBe(traceHash(byRun));
  });

  it('canonicalJson sorts keys at every depth and encodes what JSON.stringify would', () => {
    const date = new Date(0);
    expect(
      canonicalJson({ b: [1, { d: 2, c: undefined }, undefined], a: 'x"', e: Number.NaN, f: date }),
    ).toBe('{"a":"x\\"","b":[1,{"d":2},null],"e":null,"f":"1970-01-01T00:00:00.000Z"}');
    const value = { z: { y: [true, null, 'é'], x: -0.5 }, w: {} };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it('traceHash ignores key order but not content', () => {
    const record = { kind: 'heal', tick: 1, name: 'x' } as const;
    expect(traceHash([{ name: 'x', tick: 1, kind: 'heal' }])).toBe(traceHash([record]));
    expect(traceHash([{ ...record, tick: 2 }])).not.toBe(traceHash([record]));
    expect(traceHash([])).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('faults, each observed', () => {
  const link = (network: Scenario<Numbered>['network'], ticks = 1000, perTick = 10) =>
    simulate(11, { nodes: { a: sender('b', perTick), b: (context) => new Sink(context) }, network }, ticks);

  it('drops messages at about the drop rate (10,000 messages at 0.2)', () => {
    const { trace } = link({ dropRate: 0.2 });
    const sends = ofKind(trace, 'send').length;
    const drops = ofKind(trace, 'drop').filter((drop) => drop.reason === 'random').length;
    expect(sends).toBe(10_000);
    expect(drops / sends).toBeGreaterThan(0.18);
    expect(drops / sends).toBeLessThan(0.22);
  });

  it('duplicates messages at about the duplicate rate, and the receiver gets both copies', () => {
    const sim = link({ duplicateRate: 0.1 });
    const sink = sim.node<Sink<Numbered>>('b')!;
    const duplicates = ofKind(sim.trace, 'duplicate');
    expect(duplicates.length / ofKind(sim.trace, 'send').length).toBeGreaterThan(0.09);
    expect(duplicates.length / ofKind(sim.trace, 'send').length).toBeLessThan(0.11);
    const { id, msg } = duplicates[0]!;
    expect(ofKind(sim.trace, 'deliver').filter((d) => d.id === id)).toHaveLength(2);
    expect(sink.received.filter((r) => r.msg === msg)).toHaveLength(2);
  });

  it('reorders: with delays of 1-5 ticks later messages overtake earlier ones; with 1 tick and one a tick, never', () => {
    const overtakes = (ticks: number, latency: { min: number; max: number }, perTick: number) => {
      const sink = link({ latency }, ticks, perTick).node<Sink<Numbered>>('b')!;
      return sink.received.filter((r, i) => i > 0 && r.msg.seq < sink.received[i - 1]!.msg.seq).length;
    };
    expect(overtakes(200, { min: 1, max: 5 }, 1)).toBeGreaterThan(20);
    expect(overtakes(200, { min: 1, max: 1 }, 3)).toBeGreaterThan(20);
    expect(overtakes(200, { min: 1, max: 1 }, 1)).toBe(0);
  });

  it('a custom latency sampler sets every delay; one that returns less than 1 tick is refused', () => {
    const { trace } = link({ latency: () => 7 }, 20, 1);
    for (const d of ofKind(trace, 'deliver')) expect(d.tick - d.sentAt).toBe(7);
    expect(() => link({ latency: () => 0 }, 2, 1)).toThrow(
      'the latency sampler must return an integer >= 1, got 0',
    );
    expect(() => link({ dropRate: 2 })).toThrow('dropRate must be a probability in [0, 1], got 2');
  });

  it('a partition blocks messages across groups and not within; messages in flight across it are lost; heal restores', () => {
    const sim = new Simulation<Numbered>(5, {
      nodes: { a: sender('c'), b: sender('a'), c: (context) => new Sink(context) },
      network: { latency: { min: 3, max: 3 } },
    });
    sim.run(10).partition('p', [['a', 'b'], ['c']]);
    expect(sim.network.connected('a', 'b')).toBe(true);
    expect(sim.network.connected('a', 'c')).toBe(false);
    sim.run(10);
    const during = (r: TraceRecord) => r.tick >= 10 && r.tick < 20;
    const drops = ofKind(sim.trace, 'drop').filter(during);
    expect(drops.every((d) => d.reason === 'partition' && d.to === 'c')).toBe(true);
    expect(drops.filter((d) => d.sentAt < 10)).toHaveLength(3);
    expect(
      ofKind(sim.trace, 'deliver')
        .filter(during)
        .every((d) => d.to === 'a'),
    ).toBe(true);
    sim.heal('p');
    sim.run(10);
    expect(ofKind(sim.trace, 'deliver').filter((d) => d.tick >= 20 && d.to === 'c')).not.toHaveLength(0);
    expect(ofKind(sim.trace, 'drop').filter((d) => d.tick >= 20)).toHaveLength(0);
    expect(() => sim.heal('p')).toThrow('no active partition named "p" to heal');
  });

  it('a crash loses the messages in flight to the node and its memory; a restart recovers what it persisted', () => {
    const sim = new Simulation<GossipMsg>(2, {
      nodes: { a: (context) => new Gossip(context, 1), b: (context) => new Gossip(context, 1) },
      network: { latency: { min: 2, max: 2 } },
      operations: [{ at: 0, client: 'c', node: 'b', msg: { type: 'tell', rumour: 'kept' } }],
    });
    sim.run(5);
    expect(sim.node<Gossip>('b')!.known).toEqual(new Set(['kept']));
    sim.node<Gossip>('b')!.known.add('memory only');
    sim.crash('b');
    expect(sim.isUp('b')).toBe(false);
    const crash = ofKind(sim.trace, 'crash')[0]!;
    expect(crash.lost).toBeGreaterThan(0);
    const lostOnCrash = ofKind(sim.trace, 'drop').filter((d) => d.reason === 'crash');
    expect(lostOnCrash).toHaveLength(crash.lost);
    expect(sim.trace.indexOf(lostOnCrash[0]!)).toBe(sim.trace.indexOf(crash) + 1);
    sim.run(5);
    expect(ofKind(sim.trace, 'drop').filter((d) => d.reason === 'down')).not.toHaveLength(0);
    sim.restart('b');
    expect(sim.node<Gossip>('b')!.known).toEqual(new Set(['kept']));
    expect(() => sim.restart('b')).toThrow('node "b" is up; crash it before restarting it');
  });

  it('skewed clocks: each node reads floor(offset + rate * tick)', () => {
    const sink: NodeFactory<Numbered> = (context) => new Sink(context);
    const sim = simulate(
      1,
      {
        nodes: { a: sender('b'), b: sink, c: sender('d'), d: sink },
        network: { latency: { min: 1, max: 1 } },
        clocks: { b: { offset: 100 }, d: { rate: 0.5 } },
      },
      11,
    );
    expect(sim.node<Sink<Numbered>>('b')!.received.map((r) => r.at)).toEqual([
      101, 102, 103, 104, 105, 106, 107, 108, 109, 110,
    ]);
    expect(sim.node<Sink<Numbered>>('d')!.received.map((r) => r.at)).toEqual([0, 1, 1, 2, 2, 3, 3, 4, 4, 5]);
  });

  it('settle() runs until nothing is in flight, and says whether it got there', () => {
    const sim = simulate(4, { nodes: { a: sender('b', 3, 10), b: (context) => new Sink(context) } }, 10);
    expect(sim.network.inFlight().length).toBeGreaterThan(0);
    expect(sim.settle(100)).toBe(true);
    expect(sim.node<Sink<Numbered>>('b')!.received).toHaveLength(30);
    expect(simulate(4, { nodes: { a: sender('b'), b: (context) => new Sink(context) } }, 10).settle(50)).toBe(
      false,
    );
  });

  it('refuses scenarios that name unknown nodes, and sends to nobody', () => {
    expect(() => new Simulation(1, { nodes: { a: sender('b') }, clocks: { z: {} } })).toThrow(
      'no node named "z"',
    );
    expect(() => simulate(1, { nodes: { a: sender('b') } }, 1)).toThrow(
      'node "a" sent to "b", which is neither a node nor a client',
    );
  });
});

describe('ctx.run: which simulation built a node', () => {
  /** A scenario of two sinks whose factory records every context it is given. */
  const recording = () => {
    const built: { id: string; run: SimulationRun }[] = [];
    const factory: NodeFactory<Numbered> = (context) => {
      built.push({ id: context.id, run: context.run });
      return new Sink(context);
    };
    return { built, scenario: { nodes: { a: factory, b: factory } } satisfies Scenario<Numbered> };
  };

  it('every node of one run, restarted ones too, gets the same run: the simulation’s id and seed', () => {
    const { built, scenario } = recording();
    const sim = new Simulation(42, scenario);
    sim.run(3).crash('b');
    sim.run(2).restart('b');
    expect(
      built.map(({ id }) => id),
      'a and b are built, then b again at its restart',
    ).toEqual(['a', 'b', 'b']);
    expect(sim.runInfo, 'the run holds the seed the simulation was made with').toMatchObject({ seed: 42 });
    for (const { id, run } of built) {
      expect(run, `${id} must see the run of the simulation that built it`).toBe(sim.runInfo);
    }
  });

  it('two simulations of one scenario object, even with one seed, are two runs, and their traces are equal', () => {
    const { built, scenario } = recording();
    const first = simulate(
      5,
      { ...scenario, operations: [{ at: 0, client: 'c', node: 'a', msg: { type: 'n', seq: 0 } }] },
      5,
    );
    const second = simulate(
      5,
      { ...scenario, operations: [{ at: 0, client: 'c', node: 'a', msg: { type: 'n', seq: 0 } }] },
      5,
    );
    expect(second.runInfo.id, 'each simulation gets an id of its own').not.toBe(first.runInfo.id);
    expect(second.runInfo.id, 'ids count up in the order simulations are built').toBeGreaterThan(
      first.runInfo.id,
    );
    expect(
      built.map(({ run }) => run.id),
      'the factory can tell the second run’s nodes from the first’s',
    ).toEqual([first.runInfo.id, first.runInfo.id, second.runInfo.id, second.runInfo.id]);
    expect(traceHash(second.trace), 'the run id changes nothing a run does').toBe(traceHash(first.trace));
  });
});

describe('a 5-node gossip scenario under every fault', () => {
  it('every acknowledged rumour reaches every node, across a partition, a crash and restart, skewed clocks', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const sim = simulate(seed, gossipScenario, 400);
      const acknowledged = sim.replies.filter((r) => r.msg.type === 'told');
      expect(acknowledged.length).toBeGreaterThan(0);
      const told = gossipScenario.operations!.filter((op) =>
        acknowledged.some((r) => r.client === op.client && r.from === op.node),
      );
      for (const id of NODES) {
        for (const op of told)
          expect(sim.node<Gossip>(id)!.known).toContain((op.msg as { rumour: string }).rumour);
      }
      const kinds = new Set(sim.trace.map((r) => (r.kind === 'drop' ? `drop:${r.reason}` : r.kind)));
      for (const kind of [
        'send',
        'deliver',
        'duplicate',
        'drop:random',
        'drop:partition',
        'partition',
        'heal',
        'crash',
        'restart',
      ]) {
        expect(kinds).toContain(kind);
      }
    }
  });

  it('prints how long 500 seeded runs of a 5-node, 1,000-tick scenario take (and hashing a trace)', () => {
    let started = performance.now();
    let records = 0;
    for (let seed = 0; seed < 500; seed++) records += simulate(seed, gossipScenario, 1000).trace.length;
    const runs = (performance.now() - started) / 1000;
    const sample = Array.from({ length: 20 }, (_, seed) => simulate(seed, gossipScenario, 1000).trace);
    started = performance.now();
    const hashes = new Set(sample.map(traceHash));
    const perTrace = (performance.now() - started) / sample.length;
    console.info(
      `500 seeded runs, 5 nodes x 1,000 ticks, ${records} trace records: ${runs.toFixed(2)} s; ` +
        `traceHash: ${perTrace.toFixed(1)} ms per trace of ~${Math.round(records / 500)} records`,
    );
    expect(hashes.size).toBe(sample.length);
  }, 120_000);
});
