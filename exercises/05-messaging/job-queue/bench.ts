/**
 * `npm run bench -- 05-messaging/job-queue [--target solutions] [--duration S] [--connections N]`
 *
 * Your queue against BullMQ 6 (a Queue and a Worker), on the same Redis, with the same concurrency
 * (`--connections`, at most 50), the same payload (a ~150-byte object) and a handler that does
 * nothing, so what is measured is the queue itself. Each system runs a warm-up, then:
 *
 * 1. **throughput**: sixteen producers add jobs as fast as Redis takes them for S seconds (at most 5),
 *    never more than 2,000 ahead of the worker; then the backlog drains. Jobs/s is completions
 *    over the time from the first add to the last completion; the latency (from the add call to the
 *    worker's `completed` event, after the acknowledgement) is latency under saturation: mostly time
 *    spent waiting in the backlog.
 * 2. **latency at a steady rate**: 500 jobs/s added on a fixed schedule (open loop) for S seconds,
 *    a load both queues keep up with, so p50/p99 are the cost of one job's trip.
 *
 * Beside the throughput phase: Redis commands per job (those run inside Lua scripts included, as
 * `INFO commandstats` counts them) and how many of them were scripts, Redis CPU per job (`INFO
 * cpu`), and this process's CPU per job: what limits each queue. The idle system's background
 * commands (BullMQ's stalled-job checks, your worker's blocked reads) are counted in the other's
 * phase too; they are few. Keys are deleted
 * at the end (yours under `bench-jq-<pid>`, BullMQ's under `bull:bench-bull-<pid>`).
 */
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type BenchContext,
  comparisonTable,
  type Measurement,
  measurementOf,
} from '../../../src/testing/index.js';
import { createQueue, createWorker } from './job-queue.js';

const BACKLOG = 2000;
const PRODUCERS = 16;
const STEADY_RATE = 500;
const DRAIN_LIMIT_MS = 20_000;

/** One system under test: add a job, and hear about completions. */
interface System {
  readonly label: string;
  add(data: Payload): Promise<unknown>;
  onCompleted(listener: (data: Payload) => void): void;
  close(): Promise<void>;
}

interface Payload {
  readonly n: number;
  /** `performance.now()` when the add was called. */
  readonly at: number;
  readonly to: string;
  readonly body: string;
}

const payload = (n: number): Payload => ({
  n,
  at: performance.now(),
  to: `user-${n}@example.com`,
  body: 'Your order has shipped. Track it with the link in your account; it should arrive within three days.',
});

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const seconds = Math.min(ctx.durationSeconds, 5);
  const concurrency = Math.min(ctx.connections, 50);
  const admin = new Redis(ctx.redisUrl);
  const ours = `bench-jq-${process.pid}`;
  const bull = `bench-bull-${process.pid}`;
  ctx.log(
    `concurrency ${concurrency}, a no-op handler, ${seconds} s per phase; throughput with ${PRODUCERS} producers at most ${BACKLOG} ahead, latency at ${STEADY_RATE} jobs/s`,
  );
  const systems = [yourQueue(ctx.redisUrl, ours, concurrency), bullmq(ctx.redisUrl, bull, concurrency)];
  try {
    for (const system of systems) await warmUp(system);
    const throughput: Measurement[] = [];
    const steady: Measurement[] = [];
    const costs: string[] = [];
    for (const system of systems) {
      const before = await redisStats(admin);
      const cpu = process.cpuUsage();
      const m = await throughputPhase(system, seconds);
      const after = await redisStats(admin);
      const used = process.cpuUsage(cpu);
      throughput.push(m);
      costs.push(
        `  ${system.label.padEnd(12)} ${((after.calls - before.calls) / m.operations).toFixed(2)} Redis commands ` +
          `(${((after.scripts - before.scripts) / m.operations).toFixed(2)} of them scripts), ` +
          `${(((after.cpuMs - before.cpuMs) * 1000) / m.operations).toFixed(1)} µs Redis CPU, ` +
          `${((used.user + used.system) / m.operations).toFixed(1)} µs Node CPU per job`,
      );
    }
    for (const system of systems) steady.push(await steadyPhase(system, seconds));

    ctx.log('');
    ctx.log('1. throughput (add → handled → acknowledged), jobs/s; latency under saturation:');
    for (const line of comparisonTable(throughput, throughput[1]?.label)) ctx.log(`  ${line}`);
    ctx.log(
      "   what each job cost in the throughput phase (commands run inside scripts included; the other system's background work too):",
    );
    for (const line of costs) ctx.log(line);
    ctx.log('');
    ctx.log(`2. latency at a steady ${STEADY_RATE} jobs/s (add call → completed event):`);
    for (const line of comparisonTable(steady, steady[1]?.label)) ctx.log(`  ${line}`);
  } finally {
    await Promise.all(systems.map((s) => s.close().catch(() => {})));
    await deleteKeys(admin, `${ours}:*`);
    await deleteKeys(admin, `bull:${bull}:*`);
    admin.disconnect();
  }
}

