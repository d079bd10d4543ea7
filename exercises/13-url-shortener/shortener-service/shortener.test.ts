import { request } from 'node:http';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  listen,
  ManualClock,
  sleep,
  startFaultProxy,
  useRedis,
  waitFor,
} from '../../../src/testing/index.js';
import { createCodeGenerator } from './codes.js';
import { createShortener, type ShortenerOptions } from './shortener.js';

const redis = useRedis();

// Pub/sub channels are shared by every test file on the server: each test gets its own prefix.
let prefix = '';
let sequence = 0;
beforeEach(() => {
  prefix = `t13-${process.pid}-${Date.now()}-${sequence++}:`;
});

interface Instance {
  readonly url: string;
  close(): Promise<void>;
}
const running: Instance[] = [];
afterEach(async () => {
  for (const instance of running.splice(0)) await instance.close();
});

/** Starts a shortener on a free port; every instance of one test shares the test's prefix. */
async function start(options: Partial<ShortenerOptions> = {}): Promise<Instance> {
  const shortener = await createShortener({
    redisUrl: redis.url,
    keyPrefix: prefix,
    createsPerMinute: 10_000,
    ...options,
  });
  const listening = await listen(shortener.server);
  const instance = { url: listening.url, close: () => shortener.close() };
  running.push(instance);
  return instance;
}

const redisVia = (port: number) => `redis://127.0.0.1:${port}/${redis.db}`;

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function reply(response: Response): Promise<Reply> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: response.status, headers: response.headers, body };
}

