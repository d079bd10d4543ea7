/**
 * A shared HTTP cache in front of one origin (RFC 9111, with RFC 5861's stale-while-revalidate and
 * stale-if-error): the part of a CDN or a Varnish that decides what to store, when to reuse it,
 * when to ask the origin again, and what to do when the origin is down.
 *
 * ```
 *   client ──GET──▶ proxy ── fresh entry? ──yes──▶ 200 from memory, Age, Cache-Status: hit
 *                     │ no
 *                     ├── stale, within stale-while-revalidate ─▶ stale 200 now + one background revalidation
 *                     ├── stale ──GET + If-None-Match──▶ origin: 304 ▶ refresh the entry, serve it
 *                     └── nothing stored ──GET──▶ origin: 200 ▶ store it if the rules allow, serve it
 * ```
 *
 * What it owns: one bounded, least-recently-used map of entries in memory. An entry is one stored
 * 200 response to a GET (status, headers, body) plus the values of the request headers its `Vary`
 * names, so several variants of one URL live side by side. Nothing is shared between proxies.
 */
import type { RequestListener } from 'node:http';

/** What the proxy reads the time from (ms). Freshness and age use it; network timeouts use real time. */
export interface Clock {
  now(): number;
}

export interface CachingProxyOptions {
  /** The origin's base URL: `http:` or `https:`, with no path beyond `/`, no query and no fragment. */
  readonly origin: URL | string;
  /** How many responses (variants) the cache holds at most: a positive integer. LRU beyond that. */
  readonly maxEntries: number;
  /**
   * How long one request to the origin may take, headers and body, in ms: a positive finite number
   * (default 10 000). Past it the request is abandoned and counts as an origin error.
   */
  readonly timeoutMs?: number;
  /** The cache's name in `Cache-Status` (an RFC 9110 token). Default `lab-proxy`. */
  readonly name?: string;
  /** Default `Date.now`. */
  readonly clock?: Clock;
}

/** Cache-Control directives by lowercase name: the argument without quotes, or `true` for none. */
export type CacheControl = ReadonlyMap<string, string | true>;

/**
 * Parses a `Cache-Control` field value (RFC 9111 §5.2) into its directives.
 *
 * - Directives are separated by commas; commas inside a quoted argument do not separate
 *   (`private="set-cookie, x-a"` is one directive). Empty elements, and elements without a name
 *   (`=5`), are skipped.
 * - Names are compared case-insensitively, so they are returned in lowercase; spaces and tabs
 *   around names and arguments are trimmed.
 * - An argument may be a token (`max-age=60`) or a quoted string (`max-age="60"`), returned
 *   without its quotes and with backslash escapes resolved. A directive without `=` maps to `true`.
 * - A directive given twice: the first occurrence counts.
 * - Arguments are not validated here (`max-age=abc` maps to `'abc'`); unknown directives are kept.
 *
 * `undefined`, `null` and `''` give an empty map.
 */
export function parseCacheControl(value: string | null | undefined): Map<string, string | true> {
  throw new Error(
    'parseCacheControl() is not implemented yet: open exercises/06-caching/http-cache/caching-proxy.ts',
  );
}

