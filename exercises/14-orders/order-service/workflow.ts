/**
 * The order workflow behind the HTTP API (PROVIDED: read it, do not edit it; `service.ts` imports
 * its types and the suite runs it). An orchestrated saga over three services reached by HTTP
 * (stock, payment, shipping), its state persisted in Redis after every step, and a transactional
 * outbox drained by a relay. It runs in this process (tests, serve, bench) or as two child
 * processes that the end-to-end test kills with SIGKILL (`processes.ts`).
 *
 * Redis keys this module owns (`<p>` is `prefix`):
 *
 * - `<p>order:<id>`: a hash per order, the saga's persisted state: `customer`, `sku`, `quantity`,
 *   `amountCents`, `state`, `reason` (why it failed, in words), `undo` (the compensations still to
 *   run, comma-separated, first to run first) and `version` (bumped by every transition: a step's
 *   result is written only if nobody wrote since the step read the hash).
 * - `<p>orders`: the set of every order id ever started (to count them).
 * - `<p>due`: a sorted set of the orders whose saga is not finished, scored by when an orchestrator
 *   should next look at them (ms). Claiming an order pushes its score `leaseMs` ahead: if the
 *   orchestrator dies mid-step, the order is due again once the lease runs out, and another
 *   orchestrator (or the same one restarted) resumes it from its persisted state.
 * - `<p>outbox`: the outbox stream. An event is appended **in the same Lua script** as the state
 *   change it reports (`OrderPlaced` when the order is created; `OrderCompleted` or
 *   `OrderCompensated` when the saga ends), so there is never a state without its event or an event
 *   without its state (the dual write, avoided).
 * - `<p>relay:cursor`: the id of the last outbox entry the relay published.
 * - `<p>events`: the "broker" the relay publishes to (a stream standing in for Kafka or a queue of
 *   another system). Publishing and moving the cursor are two steps, as they are with a real broker:
 *   a relay killed between them publishes the entry again, and consumers deduplicate by `eventId`.
 *
 * The saga, one step per claim (`state` → call → next `state`):
 *
 * ```
 * pending  ──PUT stock/reservations/<id>──▶ reserved ──PUT payment/charges/<id>──▶ paid
 * paid     ──PUT shipping/shipments/<id>──▶ shipped (done: OrderCompleted)
 * any step fails ──▶ compensating, undo = the steps to take back, newest first
 * compensating ──DELETE <undo[0]>/<id>, until undo is empty──▶ compensated (done: OrderCompensated)
 * ```
 *
 * Every call is idempotent by the order id (a PUT of the same id twice has one effect; a DELETE of
 * an id the service never saw leaves a tombstone that refuses a late PUT), so retrying is safe. A
 * forward step has `stepTimeoutMs` per attempt and `stepAttempts` attempts; a 4xx answer is the
 * service's decision (out of stock, payment declined) and is not retried. A step whose outcome is
 * unknown (every attempt timed out or failed) may have happened, so its own compensation runs too.
 * Compensations are retried until they succeed: nobody waits for them, so they get a longer deadline.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** What a customer orders: validated by the HTTP API before it gets here. */
export interface OrderRequest {
  readonly customer: string;
  readonly sku: string;
  readonly quantity: number;
}

/** Where the saga is. `shipped` and `compensated` are final. */
export type OrderState = 'pending' | 'reserved' | 'paid' | 'shipped' | 'compensating' | 'compensated';

/** An order as `GET /orders/:id` shows it. */
export interface OrderView extends OrderRequest {
  readonly id: string;
  readonly state: OrderState;
  /** Every order costs `quantity × UNIT_PRICE_CENTS`. */
  readonly amountCents: number;
  /** Why the order failed, in words (`'payment declined'`, `'shipping timed out after 3 attempts of 250 ms'`); absent otherwise. */
  readonly reason?: string;
}

/** The port the HTTP API uses: start an order, read it, wait for it. */
export interface OrderWorkflow {
  /**
   * Creates the order `orderId` in state `pending` with its `OrderPlaced` outbox event, in one
   * step, and makes it due for an orchestrator. Idempotent: when `orderId` exists already, does
   * nothing. Rejects when Redis cannot be reached (then the order may or may not exist).
   */
  start(orderId: string, order: OrderRequest): Promise<void>;
  /** The order as persisted now (never a cached copy), or `undefined` when there is none. */
  get(orderId: string): Promise<OrderView | undefined>;
  /**
   * The order once it is final (`shipped` or `compensated`), or as it is when `timeoutMs` (real
   * time) has passed, whichever comes first. Rejects when the order does not exist.
   */
  settled(orderId: string, timeoutMs: number): Promise<OrderView>;
}

export const UNIT_PRICE_CENTS = 1250;
export const isFinal = (state: OrderState): state is 'shipped' | 'compensated' =>
  state === 'shipped' || state === 'compensated';

/** Base URLs of the three services, e.g. `http://127.0.0.1:41234`. */
export interface ServiceUrls {
  readonly stock: string;
  readonly payment: string;
  readonly shipping: string;
}
type Service = keyof ServiceUrls;

