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
 * The redirect path waits on at most one Redis round trip: a cache hit on none, a miss on one
 * `HGETALL`. Clicks are counted in memory and written every {@link CLICK_FLUSH_MS} ms in one
 * pipeline (one script call per link clicked), after the responses have gone out: a redirect never
 * waits for analytics. The price: the clicks of the last flush interval are lost if the process
 * dies, and clicks made while Redis is down are dropped.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Redis, type RedisOptions } from 'ioredis';
import { createCodeGenerator } from './codes.js';
import { type Clock, createLinkCache, type LinkCache } from './link-cache.js';
import { checkTargetUrl } from './url-policy.js';

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
const MAX_BODY_BYTES = 16 * 1024;
const WINDOW_MS = 60_000;
/** How long clicks wait in memory before they are written to Redis together. */
export const CLICK_FLUSH_MS = 100;
/** Pending visitors that trigger a flush at once, so a burst cannot grow the buffer without bound. */
const MAX_PENDING_VISITORS = 1000;

/** What the redirect path needs of a link (the value of the cache). */
interface CachedLink {
  readonly url: string;
  readonly expiresAt: number | null;
}

/** An answer decided on the way: a status and a message for the `{error}` body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// Atomic steps as Lua scripts: one round trip each, and nothing can happen in between.
const SCRIPTS = {
  /** KEYS: link. ARGV: ttlSeconds (0 = none), field, value, ... → 1 created, 0 the code is taken. */
  createLink: {
    numberOfKeys: 1,
    lua: `
    if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
    redis.call('HSET', KEYS[1], unpack(ARGV, 2))
    if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
    return 1`,
  },
  /** KEYS: link, visitors. ARGV: clicks, visitor, ... Counts clicks on a link that still exists. */
  recordClicks: {
    numberOfKeys: 2,
    lua: `
    if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
    redis.call('HINCRBY', KEYS[1], 'clicks', ARGV[1])
    redis.call('PFADD', KEYS[2], unpack(ARGV, 2))
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
    return 1`,
  },
  /** KEYS: link, visitors. ARGV: token hash, channel, code → 1 deleted, 0 unknown, -1 wrong token. */
  deleteLink: {
    numberOfKeys: 2,
    lua: `
    local stored = redis.call('HGET', KEYS[1], 'tokenHash')
    if not stored then return 0 end
    if stored ~= ARGV[1] then return -1 end
    redis.call('DEL', KEYS[1], KEYS[2])
    redis.call('PUBLISH', ARGV[2], ARGV[3])
    return 1`,
  },
};

type ScriptedRedis = Redis & {
  createLink(key: string, ttlSeconds: number, ...fieldsAndValues: string[]): Promise<number>;
  deleteLink(
    link: string,
    visitors: string,
    tokenHash: string,
    channel: string,
    code: string,
  ): Promise<number>;
};

type ClickPipeline = ReturnType<Redis['pipeline']> & {
  recordClicks(link: string, visitors: string, clicks: number, ...visitorIds: string[]): ClickPipeline;
};

/** Fail fast while Redis is away (503 now beats a request hanging in a queue), and come back alone. */
const REDIS_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 2000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
};

/**
 * Connects to Redis (resolving once connected and subscribed to the invalidation channel) and
 * returns the service. The siblings do the parts: `codes.ts` (new codes), `url-policy.ts` (which
 * URLs are allowed), `link-cache.ts` (the hot-link cache).
 * @throws when Redis cannot be reached at start
 */