function create(base: string, body: unknown): Promise<Reply> {
  return fetch(`${base}/api/links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).then(reply);
}

async function createOk(base: string, body: Record<string, unknown>): Promise<any> {
  const created = await create(base, body);
  expect(
    created.status,
    `creating ${JSON.stringify(body)} must answer 201: ${JSON.stringify(created.body)}`,
  ).toBe(201);
  return created.body;
}

const visit = (base: string, code: string, userAgent = 'test-agent') =>
  fetch(`${base}/${code}`, { redirect: 'manual', headers: { 'user-agent': userAgent } });

const stats = (base: string, code: string) => fetch(`${base}/api/links/${code}`).then(reply);

const remove = (base: string, code: string, token?: string) =>
  fetch(`${base}/api/links/${code}`, {
    method: 'DELETE',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  }).then(reply);

/** POSTs a link from the local address `from`, so that the service sees a client of that address. */
function createFrom(from: string, base: string, body: unknown): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname.replace(/^\[|\]$/g, ''),
        port,
        localAddress: from,
        method: 'POST',
        path: '/api/links',
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Whether this machine lets a client connect from `address` (127.0.0.2 on Linux, ::1 with IPv6). */
function canConnectFrom(address: string, to: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.destroy());
    server.on('error', () => resolve(false));
    server.listen(0, to, () => {
      const socket = connect({
        port: (server.address() as AddressInfo).port,
        host: to,
        localAddress: address,
      });
      const done = (ok: boolean) => {
        socket.destroy();
        server.close();
        resolve(ok);
      };
      socket.on('connect', () => done(true)).on('error', () => done(false));
    });
  });
}

/** A TCP proxy that delays every reply from the server by `delayMs`: one round trip costs that much. */
async function startSlowProxy(delayMs: number) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(redis.port, redis.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk) => setTimeout(() => client.writable && client.write(chunk), delayMs));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  const listening = await listen(server);
  return {
    port: listening.port,
    async close() {
      for (const s of sockets) s.destroy();
      await listening.close();
    },
  };
}

describe('creating links and following them', () => {
  it('creates a link (201) and redirects to it with a 302', async () => {
    const app = await start();
    const created = await create(app.url, { url: 'https://example.com/some/page?x=1' });
    expect(created.status, 'POST /api/links answers 201 Created').toBe(201);
    const { code, shortUrl, url, expiresAt, deleteToken } = created.body;
    expect(code, 'a generated code is 8 base62 characters').toMatch(/^[0-9A-Za-z]{8}$/);
    expect(shortUrl, 'shortUrl is this server plus the code').toBe(`${app.url}/${code}`);
    expect(url).toBe('https://example.com/some/page?x=1');
    expect(expiresAt, 'a link without ttlSeconds never expires').toBeNull();
    expect(
      typeof deleteToken === 'string' && deleteToken.length >= 16,
      'a deleteToken of 16+ characters',
    ).toBe(true);

    const response = await visit(app.url, code);
    expect(response.status, 'GET /:code answers 302 Found (not 301, which browsers cache)').toBe(302);
    expect(response.headers.get('location')).toBe('https://example.com/some/page?x=1');
  });

  it('builds shortUrl on publicBaseUrl when it is given', async () => {
    const app = await start({ publicBaseUrl: 'https://sho.rt' });
    const { code, shortUrl } = await createOk(app.url, { url: 'https://example.com/' });
    expect(shortUrl, 'publicBaseUrl + / + code, whatever Host the request had').toBe(
      `https://sho.rt/${code}`,
    );
  });

  it('stores the normalised URL and gives different codes to different links', async () => {
    const app = await start();
    const a = await createOk(app.url, { url: 'HTTPS://Example.COM' });
    const b = await createOk(app.url, { url: 'HTTPS://Example.COM' });
    expect(a.url, 'the WHATWG-normalised form is stored').toBe('https://example.com/');
    expect(a.code, 'each creation gets its own code').not.toBe(b.code);
  });

  it('keeps each link as a Redis hash under <prefix>link:<code>, without the delete token in clear', async () => {
    const app = await start();
    const { code, deleteToken } = await createOk(app.url, { url: 'https://example.com/' });
    const client = redis.client();
    const key = `${prefix}link:${code}`;
    expect(await client.type(key), `${key} must be a hash`).toBe('hash');
    const fields = await client.hgetall(key);
    expect(fields.url).toBe('https://example.com/');
    expect(Object.values(fields), 'store a hash of the delete token, never the token').not.toContain(
      deleteToken,
    );
    expect(await client.ttl(key), 'a link without ttlSeconds has no expiry').toBe(-1);
  });

  it('answers 404 for unknown codes and paths that cannot be codes', async () => {
    const app = await start();
    for (const path of [
      '/zzzzzzzz',
      '/no',
      '/a/b',
      '/%00abc',
      `/${'x'.repeat(40)}`,
      '/api/links/nothing-here',
    ]) {
      const response = await fetch(app.url + path, { redirect: 'manual' });
      expect(response.status, `GET ${path}`).toBe(404);
      await response.body?.cancel();
    }
  });

  it('expires a link at expiresAt on its clock: 404 afterwards, even for a cached link', async () => {
    const clock = new ManualClock(Date.now());
    const app = await start({ clock });
    const created = clock.now();
    // 30 s: shorter than the cache's 60 s, so a cached copy would outlive the link.
    const { code, expiresAt } = await createOk(app.url, { url: 'https://example.com/soon', ttlSeconds: 30 });
    expect(expiresAt, 'expiresAt is the ISO date ttlSeconds after creation, on the service’s clock').toBe(
      new Date(created + 30_000).toISOString(),
    );
    const ttl = await redis.client().pttl(`${prefix}link:${code}`);
    expect(ttl, 'the hash carries a Redis TTL of ttlSeconds').toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
    expect((await visit(app.url, code)).status, 'followed before it expires (and now cached)').toBe(302);
    clock.advance(29_999);
    expect((await visit(app.url, code)).status, 'one millisecond before expiresAt: still a 302').toBe(302);
    clock.advance(1);
    expect((await visit(app.url, code)).status, 'at expiresAt: 404, although the cache still holds it').toBe(
      404,
    );
    const other = await start({ clock });
    expect((await visit(other.url, code)).status, 'and 404 from an instance that reads it from Redis').toBe(
      404,
    );
  });

  it('lets Redis remove an expired link: its statistics are gone too', async () => {
    const app = await start();
    const { code } = await createOk(app.url, { url: 'https://example.com/short-lived', ttlSeconds: 1 });
    await waitFor('the expired link’s statistics to answer 404', async () => {
      return (await stats(app.url, code)).status === 404;
    });
    expect(await redis.client().exists(`${prefix}link:${code}`), 'the hash has expired in Redis').toBe(0);
    expect((await visit(app.url, code)).status).toBe(404);
  });

  it('gives the visitors HyperLogLog the link’s expiry', async () => {
    const app = await start();
    const { code } = await createOk(app.url, { url: 'https://example.com/hour', ttlSeconds: 3600 });
    await visit(app.url, code, 'alice');
    await waitFor('the click to be counted', async () => (await stats(app.url, code)).body.clicks === 1);
    const client = redis.client();
    const [link, visitors] = [
      await client.pttl(`${prefix}link:${code}`),
      await client.pttl(`${prefix}visitors:${code}`),
    ];
    expect(visitors, 'visitors:<code> must expire with the link (-1 means it never expires)').toBeGreaterThan(
      0,
    );
    expect(visitors, 'and not outlive it').toBeLessThanOrEqual(link + 1000);
    expect(visitors, 'nor go much sooner').toBeGreaterThan(link - 60_000);
  });
});

