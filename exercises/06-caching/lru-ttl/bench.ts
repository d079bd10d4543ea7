/**
 * `npm run bench -- 06-caching/lru-ttl`: your `LruCache` against lru-cache 11 (`LRUCache`), the LRU
 * most Node.js code installs, on the same pre-generated key traces, and against two naive LRUs
 * written here to show the Big-O story of the chapter:
 *
 * - "Map order, new iterator per eviction": recency is the `Map`'s insertion order (a hit does
 *   `delete` + `set`) and eviction takes `map.keys().next().value`. Every answer is right, but V8
 *   steps over the tombstones of all the keys evicted since the map last rebuilt its table.
 * - "scan for the oldest": each entry keeps a last-used counter and eviction scans every entry for
 *   the smallest, O(n). It runs at small capacities only, where it still finishes.
 *
 * Every contender does the same thing per request: `get(key)`, and on a miss `set(key, value)`
 * (cache-aside with a loader that costs nothing). Traces are generated before any timing, from a
 * seeded generator: a Zipf distribution (s = 1.0: the k-th most popular key is requested in
 * proportion to 1/k, as web objects roughly are) and a uniform one, both over 1,000,000 keys.
 * All contenders are exact LRUs of the same capacity, so they must miss on exactly the same requests:
 * the hit ratio column has to agree, and the bench says so when it does not.
 *
 * Each contender runs the trace twice after a warm-up (in order, then in reverse order), and the
 * run that used less CPU per request counts. Besides requests per second, the bench reads the CPU
 * time the process spent (`process.cpuUsage`, garbage collection included): on a machine busy with
 * other work, throughput measures the machine as much as the cache, while CPU time per request stays
 * close to what the cache itself costs. A run that has used --duration seconds of CPU is stopped, and
 * its row says how far it got.
 */
import os from 'node:os';
import { LRUCache } from 'lru-cache';
import type { BenchContext } from '../../../src/testing/index.js';
import { mulberry32 } from '../../../src/testing/sim/prng.js';
import { LruCache } from './lru-cache.js';

const KEYS = 1_000_000;
const CAPACITY = 100_000;
const TRACE_LENGTH = 2_000_000;
const ZIPF_S = 1.0;

/** The operations every contender offers: what the trace needs. */
interface Cache {
  get(key: number): number | undefined;
  set(key: number, value: number): unknown;
}

interface Contender {
  readonly label: string;
  readonly make: (capacity: number) => Cache;
}

/** One run of a trace through one cache. */
interface Run {
  readonly label: string;
  /** Requests done (the whole trace, unless the run was stopped). */
  readonly requests: number;
  readonly hits: number;
  /** Wall-clock seconds. */
  readonly seconds: number;
  /** CPU seconds of the whole process (user + system), garbage collection included. */
  readonly cpuSeconds: number;
}

/** `length` keys in [0, keys), key k drawn with probability proportional to 1 / (k + 1)^s. */
function zipfTrace(keys: number, s: number, length: number, random: () => number): Int32Array {
  const cumulative = new Float64Array(keys);
  let total = 0;
  for (let k = 0; k < keys; k++) {
    total += 1 / (k + 1) ** s;
    cumulative[k] = total;
  }
  const trace = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const target = random() * total;
    let lo = 0;
    let hi = keys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) < target) lo = mid + 1;
      else hi = mid;
    }
    trace[i] = lo;
  }
  return trace;
}

function uniformTrace(keys: number, length: number, random: () => number): Int32Array {
  const trace = new Int32Array(length);
  for (let i = 0; i < length; i++) trace[i] = Math.floor(random() * keys);
  return trace;
}

/** The LRU most snippets show: `Map` insertion order, and a new iterator to find the oldest key. */
class MapOrderLru implements Cache {
  readonly #map = new Map<number, number>();
  constructor(readonly capacity: number) {}
  get(key: number): number | undefined {
    const value = this.#map.get(key);
    if (value === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }
  set(key: number, value: number): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as number);
  }
}

/** The textbook description taken literally: remember when each key was used, evict the oldest by a scan. */
class ScanLru implements Cache {
  readonly #map = new Map<number, { value: number; usedAt: number }>();
  #tick = 0;
  constructor(readonly capacity: number) {}
  get(key: number): number | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    entry.usedAt = ++this.#tick;
    return entry.value;
  }
  set(key: number, value: number): void {
    this.#map.set(key, { value, usedAt: ++this.#tick });
    if (this.#map.size <= this.capacity) return;
    let oldestKey = -1;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [k, entry] of this.#map) {
      if (entry.usedAt < oldest) {
        oldest = entry.usedAt;
        oldestKey = k;
      }
    }
    this.#map.delete(oldestKey);
  }
}

const yours: Contender = {
  label: 'your LruCache',
  make: (capacity) => new LruCache<number, number>({ maxEntries: capacity }),
};
const lruCache: Contender = {
  label: 'lru-cache 11',
  make: (capacity) => new LRUCache<number, number>({ max: capacity }),
};
const mapOrder: Contender = {
  label: 'Map order, new iterator per eviction',
  make: (capacity) => new MapOrderLru(capacity),
};
const scan: Contender = {
  label: 'scan for the oldest (O(n) eviction)',
  make: (capacity) => new ScanLru(capacity),
};

/** CPU seconds this process has used since `since` (user + system). */
function cpuSince(since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
}