export async function createShortener(options: ShortenerOptions): Promise<Shortener> {
  const prefix = options.keyPrefix ?? 'short:';
  const clock = options.clock ?? Date;
  const createsPerMinute = options.createsPerMinute ?? 60;
  const channel = `${prefix}invalidate`;
  const keys = {
    link: (code: string) => `${prefix}link:${code}`,
    visitors: (code: string) => `${prefix}visitors:${code}`,
    rate: (client: string, window: number) => `${prefix}rate:${client}:${window}`,
  };

  const redis = new Redis(options.redisUrl, REDIS_OPTIONS) as ScriptedRedis;
  const subscriber = new Redis(options.redisUrl, REDIS_OPTIONS);
  for (const [name, script] of Object.entries(SCRIPTS)) redis.defineCommand(name, script);
  // Errors show up as 503s; without a listener ioredis would print every reconnect attempt.
  redis.on('error', () => {});
  subscriber.on('error', () => {});

  const cache: LinkCache<CachedLink> | undefined =
    options.cache === false
      ? undefined
      : createLinkCache({ maxEntries: 10_000, ttlMs: 60_000, ...options.cache, clock });
  const codes = createCodeGenerator(redis, `${prefix}counter`, options.codeSecret);

  try {
    await Promise.all([redis.connect(), subscriber.connect()]);
    await subscriber.subscribe(channel);
  } catch (error) {
    redis.disconnect();
    subscriber.disconnect();
    throw error;
  }
  subscriber.on('message', (_channel: string, code: string) => cache?.delete(code));
  // Invalidations published while we were disconnected are lost: start the cache afresh.
  subscriber.on('ready', () => cache?.clear());

  const pendingClicks = new Map<string, { clicks: number; visitors: Set<string> }>();
  let pendingVisitors = 0;
  let flushTimer: NodeJS.Timeout | undefined;

  function countClick(code: string, visitor: string): void {
    let pending = pendingClicks.get(code);
    if (!pending) {
      pending = { clicks: 0, visitors: new Set() };
      pendingClicks.set(code, pending);
    }
    pending.clicks++;
    if (!pending.visitors.has(visitor)) {
      pending.visitors.add(visitor);
      pendingVisitors++;
    }
    if (pendingVisitors >= MAX_PENDING_VISITORS) void flushClicks();
    else flushTimer ??= setTimeout(flushClicks, CLICK_FLUSH_MS);
  }

  /** Writes the pending clicks in one pipeline; never rejects (analytics must not break redirects). */
  async function flushClicks(): Promise<void> {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (pendingClicks.size === 0) return;
    const pipeline = redis.pipeline() as ClickPipeline;
    for (const [code, { clicks, visitors }] of pendingClicks) {
      pipeline.recordClicks(keys.link(code), keys.visitors(code), clicks, ...visitors);
    }
    pendingClicks.clear();
    pendingVisitors = 0;
    await pipeline.exec().catch(() => {});
  }

  async function create(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await enforceCreateLimit(req);
    const body = parseJsonObject(await readBody(req));
    const target = checkTargetUrl(body.url);
    if (!target.ok) throw new HttpError(400, target.error);
    const ttlSeconds = parseTtl(body.ttlSeconds);
    const alias = parseAlias(body.alias);

    const deleteToken = randomBytes(24).toString('base64url');
    const createdAt = clock.now();
    const expiresAt = ttlSeconds === undefined ? null : createdAt + ttlSeconds * 1000;
    const fields = [
      ...['url', target.url, 'createdAt', String(createdAt), 'expiresAt', String(expiresAt ?? '')],
      ...['tokenHash', sha256(deleteToken), 'clicks', '0'],
    ];
    const store = (code: string) => redis.createLink(keys.link(code), ttlSeconds ?? 0, ...fields);

    let code = alias;
    if (code !== undefined) {
      if (!(await store(code))) throw new HttpError(409, `the alias ${code} is taken`);
    } else {
      // A generated code can only be taken by an alias someone chose; the next counter value is free.
      for (let attempt = 0; code === undefined && attempt < 5; attempt++) {
        const candidate = await codes.next();
        if (await store(candidate)) code = candidate;
      }
      if (code === undefined) throw new Error('no free code after 5 attempts');
    }
    const shortUrl = `${options.publicBaseUrl ?? `http://${req.headers.host ?? 'localhost'}`}/${code}`;
    sendJson(res, 201, { code, shortUrl, url: target.url, expiresAt: toIso(expiresAt), deleteToken });
  }

  async function enforceCreateLimit(req: IncomingMessage): Promise<void> {
    const now = clock.now();
    const window = Math.floor(now / WINDOW_MS);
    const key = keys.rate(clientOf(req), window);
    const replies = await redis
      .multi()
      .incr(key)
      .pexpire(key, WINDOW_MS * 2)
      .exec();
    const count = Number(replies?.[0]?.[1]);
    if (count > createsPerMinute) {
      const retryAfter = WINDOW_MS / 1000;
      throw new HttpError(429, `at most ${createsPerMinute} links per minute; try again in ${retryAfter} s`, {
        'retry-after': String(retryAfter),
      });
    }
  }

  /** Synchronous on a cache hit (no promise, no await: this is the hot path); one HGETALL on a miss. */
  function redirect(code: string, req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    const cached = cache?.get(code);
    if (cached) return sendRedirect(code, cached, req, res);
    return loadLink(code).then((link) => sendRedirect(code, link, req, res));
  }

  async function loadLink(code: string): Promise<CachedLink> {
    const stored = await redis.hgetall(keys.link(code));
    if (!stored.url) throw new HttpError(404, `no link with code ${code}`);
    const link = { url: stored.url, expiresAt: stored.expiresAt ? Number(stored.expiresAt) : null };
    cache?.set(code, link, link.expiresAt === null ? undefined : link.expiresAt - clock.now());
    return link;
  }

  function sendRedirect(
    code: string,
    link: CachedLink,
    req: IncomingMessage,
    res: ServerResponse,
  ): undefined {
    if (link.expiresAt !== null && link.expiresAt <= clock.now()) {
      cache?.delete(code);
      throw new HttpError(404, `the link ${code} has expired`);
    }
    // 302, not 301: a browser may cache a 301 for good, and its later clicks would never reach us.
    res.writeHead(302, { location: link.url, 'cache-control': 'private, no-store' }).end();
    countClick(code, `${clientOf(req)}|${req.headers['user-agent'] ?? ''}`);
    return undefined;
  }

  async function stats(code: string, res: ServerResponse): Promise<void> {
    const replies = await redis.pipeline().hgetall(keys.link(code)).pfcount(keys.visitors(code)).exec();
    const [[linkError, stored], [countError, uniqueVisitors]] = replies as [
      [Error | null, Record<string, string>],
      [Error | null, number],
    ];
    if (linkError || countError) throw linkError ?? countError;
    if (!stored.url) throw new HttpError(404, `no link with code ${code}`);
    sendJson(res, 200, {
      code,
      url: stored.url,
      clicks: Number(stored.clicks ?? 0),
      uniqueVisitors,
      createdAt: toIso(Number(stored.createdAt)),
      expiresAt: toIso(stored.expiresAt ? Number(stored.expiresAt) : null),
    });
  }

  async function remove(code: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) {
      throw new HttpError(401, 'send the deleteToken as Authorization: Bearer <token>', {
        'www-authenticate': 'Bearer',
      });
    }
    const result = await redis.deleteLink(keys.link(code), keys.visitors(code), sha256(token), channel, code);
    if (result === 0) throw new HttpError(404, `no link with code ${code}`);
    if (result < 0) throw new HttpError(403, 'this token does not delete this link');
    cache?.delete(code);
    res.writeHead(204).end();
  }

  /** Answers the request; the returned promise (if any) settles when the answer has been sent. */
  function route(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    const path = (req.url ?? '/').split('?', 1)[0] as string;
    const method = req.method ?? 'GET';
    if (path === '/api/links') {
      if (method !== 'POST') throw methodNotAllowed('POST');
      return create(req, res);
    }
    const apiCode = /^\/api\/links\/([^/]+)$/.exec(path)?.[1];
    if (apiCode !== undefined) {
      if (!ALIAS_PATTERN.test(apiCode)) throw new HttpError(404, 'no link with this code');
      if (method === 'GET') return stats(apiCode, res);
      if (method === 'DELETE') return remove(apiCode, req, res);
      throw methodNotAllowed('GET, DELETE');
    }
    const code = /^\/([^/]+)$/.exec(path)?.[1];
    if (code === undefined || !ALIAS_PATTERN.test(code)) throw new HttpError(404, 'not found');
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
    return redirect(code, req, res);
  }

  /** The answer to a request that failed: its HttpError, 503 when Redis is the cause, else 500. */
  function fail(res: ServerResponse, error: unknown): void {
    if (res.headersSent) return;
    if (error instanceof HttpError) {
      sendJson(res, error.status, { error: error.message }, error.headers);
    } else if (redis.status !== 'ready' || isRedisFailure(error)) {
      sendJson(res, 503, { error: 'storage is unavailable, try again shortly' }, { 'retry-after': '1' });
    } else {
      sendJson(res, 500, { error: 'internal error' });
    }
  }

  const server = createServer((req, res) => {
    try {
      route(req, res)?.catch((error: unknown) => fail(res, error));
    } catch (error) {
      fail(res, error);
    }
  });

  return {
    server,
    async close() {
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await flushClicks();
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}

function isRedisFailure(error: unknown): boolean {
  const name = (error as Error | undefined)?.name ?? '';
  const message = (error as Error | undefined)?.message ?? '';
  return (
    name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|Command timed out|ECONNRE/.test(message)
  );
}

function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, `use ${allow}`, { allow });
}

/** The client for rate limiting and unique visitors: the TCP peer (behind a proxy, use its header). */
const clientOf = (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const toIso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Reads the body; past the limit it keeps draining (so the client can read the 413) but stores nothing. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size <= MAX_BODY_BYTES) return resolve(Buffer.concat(chunks).toString('utf8'));
      reject(new HttpError(413, `the body must be at most ${MAX_BODY_BYTES} bytes`, { connection: 'close' }));
    });
    req.on('error', reject);
  });
}

function parseJsonObject(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body must be JSON: {"url": "https://..."}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'the body must be a JSON object: {"url": "https://..."}');
  }
  return body as Record<string, unknown>;
}

function parseTtl(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TTL_SECONDS) {
    throw new HttpError(400, `ttlSeconds must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}`);
  }
  return value;
}

function parseAlias(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !ALIAS_PATTERN.test(value)) {
    throw new HttpError(400, 'alias must be 3 to 32 characters of A-Z, a-z, 0-9, _ and -');
  }
  return value;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}