describe('generated codes', () => {
  it('codes.ts: 2000 codes from 4 connections at once, all different and all exactly 8 base62 characters', async () => {
    const generators = Array.from({ length: 4 }, () =>
      createCodeGenerator(redis.client(), `${prefix}scratch-counter`, 0),
    );
    const codes = await Promise.all(Array.from({ length: 2000 }, (_, i) => generators[i % 4]!.next()));
    expect(new Set(codes).size, 'no code handed out twice, whichever connection asked').toBe(2000);
    // About 1 scrambled value in 62 is below 62^7: its code must keep its leading zero.
    const malformed = codes.filter((code) => !/^[0-9A-Za-z]{8}$/.test(code));
    expect(malformed, 'every code is exactly 8 characters of [0-9A-Za-z], leading zeros kept').toEqual([]);
    expect(await redis.client().get(`${prefix}scratch-counter`), 'one INCR per code').toBe('2000');
  });

  it('do not reveal the sequence: consecutive links get unrelated codes', async () => {
    const app = await start();
    const codes: string[] = [];
    for (let i = 0; i < 20; i++)
      codes.push((await createOk(app.url, { url: `https://example.com/${i}` })).code);
    for (let i = 1; i < codes.length; i++) {
      expect(
        codes[i]!.slice(0, 4),
        `links ${i} and ${i + 1} got ${codes[i - 1]} and ${codes[i]}: a scrambled counter does not give neighbouring codes`,
      ).not.toBe(codes[i - 1]!.slice(0, 4));
    }
    const ascending = codes.slice(1).filter((code, i) => code > codes[i]!).length;
    expect(ascending, 'codes that always go up reveal the order in which links were made').toBeLessThan(19);
  });

  it('depend on codeSecret: two services with different secrets give counter 1 different codes', async () => {
    const one = await start({ codeSecret: 1 });
    const two = await start({ codeSecret: 2, keyPrefix: `${prefix}other:` });
    const a = await createOk(one.url, { url: 'https://example.com/a' });
    const b = await createOk(two.url, { url: 'https://example.com/b' });
    expect(a.code, 'the same counter value scrambled with another secret is another code').not.toBe(b.code);
  });

  it('never overwrite an alias that happens to equal the next generated code', async () => {
    const app = await start();
    // The code the service will generate next: counter 1, secret 0, computed on a scratch counter.
    const next = await createCodeGenerator(redis.client(), `${prefix}scratch-counter`, 0).next();
    const alias = await createOk(app.url, { url: 'https://example.com/alias', alias: next });
    expect(alias.code).toBe(next);
    const generated = await createOk(app.url, { url: 'https://example.com/generated' });
    expect(
      generated.code,
      `the generated code ${next} is taken by an alias: the next counter value is used`,
    ).not.toBe(next);
    expect((await visit(app.url, next)).headers.get('location'), 'the alias still points where it did').toBe(
      'https://example.com/alias',
    );
    expect((await remove(app.url, next, alias.deleteToken)).status, 'and its delete token still works').toBe(
      204,
    );
  });
});

describe('aliases', () => {
  it('uses a free alias as the code and answers 409 when it is taken', async () => {
    const app = await start();
    const first = await createOk(app.url, { url: 'https://example.com/a', alias: 'my-launch_2026' });
    expect(first.code).toBe('my-launch_2026');
    expect(first.shortUrl).toBe(`${app.url}/my-launch_2026`);
    expect((await visit(app.url, 'my-launch_2026')).headers.get('location')).toBe('https://example.com/a');
    const again = await create(app.url, { url: 'https://example.com/b', alias: 'my-launch_2026' });
    expect(again.status, 'a taken alias answers 409 Conflict').toBe(409);
    expect(again.body?.error, 'with an error message').toMatch(/\S/);
    expect(
      (await visit(app.url, 'my-launch_2026')).headers.get('location'),
      'the first link is untouched',
    ).toBe('https://example.com/a');
  });

  it('gives one of 20 racing creations of the same alias the alias, and 409 to the rest', async () => {
    // Every Redis reply is delayed by 150 ms, so the 20 requests all reach Redis within one reply's
    // time: a check ("is the alias free?") and a write in two round trips lets several of them win.
    const slow = await startSlowProxy(150);
    try {
      const app = await start({ redisUrl: redisVia(slow.port) });
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          create(app.url, { url: `https://example.com/${i}`, alias: 'race' }),
        ),
      );
      expect(
        replies.map((r) => r.status).sort(),
        'exactly one winner (201) and 19 conflicts (409): the check and the write must be one atomic step',
      ).toEqual([201, ...Array.from({ length: 19 }, () => 409)]);
      const winner = replies.find((r) => r.status === 201)!;
      expect(
        (await visit(app.url, 'race')).headers.get('location'),
        'the alias points to the winner’s URL, not a later write',
      ).toBe(winner.body.url);
    } finally {
      for (const instance of running.splice(0)) await instance.close();
      await slow.close();
    }
  }, 20_000);

  it('refuses malformed aliases with 400', async () => {
    const app = await start();
    for (const alias of [
      'ab',
      'x'.repeat(33),
      'has space',
      'semi;colon',
      'dot.ted',
      'émoji',
      'a/b',
      42,
      '',
    ]) {
      const created = await create(app.url, { url: 'https://example.com/', alias });
      expect(created.status, `alias ${JSON.stringify(alias)}`).toBe(400);
      expect(created.body?.error, 'an error that says what is wrong').toMatch(/alias/i);
    }
  });
});

