import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AccountAlreadyOpenError,
  AccountClosedError,
  type AccountCommand,
  type AccountEvent,
  AccountNotOpenError,
  type BankAccountState,
  bankAccount,
  InsufficientFundsError,
  InvalidAmountError,
  NonZeroBalanceError,
} from './bank-account.js';
import { deciderSpecification, deepFreeze } from './decider-spec.js';

const spec = deciderSpecification(bankAccount);

// Commands
const open = (accountId = 'acc-1', owner = 'ada', overdraftLimit?: number): AccountCommand => ({
  type: 'OpenAccount',
  data: overdraftLimit === undefined ? { accountId, owner } : { accountId, owner, overdraftLimit },
});
const deposit = (amount: number): AccountCommand => ({ type: 'Deposit', data: { amount } });
const withdraw = (amount: number): AccountCommand => ({ type: 'Withdraw', data: { amount } });
const close: AccountCommand = { type: 'CloseAccount', data: {} };

// Events
const opened = (accountId = 'acc-1', owner = 'ada', overdraftLimit = 0): AccountEvent => ({
  type: 'AccountOpened',
  data: { accountId, owner, overdraftLimit },
});
const deposited = (amount: number): AccountEvent => ({ type: 'MoneyDeposited', data: { amount } });
const withdrawn = (amount: number): AccountEvent => ({ type: 'MoneyWithdrawn', data: { amount } });
const closed: AccountEvent = { type: 'AccountClosed', data: {} };

/** Histories in each status, for rules that must hold whatever the state. */
const HISTORIES: Record<'unopened' | 'open' | 'closed', AccountEvent[]> = {
  unopened: [],
  open: [opened('acc-1', 'ada', 100), deposited(500)],
  closed: [opened(), deposited(500), withdrawn(500), closed],
};

/** Every way an amount can be wrong: zero, negative, fractional, not a number, not finite, not safe. */
const BAD_AMOUNTS: unknown[] = [
  0,
  -1,
  1.5,
  0.01,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 53,
  '100',
];

