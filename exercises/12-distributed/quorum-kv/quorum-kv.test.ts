import { describe, expect, it } from 'vitest';
import { fnv1a32 } from '../../../src/testing/sim/prng.js';
import { type FaultEvent, type Scenario, Simulation } from '../../../src/testing/sim/simulation.js';
import {
  type KvMessage,
  preferenceList,
  type QuorumConfig,
  type QuorumNode,
  quorumNode,
} from './quorum-kv.js';

const THREE = ['n1', 'n2', 'n3'] as const;
const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;

function config(overrides: Partial<QuorumConfig> = {}): QuorumConfig {
  return {
    nodes: THREE,
    n: 3,
    r: 2,
    w: 2,
    readRepair: 'blocking',
    sloppy: false,
    timeoutTicks: 20,
    ...overrides,
  };
}

interface Op {
  readonly at: number;
  readonly client: string;
  readonly node: string;
  readonly msg: KvMessage;
}

function simulation(
  cfg: QuorumConfig,
  seed: number,
  operations: Op[],
  faults: FaultEvent[] = [],
  duplicateRate = 0,
) {
  const factory = quorumNode(cfg);
  const scenario: Scenario<KvMessage> = {
    nodes: Object.fromEntries(cfg.nodes.map((id) => [id, factory])),
    network: { latency: { min: 1, max: 4 }, duplicateRate },
    faults,
    operations,
  };
  return new Simulation(seed, scenario);
}

const replyTo = (sim: Simulation<KvMessage>, id: string) =>
  sim.replies.find((reply) => 'id' in reply.msg && reply.msg.id === id);

const node = (sim: Simulation<KvMessage>, id: string) => sim.node<QuorumNode>(id)!;

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

describe('quorum-kv: preferenceList', () => {
  it('rotates the node list to start at fnv1a32(key) % nodes.length and takes n distinct nodes', () => {
    for (const key of ['a', 'b', 'user:42', '', 'ключ']) {
      const start = fnv1a32(key) % FIVE.length;
      const expected = [0, 1, 2].map((i) => FIVE[(start + i) % FIVE.length]);
      const list = preferenceList(key, FIVE, 3);
      expect(list, `the preference list of ${JSON.stringify(key)} over 5 nodes with n = 3`).toEqual(expected);
      expect(new Set(list).size, 'a preference list names n distinct nodes').toBe(3);
      expect(preferenceList(key, FIVE, 3), 'the same key must give the same list every time').toEqual(list);
    }
    expect(
      preferenceList('x', FIVE, 5).toSorted(),
      'with n = nodes.length every node is in the list',
    ).toEqual([...FIVE]);
  });

  it('throws a RangeError for n outside [1, nodes.length]', () => {
    for (const n of [0, 6, 1.5, Number.NaN]) {
      expect(() => preferenceList('a', FIVE, n), `n = ${n} must be refused`).toThrow(RangeError);
    }
  });
});

describe('quorum-kv: settings', () => {
  it('quorumNode throws a RangeError at once for r, w or n out of range, or timeoutTicks < 1', () => {
    const bad: Partial<QuorumConfig>[] = [
      { r: 0 },
      { r: 4 },
      { w: 0 },
      { w: 4 },
      { n: 4 },
      { n: 0 },
      { timeoutTicks: 0 },
      { r: Number.NaN },
      { w: 1.5 },
      { nodes: [] },
      { nodes: ['n1', 'n2', 'n1'] },
    ];
    for (const overrides of bad) {
      expect(
        () => quorumNode(config(overrides)),
        `settings ${JSON.stringify(overrides)} must be refused`,
      ).toThrow(RangeError);
    }
  });
});

