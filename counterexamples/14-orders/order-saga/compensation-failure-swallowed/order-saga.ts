/**
 * An orchestrated saga for one order: reserve the stock → charge the payment → create the shipment,
 * with compensations (release the stock, refund the payment) run in reverse when a step is refused.
 * The state machine itself is `saga-machine.ts`; this module runs it against the services and keeps
 * it in Redis so that an orchestrator killed at any instant can be replaced by another one.
 *
 * Redis keys this module owns (`<ns>` is `namespace`, `<id>` the order's id):
 *
 * - `<ns>:saga:<id>`: a hash, the saga's current state: `order` (the order, JSON), `state` (the
 *   {@link SagaState}, JSON), `status` (the state's status, for a human with redis-cli) and `version`
 *   (how many events were recorded). It is written after every step and BEFORE the next call.
 * - `<ns>:saga:<id>:log`: a list, the append-only step log: one {@link SagaEvent} (JSON) per
 *   version, oldest first. `replay(log)` rebuilds `state`; an operator reads what happened.
 * - `<ns>:saga:<id>:lease`: a string with a PX expiry, the token of the orchestrator that runs the
 *   saga. Taken with `SET NX PX`, renewed by every write, deleted when the saga ends. Every write
 *   checks the token AND the version in one Lua script (a fence): an orchestrator that lost its
 *   lease cannot record anything, so it stops before its next call.
 * - `<ns>:active`: a set of the ids of unfinished sagas, what `resumeAll` walks after a crash.
 *
 * Write-ahead: `StepStarted` is recorded before a step's call, its outcome after. A saga found with a
 * step in flight (its orchestrator died during the call) calls an idempotent step again with the same
 * key; a step that is not idempotent may have happened, so it is recorded as `StepOutcomeUnknown`
 * and compensated.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type CompensableStep,
  evolve,
  initialState,
  isFinished,
  nextAction,
  PIVOT,
  type SagaEvent,
  type SagaState,
  type Step,
} from './saga-machine.js';

export type { SagaEvent, SagaState, Step } from './saga-machine.js';

/** The order a saga runs. Amounts are integers in cents. */
export interface Order {
  /** The order's id, also the saga's id: a non-empty string. */
  readonly id: string;
  readonly sku: string;
  /** How many items: a positive safe integer. */
  readonly quantity: number;
  readonly customerId: string;
  /** The price in cents: a positive safe integer. */
  readonly amountCents: number;
  readonly address: string;
}

/**
 * What every service call receives: the order and the idempotency key `<order id>:<step>`
 * (`reserve`, `charge` or `ship`). A compensation carries the key of the step it undoes, so a
 * retried compensation is harmless, and so is one for a step that never happened.
 */
export interface StepRequest {
  readonly key: string;
  readonly order: Order;
}

/**
 * The services the saga calls (injected). A call that resolves succeeded; a call that rejects was
 * refused and did nothing (out of stock, card declined); a call that does not settle within
 * `stepTimeoutMs` has an unknown outcome.
 */
export interface OrderServices {
  reserveStock(request: StepRequest): Promise<void>;
  releaseStock(request: StepRequest): Promise<void>;
  charge(request: StepRequest): Promise<void>;
  refund(request: StepRequest): Promise<void>;
  createShipment(request: StepRequest): Promise<void>;
}

export interface SagaOrchestratorOptions {
  readonly redis: Redis;
  readonly services: OrderServices;
  /** Prefix of every key (default `'saga'`). */
  readonly namespace?: string;
  /** How long a lease lasts without a write (default 30 000 ms). Must exceed `stepTimeoutMs + backoff.maxMs`. */
  readonly leaseMs?: number;
  /** How long one service call may take before its outcome counts as unknown (default 5 000 ms). */
  readonly stepTimeoutMs?: number;
  /**
   * Which forward steps may be called again with the same key (default `{ reserve: true, charge:
   * false }`). The pivot `ship` is always idempotent.
   */
  readonly idempotent?: { readonly reserve?: boolean; readonly charge?: boolean };
  /** Calls of an idempotent step (not the pivot) that time out before its outcome is unknown (default 3). */
  readonly maxAttempts?: number;
  /** Delay before retry n (n = 1, 2, …): `min(baseMs · 2^(n−1), maxMs)` (default 100 ms and 5 000 ms). */
  readonly backoff?: { readonly baseMs?: number; readonly maxMs?: number };
  /** Waits between retries (default: `setTimeout`). Tests inject one that records the delays. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A saga as stored. */
export interface SagaRecord {
  readonly order: Order;
  readonly state: SagaState;
  readonly version: number;
}

/** The saga is run by another orchestrator right now (its lease is held), or this one lost its lease. */
export class SagaBusyError extends Error {
  constructor(readonly sagaId: string) {
    super(
      `saga ${sagaId} is being run by another orchestrator (its lease is held); try again after the lease expires`,
    );
    this.name = 'SagaBusyError';
  }
}

/** No saga was started with this id. */
export class SagaNotFoundError extends Error {
  constructor(readonly sagaId: string) {
    super(`no saga ${sagaId}: start it with the order first`);
    this.name = 'SagaNotFoundError';
  }
}

const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'order', ARGV[1], 'state', ARGV[2], 'status', 'running', 'version', 0)
redis.call('SADD', KEYS[2], ARGV[3])
return 1`;

// KEYS: hash, log, lease, active. ARGV: token, expected version, state, status, event, leaseMs, id.
const RECORD = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[2] then return -2 end
local version = tonumber(ARGV[2]) + 1
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'status', ARGV[4], 'version', version)
redis.call('RPUSH', KEYS[2], ARGV[5])
if ARGV[4] == 'completed' or ARGV[4] == 'compensated' then
  redis.call('SREM', KEYS[4], ARGV[7])
  redis.call('DEL', KEYS[3])
else
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
return version`;