function yourQueue(url: string, name: string, concurrency: number): System {
  const producer = new Redis(url);
  const consumer = new Redis(url);
  const queue = createQueue({ redis: producer, name });
  const listeners: ((data: Payload) => void)[] = [];
  const worker = createWorker<Payload>({
    redis: consumer,
    queue: name,
    concurrency,
    minIdleMs: 30_000, // BullMQ's default lock duration
    handler: async () => {},
  });
  worker.on('completed', (job) => {
    for (const listener of listeners) listener(job.data as Payload);
  });
  return {
    label: 'your queue',
    add: (data) => queue.add(data),
    onCompleted: (listener) => void listeners.push(listener),
    async close() {
      await worker.close({ timeoutMs: 2000 });
      producer.disconnect();
      consumer.disconnect();
    },
  };
}

function bullmq(url: string, name: string, concurrency: number): System {
  const { hostname, port, pathname } = new URL(url);
  const connection = { host: hostname, port: Number(port || 6379), db: Number(pathname.slice(1) || 0) };
  const queue = new BullQueue(name, {
    connection,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  const listeners: ((data: Payload) => void)[] = [];
  const worker = new BullWorker(name, async () => {}, {
    connection: { ...connection, maxRetriesPerRequest: null },
    concurrency,
  });
  worker.on('completed', (job) => {
    for (const listener of listeners) listener(job.data as Payload);
  });
  return {
    label: 'BullMQ 6',
    add: (data) => queue.add('job', data),
    onCompleted: (listener) => void listeners.push(listener),
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

/** 500 jobs, to load scripts and warm the JIT. */
async function warmUp(system: System): Promise<void> {
  let done = 0;
  const all = new Promise<void>((resolve) => {
    system.onCompleted(() => {
      if (++done === 500) resolve();
    });
  });
  await Promise.all(Array.from({ length: 500 }, (_, i) => system.add(payload(-i - 1))));
  await all;
}

/** Counts completions of jobs numbered from `first` on, and their latencies. */
function tracker(system: System, first: number) {
  const latencies: number[] = [];
  let last = 0;
  let wake = () => {};
  system.onCompleted((data) => {
    if (data.n < first) return;
    last = performance.now();
    latencies.push(last - data.at);
    wake();
  });
  return {
    latencies,
    lastCompletion: () => last,
    /** Resolves when `count` completions have been seen (or the limit passes). */
    async until(count: number, limitMs: number): Promise<void> {
      const deadline = performance.now() + limitMs;
      while (latencies.length < count && performance.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

let sequence = 0;

/** The first job number of a new phase (phases never share numbers). */
function nextPhase(): number {
  sequence += 1_000_000;
  return sequence;
}

async function throughputPhase(system: System, seconds: number): Promise<Measurement> {
  const first = nextPhase();
  const seen = tracker(system, first);
  let added = 0;
  let errors = 0;
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (performance.now() < stopAt) {
        if (added - seen.latencies.length >= BACKLOG) {
          await seen.until(added - BACKLOG / 2, 1000);
          continue;
        }
        const n = first + added++;
        await system.add(payload(n)).catch(() => errors++);
      }
    }),
  );
  await seen.until(added - errors, DRAIN_LIMIT_MS);
  const elapsed = (seen.lastCompletion() - started) / 1000;
  return measurementOf(
    system.label,
    seen.latencies,
    elapsed,
    errors + (added - errors - seen.latencies.length),
  );
}

async function steadyPhase(system: System, seconds: number): Promise<Measurement> {
  const first = nextPhase();
  const seen = tracker(system, first);
  const total = STEADY_RATE * seconds;
  let errors = 0;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / STEADY_RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    system.add(payload(first + i)).catch(() => errors++);
  }
  await seen.until(total - errors, DRAIN_LIMIT_MS);
  const elapsed = (seen.lastCompletion() - started) / 1000;
  return measurementOf(
    system.label,
    seen.latencies,
    elapsed,
    errors + (total - errors - seen.latencies.length),
  );
}

/** Total commands Redis has run and its CPU time (ms), from INFO. */
async function redisStats(redis: Redis): Promise<{ calls: number; scripts: number; cpuMs: number }> {
  const stats = String(await redis.info('commandstats'));
  const cpu = String(await redis.info('cpu'));
  let calls = 0;
  let scripts = 0;
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] === 'info') continue;
    calls += Number(match[2]);
    if (match[1] === 'evalsha' || match[1] === 'eval') scripts += Number(match[2]);
  }
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { calls, scripts, cpuMs: (field('used_cpu_sys') + field('used_cpu_user')) * 1000 };
}

async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', '1000');
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
