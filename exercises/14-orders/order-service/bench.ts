/**
 * `npm run bench -- 14-orders/order-service [--target solutions] [--duration S] [--connections N]`:
 * orders per second and latency through YOUR service, each order a full saga (reserve, charge,
 * ship) driven by an orchestrator in this process, in three phases:
 *
 * - monolith: the same service, workflow and Redis, but the three services are called in process
 *   (a function call, no network): the baseline;
 * - services: the same steps over HTTP to the fake services, through their fault proxies;
 * - services, payment failing 20%: payment answers 503 to one request in five; the step retries;
 * - services, 5 ms per call: each service waits 5 ms before it answers, as a hop across a data
 *   centre might (loopback costs tens of microseconds), so three sequential calls add 15 ms.
 *
 * The ratio is the cost of the network (and of failures) on the same work. A client sends one
 * order at a time per connection, each with a new Idempotency-Key, and waits for the answer; an
 * answer other than 201 counts as an error.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import {
  type BenchContext,
  comparisonTable,
  loopLoad,
  type Measurement,
} from '../../../src/testing/index.js';
import { listen } from '../../../src/testing/net.js';
import { startFakeServices } from './fakes.js';
import { createOrderService } from './service.js';
import { createWorkflow, httpTransport, runOrchestrator, runRelay, type Transport } from './workflow.js';

const ROUNDS = 2;

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const redisUrl = ctx.redisUrl;
  const concurrency = Math.min(ctx.connections, 32);
  ctx.log(
    `Node ${process.version}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} before`,
  );
  ctx.log(`${concurrency} clients, ${ctx.durationSeconds} s per phase; every order is a full saga`);
  const fakes = await startFakeServices({ 'tea-2': 1e9 });
  const phases: { label: string; transport: Transport; failRate: number; delayMs: number }[] = [
    { label: 'monolith (in-process calls)', transport: fakes.inProcess, failRate: 0, delayMs: 0 },
    { label: 'services over HTTP', transport: httpTransport(fakes.urls), failRate: 0, delayMs: 0 },
    {
      label: 'services, payment failing 20%',
      transport: httpTransport(fakes.urls),
      failRate: 0.2,
      delayMs: 0,
    },
    { label: 'services, 5 ms per call', transport: httpTransport(fakes.urls), failRate: 0, delayMs: 5 },
  ];
  // The phases alternate and each keeps its best round: on a shared machine the load changes from
  // second to second, and the best round is the one least disturbed by others.
  const best = new Map<string, Measurement>();
  let compensated = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const p of phases) {
        fakes.payment.failRate = p.failRate;
        for (const service of [fakes.stock, fakes.payment, fakes.shipping]) service.delayMs = p.delayMs;
        const m = await phase(p.label, p.transport);
        if (m.perSecond > (best.get(p.label)?.perSecond ?? -1)) best.set(p.label, m);
      }
    }
  } finally {
    await fakes.close();
  }
  const rows = phases.map((p) => best.get(p.label) as Measurement);
  for (const line of comparisonTable(rows)) ctx.log(line);
  ctx.log(
    `(best of ${ROUNDS} alternating rounds; ops/s = orders answered 201 per second; p50/p99 = POST /orders round trip in ms)`,
  );
  ctx.log(
    `orders compensated with payment failing 20% (3 failed attempts in a row), all rounds: ${compensated}`,
  );
  ctx.log(
    `load average after: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );

  async function phase(label: string, transport: Transport): Promise<Measurement> {
    const prefix = `bench-orders-${randomUUID().slice(0, 8)}:`;
    const connections = [0, 1, 2].map(() => new Redis(redisUrl));
    const [redis, forSagas, forRelay] = connections as [Redis, Redis, Redis];
    const orchestrator = runOrchestrator({
      redis: forSagas,
      prefix,
      transport,
      concurrency: concurrency * 2,
    });
    const relay = runRelay(forRelay, prefix);
    const service = createOrderService({ redis, workflow: createWorkflow(redis, prefix), keyPrefix: prefix });
    const { url, close } = await listen(service.server);
    const body = JSON.stringify({ customer: 'ada', sku: 'tea-2', quantity: 1 });
    try {
      return await loopLoad(
        label,
        async () => {
          const response = await fetch(`${url}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
            body,
          });
          const view = (await response.json()) as { state?: string };
          if (response.status !== 201) throw new Error(`status ${response.status}`);
          if (view.state === 'compensated') compensated += label.includes('20%') ? 1 : 0;
        },
        { concurrency, durationSeconds: ctx.durationSeconds },
      );
    } finally {
      await close();
      await relay.close();
      await orchestrator.close();
      await cleanUp(redis, prefix);
      for (const connection of connections) connection.disconnect();
    }
  }
}

/** Deletes the phase's keys (SCAN, not KEYS: Redis may be shared). */
async function cleanUp(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