/** The error classes are given: they must reach the caller with their name and a message that explains. */
function expectExplained(error: Error, name: string, ...details: (string | number)[]): void {
  expect(error.name, 'the error keeps its class name').toBe(name);
  for (const detail of details) expect(error.message, `the message says ${detail}`).toContain(String(detail));
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('bankAccount: initialState and evolve', () => {
  it('starts unopened', () => {
    expect(
      bankAccount.initialState(),
      'an account with no events is { status: "unopened" } and nothing else',
    ).toEqual({
      status: 'unopened',
    });
  });

  it('AccountOpened opens the account with a balance of 0 and the event’s id, owner and limit', () => {
    expect(spec.stateAfter([opened('acc-7', 'grace', 250)])).toEqual({
      status: 'open',
      accountId: 'acc-7',
      owner: 'grace',
      overdraftLimit: 250,
      balance: 0,
    } satisfies BankAccountState);
  });

  it('MoneyDeposited adds its amount to the balance', () => {
    expect(spec.stateAfter([opened(), deposited(1250)]), 'one deposit of 1250 cents').toEqual({
      status: 'open',
      accountId: 'acc-1',
      owner: 'ada',
      overdraftLimit: 0,
      balance: 1250,
    });
    expect(spec.stateAfter([opened(), deposited(1250), deposited(1)]).status).toBe('open');
    expect(
      (spec.stateAfter([opened(), deposited(1250), deposited(1)]) as { balance: number }).balance,
      'two deposits add up',
    ).toBe(1251);
  });

  it('MoneyWithdrawn subtracts its amount from the balance, below zero too', () => {
    expect(spec.stateAfter([opened('acc-1', 'ada', 500), deposited(100), withdrawn(300)])).toEqual({
      status: 'open',
      accountId: 'acc-1',
      owner: 'ada',
      overdraftLimit: 500,
      balance: -200,
    });
  });

  it('AccountClosed closes the account and keeps its other fields', () => {
    expect(
      spec.stateAfter([opened('acc-1', 'ada', 50), deposited(10), withdrawn(10), closed]),
      'evolve must handle AccountClosed: a default branch that returns the state unchanged leaves the account open',
    ).toEqual({ status: 'closed', accountId: 'acc-1', owner: 'ada', overdraftLimit: 50, balance: 0 });
  });

  it('throws a TypeError naming an event type it does not know (stored events go through upcast first)', () => {
    const state = spec.stateAfter([opened()]);
    const stray = { type: 'FundsDeposited', data: { amount: 12.5 } } as unknown as AccountEvent;
    expect(() => bankAccount.evolve(state, stray), 'an unknown event must not be silently ignored').toThrow(
      TypeError,
    );
    expect(() => bankAccount.evolve(state, stray)).toThrow(/FundsDeposited/);
  });
});

describe('bankAccount: OpenAccount', () => {
  it('opens an unopened account, with the overdraft limit the command gives', () => {
    spec
      .given([])
      .when(open('acc-1', 'ada', 300))
      .then([opened('acc-1', 'ada', 300)]);
  });

  it('defaults the overdraft limit to 0, and AccountOpened always carries it', () => {
    spec
      .given([])
      .when(open('acc-1', 'ada'))
      .then([opened('acc-1', 'ada', 0)]);
    const [event] = bankAccount.decide(open('acc-2', 'bob'), bankAccount.initialState());
    expect(
      JSON.parse(JSON.stringify(event)),
      'the event must survive a JSON round trip unchanged: overdraftLimit 0, not undefined (JSON drops undefined)',
    ).toEqual(opened('acc-2', 'bob', 0));
  });

  it('is a no-op when re-sent with the same account id and owner (whatever its overdraft limit)', () => {
    spec
      .given([opened('acc-1', 'ada', 100)])
      .when(open('acc-1', 'ada', 100))
      .thenNothingHappened();
    spec
      .given([opened('acc-1', 'ada', 100), deposited(5)])
      .when(open('acc-1', 'ada'))
      .thenNothingHappened();
    spec
      .given([opened('acc-1', 'ada', 100)])
      .when(open('acc-1', 'ada', 900))
      .thenNothingHappened();
  });

  it('refuses another owner or another account id with AccountAlreadyOpenError naming the open account', () => {
    const error = spec
      .given([opened('acc-1', 'ada')])
      .when(open('acc-1', 'mallory'))
      .thenThrows(AccountAlreadyOpenError, (e) => e.accountId === 'acc-1' && e.owner === 'ada');
    expect(error.code).toBe('ACCOUNT_ALREADY_OPEN');
    expectExplained(error, 'AccountAlreadyOpenError', 'acc-1', 'ada');
    spec
      .given([opened('acc-1', 'ada')])
      .when(open('acc-2', 'ada'))
      .thenThrows(AccountAlreadyOpenError, (e) => e.accountId === 'acc-1' && e.owner === 'ada');
  });

  it('refuses to reopen a closed account with AccountClosedError, even for the same owner', () => {
    for (const command of [open('acc-1', 'ada'), open('acc-1', 'bob'), open('acc-9', 'ada')]) {
      const error = spec
        .given(HISTORIES.closed)
        .when(command)
        .thenThrows(AccountClosedError, (e) => e.accountId === 'acc-1' && e.commandType === 'OpenAccount');
      expect(error.code).toBe('ACCOUNT_CLOSED');
      expectExplained(error, 'AccountClosedError', 'OpenAccount', 'acc-1');
    }
  });

  it('refuses an empty or non-string accountId or owner with a TypeError naming the field and the value', () => {
    const cases: [string, unknown, RegExp][] = [
      ['accountId', '', /accountId.*""/],
      ['accountId', 42, /accountId.*42/],
      ['accountId', undefined, /accountId.*undefined/],
      ['owner', '', /owner.*""/],
      ['owner', 7, /owner.*7/],
      ['owner', null, /owner.*null/],
    ];
    for (const [field, value, message] of cases) {
      const command = {
        type: 'OpenAccount',
        data: { accountId: 'acc-1', owner: 'ada', [field]: value },
      } as AccountCommand;
      for (const [status, history] of Object.entries(HISTORIES)) {
        const error = spec.given(history).when(command).thenThrows(TypeError);
        expect(
          error.message,
          `${field} ${String(value)} on an ${status} account: the message names the field and the value`,
        ).toMatch(message);
      }
    }
  });

  it('refuses an overdraftLimit that is not a safe integer >= 0 with a RangeError naming it and the value', () => {
    for (const limit of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '0']) {
      const command = {
        type: 'OpenAccount',
        data: { accountId: 'acc-1', owner: 'ada', overdraftLimit: limit },
      } as AccountCommand;
      for (const [status, history] of Object.entries(HISTORIES)) {
        const error = spec.given(history).when(command).thenThrows(RangeError);
        expect(error.message, `overdraftLimit ${String(limit)} on an ${status} account`).toMatch(
          new RegExp(`overdraftLimit.*${String(limit).replace('+', '\\+')}`),
        );
      }
    }
    spec
      .given([])
      .when(open('acc-1', 'ada', Number.MAX_SAFE_INTEGER))
      .then([opened('acc-1', 'ada', Number.MAX_SAFE_INTEGER)]);
  });
});

