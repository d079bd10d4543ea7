/**
 * The simulated wire: messages in flight between named endpoints, each delivered after a delay the
 * seeded PRNG draws, or dropped, or duplicated; partitions that cut the network into groups. Every
 * decision is recorded in the trace. Time is the caller's logical tick; this module never reads a clock.
 *
 * Reordering comes from the same PRNG: each copy of a message draws its own delay, and messages due at
 * the same tick are handed over in an order drawn at send time, so a later message can overtake an
 * earlier one on the same link.
 */

import type { Prng } from './prng.js';
import type { DropReason, TraceRecord } from './trace.js';

/** Draws one message's delay in ticks (an integer, at least 1) from the network's stream. */
export type LatencySampler = (prng: Prng) => number;

/** How the wire behaves. Rates are probabilities per message, in [0, 1]. */
export interface NetworkOptions {
  /**
   * A message's delay in ticks: uniform over `{ min, max }` (integers, 1 <= min <= max), or drawn by a
   * sampler (a long tail, say). Default `{ min: 1, max: 3 }`. At least 1, so a reply never arrives in
   * the tick its request did.
   */
  readonly latency?: { readonly min: number; readonly max: number } | LatencySampler;
  /** Chance that a message is lost on the way. Default 0. */
  readonly dropRate?: number;
  /** Chance that a delivered message arrives a second time, after its own delay. Default 0. */
  readonly duplicateRate?: number;
}

/** A copy of a message in flight. */
export interface Envelope {
  /** The send's number in the run, shared with its duplicate. */
  readonly id: number;
  readonly from: string;
  readonly to: string;
  readonly msg: unknown;
  readonly sentAt: number;
  readonly deliverAt: number;
  /** 0 for the original, 1 for the duplicate. */
  readonly copy: 0 | 1;
  /** Draws the order among messages due at the same tick. */
  readonly rank: number;
}

const DEFAULT_LATENCY = { min: 1, max: 3 } as const;

function requireRate(name: string, value: number): void {
  if (!(value >= 0 && value <= 1))
    throw new RangeError(`${name} must be a probability in [0, 1], got ${value}`);
}

function uniformLatency(min: number, max: number): LatencySampler {
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max >= min)) {
    throw new RangeError(`latency needs integers with 1 <= min <= max, got { min: ${min}, max: ${max} }`);
  }
  return (prng) => prng.int(min, max);
}

function byArrival(a: Envelope, b: Envelope): number {
  return a.rank - b.rank || a.id - b.id || a.copy - b.copy;
}

/**
 * In-flight messages and partitions. Messages are values: the network hands the very object sent to
 * the receiver (twice for a duplicate), so nodes must not mutate messages, and a message must be
 * plain JSON for the trace to hash it.
 */
export class Network {
  readonly #prng: Prng;
  readonly #record: (record: TraceRecord) => void;
  readonly #latency: LatencySampler;
  readonly #dropRate: number;
  readonly #duplicateRate: number;
  /** Envelopes by the tick they are due. */
  readonly #due = new Map<number, Envelope[]>();
  /** Active partitions by name: each endpoint's group index (endpoints not named share group -1). */
  readonly #partitions = new Map<string, ReadonlyMap<string, number>>();
  #nextId = 0;

  /**
   * @param prng decides every delay, drop, duplicate and order; give the network a stream of its own
   * @param record receives each trace record as it happens
   * @throws {RangeError} when a rate is not in [0, 1] or `latency` is not 1 <= min <= max integers
   */
  constructor(prng: Prng, options: NetworkOptions, record: (record: TraceRecord) => void) {
    const { latency = DEFAULT_LATENCY, dropRate = 0, duplicateRate = 0 } = options;
    requireRate('dropRate', dropRate);
    requireRate('duplicateRate', duplicateRate);
    this.#prng = prng;
    this.#record = record;
    this.#latency = typeof latency === 'function' ? latency : uniformLatency(latency.min, latency.max);
    this.#dropRate = dropRate;
    this.#duplicateRate = duplicateRate;
  }

  /**
   * Hands `msg` to the wire at `tick`. It is dropped at once if `from` and `to` are partitioned or the
   * drop rate says so; otherwise it is due after a drawn delay, and perhaps a duplicate after another.
   * @throws {RangeError} when a latency sampler returns anything but an integer >= 1
   */
  send(tick: number, from: string, to: string, msg: unknown): void {
    const id = this.#nextId++;
    this.#record({ kind: 'send', tick, id, from, to, msg });
    const base = { id, from, to, msg, sentAt: tick };
    if (!this.connected(from, to)) {
      this.#record({ kind: 'drop', tick, id, from, to, msg, sentAt: tick, copy: 0, reason: 'partition' });
      return;
    }
    if (this.#prng.chance(this.#dropRate)) {
      this.#record({ kind: 'drop', tick, id, from, to, msg, sentAt: tick, copy: 0, reason: 'random' });
      return;
    }
    this.#schedule({ ...base, deliverAt: tick + this.#delay(), copy: 0, rank: this.#prng.next() });
    if (this.#prng.chance(this.#duplicateRate)) {
      const deliverAt = tick + this.#delay();
      this.#record({ kind: 'duplicate', tick, id, from, to, msg, deliverAt });
      this.#schedule({ ...base, deliverAt, copy: 1, rank: this.#prng.next() });
    }
  }

