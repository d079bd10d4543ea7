/**
 * The worker's app on its own, in this process: the routes, the counter shared through Redis, and
 * the graceful close. (The cluster suites run the same app in worker processes.)
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import { type App, startApp } from './app.js';
import { get } from './harness.js';

const redis = useRedis();
let admin: Redis;
const apps: App[] = [];
let key = '';
let sequence = 0;

beforeEach(() => {
  admin = redis.client();
  key = `t09cl-hits-${process.pid}-${sequence++}`;
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close().catch(() => {})));
});

async function app(): Promise<App & { url: string }> {
  const started = await startApp({ redisUrl: redis.url, counterKey: key });
  apps.push(started);
  return Object.assign(started, { url: `http://127.0.0.1:${started.port}` });
}

/** This process's connections named app:<pid> in this file's database. */
async function appConnections(): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .filter((l) => l.includes(` name=app:${process.pid} `) && l.includes(` db=${redis.db} `)).length;
}

describe('app: routes', () => {
  it('GET /whoami answers 200 with this process’s pid', async () => {
    const a = await app();
    expect(await get(`${a.url}/whoami`)).toEqual({ status: 200, body: { pid: process.pid } });
  });

  it('GET /slow?ms=n answers 200 with the pid and n after waiting n ms', async () => {
    const a = await app();
    const t0 = performance.now();
    const reply = await get(`${a.url}/slow?ms=150`);
    expect(reply).toEqual({ status: 200, body: { pid: process.pid, ms: 150 } });
    expect(
      performance.now() - t0,
      '/slow?ms=150 must wait about 150 ms before answering',
    ).toBeGreaterThanOrEqual(140);
  });

  it('GET /slow with a bad ms answers 400 naming the value; unknown paths 404; other methods 405', async () => {
    const a = await app();
    for (const bad of ['-1', 'abc', '1.5', '60001', '']) {
      const reply = await get(`${a.url}/slow?ms=${bad}`);
      expect(reply.status, `/slow?ms=${bad} is not an integer from 0 to 60000: 400`).toBe(400);
      expect(String(reply.body.error), 'the error names the bad value').toContain(`"${bad}"`);
    }
    expect((await get(`${a.url}/nowhere`)).status, 'an unknown path answers 404').toBe(404);
    const post = await fetch(`${a.url}/hits`, { method: 'POST' });
    expect(post.status, 'POST /hits answers 405').toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(await admin.get(key), 'a rejected request counts nothing').toBeNull();
  });
});

describe('app: the counter lives in Redis', () => {
  it('two apps sharing one Redis count every hit between them: INCR of one key, not a variable', async () => {
    const [a, b] = [await app(), await app()];
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      for (const x of [a, b]) {
        const reply = await get(`${x.url}/hits`);
        expect(reply.status).toBe(200);
        expect(reply.body.pid).toBe(process.pid);
        seen.push(Number(reply.body.hits));
      }
    }
    expect(seen, 'each hit, on whichever app, returns the next count of the one shared counter').toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    expect(await admin.get(key), 'the count is the Redis key counterKey').toBe('20');
  });

  it('answers 503 when Redis fails, and keeps serving the routes that do not need it', async () => {
    const a = await startApp({ redisUrl: 'redis://127.0.0.1:1/0', counterKey: key });
    apps.push(a);
    const url = `http://127.0.0.1:${a.port}`;
    expect((await get(`${url}/hits`, 5000)).status, 'a counter that cannot be reached: 503').toBe(503);
    expect((await get(`${url}/whoami`)).status).toBe(200);
  });
});

describe('app: close()', () => {
  it('answers the request in flight, then closes its Redis connection (named app:<pid>)', async () => {
    const a = await app();
    await get(`${a.url}/hits`);
    expect(await appConnections(), 'the app holds one Redis connection named app:<pid>').toBe(1);
    const slow = get(`${a.url}/slow?ms=400`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = a.close();
    const reply = await slow;
    expect(reply.status, 'a request in flight when close() is called is answered').toBe(200);
    await closed;
    expect(await appConnections(), 'once close() has resolved, its Redis connection is gone').toBe(0);
    await expect(get(`${a.url}/whoami`, 1000), 'a closed app accepts no connection').rejects.toThrow();
  });
});