/**
 * Creates the caching proxy: a `node:http` request listener. The contract, in the order the suite
 * checks it:
 *
 * **Forwarding.** A request goes to `origin` with `fetch`: same method, the request target's path
 * and query appended to origin as they are (`GET //other/x` asks origin for the path `//other/x`;
 * the proxy never contacts any host but origin), the client's headers without hop-by-hop ones
 * (Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade and those
 * Connection names), Host, Content-Length and Expect, and the body (read whole). Redirects are
 * passed back, not followed. The answer goes back with its status, headers (hop-by-hop ones
 * dropped; Content-Encoding and Content-Length dropped too, because `fetch` has decoded the body)
 * and body. A request target that does not start with `/` (absolute-form `http://host/x`, `*`) is
 * answered `400` and not forwarded.
 *
 * **What is stored** (RFC 9111 §3): the answer to a `GET` when all hold: status 200; its
 * Cache-Control has neither `no-store` nor `private` (with or without field names); it has
 * `max-age`, `s-maxage` or `no-cache`; its `Vary` does not list `*`; the request's Cache-Control
 * has no `no-store`; and the request had no `Authorization`, unless the response has `public`, `s-maxage`
 * or `must-revalidate` (§3.5). Such a stored response then serves any request that matches it,
 * with or without Authorization. No `Expires`, no heuristic freshness.
 *
 * **Which entry a request may use** (§4.1): one stored for the same path and query whose `Vary`d
 * request headers (names case-insensitive; every name listed, on one `Vary` line or several) have
 * the same values in this request as in the one that stored it (an absent header matches only an
 * absent one; values compared exactly, after trimming).
 * Several variants of one URL are stored side by side, each an entry. When there are more than
 * `maxEntries`, the least recently used entry (stored or served) goes.
 *
 * **Freshness** (§4.2), on the injected clock: the lifetime is `s-maxage` when present (a shared
 * cache), else `max-age`; `0` with `no-cache`, and `0` when the directive's argument is not a
 * delta-seconds (digits only: `max-age=abc`, `-1`, `1.5` are stale at once); values above 2^31 count
 * as 2^31. The age is the origin's `Age` (a non-negative integer; otherwise 0) plus the time since
 * the response arrived. Fresh while age < lifetime: at exactly the lifetime it is stale.
 *
 * **A fresh entry** is served without contacting the origin, with the stored headers, `Age` (whole
 * seconds, rounded down) and `Cache-Status: <name>; hit`.
 *
 * **A stale entry** (§4.3):
 * - within `stale-while-revalidate=N` (RFC 5861 §3: staleness, age − lifetime, below N s) it is served
 *   at once as in a hit with `Cache-Status: <name>; hit; detail=stale-while-revalidate`, and one
 *   background revalidation starts for the entry; requests while it runs share it (no second one).
 *   It refreshes the entry on a 304, replaces it on a storable 200 (removes it on one that is not
 *   storable), and leaves it as it was on anything else, so a later stale request tries again;
 * - otherwise it is revalidated before answering: the request goes to origin with
 *   `If-None-Match: <stored ETag>` (no condition when the entry has no ETag). A `304` refreshes the
 *   entry (its headers updated from the 304's, its age restarted from the 304's `Age` or 0) and the
 *   stored 200 is served with `Age` and `Cache-Status: <name>; fwd=stale; fwd-status=304; stored`.
 *   Any other answer is passed back with `Cache-Status: <name>; fwd=stale; fwd-status=<status>`
 *   (plus `; stored` when it was a storable 200), and replaces the entry: stored if storable, else
 *   the entry is removed, except after a 5xx status, which leaves the entry in place.
 * - `no-cache`, `must-revalidate` and `proxy-revalidate` forbid serving stale (§4.2.4): with any of
 *   them, stale-while-revalidate and stale-if-error are ignored. (`s-maxage` does not: the common
 *   CDN idiom `s-maxage=1, stale-while-revalidate=59` depends on it.)
 *
 * **Origin errors**: refused or reset → 502, no answer (headers and body) within `timeoutMs` → 504,
 * both with `Cache-Status: <name>; fwd=<reason>` and no fwd-status. When revalidating a stale entry
 * whose staleness is below `stale-if-error=N` s (RFC 5861 §4), such an error or a 500, 502, 503 or
 * 504 from origin serves the stale entry instead, with `Age` and
 * `Cache-Status: <name>; fwd=stale; detail=stale-if-error` (plus `; fwd-status=<status>` when
 * origin answered). A 5xx outside that is passed back as it is.
 *
 * **Cache-Status** (RFC 9211) is on every response the proxy sends except its own 400s:
 * `hit` as above; `fwd=miss` when no entry could be used, `fwd=stale` when a stale one was
 * revalidated, `fwd=method` for methods other than GET; then `fwd-status=<origin's status>` when
 * origin answered, and `stored` when the proxy stored (or refreshed) the response it sends.
 *
 * **Other methods** bypass the cache (`fwd=method`). An unsafe one (anything but GET, HEAD, OPTIONS,
 * TRACE) that origin answers with a 2xx or 3xx removes every stored variant of its URL (§4.4).
 *
 * **Conditional GETs from clients**: the client's If-None-Match and If-Modified-Since are not sent
 * to origin (the proxy wants a full 200 it can store). When the GET's answer would be a 200 whose
 * ETag the client's If-None-Match matches (`matchesIfNoneMatch` from `./cache-headers.js`), it is
 * a 304 without a body instead, with the same headers.
 *
 * @throws {TypeError} naming the option and value, when `origin` is not an http(s) URL without
 *   path, query or fragment, or `name` is not a token
 * @throws {RangeError} naming the option and value, when `maxEntries` is not a positive integer or
 *   `timeoutMs` is not a positive finite number
 */
export function createCachingProxy(options: CachingProxyOptions): RequestListener {
  throw new Error(
    'createCachingProxy() is not implemented yet: open exercises/06-caching/http-cache/caching-proxy.ts',
  );
}
