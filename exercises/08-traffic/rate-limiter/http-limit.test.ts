import { createConnection } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Listening, ManualClock, startHttpServer, useRedis } from '../../../src/testing/index.js';
import { clientKey, type Limiter, withRateLimit } from './http-limit.js';
import { createRedisLimiter } from './redis-limiter.js';

const redis = useRedis();

/** A limiter the test controls: it records keys and answers what the test says. */
function scriptedLimiter(decide: (key: string, n: number) => Awaited<ReturnType<Limiter['take']>> | Error) {
  const keys: string[] = [];
  const limiter: Limiter = {
    async take(key) {
      keys.push(key);
      const decision = decide(key, keys.length);
      if (decision instanceof Error) throw decision;
      return decision;
    },
  };
  return { limiter, keys };
}

const ok = (remaining: number) => ({ allowed: true, limit: 10, remaining, resetMs: 4200, retryAfterMs: 0 });
const no = { allowed: false, limit: 10, remaining: 0, resetMs: 59_001, retryAfterMs: 2001 };

let server: Listening | undefined;
let handled = 0;
const hello = () => {
  handled = 0;
  return withHandler;
};
const withHandler: Parameters<typeof withRateLimit>[0] = (_req, res) => {
  handled++;
  res.end('hello');
};

async function serve(options: Parameters<typeof withRateLimit>[1]): Promise<string> {
  server = await startHttpServer(withRateLimit(hello(), options));
  return server.url;
}

describe('withRateLimit: HTTP 429 and the RateLimit headers', () => {
  beforeEach(() => redis.flush());
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('passes an admitted request to the handler with RateLimit-Limit, -Remaining and -Reset', async () => {
    const { limiter } = scriptedLimiter(() => ok(7));
    const url = await serve({ limiter });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    expect(res.headers.get('ratelimit-limit')).toBe('10');
    expect(res.headers.get('ratelimit-remaining')).toBe('7');
    expect(res.headers.get('ratelimit-reset'), '4200 ms rounds up to 5 seconds').toBe('5');
    expect(res.headers.get('retry-after'), 'no Retry-After on an admitted request').toBeNull();
    expect(handled).toBe(1);
  });

  it('answers a denied request with 429, Retry-After in whole seconds and a JSON error, without calling the handler', async () => {
    const { limiter } = scriptedLimiter(() => no);
    const url = await serve({ limiter });
    const res = await fetch(url, { method: 'POST', body: 'payload' });
    expect(res.status, 'RFC 6585: 429 Too Many Requests').toBe(429);
    expect(res.headers.get('retry-after'), '2001 ms rounds up to 3 seconds, never down').toBe('3');
    expect(res.headers.get('ratelimit-limit')).toBe('10');
    expect(res.headers.get('ratelimit-remaining')).toBe('0');
    expect(res.headers.get('ratelimit-reset'), '59001 ms rounds up to 60').toBe('60');
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as { error?: unknown };
    expect(typeof body.error, 'the body says what happened').toBe('string');
    expect(String(body.error).length, 'in words, not an empty string').toBeGreaterThan(5);
    expect(handled, 'a denied request must never reach the handler').toBe(0);
  });

  it('never sends Retry-After: 0 (a client would retry at once)', async () => {
    const { limiter } = scriptedLimiter(() => ({ ...no, retryAfterMs: 1 }));
    const res = await fetch(await serve({ limiter }));
    expect(res.headers.get('retry-after')).toBe('1');
    const { limiter: zero } = scriptedLimiter(() => ({ ...no, retryAfterMs: 0 }));
    await server?.close();
    const again = await fetch(await serve({ limiter: zero }));
    expect(again.headers.get('retry-after'), 'at least 1 second').toBe('1');
  });

  it('keys by the API key when there is one, otherwise by the client IP', async () => {
    const { limiter, keys } = scriptedLimiter(() => ok(1));
    const url = await serve({ limiter });
    await fetch(url, { headers: { 'x-api-key': 'k-123' } });
    await fetch(url);
    await fetch(url, { headers: { 'x-api-key': '' } });
    expect(keys).toEqual(['key:k-123', 'ip:127.0.0.1', 'ip:127.0.0.1']);
  });

  it('ignores X-Forwarded-For: a client cannot pick its own bucket by writing a header', async () => {
    const { limiter, keys } = scriptedLimiter(() => ok(1));
    const url = await serve({ limiter });
    await fetch(url, { headers: { 'x-forwarded-for': '203.0.113.1' } });
    await fetch(url, { headers: { 'x-forwarded-for': '203.0.113.2' } });
    expect(keys, 'both requests came from 127.0.0.1').toEqual(['ip:127.0.0.1', 'ip:127.0.0.1']);
  });

  it('fails open by default when the limiter fails (Redis down), and closed with 503 when asked', async () => {
    const broken = () => scriptedLimiter(() => new Error('connect ECONNREFUSED'));
    const open = await fetch(await serve({ limiter: broken().limiter }));
    expect(open.status, 'fail open: the request is served').toBe(200);
    expect(
      open.headers.get('ratelimit-limit'),
      'without rate-limit headers: there was no decision',
    ).toBeNull();
    expect(handled).toBe(1);
    await server?.close();
    const closed = await fetch(await serve({ limiter: broken().limiter, onLimiterError: 'reject' }));
    expect(closed.status, 'fail closed: 503').toBe(503);
    expect(closed.headers.get('content-type'), 'a JSON error body').toMatch(/application\/json/);
    const body = (await closed.json()) as { error?: unknown };
    expect(
      String(body.error ?? '').length,
      'a JSON body that says the limiter is unavailable',
    ).toBeGreaterThan(5);
    expect(handled, 'and the handler is not called').toBe(0);
  });

  it('clientKey reads the socket address, never a header, when there is no API key', () => {
    const fake = {
      headers: { 'x-forwarded-for': '198.51.100.9', 'x-real-ip': '198.51.100.9' },
      socket: { remoteAddress: '10.1.2.3' },
    } as unknown as Parameters<typeof clientKey>[0];
    expect(clientKey(fake)).toBe('ip:10.1.2.3');
  });

  it('end to end with the Redis limiter: the fourth request in a window gets 429', async () => {
    const clock = new ManualClock();
    const limiter = createRedisLimiter(redis.client(), { limit: 3, windowMs: 60_000, clock });
    const url = await serve({ limiter });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(url, { headers: { 'x-api-key': 'e2e' } })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    clock.advance(60_000);
    expect((await fetch(url, { headers: { 'x-api-key': 'e2e' } })).status, 'a window later').toBe(200);
  });

  it('keeps serving other clients while one is limited, and survives a client that hangs up', async () => {
    const { limiter } = scriptedLimiter((key) => (key === 'key:greedy' ? no : ok(5)));
    const url = await serve({ limiter });
    const port = new URL(url).port;
    const socket = createConnection(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-API-Key: greedy\r\n\r\n');
    socket.destroy();
    expect((await fetch(url, { headers: { 'x-api-key': 'greedy' } })).status).toBe(429);
    expect((await fetch(url, { headers: { 'x-api-key': 'polite' } })).status).toBe(200);
  });
});
