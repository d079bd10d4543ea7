/**
 * A page-visit counter on Redis: the "hello world" of the course's infrastructure.
 *
 * Keys (the tests read them, so keep these names):
 *
 * - `visits:total`: a sorted set; member = page, score = that page's visits of all time.
 *   One structure answers both "how many visits has /pricing had?" (ZSCORE) and "which pages are
 *   most visited?" (ZRANGE ... REV).
 * - `visits:day:<YYYY-MM-DD>:<page>`: a string counter of one page's visits on one UTC day,
 *   which expires `retentionDays` days after its first visit, so old days clean themselves up.
 */
import type { Redis } from 'ioredis';

/** A page and its visit count. */
export interface PageVisits {
  page: string;
  visits: number;
}

export interface VisitCounterOptions {
  /** How long a daily counter lives after its first visit, in days (default 30). */
  retentionDays?: number;
}

/** Counts visits; every method is safe to call from many connections at once. */
export interface VisitCounter {
  /**
   * Records one visit to `page` at `at` (default: now) and resolves with the page's new total.
   * Updates the total and the day's counter atomically, in one round trip to Redis.
   * @throws {TypeError} when `page` is empty or longer than 200 characters
   */
  recordVisit(page: string, at?: Date): Promise<number>;
  /** All-time visits of `page`; 0 for a page never visited. */
  visits(page: string): Promise<number>;
  /** Visits of `page` on the UTC day that contains `day`; 0 when there were none (or they expired). */
  dailyVisits(page: string, day: Date): Promise<number>;
  /**
   * The `n` most visited pages, most visited first (order among equal counts is not specified).
   * @throws {RangeError} when `n` is not a positive integer
   */
  topPages(n: number): Promise<PageVisits[]>;
}

/**
 * Creates a counter that stores its data through `redis` (a connection the caller owns and closes).
 */
export function createVisitCounter(redis: Redis, options: VisitCounterOptions = {}): VisitCounter {
  throw new Error(
    'createVisitCounter() is not implemented yet: open exercises/00-setup/redis-hello/visits.ts',
  );
}
