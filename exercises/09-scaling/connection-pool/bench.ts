/**
 * `npm run bench -- 09-scaling/connection-pool`: two measurements.
 *
 * 1. **Pool overhead.** Your `Pool` against generic-pool 3.9.0 and tarn 3.1.2, the two pools most
 *    Node.js database clients are built on (node-postgres' own pool aside; knex uses tarn), on the
 *    same trivial factory (plain objects, no I/O), `max` 10, 100 concurrent users, 200,000 loans per
 *    pool: each user acquires, yields once (an `await`, as a real caller would), and releases, until
 *    the loans run out. Ninety of the hundred users are always waiting, so the line, the hand-off
 *    and the timers are what is measured. Each pool runs twice after a warm-up, in alternating
 *    order, and the faster run counts; the table shows loans per second, CPU microseconds per loan
 *    (`process.cpuUsage`, garbage collection included: on a busy machine it tracks the pool's own
 *    cost better than throughput does) and the ratio to each library.
 *
 * 2. **The cost of not pooling.** 1,000 Redis GETs, four at a time, over your pool of 4 ioredis
 *    connections, against a new connection per GET (connect, GET, QUIT): the TCP handshake and the
 *    connection setup on the server that a pool pays once.
 */
import os from 'node:os';
import { createPool } from 'generic-pool';
import { Redis } from 'ioredis';
import { Pool as TarnPool } from 'tarn';
import type { BenchContext } from '../../../src/testing/index.js';
import { Pool } from './pool.js';

const MAX = 10;
const USERS = 100;
const LOANS = 200_000;
const WARM_UP_LOANS = 20_000;
const ACQUIRE_TIMEOUT_MS = 30_000;

/** What the workload needs from a pool: acquire, release, and shut down. */
interface Contender {
  readonly label: string;
  readonly start: () => {
    acquire(): Promise<object>;
    release(resource: object): void;
    close(): Promise<void>;
  };
}

interface Run {
  readonly label: string;
  readonly seconds: number;
  readonly cpuSeconds: number;
}

const factory = { create: async () => ({}), destroy: async () => {} };

const yours: Contender = {
  label: 'your Pool',
  start: () => {
    const pool = new Pool<object>(factory, { max: MAX, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS });
    return {
      acquire: () => pool.acquire(),
      release: (r) => pool.release(r),
      close: () => pool.drain(),
    };
  },
};

const genericPool: Contender = {
  label: 'generic-pool 3.9.0',
  start: () => {
    const pool = createPool(factory, { max: MAX, min: 0, acquireTimeoutMillis: ACQUIRE_TIMEOUT_MS });
    return {
      acquire: () => pool.acquire(),
      release: (r) => void pool.release(r),
      close: async () => {
        await pool.drain();
        await pool.clear();
      },
    };
  },
};

const tarn: Contender = {
  label: 'tarn 3.1.2',
  start: () => {
    const pool = new TarnPool<object>({
      create: () => ({}),
      destroy: () => {},
      min: 0,
      max: MAX,
      acquireTimeoutMillis: ACQUIRE_TIMEOUT_MS,
    });
    return {
      acquire: () => pool.acquire().promise,
      release: (r) => void pool.release(r),
      close: async () => {
        await pool.destroy();
      },
    };
  },
};

/** `loans` loans shared by `USERS` concurrent users of a new pool. */
async function runLoans(contender: Contender, loans: number): Promise<Run> {
  const pool = contender.start();
  let left = loans;
  const user = async () => {
    while (left > 0) {
      left--;
      const resource = await pool.acquire();
      await null;
      pool.release(resource);
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: USERS }, user));
  const seconds = (performance.now() - started) / 1000;
  const { user: u, system } = process.cpuUsage(cpu);
  await pool.close();
  return { label: contender.label, seconds, cpuSeconds: (u + system) / 1e6 };
}

function table(runs: readonly Run[], baselines: readonly string[]): string[] {
  const cpuMicros = (r: Run) => (r.cpuSeconds * 1e6) / LOANS;
  const header = ['', 'loans/s', 'CPU µs/loan', ...baselines.map((b) => `vs ${b}`)];
  const body = runs.map((r) => [
    r.label,
    Math.round(LOANS / r.seconds).toLocaleString('en-US'),
    cpuMicros(r).toFixed(2),
    ...baselines.map((b) => {
      const base = runs.find((x) => x.label === b);
      return base ? `${(base.seconds / r.seconds).toFixed(2)}×` : '–';
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), ...body.map(line)];
}

/** 1,000 GETs, `concurrency` at a time, each through `get`. */
async function thousandGets(concurrency: number, get: (key: string) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < 1000) {
        const i = next++;
        await get(`bench:pool:${i % 10}`);
      }
    }),
  );
  return performance.now() - started;
}

async function redisLine(ctx: BenchContext, redisUrl: string): Promise<void> {
  const connect = async () => {
    const connection = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await connection.connect();
    return connection;
  };
  const pool = new Pool<Redis>(
    { create: connect, destroy: async (c) => void (await c.quit()) },
    { max: 4, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS },
  );
  try {
    const pooledMs = await thousandGets(4, (key) => pool.use((c) => c.get(key)));
    const freshMs = await thousandGets(4, async (key) => {
      const c = await connect();
      try {
        return await c.get(key);
      } finally {
        await c.quit();
      }
    });
    // 1,000 GETs in `ms` milliseconds is `ms` microseconds of wall time per GET.
    ctx.log(
      `1,000 GETs, 4 at a time: over a pool of 4 connections ${pooledMs.toFixed(0)} ms (${pooledMs.toFixed(0)} µs per GET); ` +
        `a new connection per GET ${freshMs.toFixed(0)} ms (${freshMs.toFixed(0)} µs per GET): ` +
        `${(freshMs / pooledMs).toFixed(1)}× the time without a pool`,
    );
  } finally {
    await pool.drain();
  }
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  ctx.log(`Node ${process.version}, ${os.availableParallelism()} cores, load average ${load}`);
  ctx.log('');
  ctx.log(
    `1. Pool overhead: trivial factory (plain objects), max ${MAX}, ${USERS} concurrent users, ${LOANS.toLocaleString('en-US')} loans per run (acquire, await, release); best of 2 runs after a warm-up`,
  );
  const contenders = [yours, genericPool, tarn];
  for (const c of contenders) await runLoans(c, WARM_UP_LOANS);
  const best = new Map<string, Run>();
  for (const order of [contenders, [...contenders].reverse()]) {
    for (const c of order) {
      const run = await runLoans(c, LOANS);
      const prev = best.get(c.label);
      if (prev === undefined || run.seconds < prev.seconds) best.set(c.label, run);
    }
  }
  const runs = contenders.map((c) => best.get(c.label) as Run);
  for (const line of table(runs, [genericPool.label, tarn.label])) ctx.log(line);

  ctx.log('');
  ctx.log('2. The cost of not pooling (Redis, ioredis connections on 127.0.0.1)');
  if (ctx.redisUrl === undefined) {
    ctx.log('   skipped: no Redis was found (start one, or set REDIS_URL)');
    return;
  }
  await redisLine(ctx, ctx.redisUrl);
}