describe('bad and hostile input', () => {
  it('answers 400 with an error for malformed bodies', async () => {
    const app = await start();
    const bodies = ['{"url": ', 'not json', '', '[]', '"https://example.com"', 'null', '{}', '{"url": 5}'];
    for (const body of bodies) {
      const created = await create(app.url, body);
      expect(created.status, `body ${JSON.stringify(body)}`).toBe(400);
      expect(typeof created.body?.error, 'the answer is {"error": "..."}').toBe('string');
    }
  });

  it('refuses hostile and invalid URLs with 400 and an error naming the problem', async () => {
    const app = await start();
    const hostile = [
      'javascript:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'https://user:password@example.com/',
      'http://127.0.0.1:6379/',
      'http://localhost/',
      'http://10.0.0.8/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
      '//example.com',
      `https://example.com/${'a'.repeat(2100)}`,
    ];
    for (const url of hostile) {
      const created = await create(app.url, { url });
      expect(created.status, `${url.slice(0, 60)} must be refused`).toBe(400);
      expect(created.body?.error, 'the error names the url').toMatch(/url/i);
    }
  });

  it('refuses bad ttlSeconds with 400', async () => {
    const app = await start();
    for (const ttlSeconds of [0, -1, 1.5, '60', 10 * 365 * 86_400 + 1]) {
      const created = await create(app.url, { url: 'https://example.com/', ttlSeconds });
      expect(created.status, `ttlSeconds ${JSON.stringify(ttlSeconds)}`).toBe(400);
      expect(created.body?.error).toMatch(/ttlSeconds/);
    }
  });

  it('answers 413 to a body over 16 KiB', async () => {
    const app = await start();
    const created = await create(app.url, { url: 'https://example.com/', padding: 'x'.repeat(20_000) });
    expect(created.status, 'an oversized body is refused with 413').toBe(413);
    const accented = await create(app.url, { url: 'https://example.com/', padding: 'é'.repeat(10_000) });
    expect(accented.status, '10,000 "é" are 20,000 bytes in UTF-8: over 16 KiB, so 413').toBe(413);
    const justUnder = await create(app.url, { url: 'https://example.com/', padding: 'x'.repeat(16_000) });
    expect(justUnder.status, 'a body just under 16 KiB is fine').toBe(201);
  });

  it('keeps serving others while a client stalls halfway through its request body', async () => {
    const app = await start();
    const stalled = connect(Number(new URL(app.url).port), '127.0.0.1');
    await new Promise((resolve) => stalled.once('connect', resolve));
    stalled.write(
      'POST /api/links HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"url":',
    );
    try {
      const created = await create(app.url, { url: 'https://example.com/meanwhile' });
      expect(created.status, 'a slow client must not hold up anyone else').toBe(201);
      expect((await visit(app.url, created.body.code)).status).toBe(302);
    } finally {
      stalled.destroy();
    }
  });

  it('answers 405 to methods a path does not support', async () => {
    const app = await start();
    const { code } = await createOk(app.url, { url: 'https://example.com/' });
    for (const [method, path] of [
      ['GET', '/api/links'],
      ['PUT', `/api/links/${code}`],
      ['POST', `/${code}`],
    ] as const) {
      const response = await fetch(app.url + path, { method, redirect: 'manual' });
      expect(response.status, `${method} ${path}`).toBe(405);
      await response.body?.cancel();
    }
  });
});

