import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.js';

describe('RetryBudget: gRPC retry throttling (proposal A6)', () => {
  it('starts full: tokens = maxTokens, and retries are allowed', () => {
    const budget = new RetryBudget({ maxTokens: 10, tokenRatio: 0.1 });
    expect(budget.tokens, 'a new budget holds maxTokens').toBe(10);
    expect(budget.canRetry()).toBe(true);
    expect(budget.maxTokens).toBe(10);
    expect(budget.tokenRatio).toBe(0.1);
  });

  it("reproduces gRPC's throttle sequence exactly (max 4, ratio 1.6, as in retry_throttle_test.cc)", () => {
    const budget = new RetryBudget({ maxTokens: 4, tokenRatio: 1.6 });
    budget.recordFailure();
    expect([budget.tokens, budget.canRetry()], 'failure: 3 tokens, above 2, retry allowed').toEqual([
      3,
      true,
    ]);
    budget.recordSuccess();
    expect(budget.tokens, 'success: 3 + 1.6 is capped at 4').toBe(4);
    budget.recordFailure();
    expect([budget.tokens, budget.canRetry()], 'failure: 3 tokens, retry allowed').toEqual([3, true]);
    budget.recordFailure();
    expect(
      [budget.tokens, budget.canRetry()],
      'failure: 2 tokens = max / 2, and at exactly half retries are throttled',
    ).toEqual([2, false]);
    budget.recordSuccess();
    expect([budget.tokens, budget.canRetry()], 'success: 3.6 tokens, above half again').toEqual([3.6, true]);
  });

  it('throttles at or below half and allows only above it, for odd and even maxTokens', () => {
    const odd = new RetryBudget({ maxTokens: 5, tokenRatio: 0.5 });
    odd.recordFailure();
    odd.recordFailure();
    expect([odd.tokens, odd.canRetry()], '3 of 5 is above 2.5').toEqual([3, true]);
    odd.recordFailure();
    expect([odd.tokens, odd.canRetry()], '2 of 5 is below 2.5').toEqual([2, false]);
    odd.recordSuccess();
    expect([odd.tokens, odd.canRetry()], '2.5 of 5 is exactly half: still throttled').toEqual([2.5, false]);
    odd.recordSuccess();
    expect([odd.tokens, odd.canRetry()], '3 of 5: allowed again').toEqual([3, true]);

    const one = new RetryBudget({ maxTokens: 1, tokenRatio: 0.25 });
    expect(one.canRetry(), '1 token of 1 is above 0.5').toBe(true);
    one.recordFailure();
    expect([one.tokens, one.canRetry()]).toEqual([0, false]);
    one.recordSuccess();
    one.recordSuccess();
    expect([one.tokens, one.canRetry()], '0.5 of 1 is exactly half').toEqual([0.5, false]);
    one.recordSuccess();
    expect([one.tokens, one.canRetry()]).toEqual([0.75, true]);
  });

  it('never goes above maxTokens, however many successes', () => {
    const budget = new RetryBudget({ maxTokens: 3, tokenRatio: 0.7 });
    for (let i = 0; i < 50; i++) budget.recordSuccess();
    expect(budget.tokens, 'successes on a full bucket add nothing').toBe(3);
    budget.recordFailure();
    budget.recordFailure();
    expect(budget.tokens, 'so two failures after a long healthy spell leave 1 token').toBe(1);
    expect(budget.canRetry(), '1 of 3 is below half: the banked successes must not carry it').toBe(false);
  });

  it('never goes below 0, so recovery after an outage takes as few successes as from empty', () => {
    const budget = new RetryBudget({ maxTokens: 4, tokenRatio: 1.6 });
    for (let i = 0; i < 100; i++) budget.recordFailure();
    expect(budget.tokens, 'a hundred failures leave 0, not -96').toBe(0);
    expect(budget.canRetry()).toBe(false);
    budget.recordSuccess();
    expect(budget.canRetry(), '1.6 tokens: still throttled').toBe(false);
    budget.recordSuccess();
    expect([budget.tokens, budget.canRetry()], 'two successes from empty give 3.2: allowed').toEqual([
      3.2,
      true,
    ]);
  });

  it('counts in thousandths: ten successes of 0.1 are exactly one token', () => {
    const budget = new RetryBudget({ maxTokens: 2, tokenRatio: 0.1 });
    budget.recordFailure();
    budget.recordFailure();
    for (let i = 0; i < 10; i++) budget.recordSuccess();
    expect(
      budget.tokens,
      '0.1 added ten times is 1 exactly (in floating point it is 0.9999999999999999)',
    ).toBe(1);
    for (let i = 0; i < 3; i++) budget.recordSuccess();
    expect(budget.tokens).toBe(1.3);
  });

  it('decides the threshold exactly where floating point would not (max 3, ratio 0.1)', () => {
    const budget = new RetryBudget({ maxTokens: 3, tokenRatio: 0.1 });
    budget.recordFailure();
    budget.recordFailure();
    for (let i = 0; i < 5; i++) budget.recordSuccess();
    expect(budget.tokens, '1 + five times 0.1 is exactly 1.5 (floating point: 1.5000000000000004)').toBe(1.5);
    expect(budget.canRetry(), '1.5 of 3 is exactly half: throttled').toBe(false);
    budget.recordSuccess();
    expect([budget.tokens, budget.canRetry()]).toEqual([1.6, true]);
  });

  it('property: agrees with gRPC’s integer arithmetic in thousandths over any sequence of outcomes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.boolean(), { maxLength: 300 }),
        (maxTokens, ratioMilli, outcomes) => {
          const budget = new RetryBudget({ maxTokens, tokenRatio: ratioMilli / 1000 });
          let milli = maxTokens * 1000;
          for (const success of outcomes) {
            if (success) {
              budget.recordSuccess();
              milli = Math.min(maxTokens * 1000, milli + ratioMilli);
            } else {
              budget.recordFailure();
              milli = Math.max(0, milli - 1000);
            }
            expect(budget.tokens).toBe(milli / 1000);
            expect(budget.canRetry(), `${milli / 1000} of ${maxTokens} tokens`).toBe(
              milli * 2 > maxTokens * 1000,
            );
          }
        },
      ),
      { seed: 1600, numRuns: 300 },
    );
  });

  it('keeps separate counts per budget (one per downstream service)', () => {
    const a = new RetryBudget({ maxTokens: 4, tokenRatio: 1 });
    const b = new RetryBudget({ maxTokens: 4, tokenRatio: 1 });
    a.recordFailure();
    a.recordFailure();
    expect(a.canRetry()).toBe(false);
    expect([b.tokens, b.canRetry()], "one service's failures do not throttle another's retries").toEqual([
      4,
      true,
    ]);
  });

  it('refuses a maxTokens that is not an integer from 1 to 1000, naming it and the value', () => {
    for (const maxTokens of [0, -1, 1001, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        () => new RetryBudget({ maxTokens, tokenRatio: 0.1 }),
        `maxTokens ${maxTokens} must be refused`,
      ).toThrow(RangeError);
      expect(() => new RetryBudget({ maxTokens, tokenRatio: 0.1 })).toThrow(
        new RegExp(`maxTokens.*${String(maxTokens).replace('.', '\\.')}`),
      );
    }
    expect(new RetryBudget({ maxTokens: 1, tokenRatio: 0.1 }).tokens, '1 is allowed').toBe(1);
    expect(new RetryBudget({ maxTokens: 1000, tokenRatio: 0.1 }).tokens, '1000 is allowed').toBe(1000);
  });

  it('refuses a tokenRatio that is not > 0 with at most 3 decimals, naming it and the value', () => {
    for (const tokenRatio of [
      0,
      -0.5,
      0.0001,
      0.0004,
      1.2345,
      0.1005,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ]) {
      expect(
        () => new RetryBudget({ maxTokens: 10, tokenRatio }),
        `tokenRatio ${tokenRatio} must be refused`,
      ).toThrow(RangeError);
      expect(() => new RetryBudget({ maxTokens: 10, tokenRatio })).toThrow(
        new RegExp(`tokenRatio.*${String(tokenRatio).replace('.', '\\.')}`),
      );
    }
    for (const tokenRatio of [0.001, 0.1, 1.001, 1.6, 0.125, 2, 999.999]) {
      expect(new RetryBudget({ maxTokens: 10, tokenRatio }).tokenRatio, `${tokenRatio} is allowed`).toBe(
        tokenRatio,
      );
    }
  });
});
