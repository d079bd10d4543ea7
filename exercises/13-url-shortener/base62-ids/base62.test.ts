import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALPHABET, decodeBase62, encodeBase62 } from './base62.js';

describe('base62 encoding', () => {
  it('writes known values with the digits 0-9, A-Z, a-z', () => {
    const cases: [bigint | number, string][] = [
      [0n, '0'],
      [9n, '9'],
      [10n, 'A'],
      [35n, 'Z'],
      [36n, 'a'],
      [61n, 'z'],
      [62n, '10'],
      [63, '11'],
      [3843n, 'zz'],
      [3844n, '100'],
      [123_456_789n, '8M0kX'],
      [2n ** 64n - 1n, 'LygHa16AHYF'],
    ];
    for (const [n, code] of cases) expect(encodeBase62(n), `encodeBase62(${n})`).toBe(code);
  });

  it('reads known values back, leading zeros included', () => {
    expect(decodeBase62('0')).toBe(0n);
    expect(decodeBase62('z'), "'z' is the last digit, 61").toBe(61n);
    expect(decodeBase62('10'), "'10' is one 62 and no units").toBe(62n);
    expect(decodeBase62('8M0kX')).toBe(123_456_789n);
    expect(decodeBase62('0000zz'), 'leading zeros do not change the value').toBe(3843n);
    expect(decodeBase62('LygHa16AHYF'), 'values beyond 2^53 must be exact (use bigint)').toBe(2n ** 64n - 1n);
  });

  it('pads to minLength with zeros and never truncates', () => {
    expect(encodeBase62(5n, 4)).toBe('0005');
    expect(encodeBase62(0n, 8)).toBe('00000000');
    expect(encodeBase62(3844n, 3), 'exactly minLength digits needs no padding').toBe('100');
    expect(encodeBase62(3844n, 2), 'a value longer than minLength keeps all its digits').toBe('100');
    expect(encodeBase62(7, 1)).toBe('7');
  });

  it('accepts safe integer numbers as well as bigints', () => {
    expect(encodeBase62(Number.MAX_SAFE_INTEGER)).toBe(encodeBase62(BigInt(Number.MAX_SAFE_INTEGER)));
    expect(encodeBase62(0)).toBe('0');
  });

  it('refuses negative, fractional and unsafe numbers, and a bad minLength', () => {
    expect(() => encodeBase62(-1n), 'a negative bigint').toThrow(RangeError);
    expect(() => encodeBase62(-(2n ** 64n)), 'a large negative bigint').toThrow(RangeError);
    expect(() => encodeBase62(-1), 'a negative number').toThrow(RangeError);
    expect(() => encodeBase62(1.5), 'a fraction').toThrow(RangeError);
    expect(() => encodeBase62(Number.NaN), 'NaN').toThrow(RangeError);
    expect(() => encodeBase62(Number.POSITIVE_INFINITY), 'Infinity').toThrow(RangeError);
    expect(() => encodeBase62(Number.MAX_SAFE_INTEGER + 1), 'a number above 2^53 has lost precision').toThrow(
      RangeError,
    );
    expect(() => encodeBase62(2 ** 60), '2^60 as a number: pass 2n ** 60n instead').toThrow(RangeError);
    for (const minLength of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => encodeBase62(1n, minLength), `minLength ${minLength}`).toThrow(RangeError);
    }
  });

  it('says what was wrong in its error messages', () => {
    expect(() => encodeBase62(-5n), 'the message names the bad value').toThrow(/-5/);
    expect(() => encodeBase62(2 ** 60), 'the message explains the problem').toThrow(/\S/);
    expect(() => encodeBase62(1n, 0), 'the message names minLength').toThrow(/minLength/);
    expect(() => decodeBase62(''), 'the message explains the problem').toThrow(/\S/);
    expect(() => decodeBase62('12_3'), 'the message names the bad character').toThrow(/_/);
  });

  it('refuses an empty string and characters that are not base62 digits', () => {
    // Nothing is trimmed or folded: whitespace around a code is a character outside the alphabet too.
    for (const bad of ['', '-1', 'ab c', 'abc=', '+', 'é', '12_3', 'A.B', '０', ' 7', '7 ', '7\n', ' ', '\t'])
      expect(() => decodeBase62(bad), `decodeBase62(${JSON.stringify(bad)})`).toThrow(SyntaxError);
  });

  it('uses an alphabet of 62 distinct URL-safe characters in ASCII order', () => {
    expect([...ALPHABET].map((c) => encodeBase62(decodeBase62(c))).join(''), 'each digit round-trips').toBe(
      ALPHABET,
    );
    expect(ALPHABET).toHaveLength(62);
    expect(new Set(ALPHABET).size).toBe(62);
    expect([...ALPHABET].sort().join(''), 'ASCII order makes string order match number order').toBe(ALPHABET);
  });
});

describe('base62 properties', () => {
  const anyBigInt = fc.bigInt({ min: 0n, max: 2n ** 128n });

  it('decode(encode(n)) === n for every non-negative bigint', () => {
    fc.assert(
      fc.property(anyBigInt, (n) => decodeBase62(encodeBase62(n)) === n),
      { numRuns: 500 },
    );
  });

  it('encode(decode(s)) === s for every canonical code (no leading zeros)', () => {
    const digit = fc.constantFrom(...ALPHABET);
    const canonical = fc
      .tuple(fc.constantFrom(...ALPHABET.slice(1)), fc.array(digit, { maxLength: 20 }))
      .map(([first, rest]) => first + rest.join(''));
    fc.assert(
      fc.property(canonical, (s) => encodeBase62(decodeBase62(s)) === s),
      { numRuns: 500 },
    );
  });

  it('only uses alphabet characters, and padded codes of a bigger number sort after a smaller one', () => {
    fc.assert(
      fc.property(anyBigInt, anyBigInt, (a, b) => {
        const [x, y] = [encodeBase62(a, 30), encodeBase62(b, 30)];
        expect(x, 'codes use only base62 digits').toMatch(/^[0-9A-Za-z]+$/);
        expect(x < y, `${a} < ${b} must match ${x} < ${y}`).toBe(a < b);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the shortest form: no leading zero unless the value is 0', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 100n }), (n) => {
        const code = encodeBase62(n);
        return code[0] !== '0' && 62n ** BigInt(code.length - 1) <= n && n < 62n ** BigInt(code.length);
      }),
      { numRuns: 300 },
    );
  });
});
