/**
 * Short codes for new links: a Redis `INCR` counter, scrambled by a keyed Feistel permutation of
 * [0, 62^8) and written as 8 base62 characters (the base62-ids exercise, in one file).
 */
import type { Redis } from 'ioredis';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Every generated code has exactly this many characters. */
export const CODE_LENGTH = 8;
const HALF = 62 ** (CODE_LENGTH / 2);

/**
 * Hands out codes that never repeat for the same counter key and secret (from any number of
 * connections at once), and that do not reveal the sequence: consecutive counters give codes that do
 * not start with the same 4 characters, and come out in no particular order.
 */
export interface CodeGenerator {
  /** The next code: exactly 8 characters of `[0-9A-Za-z]` (leading zeros kept). */
  next(): Promise<string>;
}

/**
 * Creates a generator that counts with one `INCR counterKey` per code through `redis`. Different
 * secrets scramble differently: the same counter value gives another code under another secret.
 */
export function createCodeGenerator(redis: Redis, counterKey: string, secret = 0): CodeGenerator {
  return {
    async next() {
      const counter = await redis.incr(counterKey);
      if (counter >= HALF * HALF) throw new RangeError('the code space is exhausted');
      return encode(scramble(counter, secret));
    },
  };
}

/** Four Feistel rounds: a bijection, so different counters always give different codes. */
function scramble(n: number, secret: number): number {
  let [left, right] = [Math.floor(n / HALF), n % HALF];
  for (let round = 0; round < 4; round++) [left, right] = [right, (left + mix(right, secret, round)) % HALF];
  return left * HALF + right;
}

function mix(half: number, secret: number, round: number): number {
  let h = (half ^ secret ^ Math.imul(round + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % HALF;
}

function encode(n: number): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++, n = Math.floor(n / 62)) code = ALPHABET[n % 62] + code;
  return code;
}
