import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HashRing, hash32 } from './hash-ring.js';

/** Written once by the reference solution; see its `about` field. */
interface Golden {
  hash32: Record<string, number>;
  default: { virtualNodes: number; nodes: [string, number][]; get: Record<string, string> };
  weighted: { virtualNodes: number; nodes: [string, number][]; get: Record<string, string> };
  getN: { virtualNodes: number; nodes: [string, number][]; n: number; results: Record<string, string[]> };
}
const golden = JSON.parse(readFileSync(new URL('./golden.json', import.meta.url), 'utf8')) as Golden;

/** 100,000 keys, the population every distribution claim is measured on. */
const KEYS = Array.from({ length: 100_000 }, (_, i) => `key:${i}`);

/** xorshift32: the same pseudo-random sequence on every run, in [0, 1). */
function pseudoRandom(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function ringOf(nodes: readonly (string | [string, number])[], virtualNodes?: number): HashRing {
  const ring = new HashRing(virtualNodes === undefined ? {} : { virtualNodes });
  for (const node of nodes) {
    if (typeof node === 'string') ring.add(node);
    else ring.add(node[0], node[1]);
  }
  return ring;
}

const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

function loads(ring: HashRing, keys: readonly string[] = KEYS): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) {
    const node = ring.get(key);
    counts.set(node, (counts.get(node) ?? 0) + 1);
  }
  return counts;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

/**
 * The contract's rule written the slow, obvious way: every point of every node, sorted by position
 * and then node name; a key goes to the first point at or after its hash, else to the first point.
 */
function referenceRing(nodes: readonly [string, number][], virtualNodes: number) {
  const points: { position: number; node: string }[] = [];
  for (const [node, weight] of nodes) {
    const count = Math.max(1, Math.round(virtualNodes * weight));
    for (let i = 0; i < count; i++) points.push({ position: hash32(`${node}#${i}`), node });
  }
  points.sort((a, b) => a.position - b.position || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const startOf = (key: string) => {
    const h = hash32(key);
    const index = points.findIndex((p) => p.position >= h);
    return index === -1 ? 0 : index;
  };
  return {
    points,
    get: (key: string) => points[startOf(key)]?.node,
    getN(key: string, n: number) {
      const found: string[] = [];
      const start = startOf(key);
      for (let step = 0; step < points.length && found.length < n; step++) {
        const node = (points[(start + step) % points.length] as { node: string }).node;
        if (!found.includes(node)) found.push(node);
      }
      return found;
    },
  };
}

/**
 * Two virtual-node labels with the same hash32 (found by a search over `shard-<k>#<i>`): point 3 of
 * "shard-865" and point 5 of "shard-5696" sit at the same position on the ring.
 */
const TIE = { position: 1_420_092_428, a: 'shard-865', aPoint: 3, b: 'shard-5696', bPoint: 5 } as const;

describe('hash32: the hash the contract states', () => {
  it('is the first 4 bytes of MD5 over UTF-8, big-endian unsigned (the golden values)', () => {
    for (const [text, expected] of Object.entries(golden.hash32)) {
      expect(
        hash32(text),
        `hash32(${JSON.stringify(text)}) must be ${expected}: the first 4 bytes, big-endian, of md5 over the UTF-8 bytes`,
      ).toBe(expected);
    }
  });
});

describe('HashRing: validation', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '160' as unknown as number])(
    'rejects virtualNodes %s with a RangeError that names the option and the value',
    (virtualNodes) => {
      const error = thrown(() => new HashRing({ virtualNodes }));
      expect(error, `virtualNodes ${virtualNodes} is not a positive integer`).toBeInstanceOf(RangeError);
      expect(error.message).toContain('virtualNodes');
      expect(error.message).toContain(String(virtualNodes));
    },
  );

  it.each([0, -2, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number])(
    'rejects weight %s with a RangeError that names the weight and the value, leaving the ring as it was',
    (weight) => {
      const ring = ringOf(['a', 'b']);
      const before = KEYS.slice(0, 2000).map((k) => ring.get(k));
      const error = thrown(() => ring.add('a', weight));
      expect(error, `weight ${weight} is not a positive finite number`).toBeInstanceOf(RangeError);
      expect(error.message).toContain('weight');
      expect(error.message).toContain(String(weight));
      expect(thrown(() => ring.add('c', weight))).toBeInstanceOf(RangeError);
      expect(ring.nodes(), 'a rejected add must not put the node on the ring').toEqual(['a', 'b']);
      expect(
        KEYS.slice(0, 2000).map((k) => ring.get(k)),
        'a rejected re-add must keep the node at its old weight',
      ).toEqual(before);
    },
  );

  it('rejects an empty node name, or a name that is not a string, with a TypeError', () => {
    const ring = new HashRing();
    expect(() => ring.add(''), 'a node needs a name').toThrow(TypeError);
    expect(() => ring.add(42 as unknown as string), 'a node name is a string').toThrow(TypeError);
    expect(ring.size, 'a rejected add must not put anything on the ring').toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'getN rejects n = %s with a RangeError that shows the value',
    (n) => {
      const error = thrown(() => ringOf(['a', 'b']).getN('k', n));
      expect(error, `n = ${n} is not a positive integer`).toBeInstanceOf(RangeError);
      expect(error.message).toContain(String(n));
    },
  );

  it('get and getN on an empty ring throw an error that says the ring is empty, also once every node is removed', () => {
    const ring = new HashRing();
    expect(() => ring.get('k'), 'get on a ring with no nodes').toThrow(/empty/);
    expect(() => ring.getN('k', 2), 'getN on a ring with no nodes').toThrow(/empty/);
    ring.add('a');
    ring.add('b');
    ring.remove('a');
    ring.remove('b');
    expect(() => ring.get('k'), 'get after every node was removed').toThrow(/empty/);
    expect(() => ring.getN('k', 1), 'getN after every node was removed').toThrow(/empty/);
  });
});

