/**
 * A bank account as a decider: the pure core of an event-sourced aggregate.
 *
 * Commands are requests (`OpenAccount`, `Deposit`, `Withdraw`, `CloseAccount`); events are facts in
 * the past tense (`AccountOpened`, `MoneyDeposited`, `MoneyWithdrawn`, `AccountClosed`). Both have the
 * `{ type, data }` shape Emmett and KurrentDB use, and both are plain JSON: no `Date`, no `undefined`,
 * no class instances, so what `decide` returns can be stored and read back unchanged.
 *
 * **Money** is an integer number of minor units (cents), always: `1250` is 12.50. Amounts and limits
 * are `number`s that must be safe integers (`Number.isSafeInteger`), so sums stay exact.
 *
 * **Events carry what happened, nothing derived**: no `balanceAfter`, no timestamp. The balance is
 * what `evolve` computes from the amounts, and the time an event was recorded is the event store's
 * metadata. (A derived field is also one that an upcaster could not fill in for events stored before
 * it existed.)
 *
 * See `decider-spec.ts` for the `Decider` shape and the given/when/then harness.
 */
import type { Decider } from './decider-spec.js';

// ---------------------------------------------------------------------------------------------
// Commands

/** Opens the account. `overdraftLimit`: how far below zero the balance may go, in cents (default 0). */
export type OpenAccount = {
  readonly type: 'OpenAccount';
  readonly data: { readonly accountId: string; readonly owner: string; readonly overdraftLimit?: number };
};
/** Puts `amount` cents into the account. */
export type Deposit = { readonly type: 'Deposit'; readonly data: { readonly amount: number } };
/** Takes `amount` cents out of the account. */
export type Withdraw = { readonly type: 'Withdraw'; readonly data: { readonly amount: number } };
/** Closes the account; its balance must be exactly 0. */
export type CloseAccount = { readonly type: 'CloseAccount'; readonly data: Record<string, never> };

export type AccountCommand = OpenAccount | Deposit | Withdraw | CloseAccount;

// ---------------------------------------------------------------------------------------------
// Events (the current schema; see upcast.ts for the older one)

/** The account exists. `overdraftLimit` is always present: the command's value, or 0. */
export type AccountOpened = {
  readonly type: 'AccountOpened';
  readonly data: { readonly accountId: string; readonly owner: string; readonly overdraftLimit: number };
};
/** `amount` cents went in. */
export type MoneyDeposited = { readonly type: 'MoneyDeposited'; readonly data: { readonly amount: number } };
/** `amount` cents went out. */
export type MoneyWithdrawn = { readonly type: 'MoneyWithdrawn'; readonly data: { readonly amount: number } };
/** The account is closed: it accepts no more money. Its data is `{}`. */
export type AccountClosed = { readonly type: 'AccountClosed'; readonly data: Record<string, never> };

export type AccountEvent = AccountOpened | MoneyDeposited | MoneyWithdrawn | AccountClosed;

// ---------------------------------------------------------------------------------------------
// State

/**
 * What `evolve` computes from the events, with exactly these fields:
 *
 * - before `AccountOpened`: `{ status: 'unopened' }` (this is `initialState()`);
 * - after it: `{ status: 'open', accountId, owner, overdraftLimit, balance }`, where `balance` (cents,
 *   may be negative down to `-overdraftLimit`) is the sum of the deposits minus the withdrawals;
 * - after `AccountClosed`: the same fields with `status: 'closed'` (the balance, 0, is kept).
 */
export type BankAccountState =
  | { readonly status: 'unopened' }
  | {
      readonly status: 'open' | 'closed';
      readonly accountId: string;
      readonly owner: string;
      readonly overdraftLimit: number;
      readonly balance: number;
    };

// ---------------------------------------------------------------------------------------------
// Errors: a refused command. Each has a `code` and the details a caller needs to explain it.

/** `Deposit`, `Withdraw` or `CloseAccount` on an account that was never opened. */
export class AccountNotOpenError extends Error {
  readonly code = 'ACCOUNT_NOT_OPEN';
  override readonly name = 'AccountNotOpenError';
  constructor(
    /** The refused command's type. */
    readonly commandType: AccountCommand['type'],
  ) {
    super(`${commandType} refused: the account is not open yet (send OpenAccount first)`);
  }
}

