/**
 * Schema evolution: turning events as they were stored, in any schema version the account has ever
 * had, into the current `AccountEvent` that `evolve` understands.
 *
 * An event log is append-only: events written by last year's code stay in last year's shape. Instead
 * of rewriting history (a migration of the log), the read path **upcasts**: each stored event goes
 * through a pure function chosen by its `(type, version)` that returns the current shape. The decider
 * then only ever sees current events.
 *
 * Every event type has its own schema version, a positive integer; the writer stamps it when it
 * stores the event. The history of this account's schema:
 *
 * | stored `type` | `version` | `data` | upcast to |
 * | --- | --- | --- | --- |
 * | `AccountOpened` | 1 | `{ accountId, owner }` (no overdrafts yet) | `AccountOpened` with `overdraftLimit: 0` |
 * | `FundsDeposited` | 1 | `{ amount }` in whole currency units, up to 2 decimals (`12.5` = 12.50) | `MoneyDeposited` with `amount` in cents (`1250`) |
 * | `AccountOpened` | 2 | current | unchanged |
 * | `MoneyDeposited`, `MoneyWithdrawn`, `AccountClosed` | 1 | current | unchanged |
 *
 * (`CURRENT_EVENT_VERSIONS` is the last three rows.) **A missing `version` means 1**: events stored
 * before the writer stamped versions are all version 1 of their type (for the types that are still at
 * version 1, that is the current version).
 */
import type { AccountEvent } from './bank-account.js';

/** The schema version the writer stamps on each current event type. */
export const CURRENT_EVENT_VERSIONS = {
  AccountOpened: 2,
  MoneyDeposited: 1,
  MoneyWithdrawn: 1,
  AccountClosed: 1,
} as const satisfies Record<AccountEvent['type'], number>;

/** An event as read from the store: its type, its schema version (absent: 1), and its parsed JSON data. */
export interface StoredEvent {
  readonly type: string;
  readonly version?: number;
  readonly data: unknown;
}

/** A stored event whose `(type, version)` no upcaster knows: written by newer code, or corrupt. */
export class UnknownEventError extends Error {
  readonly code = 'UNKNOWN_EVENT';
  override readonly name = 'UnknownEventError';
  constructor(
    readonly type: string,
    /** The version as stored (`undefined` when absent). */
    readonly version: unknown,
  ) {
    super(`no upcaster for event type ${JSON.stringify(type)} version ${String(version)}`);
  }
}

/**
 * Returns the current-schema event `{ type, data }` for a stored one (only those two fields: the
 * version and anything else the store kept stay behind).
 *
 * - Current events pass through with equal content.
 * - `AccountOpened` v1 gains `overdraftLimit: 0`.
 * - `FundsDeposited` v1 becomes `MoneyDeposited` with the amount in exact cents. The amount must be a
 *   finite number > 0 with at most 2 decimal places (`12.5`, `0.29`, `1.15`); anything else
 *   (`1.005`, `NaN`, `Infinity`, `-5`, `0`) is a `RangeError` naming the value. The cents must be
 *   exact: `0.29 * 100` is `28.999999999999996` in floating point, and `Math.floor` of
 *   `1.15 * 100` is 114.
 * - Any other `(type, version)`: `UnknownEventError` naming both.
 *
 * Pure: never mutates `stored`, reads nothing but its argument.
 */
export function upcast(stored: StoredEvent): AccountEvent {
  const version = stored.version ?? 1;
  if (CURRENT_EVENT_VERSIONS[stored.type as AccountEvent['type']] === version) return stored as AccountEvent;
  const upcaster = UPCASTERS[`${stored.type}@${String(version)}`];
  if (upcaster === undefined) throw new UnknownEventError(stored.type, stored.version);
  return upcaster(stored.data);
}

/** One pure function per stored `(type, version)`, keyed `type@version`. */
const UPCASTERS: Readonly<Record<string, (data: unknown) => AccountEvent>> = {
  'AccountOpened@1': (data) => {
    const { accountId, owner } = data as { accountId: string; owner: string };
    return { type: 'AccountOpened', data: { accountId, owner, overdraftLimit: 0 } };
  },
  'FundsDeposited@1': (data) => ({
    type: 'MoneyDeposited',
    data: { amount: centsOf((data as { amount: unknown }).amount) },
  }),
};

/**
 * Whole currency units with up to two decimals → exact cents.
 *
 * `units * 100` is off by at most a few units in the last place (0.29 * 100 = 28.999999999999996),
 * far less than 0.5, so rounding to the nearest integer gives the intended cents. Then `cents / 100`
 * (a correctly rounded division) is the very double the writer parsed from "0.29" exactly when the
 * amount had at most two decimals; for `1.005` it is not, and the amount is refused rather than
 * silently rounded. (The strict `===` also refuses anything that is not a number, such as "12.5".)
 */
function centsOf(units: unknown): number {
  const cents = Math.round(Number(units) * 100);
  if (!(Number.isSafeInteger(cents) && cents > 0 && cents / 100 === units)) {
    throw new RangeError(
      `FundsDeposited v1 amount must be a finite number > 0 with at most 2 decimal places, got ${String(units)}`,
    );
  }
  return cents;
}