describe('HashRing: membership', () => {
  it('size counts nodes, not points; nodes() lists them in the order they were added', () => {
    const ring = new HashRing();
    expect(ring.size).toBe(0);
    expect(ring.nodes()).toEqual([]);
    ring.add('c');
    ring.add('a', 3);
    ring.add('b');
    expect(ring.size, 'three nodes of 160 and 480 points are still three nodes').toBe(3);
    expect(ring.nodes()).toEqual(['c', 'a', 'b']);
  });

  it('re-adding a node replaces its weight and keeps its place; the mapping equals a ring built with the new weight', () => {
    const ring = ringOf(['a', 'b', 'c']);
    ring.add('a', 2);
    expect(ring.size, 're-adding must not count the node twice').toBe(3);
    expect(ring.nodes(), 're-adding keeps the first place').toEqual(['a', 'b', 'c']);
    const fresh = ringOf([['a', 2], 'b', 'c'] as [string, number][]);
    const keys = KEYS.slice(0, 5000);
    expect(
      keys.map((k) => ring.get(k)),
      'after add("a", 2) the ring must map keys exactly like one built with a at weight 2 (old points replaced, not kept)',
    ).toEqual(keys.map((k) => fresh.get(k)));
    ring.add('a', 1);
    const original = ringOf(['a', 'b', 'c']);
    expect(
      keys.map((k) => ring.get(k)),
      'going back to weight 1 must restore the original mapping',
    ).toEqual(keys.map((k) => original.get(k)));
  });

  it('remove returns true for a node on the ring and false otherwise, and leaves no point of it behind', () => {
    const ring = ringOf(['a', 'b', 'c']);
    expect(ring.remove('b')).toBe(true);
    expect(ring.remove('b'), 'b is already gone').toBe(false);
    expect(ring.remove('zzz'), 'zzz was never added').toBe(false);
    expect(ring.size).toBe(2);
    expect(ring.nodes()).toEqual(['a', 'c']);
    for (let i = 0; i < 160; i++) {
      expect(
        ring.get(`b#${i}`),
        `b#${i} sat exactly on b's point ${i}; with b removed it must go elsewhere`,
      ).not.toBe('b');
    }
    const counts = loads(ring, KEYS.slice(0, 20_000));
    expect([...counts.keys()].sort(), 'keys are spread over the remaining nodes only').toEqual(['a', 'c']);
  });

  it('adding and then removing a node restores the previous mapping exactly', () => {
    const ring = ringOf(names('node', 5));
    const keys = KEYS.slice(0, 20_000);
    const before = keys.map((k) => ring.get(k));
    ring.add('visitor', 3);
    ring.remove('visitor');
    expect(keys.map((k) => ring.get(k))).toEqual(before);
  });
});

