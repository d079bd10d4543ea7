/**
 * `npm run bench -- 06-caching/cache-aside`: what single-flight and stale-while-revalidate save when
 * many requests want the same key at once.
 *
 * The same Redis and the same slow loader (a 20 ms "database query") behind two caches:
 *
 * - **naive cache-aside**, written below in eight lines the way most tutorials write it: `GET`; on a
 *   miss, call the loader and `SET … PX`. No single-flight.
 * - **your cache-aside** (`createCacheAside`), with no stale period, and in the Zipf phase once more
 *   with `staleMs`, so expiring hot keys are served stale while one refresh runs.
 *
 * Two workloads, each run through every cache in turn:
 *
 * 1. **Stampede**: 1,000 concurrent gets of one cold key, 10 rounds, the key deleted between rounds
 *    (a hot key that has just expired, or a cache that was just flushed).
 * 2. **Zipf**: `--connections` concurrent clients (default 50) for `--duration` seconds (default 5)
 *    each, reading keys drawn from a Zipf distribution (s = 1) over 10,000 keys, with a 1 s TTL on the
 *    real clock, so the hot keys expire over and over while they are being read. The key trace is
 *    generated once, from a fixed seed, and every cache reads the same one.
 *
 * Each row prints requests per second, latency percentiles, how many times the loader ran (what
 * your database would feel) and how many commands the cache's Redis connection sent.
 */
import { Redis } from 'ioredis';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { measurementOf } from '../../../src/testing/index.js';
import { mulberry32 } from '../../../src/testing/sim/prng.js';
import { createCacheAside } from './cache-aside.js';

const LOADER_MS = 20;
const STAMPEDE_GETS = 1000;
const STAMPEDE_ROUNDS = 10;
const ZIPF_KEYS = 10_000;
const ZIPF_TRACE = 200_000;
const TTL_MS = 1000;
const STALE_MS = 1000;

/** What both caches offer the bench. */
interface Cache {
  get(key: string, loader: (key: string) => Promise<unknown>): Promise<unknown>;
}

interface Contender {
  readonly label: string;
  readonly cache: Cache;
  /** Commands its connection has sent since it was created. */
  readonly commands: () => number;
}

interface Row extends Measurement {
  readonly loaderCalls: number;
  /** Loader calls for a key whose previous load was still running. */
  readonly duplicateLoads: number;
  readonly redisCommands: number;
}

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis: start one (see chapter 00) or set REDIS_URL');
  const prefix = `bench06:${process.pid}:`;
  const connections: Redis[] = [];
  const admin = new Redis(ctx.redisUrl);
  connections.push(admin);

  /** A connection of its own for each cache, so its commands can be counted. */
  const counted = async () => {
    const client = new Redis(ctx.redisUrl!);
    connections.push(client);
    await client.ping();
    let sent = 0;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      sent++;
      return send(...args);
    }) as Redis['sendCommand'];
    return { client, commands: () => sent };
  };

  const contenders = async (withStale: boolean): Promise<Contender[]> => {
    const naive = await counted();
    const yours = await counted();
    const list: Contender[] = [
      {
        label: 'naive cache-aside',
        cache: naiveCacheAside(naive.client, `${prefix}naive:`, TTL_MS),
        commands: naive.commands,
      },
      {
        label: 'your cache-aside',
        cache: createCacheAside({ redis: yours.client, prefix: `${prefix}yours:`, ttlMs: TTL_MS }),
        commands: yours.commands,
      },
    ];
    if (withStale) {
      const stale = await counted();
      list.push({
        label: `your cache-aside, staleMs ${STALE_MS}`,
        cache: createCacheAside({
          redis: stale.client,
          prefix: `${prefix}stale:`,
          ttlMs: TTL_MS,
          staleMs: STALE_MS,
        }),
        commands: stale.commands,
      });
    }
    return list;
  };

  try {
    ctx.log(
      `Stampede: ${STAMPEDE_GETS.toLocaleString('en-US')} concurrent gets of one cold key × ${STAMPEDE_ROUNDS} rounds, loader ${LOADER_MS} ms`,
    );
    const stampedeRows: Row[] = [];
    for (const contender of await contenders(false)) {
      stampedeRows.push(await stampede(contender, admin, prefix));
    }
    printRows(ctx, stampedeRows);

    ctx.log('');
    ctx.log(
      `Zipf (s = 1) over ${ZIPF_KEYS.toLocaleString('en-US')} keys: ${ctx.connections} clients × ${ctx.durationSeconds} s per cache, TTL ${TTL_MS} ms on the real clock, loader ${LOADER_MS} ms`,
    );
    const trace = zipfTrace(ZIPF_KEYS, ZIPF_TRACE, 1.0, 0x5eed);
    const zipfRows: Row[] = [];
    for (const contender of await contenders(true)) {
      zipfRows.push(await zipf(contender, trace, ctx.connections, ctx.durationSeconds));
    }
    printRows(ctx, zipfRows);
  } finally {
    await removeKeys(admin, prefix);
    for (const connection of connections) connection.disconnect();
  }
}

