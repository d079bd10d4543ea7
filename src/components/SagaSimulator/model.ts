/**
 * The saga simulator's model: one order's orchestrated saga (Garcia-Molina and Salem, "Sagas", SIGMOD
 * 1987), reserve stock → charge payment → create shipment, with release stock and refund as the
 * compensations, as a seeded simulation over discrete steps, in the browser.
 *
 * The saga's state machine is NOT written here: it is the `order-saga` exercise's reference solution,
 * `solutions/14-orders/order-saga/saga-machine.ts` (pure: `initialState`, `nextAction`, `evolve`).
 * The model plays what `order-saga.ts` does around it, with the wire, the clock and Redis simulated:
 *
 * - The **saga record** is what the orchestrator persists: the machine's `SagaState`, a version, and
 *   the append-only step log of `SagaEvent`s. `StepStarted` is recorded BEFORE a step's call, its
 *   outcome after, so an orchestrator killed mid-call leaves a record that says "this call may or may
 *   not have happened".
 * - The **orchestrator** asks `nextAction(state)` what to do, does it, records the event with
 *   `evolve`. It can be killed at any step; a new one reads the record and carries on: a step found in
 *   flight is called again (same idempotency key) when the step is idempotent, else recorded as
 *   `StepOutcomeUnknown` and compensated. A timed-out call is retried (after a backoff) only for an
 *   idempotent step, at most {@link MAX_ATTEMPTS} calls; the pivot (shipment) is retried until it
 *   answers; a compensation is retried until it succeeds, each failure recorded.
 * - The **services** (stock, payment, shipping) receive the key `<order id>:<step>`; a compensation
 *   carries the key of the step it undoes. Reserve, ship and both compensations are idempotent by
 *   their key (a call whose key was seen returns the first result and changes nothing); a compensation
 *   for a step that never happened does nothing. Charges are idempotent only when the reader says so
 *   (as the reference orchestrator's `idempotent.charge`, default false).
 *
 * A world is an immutable value; {@link advance} returns the next one. Time is simulated milliseconds
 * driven by a queue of events (the wire's delays, the timeouts, the backoffs); the seed draws the
 * order (id, units, price) and the wire's delays. No wall clock, no `Math.random`.
 */

import {
  type CompensableStep,
  evolve,
  initialState,
  nextAction,
  PIVOT,
  type SagaEvent,
  type SagaState,
  STEPS,
  type Step,
} from '../../../solutions/14-orders/order-saga/saga-machine';
import { Prng } from '../../testing/sim/prng';

export { type CompensableStep, type SagaEvent, type SagaState, STEPS, type Step };

/** A compensation, by the service call it makes. */
export type Compensation = 'release' | 'refund';
/** Anything the orchestrator asks a service to do. */
export type Action = Step | Compensation;
/** The services, one lane each. */
export const SERVICES = ['stock', 'payment', 'shipping'] as const;
export type Service = (typeof SERVICES)[number];

/** The call that compensates each compensable step. */
export const COMPENSATION_OF: Readonly<Record<CompensableStep, Compensation>> = {
  reserve: 'release',
  charge: 'refund',
};
/** The step a compensation undoes (its idempotency key is that step's). */
export const UNDOES: Readonly<Record<Compensation, CompensableStep>> = {
  release: 'reserve',
  refund: 'charge',
};
/** Which service does what. */
export const SERVICE_OF: Readonly<Record<Action, Service>> = {
  reserve: 'stock',
  release: 'stock',
  charge: 'payment',
  refund: 'payment',
  ship: 'shipping',
};
/** An action in words, as the log writes it. */
export const ACTION_WORDS: Readonly<Record<Action, string>> = {
  reserve: 'reserve stock',
  charge: 'charge payment',
  ship: 'create shipment',
  release: 'release stock',
  refund: 'refund',
};
/** How each step fails when the reader picks it: the log's words, the service's reason, the customer's words. */
const FAILURE: Readonly<Record<Step, { said: string; reason: string; customer: string }>> = {
  reserve: { said: 'stock reservation failed', reason: 'out of stock', customer: 'Out of stock' },
  charge: { said: 'payment failed', reason: 'card declined', customer: 'Payment declined' },
  ship: { said: 'shipment failed', reason: 'the carrier refused the address', customer: 'Shipping failed' },
};
/** What the customer is told when a step's outcome is unknown and the saga turns back. */
const UNKNOWN_CUSTOMER: Readonly<Record<Step, string>> = {
  reserve: 'Stock not confirmed',
  charge: 'Payment not confirmed',
  ship: 'Shipping not confirmed',
};

