/**
 * The origin's half of HTTP caching (RFC 9110 §8.8, §13; RFC 9111 §5.2): a wrapper that turns an
 * expensive page into one that caches and revalidates well.
 *
 * ```
 *   GET /report                      →  200, ETag: "k3J…", Cache-Control: …, body   (render ran)
 *   GET /report, If-None-Match: "k3J…" →  304, ETag, Cache-Control, no body        (render did not run)
 * ```
 *
 * The trick is to split the page in two: a cheap `validator` (a version number, an updated-at: one
 * indexed read) that says *which* representation is current, and an expensive `render` that builds
 * it. The ETag comes from the validator alone, so a conditional request can be answered 304 before
 * any of the expensive work starts.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/** What `render` produces: the bytes of the page and their media type. */
export interface Representation {
  /** The content; a string is sent as UTF-8. */
  readonly body: string | Uint8Array;
  /** The `Content-Type`, e.g. `text/html; charset=utf-8`. */
  readonly contentType: string;
}

export interface CacheableOptions {
  /**
   * Cheap: names the current representation of the requested resource (a version, an updated-at,
   * a row's hash). It must change whenever the body `render` would produce changes, including for
   * every request header named in `vary` that the body depends on (it receives the request).
   */
  readonly validator: (req: IncomingMessage) => string | Promise<string>;
  /** Expensive: builds the representation. Never called for a request answered 304. */
  readonly render: (req: IncomingMessage) => Promise<Representation>;
  /** Sent as `Cache-Control` on every 200 and 304, e.g. `public, max-age=60`. A non-empty string. */
  readonly cacheControl: string;
  /** Request header names the representation depends on, sent as `Vary` (joined with `, `). */
  readonly vary?: readonly string[];
  /**
   * Optional, cheap: when the representation last changed. With it, 200 and 304 carry
   * `Last-Modified` (an IMF-fixdate in GMT, as `Date.prototype.toUTCString` writes it) and
   * `If-Modified-Since` is answered (see {@link cacheable}).
   */
  readonly lastModified?: (req: IncomingMessage) => Date | Promise<Date>;
}

/** The characters of an opaque-tag between its quotes (RFC 9110 §8.8.3: etagc). */
const ETAGC = /^[\x21\x23-\x7e\x80-\xff]*$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The strong entity tag for a validator: a quoted opaque-tag (RFC 9110 §8.8.3) derived from the
 * validator alone. The same validator always gives the same tag, different validators give
 * different tags (a cryptographic hash: the reference quotes the base64url SHA-256 of the
 * validator's UTF-8 bytes), and the tag is valid whatever characters the validator holds (quotes,
 * spaces, newlines, non-ASCII). Never weak (`W/`).
 */
export function strongETag(validator: string): string {
  return `"${createHash('sha256').update(validator, 'utf8').digest('base64url')}"`;
}

/** The opaque-tag of an entity-tag, without its weakness prefix (the weak comparison's view of it). */
const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/**
 * Does an `If-None-Match` field value match the current entity tag `etag`?
 * (RFC 9110 §13.1.2.) True when the value is `*`, or when it is a list of entity-tags one of which
 * equals `etag` under the *weak* comparison (§8.8.3.2: the opaque-tags are equal character for
 * character, whether either is marked `W/`; the quotes are part of the tag, and a comma between
 * them is part of it too).
 *
 * The list follows RFC 9110 §5.6.1: elements separated by commas with optional spaces or tabs
 * around them, and empty elements ignored (`, "a",,"b" ,`). A value that is neither `*` nor such a
 * list (an unquoted tag, `*` inside a list, a lowercase `w/`, text after a closing quote, an empty
 * value) is malformed, and a malformed value matches nothing. `undefined` (no header) matches
 * nothing. Runs in time linear in the value's length.
 */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = header.trim();
  if (value === '*') return true;
  const wanted = opaque(etag);
  let matched = false;
  let i = 0;
  const skipSpaces = () => {
    while (value[i] === ' ' || value[i] === '\t') i++;
  };
  while (i < value.length) {
    skipSpaces();
    if (value[i] === ',') {
      i++; // an empty list element
      continue;
    }
    const start = i; // the value is trimmed, so an element starts here
    if (value.startsWith('W/', i)) i += 2;
    if (value[i] !== '"') return false;
    const close = value.indexOf('"', i + 1);
    if (close < 0 || !ETAGC.test(value.slice(i + 1, close))) return false;
    i = close + 1;
    if (opaque(value.slice(start, i)) === wanted) matched = true;
    skipSpaces();
    if (i < value.length && value[i] !== ',') return false;
  }
  return matched;
}

