import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { createConnection } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  freePort,
  type Listening,
  listen,
  ManualClock,
  startHttpServer,
  waitFor,
} from '../../../src/testing/index.js';
import { cacheable, strongETag } from './cache-headers.js';
import { type CachingProxyOptions, createCachingProxy, parseCacheControl } from './caching-proxy.js';

// ---------------------------------------------------------------------------------------------
// A stand-in origin that records every request and answers as the test says, and the proxy in
// front of it on an injected clock.

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Reply {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

type Route = (req: Seen, n: number) => Reply | 'hang' | 'reset' | Promise<Reply | 'hang' | 'reset'>;

interface Origin extends Listening {
  readonly seen: Seen[];
  route: Route;
  /** Requests to `path` (any method) that reached the origin. */
  count(path?: string): number;
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function startOrigin(route: Route): Promise<Origin> {
  const seen: Seen[] = [];
  const state = { route };
  const listening = await startHttpServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    };
    seen.push(request);
    const reply = await state.route(request, seen.length);
    if (reply === 'hang') return;
    if (reply === 'reset') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(reply.status ?? 200, reply.headers ?? {});
    res.end(reply.body ?? '');
  });
  open.push(listening);
  const origin = {
    ...listening,
    seen,
    count: (path?: string) => seen.filter((r) => path === undefined || r.url === path).length,
    get route() {
      return state.route;
    },
    set route(next: Route) {
      state.route = next;
    },
  };
  return origin;
}

/** 1 700 000 000 000 ms: a Tuesday in November 2023. */
const START = 1_700_000_000_000;

async function startProxy(
  origin: string,
  options: Partial<CachingProxyOptions> = {},
): Promise<{ url: string; clock: ManualClock; port: number }> {
  const clock = new ManualClock(START);
  const listening = await listen(
    createServer(createCachingProxy({ origin, maxEntries: 100, clock, timeoutMs: 3000, ...options })),
  );
  open.push(listening);
  return { url: listening.url, clock, port: listening.port };
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
  /** The Cache-Status header's parameters, e.g. `{ fwd: 'miss', 'fwd-status': '200', stored: true }`. */
  cache: Record<string, string | true>;
}

/** Parses `Cache-Status: lab-proxy; fwd=miss; fwd-status=200; stored` (RFC 9211). */
function cacheStatus(value: string | null): Record<string, string | true> {
  const [name = '', ...params] = (value ?? '').split(';').map((part) => part.trim());
  const out: Record<string, string | true> = { name };
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) out[param] = true;
    else out[param.slice(0, eq)] = param.slice(eq + 1);
  }
  return out;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const body = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body,
    cache: cacheStatus(res.headers.get('cache-status')),
  };
}

const get = (url: string, headers: Record<string, string> = {}) => call(url, { headers });

/** Sends raw bytes and resolves with whatever comes back before the server closes or 2 s pass. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (/\r\n\r\n/.test(reply)) socket.end();
    });
    const done = () => resolve(reply);
    socket.on('close', done).on('error', done);
    socket.setTimeout(2000, () => socket.destroy());
    socket.write(bytes);
  });
}

/** An origin that answers every GET with `body` and these headers. */
const always =
  (headers: Record<string, string | string[]>, body = 'hello'): Route =>
  () => ({ headers, body });

/** Answers a conditional GET whose If-None-Match holds `etag` with 304, anything else with 200 `body`. */
const withETag =
  (etag: string, headers: Record<string, string>, body = 'hello'): Route =>
  (req) =>
    req.headers['if-none-match'] === etag
      ? { status: 304, headers: { etag, ...headers } }
      : { headers: { etag, ...headers }, body };