/** `OpenAccount`, `Deposit` or `Withdraw` on a closed account. */
export class AccountClosedError extends Error {
  readonly code = 'ACCOUNT_CLOSED';
  override readonly name = 'AccountClosedError';
  constructor(
    readonly accountId: string,
    /** The refused command's type. */
    readonly commandType: AccountCommand['type'],
  ) {
    super(`${commandType} refused: account ${accountId} is closed`);
  }
}

/** `OpenAccount` on an open account with a different account id or owner. */
export class AccountAlreadyOpenError extends Error {
  readonly code = 'ACCOUNT_ALREADY_OPEN';
  override readonly name = 'AccountAlreadyOpenError';
  constructor(
    /** The open account's id. */
    readonly accountId: string,
    /** The open account's owner. */
    readonly owner: string,
  ) {
    super(`OpenAccount refused: this stream already holds account ${accountId}, opened for ${owner}`);
  }
}

/** `Withdraw` of more than `balance + overdraftLimit`. */
export class InsufficientFundsError extends Error {
  readonly code = 'INSUFFICIENT_FUNDS';
  override readonly name = 'InsufficientFundsError';
  constructor(
    /** The balance before the withdrawal, in cents. */
    readonly balance: number,
    /** The account's overdraft limit, in cents. */
    readonly overdraftLimit: number,
    /** The amount asked for, in cents. */
    readonly requested: number,
  ) {
    super(
      `Withdraw of ${requested} refused: the balance is ${balance} and the overdraft limit ${overdraftLimit}, so at most ${balance + overdraftLimit} can be withdrawn`,
    );
  }
}

/** `CloseAccount` while the balance is not 0 (positive: money left; negative: money owed). */
export class NonZeroBalanceError extends Error {
  readonly code = 'NON_ZERO_BALANCE';
  override readonly name = 'NonZeroBalanceError';
  constructor(
    /** The balance, in cents. */
    readonly balance: number,
  ) {
    super(
      `CloseAccount refused: the balance is ${balance}, and only an account with a balance of 0 can be closed`,
    );
  }
}