describe('statistics', () => {
  it('counts clicks and unique visitors (HyperLogLog) without slowing the redirect', async () => {
    const app = await start();
    const { code, url } = await createOk(app.url, { url: 'https://example.com/stats' });
    const fresh = await stats(app.url, code);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ code, url, clicks: 0, uniqueVisitors: 0, expiresAt: null });
    expect(new Date(fresh.body.createdAt).toISOString(), 'createdAt is an ISO date').toBe(
      fresh.body.createdAt,
    );

    for (const agent of ['alice', 'bob', 'alice', 'carol', 'alice']) {
      const response = await visit(app.url, code, agent);
      expect(response.status).toBe(302);
    }
    const counted = await waitFor('5 clicks to be counted', async () => {
      const s = await stats(app.url, code);
      return s.body.clicks === 5 ? s : undefined;
    });
    expect(counted.body.uniqueVisitors, 'three different visitors (address + User-Agent)').toBe(3);
  });

  it('keeps each link’s clicks and visitors apart', async () => {
    const app = await start();
    const a = await createOk(app.url, { url: 'https://example.com/a' });
    const b = await createOk(app.url, { url: 'https://example.com/b' });
    for (const [code, agent] of [
      [a.code, 'alice'],
      [b.code, 'dave'],
      [a.code, 'bob'],
      [a.code, 'alice'],
    ]) {
      expect((await visit(app.url, code!, agent)).status).toBe(302);
    }
    await waitFor('all 4 clicks to be counted', async () => {
      const [sa, sb] = [await stats(app.url, a.code), await stats(app.url, b.code)];
      return sa.body.clicks + sb.body.clicks === 4;
    });
    expect((await stats(app.url, a.code)).body, 'link a: 3 clicks by alice and bob').toMatchObject({
      clicks: 3,
      uniqueVisitors: 2,
    });
    expect(
      (await stats(app.url, b.code)).body,
      'link b: 1 click by dave, none of a’s visitors',
    ).toMatchObject({
      clicks: 1,
      uniqueVisitors: 1,
    });
  });
});

describe('deleting links', () => {
  it('deletes with the bearer deleteToken: 401 without one, 403 with a wrong one, 204 with the right one', async () => {
    const app = await start();
    const { code, deleteToken } = await createOk(app.url, { url: 'https://example.com/del' });
    const anonymous = await remove(app.url, code);
    expect(anonymous.status, 'no Authorization header: 401').toBe(401);
    expect(anonymous.headers.get('www-authenticate'), '401 says how to authenticate').toMatch(/Bearer/);
    const wrong = await remove(app.url, code, 'not-the-token');
    expect(wrong.status, 'a wrong token: 403').toBe(403);
    expect((await visit(app.url, code)).status, 'a refused delete leaves the link working').toBe(302);

    const done = await remove(app.url, code, deleteToken);
    expect(done.status, 'the right token: 204 No Content').toBe(204);
    expect((await visit(app.url, code)).status, 'a deleted link answers 404').toBe(404);
    expect((await stats(app.url, code)).status).toBe(404);
    expect((await remove(app.url, code, deleteToken)).status, 'deleting it again: 404').toBe(404);
    expect(await redis.client().exists(`${prefix}link:${code}`), 'the hash is gone from Redis').toBe(0);
  });

  it('removes the link’s visitors with it, so a new link under the same alias starts from zero', async () => {
    const app = await start();
    const first = await createOk(app.url, { url: 'https://example.com/v1', alias: 'reused' });
    await visit(app.url, 'reused', 'alice');
    await waitFor('the click to be counted', async () => (await stats(app.url, 'reused')).body.clicks === 1);
    expect((await remove(app.url, 'reused', first.deleteToken)).status).toBe(204);
    expect(await redis.client().exists(`${prefix}visitors:reused`), 'visitors:<code> is deleted too').toBe(0);
    await createOk(app.url, { url: 'https://example.com/v2', alias: 'reused' });
    expect((await stats(app.url, 'reused')).body, 'the new link has no clicks or visitors yet').toMatchObject(
      {
        clicks: 0,
        uniqueVisitors: 0,
      },
    );
  });

  it('does not bring a deleted link back when a click made just before the delete is counted', async () => {
    const app = await start();
    const { code, deleteToken } = await createOk(app.url, { url: 'https://example.com/late-click' });
    expect((await visit(app.url, code)).status).toBe(302);
    expect((await remove(app.url, code, deleteToken)).status).toBe(204);
    await app.close(); // writes the clicks still pending, after the delete
    const client = redis.client();
    expect(
      await client.exists(`${prefix}link:${code}`),
      'a click counted after the delete must not recreate link:<code> (HINCRBY creates missing keys)',
    ).toBe(0);
    expect(await client.exists(`${prefix}visitors:${code}`), 'nor visitors:<code>').toBe(0);
  });

  it("one link's token does not delete another link", async () => {
    const app = await start();
    const a = await createOk(app.url, { url: 'https://example.com/a' });
    const b = await createOk(app.url, { url: 'https://example.com/b' });
    expect((await remove(app.url, b.code, a.deleteToken)).status).toBe(403);
  });
});