describe('quorum-kv: one client, no faults', () => {
  it('a put then a get returns what was put, and a never-written key reads as ""', () => {
    for (const seed of SEEDS) {
      const sim = simulation(config(), seed, [
        { at: 1, client: 'c1', node: 'n1', msg: { type: 'get', id: 'g0', key: 'a' } },
        { at: 30, client: 'c1', node: 'n1', msg: { type: 'put', id: 'p1', key: 'a', value: 'one' } },
        { at: 60, client: 'c2', node: 'n2', msg: { type: 'get', id: 'g1', key: 'a' } },
        { at: 90, client: 'c2', node: 'n3', msg: { type: 'put', id: 'p2', key: 'a', value: 'two' } },
        { at: 120, client: 'c1', node: 'n1', msg: { type: 'get', id: 'g2', key: 'a' } },
      ]).run(160);
      expect(replyTo(sim, 'g0')?.msg, `seed ${seed}: a key nobody wrote reads as ""`).toEqual({
        type: 'get_ok',
        id: 'g0',
        value: '',
      });
      expect(replyTo(sim, 'p1')?.msg, `seed ${seed}: the put must be acknowledged`).toEqual({
        type: 'put_ok',
        id: 'p1',
      });
      expect(replyTo(sim, 'g1')?.msg, `seed ${seed}: a get after the put returns its value`).toEqual({
        type: 'get_ok',
        id: 'g1',
        value: 'one',
      });
      expect(replyTo(sim, 'g2')?.msg, `seed ${seed}: a second put from another node overwrites`).toEqual({
        type: 'get_ok',
        id: 'g2',
        value: 'two',
      });
    }
  });

  it('a write stores the value on every home replica with a version (counter, coordinator)', () => {
    const sim = simulation(config(), 1, [
      { at: 1, client: 'c1', node: 'n2', msg: { type: 'put', id: 'p1', key: 'a', value: 'one' } },
      { at: 40, client: 'c1', node: 'n3', msg: { type: 'put', id: 'p2', key: 'a', value: 'two' } },
    ]);
    sim.run(30);
    sim.settle(50);
    for (const id of THREE) {
      expect(node(sim, id).inspect('a'), `${id} holds the first put, version 1 written by n2`).toEqual({
        version: { counter: 1, node: 'n2' },
        value: 'one',
      });
    }
    sim.run(40);
    sim.settle(50);
    for (const id of THREE) {
      expect(node(sim, id).inspect('a'), `${id} holds the second put, version 2 written by n3`).toEqual({
        version: { counter: 2, node: 'n3' },
        value: 'two',
      });
    }
    expect(node(sim, 'n1').inspect('b'), 'a replica holds nothing for a key never written').toBeUndefined();
  });
});

describe('quorum-kv: duplicated requests', () => {
  it('a request id is run once: a put sent twice is answered once', () => {
    for (const seed of SEEDS) {
      const put: KvMessage = { type: 'put', id: 'p1', key: 'a', value: 'once' };
      const sim = simulation(config(), seed, [
        { at: 1, client: 'c1', node: 'n1', msg: put },
        { at: 3, client: 'c1', node: 'n1', msg: put },
      ]).run(60);
      const replies = sim.replies.filter((reply) => 'id' in reply.msg && reply.msg.id === 'p1');
      expect(
        replies.map((reply) => reply.msg.type),
        `seed ${seed}: the second copy of request p1 must be ignored, not run again`,
      ).toEqual(['put_ok']);
      expect(node(sim, 'n2').inspect('a')?.version.counter, `seed ${seed}: one put, one version`).toBe(1);
    }
  });
});

