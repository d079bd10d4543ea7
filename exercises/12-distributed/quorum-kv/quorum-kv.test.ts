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
  latency = { min: 1, max: 4 },
) {
  const factory = quorumNode(cfg);
  const scenario: Scenario<KvMessage> = {
    nodes: Object.fromEntries(cfg.nodes.map((id) => [id, factory])),
    network: { latency, duplicateRate },
    faults,
    operations,
  };
  return new Simulation(seed, scenario);
}

const replyTo = (sim: Simulation<KvMessage>, id: string) =>
  sim.replies.find((reply) => 'id' in reply.msg && reply.msg.id === id);

const node = (sim: Simulation<KvMessage>, id: string) => sim.node<QuorumNode>(id)!;

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** Every message `from` sent that `pick` accepts, in the order sent. */
const sends = (sim: Simulation<KvMessage>, from: string, pick: (to: string, msg: KvMessage) => boolean) =>
  sim.trace.flatMap((rec) =>
    rec.kind === 'send' && rec.from === from && pick(rec.to, rec.msg as KvMessage)
      ? [{ tick: rec.tick, to: rec.to, msg: rec.msg as KvMessage }]
      : [],
  );

/** The tick at which `node` received the client request `id`. */
const receivedAt = (sim: Simulation<KvMessage>, node: string, id: string) =>
  sim.trace.find(
    (rec) => rec.kind === 'deliver' && rec.to === node && (rec.msg as { id?: string }).id === id,
  )!.tick;

