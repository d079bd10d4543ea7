/**
 * Kill, not close: the orchestrator runs in a child process (YOUR order-saga.ts, started by the
 * suite) and dies by SIGKILL. First at each instant of each service call (before the work, after
 * the work but before the answer, just after the answer), then resumed here; then 200 sagas with
 * seeded failures, run by one or two processes at a time that are killed at seeded moments and
 * restarted until every saga is finished. The fakes keep their books in Redis, so what a dead
 * process did is still there: every order must end completed or fully compensated, to the cent.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  implementationFile,
  type TsChild,
  useChildProcesses,
  useRedis,
  waitFor,
} from '../../../src/testing/index.js';
import { seededRandom } from '../../../src/testing/sim/prng.js';
import { FakeServices, INITIAL_STOCK, order, type ServiceName, SKUS, seededOrders } from './harness.js';
import { type Order, SagaBusyError, SagaOrchestrator, type SagaRecord } from './order-saga.js';
import { replay } from './saga-machine.js';
import type { ProcessConfig } from './saga-process.js';

const redis = useRedis();
const children = useChildProcesses();
const entry = fileURLToPath(new URL('./saga-process.ts', import.meta.url));
const LEASE_MS = 600;
const SLOW = 30_000; // child processes start slowly on a loaded machine
let counter = 0;

function namespace() {
  counter += 1;
  return { ns: `k${counter}-${process.pid}`, prefix: `k${counter}-${process.pid}-svc` };
}

function startProcess(config: Omit<ProcessConfig, 'implementation' | 'redisUrl'>): TsChild {
  const full: ProcessConfig = {
    implementation: implementationFile(import.meta.url, 'order-saga.ts'),
    redisUrl: redis.url,
    ...config,
  };
  return children.start(entry, { args: [JSON.stringify(full)] });
}

/** Resumes a saga here once the dead process's lease has expired. */
async function resumeHere(orchestrator: SagaOrchestrator, id: string): Promise<SagaRecord> {
  return waitFor(
    `saga ${id} to be resumed once the killed process's lease expires`,
    async () => {
      try {
        return await orchestrator.resume(id);
      } catch (error) {
        if (error instanceof SagaBusyError) return undefined;
        throw error;
      }
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
}

/** Checks that the books of `o` match how its saga ended. */
async function expectBalanced(fakes: FakeServices, o: Order, saga: SagaRecord | undefined, what: string) {
  const status = saga?.state.status;
  expect(['completed', 'compensated'], `${what}: the saga must end completed or compensated`).toContain(
    status,
  );
  const books = await fakes.books(o.id);
  if (status === 'completed') {
    expect(books, `${what}: a completed order holds its stock, is paid once, and shipped once`).toEqual({
      held: o.quantity,
      paid: o.amountCents,
      shipped: 1,
    });
  } else {
    expect(books, `${what}: a compensated order holds nothing, owes nothing, ships nothing`).toEqual({
      held: 0,
      paid: 0,
      shipped: 0,
    });
  }
}

type Instant = 'before' | 'after' | 'answered';

async function killAt(service: ServiceName, instant: Instant, refuse?: ServiceName) {
  const { ns, prefix } = namespace();
  const admin = redis.client();
  const fakes = new FakeServices(admin, {
    prefix,
    faults: (c) => (c.service === refuse ? 'refuse' : undefined),
  });
  await fakes.setStock('mug', 100);
  const o = order(`order-${counter}`);
  const child = startProcess({
    namespace: ns,
    prefix,
    leaseMs: LEASE_MS,
    stepTimeoutMs: 300,
    backoffMs: 20,
    orders: [o],
    refuse,
    killAt: { service, instant },
    concurrency: 1,
  });
  const what = `killed ${instant} ${service}`;
  expect((await child.exited).signal, `${what}: the process was to kill itself there (${child.stderr})`).toBe(
    'SIGKILL',
  );
  const heir = new SagaOrchestrator({
    redis: admin,
    services: fakes,
    namespace: ns,
    leaseMs: 5_000,
    stepTimeoutMs: 1_000,
    backoff: { baseMs: 20, maxMs: 100 },
  });
  const saga = await resumeHere(heir, o.id);
  await expectBalanced(fakes, o, saga, what);
  expect(saga.state, `${what}: the log replays to the state`).toEqual(replay(await heir.history(o.id)));
  expect(await fakes.stock('mug')).toBe(saga.state.status === 'completed' ? 98 : 100);
  return { saga, calls: await fakes.calls(), what };
}

const INSTANTS: Instant[] = ['before', 'after', 'answered'];

describe('OrderSaga: the orchestrator killed with SIGKILL at each instant of each call', () => {
  it(
    'during reserve (idempotent): the resumed saga calls it again and completes',
    async () => {
      for (const { saga, what } of await Promise.all(INSTANTS.map((i) => killAt('reserveStock', i)))) {
        expect(saga.state.status, what).toBe('completed');
      }
    },
    SLOW,
  );

  it(
    'during charge (not idempotent): never charged twice; in flight when killed means refunded',
    async () => {
      for (const { saga, calls, what } of await Promise.all(INSTANTS.map((i) => killAt('charge', i)))) {
        const charges = calls.filter((c) => c.service === 'charge').length;
        expect(charges, `${what}: charge is never called again after the kill`).toBeLessThanOrEqual(1);
        if (!what.includes('answered')) expect(saga.state.status, what).toBe('compensated');
      }
    },
    SLOW,
  );

  it(
    'during ship (the pivot): the resumed saga ships once and completes',
    async () => {
      for (const { saga, what } of await Promise.all(INSTANTS.map((i) => killAt('createShipment', i)))) {
        expect(saga.state.status, what).toBe('completed');
      }
    },
    SLOW,
  );

  it.each([
    ['refund', 'refund'],
    ['release', 'releaseStock'],
  ] as const)(
    'during the %s (ship refused): the saga ends fully compensated, each compensation once',
    async (_name, service) => {
      for (const { saga, what } of await Promise.all(
        INSTANTS.map((i) => killAt(service, i, 'createShipment')),
      )) {
        expect(saga.state.status, what).toBe('compensated');
        expect(saga.state.compensated, `${what}: each compensation once, in reverse`).toEqual([
          'charge',
          'reserve',
        ]);
      }
    },
    SLOW,
  );
});

describe('OrderSaga: 200 sagas, seeded failures, seeded SIGKILLs', () => {
  it('every order ends completed or fully compensated; stock and payments balance to the cent', async () => {
    const seed = 1987;
    const count = 200;
    const { ns, prefix } = namespace();
    const admin = redis.client();
    const fakes = new FakeServices(admin, { prefix });
    for (const sku of SKUS) await fakes.setStock(sku, INITIAL_STOCK);
    const config = {
      namespace: ns,
      prefix,
      leaseMs: LEASE_MS,
      stepTimeoutMs: 150,
      backoffMs: 10,
      orders: { seed, count },
      faultSeed: seed,
      concurrency: 8,
    };
    const random = seededRandom(seed);
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const processes = Array.from({ length: round % 2 === 0 ? 1 : 2 }, () => startProcess(config));
      await Promise.all(
        processes.map((p) =>
          p.waitForLine('the orchestrator process to start', (l) => l.includes('"ready"'), 20_000),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(random() * 300)));
      for (const p of processes) if ((await p.kill('SIGKILL')).signal === 'SIGKILL') kills += 1;
    }
    const last = [startProcess(config), startProcess(config)];
    for (const p of last) {
      const exit = await p.exited;
      expect(exit.code, `the last processes finish every saga and exit with 0 (${p.stderr})`).toBe(0);
      expect(p.lines.at(-1)).toContain('"done"');
    }
    expect(kills, 'the processes were killed mid-run').toBeGreaterThan(0);

    const reader = new SagaOrchestrator({ redis: admin, services: fakes, namespace: ns });
    const orders = seededOrders(seed, count);
    const statuses = { completed: 0, compensated: 0 };
    let revenue = 0;
    const sold = new Map<string, number>();
    for (const o of orders) {
      const saga = await reader.get(o.id);
      await expectBalanced(fakes, o, saga, `order ${o.id}`);
      const state = saga?.state;
      if (state === undefined) continue;
      expect(state, `order ${o.id}: the log replays to the state`).toEqual(
        replay(await reader.history(o.id)),
      );
      statuses[state.status as keyof typeof statuses] += 1;
      if (state.status === 'completed') {
        revenue += o.amountCents;
        sold.set(o.sku, (sold.get(o.sku) ?? 0) + o.quantity);
      }
    }
    expect(statuses.completed + statuses.compensated).toBe(count);
    expect(statuses.completed, 'some orders complete').toBeGreaterThan(0);
    expect(statuses.compensated, 'some orders are compensated').toBeGreaterThan(0);
    for (const sku of SKUS) {
      expect(await fakes.stock(sku), `stock of ${sku}: initial minus what completed orders hold`).toBe(
        INITIAL_STOCK - (sold.get(sku) ?? 0),
      );
    }
    let paid = 0;
    for (const o of orders) paid += (await fakes.books(o.id)).paid;
    expect(paid, 'payments: exactly the completed orders’ amounts, in cents').toBe(revenue);
    expect(await admin.smembers(`${ns}:active`), 'no saga is left active').toEqual([]);
  }, 90_000);
});