describe('HashRing: lookup follows the contract', () => {
  it('a key that hashes exactly onto a point belongs to that point ("at or after")', () => {
    const ring = ringOf(['a', 'b', 'c']);
    for (const node of ['a', 'b', 'c']) {
      for (let i = 0; i < 160; i += 7) {
        expect(ring.get(`${node}#${i}`), `hash32("${node}#${i}") is ${node}'s point ${i} itself`).toBe(node);
      }
    }
  });

  it('a key past the highest point wraps around to the owner of the lowest point', () => {
    const nodes: [string, number][] = [
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ];
    const reference = referenceRing(nodes, 160);
    const top = (reference.points.at(-1) as { position: number }).position;
    const lowest = (reference.points[0] as { node: string }).node;
    const ring = ringOf(nodes);
    let checked = 0;
    for (let i = 0; i < 200_000 && checked < 5; i++) {
      const key = `wrap:${i}`;
      if (hash32(key) <= top) continue;
      checked++;
      expect(
        ring.get(key),
        `hash32("${key}") = ${hash32(key)} is above the highest point (${top}): it must wrap to the lowest point's node`,
      ).toBe(lowest);
    }
    expect(checked, 'the search for keys above the highest point found some').toBe(5);
    expect(ring.get(`${lowest}#0`)).toBe(lowest);
  });

  it('points at the same position are ordered by node name, whatever the order of adds', () => {
    expect(hash32(`${TIE.a}#${TIE.aPoint}`)).toBe(TIE.position);
    expect(hash32(`${TIE.b}#${TIE.bPoint}`)).toBe(TIE.position);
    const first = TIE.b < TIE.a ? TIE.b : TIE.a;
    const second = first === TIE.a ? TIE.b : TIE.a;
    for (const order of [
      [TIE.a, TIE.b],
      [TIE.b, TIE.a],
    ]) {
      const ring = ringOf(order, 10);
      for (const key of [`${TIE.a}#${TIE.aPoint}`, `${TIE.b}#${TIE.bPoint}`]) {
        expect(
          ring.get(key),
          `"${key}" hashes onto a position both nodes share; "${first}" < "${second}" so it wins the tie (adds: ${order.join(', ')})`,
        ).toBe(first);
        expect(ring.getN(key, 2), 'getN starts at the tie too').toEqual([first, second]);
      }
    }
  });

  it('a node of tiny weight still has one point', () => {
    const ring = ringOf([
      ['big', 1],
      ['tiny', 0.001],
    ] as [string, number][]);
    expect(ring.get('tiny#0'), 'round(160 × 0.001) = 0, but every node has at least 1 point').toBe('tiny');
    expect(ring.getN('anything', 2).sort()).toEqual(['big', 'tiny']);
  });

  it('get and getN agree with the rule written out the slow way, on random rings, weights and keys', () => {
    const random = pseudoRandom(9);
    for (let trial = 0; trial < 40; trial++) {
      const virtualNodes = 1 + Math.floor(random() * 40);
      const count = 1 + Math.floor(random() * 6);
      const nodes: [string, number][] = names(`n${trial}`, count).map((n) => [
        n,
        [1, 1, 2, 0.5, 1.25, 3.7][Math.floor(random() * 6)] as number,
      ]);
      const ring = ringOf(nodes, virtualNodes);
      const reference = referenceRing(nodes, virtualNodes);
      for (let k = 0; k < 100; k++) {
        const key = `t${trial}:${Math.floor(random() * 1e9)}`;
        const setup = `virtualNodes ${virtualNodes}, nodes ${JSON.stringify(nodes)}, key "${key}"`;
        expect(ring.get(key), `get with ${setup}`).toBe(reference.get(key));
        const n = 1 + Math.floor(random() * (count + 1));
        expect(ring.getN(key, n), `getN(key, ${n}) with ${setup}`).toEqual(reference.getN(key, n));
      }
    }
  });

  it('the order of adds does not change the mapping', () => {
    const nodes = names('node', 8);
    const keys = KEYS.slice(0, 20_000);
    const inOrder = ringOf(nodes);
    const expected = keys.map((k) => inOrder.get(k));
    const random = pseudoRandom(3);
    for (let trial = 0; trial < 3; trial++) {
      const shuffled = [...nodes].sort(() => random() - 0.5);
      const ring = ringOf(shuffled);
      expect(
        keys.map((k) => ring.get(k)),
        `adds in the order ${shuffled.join(', ')}`,
      ).toEqual(expected);
    }
  });
});

