/**
 * A URL shortener on `node:http` with every piece of state in Redis, so any number of instances can
 * run side by side and a restart loses nothing.
 *
 * The API (every error answer is JSON `{error}`, a message that says what is wrong):
 *
 * - `POST /api/links` `{url, alias?, ttlSeconds?}` → 201 `{code, shortUrl, url, expiresAt, deleteToken}`:
 *   `code` is the alias, or a generated code from `codes.ts` (a generated code that an alias already
 *   holds is skipped for the next one, never overwritten); `shortUrl` is `publicBaseUrl` (default
 *   `http://` + the Host header) + `/` + code; `url` the normalised URL; `expiresAt` an ISO date, or
 *   null without `ttlSeconds`; `deleteToken` a secret of at least 16 characters, of which Redis keeps
 *   only a hash (SHA-256), never the token.
 *   400 for a body that is not a JSON object, for a URL that `url-policy.ts` refuses (the error names
 *   `url`), an alias that does not match {@link ALIAS_PATTERN} (the error names `alias`), or a
 *   `ttlSeconds` that is not a JSON number of whole seconds from 1 to {@link MAX_TTL_SECONDS} (the
 *   error names `ttlSeconds`); 409 for a taken alias (of several racing for one alias, exactly one
 *   wins); 413 for a body over 16 KiB (16,384 bytes, counted as bytes, not characters);
 *   429 past the client's creation limit, with `Retry-After` = the seconds left until the next clock
 *   minute of `clock`, rounded up.
 * - `GET /:code` → 302 to the URL; 404 for an unknown or expired code (expired by `expiresAt` on
 *   `clock`, for a link in the hot-link cache too), and for any path that cannot be a code.
 * - `GET /api/links/:code` → 200 `{code, url, clicks, uniqueVisitors, createdAt, expiresAt}`, dates as
 *   ISO strings; a click shows in `clicks` and `uniqueVisitors` within a second or so, and `close()`
 *   writes the ones still pending. 404 for an unknown or expired code.
 * - `DELETE /api/links/:code` with `Authorization: Bearer <deleteToken>` → 204, and the link and its
 *   visitors are gone; 401 with `WWW-Authenticate: Bearer` without a token, 403 with a wrong one (for
 *   instance another link's), 404 for an unknown code.
 * - 405 for a method a path does not support.
 * - A client that stalls halfway through its request holds up no one else.
 * - 503 with `Retry-After`, at once (no request waits for Redis to come back), whenever Redis cannot be
 *   reached; redirects of links in the hot-link cache keep working (their clicks may be dropped, but
 *   never surface as an error or an unhandled rejection). The service recovers by itself.
 *
 * Keys (all under `keyPrefix`, default `short:`):
 *
 * - `link:<code>`: a hash `{url, createdAt, expiresAt, tokenHash, clicks}`; expires with the link
 *   (a Redis TTL when `ttlSeconds` is given). A click counted after a delete must not create it again.
 * - `visitors:<code>`: a HyperLogLog of visitors (client address + User-Agent); expires with the link
 *   (the same TTL) and is deleted with it.
 * - `counter`: the `INCR` counter behind generated codes, one `INCR` per generated code.
 * - `rate:<client>:<minute>`: creations by one client (its address) in one clock minute of `clock`
 *   (a fixed window); each client has its own count, and the key expires within 2 minutes.
 * - channel `invalidate` (that is, `<keyPrefix>invalidate`): the code of every deleted link, so every
 *   instance drops it from its cache at once. Pub/sub does not keep messages for a subscriber
 *   that is away, so an instance clears its whole cache whenever its subscriber reconnects.
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
  /** Stops the server (if listening), writes the clicks still pending, and closes the Redis connections. */
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
