import { describe, expect, it } from 'vitest';
import { fnv1a32, Prng } from '../prng.js';

const draws = (prng: Prng, n: number): number[] => Array.from({ length: n }, () => prng.next());

describe('Prng', () => {
  it('gives the same numbers for the same seed, and others for another seed', () => {
    expect(draws(new Prng(42), 100)).toEqual(draws(new Prng(42), 100));
    expect(draws(new Prng(42), 100)).not.toEqual(draws(new Prng(43), 100));
  });

  it('draws fractions in [0, 1) that look uniform (mean and deciles of 100,000)', () => {
    const xs = draws(new Prng(7), 100_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xs.reduce((a, b) => a + b, 0) / xs.length).toBeCloseTo(0.5, 2);
    const deciles = new Array<number>(10).fill(0);
    for (const x of xs) deciles[Math.floor(x * 10)]!++;
    for (const count of deciles) expect(count).toBeGreaterThan(9_500);
  });

  it('int(lo, hi) includes both ends and nothing outside; chance(0) never, chance(1) always', () => {
    const prng = new Prng(1);
    const seen = new Set(Array.from({ length: 1000 }, () => prng.int(3, 6)));
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
    expect(Array.from({ length: 1000 }, () => prng.chance(0)).some(Boolean)).toBe(false);
    expect(Array.from({ length: 1000 }, () => prng.chance(1)).every(Boolean)).toBe(true);
    expect(prng.int(5, 5)).toBe(5);
    expect(['x', 'y']).toContain(prng.pick(['x', 'y']));
  });

  it('fork(label) gives a stream that depends on the seed and the label, not on draws made before', () => {
    const fresh = new Prng(9);
    const used = new Prng(9);
    draws(used, 50);
    expect(draws(fresh.fork('network'), 20)).toEqual(draws(used.fork('network'), 20));
    expect(draws(fresh.fork('network'), 20)).not.toEqual(draws(fresh.fork('node:a'), 20));
    expect(draws(fresh.fork('network'), 20)).not.toEqual(draws(new Prng(10).fork('network'), 20));
    expect(draws(fresh.fork('network'), 20)).not.toEqual(draws(fresh, 20));
  });

  it('refuses a bad seed, range or probability, naming the bad value', () => {
    expect(() => new Prng(-1)).toThrow('seed must be an integer in [0, 2^32), got -1');
    expect(() => new Prng(1.5)).toThrow(RangeError);
    expect(() => new Prng(1).int(4, 3)).toThrow('got int(4, 3)');
    expect(() => new Prng(1).chance(1.2)).toThrow('got 1.2');
    expect(() => new Prng(1).pick([])).toThrow(RangeError);
  });
});

describe('fnv1a32', () => {
  it("matches FNV-1a's published 32-bit test vectors, and continues from a basis", () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(fnv1a32('bar', fnv1a32('foo'))).toBe(fnv1a32('foobar'));
  });
});
