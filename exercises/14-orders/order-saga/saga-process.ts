/**
 * An orchestrator in a process of its own, so that the suite can kill it with SIGKILL (you do not
 * edit this file). Started as `node --import tsx saga-process.ts '<config JSON>'` (see
 * {@link ProcessConfig}); it loads YOUR `order-saga.ts` from the path the suite passes, resumes
 * every unfinished saga, starts (or resumes) each order it is given until all are finished, and
 * writes one JSON line per event to stdout: `{"event":"ready"}`, `{"event":"finished","id":…,
 * "status":…}` per saga, `{"event":"done"}` at the end, then exits with code 0.
 *
 * `killAt` makes the process kill ITSELF with SIGKILL at one instant of one service call:
 * `before` (the call arrived, nothing done), `after` (the work is done, no answer yet) or
 * `answered` (the answer is given; killed on the next turn of the event loop).
 */
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { FakeServices, type ServiceName, seededFaults, seededOrders } from './harness.js';
import type * as OrderSaga from './order-saga.js';

export interface ProcessConfig {
  /** The absolute path of the order-saga.ts under test. */
  readonly implementation: string;
  readonly redisUrl: string;
  readonly namespace: string;
  /** The fake services' key prefix. */
  readonly prefix: string;
  readonly leaseMs: number;
  readonly stepTimeoutMs: number;
  readonly backoffMs: number;
  /** The orders: given, or seeded (`seededOrders(seed, count)`). */
  readonly orders: readonly OrderSaga.Order[] | { readonly seed: number; readonly count: number };
  /** Seed of `seededFaults`, or none. */
  readonly faultSeed?: number;
  /** A service that refuses every call (instead of seeded faults). */
  readonly refuse?: ServiceName;
  readonly killAt?: { readonly service: ServiceName; readonly instant: 'before' | 'after' | 'answered' };
  readonly concurrency: number;
}

function out(line: Record<string, unknown>) {
  writeSync(1, `${JSON.stringify(line)}\n`);
}

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ProcessConfig;
  const { SagaOrchestrator, SagaBusyError } = (await import(
    pathToFileURL(config.implementation).href
  )) as typeof OrderSaga;
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const kill = config.killAt;
  const services = new FakeServices(redis, {
    prefix: config.prefix,
    faults:
      config.faultSeed !== undefined
        ? seededFaults(config.faultSeed)
        : (call) => (call.service === config.refuse ? 'refuse' : undefined),
    before: (call) => {
      if (kill?.service === call.service && kill.instant === 'before') die();
    },
    after: (call) => {
      if (kill?.service !== call.service) return;
      if (kill.instant === 'after') die();
      if (kill.instant === 'answered') setImmediate(die);
    },
  });
  const orchestrator = new SagaOrchestrator({
    redis,
    services,
    namespace: config.namespace,
    leaseMs: config.leaseMs,
    stepTimeoutMs: config.stepTimeoutMs,
    backoff: { baseMs: config.backoffMs, maxMs: config.backoffMs * 4 },
  });
  out({ event: 'ready' });
  const pending = Array.isArray(config.orders)
    ? [...(config.orders as OrderSaga.Order[])]
    : seededOrders((config.orders as { seed: number }).seed, (config.orders as { count: number }).count);
  const deadline = Date.now() + 60_000;
  await orchestrator.resumeAll(config.concurrency);
  while (pending.length > 0 && Date.now() < deadline) {
    const round = pending.splice(0);
    const worker = async () => {
      for (let order = round.shift(); order !== undefined; order = round.shift()) {
        try {
          const saga = await orchestrator.start(order);
          out({ event: 'finished', id: order.id, status: saga.state.status });
        } catch (error) {
          if (!(error instanceof SagaBusyError)) throw error;
          pending.push(order);
        }
      }
    };
    await Promise.all(Array.from({ length: config.concurrency }, worker));
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  out({ event: pending.length === 0 ? 'done' : 'gave-up', pending: pending.map((o) => o.id) });
  redis.disconnect();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