describe('bankAccount: Deposit and Withdraw', () => {
  it('deposits into an open account', () => {
    spec
      .given([opened()])
      .when(deposit(1250))
      .then([deposited(1250)]);
    spec
      .given([opened(), deposited(1)])
      .when(deposit(Number.MAX_SAFE_INTEGER - 1))
      .then([deposited(Number.MAX_SAFE_INTEGER - 1)]);
  });

  it('refuses Deposit, Withdraw and CloseAccount on an account that was never opened', () => {
    for (const command of [deposit(100), withdraw(100), close]) {
      const error = spec
        .given([])
        .when(command)
        .thenThrows(AccountNotOpenError, (e) => e.commandType === command.type);
      expect(error.code, `${command.type} before OpenAccount`).toBe('ACCOUNT_NOT_OPEN');
      expectExplained(error, 'AccountNotOpenError', command.type);
    }
  });

  it('refuses Deposit and Withdraw on a closed account with AccountClosedError', () => {
    for (const command of [deposit(100), withdraw(100), withdraw(1)]) {
      const error = spec
        .given(HISTORIES.closed)
        .when(command)
        .thenThrows(AccountClosedError, (e) => e.accountId === 'acc-1' && e.commandType === command.type);
      expect(error.code, `${command.type} on a closed account`).toBe('ACCOUNT_CLOSED');
      expectExplained(error, 'AccountClosedError', command.type, 'acc-1');
    }
  });

  it('withdraws up to the balance when there is no overdraft', () => {
    spec
      .given([opened(), deposited(500)])
      .when(withdraw(200))
      .then([withdrawn(200)]);
    spec
      .given([opened(), deposited(500)])
      .when(withdraw(500))
      .then([withdrawn(500)]);
    const error = spec
      .given([opened(), deposited(500)])
      .when(withdraw(501))
      .thenThrows(
        InsufficientFundsError,
        (e) => e.balance === 500 && e.overdraftLimit === 0 && e.requested === 501,
      );
    expect(error.code).toBe('INSUFFICIENT_FUNDS');
    expectExplained(error, 'InsufficientFundsError', 501, 500);
  });

  it('withdraws down to exactly -overdraftLimit, and not one cent further', () => {
    const history = [opened('acc-1', 'ada', 300), deposited(200)];
    spec
      .given(history)
      .when(withdraw(400))
      .then([withdrawn(400)]);
    spec
      .given(history)
      .when(withdraw(500))
      .then([withdrawn(500)]);
    const error = spec
      .given(history)
      .when(withdraw(501))
      .thenThrows(
        InsufficientFundsError,
        (e) => e.balance === 200 && e.overdraftLimit === 300 && e.requested === 501,
      );
    expectExplained(error, 'InsufficientFundsError', 501, 200, 300, 'at most 500');
  });

  it('counts what is already overdrawn against the limit', () => {
    const overdrawn = [opened('acc-1', 'ada', 300), withdrawn(250)];
    spec
      .given(overdrawn)
      .when(withdraw(50))
      .then([withdrawn(50)]);
    spec
      .given(overdrawn)
      .when(withdraw(51))
      .thenThrows(
        InsufficientFundsError,
        (e) => e.balance === -250 && e.overdraftLimit === 300 && e.requested === 51,
      );
    spec
      .given([...overdrawn, withdrawn(50)])
      .when(withdraw(1))
      .thenThrows(
        InsufficientFundsError,
        (e) => e.balance === -300 && e.overdraftLimit === 300 && e.requested === 1,
      );
  });

  it('refuses a bad amount with InvalidAmountError naming the value, for Deposit and Withdraw, in every state', () => {
    for (const amount of BAD_AMOUNTS) {
      for (const make of [deposit, withdraw]) {
        const command = make(amount as number);
        for (const [status, history] of Object.entries(HISTORIES)) {
          const error = spec
            .given(history)
            .when(command)
            .thenThrows(InvalidAmountError, (e) => Object.is(e.value, amount));
          expect(error, 'InvalidAmountError is a RangeError').toBeInstanceOf(RangeError);
          expect(error.code).toBe('INVALID_AMOUNT');
          expect(error.name).toBe('InvalidAmountError');
          expect(
            error.message,
            `${command.type} ${String(amount)} on an ${status} account: validation comes first, and the message names the value`,
          ).toContain(String(amount));
        }
      }
    }
  });
});

