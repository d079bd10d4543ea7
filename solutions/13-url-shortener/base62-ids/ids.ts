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
import { encodeBase62 } from './base62.js';

/** Every generated code has exactly this many base62 characters. */
export const CODE_LENGTH = 8;

/** How many different codes there are: 62^8 = 218,340,105,584,896. */
export const CODE_SPACE = 62n ** BigInt(CODE_LENGTH);

/** One Feistel half: 4 base62 digits. */
const HALF = 62 ** (CODE_LENGTH / 2);
const ROUNDS = 4;

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
  checkInDomain(n);
  checkSecret(secret);
  let left = Number(n / BigInt(HALF));
  let right = Number(n % BigInt(HALF));
  for (let round = 0; round < ROUNDS; round++) {
    [left, right] = [right, (left + mix(right, secret, round)) % HALF];
  }
  return BigInt(left) * BigInt(HALF) + BigInt(right);
}

/**
 * The inverse of {@link scramble}: `unscramble(scramble(n, s), s) === n`.
 * @throws {RangeError} as {@link scramble} does
 */
export function unscramble(scrambled: bigint, secret: number): bigint {
  checkInDomain(scrambled);
  checkSecret(secret);
  let left = Number(scrambled / BigInt(HALF));
  let right = Number(scrambled % BigInt(HALF));
  for (let round = ROUNDS - 1; round >= 0; round--) {
    [left, right] = [(right - mix(left, secret, round) + HALF) % HALF, left];
  }
  return BigInt(left) * BigInt(HALF) + BigInt(right);
}

/** The Feistel round function: any deterministic mixing of (half, secret, round) into [0, HALF). */
function mix(half: number, secret: number, round: number): number {
  // The 32-bit finaliser of MurmurHash3: every input bit affects every output bit.
  let h = (half ^ secret ^ Math.imul(round + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % HALF;
}

function checkInDomain(n: bigint): void {
  if (n < 0n || n >= CODE_SPACE)
    throw new RangeError(`${n} is outside the code space [0, 62^${CODE_LENGTH})`);
}

function checkSecret(secret: number): void {
  if (!Number.isInteger(secret) || secret < 0 || secret > 0xffffffff) {
    throw new RangeError(`the secret must be an integer from 0 to 2^32-1, got ${secret}`);
  }
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
  const { secret = 0, counterKey = 'ids:counter' } = options;
  checkSecret(secret);
  return {
    async next() {
      const counter = BigInt(await redis.incr(counterKey));
      return encodeBase62(scramble(counter, secret), CODE_LENGTH);
    },
  };
}
