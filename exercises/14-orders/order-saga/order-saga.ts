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
import type { Redis } from 'ioredis';
import type { SagaEvent, SagaState } from './saga-machine.js';

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
  /** @throws {RangeError} when a duration or count is not a positive safe integer, or `leaseMs <= stepTimeoutMs + backoff.maxMs` */
  constructor(options: SagaOrchestratorOptions) {
    void options;
    throw new Error('not implemented: SagaOrchestrator constructor');
  }

  /**
   * Records a new saga for `order` and runs it to its end. Starting an order whose saga exists
   * already does not start it again: it resumes it (see {@link resume}). The order is checked
   * before anything is stored or called.
   * @returns the finished saga: `completed` or `compensated`
   * @throws {RangeError} when the order is malformed (naming the field)
   * @throws {SagaBusyError} when another orchestrator runs the saga, or this one loses its lease
   */
  async start(order: Order): Promise<SagaRecord> {
    throw new Error(`not implemented: SagaOrchestrator.start (${order.id})`);
  }

  /**
   * Takes the saga's lease and runs it from its persisted state to its end: a step found in flight
   * is called again when idempotent, else recorded as `StepOutcomeUnknown`; the steps done are never
   * called again. A finished saga is returned as it is.
   * @throws {SagaNotFoundError} when no saga has this id
   * @throws {SagaBusyError} when another orchestrator holds the saga's lease, or this one loses it
   */
  async resume(sagaId: string): Promise<SagaRecord> {
    throw new Error(`not implemented: SagaOrchestrator.resume (${sagaId})`);
  }

  /**
   * Resumes every unfinished saga of the namespace, `concurrency` at a time (default 8).
   * @returns the sagas it finished, and the ids of those another orchestrator holds (`busy`)
   */
  async resumeAll(concurrency = 8): Promise<{ finished: SagaRecord[]; busy: string[] }> {
    throw new Error(`not implemented: SagaOrchestrator.resumeAll (${concurrency})`);
  }

  /** The saga as stored, or `undefined` when there is none. */
  async get(sagaId: string): Promise<SagaRecord | undefined> {
    throw new Error(`not implemented: SagaOrchestrator.get (${sagaId})`);
  }

  /** The saga's step log, oldest first (empty when there is no saga). */
  async history(sagaId: string): Promise<SagaEvent[]> {
    throw new Error(`not implemented: SagaOrchestrator.history (${sagaId})`);
  }
}