describe('bankAccount: CloseAccount', () => {
  it('closes an open account whose balance is 0', () => {
    spec.given([opened()]).when(close).then([closed]);
    spec
      .given([opened('acc-1', 'ada', 100), deposited(300), withdrawn(350), deposited(50)])
      .when(close)
      .then([closed]);
  });

  it('refuses while money is left, or owed, with NonZeroBalanceError carrying the balance', () => {
    const error = spec
      .given([opened(), deposited(300)])
      .when(close)
      .thenThrows(NonZeroBalanceError, (e) => e.balance === 300);
    expect(error.code).toBe('NON_ZERO_BALANCE');
    expectExplained(error, 'NonZeroBalanceError', 300);
    spec
      .given([opened('acc-1', 'ada', 500), withdrawn(300)])
      .when(close)
      .thenThrows(NonZeroBalanceError, (e) => e.balance === -300);
  });

  it('is a no-op on an account that is already closed (a re-sent CloseAccount)', () => {
    spec.given(HISTORIES.closed).when(close).thenNothingHappened();
  });
});

describe('bankAccount: decide, whatever it is asked', () => {
  it('refuses a command type it does not know with a TypeError naming the type', () => {
    const transfer = { type: 'Transfer', data: { amount: 5 } } as unknown as AccountCommand;
    for (const history of Object.values(HISTORIES)) {
      const error = spec.given(history).when(transfer).thenThrows(TypeError);
      expect(error.message).toContain('Transfer');
    }
  });

  it('never mutates the state or the command it is given', () => {
    const commands = [
      open(),
      open('acc-1', 'bob'),
      deposit(100),
      withdraw(100),
      withdraw(10_000),
      close,
      deposit(0),
    ];
    for (const history of Object.values(HISTORIES)) {
      for (const command of commands) {
        // Built with evolve but not frozen: a mutation shows as a difference, not as a TypeError.
        const state = history.reduce(bankAccount.evolve, bankAccount.initialState());
        const before = structuredClone(state);
        const commandBefore = structuredClone(command);
        try {
          bankAccount.decide(command, state);
        } catch {
          // Refusals are fine here; only the inputs matter.
        }
        expect(state, `decide(${command.type}) must leave the state it was given as it was`).toEqual(before);
        expect(command, `decide(${command.type}) must leave the command as it was`).toEqual(commandBefore);
      }
    }
    // And through the harness, which deep-freezes every input: a mutation there is a TypeError.
    spec
      .given([opened(), deposited(900)])
      .when(withdraw(400))
      .then([withdrawn(400)]);
  });

  it('evolve returns a new state and leaves the one it was given as it was', () => {
    let state = bankAccount.initialState();
    for (const event of [opened('acc-1', 'ada', 100), deposited(300), withdrawn(300), closed]) {
      const before = structuredClone(state);
      const next = bankAccount.evolve(state, event);
      expect(state, `evolve(${event.type}) must not change its input state`).toEqual(before);
      expect(next, `evolve(${event.type}) must return a different state`).not.toEqual(before);
      state = next;
    }
  });

  it('reads no clock and no randomness: the same command on the same state gives the same events, at any time', () => {
    const decideAt = (iso: string, random: number) => {
      vi.useFakeTimers({ now: new Date(iso) });
      vi.spyOn(Math, 'random').mockReturnValue(random);
      const decisions = [
        bankAccount.decide(open('acc-1', 'ada', 10), bankAccount.initialState()),
        bankAccount.decide(deposit(700), spec.stateAfter([opened()])),
        bankAccount.decide(withdraw(700), spec.stateAfter([opened(), deposited(700)])),
        bankAccount.decide(close, spec.stateAfter([opened()])),
      ];
      vi.restoreAllMocks();
      vi.useRealTimers();
      return decisions;
    };
    const first = decideAt('2024-01-01T00:00:00Z', 0.1);
    const second = decideAt('2031-07-15T12:34:56Z', 0.9);
    expect(
      second,
      'events must not carry a timestamp or a random id: that is the event store’s metadata',
    ).toEqual(first);
    expect(JSON.parse(JSON.stringify(first)), 'events are plain JSON: nothing lost in a round trip').toEqual(
      first,
    );
    expect(first).toEqual([[opened('acc-1', 'ada', 10)], [deposited(700)], [withdrawn(700)], [closed]]);
  });
});

