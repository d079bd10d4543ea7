import { describe, expect, it } from 'vitest';
import { KEYS, originCallsPerThousand, REQUESTS, replay, zipfTrace } from './model';

describe('hit-ratio playground model', () => {
  it('draws the same trace for the same seed, and a different one for another seed', () => {
    expect(zipfTrace({ skew: 1, seed: 7 })).toEqual(zipfTrace({ skew: 1, seed: 7 }));
    expect(zipfTrace({ skew: 1, seed: 8 })).not.toEqual(zipfTrace({ skew: 1, seed: 7 }));
  });

  it('draws a uniform trace at skew 0 and a skewed one at skew 1', () => {
    const share = (skew: number) => {
      const counts = new Map<number, number>();
      for (const key of zipfTrace({ skew, seed: 1 })) counts.set(key, (counts.get(key) ?? 0) + 1);
      const top = [...counts.values()].sort((a, b) => b - a).slice(0, 100);
      return top.reduce((a, b) => a + b, 0) / REQUESTS;
    };
    // 100 of 10,000 keys: 1% of requests when uniform; H(100)/H(10,000) ≈ 5.19/9.79 ≈ 53% at s = 1.
    expect(share(0)).toBeLessThan(0.03);
    expect(share(1)).toBeGreaterThan(0.45);
    expect(share(1)).toBeLessThan(0.6);
  });

  it('gives a uniform workload a hit ratio close to the cache fraction', () => {
    const trace = zipfTrace({ skew: 0, seed: 3 });
    for (const policy of ['lru', 'lfu', 'fifo'] as const) {
      const { hitRatio } = replay(trace, KEYS / 10, policy);
      expect(hitRatio).toBeGreaterThan(0.08);
      expect(hitRatio).toBeLessThan(0.12);
    }
  });

  it('hits more with a bigger cache and with more skew', () => {
    const trace = zipfTrace({ skew: 1, seed: 3 });
    const small = replay(trace, 100, 'lru').hitRatio;
    const big = replay(trace, 1000, 'lru').hitRatio;
    expect(big).toBeGreaterThan(small);
    expect(replay(zipfTrace({ skew: 0.6, seed: 3 }), 1000, 'lru').hitRatio).toBeLessThan(big);
  });

  it('keeps the hot keys under LFU better than FIFO on a skewed workload', () => {
    const trace = zipfTrace({ skew: 1, seed: 5 });
    const lfu = replay(trace, 500, 'lfu').hitRatio;
    const lru = replay(trace, 500, 'lru').hitRatio;
    const fifo = replay(trace, 500, 'fifo').hitRatio;
    expect(lfu).toBeGreaterThan(lru);
    expect(lru).toBeGreaterThan(fifo);
  });

  it('counts hits only after the warm-up and checks its input', () => {
    const trace = Int32Array.from([1, 1, 1, 1]);
    expect(replay(trace, 1, 'lru', 2)).toEqual({ hits: 2, counted: 2, hitRatio: 1 });
    expect(replay(trace, 1, 'lru', 0).hits).toBe(3);
    expect(() => replay(trace, 0, 'lru')).toThrow(RangeError);
    expect(() => zipfTrace({ skew: -1, seed: 1 })).toThrow(RangeError);
    expect(originCallsPerThousand(0.9)).toBe(100);
    expect(originCallsPerThousand(0.99)).toBe(10);
  });
});