/** The step the reader makes fail, by its service: none, stock, payment or shipment. */
export type FailAt = 'none' | 'stock' | 'payment' | 'shipment';
export const FAIL_AT: readonly FailAt[] = ['none', 'stock', 'payment', 'shipment'];
export const FAIL_AT_STEP: Readonly<Record<FailAt, Step | null>> = {
  none: null,
  stock: 'reserve',
  payment: 'charge',
  shipment: 'ship',
};
/**
 * How it fails: `fail`, the service says no (it did nothing: a business failure); `timeout`, the
 * service does the work but its first reply is lost, so the orchestrator's timer fires without knowing
 * whether it happened.
 */
export type FailMode = 'fail' | 'timeout';

/** How long the orchestrator waits for a reply (simulated ms). */
export const CALL_TIMEOUT_MS = 250;
/** Calls of an idempotent step (not the pivot) that time out before its outcome counts as unknown. */
export const MAX_ATTEMPTS = 3;
/** The wait before retry n: `min(BACKOFF.baseMs · 2^(n−1), BACKOFF.maxMs)` (simulated ms). */
export const BACKOFF = { baseMs: 100, maxMs: 2000 } as const;
/** A message takes this long on the wire, drawn per message from the seed (simulated ms). */
export const LATENCY_MS = { min: 20, max: 60 } as const;
/** How long a new orchestrator takes to start after the reader presses Resume (simulated ms). */
export const RESTART_MS = 500;
/** Stock on the shelf before the order. */
export const SHELF_UNITS = 10;
/** {@link advance} steps that {@link runToEnd} takes at most (a run takes well under 100). */
export const STEP_LIMIT = 1000;

export interface SagaOptions {
  /** An integer in [0, 2^32): the order and the wire's delays derive from it. */
  readonly seed: number;
  /** The step that fails; default none. */
  readonly failAt?: FailAt;
  /** How it fails; default `fail`. */
  readonly failMode?: FailMode;
  /**
   * Kill the orchestrator right after forward step k's first call reaches its service (the service
   * has acted, the outcome is not recorded): 1, 2 or 3; 0 (default) never.
   */
  readonly killAfter?: 0 | 1 | 2 | 3;
  /** The first compensation's first reply is lost, so the orchestrator retries it; default false. */
  readonly retryCompensation?: boolean;
  /** Payment dedupes charges by key, so the orchestrator may call a charge again; default false. */
  readonly chargeIdempotent?: boolean;
}

/** The order the saga is for, drawn from the seed. */
export interface Order {
  readonly id: string;
  readonly units: number;
  readonly unitCents: number;
  /** units × unitCents */
  readonly amountCents: number;
}

/** What the orchestrator persists (in the exercise: a Redis hash; the log is a Redis list). */
export interface SagaRecord {
  readonly state: SagaState;
  /** How many events were recorded (the exercise's fence compares it). */
  readonly version: number;
}

/** One entry of the persisted step log. */
export interface LogEntry {
  /** Its version, from 1. */
  readonly seq: number;
  /** Simulated ms. */
  readonly at: number;
  readonly event: SagaEvent;
  /** The event in words. */
  readonly text: string;
}

/** A service's reply. */
export interface Reply {
  readonly ok: boolean;
  /** Why it was refused. */
  readonly reason?: string;
  /** The key was seen: this is the first call's result, nothing was done again. */
  readonly duplicate: boolean;
}

/** A message on a lane, for drawing: a call from the orchestrator or a service's reply. */
export interface Message {
  readonly id: number;
  readonly kind: 'request' | 'reply';
  readonly action: Action;
  readonly service: Service;
  /** The call's attempt, counted by the orchestrator that sent it. */
  readonly attempt: number;
  /** The orchestrator that sent the call (its reply goes back over that one's connection). */
  readonly incarnation: number;
  /** The idempotency key it carries. */
  readonly key: string;
  readonly sentAt: number;
  readonly arriveAt: number;
  /** `lost`: never arrives; `ignored`: arrived where no one waits for it any more. */
  readonly status: 'flying' | 'delivered' | 'lost' | 'ignored';
  /** What it says, in words ("charge 49.98", "ok (duplicate: first result)"). */
  readonly label: string;
  /** For a reply: the request it answers, and what it carries. */
  readonly requestId?: number;
  readonly reply?: Reply;
}

/** A row of the lanes that is not a message: a timer firing, the orchestrator dying or a new one starting. */
export interface LaneNote {
  readonly at: number;
  /** Drawn after the message with this id (-1: before any). */
  readonly afterMessage: number;
  readonly kind: 'timeout' | 'killed' | 'resumed';
  readonly text: string;
}

/** What the services hold for the order: what must come back to zero when the saga is compensated. */
export interface Balances {
  /** Units held for the order (reserved, not released). */
  readonly stockHeld: number;
  readonly chargedCents: number;
  readonly refundedCents: number;
  readonly shipments: number;
}