/** An `amount` that is not a safe integer number of cents greater than 0. */
export class InvalidAmountError extends RangeError {
  readonly code = 'INVALID_AMOUNT';
  override readonly name = 'InvalidAmountError';
  constructor(
    /** The amount as given. */
    readonly value: unknown,
  ) {
    super(`amount must be a safe integer number of cents greater than 0, got ${show(value)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The decider

/**
 * The bank account decider.
 *
 * `decide(command, state)` first **validates the command** whatever the state (a malformed command is
 * refused the same way on any account), then applies the rules:
 *
 * | command | unopened | open | closed |
 * | --- | --- | --- | --- |
 * | `OpenAccount` | `[AccountOpened]` | `[]` if `accountId` and `owner` both equal the open account's (a re-sent command; its `overdraftLimit` is not compared), else `AccountAlreadyOpenError` | `AccountClosedError` |
 * | `Deposit` | `AccountNotOpenError` | `[MoneyDeposited]` | `AccountClosedError` |
 * | `Withdraw` | `AccountNotOpenError` | `[MoneyWithdrawn]` if `amount <= balance + overdraftLimit` (exactly the limit is allowed), else `InsufficientFundsError` | `AccountClosedError` |
 * | `CloseAccount` | `AccountNotOpenError` | `[AccountClosed]` if `balance === 0`, else `NonZeroBalanceError` | `[]` (already closed: a no-op) |
 *
 * Validation: `accountId` and `owner` must be non-empty strings (`TypeError` naming the field and the
 * value); `overdraftLimit`, when given, a safe integer >= 0 (`RangeError` naming `overdraftLimit` and
 * the value; absent means 0, and `AccountOpened` always carries it); `amount` of `Deposit` and
 * `Withdraw` a safe integer > 0 (`InvalidAmountError` naming the value: 0, -1, 1.5, NaN, Infinity and
 * 2**53 are all refused). A command whose `type` is none of the four: `TypeError` naming the type.
 *
 * `evolve(state, event)` handles every event type (see {@link BankAccountState}), and throws a
 * `TypeError` naming the type for an event that is not an `AccountEvent` (a stored event must go
 * through `upcast` first). It trusts its events: they are facts that `decide` already checked (what it
 * does with a stream `decide` cannot produce, such as a deposit before `AccountOpened`, is up to you).
 *
 * Both are pure: they never mutate their arguments (they return new objects), never read the clock or
 * randomness, and give equal results for equal arguments. So the state of an account is the same
 * whether you fold its events one decision at a time or replay the whole stream at once.
 */
export const bankAccount: Decider<BankAccountState, AccountCommand, AccountEvent> = {
  initialState: () => ({ status: 'unopened' }),
  decide,
  evolve,
};

function decide(command: AccountCommand, state: BankAccountState): AccountEvent[] {
  switch (command.type) {
    case 'OpenAccount':
      return open(command.data, state);
    case 'Deposit':
      return deposit(validAmount(command.data.amount), state);
    case 'Withdraw':
      return withdraw(validAmount(command.data.amount), state);
    case 'CloseAccount':
      return close(state);
    default:
      throw new TypeError(`unknown command type ${show((command as { type: unknown }).type)}`);
  }
}

function open(data: OpenAccount['data'], state: BankAccountState): AccountEvent[] {
  const { accountId, owner } = data;
  switch (state.status) {
    case 'unopened': {
      const overdraftLimit = validOverdraftLimit(data.overdraftLimit);
      nonEmptyString('accountId', accountId);
      nonEmptyString('owner', owner);
      return [{ type: 'AccountOpened', data: { accountId, owner, overdraftLimit } }];
    }
    case 'open':
      if (state.accountId === accountId && state.owner === owner) return [];
      throw new AccountAlreadyOpenError(state.accountId, state.owner);
    case 'closed':
      throw new AccountClosedError(state.accountId, 'OpenAccount');
  }
}

function deposit(amount: number, state: BankAccountState): AccountEvent[] {
  assertOpen(state, 'Deposit');
  return [{ type: 'MoneyDeposited', data: { amount } }];
}

function withdraw(amount: number, state: BankAccountState): AccountEvent[] {
  assertOpen(state, 'Withdraw');
  if (amount > state.balance + state.overdraftLimit) {
    throw new InsufficientFundsError(state.balance, state.overdraftLimit, amount);
  }
  return [{ type: 'MoneyWithdrawn', data: { amount } }];
}

function close(state: BankAccountState): AccountEvent[] {
  if (state.status === 'closed') return [];
  assertOpen(state, 'CloseAccount');
  if (state.balance !== 0) throw new NonZeroBalanceError(state.balance);
  return [{ type: 'AccountClosed', data: {} }];
}

/** The state of an account that has been opened (open or closed). */
type OpenedState = Extract<BankAccountState, { status: 'open' | 'closed' }>;

/** Narrows `state` to an open account, or throws the error that says why it is not. */
function assertOpen(
  state: BankAccountState,
  commandType: AccountCommand['type'],
): asserts state is OpenedState {
  if (state.status === 'unopened') throw new AccountNotOpenError(commandType);
  if (state.status === 'closed') throw new AccountClosedError(state.accountId, commandType);
}

function evolve(state: BankAccountState, event: AccountEvent): BankAccountState {
  switch (event.type) {
    case 'AccountOpened': {
      const { accountId, owner, overdraftLimit } = event.data;
      return { status: 'open', accountId, owner, overdraftLimit, balance: 0 };
    }
    case 'MoneyDeposited':
      return withBalance(state, event.data.amount);
    case 'MoneyWithdrawn':
      return withBalance(state, -event.data.amount);
    case 'AccountClosed':
      return state.status === 'unopened' ? state : { ...state, status: 'closed' };
    default:
      throw new TypeError(
        `unknown event type ${show((event as { type: unknown }).type)}: upcast stored events first`,
      );
  }
}

/** `state` with `delta` cents added to its balance (a stream never moves money before AccountOpened). */
function withBalance(state: BankAccountState, delta: number): BankAccountState {
  return state.status === 'unopened' ? state : { ...state, balance: state.balance + delta };
}

// ---------------------------------------------------------------------------------------------
// Validation

function validAmount(amount: unknown): number {
  if (!(Number.isSafeInteger(amount) && (amount as number) > 0)) throw new InvalidAmountError(amount);
  return amount as number;
}

function validOverdraftLimit(limit: unknown): number {
  if (limit === undefined) return 0;
  if (!(Number.isSafeInteger(limit) && (limit as number) >= 0)) {
    throw new RangeError(`overdraftLimit must be a safe integer number of cents >= 0, got ${show(limit)}`);
  }
  return limit as number;
}

function nonEmptyString(field: 'accountId' | 'owner', value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${field} must be a non-empty string, got ${show(value)}`);
  }
  return value;
}

/** A value as it reads in an error message: strings quoted, numbers as JavaScript prints them. */
function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
