/**
 * Short codes from a Redis counter that do not look like a counter.
 *
 * `INCR` hands out 1, 2, 3, ... with no coordination between servers and no collisions. Written in
 * base62 as they are, those would be enumerable: whoever gets `0000004c` knows `0000004d` exists and
 * roughly how many links you make a day. So the counter goes through a keyed *bijection* of the
 * code space first: a permutation of [0, 62^8), which keeps "no collisions" (different counters
 * give different codes) and makes neighbouring counters land far apart.
 *
 * The permutation is a 4-round Feistel network on two halves of 4 base62 digits each. A Feistel
 * round `(L, R) -> (R, L + F(R))` can always be undone (`L = R' - F(L')`), whatever F is, so F can
 * be any scrambling function of the half and the secret.
 */
import type { Redis } from 'ioredis';

/** Every generated code has exactly this many base62 characters. */
export const CODE_LENGTH = 8;

/** How many different codes there are: 62^8 = 218,340,105,584,896. */
export const CODE_SPACE = 62n ** BigInt(CODE_LENGTH);

/**
 * Maps a counter value to another number of the code space; a bijection of [0, {@link CODE_SPACE}),
 * different for every `secret`: different inputs always give different outputs, and neighbouring
 * inputs give outputs far apart. Concretely, for consecutive counters n and n + 1 the outputs differ
 * by more than 62^4, their 8-character codes do not start with the same 4 characters, and about half
 * of the time the second output is the smaller one (the counter's order does not show).
 * @throws {RangeError} when `n` is outside [0, CODE_SPACE) or `secret` is not a 32-bit unsigned
 *   integer (from 0 to 2^32 - 1), with a message that says which
 */
export function scramble(n: bigint, secret: number): bigint {
  throw new Error('scramble() is not implemented yet: open exercises/13-url-shortener/base62-ids/ids.ts');
}

/**
 * The inverse of {@link scramble}: `unscramble(scramble(n, s), s) === n`.
 * @throws {RangeError} as {@link scramble} does
 */
export function unscramble(scrambled: bigint, secret: number): bigint {
  throw new Error('unscramble() is not implemented yet: open exercises/13-url-shortener/base62-ids/ids.ts');
}

export interface IdGeneratorOptions {
  /** The secret of the scramble; keep it out of the source in production (default 0). */
  secret?: number;
  /** The Redis key of the counter (default `ids:counter`). */
  counterKey?: string;
}

/** Hands out short codes; safe to use from many connections and processes at once. */
export interface IdGenerator {
  /**
   * The next code: {@link CODE_LENGTH} base62 characters, never handed out before by any generator
   * on the same counter key with the same secret.
   * @throws {RangeError} (as a rejection) when the counter has passed the code space
   */
  next(): Promise<string>;
}

/**
 * Creates a generator backed by `INCR` on `counterKey` through `redis` (owned by the caller):
 * the code of counter value n is `encodeBase62(scramble(n, secret), CODE_LENGTH)`.
 * @throws {RangeError} when `secret` is not a 32-bit unsigned integer
 */
export function createIdGenerator(redis: Redis, options: IdGeneratorOptions = {}): IdGenerator {
  throw new Error(
    'createIdGenerator() is not implemented yet: open exercises/13-url-shortener/base62-ids/ids.ts',
  );
}