  #delay(): number {
    const ticks = this.#latency(this.#prng);
    if (!(Number.isInteger(ticks) && ticks >= 1)) {
      throw new RangeError(`the latency sampler must return an integer >= 1, got ${ticks}`);
    }
    return ticks;
  }

  #schedule(envelope: Envelope): void {
    const bucket = this.#due.get(envelope.deliverAt);
    if (bucket) bucket.push(envelope);
    else this.#due.set(envelope.deliverAt, [envelope]);
  }

  #drop(tick: number, envelope: Envelope, reason: DropReason): void {
    const { id, from, to, msg, sentAt, copy } = envelope;
    this.#record({ kind: 'drop', tick, id, from, to, msg, sentAt, copy, reason });
  }

  /**
   * Hands over the messages due at `tick`, in their drawn order: each is dropped if a partition now
   * separates its ends (`'partition'`) or `canReceive(to)` is false (`'down'`), and otherwise recorded
   * as delivered and passed to `deliver`. Messages sent by `deliver` are due at later ticks.
   */
  deliverDue(tick: number, canReceive: (to: string) => boolean, deliver: (envelope: Envelope) => void): void {
    const bucket = this.#due.get(tick);
    if (!bucket) return;
    this.#due.delete(tick);
    bucket.sort(byArrival);
    for (const envelope of bucket) {
      const { id, from, to, msg, sentAt, copy } = envelope;
      if (!this.connected(from, to)) this.#drop(tick, envelope, 'partition');
      else if (!canReceive(to)) this.#drop(tick, envelope, 'down');
      else {
        this.#record({ kind: 'deliver', tick, id, from, to, msg, sentAt, copy });
        deliver(envelope);
      }
    }
  }

  /** Drops every message in flight to `node` (it crashed), recorded as `'crash'`; returns how many. */
  loseInFlightTo(tick: number, node: string): number {
    const lost: Envelope[] = [];
    for (const [at, bucket] of this.#due) {
      const kept = bucket.filter((envelope) => envelope.to !== node);
      if (kept.length === bucket.length) continue;
      lost.push(...bucket.filter((envelope) => envelope.to === node));
      if (kept.length > 0) this.#due.set(at, kept);
      else this.#due.delete(at);
    }
    lost.sort((a, b) => a.deliverAt - b.deliverAt || byArrival(a, b));
    for (const envelope of lost) this.#drop(tick, envelope, 'crash');
    return lost.length;
  }

  /**
   * Starts partition `name` at `tick`: while it lasts, an endpoint reaches only the endpoints of its
   * own group; endpoints named in no group form one more group together. Several partitions may be
   * active at once; two endpoints talk only if no active partition separates them.
   * @throws {Error} when a partition of that name is already active or an endpoint is in two groups
   */
  partition(tick: number, name: string, groups: readonly (readonly string[])[]): void {
    if (this.#partitions.has(name)) throw new Error(`partition "${name}" is already active; heal it first`);
    const groupOf = new Map<string, number>();
    groups.forEach((group, index) => {
      for (const endpoint of group) {
        if (groupOf.has(endpoint)) throw new Error(`partition "${name}" puts "${endpoint}" in two groups`);
        groupOf.set(endpoint, index);
      }
    });
    this.#partitions.set(name, groupOf);
    this.#record({ kind: 'partition', tick, name, groups: groups.map((group) => [...group]) });
  }

  /**
   * Heals partition `name` at `tick`. Messages it dropped stay dropped.
   * @throws {Error} when no partition of that name is active
   */
  heal(tick: number, name: string): void {
    if (!this.#partitions.delete(name)) throw new Error(`no active partition named "${name}" to heal`);
    this.#record({ kind: 'heal', tick, name });
  }

  /** Whether a message from `a` can reach `b` now: no active partition puts them in different groups. */
  connected(a: string, b: string): boolean {
    for (const groupOf of this.#partitions.values()) {
      if ((groupOf.get(a) ?? -1) !== (groupOf.get(b) ?? -1)) return false;
    }
    return true;
  }

  /** The names of the active partitions, in the order they started. */
  partitions(): string[] {
    return [...this.#partitions.keys()];
  }

  /** The copies in flight, soonest first (for assertions, and for a picture of the wire). */
  inFlight(): Envelope[] {
    return [...this.#due.values()].flat().sort((a, b) => a.deliverAt - b.deliverAt || byArrival(a, b));
  }
}