/**
 * Wraps an expensive page as a `node:http` request listener that caches and revalidates well.
 *
 * For `GET` and `HEAD`, in this order:
 * 1. Calls `validator(req)` (and `lastModified(req)` when given), then sets `ETag`
 *    ({@link strongETag} of the validator), `Cache-Control` (the option, as given), `Vary` (when
 *    `vary` is given and not empty) and `Last-Modified` (when `lastModified` is given).
 * 2. **If-None-Match** present: when {@link matchesIfNoneMatch} says it matches, answers
 *    `304 Not Modified` with those headers and no body, and `render` is not called. When it does
 *    not match (or is malformed), falls through to 3. Whatever its value, a request with
 *    `If-None-Match` never looks at `If-Modified-Since` (RFC 9110 §13.1.3).
 * 3. **If-Modified-Since** (only without If-None-Match, and only with a `lastModified` option): when
 *    its value is a date `Date.parse` reads and the last modification, truncated to whole seconds
 *    (HTTP dates have no milliseconds), is at or before it, answers 304 as in 2. A value that is
 *    not a date is ignored.
 * 4. Otherwise calls `render(req)` and answers `200` with those headers plus `Content-Type` and
 *    `Content-Length` (bytes). `HEAD` gets exactly the status and headers `GET` would get, and no
 *    body (HEAD runs `render` too, to know the length; a matching HEAD is a 304 like a GET).
 *
 * Every other method: `405 Method Not Allowed` with `Allow: GET, HEAD`; neither callback is called.
 *
 * When `validator`, `lastModified` or `render` throws or rejects: `500` with
 * `Cache-Control: no-store` and none of the success headers (no ETag, Vary or Last-Modified), so
 * that no cache keeps the error page under the success's rules. The server keeps serving.
 *
 * @throws {TypeError} naming the option, when `validator` or `render` is not a function,
 *   `cacheControl` is not a non-empty string, `lastModified` is given and is not a function, or an
 *   entry of `vary` is not a header name (an RFC 9110 token)
 */
export function cacheable(options: CacheableOptions): RequestListener {
  const { validator, render, cacheControl, vary = [], lastModified } = options;
  if (typeof validator !== 'function') throw new TypeError(`validator must be a function, got ${validator}`);
  if (typeof render !== 'function') throw new TypeError(`render must be a function, got ${render}`);
  if (typeof cacheControl !== 'string' || cacheControl.trim() === '') {
    throw new TypeError(`cacheControl must be a non-empty string, got ${JSON.stringify(cacheControl)}`);
  }
  if (lastModified !== undefined && typeof lastModified !== 'function') {
    throw new TypeError(`lastModified must be a function when given, got ${lastModified}`);
  }
  for (const name of vary) {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw new TypeError(`vary must list header names, got ${JSON.stringify(name)}`);
    }
  }
  const varyValue = vary.join(', ');

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('405 Method Not Allowed: this resource answers GET and HEAD\n');
      return;
    }
    answer(req, res).catch(() => fail(res));
  };

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const etag = strongETag(await validator(req));
    const modified = lastModified ? await lastModified(req) : undefined;
    res.setHeader('etag', etag);
    res.setHeader('cache-control', cacheControl);
    if (varyValue) res.setHeader('vary', varyValue);
    if (modified) res.setHeader('last-modified', modified.toUTCString());

    if (notModified(req, etag, modified)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    const { body, contentType } = await render(req);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.setHeader('content-type', contentType);
    res.setHeader('content-length', bytes.byteLength);
    res.statusCode = 200;
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }
}

/** RFC 9110 §13.2.2 steps 3 and 4 for GET and HEAD: If-None-Match first, If-Modified-Since only without it. */
function notModified(req: IncomingMessage, etag: string, modified: Date | undefined): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) return matchesIfNoneMatch(ifNoneMatch, etag);
  if (modified === undefined) return false;
  // Date.parse gives NaN for a missing or unreadable date, and every comparison with NaN is false.
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  return Math.floor(modified.getTime() / 1000) * 1000 <= since;
}

/** A 500 that no cache will keep, and that does not carry the success's validators. */
function fail(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const name of ['etag', 'vary', 'last-modified', 'content-type', 'content-length'])
    res.removeHeader(name);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.statusCode = 500;
  res.end('500 Internal Server Error\n');
}