type SimEvent =
  | { readonly type: 'wake'; readonly at: number; readonly seq: number; readonly incarnation: number }
  | { readonly type: 'request'; readonly at: number; readonly seq: number; readonly message: number }
  | { readonly type: 'reply'; readonly at: number; readonly seq: number; readonly message: number }
  | {
      readonly type: 'timeout';
      readonly at: number;
      readonly seq: number;
      readonly incarnation: number;
      readonly request: number;
    }
  | {
      readonly type: 'retry';
      readonly at: number;
      readonly seq: number;
      readonly incarnation: number;
      readonly action: Action;
      readonly attempt: number;
    }
  | { readonly type: 'kill'; readonly at: number; readonly seq: number }
  | { readonly type: 'restart'; readonly at: number; readonly seq: number };

/** The orchestrator's memory: lost when it is killed. */
export interface Orchestrator {
  readonly alive: boolean;
  /** #1, #2, ...: a new one after each resume. */
  readonly incarnation: number;
  /** Dead, and a new one is starting (the reader pressed Resume). */
  readonly restarting: boolean;
  /** The step this orchestrator recorded as started (a step in flight it did not start was found in the record). */
  readonly startedHere: Step | null;
  /** The request it waits for, or null. */
  readonly awaiting: number | null;
}

/** One moment of the simulation. Immutable: every operation returns a new world. */
export interface SagaWorld {
  readonly options: Required<SagaOptions>;
  readonly order: Order;
  /** Simulated ms of the last event handled. */
  readonly now: number;
  /** Discrete steps taken so far (the reader's kill and resume count as one each). */
  readonly step: number;
  readonly record: SagaRecord;
  readonly log: readonly LogEntry[];
  readonly orchestrator: Orchestrator;
  readonly messages: readonly Message[];
  readonly notes: readonly LaneNote[];
  readonly balances: Balances;
  /** The services' memory of keys: `<action> <key>` → the first reply. */
  readonly seen: Readonly<Record<string, Reply>>;
  /** Per action: how many calls its service has handled. */
  readonly handled: Readonly<Partial<Record<Action, number>>>;
  /** What the last step did, in words. */
  readonly said: string;
  readonly events: readonly SimEvent[];
  readonly seq: number;
  /** The wire's delays, drawn up front; the index of the next one. */
  readonly delays: readonly number[];
  readonly nextDelay: number;
}

const DELAYS = 256;
const UNIT_PRICES = [899, 1299, 2499, 3450, 4999] as const;

