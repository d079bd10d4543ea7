/**
 * A rate limiter shared by every instance of a service: `limit` requests per `windowMs` per key,
 * counted in Redis, decided atomically by one Lua script.
 *
 * The window slides: a request is admitted when fewer than `limit` requests of its key were admitted
 * in the `windowMs` before it. A request admitted at time t counts until t + windowMs; from
 * t + windowMs on it no longer does.
 *
 * This solution keeps a sliding log: one sorted set per key, a member per admitted request, scored
 * by its time. It is exact (no burst at window edges) at the cost of memory proportional to the limit.
 */
import { randomUUID } from 'node:crypto';
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

// KEYS[1] the log; ARGV: now (ms), window (ms), limit, a unique member for this request.
// Entries at or before now - window have left the window. Returns
// {allowed (1/0), remaining, resetMs, retryAfterMs}.
const SLIDING_LOG = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('EXPIRE', key, window)
  return {1, limit - count - 1, window, 0}
end
local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
local newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
return {0, 0, newest + window - now, oldest + window - now}
`;

type SlidingLogReply = [allowed: number, remaining: number, resetMs: number, retryAfterMs: number];

/** The script as an ioredis command: EVALSHA, falling back to EVAL once per connection. */
interface WithSlidingLog {
  slidingLog(
    key: string,
    now: number,
    windowMs: number,
    limit: number,
    member: string,
  ): Promise<SlidingLogReply>;
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/**
 * Creates a limiter on `redis` (a connection the caller owns and closes, and may share with other
 * limiters: each one enforces its own options). Keys it writes start with `prefix` and expire within
 * `windowMs`.
 * @throws {RangeError} when `limit` or `windowMs` is not a positive integer; the message names the
 *   option
 */
export function createRedisLimiter(redis: Redis, options: RedisLimiterOptions): RedisLimiter {
  const { limit, windowMs, prefix = 'ratelimit:', clock = { now: () => Date.now() } } = options;
  requirePositiveInteger('limit', limit);
  requirePositiveInteger('windowMs', windowMs);
  if (!('slidingLog' in redis)) redis.defineCommand('slidingLog', { numberOfKeys: 1, lua: SLIDING_LOG });
  const scripted = redis as Redis & WithSlidingLog;

  return {
    async take(key) {
      if (typeof key !== 'string' || key.length === 0)
        throw new TypeError('the rate-limit key must not be empty');
      const now = Math.floor(clock.now());
      const [allowed, remaining, resetMs, retryAfterMs] = await scripted.slidingLog(
        prefix + key,
        now,
        windowMs,
        limit,
        `${now}:${randomUUID()}`,
      );
      return { allowed: allowed === 1, limit, remaining, resetMs, retryAfterMs };
    },
  };
}
