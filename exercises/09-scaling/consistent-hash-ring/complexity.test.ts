/**
 * The contract's Big-O, checked without timing anything absolutely: lookups on a ring of 100,000
 * points and on one of 1,000 must cost about the same. A binary search takes 17 steps instead of 10,
 * and each lookup also hashes its key (MD5, about a microsecond), so the large ring is at most a
 * little slower; a scan of the points takes 100 times as many steps, and makes the large ring some
 * 30 times slower per lookup.
 *
 * The fastest batch of each ring counts, not the median: a busy machine only ever adds time, and a
 * short batch is the one a preemption inflates most (the same reasoning as `06-caching/lru-ttl`).
 */
import { describe, expect, it } from 'vitest';
import { HashRing } from './hash-ring.js';

const NODES = 10;
/** 10 nodes × 100 = 1,000 points, and 10 nodes × 10,000 = 100,000 points. */
const SMALL_VIRTUAL_NODES = 100;
const LARGE_VIRTUAL_NODES = 10_000;
/** Lookups per batch; the same number of batches is timed on both rings, alternately. */
const BATCH = 512;
const BATCHES = 24;
/** How much slower per lookup the large ring may be; a linear scan is about 30× here, binary search about 1.2×. */
const MAX_RATIO = 5;
/** A round stops after this long, however few batches it timed: an O(n) lookup cannot hang the suite. */
const ROUND_BUDGET_MS = 1_000;
/** Wall-clock limit: every loop is bounded, but a busy machine stretches them. */
const TEST_TIMEOUT_MS = 60_000;

function ring(virtualNodes: number): HashRing {
  const ring = new HashRing({ virtualNodes });
  for (let i = 0; i < NODES; i++) ring.add(`node-${i}`);
  return ring;
}

/** Keys made before any timing, so that a batch times lookups and nothing else. */
const keys = (round: number, batch: number) =>
  Array.from({ length: BATCH }, (_, i) => `r${round}:b${batch}:${i}`);

/** Microseconds per lookup over one batch. */
function timeBatch(target: HashRing, batchKeys: readonly string[]): number {
  let sink = 0;
  const start = performance.now();
  for (const key of batchKeys) sink += target.get(key).length;
  const elapsed = performance.now() - start;
  if (sink === 0) throw new Error('lookups returned no node');
  return (elapsed * 1000) / batchKeys.length;
}

const SMALL_PER_LARGE = 2;

function round(r: number, small: HashRing, large: HashRing): { small: number; large: number } {
  const smallTimes: number[] = [];
  const largeTimes: number[] = [];
  const start = performance.now();
  for (let b = 0; largeTimes.length < BATCHES && performance.now() - start < ROUND_BUDGET_MS; b++) {
    for (let i = 0; i < SMALL_PER_LARGE; i++) smallTimes.push(timeBatch(small, keys(r, b * 10 + i)));
    largeTimes.push(timeBatch(large, keys(r, b * 10 + 9)));
  }
  return { small: Math.min(...smallTimes), large: Math.min(...largeTimes) };
}

describe('HashRing: complexity', () => {
  it(
    'a lookup costs about the same on a ring of 100,000 points as on one of 1,000 (binary search, not a scan)',
    () => {
      const small = ring(SMALL_VIRTUAL_NODES);
      const large = ring(LARGE_VIRTUAL_NODES);
      round(0, small, large); // warm up the JIT
      let best = { small: 1, large: Number.POSITIVE_INFINITY };
      for (let r = 1; r <= 3; r++) {
        const result = round(r, small, large);
        if (result.large / result.small < best.large / best.small) best = result;
      }
      const ratio = best.large / best.small;
      expect(
        ratio,
        `per lookup (best of 3 rounds), 100,000 points took ${best.large.toFixed(3)} µs and 1,000 took ${best.small.toFixed(3)} µs: ` +
          `${ratio.toFixed(1)}× slower. get must binary-search the sorted points (O(log n)); look for a loop over every point`,
      ).toBeLessThan(MAX_RATIO);
    },
    TEST_TIMEOUT_MS,
  );
});
