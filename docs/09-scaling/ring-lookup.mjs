// What a lookup costs: hash(key) % N against a binary search over a ring's sorted points, for rings of
// 1,600 to 1,600,000 points, and the MD5 of the key that both need first. The keys are hashed once up front,
// so the lookup timings measure only the placement. Each figure is the best of 5 rounds of 1,000,000 lookups.
// node docs/09-scaling/ring-lookup.mjs
import { createHash } from 'node:crypto';
import os from 'node:os';

const LOOKUPS = 1_000_000;
const ROUNDS = 5;
const hash32 = (text) => createHash('md5').update(text).digest().readUInt32BE(0);
const keys = Array.from({ length: 100_000 }, (_, i) => `user:${i}`);
const keyHashes = Uint32Array.from(keys, hash32);

/** Best nanoseconds per call of fn(i) over ROUNDS rounds of LOOKUPS calls; `sink` keeps V8 from skipping work. */
let sink = 0;
function nsPerCall(fn, calls = LOOKUPS) {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink ^= fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / calls);
  }
  return best;
}

/** A sorted Uint32Array of `points` random positions (the ring; which node owns each does not change the cost). */
function points(count) {
  const a = new Uint32Array(count);
  for (let i = 0; i < count; i++) a[i] = hash32(`node-${i % 1000}#${i}`);
  return a.sort();
}
function firstAtOrAfter(at, h) {
  let lo = 0;
  let hi = at.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at[mid] < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === at.length ? 0 : lo;
}
function linearScan(at, h) {
  for (let i = 0; i < at.length; i++) if (at[i] >= h) return i;
  return 0;
}

console.log(
  `Node ${process.version}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(2)}`,
);
const mask = keyHashes.length; // lookups cycle through the 100,000 keys
const md5 = nsPerCall((i) => hash32(keys[i % mask]), 200_000);
console.log(`MD5 of the key (hash32)                  ${md5.toFixed(1).padStart(7)} ns`);
const modulo = nsPerCall((i) => keyHashes[i % mask] % 10);
console.log(`modulo: hash % 10                        ${modulo.toFixed(1).padStart(7)} ns`);
for (const count of [1_600, 16_000, 160_000, 1_600_000]) {
  const at = points(count);
  const ns = nsPerCall((i) => firstAtOrAfter(at, keyHashes[i % mask]));
  console.log(
    `ring, ${count.toLocaleString('en').padStart(9)} points, binary search  ${ns.toFixed(1).padStart(7)} ns` +
      `  (log2 points = ${Math.log2(count).toFixed(1)})`,
  );
}
const at = points(1_600);
const scan = nsPerCall((i) => linearScan(at, keyHashes[i % mask]), 100_000);
console.log(`ring,     1,600 points, linear scan      ${scan.toFixed(1).padStart(7)} ns`);
if (sink === 0.5) console.log(sink);
console.log(`load average after: ${os.loadavg()[0].toFixed(2)}`);
