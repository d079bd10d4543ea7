/**
 * Server-side sessions in Redis, so that any process can serve any request: the process keeps
 * nothing between requests, and a logout is effective everywhere at once.
 *
 * Keys this module owns (all under `keyPrefix`, default `sess:`):
 *
 * - `<prefix><id>`: the session, a HASH of string fields. It expires after `ttlSeconds` without a
 *   request (every request that loads it slides the expiry); deleting it IS the logout. A hash, not
 *   a JSON blob, so that `set` writes one field (HSET) and parallel requests that write different
 *   fields cannot overwrite each other (express-session's `resave` race rewrites the whole blob).
 *
 * Nothing else is stored: the cookie carries only the id, 32 random bytes (256 bits) in base64url.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';

/** What {@link redisSessions} needs. */
export interface RedisSessionOptions {
  /** The connection the sessions live on. */
  redis: Redis;
  /** Idle timeout in whole seconds (>= 1): a session not used for this long is gone. */
  ttlSeconds: number;
  /** The cookie's name. Default `sid`. */
  cookieName?: string;
  /** Adds `Secure` to the cookie (send it over HTTPS only). Default false. */
  secure?: boolean;
  /** Prepended to every Redis key. Default `sess:`. */
  keyPrefix?: string;
}

/** One request's view of its session. */
export interface Session {
  /** The current id (changes on {@link Session.regenerate} and {@link Session.destroy}). */
  readonly id: string;
  /** True while nothing of this session is stored in Redis (an anonymous visitor). */
  readonly isNew: boolean;
  /** One field, or undefined when it is not set (or the session is gone). */
  get(field: string): Promise<string | undefined>;
  /** Every field. */
  all(): Promise<Record<string, string>>;
  /**
   * Writes one field, at once (HSET of that field only), and slides the expiry. The first `set` of
   * a new session creates its key and sets the cookie.
   * @throws {SessionGoneError} when the session this request loaded has been deleted since
   *   (a logout in another request, or expiry): it is not brought back.
   */
  set(field: string, value: string): Promise<void>;
  /** Gives the session a new id, keeping its data; the old id is dead at once (session fixation). */
  regenerate(): Promise<void>;
  /** Logout: deletes the session from Redis and clears the cookie; the session is then a new, empty one. */
  destroy(): Promise<void>;
}

/** Thrown by {@link Session.set} when the session was deleted (logout) or expired after it was loaded. */
export class SessionGoneError extends Error {
  override readonly name = 'SessionGoneError';
  readonly code = 'ESESSIONGONE';
  constructor(readonly sessionId: string) {
    super(`session ${sessionId.slice(0, 8)}... was logged out or expired: start a new one`);
  }
}

/** Creates sessions. Call `load` once per request, before the response's headers are written. */
export interface RedisSessions {
  load(req: IncomingMessage, res: ServerResponse): Promise<Session>;
}

/** 32 random bytes in base64url without padding: 43 characters. */
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const newId = () => randomBytes(32).toString('base64url');

/**
 * Writes a field only if this session may exist: `create` (ARGV[1] = '1') for a session not stored
 * yet, otherwise only while its key is still there, so a request that loaded the session before a
 * logout cannot bring it back. The write and the expiry are one step: a key never exists without a TTL.
 */
const SET_FIELD = `
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
if ARGV[1] == '1' then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1`;

