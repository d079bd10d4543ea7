/**
 * `npm run bench -- 09-scaling/consistent-hash-ring`: lookups per second of your `HashRing` against
 * hashring 3.2.0 (npm `hashring`, a ketama-compatible ring: MD5, 40 hashes × 4 points = 160 points
 * per server, a binary search, and an LRU cache of 5,000 recent keys in front of it), and against
 * modulo hashing (`nodes[hash32(key) % N]`, the same hash with no ring at all).
 *
 * Same 10 nodes, same 100,000 keys for all three, made before any timing; each contender first looks
 * up 10,000 other keys (not timed) so the JIT has compiled it, then the 100,000 keys once. The keys
 * are all distinct, so hashring's cache never hits: it measures the ring, not the cache.
 *
 * Then the other half of the story: when an 11th node joins, the share of the 100,000 keys each
 * scheme sends to a different node. Consistent hashing moves about 1/11 (9.1%); modulo moves about
 * 10/11, which for a cache means nearly every key misses at once.
 */
import os from 'node:os';
// @ts-expect-error hashring 3.2.0 ships no types; the shape it is used with is declared below.
import HashRingLibrary from 'hashring';
import type { BenchContext } from '../../../src/testing/index.js';
import { HashRing, hash32 } from './hash-ring.js';

/** What this bench uses of hashring's API (see node_modules/hashring/index.js). */
interface KetamaRing {
  get(key: string): string;
  add(server: string): unknown;
}
const KetamaRing = HashRingLibrary as new (servers: string[]) => KetamaRing;

const NODES = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}:6379`);
const JOINING = '10.0.0.11:6379';
const KEYS = Array.from({ length: 100_000 }, (_, i) => `user:${i}:profile`);
const WARM_UP = Array.from({ length: 10_000 }, (_, i) => `warm-up:${i}`);

interface Contender {
  readonly label: string;
  /** A ring of `nodes`, as a lookup function and a way to add a node. */
  readonly make: (nodes: readonly string[]) => { get(key: string): string; add(node: string): void };
}

const yours: Contender = {
  label: 'your HashRing (160 virtual nodes)',
  make(nodes) {
    const ring = new HashRing();
    for (const node of nodes) ring.add(node);
    return { get: (key) => ring.get(key), add: (node) => ring.add(node) };
  },
};

const hashring: Contender = {
  label: 'hashring 3.2.0 (ketama, 160 points)',
  make(nodes) {
    const ring = new KetamaRing([...nodes]);
    return { get: (key) => ring.get(key), add: (node) => void ring.add(node) };
  },
};

const modulo: Contender = {
  label: 'modulo: nodes[hash32(key) % N]',
  make(nodes) {
    const list = [...nodes];
    return { get: (key) => list[hash32(key) % list.length] as string, add: (node) => void list.push(node) };
  },
};

/** Lookups per second over `keys`, one pass. */
function lookupsPerSecond(get: (key: string) => string, keys: readonly string[]): number {
  let sink = 0;
  const start = performance.now();
  for (const key of keys) sink += get(key).length;
  const seconds = (performance.now() - start) / 1000;
  if (sink === 0) throw new Error('no lookup returned a node');
  return keys.length / seconds;
}

/** The share of `keys` whose node changes when `JOINING` joins. */
function movedShare(contender: Contender): number {
  const ring = contender.make(NODES);
  const before = KEYS.map((key) => ring.get(key));
  ring.add(JOINING);
  let moved = 0;
  KEYS.forEach((key, i) => {
    if (ring.get(key) !== before[i]) moved++;
  });
  return moved / KEYS.length;
}

const format = (n: number) => Math.round(n).toLocaleString('en-US');

export default async function bench(ctx: BenchContext): Promise<void> {
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  ctx.log(`Node ${process.version}, ${os.availableParallelism()} cores, load average ${load}`);
  ctx.log(
    `${NODES.length} nodes, ${format(KEYS.length)} distinct keys, one timed pass each (after a warm-up)`,
  );
  ctx.log('');

  const contenders = [yours, hashring, modulo];
  const rates = new Map<string, number>();
  for (const contender of contenders) {
    const ring = contender.make(NODES);
    lookupsPerSecond(ring.get, WARM_UP);
    rates.set(contender.label, lookupsPerSecond(ring.get, KEYS));
  }
  const width = Math.max(...contenders.map((c) => c.label.length));
  const base = rates.get(hashring.label) as number;
  ctx.log(`${'lookups'.padEnd(width)}  ${'lookups/s'.padStart(11)}  vs hashring`);
  for (const contender of contenders) {
    const rate = rates.get(contender.label) as number;
    ctx.log(`${contender.label.padEnd(width)}  ${format(rate).padStart(11)}  ${(rate / base).toFixed(2)}×`);
  }

  ctx.log('');
  ctx.log(`An 11th node (${JOINING}) joins: share of the ${format(KEYS.length)} keys that move`);
  for (const contender of contenders) {
    ctx.log(`${contender.label.padEnd(width)}  ${(100 * movedShare(contender)).toFixed(1).padStart(5)}%`);
  }
  ctx.log(`${'ideal (1/11)'.padEnd(width)}  ${(100 / 11).toFixed(1).padStart(5)}%`);
}