/** A call's answer: the HTTP status and the JSON body (or `{}`). */
export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * How the orchestrator reaches a service: over HTTP ({@link httpTransport}), or by a direct
 * function call (the bench's monolith). Rejects on a network error; must honour `signal`.
 */
export type Transport = (
  service: Service,
  method: 'PUT' | 'DELETE',
  path: string,
  body: unknown,
  signal: AbortSignal,
) => Promise<Answer>;

export function httpTransport(urls: ServiceUrls): Transport {
  return async (service, method, path, body, signal) => {
    const response = await fetch(`${urls[service]}${path}`, {
      method,
      signal,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
}

export interface OrchestratorOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly transport: Transport;
  /** Per attempt of a forward step (ms). Default 250. */
  readonly stepTimeoutMs?: number;
  /** Attempts of a forward step. Default 3. */
  readonly stepAttempts?: number;
  /** Per attempt of a compensation (ms). Default 2000. */
  readonly compensationTimeoutMs?: number;
  /** How long a claimed order belongs to its orchestrator (ms). Default 3000. */
  readonly leaseMs?: number;
  /** Orders worked on at once. Default 16. */
  readonly concurrency?: number;
}

// Creates the order if it does not exist: hash, set, due, outbox event, all or nothing.
const START = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'customer', ARGV[2], 'sku', ARGV[3], 'quantity', ARGV[4],
  'amountCents', ARGV[5], 'state', 'pending', 'undo', '', 'reason', '', 'version', 0)
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
redis.call('XADD', KEYS[4], '*', 'eventId', ARGV[7], 'type', 'OrderPlaced', 'orderId', ARGV[1])
return 1`;

// Moves the saga on if nobody else did since `version` was read; an event when ARGV[7] is set.
const TRANSITION = `
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'undo', ARGV[4], 'reason', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'version', 1)
if ARGV[6] == '' then redis.call('ZREM', KEYS[2], ARGV[1]) else redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1]) end
if ARGV[7] ~= '' then
  redis.call('XADD', KEYS[3], '*', 'eventId', ARGV[8], 'type', ARGV[7], 'orderId', ARGV[1])
end
return 1`;

// Takes up to ARGV[2] due orders and leases them until ARGV[3].
const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return ids`;