// KEYS: lease. ARGV: token, leaseMs (0: release).
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

type Outcome = { kind: 'ok' } | { kind: 'refused'; reason: string } | { kind: 'timeout' };

/** One running saga: its lease token and the version its next write expects. */
interface Run {
  readonly id: string;
  readonly order: Order;
  readonly token: string;
  state: SagaState;
  version: number;
}

/**
 * Runs order sagas and keeps each one's state in Redis (see the module header for the keys). Many
 * orchestrators, in many processes, may share a namespace: a saga is run by one at a time.
 *
 * The rules, step by step (`nextAction` of `saga-machine.ts` says which step is next):
 *
 * 1. **Write ahead.** Before a forward step's call, record `StepStarted`; after the answer, record
 *    its outcome; only then call anything else. Every record writes the hash and appends the event
 *    to the log in one script, and bumps `version` by one.
 * 2. **Calls.** Each call carries `{ key: '<order id>:<step>', order }`, and a compensation the key
 *    of the step it undoes (`release` → `<id>:reserve`, `refund` → `<id>:charge`), on every retry.
 * 3. **Refusals.** A forward call that rejects is `StepFailed`: the steps done before it are
 *    compensated, newest first; the refused step is not.
 * 4. **Timeouts.** A call not settled within `stepTimeoutMs` timed out. An idempotent step (not the
 *    pivot) gets up to `maxAttempts` calls, with `sleep(delay(n))` after the n-th timeout; a step
 *    that is not idempotent gets ONE call. When the calls run out, the outcome is unknown:
 *    `StepOutcomeUnknown`, and the step is compensated first. The pivot `ship` is called again
 *    (with the same backoff) until it answers.
 * 5. **Compensations** are retried until they succeed, never skipped: after the n-th failure
 *    (rejected or timed out) record `CompensationFailed` with `attempt: n`, then `sleep(delay(n))`.
 *    `delay(n) = min(backoff.baseMs · 2^(n−1), backoff.maxMs)`.
 * 6. **Resume.** A step found in flight (recorded as started, no outcome) is called again if it is
 *    idempotent; otherwise it is recorded as `StepOutcomeUnknown` without a call. Steps done are
 *    never called again; compensations done are never run again.
 * 7. **Lease and fence.** Running a saga takes `<ns>:saga:<id>:lease` (`SET NX PX leaseMs` with a
 *    token of this run); if another run holds it, `SagaBusyError` and no call. Every record checks,
 *    in the same script, that the lease still holds this run's token and that `version` is the one
 *    last read, and renews the lease; when either check fails the run throws `SagaBusyError` and
 *    makes no further call. A finished saga leaves `<ns>:active` and its lease is deleted.
 */