/** Moves a stored session to its new id: the old key is gone in the same step. 0 when there was none. */
const MOVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1`;

/**
 * Redis-backed sessions, as a middleware-like `load(req, res)`.
 *
 * - Storage: the session with id `<id>` is the Redis HASH `<keyPrefix><id>` (default `sess:<id>`),
 *   one hash field per session field. `set` writes that one field (never the whole session), so
 *   parallel requests that set different fields all keep their write. The key always has a TTL of
 *   at most `ttlSeconds`, from its first write on.
 * - Ids: 32 bytes from `crypto.randomBytes` in base64url without padding (43 characters).
 * - The cookie: `<cookieName>=<id>; Path=/; Max-Age=<ttlSeconds>; HttpOnly; SameSite=Lax` (plus
 *   `Secure` when configured), sent when a session is first stored, on every request that loads a
 *   stored session (the Max-Age slides with the key's TTL), and after `regenerate`. `destroy` sends
 *   the same cookie with an empty value and `Max-Age=0`.
 *   A response carries at most one `Set-Cookie` for `cookieName` (the last state of the session in
 *   this request), and keeps any other `Set-Cookie` the app has set. The id is read from the
 *   request's `Cookie` header among any other cookies (`a=1; sid=<id>; b=2`).
 * - A request without a cookie, with a malformed id (anything but 43 base64url characters), or with
 *   an id Redis does not know gets a new session with a fresh id, not an error; nothing is written to
 *   Redis until its first `set` (an anonymous visit stores nothing and sets no cookie), and no key is
 *   ever created, read or touched under an id the client chose that was not already a session.
 * - Rolling expiry: loading a stored session slides its expiry to `ttlSeconds` (`EXPIRE`), and so
 *   does every `set`. A session not loaded for `ttlSeconds` is gone.
 * - `regenerate` keeps the data under the new id and leaves no key under the old one.
 * - `destroy` deletes the key: a copy of the old cookie is anonymous on the next request.
 * - When Redis cannot be reached, `load` and every method reject (with the client's error), so the
 *   request fails: a visitor is never served as anonymous, nor given a new session, because Redis
 *   did not answer.
 *
 * @throws {RangeError} when `ttlSeconds` is not a whole number >= 1, or `cookieName` is not an RFC 6265
 *   token (letters, digits and ``!#$%&'*+-.^_`|~``)
 */
export function redisSessions(options: RedisSessionOptions): RedisSessions {
  const { redis, ttlSeconds, cookieName = 'sid', secure = false, keyPrefix = 'sess:' } = options;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new RangeError(`ttlSeconds must be a whole number of seconds >= 1, got ${ttlSeconds}`);
  }
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cookieName)) {
    throw new RangeError(`cookieName must be an RFC 6265 token, got ${JSON.stringify(cookieName)}`);
  }
  const keyOf = (id: string) => `${keyPrefix}${id}`;
  const attributes = `Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  const sendCookie = (res: ServerResponse, value: string, maxAge: number) =>
    replaceCookie(res, cookieName, `${cookieName}=${value}; Max-Age=${maxAge}; ${attributes}`);

  return {
    async load(req, res) {
      const presented = readCookie(req.headers.cookie, cookieName);
      // EXPIRE slides the TTL and tells whether the key exists, in one round trip; it never creates one.
      const known =
        presented !== undefined && ID_PATTERN.test(presented) && (await redis.exists(keyOf(presented))) === 1;
      let id = known ? presented : newId();
      let stored = known;
      if (stored) sendCookie(res, id, ttlSeconds);

      return {
        get id() {
          return id;
        },
        get isNew() {
          return !stored;
        },
        async get(field) {
          return (await redis.hget(keyOf(id), field)) ?? undefined;
        },
        async all() {
          return redis.hgetall(keyOf(id));
        },
        async set(field, value) {
          const written = await redis.eval(
            SET_FIELD,
            1,
            keyOf(id),
            stored ? '0' : '1',
            ttlSeconds,
            field,
            value,
          );
          if (written !== 1) throw new SessionGoneError(id);
          if (!stored) sendCookie(res, id, ttlSeconds);
          stored = true;
        },
        async regenerate() {
          const next = newId();
          const moved = stored && (await redis.eval(MOVE, 2, keyOf(id), keyOf(next), ttlSeconds)) === 1;
          id = next;
          stored = moved;
          if (moved) sendCookie(res, id, ttlSeconds);
        },
        async destroy() {
          await redis.del(keyOf(id));
          sendCookie(res, '', 0);
          id = newId();
          stored = false;
        },
      };
    },
  };
}

/** The first cookie called `name` in a `Cookie` header (RFC 6265 §5.4: `name=value` pairs joined by `; `). */
function readCookie(header: string | undefined, name: string): string | undefined {
  for (const pair of header?.split(';') ?? []) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** Sets `cookie` on the response, replacing an earlier Set-Cookie for the same name from this request. */
function replaceCookie(res: ServerResponse, name: string, cookie: string): void {
  const current = res.getHeader('set-cookie');
  const list = Array.isArray(current) ? current : current === undefined ? [] : [String(current)];
  res.setHeader('set-cookie', [...list.filter((c) => !c.startsWith(`${name}=`)), cookie]);
}
