/**
 * A rate limiter shared by every instance of a service: `limit` requests per `windowMs` per key,
 * counted in Redis, decided atomically by one Lua script.
 *
 * Pick the algorithm (the hints compare them): a sliding log (a sorted set per key, one member per
 * admitted request) or GCRA (one timestamp per key). A fixed window will not pass: it lets a client
 * send twice the limit across a window boundary. Whatever you pick must be decided in ONE atomic step
 * in Redis (a Lua script), and every key you write must expire.
 */
import type { Redis } from 'ioredis';

/** What the limiter asks for the time: milliseconds, like `Date.now()`. */
export interface Clock {
  now(): number;
}

export interface RedisLimiterOptions {
  /** Requests admitted per window per key: a positive integer. */
  readonly limit: number;
  /** The window in milliseconds: a positive integer. */
  readonly windowMs: number;
  /** Prefix of every key the limiter writes (default `"ratelimit:"`). */
  readonly prefix?: string;
  /**
   * The clock whose time the script uses (default: the system clock). Every instance must agree on
   * the time, so in production either keep the servers' clocks in sync (NTP) or ask Redis for the
   * time (`redis.call('TIME')` in the script); an injected clock is what makes the tests exact.
   */
  readonly clock?: Clock;
}

/** One decision, with what an HTTP response needs to tell the client. */
export interface Decision {
  readonly allowed: boolean;
  readonly limit: number;
  /** Requests this key may still make right now (after this one, when it was allowed). */
  readonly remaining: number;
  /** Milliseconds until the key is back to its full `limit`. */
  readonly resetMs: number;
  /** 0 when allowed; otherwise milliseconds until a request of this key would be admitted. */
  readonly retryAfterMs: number;
}

export interface RedisLimiter {
  /**
   * Counts one request of `key` (an IP address, an API key) and decides whether it is admitted.
   * Denied requests are not counted, so a client hammering a closed door does not stay locked out.
   * @throws {TypeError} (as a rejection) when `key` is empty
   */
  take(key: string): Promise<Decision>;
}

/**
 * Creates a limiter on `redis` (a connection the caller owns and closes). Keys it writes start with
 * `prefix` and expire within `windowMs`.
 * @throws {RangeError} when `limit` or `windowMs` is not a positive integer
 */
export function createRedisLimiter(redis: Redis, options: RedisLimiterOptions): RedisLimiter {
  throw new Error(
    'createRedisLimiter() is not implemented yet: open exercises/08-traffic/rate-limiter/redis-limiter.ts',
  );
}