/** Cents as a price: 4998 → "49.98". */
export function money(cents: number): string {
  const sign = cents < 0 ? '−' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

function units(n: number): string {
  return `${n} unit${Math.abs(n) === 1 ? '' : 's'}`;
}

/** The step whose key an action carries: a compensation carries the key of the step it undoes. */
export function stepOf(action: Action): Step {
  return action === 'release' || action === 'refund' ? UNDOES[action] : action;
}

/** The idempotency key of an action, `<order id>:<step>`: the same for every attempt and every orchestrator. */
export function keyOf(order: Order, action: Action): string {
  return `${order.id}:${stepOf(action)}`;
}

/** The order a seed gives. @throws {RangeError} when the seed is not an integer in [0, 2^32) */
export function orderFor(seed: number): Order {
  const prng = new Prng(seed).fork('order');
  const count = prng.int(1, 3);
  const unitCents = prng.pick(UNIT_PRICES);
  return { id: `o-${prng.int(1000, 9999)}`, units: count, unitCents, amountCents: count * unitCents };
}

/** Whether the orchestrator may call `step` again after a timeout or a crash. */
export function idempotent(options: Required<SagaOptions>, step: Step): boolean {
  return step === 'charge' ? options.chargeIdempotent : true;
}

/** A fresh run: nothing has happened yet; the first step starts the saga. */
export function start(options: SagaOptions): SagaWorld {
  const full: Required<SagaOptions> = {
    seed: options.seed,
    failAt: options.failAt ?? 'none',
    failMode: options.failMode ?? 'fail',
    killAfter: options.killAfter ?? 0,
    retryCompensation: options.retryCompensation ?? false,
    chargeIdempotent: options.chargeIdempotent ?? false,
  };
  const order = orderFor(full.seed);
  const wire = new Prng(full.seed).fork('wire');
  const delays = Array.from({ length: DELAYS }, () => wire.int(LATENCY_MS.min, LATENCY_MS.max));
  return {
    options: full,
    order,
    now: 0,
    step: 0,
    record: { state: initialState(), version: 0 },
    log: [],
    orchestrator: { alive: true, incarnation: 1, restarting: false, startedHere: null, awaiting: null },
    messages: [],
    notes: [],
    balances: { stockHeld: 0, chargedCents: 0, refundedCents: 0, shipments: 0 },
    seen: {},
    handled: {},
    said: `Order ${order.id} arrives: ${units(order.units)} at ${money(order.unitCents)}, ${money(order.amountCents)} in all. Orchestrator #1 is about to start its saga.`,
    events: [{ type: 'wake', at: 0, seq: 0, incarnation: 1 }],
    seq: 1,
    delays,
    nextDelay: 0,
  };
}

/** The step log's event in words. */
export function describeEvent(event: SagaEvent): string {
  switch (event.type) {
    case 'StepStarted':
      return `${ACTION_WORDS[event.step]}: started (recorded before the call)`;
    case 'StepSucceeded':
      return `${ACTION_WORDS[event.step]}: succeeded`;
    case 'StepFailed':
      return `${FAILURE[event.step].said}: ${event.reason}`;
    case 'StepOutcomeUnknown':
      return `${ACTION_WORDS[event.step]}: outcome unknown (${event.reason}), so it is compensated too`;
    case 'CompensationFailed':
      return `${ACTION_WORDS[COMPENSATION_OF[event.step]]} failed (attempt ${event.attempt}): ${event.reason}; retrying`;
    case 'CompensationSucceeded':
      return `${ACTION_WORDS[COMPENSATION_OF[event.step]]}: done`;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A mutable copy of a world for one step. */
type Draft = { -readonly [K in keyof SagaWorld]: SagaWorld[K] } & {
  events: SimEvent[];
  log: LogEntry[];
  messages: Message[];
  notes: LaneNote[];
};

function draft(w: SagaWorld): Draft {
  return { ...w, events: [...w.events], log: [...w.log], messages: [...w.messages], notes: [...w.notes] };
}

function schedule(d: Draft, event: DistributiveOmit<SimEvent, 'seq'>): void {
  d.events.push({ ...event, seq: d.seq } as SimEvent);
  d.seq += 1;
}

function delay(d: Draft): number {
  const ms = d.delays[d.nextDelay % d.delays.length] as number;
  d.nextDelay += 1;
  return ms;
}

function backoff(attempt: number): number {
  return Math.min(BACKOFF.baseMs * 2 ** (attempt - 1), BACKOFF.maxMs);
}

/** Records an event: the machine's next state and a log entry, in one write (as the exercise's Lua script). */
function record(d: Draft, event: SagaEvent): void {
  const state = evolve(d.record.state, event);
  d.record = { state, version: d.record.version + 1 };
  d.log.push({ seq: d.record.version, at: d.now, event, text: describeEvent(event) });
}

function setOrchestrator(d: Draft, change: Partial<Orchestrator>): void {
  d.orchestrator = { ...d.orchestrator, ...change };
}

function updateMessage(d: Draft, id: number, change: Partial<Message>): void {
  d.messages = d.messages.map((m) => (m.id === id ? { ...m, ...change } : m));
}

function requestLabel(order: Order, action: Action): string {
  switch (action) {
    case 'reserve':
      return `reserve ${units(order.units)}`;
    case 'release':
      return `release ${units(order.units)}`;
    case 'charge':
      return `charge ${money(order.amountCents)}`;
    case 'refund':
      return `refund ${money(order.amountCents)}`;
    case 'ship':
      return 'create shipment';
  }
}

/** The orchestrator sends a call and arms its timer. */
function call(d: Draft, action: Action, attempt: number): void {
  const id = d.messages.length;
  const key = keyOf(d.order, action);
  d.messages.push({
    id,
    kind: 'request',
    action,
    service: SERVICE_OF[action],
    attempt,
    incarnation: d.orchestrator.incarnation,
    key,
    sentAt: d.now,
    arriveAt: d.now + delay(d),
    status: 'flying',
    label: requestLabel(d.order, action),
  });
  setOrchestrator(d, { awaiting: id });
  schedule(d, { type: 'request', at: (d.messages[id] as Message).arriveAt, message: id });
  schedule(d, {
    type: 'timeout',
    at: d.now + CALL_TIMEOUT_MS,
    incarnation: d.orchestrator.incarnation,
    request: id,
  });
}

/** The orchestrator asks the machine what is next and does it (on start, after each record, after a restart). */
function wake(d: Draft): void {
  const next = nextAction(d.record.state);
  const me = `Orchestrator #${d.orchestrator.incarnation}`;
  switch (next.type) {
    case 'done':
      d.said = `The saga is ${next.status}; nothing to do.`;
      return;
    case 'start': {
      record(d, { type: 'StepStarted', step: next.step });
      setOrchestrator(d, { startedHere: next.step });
      call(d, next.step, 1);
      d.said = `${me} records "${ACTION_WORDS[next.step]} started" in the saga log, then calls ${SERVICE_OF[next.step]} with key ${keyOf(d.order, next.step)}.`;
      return;
    }
    case 'settle': {
      const step = next.step;
      if (d.orchestrator.startedHere !== step && !idempotent(d.options, step)) {
        record(d, {
          type: 'StepOutcomeUnknown',
          step,
          reason: 'found in flight after a restart; not idempotent, so not called again',
        });
        d.said = `${me} finds "${ACTION_WORDS[step]}" started but not settled. Calling it again could do it twice (not idempotent), so it records the outcome as unknown and will compensate it too: a compensation is harmless for a step that never happened.`;
        schedule(d, { type: 'wake', at: d.now, incarnation: d.orchestrator.incarnation });
        return;
      }
      setOrchestrator(d, { startedHere: null });
      call(d, step, 1);
      d.said = `${me} finds "${ACTION_WORDS[step]}" started but not settled: it may or may not have happened. The step is idempotent, so it calls it again with the same key ${keyOf(d.order, step)}.`;
      return;
    }
    case 'compensate': {
      const action = COMPENSATION_OF[next.step];
      call(d, action, 1);
      d.said = `${me} compensates: it calls ${SERVICE_OF[action]} to ${ACTION_WORDS[action]}, with the key of the step it undoes (${keyOf(d.order, action)}).`;
      return;
    }
  }
}

function failingStep(w: SagaWorld): Step | null {
  return FAIL_AT_STEP[w.options.failAt];
}

/** Whether a service dedupes this action by its key. */
function dedupes(w: SagaWorld, action: Action): boolean {
  return action === 'charge' ? w.options.chargeIdempotent : true;
}

/** A service handles a request. */
function deliverRequest(d: Draft, message: Message): void {
  updateMessage(d, message.id, { status: 'delivered' });
  const { action, key, service } = message;
  const handledBefore = d.handled[action] ?? 0;
  d.handled = { ...d.handled, [action]: handledBefore + 1 };
  const memo = `${action} ${key}`;
  const stored = dedupes(d, action) ? d.seen[memo] : undefined;
  let reply: Reply;
  let what: string;
  if (stored) {
    reply = { ...stored, duplicate: true };
    what = `${cap(service)} has seen key ${key} for "${ACTION_WORDS[action]}": it returns the first result (${stored.ok ? 'ok' : 'refused'}) and does nothing again.`;
  } else {
    if (failingStep(d) === action && d.options.failMode === 'fail') {
      const { reason } = FAILURE[action as Step];
      reply = { ok: false, reason, duplicate: false };
      what = `${cap(service)} refuses: ${reason}. It did nothing.`;
    } else {
      reply = { ok: true, duplicate: false };
      what = applyEffect(d, action, handledBefore > 0);
    }
    d.seen = { ...d.seen, [memo]: reply };
  }
  // The reader's options lose a reply: the timed-out step's first, the first compensation's first.
  const firstCompensation =
    (action === 'release' || action === 'refund') && d.record.state.compensated.length === 0;
  const lose =
    handledBefore === 0 &&
    ((failingStep(d) === action && d.options.failMode === 'timeout') ||
      (d.options.retryCompensation && firstCompensation));
  const id = d.messages.length;
  d.messages.push({
    id,
    kind: 'reply',
    action,
    service,
    attempt: message.attempt,
    incarnation: message.incarnation,
    key,
    sentAt: d.now,
    arriveAt: lose ? d.now : d.now + delay(d),
    status: lose ? 'lost' : 'flying',
    label: reply.ok
      ? `ok${reply.duplicate ? ' (duplicate: first result)' : ''}`
      : `refused: ${reply.reason}${reply.duplicate ? ' (duplicate)' : ''}`,
    requestId: message.id,
    reply,
  });
  if (!lose) schedule(d, { type: 'reply', at: (d.messages[id] as Message).arriveAt, message: id });
  d.said = `${what}${lose ? ' Its reply is lost on the way: the orchestrator hears nothing.' : ''}`;
  // "Kill after step k": right after the step's first call reached its service.
  const k = d.options.killAfter;
  if (k > 0 && STEPS[k - 1] === action && handledBefore === 0) schedule(d, { type: 'kill', at: d.now });
}

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A call's effect on its service; returns it in words. */
function applyEffect(d: Draft, action: Action, again: boolean): string {
  const b = d.balances;
  const { units: n, amountCents } = d.order;
  const twice = again ? ' again: it keeps no record of keys for charges, so the customer pays twice' : '';
  switch (action) {
    case 'reserve':
      d.balances = { ...b, stockHeld: b.stockHeld + n };
      return `Stock holds ${units(n)} for ${d.order.id}.`;
    case 'charge':
      d.balances = { ...b, chargedCents: b.chargedCents + amountCents };
      return `Payment charges the card ${money(amountCents)}${twice}.`;
    case 'ship':
      d.balances = { ...b, shipments: b.shipments + 1 };
      return 'Shipping creates the shipment.';
    case 'release': {
      if (!d.seen[`reserve ${keyOf(d.order, 'reserve')}`]?.ok)
        return 'Stock holds nothing under this key: nothing to release (a compensation for a step that never happened is harmless).';
      d.balances = { ...b, stockHeld: b.stockHeld - n };
      return `Stock puts ${units(n)} back on the shelf.`;
    }
    case 'refund': {
      if (!d.seen[`charge ${keyOf(d.order, 'charge')}`]?.ok)
        return 'Payment charged nothing under this key: nothing to refund (a compensation for a step that never happened is harmless).';
      d.balances = { ...b, refundedCents: b.refundedCents + amountCents };
      return `Payment refunds ${money(amountCents)}.`;
    }
  }
}

/** A reply reaches the orchestrator: if it is the one it waits for, it records the outcome. */
function deliverReply(d: Draft, message: Message): void {
  const { action } = message;
  const reply = message.reply as Reply;
  const o = d.orchestrator;
  if (!o.alive || message.incarnation !== o.incarnation) {
    updateMessage(d, message.id, { status: 'ignored' });
    d.said = `${cap(SERVICE_OF[action])}'s reply to "${ACTION_WORDS[action]}" comes back to orchestrator #${message.incarnation}, which is dead: no one records it.`;
    return;
  }
  if (o.awaiting !== message.requestId) {
    updateMessage(d, message.id, { status: 'ignored' });
    d.said = `A late reply to "${ACTION_WORDS[action]}" arrives after the orchestrator stopped waiting for it: ignored.`;
    return;
  }
  updateMessage(d, message.id, { status: 'delivered' });
  setOrchestrator(d, { awaiting: null });
  const dup = reply.duplicate ? ' (the service had seen the key: nothing was done twice)' : '';
  if (action === 'release' || action === 'refund') {
    const step = UNDOES[action];
    record(d, { type: 'CompensationSucceeded', step });
    d.said = `The orchestrator records "${ACTION_WORDS[action]}: done"${dup}.${
      d.record.state.status === 'compensated' ? ` The saga is compensated: ${balancedWords(d)}` : ''
    }`;
  } else if (reply.ok) {
    record(d, { type: 'StepSucceeded', step: action });
    d.said = `The orchestrator records "${ACTION_WORDS[action]}: succeeded"${dup} before it moves on.${
      d.record.state.status === 'completed'
        ? ' The saga is completed: shipment was the pivot, so nothing will be undone.'
        : ''
    }`;
  } else {
    record(d, { type: 'StepFailed', step: action, reason: reply.reason ?? 'refused' });
    const todo = d.record.state.toCompensate.map((s) => ACTION_WORDS[COMPENSATION_OF[s]]);
    d.said =
      todo.length > 0
        ? `The orchestrator records "${FAILURE[action].said}" and turns back: ${todo.join(', then ')}, newest first. The refused step itself is not undone: it never happened.`
        : `The orchestrator records "${FAILURE[action].said}". It was the first step: nothing to undo, the saga is compensated.`;
  }
  if (!ended(d)) schedule(d, { type: 'wake', at: d.now, incarnation: o.incarnation });
}

function balancedWords(w: SagaWorld): string {
  return balanced(w) === 'yes'
    ? 'stock held and money charged are back to zero.'
    : 'but the balances are NOT back to zero.';
}

/** The orchestrator's timer for a call fires before its reply. */
function timeout(d: Draft, request: Message): void {
  const { action, attempt } = request;
  setOrchestrator(d, { awaiting: null });
  const incarnation = d.orchestrator.incarnation;
  const note = (what: string) =>
    d.notes.push({
      at: d.now,
      afterMessage: d.messages.at(-1)?.id ?? -1,
      kind: 'timeout',
      text: `no reply to "${ACTION_WORDS[action]}" (attempt ${attempt}) in ${CALL_TIMEOUT_MS} ms: ${what}`,
    });
  if (action === 'release' || action === 'refund') {
    record(d, {
      type: 'CompensationFailed',
      step: UNDOES[action],
      reason: `timed out after ${CALL_TIMEOUT_MS} ms`,
      attempt,
    });
    schedule(d, { type: 'retry', at: d.now + backoff(attempt), incarnation, action, attempt: attempt + 1 });
    note(`retry in ${backoff(attempt)} ms`);
    d.said = `No reply to "${ACTION_WORDS[action]}" within ${CALL_TIMEOUT_MS} ms. A compensation is never skipped: the orchestrator records the failure and retries in ${backoff(attempt)} ms with the same key.`;
    return;
  }
  const allowed =
    action === PIVOT ? Number.POSITIVE_INFINITY : idempotent(d.options, action) ? MAX_ATTEMPTS : 1;
  if (attempt >= allowed) {
    record(d, { type: 'StepOutcomeUnknown', step: action, reason: `timed out after ${attempt} call(s)` });
    note('outcome unknown');
    d.said = `No reply to "${ACTION_WORDS[action]}" within ${CALL_TIMEOUT_MS} ms: it may or may not have happened.${
      allowed === 1
        ? ' The step is not idempotent, so calling it again could do it twice:'
        : ' No more attempts:'
    } the orchestrator records the outcome as unknown and compensates it too.`;
    schedule(d, { type: 'wake', at: d.now, incarnation });
    return;
  }
  schedule(d, { type: 'retry', at: d.now + backoff(attempt), incarnation, action, attempt: attempt + 1 });
  note(`retry in ${backoff(attempt)} ms`);
  d.said = `No reply to "${ACTION_WORDS[action]}" within ${CALL_TIMEOUT_MS} ms: it may or may not have happened. ${
    action === PIVOT ? 'The pivot must be settled, and it is idempotent' : 'The step is idempotent'
  }, so the orchestrator retries in ${backoff(attempt)} ms with the same key.`;
}

/** Whether an event still matters (stale timers and a dead orchestrator's wake-ups do not). */
function live(w: SagaWorld, e: SimEvent): boolean {
  const o = w.orchestrator;
  switch (e.type) {
    case 'wake':
    case 'retry':
      return o.alive && e.incarnation === o.incarnation;
    case 'timeout':
      return o.alive && e.incarnation === o.incarnation && o.awaiting === e.request;
    case 'kill':
      return o.alive;
    case 'restart':
      return !o.alive;
    default:
      return true;
  }
}

function byTime(a: SimEvent, b: SimEvent): number {
  return a.at - b.at || a.seq - b.seq;
}

/** Whether {@link advance} has anything left to do. */
export function canAdvance(w: SagaWorld): boolean {
  return w.events.some((e) => live(w, e));
}

/**
 * One discrete step: the next event that still matters, in time order (the orchestrator acting, a
 * service handling a call, a reply arriving, a timer firing, a kill, a restart). Returns `w` itself
 * when nothing is left: the saga has ended, or the orchestrator is dead and only {@link resume} goes on.
 */
export function advance(w: SagaWorld): SagaWorld {
  const events = w.events.filter((e) => live(w, e)).sort(byTime);
  const event = events[0];
  if (!event) return w;
  const d = draft(w);
  d.events = events.slice(1);
  d.now = event.at;
  d.step += 1;
  switch (event.type) {
    case 'wake':
      wake(d);
      break;
    case 'request':
      deliverRequest(d, d.messages[event.message] as Message);
      break;
    case 'reply':
      deliverReply(d, d.messages[event.message] as Message);
      break;
    case 'timeout':
      timeout(d, d.messages[event.request] as Message);
      break;
    case 'retry':
      call(d, event.action, event.attempt);
      d.said = `Orchestrator #${d.orchestrator.incarnation} calls ${SERVICE_OF[event.action]} again to ${ACTION_WORDS[event.action]} (attempt ${event.attempt}), with the same key ${keyOf(d.order, event.action)}.`;
      break;
    case 'kill':
      killDraft(d, 'As you chose: ');
      break;
    case 'restart':
      restart(d);
      break;
  }
  return d;
}

function killDraft(d: Draft, why: string): void {
  const { incarnation } = d.orchestrator;
  setOrchestrator(d, { alive: false, restarting: false, awaiting: null, startedHere: null });
  d.notes.push({
    at: d.now,
    afterMessage: d.messages.at(-1)?.id ?? -1,
    kind: 'killed',
    text: `orchestrator #${incarnation} killed (SIGKILL)`,
  });
  const inFlight = d.record.state.inFlight;
  d.said = `${why}orchestrator #${incarnation} is killed (SIGKILL). Its memory is gone; the saga log is not.${
    inFlight ? ` The log shows "${ACTION_WORDS[inFlight]}" started and not settled.` : ''
  } Press Resume to start a new orchestrator.`;
}

/** The reader kills the orchestrator now. Returns `w` when it is already dead or the saga has ended. */
export function kill(w: SagaWorld): SagaWorld {
  if (!w.orchestrator.alive || ended(w)) return w;
  const d = draft(w);
  d.step += 1;
  killDraft(d, '');
  return d;
}

/**
 * The reader starts a new orchestrator: it starts {@link RESTART_MS} later (meanwhile what is on the
 * wire still arrives; replies to the dead one are lost with its connection) and carries on from the
 * record. Returns `w` when the orchestrator is alive or already restarting.
 */
export function resume(w: SagaWorld): SagaWorld {
  if (w.orchestrator.alive || w.orchestrator.restarting) return w;
  const d = draft(w);
  setOrchestrator(d, { restarting: true });
  d.step += 1;
  schedule(d, { type: 'restart', at: w.now + RESTART_MS });
  d.said = `A new orchestrator is starting (${RESTART_MS} ms); what is already on the wire still arrives meanwhile.`;
  return d;
}

function restart(d: Draft): void {
  const incarnation = d.orchestrator.incarnation + 1;
  d.orchestrator = { alive: true, incarnation, restarting: false, startedHere: null, awaiting: null };
  d.notes.push({
    at: d.now,
    afterMessage: d.messages.at(-1)?.id ?? -1,
    kind: 'resumed',
    text: `orchestrator #${incarnation} starts and reads the saga log`,
  });
  const { state } = d.record;
  d.said = `Orchestrator #${incarnation} starts and reads the saga: ${state.status}, ${
    state.done.length === 0 ? 'no step done' : `done: ${state.done.map((s) => ACTION_WORDS[s]).join(', ')}`
  }${state.inFlight ? `, "${ACTION_WORDS[state.inFlight]}" started and not settled` : ''}. It carries on from there, not from step 1.`;
  schedule(d, { type: 'wake', at: d.now, incarnation });
}

/** Steps until nothing is left to do (or {@link STEP_LIMIT}); stops when the orchestrator is dead. */
export function runToEnd(w: SagaWorld): SagaWorld {
  let current = w;
  for (let i = 0; i < STEP_LIMIT && canAdvance(current); i++) current = advance(current);
  return current;
}

/** Whether the saga has reached a final state. */
export function ended(w: SagaWorld): boolean {
  return w.record.state.status === 'completed' || w.record.state.status === 'compensated';
}

/** Where the run is: the saga's status, or the orchestrator being down mid-saga. */
export type Outcome = 'running' | 'compensating' | 'orchestrator down' | 'completed' | 'compensated';

export function outcome(w: SagaWorld): Outcome {
  if (ended(w) || w.orchestrator.alive) return w.record.state.status;
  return 'orchestrator down';
}

/**
 * Whether the services' balances match the saga's end: completed → the order's units held, its amount
 * charged net, one shipment; compensated → all zero. `pending` until the saga ends.
 */
export function balanced(w: SagaWorld): 'yes' | 'no' | 'pending' {
  const b = w.balances;
  const net = b.chargedCents - b.refundedCents;
  if (w.record.state.status === 'completed')
    return b.stockHeld === w.order.units && net === w.order.amountCents && b.shipments === 1 ? 'yes' : 'no';
  if (w.record.state.status === 'compensated')
    return b.stockHeld === 0 && net === 0 && b.shipments === 0 ? 'yes' : 'no';
  return 'pending';
}

/** What the customer sees on the order page now: read from the saga's persisted state. */
export function customerSees(w: SagaWorld): string {
  const s = w.record.state;
  const amount = money(w.order.amountCents);
  if (s.status === 'completed') return 'Order confirmed: shipping';
  if (s.failure) {
    const { step } = s.failure;
    const lastEvent = w.log.findLast(
      (e) => e.event.type === 'StepFailed' || e.event.type === 'StepOutcomeUnknown',
    );
    const why =
      lastEvent?.event.type === 'StepOutcomeUnknown' ? UNKNOWN_CUSTOMER[step] : FAILURE[step].customer;
    // The record says the refund ran; whether money moved back is the payment service's to say.
    const refunded = s.compensated.includes('charge') && w.balances.refundedCents > 0;
    if (s.status === 'compensated')
      return refunded
        ? `${why}: order cancelled, ${amount} refunded`
        : `${why}: order cancelled, nothing charged`;
    if (s.toCompensate[0] === 'charge') return `${why}: refund pending`;
    return refunded ? `${why}: refunded, cancelling the order` : `${why}: cancelling the order`;
  }
  if (!s.done.includes('reserve'))
    return w.log.length === 0 ? 'Order received' : 'Order received: checking stock';
  if (!s.done.includes('charge')) return 'Payment pending';
  return 'Paid: preparing shipment';
}

/** Each lane's state in words. */
export function laneSays(w: SagaWorld): Record<Service | 'orchestrator', string> {
  const b = w.balances;
  const o = w.orchestrator;
  return {
    orchestrator: o.alive
      ? `#${o.incarnation} up`
      : o.restarting
        ? `#${o.incarnation} dead, restarting`
        : `#${o.incarnation} dead`,
    stock:
      b.stockHeld === 0
        ? `none held, ${SHELF_UNITS} on the shelf`
        : `${units(b.stockHeld)} held, ${SHELF_UNITS - b.stockHeld} on the shelf`,
    payment:
      b.chargedCents === 0 && b.refundedCents === 0
        ? 'nothing charged'
        : `charged ${money(b.chargedCents)}, refunded ${money(b.refundedCents)}`,
    shipping: b.shipments === 0 ? 'no shipment' : `${b.shipments} shipment${b.shipments === 1 ? '' : 's'}`,
  };
}
