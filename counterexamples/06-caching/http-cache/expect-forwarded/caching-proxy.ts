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
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { matchesIfNoneMatch } from './cache-headers.js';

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
  const directives = new Map<string, string | true>();
  if (!value) return directives;
  for (const part of splitOutsideQuotes(value)) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (name === '' || directives.has(name)) continue;
    directives.set(name, eq < 0 ? true : unquote(part.slice(eq + 1).trim()));
  }
  return directives;
}

/** Splits at commas that are not inside a quoted string. */
function splitOutsideQuotes(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

function unquote(argument: string): string {
  if (!argument.startsWith('"')) return argument;
  let out = '';
  for (let i = 1; i < argument.length; i++) {
    const c = argument[i];
    if (c === '"') break;
    out += c === '\\' ? (argument[++i] ?? '') : c;
  }
  return out;
}

/** The largest delta-seconds a cache must handle; bigger values count as this (RFC 9111 §1.2.2). */
const MAX_DELTA_SECONDS = 2 ** 31;

/** A delta-seconds argument (digits only), capped at 2^31; anything else (`abc`, `-1`, `1.5`, none) is invalid. */
function deltaSeconds(argument: string | true | undefined): number | undefined {
  if (typeof argument !== 'string' || !/^\d+$/.test(argument)) return undefined;
  return Math.min(Number(argument), MAX_DELTA_SECONDS);
}

/** Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded or stored. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
/** fetch() decodes compressed bodies but leaves these headers on the response: they no longer describe the bytes. */
const DECODED_BY_FETCH = new Set(['content-encoding', 'content-length']);
/** Statuses that RFC 5861 §4 counts as an error for stale-if-error. */
const ERROR_STATUSES = new Set([500, 502, 503, 504]);
/** Directives that forbid serving a stale response without revalidation (RFC 9111 §4.2.4). */
const NO_STALE = ['no-cache', 'must-revalidate', 'proxy-revalidate'];
/** Methods that do not change the resource, so their responses invalidate nothing (RFC 9110 §9.2.1). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

type HeaderList = [name: string, value: string][];

/** One stored response: a variant of one URL. */
interface Entry {
  readonly key: string;
  readonly path: string;
  /** Lowercase names from the response's `Vary`, and the request's values for them (null: absent). */
  readonly vary: readonly string[];
  readonly varyValues: readonly (string | null)[];
  headers: HeaderList;
  readonly body: Buffer;
  cacheControl: CacheControl;
  etag: string | undefined;
  /** Clock time when the response (or its latest 304) arrived. */
  storedAt: number;
  /** The origin's `Age` at that moment, in ms. */
  initialAgeMs: number;
}

/** What came back from the origin: the body read whole, the headers without hop-by-hop fields. */
interface OriginAnswer {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: Buffer;
}

/** The origin could not be asked: refused, reset, or too slow. */
class OriginError extends Error {
  constructor(readonly status: 502 | 504) {
    super(status === 504 ? 'the origin did not answer in time' : 'the origin could not be reached');
  }
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
  const { maxEntries, timeoutMs = 10_000, name = 'lab-proxy', clock = { now: () => Date.now() } } = options;
  const origin = parseOrigin(options.origin);
  if (!Number.isInteger(maxEntries) || maxEntries <= 0) {
    throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }
  if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) {
    throw new RangeError(`timeoutMs must be a positive finite number of ms, got ${timeoutMs}`);
  }
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw new TypeError(`name must be a token (letters, digits, -, ...), got ${JSON.stringify(name)}`);
  }

  /** Every entry by key, least recently used first (a Map keeps insertion order). */
  const entries = new Map<string, Entry>();
  /** Keys of the entries of each path, for the Vary lookup and for invalidation. */
  const byPath = new Map<string, Set<string>>();
  /** Keys of the entries whose background revalidation is in flight. */
  const revalidating = new Set<string>();

  /** A Cache-Status value (RFC 9211): this cache's name, then the parameters. */
  const cacheStatus = (...params: string[]) => [name, ...params].join('; ');

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendPlain(res, error instanceof OriginError ? error.status : 502, 'the proxy failed');
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '';
    if (!target.startsWith('/')) {
      req.resume();
      sendPlain(res, 400, 'a request target must be a path starting with /');
      return;
    }
    const url = origin + target;
    if (req.method !== 'GET') return bypass(req, res, url, target);
    req.resume();

    const entry = lookup(target, req.headers);
    if (!entry) return miss(req, res, url, target);
    touch(entry);
    const now = clock.now();
    if (isFresh(entry, now)) return serveStored(req, res, entry, cacheStatus('hit'));
    if (staleWithin(entry, now, 'stale-while-revalidate')) {
      revalidateInBackground(entry, url, req.headers);
      return serveStored(req, res, entry, cacheStatus('hit', 'detail=stale-while-revalidate'));
    }
    return revalidate(req, res, entry, url);
  }

  async function miss(req: IncomingMessage, res: ServerResponse, url: string, path: string): Promise<void> {
    let answer: OriginAnswer;
    try {
      answer = await ask(url, 'GET', forwardHeaders(req.headers, true));
    } catch (error) {
      return sendOriginError(res, error, cacheStatus('fwd=miss'));
    }
    const stored = store(req.headers, path, answer);
    send(
      req,
      res,
      answer.status,
      answer.headers,
      answer.body,
      cacheStatus('fwd=miss', ...forwarded(answer, stored)),
    );
  }

  async function revalidate(req: IncomingMessage, res: ServerResponse, entry: Entry, url: string) {
    const headers = forwardHeaders(req.headers, true);
    if (entry.etag) headers.push(['if-none-match', entry.etag]);
    let answer: OriginAnswer;
    try {
      answer = await ask(url, 'GET', headers);
    } catch (error) {
      if (staleWithin(entry, clock.now(), 'stale-if-error')) {
        return serveStored(req, res, entry, cacheStatus('fwd=stale', 'detail=stale-if-error'));
      }
      return sendOriginError(res, error, cacheStatus('fwd=stale'));
    }
    if (answer.status === 304 && entry.etag) {
      refresh(entry, answer);
      return serveStored(req, res, entry, cacheStatus('fwd=stale', 'fwd-status=304', 'stored'));
    }
    if (ERROR_STATUSES.has(answer.status) && staleWithin(entry, clock.now(), 'stale-if-error')) {
      const params = [`fwd-status=${answer.status}`, 'detail=stale-if-error'];
      return serveStored(req, res, entry, cacheStatus('fwd=stale', ...params));
    }
    if (answer.status < 500) remove(entry); // a 5xx says nothing about the resource: keep the entry
    const stored = store(req.headers, entry.path, answer);
    send(
      req,
      res,
      answer.status,
      answer.headers,
      answer.body,
      cacheStatus('fwd=stale', ...forwarded(answer, stored)),
    );
  }

  function revalidateInBackground(entry: Entry, url: string, requestHeaders: IncomingHttpHeaders): void {
    if (revalidating.has(entry.key)) return;
    const headers = forwardHeaders(requestHeaders, true);
    if (entry.etag) headers.push(['if-none-match', entry.etag]);
    revalidating.add(entry.key);
    ask(url, 'GET', headers)
      .then((answer) => {
        if (answer.status === 304 && entry.etag) refresh(entry, answer);
        else if (answer.status === 200) {
          remove(entry);
          store(requestHeaders, entry.path, answer);
        }
      })
      .catch(() => {
        // The stale entry stays; the next stale request may try again.
      })
      .finally(() => revalidating.delete(entry.key));
  }

  async function bypass(req: IncomingMessage, res: ServerResponse, url: string, path: string) {
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = method === 'HEAD' || chunks.length === 0 ? undefined : Buffer.concat(chunks);
    let answer: OriginAnswer;
    try {
      answer = await ask(url, method, forwardHeaders(req.headers, false), body);
    } catch (error) {
      return sendOriginError(res, error, cacheStatus('fwd=method'));
    }
    if (!SAFE_METHODS.has(method) && answer.status >= 200 && answer.status < 400) invalidate(path);
    send(
      req,
      res,
      answer.status,
      answer.headers,
      answer.body,
      cacheStatus('fwd=method', ...forwarded(answer, false)),
    );
  }

  // ----- the store -------------------------------------------------------------------------------

  function lookup(path: string, requestHeaders: IncomingHttpHeaders): Entry | undefined {
    let best: Entry | undefined;
    for (const key of byPath.get(path) ?? []) {
      const entry = entries.get(key);
      if (!entry || !matchesVariant(entry, requestHeaders)) continue;
      if (!best || entry.storedAt > best.storedAt) best = entry;
    }
    return best;
  }

  function touch(entry: Entry): void {
    entries.delete(entry.key);
    entries.set(entry.key, entry);
  }

  /** Stores a 200 answer to a GET with these headers when RFC 9111 §3 allows it; returns whether it did. */
  function store(requestHeaders: IncomingHttpHeaders, path: string, answer: OriginAnswer): boolean {
    const cacheControl = parseCacheControl(header(answer.headers, 'cache-control'));
    const vary = varyNames(header(answer.headers, 'vary'));
    if (answer.status !== 200 || !vary || !isStorable(requestHeaders, cacheControl)) return false;
    const varyValues = vary.map((h) => requestValue(requestHeaders, h));
    const key = JSON.stringify([path, vary, varyValues]);
    const old = entries.get(key);
    if (old) remove(old);
    const entry: Entry = {
      key,
      path,
      vary,
      varyValues,
      headers: answer.headers,
      body: answer.body,
      cacheControl,
      etag: header(answer.headers, 'etag'),
      storedAt: clock.now(),
      initialAgeMs: ageOf(answer.headers),
    };
    entries.set(key, entry);
    const keys = byPath.get(path) ?? new Set<string>();
    byPath.set(path, keys.add(key));
    while (entries.size > maxEntries) {
      const oldest = entries.values().next().value;
      if (oldest) remove(oldest);
    }
    return true;
  }

  /** Updates a stored entry from a 304 (RFC 9111 §4.3.4): its header fields replace the stored ones. */
  function refresh(entry: Entry, answer: OriginAnswer): void {
    const updated = new Set(answer.headers.map(([h]) => h));
    entry.headers = [...entry.headers.filter(([h]) => !updated.has(h)), ...answer.headers];
    entry.cacheControl = parseCacheControl(header(entry.headers, 'cache-control'));
    entry.etag = header(entry.headers, 'etag');
    entry.storedAt = clock.now();
    entry.initialAgeMs = ageOf(answer.headers);
  }

  function remove(entry: Entry): void {
    if (entries.get(entry.key) !== entry) return;
    entries.delete(entry.key);
    const keys = byPath.get(entry.path);
    keys?.delete(entry.key);
    if (keys?.size === 0) byPath.delete(entry.path);
  }

  function invalidate(path: string): void {
    for (const key of [...(byPath.get(path) ?? [])]) {
      const entry = entries.get(key);
      if (entry) remove(entry);
    }
  }

  // ----- freshness -------------------------------------------------------------------------------

  function ageMs(entry: Entry, now: number): number {
    return entry.initialAgeMs + Math.max(0, now - entry.storedAt);
  }

  function lifetimeMs(entry: Entry): number {
    const cc = entry.cacheControl;
    if (cc.has('no-cache')) return 0;
    const seconds = cc.has('s-maxage') ? deltaSeconds(cc.get('s-maxage')) : deltaSeconds(cc.get('max-age'));
    return (seconds ?? 0) * 1000;
  }

  function isFresh(entry: Entry, now: number): boolean {
    return ageMs(entry, now) < lifetimeMs(entry);
  }

  /** Is the entry's staleness below the window that `directive` grants (and may it be served stale at all)? */
  function staleWithin(entry: Entry, now: number, directive: 'stale-while-revalidate' | 'stale-if-error') {
    if (NO_STALE.some((d) => entry.cacheControl.has(d))) return false;
    const window = deltaSeconds(entry.cacheControl.get(directive));
    return window !== undefined && ageMs(entry, now) - lifetimeMs(entry) < window * 1000;
  }

  // ----- talking to origin and to the client ---------------------------------------------------

  async function ask(
    url: string,
    method: string,
    headers: HeaderList,
    body?: Uint8Array<ArrayBuffer>,
  ): Promise<OriginAnswer> {
    try {
      const response = await fetch(url, {
        method,
        headers,
        ...(body ? { body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      return { status: response.status, headers: responseHeaders(response.headers), body: bytes };
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      throw new OriginError(timedOut ? 504 : 502);
    }
  }

  /** Sends a stored entry as a 200, with its current Age in whole seconds, rounded down. */
  function serveStored(req: IncomingMessage, res: ServerResponse, entry: Entry, status: string): void {
    const headers = entry.headers.filter(([h]) => h !== 'age');
    headers.push(['age', String(Math.floor(ageMs(entry, clock.now()) / 1000))]);
    send(req, res, 200, headers, entry.body, status);
  }

  /** Sends an answer, as a 304 when it is a 200 to a GET whose If-None-Match matches its ETag. */
  function send(
    req: IncomingMessage,
    res: ServerResponse,
    code: number,
    headers: HeaderList,
    body: Buffer,
    status: string,
  ): void {
    const etag = header(headers, 'etag');
    const notModified =
      req.method === 'GET' &&
      code === 200 &&
      etag !== undefined &&
      matchesIfNoneMatch(ifNoneMatch(req), etag);
    for (const [h, value] of headers) res.appendHeader(h, value);
    res.setHeader('cache-status', status);
    res.statusCode = notModified ? 304 : code;
    res.end(notModified || req.method === 'HEAD' ? undefined : body);
  }

  function sendOriginError(res: ServerResponse, error: unknown, status: string): void {
    res.setHeader('cache-status', status);
    sendPlain(res, error instanceof OriginError ? error.status : 502, String((error as Error).message));
  }
}

// ----- helpers without state ----------------------------------------------------------------------

function parseOrigin(origin: URL | string): string {
  let url: URL;
  try {
    url = new URL(String(origin));
  } catch {
    throw new TypeError(`origin must be an http(s) URL, got ${JSON.stringify(String(origin))}`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.pathname !== '/' || url.search || url.hash) {
    throw new TypeError(`origin must be an http(s) URL without path, query or fragment, got ${url.href}`);
  }
  return url.origin;
}

function isStorable(requestHeaders: IncomingHttpHeaders, cc: CacheControl): boolean {
  if (cc.has('no-store') || cc.has('private')) return false;
  if (!cc.has('max-age') && !cc.has('s-maxage') && !cc.has('no-cache')) return false;
  if (parseCacheControl(joined(requestHeaders['cache-control'])).has('no-store')) return false;
  if (requestHeaders.authorization === undefined) return true;
  return cc.has('public') || cc.has('s-maxage') || cc.has('must-revalidate');
}

/** The lowercase names in a Vary value; `undefined` for `Vary: *` (never reusable). */
function varyNames(value: string | undefined): string[] | undefined {
  const names = (value ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  return names.includes('*') ? undefined : [...new Set(names)].sort();
}

/** Does the request carry the same values for the entry's Vary'd headers as the one that stored it? */
function matchesVariant(entry: Entry, requestHeaders: IncomingHttpHeaders): boolean {
  return entry.vary.every((name, i) => requestValue(requestHeaders, name) === entry.varyValues[i]);
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function requestValue(headers: IncomingHttpHeaders, name: string): string | null {
  return joined(headers[name])?.trim() ?? null;
}

function ifNoneMatch(req: IncomingMessage): string | undefined {
  return joined(req.headers['if-none-match']);
}

function header(headers: HeaderList, name: string): string | undefined {
  const values = headers.filter(([h]) => h === name).map(([, v]) => v);
  return values.length ? values.join(', ') : undefined;
}

function ageOf(headers: HeaderList): number {
  return (deltaSeconds(header(headers, 'age')) ?? 0) * 1000;
}

/** The names a Connection field lists, which are hop-by-hop too. */
function connectionNames(value: string | undefined): Set<string> {
  return new Set((value ?? '').split(',').map((n) => n.trim().toLowerCase()));
}

/** The client's headers as they go to origin. */
function forwardHeaders(headers: IncomingHttpHeaders, dropConditionals: boolean): HeaderList {
  const named = connectionNames(joined(headers.connection));
  const out: HeaderList = [];
  for (const [h, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(h) || named.has(h)) continue;
    if (h === 'host' || h === 'content-length') continue;
    if (dropConditionals && (h === 'if-none-match' || h === 'if-modified-since')) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push([h, v]);
  }
  return out;
}

/** The origin's headers as the proxy stores and sends them. */
function responseHeaders(headers: Headers): HeaderList {
  const named = connectionNames(headers.get('connection') ?? undefined);
  const out: HeaderList = [];
  for (const [h, value] of headers) {
    if (HOP_BY_HOP.has(h) || named.has(h) || DECODED_BY_FETCH.has(h)) continue;
    out.push([h, value]);
  }
  return out;
}

/** The Cache-Status parameters of an answer that came from origin. */
function forwarded(answer: OriginAnswer, stored: boolean): string[] {
  return [`fwd-status=${answer.status}`, ...(stored ? ['stored'] : [])];
}

function sendPlain(res: ServerResponse, code: number, message: string): void {
  res.statusCode = code;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`${code} ${message}\n`);
}
