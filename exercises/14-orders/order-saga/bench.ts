/**
 * `npm run bench -- 14-orders/order-saga [--target solutions] [--duration S] [--connections N]`
 *
 * What durability costs. The same three fake services (`harness.ts`, books in Redis), the same
 * orders, the same concurrency (`--connections`, at most 32 sagas at once), S seconds each (at most 5):
 *
 * 1. **direct calls**: reserve → charge → ship awaited one after the other, with a refund and a
 *    release on a refusal, and nothing written down: what a first version does, and what loses
 *    orders when its process dies. The baseline.
 * 2. **your saga**: `SagaOrchestrator.start` for each order: the lease, the write-ahead record before
 *    every call and the record after it.
 * 3. **your saga, 20% of charges refused**: the same, with compensations on one order in five.
 *
 * Beside each phase: Redis commands per order (`INFO commandstats`, commands inside Lua scripts
 * included), split into the services' own and the orchestrator's. No saga library is installed in
 * the course (Temporal's TypeScript SDK needs its own server), so the baseline is the code without
 * a saga. Keys are deleted at the end (under `bench-saga-<pid>`).
 */
import { Redis } from 'ioredis';
import {
  type BenchContext,
  comparisonTable,
  type Measurement,
  measurementOf,
} from '../../../src/testing/index.js';
import { FakeServices, type FakeServicesOptions, order } from './harness.js';
import { type Order, type OrderServices, SagaOrchestrator } from './order-saga.js';

const ns = `bench-saga-${process.pid}`;

async function commands(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) total += Number(match[1]);
  return total;
}

/** The baseline: the calls in order, compensations on a refusal, nothing recorded. */
async function direct(services: OrderServices, o: Order): Promise<void> {
  const request = (step: string) => ({ key: `${o.id}:${step}`, order: o });
  await services.reserveStock(request('reserve'));
  try {
    await services.charge(request('charge'));
  } catch {
    await services.releaseStock(request('reserve'));
    return;
  }
  try {
    await services.createShipment(request('ship'));
  } catch {
    await services.refund(request('charge'));
    await services.releaseStock(request('reserve'));
  }
}

async function phase(
  label: string,
  seconds: number,
  concurrency: number,
  run: (o: Order) => Promise<void>,
): Promise<Measurement> {
  const latencies: number[] = [];
  let n = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      n += 1;
      const o = order(`${label.replace(/\W+/g, '-')}-${n}`);
      const at = performance.now();
      try {
        await run(o);
        latencies.push(performance.now() - at);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return measurementOf(label, latencies, (performance.now() - started) / 1000, errors);
}

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const redis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });
  const seconds = Math.min(5, ctx.durationSeconds);
  const concurrency = Math.max(1, Math.min(32, ctx.connections));
  const fakes = (options: Omit<FakeServicesOptions, 'prefix'> = {}) =>
    new FakeServices(redis, { prefix: `${ns}-svc`, ...options });
  const refuseOneInFive = fakes({
    faults: (c) =>
      c.service === 'charge' && Number(c.key.split('-').at(-1)?.split(':')[0]) % 5 === 0
        ? 'refuse'
        : undefined,
  });
  await fakes().setStock('mug', 1_000_000_000);
  const saga = (services: OrderServices) =>
    new SagaOrchestrator({ redis, services, namespace: ns, leaseMs: 30_000, stepTimeoutMs: 5_000 });

  ctx.log(`order-saga bench: ${concurrency} orders at once, ${seconds} s per phase, Redis ${ctx.redisUrl}`);
  const phases: [string, (o: Order) => Promise<void>][] = [
    ['direct calls', (o) => direct(fakes(), o)],
    ['your saga', async (o) => void (await saga(fakes()).start(o))],
    ['your saga, 20% refused', async (o) => void (await saga(refuseOneInFive).start(o))],
  ];
  await phase('warm-up', 1, concurrency, (o) => direct(fakes(), o));
  const rows: Measurement[] = [];
  const perOrder: string[] = [];
  for (const [label, run] of phases) {
    const before = await commands(redis);
    const m = await phase(label, seconds, concurrency, run);
    const used = (await commands(redis)) - before;
    rows.push(m);
    perOrder.push(`  ${label}: ${(used / Math.max(1, m.operations)).toFixed(1)} Redis commands per order`);
  }
  for (const line of comparisonTable(rows, 'direct calls')) ctx.log(line);
  for (const line of perOrder) ctx.log(line);
  ctx.log(
    '(the fake services use 3 commands per call: INCR of the attempt, the EVAL, the RPUSH of the call log)',
  );

  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${ns}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
