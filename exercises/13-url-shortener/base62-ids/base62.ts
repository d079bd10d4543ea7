/**
 * Base62: writing a non-negative integer with the 62 characters that are safe in any URL path
 * without escaping: `0-9`, `A-Z`, `a-z`, in that order (the ASCII order, so for codes of the same
 * length, comparing the strings compares the numbers).
 *
 * Every function works on `bigint`, so ids beyond 2^53 round-trip exactly.
 */

/** The digits of base 62, smallest first. */
export const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Writes `n` in base62, left-padded with `'0'` to at least `minLength` characters.
 * `encodeBase62(0n)` is `'0'`, `encodeBase62(61n)` is `'z'`, `encodeBase62(62n)` is `'10'`.
 * @throws {RangeError} when `n` is negative (a negative bigint as much as a negative number), not an
 *   integer (`1.5`, `NaN`, `Infinity`), or a `number` above `Number.MAX_SAFE_INTEGER` (it has already
 *   lost precision: pass a bigint instead); or when `minLength` is not a positive integer. The message
 *   names the bad value (`-5`), or `minLength` when that is the problem.
 */
export function encodeBase62(n: bigint | number, minLength = 1): string {
  throw new Error(
    'encodeBase62() is not implemented yet: open exercises/13-url-shortener/base62-ids/base62.ts',
  );
}

/**
 * Reads a base62 string back into a number. Leading zeros are allowed (`'007'` is 7n); nothing is
 * trimmed or case-folded.
 * @throws {SyntaxError} when `text` is empty or holds a character outside {@link ALPHABET} (a space or
 *   newline around the code included); the message names the bad character.
 */
export function decodeBase62(text: string): bigint {
  throw new Error(
    'decodeBase62() is not implemented yet: open exercises/13-url-shortener/base62-ids/base62.ts',
  );
}
