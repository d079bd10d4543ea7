// Which keys move when an 11th node joins 10, under five ways of placing keys on nodes, and how evenly each
// spreads 100,000 keys. Pure Node (no Redis, no dependencies):
//   modulo            hash(key) % N
//   ring, 1 vnode     consistent hashing (Karger et al. 1997), one point per node
//   ring, 160 vnodes  the same with 160 virtual nodes per node (ketama's and the exercise's default)
//   jump              jump consistent hash (Lamping & Veach 2014), with 64-bit BigInt arithmetic as published
//   rendezvous        highest random weight (Thaler & Ravishankar 1998): the node with the highest hash(node, key)
//   bounded, c        the 160-vnode ring with bounded loads (Mirrokni et al. 2018): a node may hold at most
//                     ceil(c x keys / N); a key whose node is full walks clockwise to the next node with room
// hash32 = the first 4 bytes (big-endian) of MD5 over the UTF-8 text, as in the consistent-hash-ring exercise.
// node docs/09-scaling/keys-moved.mjs [keys=100000]
import { createHash } from 'node:crypto';

const [KEYS = 100_000] = process.argv.slice(2).map(Number);
const hash32 = (text) => createHash('md5').update(text).digest().readUInt32BE(0);
const nodeNames = (n) => Array.from({ length: n }, (_, i) => `cache-${String(i + 1).padStart(2, '0')}`);
const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
const keyHashes = Uint32Array.from(keys, hash32);

/** Sorted points of a ring with `vnodes` points per node; ties broken by node name. */
function ring(nodes, vnodes) {
  const points = nodes.flatMap((node) =>
    Array.from({ length: vnodes }, (_, i) => ({ at: hash32(`${node}#${i}`), node })),
  );
  points.sort((a, b) => a.at - b.at || (a.node < b.node ? -1 : 1));
  return { at: Uint32Array.from(points, (p) => p.at), node: points.map((p) => p.node) };
}
/** Index of the first point at or after h, wrapping to 0: a binary search. */
function firstAtOrAfter(r, h) {
  let lo = 0;
  let hi = r.at.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r.at[mid] < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === r.at.length ? 0 : lo;
}

/** Jump consistent hash, Lamping & Veach (2014), figure 1, with BigInt for the 64-bit LCG. */
const MASK64 = (1n << 64n) - 1n;
function jump(key64, buckets) {
  let b = -1;
  let j = 0;
  let k = key64;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK64;
    j = Math.floor(((b + 1) * 2 ** 31) / Number((k >> 33n) + 1n));
  }
  return b;
}
const key64s = keys.map((k) => createHash('md5').update(k).digest().readBigUInt64BE(0));

/** A fast 32-bit mix of two 32-bit hashes (murmur3's finaliser), for rendezvous scores. */
function mix(a, b) {
  let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const schemes = {
  modulo: (nodes) => (i) => nodes[keyHashes[i] % nodes.length],
  'ring, 1 vnode': (nodes) => {
    const r = ring(nodes, 1);
    return (i) => r.node[firstAtOrAfter(r, keyHashes[i])];
  },
  'ring, 160 vnodes': (nodes) => {
    const r = ring(nodes, 160);
    return (i) => r.node[firstAtOrAfter(r, keyHashes[i])];
  },
  jump: (nodes) => (i) => nodes[jump(key64s[i], nodes.length)],
  rendezvous: (nodes) => {
    const nodeHashes = nodes.map(hash32);
    return (i) => {
      let best = 0;
      let bestScore = -1;
      for (let n = 0; n < nodes.length; n++) {
        const score = mix(nodeHashes[n], keyHashes[i]);
        if (score > bestScore) {
          bestScore = score;
          best = n;
        }
      }
      return nodes[best];
    };
  },
  'bounded, c=1.25': (nodes) => bounded(nodes, 1.25),
  'bounded, c=1.05': (nodes) => bounded(nodes, 1.05),
};

/** The 160-vnode ring with bounded loads; keys placed in one pass, in key order (the paper places them as they arrive). */
function bounded(nodes, c) {
  const r = ring(nodes, 160);
  const capacity = Math.ceil((c * KEYS) / nodes.length);
  const load = new Map(nodes.map((n) => [n, 0]));
  const placed = new Array(KEYS);
  for (let i = 0; i < KEYS; i++) {
    let p = firstAtOrAfter(r, keyHashes[i]);
    while (load.get(r.node[p]) >= capacity) p = (p + 1) % r.at.length;
    placed[i] = r.node[p];
    load.set(r.node[p], load.get(r.node[p]) + 1);
  }
  return (i) => placed[i];
}

const before = nodeNames(10);
const after = nodeNames(11);
const joined = after[10];
console.log(`Node ${process.version}, ${KEYS.toLocaleString('en')} keys, 10 nodes, then ${joined} joins`);
console.log('ideal share moved on a join: 1/11 = 9.1%, all of it onto the new node');
console.log('scheme              moved    onto new  between old  max/min load (11 nodes)  max/mean');
for (const [name, build] of Object.entries(schemes)) {
  const was = build(before);
  const is = build(after);
  let moved = 0;
  let ontoNew = 0;
  const load = new Map(after.map((n) => [n, 0]));
  for (let i = 0; i < KEYS; i++) {
    const a = was(i);
    const b = is(i);
    load.set(b, load.get(b) + 1);
    if (a !== b) {
      moved++;
      if (b === joined) ontoNew++;
    }
  }
  const loads = [...load.values()];
  const pct = (n) => `${((100 * n) / KEYS).toFixed(1)}%`;
  console.log(
    `${name.padEnd(18)} ${pct(moved).padStart(6)} ${pct(ontoNew).padStart(9)} ${pct(moved - ontoNew).padStart(12)}` +
      `  ${(Math.max(...loads) / Math.min(...loads)).toFixed(2).padStart(22)}` +
      `  ${(Math.max(...loads) / (KEYS / after.length)).toFixed(2).padStart(8)}`,
  );
}