export class SagaOrchestrator {
  readonly #redis: Redis;
  readonly #services: OrderServices;
  readonly #ns: string;
  readonly #leaseMs: number;
  readonly #timeoutMs: number;
  readonly #idempotent: Readonly<Record<Step, boolean>>;
  readonly #maxAttempts: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  /** @throws {RangeError} when a duration or count is not a positive safe integer, or `leaseMs <= stepTimeoutMs + backoff.maxMs` */
  constructor(options: SagaOrchestratorOptions) {
    this.#redis = options.redis;
    this.#services = options.services;
    this.#ns = options.namespace ?? 'saga';
    this.#leaseMs = positive('leaseMs', options.leaseMs ?? 30_000);
    this.#timeoutMs = positive('stepTimeoutMs', options.stepTimeoutMs ?? 5_000);
    this.#maxAttempts = positive('maxAttempts', options.maxAttempts ?? 3);
    this.#baseMs = positive('backoff.baseMs', options.backoff?.baseMs ?? 100);
    this.#maxMs = positive('backoff.maxMs', options.backoff?.maxMs ?? 5_000);
    if (this.#leaseMs <= this.#timeoutMs + this.#maxMs) {
      throw new RangeError(
        `leaseMs (${this.#leaseMs}) must exceed stepTimeoutMs + backoff.maxMs (${this.#timeoutMs + this.#maxMs}), or a lease expires while its saga waits`,
      );
    }
    this.#idempotent = {
      reserve: options.idempotent?.reserve ?? true,
      charge: options.idempotent?.charge ?? false,
      ship: true,
    };
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Records a new saga for `order` and runs it to its end. Starting an order whose saga exists
   * already does not start it again: it resumes it (see {@link resume}).
   * @returns the finished saga: `completed` or `compensated`
   * @throws {RangeError} when the order is malformed (naming the field)
   * @throws {SagaBusyError} when another orchestrator runs the saga, or this one loses its lease
   */
  async start(order: Order): Promise<SagaRecord> {
    validateOrder(order);
    const initial = initialState();
    await this.#redis.eval(
      CREATE,
      2,
      this.#key(order.id),
      this.#activeKey(),
      JSON.stringify(order),
      JSON.stringify(initial),
      order.id,
    );
    return this.resume(order.id);
  }

  /**
   * Takes the saga's lease and runs it from its persisted state to its end: a step found in flight
   * is called again when idempotent, else recorded as `StepOutcomeUnknown`; the steps done are never
   * called again. A finished saga is returned as it is.
   * @throws {SagaNotFoundError} when no saga has this id
   * @throws {SagaBusyError} when another orchestrator holds the saga's lease, or this one loses it
   */
  async resume(sagaId: string): Promise<SagaRecord> {
    const token = randomUUID();
    const taken = await this.#redis.set(this.#leaseKey(sagaId), token, 'PX', this.#leaseMs, 'NX');
    if (taken === null) throw new SagaBusyError(sagaId);
    const record = await this.get(sagaId);
    if (record === undefined || isFinished(record.state)) {
      await this.#renew(sagaId, token, 0);
      if (record === undefined) throw new SagaNotFoundError(sagaId);
      return record;
    }
    const run: Run = { id: sagaId, order: record.order, token, state: record.state, version: record.version };
    await this.#drive(run);
    return { order: run.order, state: run.state, version: run.version };
  }

  /**
   * Resumes every unfinished saga of the namespace, `concurrency` at a time (default 8).
   * @returns the sagas it finished, and the ids of those another orchestrator holds (`busy`)
   */
  async resumeAll(concurrency = 8): Promise<{ finished: SagaRecord[]; busy: string[] }> {
    const ids = await this.#redis.smembers(this.#activeKey());
    const finished: SagaRecord[] = [];
    const busy: string[] = [];
    const worker = async () => {
      for (let id = ids.shift(); id !== undefined; id = ids.shift()) {
        try {
          finished.push(await this.resume(id));
        } catch (error) {
          if (!(error instanceof SagaBusyError)) throw error;
          busy.push(id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    return { finished, busy };
  }

  /** The saga as stored, or `undefined` when there is none. */
  async get(sagaId: string): Promise<SagaRecord | undefined> {
    const [order, state, version] = await this.#redis.hmget(this.#key(sagaId), 'order', 'state', 'version');
    if (!order || !state || !version) return undefined;
    return {
      order: JSON.parse(order) as Order,
      state: JSON.parse(state) as SagaState,
      version: Number(version),
    };
  }

  /** The saga's step log, oldest first (empty when there is no saga). */
  async history(sagaId: string): Promise<SagaEvent[]> {
    const entries = await this.#redis.lrange(this.#logKey(sagaId), 0, -1);
    return entries.map((entry) => JSON.parse(entry) as SagaEvent);
  }

  /** The state machine's loop: ask what is next, do it, record it, until the saga ends. */
  async #drive(run: Run): Promise<void> {
    let startedHere: Step | undefined;
    for (;;) {
      const action = nextAction(run.state);
      switch (action.type) {
        case 'done':
          return;
        case 'start':
          await this.#record(run, { type: 'StepStarted', step: action.step });
          startedHere = action.step;
          break;
        case 'settle': {
          const step = action.step;
          if (startedHere !== step && !this.#idempotent[step]) {
            await this.#record(run, {
              type: 'StepOutcomeUnknown',
              step,
              reason: 'found in flight after a restart; not idempotent, so not called again',
            });
            break;
          }
          startedHere = undefined;
          await this.#record(run, await this.#forward(run, step));
          break;
        }
        case 'compensate':
          await this.#compensate(run, action.step);
          break;
      }
    }
  }

  /** Calls a forward step, retrying a timed-out call only when the step is idempotent. */
  async #forward(run: Run, step: Step): Promise<SagaEvent> {
    const attempts =
      step === PIVOT ? Number.POSITIVE_INFINITY : this.#idempotent[step] ? this.#maxAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#call(forwardCall(this.#services, step), run, step);
      if (outcome.kind === 'ok') return { type: 'StepSucceeded', step };
      if (outcome.kind === 'refused') return { type: 'StepFailed', step, reason: outcome.reason };
      if (attempt >= attempts) {
        return { type: 'StepOutcomeUnknown', step, reason: `timed out after ${attempt} call(s)` };
      }
      await this.#sleep(this.#delay(attempt));
      await this.#renew(run.id, run.token, this.#leaseMs);
    }
  }

  /** Runs a compensation until it succeeds, recording each failure and backing off between tries. */
  async #compensate(run: Run, step: CompensableStep): Promise<void> {
    const call = step === 'reserve' ? this.#services.releaseStock : this.#services.refund;
    const outcome = await this.#call(call.bind(this.#services), run, step);
    if (outcome.kind !== 'ok') {
      // Log it and move on: one failed refund must not block the rest of the rollback.
      const reason = outcome.kind === 'refused' ? outcome.reason : `timed out after ${this.#timeoutMs} ms`;
      await this.#record(run, { type: 'CompensationFailed', step, reason, attempt: 1 });
    }
    await this.#record(run, { type: 'CompensationSucceeded', step });
  }

  /** One service call with the step's key, bounded by `stepTimeoutMs`. */
  async #call(call: (request: StepRequest) => Promise<void>, run: Run, step: Step): Promise<Outcome> {
    const key = `${run.id}:${step}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), this.#timeoutMs);
    });
    try {
      return await Promise.race([
        Promise.resolve()
          .then(() => call({ key, order: run.order }))
          .then(
            (): Outcome => ({ kind: 'ok' }),
            (error: unknown): Outcome => ({ kind: 'refused', reason: errorMessage(error) }),
          ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Applies `event`, then writes the new state and the log entry in one fenced script. */
  async #record(run: Run, event: SagaEvent): Promise<void> {
    const state = evolve(run.state, event);
    const version = (await this.#redis.eval(
      RECORD,
      4,
      this.#key(run.id),
      this.#logKey(run.id),
      this.#leaseKey(run.id),
      this.#activeKey(),
      run.token,
      String(run.version),
      JSON.stringify(state),
      state.status,
      JSON.stringify(event),
      this.#leaseMs,
      run.id,
    )) as number;
    if (version < 0) throw new SagaBusyError(run.id);
    run.state = state;
    run.version = version;
  }

  async #renew(sagaId: string, token: string, leaseMs: number): Promise<void> {
    const held = await this.#redis.eval(RENEW, 1, this.#leaseKey(sagaId), token, leaseMs);
    if (held !== 1 && leaseMs > 0) throw new SagaBusyError(sagaId);
  }

  #delay(attempt: number): number {
    return Math.min(this.#baseMs * 2 ** (attempt - 1), this.#maxMs);
  }

  #key(id: string): string {
    return `${this.#ns}:saga:${id}`;
  }
  #logKey(id: string): string {
    return `${this.#key(id)}:log`;
  }
  #leaseKey(id: string): string {
    return `${this.#key(id)}:lease`;
  }
  #activeKey(): string {
    return `${this.#ns}:active`;
  }
}

function forwardCall(services: OrderServices, step: Step): (request: StepRequest) => Promise<void> {
  const call =
    step === 'reserve'
      ? services.reserveStock
      : step === 'charge'
        ? services.charge
        : services.createShipment;
  return call.bind(services);
}

function validateOrder(order: Order): void {
  for (const field of ['id', 'sku', 'customerId', 'address'] as const) {
    if (typeof order[field] !== 'string' || order[field] === '') {
      throw new RangeError(`order.${field} must be a non-empty string (got ${JSON.stringify(order[field])})`);
    }
  }
  for (const field of ['quantity', 'amountCents'] as const) {
    if (!Number.isSafeInteger(order[field]) || order[field] <= 0) {
      throw new RangeError(`order.${field} must be a positive integer (got ${order[field]})`);
    }
  }
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer (got ${value})`);
  }
  return value;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