describe('rate limiting creation', () => {
  it('answers 429 with Retry-After past createsPerMinute, and lets the client in again next minute', async () => {
    const clock = new ManualClock(1_800_000_000_000 + 15_000);
    const app = await start({ createsPerMinute: 3, clock });
    for (let i = 0; i < 3; i++) await createOk(app.url, { url: `https://example.com/${i}` });
    const limited = await create(app.url, { url: 'https://example.com/4' });
    expect(limited.status, 'the 4th creation in a minute is refused').toBe(429);
    expect(
      limited.headers.get('retry-after'),
      'Retry-After: the seconds left in the clock minute (the clock is 15 s into it: 45)',
    ).toBe('45');
    expect(limited.body?.error).toMatch(/\S/);
    clock.advance(14_500);
    expect(
      (await create(app.url, { url: 'https://example.com/4' })).headers.get('retry-after'),
      '30.5 s left in the minute: Retry-After rounds up to 31',
    ).toBe('31');
    clock.advance(45_000 - 14_500 - 1);
    expect(
      (await create(app.url, { url: 'https://example.com/5' })).status,
      'one millisecond before the next minute: still refused',
    ).toBe(429);
    clock.advance(1);
    expect(
      (await create(app.url, { url: 'https://example.com/6' })).status,
      'the next clock minute: allowed',
    ).toBe(201);
  });

  it('limits each client on its own: one client at its limit does not block another', async (context) => {
    // Two clients need two source addresses: 127.0.0.2 works on Linux, ::1 wherever IPv6 is on.
    let app: Instance;
    let clients: [string, string];
    const clock = new ManualClock(1_800_000_000_000);
    if (await canConnectFrom('127.0.0.2', '127.0.0.1')) {
      app = await start({ createsPerMinute: 2, clock });
      clients = ['127.0.0.1', '127.0.0.2'];
    } else if (await canConnectFrom('::1', '::1')) {
      const shortener = await createShortener({
        redisUrl: redis.url,
        keyPrefix: prefix,
        createsPerMinute: 2,
        clock,
      });
      await new Promise<void>((resolve) => shortener.server.listen(0, '::', resolve));
      const port = (shortener.server.address() as AddressInfo).port;
      app = { url: `http://127.0.0.1:${port}`, close: () => shortener.close() };
      running.push(app);
      clients = ['127.0.0.1', '::1'];
    } else {
      return context.skip('this machine cannot connect from two loopback addresses');
    }
    const [first, second] = clients;
    const base = (from: string) => (from.includes(':') ? app.url.replace('127.0.0.1', '[::1]') : app.url);
    for (let i = 0; i < 2; i++)
      expect(await createFrom(first, base(first), { url: 'https://example.com/' })).toBe(201);
    expect(
      await createFrom(first, base(first), { url: 'https://example.com/' }),
      `the client at ${first} has used its 2 creations this minute`,
    ).toBe(429);
    expect(
      await createFrom(second, base(second), { url: 'https://example.com/' }),
      `the client at ${second} has its own limit (rate:<client>:<minute>), untouched by ${first}`,
    ).toBe(201);
  });

  it('allows 60 creations per client and minute by default', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const app = await start({ createsPerMinute: undefined, clock }); // undefined: the service's default
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++)
      statuses.push((await create(app.url, { url: `https://example.com/${i}` })).status);
    expect(
      statuses.filter((s) => s === 201),
      'the first 60 creations of the minute',
    ).toHaveLength(60);
    expect(statuses[60], 'the 61st is refused').toBe(429);
  }, 30_000);

  it('gives each minute’s counter an expiry, so old windows do not pile up in Redis', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const app = await start({ createsPerMinute: 5, clock });
    await createOk(app.url, { url: 'https://example.com/' });
    const keys = await redis.client().keys(`${prefix}rate:*`);
    expect(keys, 'one rate:<client>:<minute> key after one creation').toHaveLength(1);
    const ttl = await redis.client().pttl(keys[0]!);
    expect(ttl, 'the window’s counter must expire (-1 means never)').toBeGreaterThan(0);
    expect(ttl, 'once its minute is over: within 2 minutes').toBeLessThanOrEqual(120_000);
  });

  it('does not limit redirects', async () => {
    const app = await start({ createsPerMinute: 1 });
    const { code } = await createOk(app.url, { url: 'https://example.com/' });
    for (let i = 0; i < 10; i++) expect((await visit(app.url, code)).status).toBe(302);
  });
});

