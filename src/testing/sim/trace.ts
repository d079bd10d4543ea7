/**
 * What a simulation run records: one plain, JSON-serialisable record per event on the network and per
 * fault, in the order they happened, and a stable hash of the whole, so that a test can assert that
 * two runs of the same seed did exactly the same thing.
 */

import { FNV1A32_BASIS, fnv1a32 } from './prng.js';

/** Why a message was not delivered. */
export type DropReason =
  /** The network's drop rate decided it. */
  | 'random'
  /** Sender and receiver were on different sides of a partition, when it was sent or when it arrived. */
  | 'partition'
  /** The receiver crashed while the message was in flight. */
  | 'crash'
  /** The receiver was down when the message arrived (sent to a crashed node). */
  | 'down';

/** Fields every message record carries: `id` is the send's number in the run, shared by its copies. */
interface MessageFields {
  readonly tick: number;
  readonly id: number;
  readonly from: string;
  readonly to: string;
  readonly msg: unknown;
}

/** A message handed to the network. A `deliver` or `drop` record with the same `id` tells its fate. */
export interface SendRecord extends MessageFields {
  readonly kind: 'send';
}

/** A message (or a duplicate of one: `copy` 1) handed to its receiver. */
export interface DeliverRecord extends MessageFields {
  readonly kind: 'deliver';
  readonly sentAt: number;
  readonly copy: 0 | 1;
}

/** A message (or its duplicate) that will never arrive. */
export interface DropRecord extends MessageFields {
  readonly kind: 'drop';
  readonly sentAt: number;
  readonly copy: 0 | 1;
  readonly reason: DropReason;
}

/** The network decided to deliver message `id` twice; the copy arrives at `deliverAt`. */
export interface DuplicateRecord extends MessageFields {
  readonly kind: 'duplicate';
  readonly deliverAt: number;
}

/** Partition `name` started: a node talks only to nodes in its own group while it lasts. */
export interface PartitionRecord {
  readonly kind: 'partition';
  readonly tick: number;
  readonly name: string;
  readonly groups: readonly (readonly string[])[];
}

/** Partition `name` healed. */
export interface HealRecord {
  readonly kind: 'heal';
  readonly tick: number;
  readonly name: string;
}

/** Node `node` crashed, losing its memory and the `lost` messages in flight to it. */
export interface CrashRecord {
  readonly kind: 'crash';
  readonly tick: number;
  readonly node: string;
  readonly lost: number;
}

/** Node `node` restarted, rebuilt from what it persisted. */
export interface RestartRecord {
  readonly kind: 'restart';
  readonly tick: number;
  readonly node: string;
}

/** One event of a run. */
export type TraceRecord =
  | SendRecord
  | DeliverRecord
  | DropRecord
  | DuplicateRecord
  | PartitionRecord
  | HealRecord
  | CrashRecord
  | RestartRecord;

/**
 * JSON with object keys sorted, so that two equal values give the same text whatever order their keys
 * were written in. As `JSON.stringify` does, `undefined` and function properties are left out (`null`
 * in an array), a number that is not finite is `null`, and `toJSON` is honoured (a `Date` becomes its
 * ISO string).
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, undefined);
}

/**
 * {@link canonicalJson}, remembering the text of each object in `seen` when given: a trace holds the
 * same message object in its send, deliver and drop records, and hashing it once is enough.
 */
function canonical(value: unknown, seen: Map<object, string> | undefined): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson cannot encode a BigInt (JSON has no such type)');
    case 'object':
      break;
    default:
      return 'null';
  }
  if (value === null) return 'null';
  const known = seen?.get(value);
  if (known !== undefined) return known;
  let text: string;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    text = canonical((value as { toJSON(): unknown }).toJSON(), seen);
  } else if (Array.isArray(value)) {
    text = '[';
    for (let i = 0; i < value.length; i++) text += (i > 0 ? ',' : '') + canonical(value[i], seen);
    text += ']';
  } else {
    text = canonicalFields(value as Record<string, unknown>, seen);
  }
  seen?.set(value, text);
  return text;
}

/** How many object shapes the key caches keep: traces repeat a few, and the caches must not grow forever. */
const MAX_SHAPES = 10_000;

/** Sorted key lists by the object's own key order, and quoted keys: traces repeat a few shapes. */
const sortedKeys = new Map<string, readonly string[]>();
const quotedKeys = new Map<string, string>();

/** The keys of `object`, sorted, each with its JSON quoting. */
function keysOf(object: object): readonly string[] {
  const keys = Object.keys(object);
  const shape = JSON.stringify(keys);
  let sorted = sortedKeys.get(shape);
  if (!sorted) {
    sorted = keys.sort();
    if (sortedKeys.size < MAX_SHAPES) {
      sortedKeys.set(shape, sorted);
      for (const key of sorted) quotedKeys.set(key, JSON.stringify(key));
    }
  }
  return sorted;
}

/** An object's own enumerable fields as canonical JSON, keys sorted; field values remembered in `seen`. */
function canonicalFields(object: Record<string, unknown>, seen: Map<object, string> | undefined): string {
  let text = '';
  for (const key of keysOf(object)) {
    const field = object[key];
    if (field === undefined || typeof field === 'function' || typeof field === 'symbol') continue;
    text += `${text === '' ? '{' : ','}${quotedKeys.get(key) ?? JSON.stringify(key)}:${canonical(field, seen)}`;
  }
  return text === '' ? '{}' : `${text}}`;
}

/**
 * A stable fingerprint of a trace: FNV-1a (32 bits) over the records' canonical JSON, one line each,
 * as 8 hex digits. Equal traces give equal hashes in every engine; a different trace gives a different
 * hash except with probability about 2^-32. Messages must not be mutated after they are sent (the
 * simulator's rule anyway): each message object is encoded once per call, however many records hold it.
 */
export function traceHash(trace: readonly TraceRecord[]): string {
  const seen = new Map<object, string>();
  let hash = FNV1A32_BASIS;
  for (const record of trace) {
    // The record itself is not remembered (each is met once); the objects inside it are.
    hash = fnv1a32(`${canonicalFields(record as unknown as Record<string, unknown>, seen)}\n`, hash);
  }
  return hash.toString(16).padStart(8, '0');
}
