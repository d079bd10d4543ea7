/**
 * `npm run bench -- 12-distributed/crdts`: what a merge of your CRDTs costs as states grow, and how
 * large a state is on the wire. No CRDT library is installed to race against, so there is no ratio:
 * the point is the shape of the costs, which the state-based design makes plain.
 *
 * - G-Counter and PN-Counter: a state holds one entry per replica that ever counted, so a merge is
 *   O(replicas) and so is every gossip message; rows for 3, 30, 300 and 3,000 replicas.
 * - OR-Set: a state holds every add ever made, removed or not (the tombstones), so a merge is
 *   O(adds + removes) however few elements are left in the set; rows for 100, 1,000 and 10,000 adds
 *   made by 3 replicas, with half of the elements removed again: the "live" column is what
 *   `value()` returns, the bytes column what a replica sends.
 * - LWW-Register: a merge compares two stamps, whatever the value; one row, for scale.
 *
 * Each merge takes two states that differ (each replica's own recent work on top of a shared
 * past), built before any timing. Each row runs for an equal share of --duration seconds and prints
 * merges per second and microseconds per merge (CPU time of the process, garbage collection
 * included, so that the numbers measure the merge more than the machine's other load).
 */
import type { BenchContext } from '../../../src/testing/index.js';
import { gcounter, lww, type ORSetState, orset, type PNCounterState, pncounter } from './crdts.js';

interface Row {
  readonly label: string;
  /** The two states merged, and the one whose size is reported. */
  readonly merge: () => unknown;
  readonly bytes: number;
  readonly live?: number;
}

function replicaIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `n${i + 1}`);
}

/** Two PN-Counter states over `replicas` replicas: a shared past, then each side's own counting. */
function pnStates(replicas: number): [PNCounterState, PNCounterState] {
  let shared = pncounter.zero();
  for (const [i, id] of replicaIds(replicas).entries()) {
    shared = pncounter.increment(shared, id, 1 + (i % 7));
    if (i % 3 === 0) shared = pncounter.decrement(shared, id, 1);
  }
  let left = shared;
  let right = shared;
  for (const [i, id] of replicaIds(replicas).entries()) {
    if (i % 2 === 0) left = pncounter.increment(left, id, 2);
    else right = pncounter.decrement(right, id, 1);
  }
  return [left, right];
}

/**
 * Two OR-Set states with `adds` adds in all by 3 replicas, half of the shared elements removed. Built
 * as the plain JSON the contract defines rather than by `add` and `remove` one at a time: each of
 * those copies the state (it is immutable), so building 10,000 adds that way is quadratic.
 */
function orsetStates(adds: number): [ORSetState<string>, ORSetState<string>] {
  const ids = replicaIds(3);
  const sharedAdds = Math.floor(adds * 0.9);
  const shared: Record<string, string> = {};
  const removed: string[] = [];
  for (let i = 0; i < sharedAdds; i++) {
    const tag = `${ids[i % 3]}#${Math.floor(i / 3) + 1}`;
    shared[tag] = `item-${i}`;
    if (i % 2 === 0) removed.push(tag);
  }
  removed.sort();
  const left: Record<string, string> = { ...shared };
  const right: Record<string, string> = { ...shared };
  for (let i = sharedAdds; i < adds; i++) {
    const n = Math.floor(sharedAdds / 3) + 1 + i;
    if (i % 2 === 0) left[`n1#${n}`] = `item-${i}`;
    else right[`n2#${n}`] = `item-${i}`;
  }
  return [
    { adds: left, removed },
    { adds: right, removed },
  ];
}

/** Runs `fn` for about `seconds` of CPU time; returns merges per second and µs per merge. */
function measure(fn: () => unknown, seconds: number): { perSecond: number; micros: number } {
  for (let i = 0; i < 50; i++) fn(); // warm-up
  const budget = seconds * 1e6; // µs of CPU
  const start = process.cpuUsage();
  let runs = 0;
  let used = 0;
  let batch = 1;
  while (used < budget) {
    for (let i = 0; i < batch; i++) fn();
    runs += batch;
    const { user, system } = process.cpuUsage(start);
    used = user + system;
    if (used < budget / 20) batch *= 2;
  }
  return { perSecond: runs / (used / 1e6), micros: used / runs };
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const rows: Row[] = [];
  for (const replicas of [3, 30, 300, 3000]) {
    const [a, b] = pnStates(replicas);
    rows.push({
      label: `G-Counter, ${replicas} replicas`,
      merge: () => gcounter.merge(a.p, b.p),
      bytes: JSON.stringify(gcounter.merge(a.p, b.p)).length,
    });
    rows.push({
      label: `PN-Counter, ${replicas} replicas`,
      merge: () => pncounter.merge(a, b),
      bytes: JSON.stringify(pncounter.merge(a, b)).length,
    });
  }
  for (const adds of [100, 1000, 10_000]) {
    const [a, b] = orsetStates(adds);
    const merged = orset.merge(a, b);
    rows.push({
      label: `OR-Set, ${adds} adds`,
      merge: () => orset.merge(a, b),
      bytes: JSON.stringify(merged).length,
      live: orset.value(merged).length,
    });
  }
  const x = lww.set(lww.zero<string>(), 'n1', 'x'.repeat(1000), 10);
  const y = lww.set(lww.zero<string>(), 'n2', 'y'.repeat(1000), 10);
  rows.push({
    label: 'LWW-Register, 1 kB value',
    merge: () => lww.merge(x, y),
    bytes: JSON.stringify(x).length,
  });

  const share = Math.max(0.2, ctx.durationSeconds / rows.length);
  ctx.log(`state-based merge cost, ${share.toFixed(2)} s of CPU per row (Node ${process.version})`);
  ctx.log('');
  ctx.log(
    `${'state'.padEnd(28)}${'merges/s'.padStart(12)}${'µs/merge'.padStart(11)}${'bytes'.padStart(10)}${'live'.padStart(8)}`,
  );
  for (const row of rows) {
    const { perSecond, micros } = measure(row.merge, share);
    ctx.log(
      `${row.label.padEnd(28)}${Math.round(perSecond).toLocaleString('en-US').padStart(12)}${micros.toFixed(2).padStart(11)}${row.bytes.toLocaleString('en-US').padStart(10)}${(row.live === undefined ? '' : String(row.live)).padStart(8)}`,
    );
  }
  ctx.log('');
  ctx.log(
    'bytes: the merged state as JSON, what one gossip message carries; live: the elements value() returns.',
  );
}
