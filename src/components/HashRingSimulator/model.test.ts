import { describe, expect, it } from 'vitest';
import {
  addNode,
  buildPoints,
  createRing,
  describeChange,
  describeSpread,
  fnv1a,
  generateKeys,
  hash,
  loads,
  lookup,
  MAX_NODES,
  type Ring,
  removeNode,
  setScheme,
  setVirtualNodes,
  spread,
  VIRTUAL_NODE_OPTIONS,
} from './model';

/** Indices of the keys whose owner changed. */
const movedIndices = (ring: Ring) => ring.change!.movedKeys.flatMap((moved, i) => (moved ? [i] : []));

describe('hash ring simulator model', () => {
  it('hashes with FNV-1a (published test vectors) and the murmur3 finaliser', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    // fmix32(0) is 0; otherwise the finaliser changes the value.
    expect(hash('a')).not.toBe(fnv1a('a'));
    const h = hash('user:abc');
    expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
  });

  it('is deterministic: the same seed and operations give the same ring, another seed other keys', () => {
    const play = (seed: number) => {
      let ring = createRing({ seed });
      ring = addNode(ring);
      ring = setVirtualNodes(ring, 10);
      ring = removeNode(ring, 'B');
      ring = setScheme(ring, 'modulo');
      ring = addNode(ring);
      return ring;
    };
    expect(play(7)).toEqual(play(7));
    expect(play(8).keys, 'a different seed must give different keys').not.toEqual(play(7).keys);
    expect(play(8).owners).not.toEqual(play(7).owners);
  });

  it('generates the requested number of distinct keys from the seed', () => {
    const keys = generateKeys(3, 5000);
    expect(keys).toHaveLength(5000);
    expect(new Set(keys).size).toBe(5000);
    expect(createRing().keys).toHaveLength(1000);
    expect(createRing({ keys: 250 }).owners).toHaveLength(250);
  });

  it('looks a key up at the first point at or after its hash, wrapping round', () => {
    const points = [
      { at: 100, node: 'A' },
      { at: 200, node: 'B' },
      { at: 300, node: 'C' },
    ];
    expect(lookup(points, 0)).toBe('A');
    expect(lookup(points, 100)).toBe('A');
    expect(lookup(points, 101)).toBe('B');
    expect(lookup(points, 300)).toBe('C');
    expect(lookup(points, 301), 'past the last point wraps to the first').toBe('A');
    const ring = createRing({ nodes: 3, virtualNodes: 10 });
    expect(ring.points).toHaveLength(30);
    expect(ring.points.every((p, i) => i === 0 || ring.points[i - 1]!.at <= p.at)).toBe(true);
  });

  it('consistent hashing: a join moves about 1/(N+1) of the keys, all onto the new node', () => {
    for (let n = 1; n < MAX_NODES; n++) {
      const before = createRing({ keys: 10_000, nodes: n, virtualNodes: 100 });
      const after = addNode(before);
      const c = after.change!;
      const name = after.nodes.at(-1)!;
      expect(c.kind).toBe('add');
      expect(c.ideal!.denominator).toBe(n + 1);
      expect(c.movedShare, `join of the ${n + 1}th node`).toBeGreaterThan((0.7 * 1) / (n + 1));
      expect(c.movedShare, `join of the ${n + 1}th node`).toBeLessThan((1.3 * 1) / (n + 1));
      expect(
        c.flows.every((f) => f.to === name),
        'every moved key goes onto the new node',
      ).toBe(true);
      expect(c.betweenOld).toBe(0);
      expect(c.newNodeKeys).toBe(c.moved);
      // The keys that moved are exactly the new node's keys.
      const newNodeKeys = after.owners.flatMap((o, i) => (o === name ? [i] : []));
      expect(movedIndices(after)).toEqual(newNodeKeys);
    }
  });

  it('consistent hashing: the moved share is the new node’s share of the ring', () => {
    const after = addNode(createRing({ keys: 100_000, nodes: 4, virtualNodes: 100 }));
    const e = loads(after).find((l) => l.node === 'E')!;
    expect(Math.abs(after.change!.movedShare - e.arc)).toBeLessThan(0.01);
    expect(loads(after).reduce((s, l) => s + l.arc, 0)).toBeCloseTo(1, 9);
  });

  it('modulo N: a join moves most keys, about N/(N+1), many between old nodes', () => {
    for (const n of [2, 4, 7]) {
      const after = addNode(createRing({ keys: 10_000, nodes: n, scheme: 'modulo' }));
      const c = after.change!;
      expect(Math.abs(c.movedShare - n / (n + 1)), `modulo ${n} -> ${n + 1}`).toBeLessThan(0.03);
      expect(c.betweenOld!).toBeGreaterThan(0);
      expect(c.newNodeKeys! / 10_000).toBeCloseTo(1 / (n + 1), 1);
    }
  });

  it('more virtual nodes give a smaller max/min load', () => {
    for (const n of [4, 5, 10]) {
      const ratio = (v: number) => spread(createRing({ keys: 100_000, nodes: n, virtualNodes: v })).maxMin;
      const [one, ten, hundred, twoHundred] = VIRTUAL_NODE_OPTIONS.map(ratio);
      expect(one, `${n} nodes: 1 vs 10 virtual nodes`).toBeGreaterThan(ten!);
      expect(ten, `${n} nodes: 10 vs 100 virtual nodes`).toBeGreaterThan(hundred!);
      expect(hundred, `${n} nodes: 100 vs 200 virtual nodes`).toBeGreaterThan(twoHundred!);
      expect(twoHundred, `${n} nodes, 200 virtual nodes`).toBeLessThan(1.35);
      expect(one, `${n} nodes, 1 virtual node: badly skewed`).toBeGreaterThan(3);
    }
  });

  it('consistent hashing: removing a node moves only that node’s keys', () => {
    const before = createRing({ keys: 10_000, nodes: 5, virtualNodes: 100 });
    const after = removeNode(before, 'B');
    const c = after.change!;
    const bKeys = before.owners.flatMap((o, i) => (o === 'B' ? [i] : []));
    expect(movedIndices(after)).toEqual(bKeys);
    expect(c.moved).toBe(c.newNodeKeys);
    expect(c.flows.every((f) => f.from === 'B')).toBe(true);
    expect(after.nodes).toEqual(['A', 'C', 'D', 'E']);
    expect(after.owners.includes('B')).toBe(false);
  });

  it('modulo N: removing a node moves far more than that node’s keys', () => {
    const before = createRing({ keys: 10_000, nodes: 5, scheme: 'modulo' });
    const after = removeNode(before, 'B');
    expect(after.change!.moved).toBeGreaterThan(3 * after.change!.newNodeKeys!);
  });

  it('re-adding a removed node under consistent hashing gives it back exactly its keys', () => {
    const before = createRing({ nodes: 4 });
    const after = addNode(removeNode(before, 'C'));
    expect(after.nodes).toContain('C');
    expect([...after.owners]).toEqual(before.owners);
  });

  it('switching the scheme or V reports the keys that moved, and switching back restores the owners', () => {
    const ring = createRing();
    const modulo = setScheme(ring, 'modulo');
    expect(modulo.change!.kind).toBe('scheme');
    expect(modulo.change!.moved).toBeGreaterThan(500);
    expect(setScheme(modulo, 'consistent').owners).toEqual(ring.owners);
    const ten = setVirtualNodes(ring, 10);
    expect(ten.change!.kind).toBe('virtual-nodes');
    expect(ten.change!.moved).toBe(ten.owners.filter((o, i) => o !== ring.owners[i]).length);
    expect(setVirtualNodes(ring, ring.virtualNodes), 'no change, same ring').toBe(ring);
  });

  it('keeps the node count between 1 and MAX_NODES', () => {
    let ring = createRing({ nodes: MAX_NODES });
    expect(addNode(ring)).toBe(ring);
    ring = createRing({ nodes: 1 });
    expect(removeNode(ring, 'A')).toBe(ring);
    expect(spread(ring).maxMin).toBe(1);
    expect(createRing({ nodes: 99 }).nodes).toHaveLength(MAX_NODES);
  });

  it('tabulates loads that add up, with each operation’s gains and losses', () => {
    const after = addNode(createRing());
    const rows = loads(after);
    expect(rows.reduce((s, r) => s + r.keys, 0)).toBe(1000);
    expect(rows.reduce((s, r) => s + r.delta, 0)).toBe(0);
    expect(rows.find((r) => r.node === 'E')!.delta).toBe(after.change!.moved);
    const s = spread(after);
    expect(s.maxMin).toBeCloseTo(s.max / s.min, 9);
    expect(s.maxMean).toBeCloseTo(s.max / 200, 9);
  });

  it('says what happened in words (the defaults: seed 42, 1,000 keys, 4 nodes, 100 virtual nodes)', () => {
    const ring = createRing();
    expect(describeChange(ring)).toMatch(/^Add or remove a node/);
    expect(describeChange(addNode(ring))).toMatch(
      /^The join moved \d+\.\d% of keys \(\d+ of 1,000\), all onto node E \(\d+ from [A-D].*\); ideal 1\/5 = 20%\.$/,
    );
    expect(describeChange(addNode(setScheme(ring, 'modulo')))).toMatch(
      /^The join moved 7\d\.\d% of keys \(\d+ of 1,000\): \d+ onto node E and \d+ between the old nodes; ideal 1\/5 = 20%\.$/,
    );
    expect(describeChange(removeNode(ring, 'B'))).toMatch(/only B’s own keys .*; ideal 1\/4 = 25%\.$/);
    expect(describeChange(removeNode(setScheme(ring, 'modulo'), 'B'))).toMatch(
      /though only B’s \d+ had to move/,
    );
    expect(describeSpread(ring)).toMatch(
      /^Busiest [A-D] has \d+ keys, quietest [A-D] \d+: max\/min \d\.\d\d/,
    );
    // The picture the docs describe (docs/maintainers/simulators.mdx): keep them in step.
    expect(describeChange(addNode(ring))).toContain('25.1% of keys (251 of 1,000)');
  });

  it('builds the same points whatever order the nodes joined in', () => {
    expect(buildPoints(['A', 'B', 'C'], 10)).toEqual(buildPoints(['C', 'A', 'B'], 10));
  });
});