describe('quorum-kv: stale replicas and read repair', () => {
  /**
   * n3 is cut off while c1's put lands on n1 and n2; then n2 is cut off and c2 reads from n3, so the
   * read's two answers are n3's (stale) and n1's (fresh).
   */
  function staleRead(readRepair: QuorumConfig['readRepair'], seed: number, coordinator: string) {
    return simulation(
      config({ readRepair }),
      seed,
      [
        { at: 1, client: 'c1', node: 'n1', msg: { type: 'put', id: 'p1', key: 'a', value: 'new' } },
        { at: 41, client: 'c2', node: coordinator, msg: { type: 'get', id: 'g1', key: 'a' } },
      ],
      [
        { at: 0, kind: 'partition', name: 'p1', groups: [['n3'], ['n1', 'n2', 'c1', 'c2']] },
        { at: 40, kind: 'heal', name: 'p1' },
        { at: 40, kind: 'partition', name: 'p2', groups: [['n2'], ['n1', 'n3', 'c1', 'c2']] },
      ],
    );
  }

  it('with R = 2 and one stale replica, a get returns the newest value', () => {
    for (const seed of SEEDS) {
      for (const coordinator of ['n1', 'n3']) {
        const sim = staleRead('off', seed, coordinator).run(100);
        expect(replyTo(sim, 'p1')?.msg.type, `seed ${seed}: the put reaches n1 and n2 (W = 2)`).toBe(
          'put_ok',
        );
        expect(
          node(sim, 'n3').inspect('a'),
          `seed ${seed}: n3 was cut off during the put and missed it (readRepair: 'off')`,
        ).toBeUndefined();
        expect(
          replyTo(sim, 'g1')?.msg,
          `seed ${seed}, coordinator ${coordinator}: the get must wait for R = 2 answers and return the newest`,
        ).toEqual({ type: 'get_ok', id: 'g1', value: 'new' });
      }
    }
  });

  it("blocking read repair writes the newest value back to the stale replica before the get's reply", () => {
    for (const seed of SEEDS) {
      for (const coordinator of ['n1', 'n3']) {
        const sim = staleRead('blocking', seed, coordinator);
        while (!replyTo(sim, 'g1') && sim.tick < 100) sim.step();
        expect(replyTo(sim, 'g1')?.msg, `seed ${seed}: the get returns the newest value`).toEqual({
          type: 'get_ok',
          id: 'g1',
          value: 'new',
        });
        expect(
          node(sim, 'n3').inspect('a')?.value,
          `seed ${seed}, coordinator ${coordinator}: when c2 receives the get's reply, the stale replica n3 ` +
            'must already hold the value (W replicas hold it before a blocking get replies)',
        ).toBe('new');
      }
    }
  });

  it('async read repair also repairs the stale replica, without waiting for it', () => {
    for (const seed of SEEDS) {
      const sim = staleRead('async', seed, 'n1').run(100);
      expect(replyTo(sim, 'g1')?.msg, `seed ${seed}: the get returns the newest value`).toEqual({
        type: 'get_ok',
        id: 'g1',
        value: 'new',
      });
      expect(node(sim, 'n3').inspect('a')?.value, `seed ${seed}: async read repair must repair n3 too`).toBe(
        'new',
      );
    }
  });
});

describe('quorum-kv: crashes and timeouts', () => {
  it('replicas persist what they acknowledge: a put survives a crash and restart of every replica', () => {
    for (const seed of SEEDS) {
      const sim = simulation(
        config({ r: 1, w: 3 }),
        seed,
        [
          { at: 1, client: 'c1', node: 'n1', msg: { type: 'put', id: 'p1', key: 'a', value: 'kept' } },
          { at: 50, client: 'c1', node: 'n2', msg: { type: 'get', id: 'g1', key: 'a' } },
        ],
        THREE.flatMap((id): FaultEvent[] => [
          { at: 40, kind: 'crash', node: id },
          { at: 45, kind: 'restart', node: id },
        ]),
      ).run(100);
      expect(replyTo(sim, 'p1')?.msg.type, `seed ${seed}: the put is acknowledged by all three`).toBe(
        'put_ok',
      );
      expect(
        replyTo(sim, 'g1')?.msg,
        `seed ${seed}: after every replica crashed and restarted, the acknowledged put must still be read`,
      ).toEqual({ type: 'get_ok', id: 'g1', value: 'kept' });
    }
  });

  it('with 2 of 3 home replicas down and no sloppy quorum, get and put answer error, never ok', () => {
    for (const seed of SEEDS) {
      const sim = simulation(
        config(),
        seed,
        [
          { at: 1, client: 'c1', node: 'n1', msg: { type: 'put', id: 'p1', key: 'a', value: 'one' } },
          { at: 40, client: 'c1', node: 'n2', msg: { type: 'get', id: 'g1', key: 'a' } },
          { at: 41, client: 'c2', node: 'n1', msg: { type: 'put', id: 'p2', key: 'a', value: 'two' } },
          { at: 42, client: 'c3', node: 'n1', msg: { type: 'get', id: 'g2', key: 'a' } },
        ],
        [
          { at: 35, kind: 'crash', node: 'n2' },
          { at: 35, kind: 'crash', node: 'n3' },
        ],
      ).run(120);
      expect(replyTo(sim, 'p1')?.msg.type, `seed ${seed}: before the crashes the put succeeds`).toBe(
        'put_ok',
      );
      expect(replyTo(sim, 'g1'), `seed ${seed}: a request to a crashed node gets no reply`).toBeUndefined();
      for (const id of ['p2', 'g2']) {
        const reply = replyTo(sim, id);
        expect(reply?.msg.type, `seed ${seed}: ${id} cannot reach a quorum: it must answer error`).toBe(
          'error',
        );
        expect(
          reply?.msg.type === 'error' && reply.msg.reason.length > 0,
          `seed ${seed}: ${id}'s error carries a reason (why the operation failed)`,
        ).toBe(true);
        expect(
          reply!.tick,
          `seed ${seed}: ${id} must give up within its phase's timeout (20 ticks) plus the network's delays`,
        ).toBeLessThanOrEqual(41 + 4 + 20 + 1 + 4);
      }
    }
  });
});

