/**
 * A URL shortener on `node:http` with every piece of state in Redis, so any number of instances can
 * run side by side and a restart loses nothing.
 *
 * The API:
 *
 * - `POST /api/links` `{url, alias?, ttlSeconds?}` → 201 `{code, shortUrl, url, expiresAt, deleteToken}`;
 *   400 for a bad body or URL, 409 for a taken alias, 413 for a body over 16 KiB, 429 + `Retry-After`
 *   past the per-client creation limit.
 * - `GET /:code` → 302 to the URL; 404 for an unknown or expired code.
 * - `GET /api/links/:code` → `{code, url, clicks, uniqueVisitors, createdAt, expiresAt}`.
 * - `DELETE /api/links/:code` with `Authorization: Bearer <deleteToken>` → 204; 401 without, 403 wrong.
 * - 503 with `Retry-After` whenever Redis cannot be reached; the service recovers by itself.
 *
 * Keys (all under `keyPrefix`, default `short:`):
 *
 * - `link:<code>`: a hash `{url, createdAt, expiresAt, tokenHash, clicks}`; expires with the link.
 * - `visitors:<code>`: a HyperLogLog of visitors (client address + User-Agent); expires with the link.
 * - `counter`: the `INCR` counter behind generated codes.
 * - `rate:<client>:<minute>`: creations by one client in one clock minute (a fixed window).
 * - channel `invalidate`: the code of every deleted link, so every instance drops it from its cache.
 *
 * The redirect path waits on at most one Redis round trip: none for a link in the hot-link cache,
 * one for a link that is not. Counting the click must not add a wait: pipeline it with the read, or
 * send it after the response has gone out (and decide what happens to clicks when Redis is down).
 */
import type { Server } from 'node:http';
import type { Clock } from './link-cache.js';

export interface ShortenerOptions {
  /** Where the links live, e.g. `redis://127.0.0.1:6379/0`. */
  redisUrl: string;
  /** Prefix of every key and pub/sub channel (default `short:`); instances that share links share it. */
  keyPrefix?: string;
  /** The in-process cache of hot links, or `false` for none (default 10,000 entries for 60 s). */
  cache?: { maxEntries?: number; ttlMs?: number } | false;
  /** Links one client (by address) may create per clock minute (default 60). */
  createsPerMinute?: number;
  /** The secret that scrambles generated codes (default 0). */
  codeSecret?: number;
  /** Start of short URLs, e.g. `https://sho.rt` (default `http://` + the request's Host header). */
  publicBaseUrl?: string;
  /** Time for createdAt/expiresAt, cache freshness and rate-limit windows (default the system clock). */
  clock?: Clock;
}

/** A shortener ready to serve. */
export interface Shortener {
  /** The HTTP server, not yet listening: `listen(shortener.server)` or `server.listen(port)`. */
  readonly server: Server;
  /** Stops the server (if listening) and closes the Redis connections. */
  close(): Promise<void>;
}

/** Aliases chosen by users: 3 to 32 characters of `A-Z a-z 0-9 _ -`. */
export const ALIAS_PATTERN = /^[A-Za-z0-9_-]{3,32}$/;
/** The longest `ttlSeconds` accepted: ten years. */
export const MAX_TTL_SECONDS = 10 * 365 * 86_400;

/**
 * Connects to Redis (resolving once connected and subscribed to the invalidation channel) and
 * returns the service. The siblings do the parts: `codes.ts` (new codes), `url-policy.ts` (which
 * URLs are allowed), `link-cache.ts` (the hot-link cache).
 * @throws when Redis cannot be reached at start
 */
export async function createShortener(options: ShortenerOptions): Promise<Shortener> {
  throw new Error(
    'createShortener() is not implemented yet: open exercises/13-url-shortener/shortener-service/shortener.ts',
  );
}