describe('HashRing: the golden fixture pins the mapping', () => {
  for (const name of ['default', 'weighted'] as const) {
    it(`maps the fixture's 200 keys exactly as recorded (${name}: ${JSON.stringify(golden[name].nodes)}, virtualNodes ${golden[name].virtualNodes})`, () => {
      const { virtualNodes, nodes, get } = golden[name];
      const ring = ringOf(nodes, virtualNodes);
      const wrong = Object.entries(get).filter(([key, node]) => ring.get(key) !== node);
      expect(
        wrong.map(([key, node]) => `${key}: expected ${node}, got ${ring.get(key)}`),
        'every key must land where the fixture says: the hash, the "<node>#<i>" labels, round(virtualNodes × weight) points and the clockwise rule are all part of the contract',
      ).toEqual([]);
    });
  }

  it("getN(key, 3) returns the fixture's replicas, in order", () => {
    const { virtualNodes, nodes, n, results } = golden.getN;
    const ring = ringOf(nodes, virtualNodes);
    for (const [key, expected] of Object.entries(results)) {
      expect(ring.getN(key, n), `getN("${key}", ${n})`).toEqual(expected);
    }
  });
});

describe('HashRing: keys move as little as possible', () => {
  it('adding an 11th node to 10 moves about 1/11 of 100,000 keys (±20%), every one of them onto the new node', () => {
    const ring = ringOf(names('node', 10));
    const before = KEYS.map((k) => ring.get(k));
    ring.add('node-10');
    let moved = 0;
    const elsewhere: string[] = [];
    KEYS.forEach((key, i) => {
      const now = ring.get(key);
      if (now === before[i]) return;
      moved++;
      if (now !== 'node-10' && elsewhere.length < 5) elsewhere.push(`${key}: ${before[i]} → ${now}`);
    });
    expect(elsewhere, 'a key that moves when node-10 joins may only move onto node-10').toEqual([]);
    const share = moved / KEYS.length;
    expect(
      share,
      `${(100 * share).toFixed(1)}% of the keys moved; consistent hashing moves about 1/11 = 9.1% (hash % N moves about 10/11)`,
    ).toBeGreaterThan((1 / 11) * 0.8);
    expect(share).toBeLessThan((1 / 11) * 1.2);
  });

  it("removing a node moves only that node's keys", () => {
    const ring = ringOf(names('node', 6));
    const before = KEYS.map((k) => ring.get(k));
    ring.remove('node-2');
    const wrong: string[] = [];
    let moved = 0;
    KEYS.forEach((key, i) => {
      const now = ring.get(key);
      if (before[i] === 'node-2') {
        moved++;
        if (now === 'node-2') wrong.push(`${key} still on the removed node-2`);
      } else if (now !== before[i] && wrong.length < 5) {
        wrong.push(`${key}: ${before[i]} → ${now}`);
      }
    });
    expect(wrong, "only node-2's keys may move when node-2 leaves").toEqual([]);
    expect(moved, 'node-2 held some keys').toBeGreaterThan(10_000);
  });
});

