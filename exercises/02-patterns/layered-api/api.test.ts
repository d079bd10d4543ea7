import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type FaultProxy,
  type Listening,
  listen,
  startFaultProxy,
  useRedis,
  waitFor,
} from '../../../src/testing/index.js';
import { createUserServer } from './controller.js';
import { createRedisUserRepository } from './redis-repository.js';
import { createUserService } from './service.js';

/** All three layers together, on a real Redis: what `npm run serve` runs. */
const redis = useRedis();

let app: Listening | undefined;
let proxy: FaultProxy | undefined;
const connections: Redis[] = [];

beforeEach(() => redis.flush());
afterEach(async () => {
  await app?.close();
  await proxy?.close();
  for (const c of connections.splice(0)) c.disconnect();
  app = proxy = undefined;
});

async function startApp(client: Redis) {
  const errors: unknown[] = [];
  const service = createUserService(createRedisUserRepository(client));
  app = await listen(createUserServer(service, { onError: (e) => errors.push(e) }));
  return { url: app.url, errors };
}

const postUser = (url: string, body: unknown) =>
  fetch(`${url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });

describe('the users API, all layers on Redis', () => {
  it('creates and reads users end to end, normalising the email', async () => {
    const { url } = await startApp(redis.client());
    const created = await postUser(url, { name: ' Ada ', email: 'Ada@Example.com' });
    expect(created.status).toBe(201);
    const user = await created.json();
    expect(user).toMatchObject({ name: 'Ada', email: 'ada@example.com' });
    const read = await fetch(`${url}${created.headers.get('location')}`);
    expect(read.status, 'the Location header leads to the user').toBe(200);
    expect(await read.json()).toEqual(user);
    expect(await redis.client().hget('users:by-email', 'ada@example.com'), 'stored in Redis').toBe(user.id);
    const dup = await postUser(url, { name: 'Ada', email: 'ADA@example.com ' });
    expect(dup.status, 'the same email in other case and spacing is a duplicate').toBe(409);
    await dup.body?.cancel();
  });

  it('gives exactly one 201 and 49 409s to 50 simultaneous sign-ups with one email', async () => {
    const { url } = await startApp(redis.client());
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, n) => postUser(url, { name: `Racer ${n}`, email: 'race@example.com' })),
    );
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.body?.cancel()));
    expect(
      statuses.filter((s) => s === 201),
      'exactly one sign-up wins',
    ).toHaveLength(1);
    expect(
      statuses.filter((s) => s === 409),
      'every other one is told the email is taken',
    ).toHaveLength(49);
  });

  it('answers 500 while Redis is unreachable, and recovers when it comes back', async () => {
    proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    // Fail fast while disconnected instead of queueing commands until Redis returns.
    const client = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      db: redis.db,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 100,
    });
    client.on('error', () => {});
    connections.push(client);
    await client.connect();
    const { url, errors } = await startApp(client);
    expect((await postUser(url, { name: 'Before', email: 'before@example.com' })).status).toBe(201);

    proxy.refuse(true);
    proxy.cut();
    await waitFor('the Redis client to notice the cut', () => client.status !== 'ready');
    const during = await postUser(url, { name: 'During', email: 'during@example.com' });
    expect(during.status, 'storage down is the server’s problem: 500, not a hang or a crash').toBe(500);
    expect(await during.json()).toEqual({ error: 'internal server error' });
    expect(errors.length, 'the Redis error was reported to onError').toBeGreaterThan(0);

    proxy.refuse(false);
    await waitFor('the Redis client to reconnect', () => client.status === 'ready', { timeoutMs: 8000 });
    const after = await postUser(url, { name: 'After', email: 'after@example.com' });
    expect(after.status, 'once Redis is back, the same server works again').toBe(201);
    await after.body?.cancel();
  });
});
