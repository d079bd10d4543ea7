/**
 * A rate limiter shared by every instance of a service: `limit` requests per `windowMs` per key,
 * counted in Redis, decided atomically by one Lua script.
 *
 * The window slides: a request is admitted when fewer than `limit` requests of its key were admitted
 * in the `windowMs` before it. A request admitted at time t counts until t + windowMs; from
 * t + windowMs on it no longer does. A sliding log (a sorted set per key, one member per admitted
 * request) does exactly this. A fixed window (a counter per second, minute or hour, per `windowMs`
 * since the epoch, or per `windowMs` since a key's first request) will not pass: it lets a client
 * send twice the limit across a window boundary. Nor will GCRA, a fine limiter with a different
 * contract: it admits a request as soon as a token has dripped back, before the window is over (the
 * hints compare them). Whatever you write must be decided in ONE atomic step in Redis (a Lua script),
 * and every key you write must expire.
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
  /**
   * Prefix of every key the limiter writes (default `"ratelimit:"`). Two limiters with different
   * prefixes count separately, even for the same key on the same connection.
   */
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
  /**
   * Milliseconds until the key is back to its full `limit`: until the last request it had admitted
   * stops counting.
   */
  readonly resetMs: number;
  /**
   * 0 when allowed; otherwise milliseconds until a request of this key would be admitted: until the
   * oldest request it had admitted stops counting.
   */
  readonly retryAfterMs: number;
}

export interface RedisLimiter {
  /**
   * Counts one request of `key` (an IP address, an API key) and decides whether it is admitted.
   * Denied requests are not counted, so a client hammering a closed door does not stay locked out.
   * @throws {TypeError} (as a rejection: `take` never throws synchronously) when `key` is empty
   */
  take(key: string): Promise<Decision>;
}

/**
 * Creates a limiter on `redis` (a connection the caller owns and closes, and may share with other
 * limiters: each one enforces its own options). Keys it writes start with `prefix` and expire within
 * `windowMs`.
 * @throws {RangeError} when `limit` or `windowMs` is not a positive integer; the message names the
 *   option
 */
export function createRedisLimiter(redis: Redis, options: RedisLimiterOptions): RedisLimiter {
  throw new Error(
    'createRedisLimiter() is not implemented yet: open exercises/08-traffic/rate-limiter/redis-limiter.ts',
  );
}