/** Runs `trace` through a new cache: get, and set on a miss; stops after `budgetSeconds` of CPU. */
function runTrace(contender: Contender, capacity: number, trace: Int32Array, budgetSeconds: number): Run {
  const cache = contender.make(capacity);
  let hits = 0;
  let requests = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  while (requests < trace.length) {
    const end = Math.min(trace.length, requests + 4096);
    for (; requests < end; requests++) {
      const key = trace[requests] as number;
      if (cache.get(key) === undefined) cache.set(key, key);
      else hits++;
    }
    if (cpuSince(cpu) > budgetSeconds) break;
  }
  return {
    label: contender.label,
    requests,
    hits,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuSince(cpu),
  };
}

/**
 * Each contender: a warm-up on the first tenth of the trace, then two runs in alternating order; the
 * one with less CPU per request counts. A contender whose run was stopped at the limit is not run again.
 */
function measure(
  contenders: readonly Contender[],
  capacity: number,
  trace: Int32Array,
  budget: number,
): Run[] {
  for (const c of contenders)
    runTrace(c, capacity, trace.subarray(0, trace.length / 10), Math.min(1, budget));
  const best = new Map<string, Run>();
  const cpuPerRequest = (r: Run) => r.cpuSeconds / r.requests;
  for (const order of [contenders, [...contenders].reverse()]) {
    for (const c of order) {
      const prev = best.get(c.label);
      if (prev !== undefined && prev.requests < trace.length) continue;
      const run = runTrace(c, capacity, trace, budget);
      if (prev === undefined || cpuPerRequest(run) < cpuPerRequest(prev)) best.set(c.label, run);
    }
  }
  return contenders.map((c) => best.get(c.label) as Run);
}

/**
 * The table: requests done, requests per wall-clock second, CPU nanoseconds per request, hit ratio,
 * and requests per CPU-second against `baseline` (the throughput ratio on a machine with nothing else
 * to do).
 */
function table(runs: readonly Run[], baseline: string): string[] {
  const base = runs.find((r) => r.label === baseline);
  const cpuNanos = (r: Run) => (r.cpuSeconds * 1e9) / r.requests;
  const header = ['', 'requests', 'requests/s', 'CPU ns/request', 'hit ratio', `vs ${baseline}`];
  const body = runs.map((r) => [
    r.label,
    r.requests.toLocaleString('en-US'),
    Math.round(r.requests / r.seconds).toLocaleString('en-US'),
    cpuNanos(r).toFixed(0),
    `${((100 * r.hits) / r.requests).toFixed(2)}%`,
    base ? `${(cpuNanos(base) / cpuNanos(r)).toFixed(2)}×` : '–',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), ...body.map(line)];
}

/** Exact LRUs of one capacity on one trace miss on the same requests; says which runs disagree. */
function policyCheck(runs: readonly Run[], traceLength: number): string {
  const complete = runs.filter((r) => r.requests === traceLength);
  const stopped = runs.filter((r) => r.requests < traceLength).map((r) => r.label);
  const note = stopped.length > 0 ? ` (stopped early, not compared: ${stopped.join(', ')})` : '';
  const reference = complete[0];
  if (reference === undefined) return `no run finished the trace${note}`;
  const differ = complete.filter((r) => r.hits !== reference.hits);
  if (differ.length === 0)
    return `✔ every finished run hit on the same ${reference.hits.toLocaleString('en-US')} requests: the same LRU policy${note}`;
  return `✘ hit counts differ (${complete.map((r) => `${r.label}: ${r.hits}`).join(', ')}): not the same LRU policy${note}`;
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const budget = ctx.durationSeconds;
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  ctx.log(
    `Node ${process.version}, ${os.availableParallelism()} cores, load average ${load}; a run stops after ${budget} s of CPU (--duration)`,
  );
  ctx.log('Generating traces (seeded; not timed) ...');
  const random = mulberry32(6);
  const zipf = zipfTrace(KEYS, ZIPF_S, TRACE_LENGTH, random);
  const uniform = uniformTrace(KEYS, TRACE_LENGTH, random);

  const workloads = [
    { name: `Zipf s=${ZIPF_S} over ${KEYS.toLocaleString('en-US')} keys`, trace: zipf },
    { name: `uniform over ${KEYS.toLocaleString('en-US')} keys`, trace: uniform },
  ];
  for (const { name, trace } of workloads) {
    ctx.log('');
    ctx.log(
      `Workload: ${name}, capacity ${CAPACITY.toLocaleString('en-US')}, ${trace.length.toLocaleString('en-US')} requests (get, set on a miss)`,
    );
    const runs = measure([yours, lruCache, mapOrder], CAPACITY, trace, budget);
    for (const line of table(runs, lruCache.label)) ctx.log(line);
    ctx.log(policyCheck(runs, trace.length));
  }

  ctx.log('');
  ctx.log("Big O: the Zipf trace's first 200,000 requests at growing capacities, with an O(n) eviction too");
  const prefix = zipf.subarray(0, 200_000);
  for (const capacity of [1_000, 3_000, 10_000]) {
    ctx.log('');
    ctx.log(`capacity ${capacity.toLocaleString('en-US')}`);
    const runs = measure([yours, lruCache, mapOrder, scan], capacity, prefix, budget);
    for (const line of table(runs, lruCache.label)) ctx.log(line);
    ctx.log(policyCheck(runs, prefix.length));
  }
}
