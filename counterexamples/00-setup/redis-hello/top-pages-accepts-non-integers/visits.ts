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
   * Records one visit to `page` at `at` (default: now) and resolves with the page's new all-time
   * total. Updates the total, the day's counter and its expiry atomically, in one round trip to
   * Redis: one `MULTI`/`EXEC` transaction (or one Lua script), with no command before or after it.
   * The day is the UTC date of `at`, whatever the server's time zone.
   * @throws {TypeError} (as a rejection) when `page` is empty or longer than 200 characters
   *   (`page.length`: characters, not bytes)
   */
  recordVisit(page: string, at?: Date): Promise<number>;
  /**
   * All-time visits of `page`; 0 for a page never visited.
   * @throws {TypeError} (as a rejection) for a page name that {@link recordVisit} refuses
   */
  visits(page: string): Promise<number>;
  /**
   * Visits of `page` on the UTC day that contains `day` (not the local day: at 20:00 UTC on 2 March
   * it is already 3 March in India, and this still asks for 2 March); 0 when there were none (or they
   * expired).
   * @throws {TypeError} (as a rejection) for a page name that {@link recordVisit} refuses
   */
  dailyVisits(page: string, day: Date): Promise<number>;
  /**
   * The `n` most visited pages (all of them when there are fewer), most visited first (order among
   * equal counts is not specified).
   * @throws {RangeError} (as a rejection) when `n` is not a positive integer (0, -1, 1.5, NaN, Infinity)
   */
  topPages(n: number): Promise<PageVisits[]>;
}

const TOTALS_KEY = 'visits:total';
const SECONDS_PER_DAY = 86_400;

/** `visits:day:2026-11-21:/pricing`: the UTC date, so every server agrees which day it is. */
const dayKey = (page: string, at: Date) => `visits:day:${at.toISOString().slice(0, 10)}:${page}`;

function checkPage(page: string): void {
  if (typeof page !== 'string' || page.length === 0 || page.length > 200) {
    throw new TypeError(`page must be a string of 1 to 200 characters, got ${JSON.stringify(page)}`);
  }
}

/**
 * Creates a counter that stores its data through `redis` (a connection the caller owns and closes).
 */
export function createVisitCounter(redis: Redis, options: VisitCounterOptions = {}): VisitCounter {
  const retentionSeconds = (options.retentionDays ?? 30) * SECONDS_PER_DAY;

  return {
    async recordVisit(page, at = new Date()) {
      checkPage(page);
      const key = dayKey(page, at);
      // MULTI/EXEC runs the three commands as one unit, and the pipeline sends them in one round trip.
      // EXPIRE ... NX sets the lifetime on the first visit of the day only (Redis >= 7.0).
      const replies = await redis
        .multi()
        .zincrby(TOTALS_KEY, 1, page)
        .incr(key)
        .expire(key, retentionSeconds, 'NX')
        .exec();
      const [error, total] = replies?.[0] ?? [new Error('the transaction was aborted'), null];
      if (error) throw error;
      return Number(total);
    },

    async visits(page) {
      checkPage(page);
      return Number((await redis.zscore(TOTALS_KEY, page)) ?? 0);
    },

    async dailyVisits(page, day) {
      checkPage(page);
      return Number((await redis.get(dayKey(page, day))) ?? 0);
    },

    async topPages(n) {
      if (n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
      const flat = await redis.zrange(TOTALS_KEY, 0, String(n - 1), 'REV', 'WITHSCORES');
      const top: PageVisits[] = [];
      for (let i = 0; i < flat.length; i += 2)
        top.push({ page: flat[i] as string, visits: Number(flat[i + 1]) });
      return top;
    },
  };
}