const keys = (prefix: string) => ({
  order: (id: string) => `${prefix}order:${id}`,
  orders: `${prefix}orders`,
  due: `${prefix}due`,
  outbox: `${prefix}outbox`,
  cursor: `${prefix}relay:cursor`,
  events: `${prefix}events`,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function toView(id: string, hash: Record<string, string>): OrderView | undefined {
  if (hash.state === undefined) return undefined;
  return {
    id,
    state: hash.state as OrderState,
    customer: hash.customer ?? '',
    sku: hash.sku ?? '',
    quantity: Number(hash.quantity),
    amountCents: Number(hash.amountCents),
    ...(hash.reason ? { reason: hash.reason } : {}),
  };
}

/** The port over Redis: what the HTTP API needs, nothing that runs sagas. */
export function createWorkflow(redis: Redis, prefix: string): OrderWorkflow {
  const k = keys(prefix);
  const get = async (id: string) => toView(id, await redis.hgetall(k.order(id)));
  return {
    async start(id, order) {
      const amount = order.quantity * UNIT_PRICE_CENTS;
      const argv = [id, order.customer, order.sku, order.quantity, amount, Date.now(), randomUUID()];
      await redis.eval(START, 4, k.order(id), k.orders, k.due, k.outbox, ...argv);
    },
    get,
    async settled(id, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const view = await get(id);
        if (!view) throw new Error(`order ${id} does not exist`);
        if (isFinal(view.state) || Date.now() >= deadline) return view;
        await sleep(Math.min(10, Math.max(1, deadline - Date.now())));
      }
    },
  };
}

/** What one forward step calls, and what takes it back. */
const STEPS: Record<'pending' | 'reserved' | 'paid', { service: Service; next: OrderState }> = {
  pending: { service: 'stock', next: 'reserved' },
  reserved: { service: 'payment', next: 'paid' },
  paid: { service: 'shipping', next: 'shipped' },
};
const SERVICES: readonly Service[] = ['stock', 'payment', 'shipping'];
const PATHS: Record<Service, string> = { stock: 'reservations', payment: 'charges', shipping: 'shipments' };

/** Runs sagas until closed: claims due orders and moves each one step on. */
export function runOrchestrator(options: OrchestratorOptions): { close(): Promise<void> } {
  const { redis, prefix, transport } = options;
  const stepTimeoutMs = options.stepTimeoutMs ?? 250;
  const stepAttempts = options.stepAttempts ?? 3;
  const compensationTimeoutMs = options.compensationTimeoutMs ?? 2000;
  const leaseMs = options.leaseMs ?? 3000;
  const concurrency = options.concurrency ?? 16;
  const k = keys(prefix);
  const running = new Set<Promise<void>>();
  let stopped = false;

  /** Writes the step's outcome, unless the order changed since `hash` was read; what is not given stays. */
  const transition = async (
    id: string,
    hash: Record<string, string>,
    to: { state?: OrderState; undo?: string; reason?: string; dueAt?: number },
  ) => {
    const state = to.state ?? (hash.state as OrderState);
    const event = state === 'shipped' ? 'OrderCompleted' : state === 'compensated' ? 'OrderCompensated' : '';
    const due = isFinal(state) ? '' : String(to.dueAt ?? Date.now());
    const argv = [id, hash.version ?? '', state, to.undo ?? hash.undo ?? '', to.reason ?? hash.reason ?? ''];
    await redis.eval(TRANSITION, 3, k.order(id), k.due, k.outbox, ...argv, due, event, randomUUID());
  };

  /** One forward call with a deadline per attempt and retries (safe: the call is idempotent). */
  const forward = async (service: Service, id: string, body: unknown) => {
    let last = '';
    for (let attempt = 1; attempt <= stepAttempts; attempt++) {
      try {
        const answer = await transport(
          service,
          'PUT',
          `/${PATHS[service]}/${id}`,
          body,
          AbortSignal.timeout(stepTimeoutMs),
        );
        if (answer.status < 500) return { answer };
        last = `status ${answer.status}`;
      } catch (error) {
        last = (error as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable';
      }
      if (attempt < stepAttempts) await sleep(25 * 2 ** (attempt - 1));
    }
    const how =
      last === 'timed out'
        ? `timed out after ${stepAttempts} attempts of ${stepTimeoutMs} ms`
        : `${last} after ${stepAttempts} attempts`;
    return { failure: `${service} ${how}` };
  };

  const advance = async (id: string) => {
    const hash = await redis.hgetall(k.order(id));
    const state = hash.state as OrderState | undefined;
    if (state === undefined || isFinal(state)) return void (await redis.zrem(k.due, id));
    if (state === 'compensating') {
      const [next, ...rest] = (hash.undo ?? '').split(',').filter(Boolean) as Service[];
      if (next === undefined) return transition(id, hash, { state: 'compensated' });
      try {
        const signal = AbortSignal.timeout(compensationTimeoutMs);
        const answer = await transport(next, 'DELETE', `/${PATHS[next]}/${id}`, undefined, signal);
        if (answer.status < 300 || answer.status === 404)
          return transition(id, hash, { undo: rest.join(',') });
      } catch {}
      return transition(id, hash, { dueAt: Date.now() + 200 }); // try again later
    }
    const step = STEPS[state];
    const before = SERVICES.slice(0, SERVICES.indexOf(step.service)); // the steps done already
    const amountCents = Number(hash.amountCents);
    const body = { customer: hash.customer, sku: hash.sku, quantity: Number(hash.quantity), amountCents };
    const result = await forward(step.service, id, body);
    if (result.answer && result.answer.status < 300) return transition(id, hash, { state: step.next });
    // Refused (4xx): the step did not happen. Unknown: it may have, so it is taken back too.
    const undo = result.answer ? before : [...before, step.service];
    const reason = result.answer
      ? String(result.answer.body.error ?? `${step.service} refused`)
      : result.failure;
    return transition(id, hash, { state: 'compensating', undo: undo.reverse().join(','), reason });
  };

  const loop = async () => {
    while (!stopped) {
      const free = concurrency - running.size;
      let ids: string[] = [];
      try {
        if (free > 0)
          ids = (await redis.eval(CLAIM, 1, k.due, Date.now(), free, Date.now() + leaseMs)) as string[];
      } catch {
        await sleep(50); // Redis away: try again
      }
      for (const id of ids) {
        const work: Promise<void> = advance(id)
          .catch(() => {}) // the lease runs out and the order is tried again
          .finally(() => running.delete(work));
        running.add(work);
      }
      if (ids.length === 0) await Promise.race([sleep(10), ...running]);
    }
  };
  const looping = loop();
  return {
    async close() {
      stopped = true;
      await looping;
      await Promise.all(running);
    },
  };
}

/**
 * Publishes the outbox to `<p>events`, in order, until closed: reads the entries after the cursor,
 * publishes each (with its `eventId`), then moves the cursor. At least once: see the header.
 */
export function runRelay(
  redis: Redis,
  prefix: string,
  { batch = 50, pollMs = 10 } = {},
): { close(): Promise<void> } {
  const k = keys(prefix);
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        const cursor = (await redis.get(k.cursor)) ?? '0-0';
        const entries = await redis.xrange(k.outbox, `(${cursor}`, '+', 'COUNT', batch);
        for (const [, fields] of entries) await redis.xadd(k.events, '*', ...fields);
        const last = entries.at(-1);
        if (last) await redis.set(k.cursor, last[0]);
        else await sleep(pollMs);
      } catch {
        await sleep(50);
      }
    }
  };
  const looping = loop();
  return {
    async close() {
      stopped = true;
      await looping;
    },
  };
}