describe('quorum-kv: preferenceList', () => {
  it('rotates the node list to start at fnv1a32(key) % nodes.length and takes n distinct nodes', () => {
    for (const key of ['a', 'b', 'user:42', '', 'ключ']) {
      const start = fnv1a32(key) % FIVE.length;
      const expected = [0, 1, 2].map((i) => FIVE[(start + i) % FIVE.length]);
      const list = preferenceList(key, FIVE, 3);
      expect(list, `the preference list of ${JSON.stringify(key)} over 5 nodes with n = 3`).toEqual(expected);
      expect(new Set(list).size, 'a preference list names n distinct nodes').toBe(3);
      expect(preferenceList(key, FIVE, 3), 'the same key must give the same list every time').toEqual(list);
      expect(preferenceList(key, FIVE, 1), 'n = 1 is allowed: the first node only').toEqual([FIVE[start]]);
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

  it("the RangeError's message names the setting and the value; the ends of each range are accepted", () => {
    const bad: [Partial<QuorumConfig>, string, string | undefined][] = [
      [{ nodes: [] }, 'nodes', undefined],
      [{ nodes: ['n1', 'n2', 'n1'] }, 'nodes', undefined],
      [{ n: 4 }, 'n', '4'],
      [{ n: 1.5, r: 1, w: 1 }, 'n', '1.5'],
      [{ r: 4 }, 'r', '4'],
      [{ w: 0 }, 'w', '0'],
      [{ timeoutTicks: 0.5 }, 'timeoutTicks', '0.5'],
    ];
    for (const [overrides, setting, value] of bad) {
      let message = '';
      try {
        quorumNode(config(overrides));
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, `settings ${JSON.stringify(overrides)}: the message must name ${setting}`).toMatch(
        new RegExp(`\\b${setting}\\b`),
      );
      if (value !== undefined) {
        expect(
          message,
          `settings ${JSON.stringify(overrides)}: the message must name the value ${value}`,
        ).toContain(value);
      }
    }
    for (const overrides of [{ n: 1, r: 1, w: 1 }, { r: 3, w: 3 }, { timeoutTicks: 1 }]) {
      expect(
        () => quorumNode(config(overrides)),
        `settings ${JSON.stringify(overrides)} are in range and must be accepted`,
      ).not.toThrow();
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

describe('quorum-kv: a replica, driven directly', () => {
  const stored = (counter: number, node: string, value: string) => ({ version: { counter, node }, value });

  it('keeps a write only if its version is newer (counter first, then node name), and acks every write', () => {
    // c1 plays a coordinator: each step sends n1 a write and says what n1 must hold afterwards.
    const steps = [
      { write: stored(1, 'n2', 'b'), holds: stored(1, 'n2', 'b'), why: 'a first write is kept' },
      { write: stored(1, 'n1', 'a'), holds: stored(1, 'n2', 'b'), why: 'same counter, smaller node: older' },
      { write: stored(1, 'n3', 'c'), holds: stored(1, 'n3', 'c'), why: 'same counter, larger node: newer' },
      { write: stored(1, 'n3', 'x'), holds: stored(1, 'n3', 'c'), why: 'an equal version changes nothing' },
      {
        write: stored(2, 'n1', 'd'),
        holds: stored(2, 'n1', 'd'),
        why: 'a higher counter wins, whatever the node',
      },
      {
        write: stored(1, 'n9', 'e'),
        holds: stored(2, 'n1', 'd'),
        why: 'a lower counter loses, whatever the node',
      },
    ];
    const sim = simulation(config(), 1, [
      ...steps.map((step, i) => ({
        at: 1 + 10 * i,
        client: 'c1',
        node: 'n1',
        msg: { type: 'write', op: `w${i}`, key: 'a', stored: step.write } as const,
      })),
      { at: 70, client: 'c1', node: 'n1', msg: { type: 'read', op: 'r1', key: 'a' } },
      { at: 80, client: 'c1', node: 'n1', msg: { type: 'read', op: 'r2', key: 'b' } },
    ]);
    steps.forEach((step, i) => {
      sim.run(10);
      expect(node(sim, 'n1').inspect('a'), `after write ${JSON.stringify(step.write)}: ${step.why}`).toEqual(
        step.holds,
      );
    });
    sim.run(30);
    expect(
      sim.replies.filter((reply) => reply.msg.type === 'write_ack').map((reply) => reply.msg),
      'the replica acknowledges every write, kept or not, with its op and key',
    ).toEqual(steps.map((_, i) => ({ type: 'write_ack', op: `w${i}`, key: 'a' })));
    expect(
      sim.replies.filter((reply) => reply.msg.type === 'read_ack').map((reply) => reply.msg),
      'a read answers with what the replica holds for the key, or null',
    ).toEqual([
      { type: 'read_ack', op: 'r1', key: 'a', stored: stored(2, 'n1', 'd') },
      { type: 'read_ack', op: 'r2', key: 'b', stored: null },
    ]);
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

  it('the write-back goes to exactly the home replicas that did not answer with the newest value', () => {
    // The get's answers are n1's (new) and n3's (stale); n2 is cut off and did not answer.
    const expected = { blocking: ['n2', 'n3'], async: ['n3'], off: [] } as const;
    for (const seed of SEEDS.slice(0, 5)) {
      for (const readRepair of ['blocking', 'async', 'off'] as const) {
        for (const coordinator of ['n1', 'n3']) {
          const sim = staleRead(readRepair, seed, coordinator).run(100);
          const writeBacks = sends(sim, coordinator, (_, msg) => msg.type === 'write').filter(
            (send) => send.tick >= 41,
          );
          expect(
            writeBacks.map((send) => send.to).toSorted(),
            `seed ${seed}, readRepair '${readRepair}', coordinator ${coordinator}: ` +
              (readRepair === 'blocking'
                ? 'the winner goes to every home replica that did not answer with it (n2, n3), not to n1 that did'
                : readRepair === 'async'
                  ? 'the winner goes only to the replica that answered with an older version (n3)'
                  : 'no write-back at all'),
          ).toEqual(expected[readRepair]);
        }
      }
    }
  });

  it('a blocking get whose answers all hold the newest value writes nothing back', () => {
    for (const seed of SEEDS) {
      const sim = simulation(config(), seed, [
        { at: 1, client: 'c1', node: 'n1', msg: { type: 'put', id: 'p1', key: 'a', value: 'one' } },
        { at: 40, client: 'c2', node: 'n2', msg: { type: 'get', id: 'g1', key: 'a' } },
      ]).run(80);
      expect(replyTo(sim, 'g1')?.msg, `seed ${seed}: the get returns the put's value`).toEqual({
        type: 'get_ok',
        id: 'g1',
        value: 'one',
      });
      expect(
        sends(sim, 'n2', (_, msg) => msg.type === 'write'),
        `seed ${seed}: R = 2 answers already hold the value, W = 2 replicas hold it: no write-back is sent`,
      ).toEqual([]);
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

describe('quorum-kv: timers and restarts, tick by tick', () => {
  const fixed = { min: 1, max: 1 };

  it('a phase short of its quorum ends with error exactly timeoutTicks ticks after it began', () => {
    for (const timeoutTicks of [15, 20]) {
      const sim = simulation(
        config({ timeoutTicks }),
        1,
        [{ at: 1, client: 'c1', node: 'n1', msg: { type: 'put', id: 'p1', key: 'a', value: 'one' } }],
        [
          { at: 0, kind: 'crash', node: 'n2' },
          { at: 0, kind: 'crash', node: 'n3' },
        ],
        0,
        fixed,
      ).run(60);
      const began = receivedAt(sim, 'n1', 'p1');
      expect(
        replyTo(sim, 'p1')?.tick,
        `timeoutTicks ${timeoutTicks}: the read phase began at tick ${began} (n1 received the put), so n1 ` +
          `sends the error at tick ${began + timeoutTicks} and the client (1 tick away) gets it the tick after`,
      ).toBe(began + timeoutTicks + 1);
    }
  });

  it('a node remembers the request ids it ran across a restart: a get resent after it is ignored', () => {
    const cfg = config({ nodes: FIVE });
    const standIn = preferenceList('a', FIVE, 5)[3]!;
    const get: KvMessage = { type: 'get', id: 'g1', key: 'a' };
    for (const seed of SEEDS) {
      const sim = simulation(
        cfg,
        seed,
        [
          { at: 1, client: 'c1', node: standIn, msg: get },
          { at: 40, client: 'c1', node: standIn, msg: get },
        ],
        [
          { at: 30, kind: 'crash', node: standIn },
          { at: 35, kind: 'restart', node: standIn },
        ],
      ).run(80);
      expect(
        sim.replies
          .filter((reply) => 'id' in reply.msg && reply.msg.id === 'g1')
          .map((reply) => reply.msg.type),
        `seed ${seed}: ${standIn} ran g1, crashed and restarted: the copy of g1 sent after the restart must be ignored`,
      ).toEqual(['get_ok']);
    }
  });

  it('a node never issues a version twice, even after a restart that lost its memory', () => {
    // R = W = 1 so that the second put's read misses the first put's only copy.
    const cfg = config({ nodes: FIVE, r: 1, w: 1 });
    const ring = preferenceList('a', FIVE, 5);
    const [h1, h2, h3, coordinator] = ring as [string, string, string, string];
    for (const seed of SEEDS) {
      const sim = simulation(
        cfg,
        seed,
        [
          { at: 1, client: 'c1', node: coordinator, msg: { type: 'put', id: 'p1', key: 'a', value: 'one' } },
          { at: 40, client: 'c1', node: coordinator, msg: { type: 'put', id: 'p2', key: 'a', value: 'two' } },
        ],
        [
          { at: 0, kind: 'crash', node: h2 },
          { at: 0, kind: 'crash', node: h3 },
          { at: 30, kind: 'crash', node: h1 },
          { at: 30, kind: 'restart', node: h2 },
          { at: 30, kind: 'restart', node: h3 },
          { at: 30, kind: 'crash', node: coordinator },
          { at: 35, kind: 'restart', node: coordinator },
        ],
      ).run(80);
      expect(replyTo(sim, 'p1')?.msg.type, `seed ${seed}: p1 reaches ${h1} (W = 1)`).toBe('put_ok');
      for (const home of [h2, h3]) {
        expect(
          node(sim, home).inspect('a'),
          `seed ${seed}: p2's read saw nothing (${h1}, which holds version 1, is down), yet ${coordinator} ` +
            `issued version 1 before its restart: p2 must be version 2, never a second version 1`,
        ).toEqual({ version: { counter: 2, node: coordinator }, value: 'two' });
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

  it('the coordinator asks the stand-ins once per phase, ceil(timeoutTicks / 2) ticks after the phase began', () => {
    const coordinator = standIns[0]!;
    for (const seed of SEEDS.slice(0, 5)) {
      const sim = simulation(
        { ...sloppy, timeoutTicks: 19 },
        seed,
        [{ at: 1, client: 'c1', node: coordinator, msg: { type: 'put', id: 'p1', key, value: 'hinted' } }],
        [{ at: 0, kind: 'partition', name: 'homes', groups: [homes, [...standIns, 'c1']] }],
      ).run(50);
      const began = receivedAt(sim, coordinator, 'p1');
      const reads = sends(
        sim,
        coordinator,
        (to, msg) => msg.type === 'read' && (standIns as string[]).includes(to),
      );
      expect(
        reads.map((send) => [send.to, send.tick]),
        `seed ${seed}: the read phase began at tick ${began}; no home answers, so at tick ${began} + ceil(19 / 2) ` +
          `= ${began + 10} the coordinator sends the read to each of the two stand-ins, once`,
      ).toEqual(standIns.map((to) => [to, began + 10]));
      const writes = sends(
        sim,
        coordinator,
        (to, msg) => msg.type === 'write' && (standIns as string[]).includes(to),
      );
      expect(
        writes.map((send) => send.to),
        `seed ${seed}: the write phase also asks each stand-in once, however long it waits`,
      ).toEqual([...standIns]);
    }
  });

  it('with one home replica silent, only the first stand-in is asked, and its hint names that home', () => {
    const [h1, h2, h3] = homes as [string, string, string];
    for (const seed of SEEDS.slice(0, 5)) {
      const sim = simulation(
        { ...sloppy, w: 3 },
        seed,
        [{ at: 1, client: 'c1', node: h1, msg: { type: 'put', id: 'p1', key, value: 'v' } }],
        [{ at: 0, kind: 'partition', name: 'h3', groups: [[h3], [h1, h2, ...standIns, 'c1']] }],
      ).run(60);
      expect(replyTo(sim, 'p1')?.msg.type, `seed ${seed}: ${h1}, ${h2} and one stand-in make W = 3`).toBe(
        'put_ok',
      );
      expect(
        node(sim, standIns[0]!).hints(),
        `seed ${seed}: only ${h3} was silent: the first stand-in holds the value for it`,
      ).toEqual([{ key, home: h3 }]);
      expect(
        node(sim, standIns[1]!).inspect(key),
        `seed ${seed}: one silent home needs one stand-in: ${standIns[1]} must not be written`,
      ).toBeUndefined();
    }
  });

  it('a stand-in keeps one hint per key and home: two keys with the same homes give two hints', () => {
    // A second key with the same homes (same start in the ring) as `key`.
    const other = Array.from({ length: 50 }, (_, i) => `k${i}`).find(
      (k) => fnv1a32(k) % FIVE.length === start,
    )!;
    for (const seed of SEEDS.slice(0, 5)) {
      const sim = simulation(
        sloppy,
        seed,
        [
          { at: 1, client: 'c1', node: standIns[0]!, msg: { type: 'put', id: 'p1', key, value: 'one' } },
          {
            at: 2,
            client: 'c1',
            node: standIns[0]!,
            msg: { type: 'put', id: 'p2', key: other, value: 'two' },
          },
        ],
        [{ at: 0, kind: 'partition', name: 'homes', groups: [homes, [...standIns, 'c1']] }],
        0.5,
      ).run(50);
      for (const [i, standIn] of standIns.entries()) {
        expect(
          node(sim, standIn)
            .hints()
            .toSorted((a, b) => a.key.localeCompare(b.key)),
          `seed ${seed}: ${standIn} stood in for ${homes[i]} on keys ${key} and ${other}: one hint each`,
        ).toEqual([key, other].toSorted().map((k) => ({ key: k, home: homes[i] })));
      }
    }
  });

  it('hints survive a crash of the stand-in; the handoff repeats every timeoutTicks ticks until acked', () => {
    const standIn = standIns[1]!;
    for (const seed of SEEDS.slice(0, 5)) {
      const sim = simulation(
        sloppy,
        seed,
        [{ at: 1, client: 'c1', node: standIns[0]!, msg: { type: 'put', id: 'p1', key, value: 'hinted' } }],
        [
          { at: 0, kind: 'partition', name: 'homes', groups: [homes, [...standIns, 'c1']] },
          { at: 60, kind: 'crash', node: standIn },
          { at: 61, kind: 'restart', node: standIn },
          { at: 120, kind: 'heal', name: 'homes' },
          { at: 200, kind: 'crash', node: standIn },
          { at: 201, kind: 'restart', node: standIn },
        ],
      );
      sim.run(70);
      const hint = node(sim, standIn).hints();
      expect(
        hint,
        `seed ${seed}: ${standIn} took a hint, crashed and restarted: it must still hold it`,
      ).toEqual([{ key, home: homes[1] }]);
      sim.run(160);
      expect(node(sim, homes[1]!).inspect(key)?.value, `seed ${seed}: the handoff reached ${homes[1]}`).toBe(
        'hinted',
      );
      expect(
        node(sim, standIn).hints(),
        `seed ${seed}: the acked hint is forgotten, and stays forgotten after a crash and restart`,
      ).toEqual([]);
      const handoffs = sends(sim, standIn, (to, msg) => msg.type === 'write' && to === homes[1])
        .map((send) => send.tick)
        .filter((tick) => tick > 61);
      expect(
        handoffs.length,
        `seed ${seed}: between the restart at 61 and the heal at 120, ${standIn} retries the handoff`,
      ).toBeGreaterThanOrEqual(3);
      expect(
        handoffs.slice(1).map((tick, i) => tick - handoffs[i]!),
        `seed ${seed}: handoff writes at ticks ${handoffs.join(', ')}: one every timeoutTicks (20) ticks`,
      ).toEqual(handoffs.slice(1).map(() => 20));
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