/** A promise and the function that resolves it: lets a test hold an origin answer back. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

// ---------------------------------------------------------------------------------------------

describe('parseCacheControl', () => {
  it('maps each directive to its argument, or true when it has none', () => {
    const cc = parseCacheControl('public, max-age=60, must-revalidate');
    expect([...cc]).toEqual([
      ['public', true],
      ['max-age', '60'],
      ['must-revalidate', true],
    ]);
  });

  it('lowercases names, trims spaces and tabs, and unquotes arguments', () => {
    const cc = parseCacheControl(' Max-Age="60" ,\tNO-STORE , x-ext="say \\"hi\\"" ');
    expect(cc.get('max-age'), 'names are case-insensitive; a quoted argument loses its quotes').toBe('60');
    expect(cc.get('no-store')).toBe(true);
    expect(cc.get('x-ext'), 'backslash escapes inside quotes are resolved').toBe('say "hi"');
    expect(cc.size).toBe(3);
  });

  it('does not split at a comma inside a quoted argument', () => {
    const cc = parseCacheControl('private="set-cookie, x-a", max-age=60');
    expect(cc.get('private')).toBe('set-cookie, x-a');
    expect(cc.get('max-age')).toBe('60');
    expect(cc.size, 'two directives, not three').toBe(2);
    const escaped = parseCacheControl('x-ext="a\\",b", max-age=60');
    expect(escaped.get('x-ext'), 'an escaped quote does not end the quoted string').toBe('a",b');
    expect(escaped.get('max-age')).toBe('60');
  });

  it('trims spaces around the = of a directive', () => {
    expect(parseCacheControl('max-age = 60').get('max-age')).toBe('60');
  });

  it('keeps the first occurrence of a repeated directive', () => {
    expect(parseCacheControl('max-age=10, max-age=3600').get('max-age')).toBe('10');
    expect(parseCacheControl('no-cache, NO-CACHE="x"').get('no-cache')).toBe(true);
  });

  it('keeps unknown directives and unvalidated arguments, and skips empty elements', () => {
    const cc = parseCacheControl(',, max-age=abc ,, x-unknown, =5, stale-while-revalidate=30,');
    expect([...cc]).toEqual([
      ['max-age', 'abc'],
      ['x-unknown', true],
      ['stale-while-revalidate', '30'],
    ]);
  });

  it('gives an empty map for no value', () => {
    for (const value of [undefined, null, '', '  ']) expect(parseCacheControl(value).size).toBe(0);
  });
});

describe('caching proxy: options', () => {
  it('throws TypeError for an origin that is not an http(s) URL without a path, and for a bad name', () => {
    for (const origin of ['ftp://127.0.0.1/', 'not a url', 'http://127.0.0.1:8080/api', 'http://h/?q=1']) {
      expect(() => createCachingProxy({ origin, maxEntries: 10 }), origin).toThrowError(TypeError);
      expect(
        () => createCachingProxy({ origin, maxEntries: 10 }),
        'the message names the option',
      ).toThrowError(/origin/);
    }
    expect(() =>
      createCachingProxy({ origin: 'http://127.0.0.1', maxEntries: 10, name: 'my cache' }),
    ).toThrowError(/name/);
  });

  it('throws RangeError naming maxEntries or timeoutMs for values that are not allowed', () => {
    for (const maxEntries of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        () => createCachingProxy({ origin: 'http://127.0.0.1', maxEntries }),
        `${maxEntries}`,
      ).toThrowError(RangeError);
      expect(() => createCachingProxy({ origin: 'http://127.0.0.1', maxEntries })).toThrowError(/maxEntries/);
    }
    for (const timeoutMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createCachingProxy({ origin: 'http://127.0.0.1', maxEntries: 1, timeoutMs })).toThrowError(
        /timeoutMs/,
      );
    }
    expect(() => createCachingProxy({ origin: new URL('http://127.0.0.1:9'), maxEntries: 1 })).not.toThrow();
    expect(() => createCachingProxy({ origin: 'https://cdn-origin.example', maxEntries: 1 })).not.toThrow();
  });
});

describe('caching proxy: forwarding', () => {
  it('forwards method, path, query, headers and body, and returns status, headers and body', async () => {
    const origin = await startOrigin(() => ({ status: 201, headers: { 'x-created': 'yes' }, body: 'made' }));
    const { url } = await startProxy(origin.url);
    const res = await call(`${url}/items?color=red&size=2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' },
      body: '{"name":"lamp"}',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-created')).toBe('yes');
    expect(res.body).toBe('made');
    const seen = origin.seen[0]!;
    expect([seen.method, seen.url, seen.body]).toEqual([
      'POST',
      '/items?color=red&size=2',
      '{"name":"lamp"}',
    ]);
    expect(seen.headers['x-request-id']).toBe('r-1');
    expect(seen.headers.host, 'Host is the origin, not the proxy').toBe(new URL(origin.url).host);
    expect(res.cache, 'methods other than GET go forward: fwd=method').toMatchObject({
      name: 'lab-proxy',
      fwd: 'method',
      'fwd-status': '201',
    });
  });

  it('drops hop-by-hop headers both ways, including those Connection names', async () => {
    const origin = await startOrigin(() => ({
      headers: {
        'cache-control': 'max-age=60',
        connection: 'x-origin-hop',
        'x-origin-hop': 'for the proxy only',
        'keep-alive': 'timeout=5',
        'x-kept': 'end to end',
      },
      body: 'ok',
    }));
    const { port } = await startProxy(origin.url);
    for (const label of ['miss', 'hit']) {
      const reply = await rawExchange(
        port,
        'GET /hop HTTP/1.1\r\nHost: x\r\nConnection: close, X-Client-Hop\r\nX-Client-Hop: secret\r\nTE: trailers\r\n\r\n',
      );
      const head = reply.split('\r\n\r\n')[0]!.toLowerCase();
      expect(head, `${label}: end-to-end headers pass`).toContain('x-kept: end to end');
      expect(head, `${label}: a header the origin's Connection names is not passed on`).not.toContain(
        'x-origin-hop',
      );
      expect(head, `${label}: the origin's Keep-Alive describes its connection, not ours`).not.toContain(
        'timeout=5',
      );
    }
    const seen = origin.seen[0]!.headers;
    expect(seen['x-client-hop'], "a header the client's Connection names stops at the proxy").toBeUndefined();
    expect(seen.te, 'TE is hop-by-hop').toBeUndefined();
  });

  it('forwards a request that sent Expect: 100-continue (as curl does for a large body)', async () => {
    const origin = await startOrigin((req) => ({ status: 201, body: `got ${req.body.length} bytes` }));
    const { url } = await startProxy(origin.url);
    const body = 'x'.repeat(2048);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        `${url}/upload`,
        { method: 'POST', headers: { expect: '100-continue', 'content-length': String(body.length) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('continue', () => req.end(body));
      req.on('error', reject);
    });
    expect(answer, 'Expect is for the hop to the proxy: do not forward it (fetch refuses it)').toEqual({
      status: 201,
      text: 'got 2048 bytes',
    });
  });

  it('passes redirects back instead of following them', async () => {
    const origin = await startOrigin((req) =>
      req.url === '/old' ? { status: 302, headers: { location: '/new' } } : { body: 'the new page' },
    );
    const { url } = await startProxy(origin.url);
    const res = await get(`${url}/old`);
    expect(res.status, 'the client must see the redirect and its Location').toBe(302);
    expect(res.headers.get('location')).toBe('/new');
    expect(
      origin.seen.map((r) => r.url),
      'the proxy must not fetch the target itself',
    ).toEqual(['/old']);
  });

  it('never contacts another host: a //host path goes to origin, an absolute-form target gets 400', async () => {
    const origin = await startOrigin(always({}, 'origin'));
    const elsewhere = await startOrigin(always({}, 'internal secret'));
    const { port } = await startProxy(origin.url);
    const other = `127.0.0.1:${elsewhere.port}`;
    const viaPath = await rawExchange(
      port,
      `GET //${other}/secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(viaPath).toMatch(/^HTTP\/1\.1 200/);
    expect(
      origin.seen.map((r) => r.url),
      '//host/x is a path on origin',
    ).toEqual([`//${other}/secret`]);
    const absolute = await rawExchange(
      port,
      `GET http://${other}/secret HTTP/1.1\r\nHost: ${other}\r\nConnection: close\r\n\r\n`,
    );
    expect(absolute, 'an absolute-form target is refused').toMatch(/^HTTP\/1\.1 400/);
    expect(elsewhere.count(), 'no request may reach any host but origin').toBe(0);
    expect(origin.count(), 'and the refused one is not forwarded to origin either').toBe(1);
  });

  it('hands a gzipped answer to the client readable (fetch has decoded it)', async () => {
    const origin = await startOrigin(() => ({
      headers: { 'content-encoding': 'gzip', 'content-type': 'text/plain', 'cache-control': 'max-age=60' },
      body: gzipSync('plain text, once gzipped'),
    }));
    const { url } = await startProxy(origin.url);
    for (const label of ['miss', 'hit']) {
      const res = await get(`${url}/doc`);
      expect(res.body, `${label}: the body fetch gave the proxy is decoded already`).toBe(
        'plain text, once gzipped',
      );
      expect(res.headers.get('content-encoding'), `${label}: so it must not be labelled gzip`).toBeNull();
    }
  });
});

describe('caching proxy: what is stored', () => {
  it('stores a 200 with max-age and serves it fresh, with its headers and Age, without asking origin', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=60', 'x-origin': 'a' }, 'hello'));
    const { url } = await startProxy(origin.url);
    const first = await get(`${url}/page`);
    expect(first.cache, 'the first request misses and stores').toMatchObject({
      name: 'lab-proxy',
      fwd: 'miss',
      'fwd-status': '200',
      stored: true,
    });
    const second = await get(`${url}/page`);
    expect(origin.count(), 'a fresh entry is served without contacting origin').toBe(1);
    expect(second.status).toBe(200);
    expect(second.body).toBe('hello');
    expect(second.headers.get('x-origin'), 'the stored headers are served').toBe('a');
    expect(second.headers.get('age'), 'Age: seconds since the response left origin').toBe('0');
    expect(second.cache).toEqual({ name: 'lab-proxy', hit: true });
  });

  it('keeps entries apart by path and query', async () => {
    const origin = await startOrigin((req) => ({
      headers: { 'cache-control': 'max-age=60' },
      body: req.url,
    }));
    const { url } = await startProxy(origin.url);
    for (const path of ['/a', '/a?x=1', '/a?x=2', '/b', '/a', '/a?x=1']) {
      expect((await get(`${url}${path}`)).body).toBe(path);
    }
    expect(origin.count()).toBe(4);
  });

  it('uses the name option in Cache-Status', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=60' }));
    const { url } = await startProxy(origin.url, { name: 'edge-7' });
    await get(`${url}/x`);
    expect((await get(`${url}/x`)).cache).toEqual({ name: 'edge-7', hit: true });
  });

  it.each([
    ['no-store', { 'cache-control': 'no-store, max-age=60' }, 200],
    ['private', { 'cache-control': 'private, max-age=60' }, 200],
    ['private with field names', { 'cache-control': 'private="set-cookie", max-age=60' }, 200],
    ['No-Store in mixed case', { 'cache-control': 'No-Store, max-age=60' }, 200],
    ['no Cache-Control at all', {}, 200],
    ['Cache-Control without max-age, s-maxage or no-cache', { 'cache-control': 'public' }, 200],
    ['Vary: *', { 'cache-control': 'max-age=60', vary: '*' }, 200],
    ['Vary listing * among other names', { 'cache-control': 'max-age=60', vary: 'accept-language, *' }, 200],
    ['a 404, even with max-age', { 'cache-control': 'max-age=60' }, 404],
    ['a 203, even with max-age', { 'cache-control': 'max-age=60' }, 203],
  ] as [string, Record<string, string>, number][])(
    'does not store a response with %s',
    async (_label, headers, status) => {
      const origin = await startOrigin(() => ({ status, headers, body: 'x' }));
      const { url } = await startProxy(origin.url);
      const first = await get(`${url}/r`);
      expect(first.cache.stored, 'Cache-Status must not say stored').toBeUndefined();
      expect(first.cache, 'Cache-Status: fwd=miss and the status, nothing else').toEqual({
        name: 'lab-proxy',
        fwd: 'miss',
        'fwd-status': String(status),
      });
      const second = await get(`${url}/r`);
      expect(origin.count(), 'not stored, so the second request reaches origin too').toBe(2);
      expect(second.cache.hit).toBeUndefined();
    },
  );

  it('does not store the answer to a request that says no-store', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=60' }));
    const { url } = await startProxy(origin.url);
    const first = await get(`${url}/r`, { 'cache-control': 'no-store' });
    expect(first.cache.stored).toBeUndefined();
    await get(`${url}/r`);
    expect(origin.count()).toBe(2);
  });

  it('does not store the answer to a request with Authorization unless the response allows it', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=60' }, "alice's account"));
    const { url } = await startProxy(origin.url);
    const first = await get(`${url}/me`, { authorization: 'Bearer alice' });
    expect(first.cache.stored, 'RFC 9111 §3.5: a plain max-age does not allow it').toBeUndefined();
    const bob = await get(`${url}/me`, { authorization: 'Bearer bob' });
    const anonymous = await get(`${url}/me`);
    expect(origin.count(), "nobody may be served Alice's answer from the cache").toBe(3);
    expect([bob.cache.hit, anonymous.cache.hit]).toEqual([undefined, undefined]);
  });

  it.each(['public, max-age=60', 's-maxage=60', 'max-age=60, must-revalidate'])(
    'stores the answer to a request with Authorization when the response says %s',
    async (cacheControl) => {
      const origin = await startOrigin(always({ 'cache-control': cacheControl }, 'same for everyone'));
      const { url } = await startProxy(origin.url);
      const first = await get(`${url}/catalog`, { authorization: 'Bearer alice' });
      expect(first.cache.stored, `"${cacheControl}" lets a shared cache store it (RFC 9111 §3.5)`).toBe(true);
      const later = await get(`${url}/catalog`);
      expect(later.cache.hit).toBe(true);
      expect(origin.count()).toBe(1);
    },
  );

  it.each(['no-cache', 'no-cache, max-age=600'])(
    'stores a "%s" response and revalidates it before every use',
    async (cacheControl) => {
      const etag = '"nc-1"';
      const origin = await startOrigin(withETag(etag, { 'cache-control': cacheControl }, 'the body'));
      const { url } = await startProxy(origin.url);
      const first = await get(`${url}/nc`);
      expect(first.cache.stored, 'no-cache means "store, but ask before using", not "do not store"').toBe(
        true,
      );
      for (let i = 0; i < 2; i++) {
        const res = await get(`${url}/nc`);
        expect(res.status).toBe(200);
        expect(res.body).toBe('the body');
        expect(res.cache).toEqual({ name: 'lab-proxy', fwd: 'stale', 'fwd-status': '304', stored: true });
      }
      expect(
        origin.seen.map((r) => r.headers['if-none-match']),
        'every use after the first is a conditional GET with the stored ETag',
      ).toEqual([undefined, etag, etag]);
    },
  );
});

describe('caching proxy: freshness and Age on the clock', () => {
  it('is fresh until exactly max-age: a hit at 59.999 s with Age 59, asks origin at 60 s', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=60' }));
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/p`);
    clock.advance(59_999);
    const late = await get(`${url}/p`);
    expect(late.cache.hit, 'age 59.999 s < 60 s: fresh').toBe(true);
    expect(late.headers.get('age'), 'Age is whole seconds, rounded down').toBe('59');
    clock.advance(1);
    const stale = await get(`${url}/p`);
    expect(stale.cache.hit, 'age 60 s is not below max-age=60: stale').toBeUndefined();
    expect(stale.cache.fwd).toBe('stale');
    expect(origin.count()).toBe(2);
  });

  it('uses s-maxage over max-age, in both directions', async () => {
    const origin = await startOrigin((req) =>
      req.url === '/short'
        ? { headers: { 'cache-control': 'max-age=600, s-maxage=10' } }
        : { headers: { 'cache-control': 'max-age=0, s-maxage=600' } },
    );
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/short`);
    await get(`${url}/long`);
    clock.advance(10_000);
    expect(
      (await get(`${url}/short`)).cache.hit,
      's-maxage=10 rules a shared cache: stale at 10 s',
    ).toBeUndefined();
    expect(
      (await get(`${url}/long`)).cache.hit,
      'max-age=0 is for browsers; s-maxage=600 keeps it here',
    ).toBe(true);
    clock.advance(500_000);
    expect((await get(`${url}/long`)).cache.hit).toBe(true);
  });

  it("counts the origin's Age: a response 50 s old with max-age=60 is fresh for 10 s more", async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=60', age: '50' }));
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/aged`);
    clock.advance(9_999);
    const hit = await get(`${url}/aged`);
    expect(hit.cache.hit).toBe(true);
    expect(hit.headers.get('age'), '50 s when it arrived + 9.999 s here').toBe('59');
    clock.advance(1);
    expect((await get(`${url}/aged`)).cache.hit, 'stale at 50 + 10 = 60 s').toBeUndefined();
  });

  it.each([
    'max-age=abc',
    'max-age=-1',
    'max-age=1.5',
    'max-age=60abc',
    'max-age=',
    'max-age',
    's-maxage=abc, max-age=600',
  ])('treats "%s" as stale at once', async (cacheControl) => {
    const origin = await startOrigin(always({ 'cache-control': cacheControl }));
    const { url } = await startProxy(origin.url);
    await get(`${url}/bad`);
    const second = await get(`${url}/bad`);
    expect(second.cache.hit, `"${cacheControl}" has no valid lifetime: never fresh`).toBeUndefined();
    expect(origin.count()).toBe(2);
  });

  it('caps a huge max-age at 2^31 seconds', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=99999999999999999999999' }));
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/forever`);
    clock.advance(2 ** 31 * 1000 - 1);
    expect((await get(`${url}/forever`)).cache.hit, 'just under 2^31 s: fresh').toBe(true);
    clock.advance(1);
    expect(
      (await get(`${url}/forever`)).cache.hit,
      'RFC 9111 §1.2.2: the lifetime is 2^31 s, not forever',
    ).toBeUndefined();
  });

  it('ignores unknown directives and reads names in any case', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'x-ext="a, b", MAX-AGE=60 , Public' }));
    const { url } = await startProxy(origin.url);
    await get(`${url}/odd`);
    expect((await get(`${url}/odd`)).cache.hit).toBe(true);
  });
});

describe('caching proxy: Vary', () => {
  const byLanguage: Route = (req) => ({
    headers: { 'cache-control': 'max-age=60', vary: 'Accept-Language' },
    body: `page in ${req.headers['accept-language']}`,
  });

  it('serves an entry only to requests with the same values of the Vary headers', async () => {
    const origin = await startOrigin(byLanguage);
    const { url } = await startProxy(origin.url);
    expect((await get(`${url}/v`, { 'accept-language': 'en' })).body).toBe('page in en');
    const en = await get(`${url}/v`, { 'accept-language': 'en' });
    expect([en.body, en.cache.hit]).toEqual(['page in en', true]);
    const fr = await get(`${url}/v`, { 'accept-language': 'fr' });
    expect(fr.body, 'a French reader must not get the English page').toBe('page in fr');
    expect(fr.cache.fwd).toBe('miss');
  });

  it('stores several variants of one URL side by side', async () => {
    const origin = await startOrigin(byLanguage);
    const { url } = await startProxy(origin.url);
    for (const language of ['en', 'fr', 'en', 'fr', 'en']) {
      expect((await get(`${url}/v`, { 'accept-language': language })).body).toBe(`page in ${language}`);
    }
    expect(origin.count(), 'en and fr each stored once, then both served from the cache').toBe(2);
  });

  it('matches an absent Vary header only with an absent one', async () => {
    const origin = await startOrigin((req) => ({
      headers: { 'cache-control': 'max-age=60', vary: 'X-Tenant' },
      body: `tenant ${req.headers['x-tenant'] ?? 'none'}`,
    }));
    const { url } = await startProxy(origin.url);
    expect((await get(`${url}/t`)).body).toBe('tenant none');
    const again = await get(`${url}/t`);
    expect([again.body, again.cache.hit], 'no X-Tenant twice: the same variant').toEqual([
      'tenant none',
      true,
    ]);
    const acme = await get(`${url}/t`, { 'x-tenant': 'acme' });
    expect(acme.body, 'X-Tenant: acme is not the variant stored without it').toBe('tenant acme');
    expect((await get(`${url}/t`)).cache.hit, 'and the variant without it is still there').toBe(true);
  });

  it('keys on every header Vary names, in any case, on one line or several', async () => {
    const origin = await startOrigin((req) => ({
      headers: { 'cache-control': 'max-age=60', vary: ['Accept-Language', 'X-TENANT'] },
      body: `${req.headers['accept-language']}/${req.headers['x-tenant']}`,
    }));
    const { url } = await startProxy(origin.url);
    const ask = (language: string, tenant: string) =>
      get(`${url}/t`, { 'accept-language': language, 'x-tenant': tenant });
    expect((await ask('en', 'acme')).body).toBe('en/acme');
    const other = await ask('en', 'globex');
    expect(other.body, 'same language, other tenant: the second Vary header must count too').toBe(
      'en/globex',
    );
    expect((await ask('en', 'acme')).cache.hit).toBe(true);
    expect((await ask('fr', 'acme')).body).toBe('fr/acme');
    expect(origin.count()).toBe(3);
  });
});

describe('caching proxy: eviction', () => {
  it('keeps at most maxEntries and evicts the least recently used', async () => {
    const origin = await startOrigin((req) => ({
      headers: { 'cache-control': 'max-age=600' },
      body: req.url,
    }));
    const { url } = await startProxy(origin.url, { maxEntries: 2 });
    await get(`${url}/a`);
    await get(`${url}/b`);
    expect((await get(`${url}/a`)).cache.hit, '/a is now the most recently used').toBe(true);
    await get(`${url}/c`);
    expect((await get(`${url}/a`)).cache.hit, 'storing /c evicted /b, the least recently used, not /a').toBe(
      true,
    );
    expect((await get(`${url}/b`)).cache.hit, '/b was evicted').toBeUndefined();
    expect(origin.count('/a')).toBe(1);
  });
});

describe('caching proxy: eviction counts variants', () => {
  it('counts each variant of a URL as an entry', async () => {
    const origin = await startOrigin((req) => ({
      headers: { 'cache-control': 'max-age=600', vary: 'accept-language' },
      body: `${req.headers['accept-language']}`,
    }));
    const { url } = await startProxy(origin.url, { maxEntries: 2 });
    for (const language of ['en', 'fr', 'de']) await get(`${url}/v`, { 'accept-language': language });
    const en = await get(`${url}/v`, { 'accept-language': 'en' });
    expect(
      en.cache.hit,
      'three variants of one URL do not fit in maxEntries=2: en, the oldest, went',
    ).toBeUndefined();
    expect((await get(`${url}/v`, { 'accept-language': 'de' })).cache.hit).toBe(true);
  });
});

describe('caching proxy: revalidation', () => {
  it('revalidates a stale entry with If-None-Match; a 304 refreshes it and the stored body is served', async () => {
    const etag = '"v1"';
    const origin = await startOrigin((req) =>
      req.headers['if-none-match'] === etag
        ? { status: 304, headers: { etag, 'cache-control': 'max-age=120', 'x-seen': 'revalidated' } }
        : { headers: { etag, 'cache-control': 'max-age=60', 'x-seen': 'first' }, body: 'version one' },
    );
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/doc`);
    clock.advance(60_000);
    const res = await get(`${url}/doc`);
    expect(origin.seen[1]?.headers['if-none-match'], 'the revalidation is a conditional GET').toBe(etag);
    expect(res.status, 'origin said 304 to the proxy; the client gets the stored 200').toBe(200);
    expect(res.body).toBe('version one');
    expect(res.cache).toEqual({ name: 'lab-proxy', fwd: 'stale', 'fwd-status': '304', stored: true });
    expect(res.headers.get('x-seen'), "the 304's headers update the stored ones").toBe('revalidated');
    expect(res.headers.get('age'), 'the age restarts at the 304').toBe('0');
    clock.advance(119_999);
    expect((await get(`${url}/doc`)).cache.hit, "fresh again, for the 304's max-age=120").toBe(true);
    clock.advance(1);
    await get(`${url}/doc`);
    expect(origin.count(), 'one conditional GET per lifetime, not one per request').toBe(3);
  });

  it('replaces the entry when origin answers the revalidation with a new 200', async () => {
    let version = 1;
    const origin = await startOrigin((req) => {
      const etag = `"v${version}"`;
      return req.headers['if-none-match'] === etag
        ? { status: 304, headers: { etag, 'cache-control': 'max-age=60' } }
        : { headers: { etag, 'cache-control': 'max-age=60' }, body: `version ${version}` };
    });
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/doc`);
    version = 2;
    clock.advance(60_000);
    const res = await get(`${url}/doc`);
    expect(res.body).toBe('version 2');
    expect(res.cache).toEqual({ name: 'lab-proxy', fwd: 'stale', 'fwd-status': '200', stored: true });
    const next = await get(`${url}/doc`);
    expect([next.body, next.cache.hit]).toEqual(['version 2', true]);
  });

  it('removes the entry when origin answers the revalidation with a 404', async () => {
    let gone = false;
    const origin = await startOrigin(() =>
      gone
        ? { status: 404, body: 'gone' }
        : { headers: { etag: '"v1"', 'cache-control': 'max-age=60' }, body: 'here' },
    );
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/doc`);
    gone = true;
    clock.advance(60_000);
    const res = await get(`${url}/doc`);
    expect([res.status, res.cache.fwd, res.cache['fwd-status']]).toEqual([404, 'stale', '404']);
    const after = await get(`${url}/doc`);
    expect(after.cache.fwd, 'nothing stored any more: a plain miss').toBe('miss');
  });

  it('refetches a stale entry without an ETag with a plain GET', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=60' }, 'no validator'));
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/plain`);
    clock.advance(60_000);
    const res = await get(`${url}/plain`);
    expect(res.body).toBe('no validator');
    expect(res.cache).toMatchObject({ fwd: 'stale', 'fwd-status': '200', stored: true });
    expect(origin.seen[1]?.headers['if-none-match']).toBeUndefined();
  });
});

describe('caching proxy: stale-while-revalidate', () => {
  it('serves the stale entry at once and runs one background revalidation for all requests', async () => {
    const held = gate();
    let revalidations = 0;
    const origin = await startOrigin(async (req) => {
      if (req.headers['if-none-match'] === undefined) {
        return {
          headers: { etag: '"v1"', 'cache-control': 'max-age=60, stale-while-revalidate=30' },
          body: 'v1',
        };
      }
      revalidations++;
      await held.opened;
      return {
        headers: { etag: '"v2"', 'cache-control': 'max-age=60, stale-while-revalidate=30' },
        body: 'v2',
      };
    });
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/swr`);
    clock.advance(61_000);
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/swr`)));
    for (const res of answers) {
      expect(res.body, 'within stale-while-revalidate the stale copy is served at once').toBe('v1');
      expect(res.cache).toEqual({ name: 'lab-proxy', hit: true, detail: 'stale-while-revalidate' });
      expect(res.headers.get('age')).toBe('61');
    }
    await waitFor('the background revalidation to reach origin', () => revalidations === 1);
    expect((await get(`${url}/swr`)).body, 'still stale while the revalidation runs').toBe('v1');
    expect(revalidations, 'six stale requests, one revalidation').toBe(1);
    held.open();
    const fresh = await waitFor('the refreshed entry', async () => {
      const res = await get(`${url}/swr`);
      return res.body === 'v2' ? res : undefined;
    });
    expect(fresh.cache.hit).toBe(true);
    expect(revalidations).toBe(1);
  });

  it('counts the window from when the entry went stale', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=60, stale-while-revalidate=30' }));
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/a`);
    clock.advance(60_000 + 29_999);
    expect((await get(`${url}/a`)).cache.detail, 'stale for 29.999 s < 30 s: served stale').toBe(
      'stale-while-revalidate',
    );
    const origin2 = await startOrigin(always({ 'cache-control': 'max-age=60, stale-while-revalidate=30' }));
    const second = await startProxy(origin2.url);
    await get(`${second.url}/a`);
    second.clock.advance(90_000);
    const late = await get(`${second.url}/a`);
    expect(late.cache.fwd, 'stale for 30 s: outside the window, revalidated before answering').toBe('stale');
  });

  it('keeps the stale entry when the background revalidation fails, and tries again on the next stale request', async () => {
    let revalidations = 0;
    const origin = await startOrigin((req) => {
      if (req.headers['if-none-match'] === undefined) {
        return {
          headers: { etag: '"v1"', 'cache-control': 'max-age=10, stale-while-revalidate=600' },
          body: 'v1',
        };
      }
      revalidations++;
      return revalidations === 1 ? 'reset' : { status: 500, body: 'oops' };
    });
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/f`);
    clock.advance(20_000);
    expect((await get(`${url}/f`)).body).toBe('v1');
    await waitFor('the first revalidation', () => revalidations === 1);
    await waitFor('the stale entry to stay after the failure, and a second revalidation', async () => {
      const res = await get(`${url}/f`);
      expect(res.body, 'a failed revalidation must not lose the stale entry').toBe('v1');
      return revalidations === 2;
    });
    await waitFor('the third revalidation after the 500', async () => {
      const res = await get(`${url}/f`);
      expect(res.cache.detail).toBe('stale-while-revalidate');
      return revalidations === 3;
    });
  });

  it.each(['must-revalidate', 'proxy-revalidate', 'no-cache'])(
    'never serves stale when the response says %s',
    async (directive) => {
      const origin = await startOrigin(
        withETag('"v1"', {
          'cache-control': `max-age=60, stale-while-revalidate=600, stale-if-error=600, ${directive}`,
        }),
      );
      const { url, clock } = await startProxy(origin.url);
      await get(`${url}/strict`);
      clock.advance(61_000);
      const res = await get(`${url}/strict`);
      expect(res.cache.hit, `${directive}: a stale copy may not be used before revalidation`).toBeUndefined();
      expect(res.cache).toMatchObject({ fwd: 'stale', 'fwd-status': '304' });
      origin.route = () => ({ status: 503, body: 'down' });
      clock.advance(61_000);
      const down = await get(`${url}/strict`);
      expect(down.status, `${directive}: no stale-if-error either`).toBe(503);
    },
  );

  it('still serves stale next to s-maxage (the CDN idiom s-maxage=1, stale-while-revalidate=59)', async () => {
    const origin = await startOrigin(always({ 'cache-control': 's-maxage=1, stale-while-revalidate=59' }));
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/idiom`);
    clock.advance(30_000);
    expect((await get(`${url}/idiom`)).cache).toEqual({
      name: 'lab-proxy',
      hit: true,
      detail: 'stale-while-revalidate',
    });
  });
});

describe('caching proxy: origin errors and stale-if-error', () => {
  it('answers 502 when origin cannot be reached, and 504 when it does not answer in time', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const { url } = await startProxy(down);
    const refused = await get(`${url}/x`);
    expect(refused.status).toBe(502);
    expect(refused.cache).toEqual({ name: 'lab-proxy', fwd: 'miss' });

    const silent = await startOrigin(() => 'hang');
    const slow = await startProxy(silent.url, { timeoutMs: 300 });
    const started = Date.now();
    const res = await get(`${slow.url}/x`);
    expect(res.status, 'no answer within timeoutMs: 504 Gateway Timeout').toBe(504);
    expect(Date.now() - started, 'the proxy must give up after timeoutMs, not hang').toBeLessThan(5000);
  });

  it('answers 504 when origin sends headers and then stalls the body', async () => {
    const origin = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
      res.write('the first half...');
    });
    open.push(origin);
    const { url } = await startProxy(origin.url, { timeoutMs: 300 });
    const res = await get(`${url}/stall`);
    expect(res.status, 'timeoutMs covers the body too').toBe(504);
  });

  it('serves the stale entry within stale-if-error when origin is unreachable, and 502 after it', async () => {
    const origin = await startOrigin(
      always({ 'cache-control': 'max-age=60, stale-if-error=300' }, 'last good'),
    );
    const { url, clock } = await startProxy(origin.url);
    await get(`${url}/sie`);
    await origin.close();
    clock.advance(60_000 + 299_999);
    const res = await get(`${url}/sie`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('last good');
    expect(res.cache).toEqual({ name: 'lab-proxy', fwd: 'stale', detail: 'stale-if-error' });
    expect(res.headers.get('age')).toBe('359');
    clock.advance(1);
    const late = await get(`${url}/sie`);
    expect(late.status, 'stale for 300 s: past stale-if-error=300, the error shows').toBe(502);
    expect(late.cache).toEqual({ name: 'lab-proxy', fwd: 'stale' });
  });

  it.each([500, 502, 503, 504])(
    'serves the stale entry within stale-if-error when origin answers %i',
    async (code) => {
      let failing = false;
      const origin = await startOrigin(() =>
        failing
          ? { status: code, body: 'origin trouble' }
          : { headers: { 'cache-control': 'max-age=60, stale-if-error=300' }, body: 'last good' },
      );
      const { url, clock } = await startProxy(origin.url);
      await get(`${url}/sie`);
      failing = true;
      clock.advance(61_000);
      const res = await get(`${url}/sie`);
      expect([res.status, res.body]).toEqual([200, 'last good']);
      expect(res.cache).toEqual({
        name: 'lab-proxy',
        fwd: 'stale',
        'fwd-status': String(code),
        detail: 'stale-if-error',
      });
      clock.advance(300_000);
      const late = await get(`${url}/sie`);
      expect([late.status, late.body], 'past the window the origin error is passed back').toEqual([
        code,
        'origin trouble',
      ]);
    },
  );
});

describe('caching proxy: unsafe methods invalidate', () => {
  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])(
    'a successful %s removes every stored variant of its URL',
    async (method) => {
      const origin = await startOrigin((req) =>
        req.method === 'GET'
          ? {
              headers: { 'cache-control': 'max-age=600', vary: 'accept-language' },
              body: `${req.headers['accept-language']} profile`,
            }
          : { status: 204 },
      );
      const { url } = await startProxy(origin.url);
      for (const language of ['en', 'fr']) await get(`${url}/profile`, { 'accept-language': language });
      await get(`${url}/other`, { 'accept-language': 'en' });
      const changed = await call(`${url}/profile`, { method, body: method === 'DELETE' ? null : '{}' });
      expect(changed.status).toBe(204);
      for (const language of ['en', 'fr']) {
        const res = await get(`${url}/profile`, { 'accept-language': language });
        expect(res.cache.fwd, `${method} /profile must drop the ${language} copy too`).toBe('miss');
      }
      expect((await get(`${url}/other`, { 'accept-language': 'en' })).cache.hit, 'other URLs stay').toBe(
        true,
      );
    },
  );

  it('passes HEAD through without storing it: a GET after it gets the full body', async () => {
    const origin = await startOrigin(always({ 'cache-control': 'max-age=600' }, 'the whole page'));
    const { url } = await startProxy(origin.url);
    const head = await call(`${url}/page`, { method: 'HEAD' });
    expect(head.cache, 'only GET goes through the cache').toMatchObject({
      fwd: 'method',
      'fwd-status': '200',
    });
    expect(origin.seen[0]?.method).toBe('HEAD');
    const res = await get(`${url}/page`);
    expect(res.body, 'the answer to a HEAD has no body: it must never serve a GET').toBe('the whole page');
    expect(res.cache.fwd).toBe('miss');
  });

  it('a failed POST, and a HEAD or OPTIONS, invalidate nothing', async () => {
    const origin = await startOrigin((req) =>
      req.method === 'POST'
        ? { status: 409, body: 'conflict' }
        : { headers: { 'cache-control': 'max-age=600' } },
    );
    const { url } = await startProxy(origin.url);
    await get(`${url}/profile`);
    expect((await call(`${url}/profile`, { method: 'POST', body: '{}' })).status).toBe(409);
    await call(`${url}/profile`, { method: 'HEAD' });
    await call(`${url}/profile`, { method: 'OPTIONS' });
    expect((await get(`${url}/profile`)).cache.hit).toBe(true);
  });
});

describe('caching proxy: conditional requests from clients', () => {
  it("answers the client's matching If-None-Match from the store with 304", async () => {
    const origin = await startOrigin(always({ etag: '"v1"', 'cache-control': 'max-age=60' }, 'body'));
    const { url } = await startProxy(origin.url);
    await get(`${url}/c`);
    const res = await get(`${url}/c`, { 'if-none-match': 'W/"v1"' });
    expect(res.status, 'the client holds the stored version: 304').toBe(304);
    expect(res.body).toBe('');
    expect(res.headers.get('etag')).toBe('"v1"');
    expect(res.cache.hit).toBe(true);
    const other = await get(`${url}/c`, { 'if-none-match': '"v0"' });
    expect([other.status, other.body]).toEqual([200, 'body']);
    expect(origin.count()).toBe(1);
  });

  it("does not forward the client's conditionals on a miss: it stores the full 200 and answers 304 itself", async () => {
    const origin = await startOrigin(withETag('"v1"', { 'cache-control': 'max-age=60' }, 'full body'));
    const { url } = await startProxy(origin.url);
    const res = await get(`${url}/cold`, {
      'if-none-match': '"v1"',
      'if-modified-since': 'Tue, 14 Nov 2023 22:13:20 GMT',
    });
    expect(
      origin.seen[0]?.headers['if-none-match'],
      'the proxy asks for a full response it can store',
    ).toBeUndefined();
    expect(origin.seen[0]?.headers['if-modified-since']).toBeUndefined();
    expect(res.status, "the client's own condition is answered by the proxy").toBe(304);
    expect(res.cache).toMatchObject({ fwd: 'miss', 'fwd-status': '200', stored: true });
    const next = await get(`${url}/cold`);
    expect([next.status, next.body, next.cache.hit]).toEqual([200, 'full body', true]);
  });
});

describe('caching proxy in front of cacheable', () => {
  it('renders once per version: the proxy hits while fresh and revalidates with a 304 after', async () => {
    let version = 1;
    let renders = 0;
    const origin = await startHttpServer(
      cacheable({
        validator: () => `v${version}`,
        render: async () => {
          renders++;
          return { body: `report v${version}`, contentType: 'text/plain' };
        },
        cacheControl: 'public, max-age=60',
      }),
    );
    open.push(origin);
    const { url, clock } = await startProxy(origin.url);
    for (let i = 0; i < 3; i++) expect((await get(`${url}/report`)).body).toBe('report v1');
    clock.advance(60_000);
    const revalidated = await get(`${url}/report`);
    expect(revalidated.cache).toMatchObject({ fwd: 'stale', 'fwd-status': '304' });
    expect(renders, 'three hits and a 304: one render').toBe(1);
    version = 2;
    clock.advance(60_000);
    expect((await get(`${url}/report`)).body).toBe('report v2');
    expect(renders).toBe(2);
    expect(revalidated.headers.get('etag')).toBe(strongETag('v1'));
  });
});