/** Cache-aside as most tutorials write it: no single-flight, no stale serving, no jitter. */
function naiveCacheAside(redis: Redis, prefix: string, ttlMs: number): Cache {
  return {
    async get(key, loader) {
      const stored = await redis.get(prefix + key);
      if (stored !== null) return JSON.parse(stored);
      const value = await loader(key);
      await redis.set(prefix + key, JSON.stringify(value), 'PX', ttlMs);
      return value;
    },
  };
}

/**
 * The "database": 20 ms per query. It counts the queries, and among them the duplicates: queries for
 * a key while a query for the same key is already running, which is what single-flight removes.
 */
function slowLoader() {
  let calls = 0;
  let duplicates = 0;
  const running = new Map<string, number>();
  const load = async (key: string) => {
    calls++;
    const already = running.get(key) ?? 0;
    if (already > 0) duplicates++;
    running.set(key, already + 1);
    await new Promise((resolve) => setTimeout(resolve, LOADER_MS));
    running.set(key, (running.get(key) ?? 1) - 1);
    return { id: key, name: `item ${key}`, price: key.length * 100 };
  };
  return { load, calls: () => calls, duplicates: () => duplicates };
}

async function stampede(contender: Contender, admin: Redis, prefix: string): Promise<Row> {
  const loader = slowLoader();
  const latencies: number[] = [];
  let errors = 0;
  let elapsed = 0;
  const before = contender.commands();
  for (let round = 0; round < STAMPEDE_ROUNDS; round++) {
    const keys = await admin.keys(`${prefix}*hot`);
    if (keys.length > 0) await admin.del(...keys); // the key goes cold: expired, or the cache was flushed
    const started = performance.now();
    await Promise.all(
      Array.from({ length: STAMPEDE_GETS }, async () => {
        try {
          await contender.cache.get('hot', loader.load);
          latencies.push(performance.now() - started);
        } catch {
          errors++;
        }
      }),
    );
    elapsed += performance.now() - started;
  }
  return {
    ...measurementOf(contender.label, latencies, elapsed / 1000, errors),
    loaderCalls: loader.calls(),
    duplicateLoads: loader.duplicates(),
    redisCommands: contender.commands() - before,
  };
}

async function zipf(
  contender: Contender,
  trace: readonly number[],
  clients: number,
  durationSeconds: number,
): Promise<Row> {
  const loader = slowLoader();
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const before = contender.commands();
  const started = performance.now();
  const deadline = started + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const key = `k${trace[next++ % trace.length]}`;
        const t0 = performance.now();
        try {
          await contender.cache.get(key, loader.load);
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  return {
    ...measurementOf(contender.label, latencies, (performance.now() - started) / 1000, errors),
    loaderCalls: loader.calls(),
    duplicateLoads: loader.duplicates(),
    redisCommands: contender.commands() - before,
  };
}

/** `length` key numbers in [0, keys) drawn from Zipf(s) with a seeded generator (mulberry32). */
function zipfTrace(keys: number, length: number, s: number, seed: number): number[] {
  const cumulative: number[] = [];
  let total = 0;
  for (let rank = 1; rank <= keys; rank++) {
    total += 1 / rank ** s;
    cumulative.push(total);
  }
  const random = mulberry32(seed);
  return Array.from({ length }, () => {
    const target = random() * total;
    let lo = 0;
    let hi = keys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  });
}

function printRows(ctx: BenchContext, rows: readonly Row[]): void {
  const header = [
    '',
    'requests/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'loader calls',
    'of them duplicates',
    'per 1k requests',
    'Redis commands',
    'per request',
  ];
  const body = rows.map((r) => [
    r.label,
    Math.round(r.perSecond).toLocaleString('en-US'),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    String(r.errors),
    r.loaderCalls.toLocaleString('en-US'),
    r.duplicateLoads.toLocaleString('en-US'),
    perThousand(r).toFixed(1),
    r.redisCommands.toLocaleString('en-US'),
    (r.redisCommands / Math.max(1, r.operations)).toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  for (const row of [header, ...body]) ctx.log(line(row));
  const [naive, ...yours] = rows;
  if (!naive) return;
  const times = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : '–');
  const perRequest = (r: Row) => r.redisCommands / Math.max(1, r.operations);
  for (const row of yours) {
    ctx.log(
      `${row.label} vs naive: ${times(row.perSecond, naive.perSecond)} the requests/s; per request, ` +
        `${times(perThousand(naive), perThousand(row))} fewer loader calls and ` +
        `${times(perRequest(naive), perRequest(row))} fewer Redis commands`,
    );
  }
}

/** Loader calls per 1,000 requests: the caches serve different numbers of requests in the same time. */
const perThousand = (r: Row) => (1000 * r.loaderCalls) / Math.max(1, r.operations);

async function removeKeys(admin: Redis, prefix: string): Promise<void> {
  const stale = await admin.keys(`${prefix}*`);
  for (let i = 0; i < stale.length; i += 500) await admin.del(...stale.slice(i, i + 500));
}