describe('state lives in Redis only', () => {
  it('gives 200 concurrent creations 200 different codes', async () => {
    const app = await start();
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => create(app.url, { url: `https://example.com/${i}` })),
    );
    expect(
      replies.filter((r) => r.status === 201),
      'every creation succeeds',
    ).toHaveLength(200);
    expect(new Set(replies.map((r) => r.body.code)).size, 'and no two share a code').toBe(200);
    expect(
      await redis.client().get(`${prefix}counter`),
      'one INCR of <prefix>counter per generated code',
    ).toBe('200');
  }, 60_000);

  it('keeps every link across a restart', async () => {
    const first = await start();
    const { code, deleteToken } = await createOk(first.url, { url: 'https://example.com/kept' });
    await visit(first.url, code);
    await first.close();

    const second = await start();
    expect((await visit(second.url, code)).headers.get('location'), 'the link survived the restart').toBe(
      'https://example.com/kept',
    );
    await waitFor('both clicks counted', async () => (await stats(second.url, code)).body.clicks === 2);
    const next = await createOk(second.url, { url: 'https://example.com/new' });
    expect(next.code, 'the restarted service does not hand out an old code').not.toBe(code);
    expect((await remove(second.url, code, deleteToken)).status, 'the old delete token still works').toBe(
      204,
    );
  });

  it('serves the same links from two instances', async () => {
    const a = await start();
    const b = await start();
    const { code } = await createOk(a.url, { url: 'https://example.com/shared' });
    expect((await visit(b.url, code)).headers.get('location'), 'B redirects a link made on A').toBe(
      'https://example.com/shared',
    );
    const fromB = await createOk(b.url, { url: 'https://example.com/from-b' });
    expect(fromB.code).not.toBe(code);
    expect((await visit(a.url, fromB.code)).status).toBe(302);
  });
});

describe('the hot-link cache', () => {
  it('serves a link it has seen from memory, and only maxEntries links', async () => {
    const app = await start({ cache: { maxEntries: 2, ttlMs: 60_000 } });
    const codes = [];
    for (const n of [1, 2, 3])
      codes.push((await createOk(app.url, { url: `https://example.com/${n}` })).code);
    for (const code of codes) expect((await visit(app.url, code)).status).toBe(302);
    // Remove the links behind the service's back: only the cache can answer now.
    await redis.client().del(...codes.map((c) => `${prefix}link:${c}`));
    expect((await visit(app.url, codes[2])).status, 'the most recent link is served from the cache').toBe(
      302,
    );
    expect((await visit(app.url, codes[0])).status, 'the oldest fell out of a 2-entry cache').toBe(404);
  });

  it('forgets a cached link after the cache TTL', async () => {
    const clock = new ManualClock(Date.now());
    const app = await start({ cache: { maxEntries: 100, ttlMs: 5000 }, clock });
    const { code } = await createOk(app.url, { url: 'https://example.com/ttl' });
    await visit(app.url, code);
    await redis.client().del(`${prefix}link:${code}`);
    expect((await visit(app.url, code)).status, 'still fresh in the cache').toBe(302);
    clock.advance(5000);
    expect((await visit(app.url, code)).status, 'after ttlMs the cache asks Redis again').toBe(404);
  });

  it('with the cache off, every redirect reads Redis', async () => {
    const app = await start({ cache: false });
    const { code } = await createOk(app.url, { url: 'https://example.com/nocache' });
    await visit(app.url, code);
    await redis.client().del(`${prefix}link:${code}`);
    expect((await visit(app.url, code)).status).toBe(404);
  });

  it('a delete on instance A makes instance B answer 404 at once (pub/sub invalidation)', async () => {
    const a = await start();
    const b = await start();
    const { code, deleteToken } = await createOk(a.url, { url: 'https://example.com/gone' });
    expect((await visit(b.url, code)).status, 'B has the link in its cache now').toBe(302);
    expect((await visit(a.url, code)).status).toBe(302);
    expect((await remove(a.url, code, deleteToken)).status).toBe(204);
    // On one machine this takes about a millisecond; 2 s leaves room for a busy machine and is still
    // far below the cache's 60 s TTL, which is what B would wait without the invalidation.
    await waitFor(
      'B to answer 404 for the deleted link',
      async () => (await visit(b.url, code)).status === 404,
      { timeoutMs: 2000, intervalMs: 5 },
    );
    expect((await visit(a.url, code)).status, 'and A too').toBe(404);
  });

  it('publishes the code of a deleted link on <prefix>invalidate', async () => {
    const app = await start();
    const { code, deleteToken } = await createOk(app.url, { url: 'https://example.com/pub' });
    const subscriber = redis.client();
    const messages: [string, string][] = [];
    subscriber.on('message', (channel: string, message: string) => messages.push([channel, message]));
    await subscriber.subscribe(`${prefix}invalidate`);
    expect((await remove(app.url, code, deleteToken)).status).toBe(204);
    await waitFor('the invalidation message', () => messages.length > 0, { timeoutMs: 2000 });
    expect(messages, 'the channel is under the key prefix, and the message is the code').toEqual([
      [`${prefix}invalidate`, code],
    ]);
  });

  it('clears its cache when its subscriber reconnects (invalidations sent meanwhile are lost)', async () => {
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    try {
      const a = await start();
      const b = await start({ redisUrl: redisVia(proxy.port) });
      const { code, deleteToken } = await createOk(a.url, { url: 'https://example.com/missed' });
      expect((await visit(b.url, code)).status, 'B has the link in its cache now').toBe(302);

      proxy.refuse(true);
      proxy.cut();
      expect((await remove(a.url, code, deleteToken)).status, 'deleted while B is cut off').toBe(204);
      await sleep(200); // the invalidation has been published, to nobody on B's side
      proxy.refuse(false);
      await waitFor(
        'B to drop the deleted link once it has reconnected',
        async () => (await visit(b.url, code)).status === 404,
        { timeoutMs: 6_000, intervalMs: 100 },
      );
    } finally {
      for (const instance of running.splice(0)) await instance.close();
      await proxy.close();
    }
  }, 30_000);
});