describe('quorum-kv: sloppy quorum and hinted handoff', () => {
  const sloppy = config({ nodes: FIVE, sloppy: true });
  const key = 'a';
  // The contract's placement, computed here from the kit's hash (not from your preferenceList).
  const start = fnv1a32(key) % FIVE.length;
  const ring = FIVE.map((_, i) => FIVE[(start + i) % FIVE.length]!);
  const homes = ring.slice(0, 3);
  const standIns = ring.slice(3);

  function cutOffHomes(seed: number, duplicateRate = 0) {
    return simulation(
      sloppy,
      seed,
      [{ at: 1, client: 'c1', node: standIns[0]!, msg: { type: 'put', id: 'p1', key, value: 'hinted' } }],
      [
        { at: 0, kind: 'partition', name: 'homes', groups: [homes, [...standIns, 'c1']] },
        { at: 60, kind: 'heal', name: 'homes' },
      ],
      duplicateRate,
    );
  }

  it('when the home replicas are cut off, a sloppy put lands on the stand-ins, which keep hints', () => {
    for (const seed of SEEDS) {
      // Half the messages arrive twice: a stand-in keeps each hint once all the same.
      const sim = cutOffHomes(seed, seed % 2 === 0 ? 0.5 : 0).run(50);
      expect(replyTo(sim, 'p1')?.msg.type, `seed ${seed}: the stand-ins make the write quorum`).toBe(
        'put_ok',
      );
      for (const standIn of standIns) {
        expect(
          node(sim, standIn).inspect(key)?.value,
          `seed ${seed}: stand-in ${standIn} holds the value`,
        ).toBe('hinted');
        const hint = node(sim, standIn).hints();
        expect(hint, `seed ${seed}: stand-in ${standIn} keeps one hint naming a home replica`).toHaveLength(
          1,
        );
        expect(homes, `seed ${seed}: the hint names a home replica of the key`).toContain(hint[0]!.home);
      }
      for (const home of homes) {
        expect(
          node(sim, home).inspect(key),
          `seed ${seed}: ${home} was cut off and has nothing yet`,
        ).toBeUndefined();
      }
    }
  });

  it('after the heal, the stand-ins hand the value back to the homes they stood in for and drop the hints', () => {
    for (const seed of SEEDS) {
      const sim = cutOffHomes(seed).run(200);
      for (const standIn of standIns) {
        const home = cutOffHomes(seed).run(50).node<QuorumNode>(standIn)!.hints()[0]!.home;
        expect(
          node(sim, home).inspect(key)?.value,
          `seed ${seed}: ${standIn} handed the value to ${home}`,
        ).toBe('hinted');
        expect(
          node(sim, standIn).hints(),
          `seed ${seed}: ${standIn} drops its hint once ${home} acked`,
        ).toEqual([]);
      }
    }
  });

  it('without sloppy quorum the same put answers error', () => {
    const sim = simulation(
      { ...sloppy, sloppy: false },
      1,
      [{ at: 1, client: 'c1', node: standIns[0]!, msg: { type: 'put', id: 'p1', key, value: 'x' } }],
      [{ at: 0, kind: 'partition', name: 'homes', groups: [homes, [...standIns, 'c1']] }],
    ).run(50);
    expect(replyTo(sim, 'p1')?.msg.type, 'no home replica answers: the put must answer error').toBe('error');
    expect(
      node(sim, standIns[1]!).inspect(key),
      'a strict quorum never writes to a stand-in',
    ).toBeUndefined();
  });
});