describe('bankAccount: replay', () => {
  type Step =
    | { kind: 'command'; command: AccountCommand }
    | { kind: 'withdraw-to-zero' }
    | { kind: 'withdraw-to-limit' };

  const steps: fc.Arbitrary<Step> = fc.oneof(
    fc
      .integer({ min: 1, max: 5_000 })
      .map((amount) => ({ kind: 'command', command: deposit(amount) }) as const),
    fc
      .integer({ min: 1, max: 8_000 })
      .map((amount) => ({ kind: 'command', command: withdraw(amount) }) as const),
    fc.constant({ kind: 'command', command: close } as const),
    fc.constant({ kind: 'command', command: open('acc-1', 'ada') } as const),
    fc.constant({ kind: 'withdraw-to-zero' } as const),
    fc.constant({ kind: 'withdraw-to-limit' } as const),
  );

  it('property: for random command sequences, the balance is Σ deposits − Σ withdrawals, never below −overdraftLimit, and replay agrees', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3_000 }),
        fc.array(steps, { maxLength: 40 }),
        (limit, sequence) => {
          const recorded: AccountEvent[] = [];
          let state = deepFreeze(bankAccount.initialState());
          const apply = (command: AccountCommand): AccountEvent[] | Error => {
            let events: AccountEvent[];
            try {
              events = bankAccount.decide(deepFreeze(command), state);
            } catch (error) {
              return error as Error;
            }
            for (const event of events) state = deepFreeze(bankAccount.evolve(state, deepFreeze(event)));
            recorded.push(...events);
            return events;
          };

          expect(apply(open('acc-1', 'ada', limit))).toEqual([opened('acc-1', 'ada', limit)]);
          // The model: what the contract says should happen.
          let balance = 0;
          let isClosed = false;
          for (const step of sequence) {
            const command =
              step.kind === 'command'
                ? step.command
                : withdraw(Math.max(1, step.kind === 'withdraw-to-zero' ? balance : balance + limit));
            const outcome = apply(command);
            const what = `${command.type} ${JSON.stringify(command.data)} at balance ${balance}, limit ${limit}${isClosed ? ', closed' : ''}`;
            if (command.type === 'Deposit') {
              expect(outcome, what).toEqual(
                isClosed ? expect.any(AccountClosedError) : [deposited(command.data.amount)],
              );
              if (!isClosed) balance += command.data.amount;
            } else if (command.type === 'Withdraw') {
              const allowed = !isClosed && balance - command.data.amount >= -limit;
              expect(outcome, what).toEqual(
                isClosed
                  ? expect.any(AccountClosedError)
                  : allowed
                    ? [withdrawn(command.data.amount)]
                    : expect.any(InsufficientFundsError),
              );
              if (allowed) balance -= command.data.amount;
            } else if (command.type === 'CloseAccount') {
              expect(outcome, what).toEqual(
                isClosed ? [] : balance === 0 ? [closed] : expect.any(NonZeroBalanceError),
              );
              if (balance === 0) isClosed = true;
            } else {
              expect(outcome, what).toEqual(isClosed ? expect.any(AccountClosedError) : []);
            }

            const sum = recorded.reduce(
              (total, e) =>
                total +
                (e.type === 'MoneyDeposited'
                  ? e.data.amount
                  : e.type === 'MoneyWithdrawn'
                    ? -e.data.amount
                    : 0),
              0,
            );
            expect(state, `after ${what}`).toEqual({
              status: isClosed ? 'closed' : 'open',
              accountId: 'acc-1',
              owner: 'ada',
              overdraftLimit: limit,
              balance: sum,
            });
            expect(sum, 'the balance never goes below -overdraftLimit').toBeGreaterThanOrEqual(-limit);
          }

          expect(
            recorded.reduce(bankAccount.evolve, bankAccount.initialState()),
            'replaying every recorded event from initialState gives the state the account was built up to, one decision at a time',
          ).toEqual(state);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gives the same state however the stream is cut into folds', () => {
    const stream = [opened('acc-1', 'ada', 200), deposited(500), withdrawn(650), deposited(150), closed];
    const whole = stream.reduce(bankAccount.evolve, bankAccount.initialState());
    for (let cut = 0; cut <= stream.length; cut++) {
      const middle = deepFreeze(stream.slice(0, cut).reduce(bankAccount.evolve, bankAccount.initialState()));
      expect(
        stream.slice(cut).reduce(bankAccount.evolve, middle),
        `folding ${cut} events, then the rest`,
      ).toEqual(whole);
    }
    expect(whole).toEqual({
      status: 'closed',
      accountId: 'acc-1',
      owner: 'ada',
      overdraftLimit: 200,
      balance: 0,
    });
  });
});
