/**
 * The chapter's end-to-end test: 200 orders through YOUR HTTP API, with clients that retry with
 * their keys (after a 409, a 503, a dropped connection, and sometimes after a success whose answer
 * they pretend to have lost), while the orchestrator and the outbox relay run as child processes
 * that are killed with SIGKILL at seeded moments and restarted. Payment answers 503 to 10% of
 * requests; some customers are declined; one product runs out. At the end every order is shipped
 * or compensated, stock and payments balance to the cent, no key made two orders, and every
 * OrderPlaced event reached the consumer once.
 *
 * The seed is printed; `ORDERS_E2E_SEED=<seed>` replays a run.
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { type TsChild, useChildProcesses, useRedis, waitFor } from '../../../src/testing/index.js';
import { seededRandom } from '../../../src/testing/sim/prng.js';
import { type FakeServices, startFakeServices } from './fakes.js';
import { connection, type HttpReply, onCleanup, postOrder, startService, uniquePrefix } from './harness.js';
import type { ProcessConfig } from './processes.js';
import { createWorkflow, type OrderView, UNIT_PRICE_CENTS } from './workflow.js';

const redis = useRedis();
const children = useChildProcesses();
const entry = fileURLToPath(new URL('./processes.ts', import.meta.url));

const ORDERS = 200;
const CLIENTS = 20;
const KILLS = 3; // of each process
const STOCK = { 'tea-1': 120, 'tea-2': 10_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it(`${ORDERS} orders while the orchestrator and the relay are killed: all settled, all balanced`, async () => {
  const seed = Number(process.env.ORDERS_E2E_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(
    `order-service e2e seed ${seed}; replay: ORDERS_E2E_SEED=${seed} npx vitest run exercises/14-orders/order-service/e2e.test.ts`,
  );
  const random = seededRandom(seed);
  const fakes: FakeServices = await startFakeServices(STOCK, seed);
  onCleanup(() => fakes.close());
  fakes.payment.failRate = 0.1;
  const prefix = uniquePrefix();
  const client = connection(redis.url);
  const workflow = createWorkflow(client, prefix);
  const url = await startService({ redis: client, workflow, keyPrefix: prefix, respondWithinMs: 300 });

  const config = (role: ProcessConfig['role']): ProcessConfig => ({
    role,
    redisUrl: redis.url,
    prefix,
    urls: fakes.urls,
    leaseMs: 1000,
  });
  const running: Record<ProcessConfig['role'], TsChild> = {
    orchestrator: children.start(entry, { args: [JSON.stringify(config('orchestrator'))] }),
    relay: children.start(entry, { args: [JSON.stringify(config('relay'))] }),
  };
  await Promise.all(
    Object.values(running).map((c) => c.waitForLine('the process to start', (l) => l === 'ready', 20_000)),
  );

  // The kills: each process is killed KILLS times at seeded moments in the first seconds, and restarted.
  const killer = async (role: ProcessConfig['role']) => {
    const random = seededRandom(seed + (role === 'orchestrator' ? 1 : 2)); // its own: timing-independent
    for (let i = 0; i < KILLS; i++) {
      await sleep(200 + random() * 1200);
      await running[role].kill('SIGKILL');
      await sleep(50 + random() * 200);
      running[role] = children.start(entry, { args: [JSON.stringify(config(role))] });
      await running[role].waitForLine(`the ${role} to restart`, (l) => l === 'ready', 20_000);
    }
  };

  // The clients: each order's key is used until an answer comes; some send it again afterwards.
  const plans = Array.from({ length: ORDERS }, (_, i) => ({
    key: `e2e-${i}`,
    body: {
      customer: random() < 0.1 ? `declined-${i}` : `customer-${i}`,
      sku: random() < 0.5 ? 'tea-1' : 'tea-2',
      quantity: 1 + Math.floor(random() * 3),
    },
    again: random() < 0.2,
  }));
  const idsByKey = new Map<string, Set<string>>();
  const send = async (plan: (typeof plans)[number]): Promise<HttpReply> => {
    for (let attempt = 0; attempt < 200; attempt++) {
      const r = await postOrder(url, plan.key, plan.body).catch(() => undefined);
      if (r && (r.status === 201 || r.status === 202)) return r;
      if (r && r.status !== 409 && r.status !== 503)
        throw new Error(`key ${plan.key}: unexpected ${r.status} ${JSON.stringify(r.body)}`);
      await sleep(20 + Math.random() * 40);
    }
    throw new Error(`key ${plan.key} got no answer in 200 attempts`);
  };
  let next = 0;
  const client$ = async () => {
    for (let i = next++; i < ORDERS; i = next++) {
      const plan = plans[i] as (typeof plans)[number];
      const ids = new Set<string>();
      idsByKey.set(plan.key, ids);
      ids.add(String((await send(plan)).body.id));
      if (plan.again) ids.add(String((await send(plan)).body.id));
    }
  };
  await Promise.all([killer('orchestrator'), killer('relay'), ...Array.from({ length: CLIENTS }, client$)]);

  // Every key: one order id in every answer, and one order per key.
  for (const [key, ids] of idsByKey)
    expect(ids.size, `every answer for key ${key} names the same order`).toBe(1);
  expect(await client.scard(`${prefix}orders`), `${ORDERS} keys must make exactly ${ORDERS} orders`).toBe(
    ORDERS,
  );

  // Every order final.
  const ids = [...idsByKey.values()].map((s) => [...s][0] as string);
  const views = await waitFor(
    'every order to be shipped or compensated',
    async () => {
      const all = (await Promise.all(ids.map((id) => workflow.get(id)))) as OrderView[];
      return all.every((v) => v && (v.state === 'shipped' || v.state === 'compensated')) ? all : undefined;
    },
    { timeoutMs: 45_000, intervalMs: 200 },
  ).catch(async (error: Error) => {
    const states = new Map<string, number>();
    for (const v of await Promise.all(ids.map((id) => workflow.get(id)))) {
      states.set(v?.state ?? 'missing', (states.get(v?.state ?? 'missing') ?? 0) + 1);
    }
    const due = (await client.call('ZRANGE', `${prefix}due`, '0', '-1', 'WITHSCORES')) as string[];
    throw new Error(
      `${error.message}; orders by state: ${JSON.stringify(Object.fromEntries(states))}; ` +
        `${due.length / 2} due (first: ${due.slice(0, 6).join(' ')}, now ${Date.now()})`,
    );
  });
  const shipped = views.filter((v) => v.state === 'shipped');

  // Balanced to the cent: stock, payments, shipments, reservations.
  for (const [sku, units] of Object.entries(STOCK)) {
    const sold = shipped.filter((v) => v.sku === sku).reduce((n, v) => n + v.quantity, 0);
    expect(fakes.available(sku), `${sku}: ${units} at start minus ${sold} shipped`).toBe(units - sold);
  }
  const owed = shipped.reduce((sum, v) => sum + v.quantity * UNIT_PRICE_CENTS, 0);
  expect(fakes.chargedCents(), 'payments: exactly the shipped orders are charged, to the cent').toBe(owed);
  for (const v of views) {
    const live = v.state === 'shipped';
    for (const service of [fakes.stock, fakes.payment, fakes.shipping]) {
      expect(service.entries.get(v.id)?.active ?? false, `${service.name} for ${v.state} order ${v.id}`).toBe(
        live,
      );
    }
  }

  // The outbox: every event published (at least once), applied once by a deduplicating consumer.
  await waitFor(
    'the relay to publish the whole outbox',
    async () => {
      const last = (await client.xrevrange(`${prefix}outbox`, '+', '-', 'COUNT', 1))[0]?.[0];
      return last !== undefined && (await client.get(`${prefix}relay:cursor`)) === last;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  const inbox = new Set<string>();
  const applied = new Map<string, string[]>();
  const published = await client.xrange(`${prefix}events`, '-', '+');
  for (const [, fields] of published) {
    const f = Object.fromEntries(fields.flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1]]]))) as Record<
      string,
      string
    >;
    if (inbox.has(f.eventId ?? '')) continue; // a republished entry: applied already
    inbox.add(f.eventId ?? '');
    applied.set(f.orderId ?? '', [...(applied.get(f.orderId ?? '') ?? []), f.type ?? '']);
  }
  for (const v of views) {
    const end = v.state === 'shipped' ? 'OrderCompleted' : 'OrderCompensated';
    expect(applied.get(v.id), `order ${v.id}: OrderPlaced then ${end}, each applied once`).toEqual([
      'OrderPlaced',
      end,
    ]);
  }
  console.log(
    `order-service e2e: ${shipped.length} shipped, ${ORDERS - shipped.length} compensated; ` +
      `${published.length - inbox.size} republished events absorbed by the inbox`,
  );
}, 150_000);