describe('redirects wait on at most one Redis round trip', () => {
  it('a cold redirect takes one round trip, a hot one none; clicks are still counted', async () => {
    const direct = await start();
    const { code } = await createOk(direct.url, { url: 'https://example.com/fast' });
    // Every Redis reply is delayed by 1 s: one round trip costs 1 s, two cost 2 s. The margins are
    // wide because a busy machine adds its own delays.
    const slow = await startSlowProxy(1000);
    try {
      const behindSlowRedis = await start({ redisUrl: redisVia(slow.port) });
      let t0 = performance.now();
      expect((await visit(behindSlowRedis.url, code)).status).toBe(302);
      const cold = performance.now() - t0;
      expect(cold, 'a link not in the cache: one round trip (1 s here), not two').toBeLessThan(1800);

      t0 = performance.now();
      expect((await visit(behindSlowRedis.url, code)).status).toBe(302);
      const hot = performance.now() - t0;
      expect(hot, 'a cached link answers without waiting for Redis, analytics included').toBeLessThan(600);

      await waitFor(
        'both clicks to be counted',
        async () => (await stats(direct.url, code)).body.clicks === 2,
        {
          timeoutMs: 5000,
        },
      );
    } finally {
      for (const instance of running.splice(0)) await instance.close();
      await slow.close();
    }
  }, 20_000);
});

describe('closing', () => {
  it('close() closes every Redis connection the service opened', async () => {
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    try {
      const app = await start({ redisUrl: redisVia(proxy.port) });
      const { code } = await createOk(app.url, { url: 'https://example.com/' });
      await visit(app.url, code);
      expect(proxy.openConnections, 'the service talks to Redis through the proxy').toBeGreaterThan(0);
      await app.close();
      await waitFor('every connection to Redis to be closed', () => proxy.openConnections === 0, {
        timeoutMs: 5000,
      });
    } finally {
      for (const instance of running.splice(0)) await instance.close();
      await proxy.close();
    }
  });
});

describe('when Redis goes away', () => {
  it('answers 503 at once, keeps hot links working, and recovers by itself', async () => {
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    try {
      const app = await start({ redisUrl: redisVia(proxy.port) });
      const hot = await createOk(app.url, { url: 'https://example.com/hot' });
      const cold = await createOk(app.url, { url: 'https://example.com/cold' });
      expect((await visit(app.url, hot.code)).status).toBe(302);

      proxy.refuse(true);
      proxy.cut();
      const t0 = performance.now();
      const redirect = await visit(app.url, cold.code);
      expect(redirect.status, 'an uncached redirect while Redis is down: 503').toBe(503);
      expect(redirect.headers.get('retry-after'), '503 carries Retry-After').toMatch(/^\d+$/);
      expect((await create(app.url, { url: 'https://example.com/x' })).status, 'creating: 503').toBe(503);
      expect((await stats(app.url, cold.code)).status, 'statistics: 503').toBe(503);
      expect((await remove(app.url, cold.code, cold.deleteToken)).status, 'deleting: 503').toBe(503);
      expect(performance.now() - t0, 'failing fast: no request waits for Redis to come back').toBeLessThan(
        5000,
      );
      // Its click cannot be written now: it may be dropped, but must not become an unhandled rejection
      // (which ends a Node process by default).
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        expect((await visit(app.url, hot.code)).status, 'a link in the cache still redirects').toBe(302);
        await sleep(500);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      expect(
        unhandled.map(String),
        'a click that cannot be written while Redis is down must not reject unhandled',
      ).toEqual([]);

      proxy.refuse(false);
      await waitFor(
        'the service to recover once Redis is back',
        async () => (await visit(app.url, cold.code)).status === 302,
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(
        (await create(app.url, { url: 'https://example.com/after' })).status,
        'creating works again',
      ).toBe(201);
    } finally {
      for (const instance of running.splice(0)) await instance.close();
      await proxy.close();
    }
  }, 30_000);
});
