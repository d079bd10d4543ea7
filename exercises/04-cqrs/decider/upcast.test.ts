import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AccountEvent, bankAccount } from './bank-account.js';
import { deepFreeze } from './decider-spec.js';
import { type StoredEvent, UnknownEventError, upcast } from './upcast.js';

/** Upcasts a deep-frozen copy and checks the input came out unchanged: upcast must be pure. */
function upcastPure(stored: StoredEvent): AccountEvent {
  const input = deepFreeze(structuredClone(stored));
  const result = upcast(input);
  expect(input, 'upcast must not change the stored event it reads').toEqual(stored);
  return result;
}

describe('upcast: current events', () => {
  const current: StoredEvent[] = [
    { type: 'AccountOpened', version: 2, data: { accountId: 'acc-1', owner: 'ada', overdraftLimit: 300 } },
    { type: 'MoneyDeposited', version: 1, data: { amount: 1250 } },
    { type: 'MoneyWithdrawn', version: 1, data: { amount: 99 } },
    { type: 'AccountClosed', version: 1, data: {} },
  ];

  it('passes every current event type through as { type, data }, with equal content', () => {
    for (const stored of current) {
      expect(
        upcastPure(stored),
        `${stored.type} v${stored.version} is current: only the version stays behind`,
      ).toStrictEqual({ type: stored.type, data: stored.data });
    }
  });

  it('reads a missing version as 1, which is current for the types still at version 1', () => {
    for (const stored of current.slice(1)) {
      const { version, ...unversioned } = stored;
      expect(upcastPure(unversioned), `${stored.type} without a version`).toStrictEqual({
        type: stored.type,
        data: stored.data,
      });
    }
  });

  it('drops whatever else the store kept beside type, version and data', () => {
    const stored = { type: 'MoneyWithdrawn', version: 1, data: { amount: 5 }, position: 7, recordedAt: 'x' };
    expect(upcastPure(stored)).toStrictEqual({ type: 'MoneyWithdrawn', data: { amount: 5 } });
  });
});

describe('upcast: AccountOpened v1', () => {
  it('gains overdraftLimit 0, with an explicit version 1 or none', () => {
    const expected = { type: 'AccountOpened', data: { accountId: 'acc-1', owner: 'ada', overdraftLimit: 0 } };
    expect(
      upcastPure({ type: 'AccountOpened', version: 1, data: { accountId: 'acc-1', owner: 'ada' } }),
    ).toStrictEqual(expected);
    expect(
      upcastPure({ type: 'AccountOpened', data: { accountId: 'acc-1', owner: 'ada' } }),
      'an AccountOpened without a version was written before versions were stamped: it is version 1',
    ).toStrictEqual(expected);
  });
});

describe('upcast: FundsDeposited v1 (whole units, up to 2 decimals)', () => {
  const funds = (amount: unknown, version?: number): StoredEvent =>
    version === undefined
      ? { type: 'FundsDeposited', data: { amount } }
      : { type: 'FundsDeposited', version, data: { amount } };

  it('becomes MoneyDeposited with the amount in exact cents, even where amount * 100 is not exact', () => {
    const cases: [number, number][] = [
      [12.5, 1250],
      [12, 1200],
      [0.01, 1],
      [0.29, 29], // 0.29 * 100 = 28.999999999999996
      [1.15, 115], // 1.15 * 100 = 114.99999999999999, Math.floor gives 114
      [4.35, 435], // 4.35 * 100 = 434.99999999999994
      [0.07, 7], // 0.07 * 100 = 7.000000000000001
      [1234567.89, 123456789],
    ];
    for (const [units, cents] of cases) {
      for (const version of [1, undefined]) {
        expect(upcastPure(funds(units, version)), `${units} units are exactly ${cents} cents`).toStrictEqual({
          type: 'MoneyDeposited',
          data: { amount: cents },
        });
      }
    }
  });

  it('property: every amount with at most 2 decimals comes back as exactly its cents', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 13 }), (cents) => {
        const units = cents / 100; // the double a writer gets from JSON.parse of "<units>.<cc>"
        expect(upcast(funds(units, 1)), `${units}`).toStrictEqual({
          type: 'MoneyDeposited',
          data: { amount: cents },
        });
      }),
      { numRuns: 500 },
    );
  });

  it('refuses an amount with more than 2 decimals, not finite, not positive or not a number: a RangeError naming it', () => {
    for (const amount of [
      1.005,
      0.001,
      12.345,
      0.1 + 0.2,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -5,
      0,
      1e300,
      '12.5',
    ]) {
      expect(
        () => upcast(funds(amount, 1)),
        `FundsDeposited amount ${String(amount)} must be refused`,
      ).toThrow(RangeError);
      expect(() => upcast(funds(amount, 1))).toThrow(String(amount));
    }
  });

  it('property: every amount with a third decimal is refused, never rounded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 10 }), fc.integer({ min: 1, max: 9 }), (tenths, digit) => {
        const units = (tenths * 10 + digit) / 1000;
        expect(() => upcast(funds(units)), `${units} has 3 decimals`).toThrow(RangeError);
      }),
      { numRuns: 500 },
    );
  });
});

describe('upcast: unknown events', () => {
  it('refuses any (type, version) without an upcaster with UnknownEventError naming both', () => {
    const unknown: StoredEvent[] = [
      { type: 'Transfer', version: 1, data: {} },
      { type: 'Transfer', data: {} },
      { type: 'FundsDeposited', version: 2, data: { amount: 1 } },
      { type: 'AccountOpened', version: 3, data: { accountId: 'a', owner: 'b', overdraftLimit: 0 } },
      { type: 'MoneyDeposited', version: 2, data: { amount: 1 } },
      { type: 'MoneyWithdrawn', version: 2, data: { amount: 1 } },
      { type: 'AccountClosed', version: 2, data: {} },
      { type: 'MoneyDeposited', version: 0, data: { amount: 1 } },
    ];
    for (const stored of unknown) {
      const what = `${stored.type} version ${String(stored.version)}`;
      let caught: unknown;
      try {
        upcast(stored);
      } catch (error) {
        caught = error;
      }
      expect(caught, `${what} has no upcaster: it must be refused, not passed on`).toBeInstanceOf(
        UnknownEventError,
      );
      const error = caught as UnknownEventError;
      expect([error.code, error.type, error.version], what).toEqual([
        'UNKNOWN_EVENT',
        stored.type,
        stored.version,
      ]);
      expect(error.name).toBe('UnknownEventError');
      expect(error.message, 'the message names the type').toContain(stored.type);
      expect(error.message, 'the message names the version').toContain(String(stored.version));
    }
  });
});

describe('upcast: a legacy stream', () => {
  it('replays through upcast and evolve into the state today’s events would give, and twice gives the same', () => {
    const stream: StoredEvent[] = deepFreeze([
      { type: 'AccountOpened', data: { accountId: 'acc-1', owner: 'ada' } },
      { type: 'FundsDeposited', data: { amount: 0.29 } },
      { type: 'FundsDeposited', version: 1, data: { amount: 1.15 } },
      { type: 'MoneyWithdrawn', version: 1, data: { amount: 44 } },
      { type: 'MoneyDeposited', data: { amount: 5 } },
    ]);
    const replay = () => stream.map((e) => upcast(e)).reduce(bankAccount.evolve, bankAccount.initialState());
    const first = replay();
    expect(first).toEqual({
      status: 'open',
      accountId: 'acc-1',
      owner: 'ada',
      overdraftLimit: 0,
      balance: 105,
    });
    expect(replay(), 'upcasting the same stored events again gives the same state').toEqual(first);
  });
});
