/**
 * Short codes for new links. Bring your work from the base62-ids exercise here (files of one
 * exercise cannot import another's): a Redis `INCR` counter, scrambled so that codes do not reveal
 * the sequence, written as 8 base62 characters.
 */
import type { Redis } from 'ioredis';

/** Every generated code has exactly this many characters. */
export const CODE_LENGTH = 8;

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
  throw new Error(
    'createCodeGenerator() is not implemented yet: open exercises/13-url-shortener/shortener-service/codes.ts',
  );
}