describe('HashRing: load is spread evenly', () => {
  for (const [count, virtualNodes] of [
    [5, 100],
    [10, undefined],
  ] as const) {
    it(`${count} nodes with ${virtualNodes ?? 'the default 160'} virtual nodes each: the busiest holds at most 1.3× the keys of the least busy`, () => {
      const counts = [...loads(ringOf(names('node', count), virtualNodes)).values()];
      expect(counts.length, 'every node must receive keys').toBe(count);
      const ratio = Math.max(...counts) / Math.min(...counts);
      expect(ratio, `loads ${counts.join(', ')}: max/min ${ratio.toFixed(2)}`).toBeLessThanOrEqual(1.3);
    });
  }

  it('a node of weight 2 gets about twice the keys of a node of weight 1', () => {
    const ring = ringOf([
      ['node-0', 1],
      ['node-1', 1],
      ['node-2', 2],
      ['node-3', 1],
    ] as [string, number][]);
    const counts = loads(ring);
    const light =
      ((counts.get('node-0') ?? 0) + (counts.get('node-1') ?? 0) + (counts.get('node-3') ?? 0)) / 3;
    const ratio = (counts.get('node-2') ?? 0) / light;
    expect(ratio, `node-2 (weight 2) holds ${ratio.toFixed(2)}× the keys of a weight-1 node`).toBeGreaterThan(
      1.6,
    );
    expect(ratio).toBeLessThan(2.4);
  });

  it('raising a weight moves keys only onto the node whose weight went up', () => {
    const ring = ringOf(names('node', 4));
    const before = KEYS.map((k) => ring.get(k));
    ring.add('node-1', 2);
    let moved = 0;
    const elsewhere: string[] = [];
    KEYS.forEach((key, i) => {
      const now = ring.get(key);
      if (now === before[i]) return;
      moved++;
      if (now !== 'node-1' && elsewhere.length < 5) elsewhere.push(`${key}: ${before[i]} → ${now}`);
    });
    expect(elsewhere, "when only node-1's weight goes up, keys may only move onto node-1").toEqual([]);
    // From 1/4 of the keys to 2/5: about 15% of them move.
    expect(moved / KEYS.length).toBeGreaterThan(0.1);
  });
});

describe('HashRing: getN for replicas', () => {
  it('returns n distinct nodes, the first being get(key), and every node once when n ≥ size', () => {
    const ring = ringOf(names('node', 5), 100);
    for (const key of KEYS.slice(0, 2000)) {
      const three = ring.getN(key, 3);
      expect(
        new Set(three).size,
        `getN("${key}", 3) = ${three.join(', ')}: replicas must be distinct nodes`,
      ).toBe(3);
      expect(ring.getN(key, 1), `getN("${key}", 1) is [get("${key}")]`).toEqual([ring.get(key)]);
      expect(three[0]).toBe(ring.get(key));
      const all = ring.getN(key, 7);
      expect(all.length, 'n larger than the ring returns every node').toBe(5);
      expect([...all].sort()).toEqual(names('node', 5));
      expect(all.slice(0, 3), 'getN(key, 3) is a prefix of getN(key, 7)').toEqual(three);
    }
  });

  it("after its first node is removed, a key's replica list starts with its old second", () => {
    const ring = ringOf(names('node', 5));
    const keys = KEYS.slice(0, 2000);
    const before = keys.map((k) => ring.getN(k, 3));
    ring.remove('node-0');
    keys.forEach((key, i) => {
      const old = before[i] as string[];
      const now = ring.getN(key, 2);
      expect(now, `getN("${key}", 2) was ${old.join(', ')} before node-0 left`).toEqual(
        old.filter((n) => n !== 'node-0').slice(0, 2),
      );
    });
  });

  it('is stable: the same key gives the same list every time', () => {
    const ring = ringOf(names('node', 4));
    for (const key of KEYS.slice(0, 200)) expect(ring.getN(key, 3)).toEqual(ring.getN(key, 3));
  });
});
