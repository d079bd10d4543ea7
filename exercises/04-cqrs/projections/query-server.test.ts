import type { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  listen,
  ManualClock,
  sleep,
  startFaultProxy,
  useRedis,
  waitFor,
  within,
} from '../../../src/testing/index.js';
import { accountSummary } from './account-summary.js';
import type { NewEvent } from './event-log.js';
import {
  append,
  connection,
  ev,
  expectedModel,
  onCleanup,
  PROJECTION,
  sampleEvents,
  tapCommands,
  track,
  useNamespace,
  wholeLog,
} from './harness.js';
import { projectionKeys } from './keys.js';
import { createProjectionRunner, type ProjectionRunner } from './projection-runner.js';
import { createQueryServer, type QueryServerOptions } from './query-server.js';

const redis = useRedis();
const namespace = useNamespace('query');
let admin: Redis;
beforeAll(async () => {
  admin = redis.client();
});

interface Setup {
  readonly url: string;
  readonly runner: ProjectionRunner;
  readonly server: Awaited<ReturnType<typeof createQueryServer>>;
  readonly subscriber: Redis;
  readonly reader: Redis;
}

/** Appends `events`, applies them, and starts a query server on the model. */
async function setup(events: readonly NewEvent[], options: Partial<QueryServerOptions> = {}): Promise<Setup> {
  await append(admin, namespace.current, events);
  const runner = track(
    createProjectionRunner({
      redis: await connection(redis.url),
      namespace: namespace.current,
      projection: accountSummary(),
      leaseMs: 10_000,
      clock: new ManualClock(),
    }),
  );
  while ((await runner.runOnce()) > 0) {
    // catch up
  }
  const reader = options.redis ?? (await connection(redis.url));
  const subscriber = await connection(redis.url);
  const server = track(
    await createQueryServer({
      redis: reader,
      subscriber,
      namespace: namespace.current,
      projectionName: PROJECTION,
      waitMs: 1500,
      ...options,
    }),
  );
  const listening = await listen(server.server);
  onCleanup(() => listening.close());
  return { url: `http://127.0.0.1:${listening.port}`, runner, server, subscriber, reader };
}

/**
 * Stops every `setInterval` timer for the rest of the test (the 200 ms poll among them), so that only
 * a positions message can wake a waiting request.
 */
function stopPolls(): void {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  onCleanup(() => vi.useRealTimers());
}

/** Counts the commands `client` sends from now on. */
function countCommands(client: Redis): { readonly sent: number } {
  const counter = { sent: 0 };
  tapCommands(client, () => {
    counter.sent++;
  });
  return counter;
}

async function get(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const savedTz = process.env.TZ;
afterEach(() => {
  process.env.TZ = savedTz;
});

describe('createQueryServer: options', () => {
  it('rejects bad options naming the option and its value', async () => {
    // A connection of its own: a server that wrongly accepts a bad option subscribes on it.
    const base = {
      redis: admin,
      subscriber: await connection(redis.url),
      namespace: 'ns',
      projectionName: PROJECTION,
    };
    await expect(createQueryServer({ ...base, namespace: '' })).rejects.toThrow(TypeError);
    await expect(createQueryServer({ ...base, namespace: '' })).rejects.toThrow(/namespace/);
    await expect(createQueryServer({ ...base, namespace: 42 as never })).rejects.toThrow(TypeError);
    await expect(createQueryServer({ ...base, namespace: 42 as never })).rejects.toThrow(/namespace.*42/);
    await expect(createQueryServer({ ...base, projectionName: '' })).rejects.toThrow(/projectionName/);
    await expect(createQueryServer({ ...base, projectionName: 'a:b' })).rejects.toThrow(
      /projectionName.*a:b/,
    );
    await expect(createQueryServer({ ...base, waitMs: -1 })).rejects.toThrow(RangeError);
    await expect(createQueryServer({ ...base, waitMs: 1.5 })).rejects.toThrow(/waitMs.*1\.5/);
    await expect(createQueryServer({ ...base, waitMs: Number.NaN })).rejects.toThrow(/waitMs.*NaN/);
    const zero = createQueryServer({ ...base, waitMs: 0 });
    await expect(zero, 'waitMs 0 is a non-negative safe integer: never wait').resolves.toBeDefined();
    track(await zero);
  });
});

describe('QueryServer: reads', () => {
  it('GET /accounts/:id answers the active version’s summary with X-Projection-Position', async () => {
    const { url } = await setup(sampleEvents(7));
    const log = await wholeLog(admin, namespace.current);
    const reply = await get(`${url}/accounts/a`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reply.body).toEqual(expectedModel(log).accounts.a);
    expect(reply.headers.get('x-projection-position'), 'the checkpoint of the data read').toBe('7');
  });

  it('answers 404 JSON for an unknown account, and 404 before any version is active (position 0)', async () => {
    const { url } = await setup(sampleEvents(3));
    const unknown = await get(`${url}/accounts/zed`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: expect.any(String) });
    expect(unknown.headers.get('x-projection-position')).toBe('3');
    await admin.del(projectionKeys(namespace.current, PROJECTION, 1).active);
    const none = await get(`${url}/accounts/a`);
    expect(none.status).toBe(404);
    expect(none.headers.get('x-projection-position')).toBe('0');
  });

  it('reads the active version only: not a newer one still being built, and the new one once it is switched to', async () => {
    const { url } = await setup(sampleEvents(8));
    const log = await wholeLog(admin, namespace.current);
    const v2 = track(
      createProjectionRunner({
        redis: await connection(redis.url),
        namespace: namespace.current,
        projection: accountSummary(2),
        batchSize: 4,
        leaseMs: 10_000,
        clock: new ManualClock(),
      }),
    );
    expect(await v2.runOnce(), 'version 2 is half built').toBe(4);
    const during = await get(`${url}/accounts/a`);
    expect(during.body, 'queries must read the active version 1, complete').toEqual(
      expectedModel(log).accounts.a,
    );
    expect(during.headers.get('x-projection-position')).toBe('8');
    await v2.runOnce();
    await admin.set(projectionKeys(namespace.current, PROJECTION, 1).active, '2');
    await admin.hset(
      `${projectionKeys(namespace.current, PROJECTION, 2).prefix}:account:a`,
      'owner',
      'Version Two',
    );
    const after = await get(`${url}/accounts/a`);
    expect(after.body, 'after the switch, queries read version 2').toMatchObject({ owner: 'Version Two' });
  });

  it('answers 400 for a bad account id, 404 for another path, 405 with Allow for another method', async () => {
    const { url } = await setup(sampleEvents(3));
    for (const path of [
      '/accounts/a%20b',
      `/accounts/${'x'.repeat(65)}`,
      '/accounts/%E0%A4%A',
      '/accounts/a.b',
    ]) {
      expect((await get(`${url}${path}`)).status, `GET ${path}`).toBe(400);
    }
    for (const path of [
      '/accounts',
      '/nothing/here',
      '/nothing/a',
      '/accounts/a/extra',
      '/days/2024-03-01',
      '/days/2024-03-01/withdrawals',
      '/weeks/2024-03-01/deposits',
      '/days/2024-03-01/deposits/more',
    ]) {
      expect(
        (await get(`${url}${path}`)).status,
        `GET ${path} matches no route (account a exists): 404`,
      ).toBe(404);
    }
    const post = await get(`${url}/accounts/a`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('GET /days/:date/deposits answers the UTC day’s total, whatever the server’s time zone', async () => {
    process.env.TZ = 'Asia/Kolkata'; // +05:30: local midnight is the previous day in UTC
    const { url } = await setup([
      ev.opened('a', 'Ada', '2024-03-01T08:00:00.000Z'),
      ev.deposited('a', 1000, '2024-03-01T08:00:00.000Z'),
      ev.deposited('a', 250, '2024-03-01T20:00:00.000Z'), // 2 March in Kolkata, 1 March in UTC
      ev.deposited('a', 40, '2024-03-02T00:10:00.000Z'),
    ]);
    const first = await get(`${url}/days/2024-03-01/deposits`);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ date: '2024-03-01', total: 1250 });
    expect(first.headers.get('x-projection-position')).toBe('4');
    expect((await get(`${url}/days/2024-03-02/deposits`)).body).toEqual({ date: '2024-03-02', total: 40 });
    expect((await get(`${url}/days/2024-03-03/deposits`)).body, 'a day without deposits: 0').toEqual({
      date: '2024-03-03',
      total: 0,
    });
  });

  it('answers 400 for a date that is not a real yyyy-mm-dd day', async () => {
    const { url } = await setup(sampleEvents(2));
    for (const date of [
      '2024-02-30',
      '2023-02-29',
      '2024-13-01',
      '2024-00-10',
      '2024-01-00',
      '2024-3-1',
      '24-03-01',
      '12024-03-01',
      '2024-03-011',
      'x2024-03-01',
      'today',
    ]) {
      expect((await get(`${url}/days/${date}/deposits`)).status, `GET /days/${date}/deposits`).toBe(400);
    }
    expect((await get(`${url}/days/2024-02-29/deposits`)).status, 'a leap day is a day').toBe(200);
  });

  it('reads the data and the position it reports in one step (the body holds exactly the events up to the header)', async () => {
    const { url, reader, runner } = await setup(sampleEvents(4));
    const account = `${projectionKeys(namespace.current, PROJECTION, 1).prefix}:account:a`;
    let touched = false;
    let committed = false;
    tapCommands(reader, async (_name, args, inBatch) => {
      if (args.some((arg) => String(arg) === account)) touched = true;
      else if (touched && !committed && !inBatch) {
        committed = true; // a commit lands between the read of the data and any later command
        await append(admin, namespace.current, [ev.deposited('a', 5)]);
        await runner.runOnce();
      }
    });
    const reply = await get(`${url}/accounts/a`);
    const position = Number(reply.headers.get('x-projection-position'));
    const upTo = (await wholeLog(admin, namespace.current)).filter((e) => e.position <= position);
    expect(reply.body, `the body must be the model at position ${position}`).toEqual(
      expectedModel(upTo).accounts.a,
    );
  });

  it('answers 503 JSON when Redis is away, and serves again when it is back', async () => {
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    onCleanup(() => proxy.close());
    const reader = await connection(`redis://127.0.0.1:${proxy.port}/${redis.db}`);
    const { url } = await setup(sampleEvents(3), { redis: reader });
    proxy.refuse(true);
    proxy.cut();
    const down = await get(`${url}/accounts/a`);
    expect(down.status, 'a read that cannot reach Redis is answered, with 503').toBe(503);
    expect(down.body).toMatchObject({ error: expect.any(String) });
    proxy.refuse(false);
    await waitFor('the reader to reconnect', async () => reader.status === 'ready');
    expect((await get(`${url}/accounts/a`)).status).toBe(200);
  });

  it('answers 503 JSON when Redis answers the read with an error (a key of the wrong type)', async () => {
    const { url } = await setup(sampleEvents(4));
    const { prefix } = projectionKeys(namespace.current, PROJECTION, 1);
    await admin.del(`${prefix}:account:a`, `${prefix}:deposits:2024-03-01`);
    await admin.set(`${prefix}:account:a`, 'not a hash');
    await admin.hset(`${prefix}:deposits:2024-03-01`, 'not', 'a string');
    for (const path of ['/accounts/a', '/days/2024-03-01/deposits']) {
      const reply = await get(`${url}${path}`);
      expect(reply.status, `GET ${path}: Redis answers WRONGTYPE, and an error reply is Redis failing`).toBe(
        503,
      );
      expect(reply.body).toMatchObject({ error: expect.any(String) });
    }
  });
});

describe('QueryServer: read-your-writes with minPosition', () => {
  it('answers at once when the checkpoint is already at least minPosition (equal included)', async () => {
    const { url } = await setup(sampleEvents(5), { waitMs: 30_000 });
    stopPolls();
    for (const min of [0, 4, 5]) {
      const reply = await within(get(`${url}/accounts/a?minPosition=${min}`), 5000);
      expect(
        reply,
        `minPosition=${min} with the checkpoint at 5 is reached: answer without waiting (no message comes, the poll is stopped in this test, and waitMs is 30 s)`,
      ).not.toBe('pending');
      expect(reply === 'pending' ? 0 : reply.status, `minPosition=${min} with the checkpoint at 5`).toBe(200);
    }
  });

  it('a positions message wakes the wait: with the poll stopped, the commit that reaches minPosition still ends it', async () => {
    const { url, runner, server } = await setup(sampleEvents(4), { waitMs: 30_000 });
    stopPolls();
    const pending = within(get(`${url}/accounts/b?minPosition=6`), 10_000);
    await waitFor('the request to wait', () => server.waiting === 1);
    await append(admin, namespace.current, [ev.deposited('b', 500)]);
    await runner.runOnce(); // checkpoint 5, announced on the channel: one short of minPosition
    await sleep(150);
    expect(server.waiting, 'checkpoint 5 is short of minPosition 6: the request goes on waiting').toBe(1);
    await append(admin, namespace.current, [ev.withdrawn('b', 20)]);
    await runner.runOnce(); // checkpoint 6
    const reply = await pending;
    expect(
      reply,
      'the message of the commit that reaches minPosition 6 must end the wait (the poll is stopped in this test, and waitMs is 30 s)',
    ).not.toBe('pending');
    if (reply === 'pending') return;
    expect(reply.status, 'checkpoint 6 is at least minPosition 6 (equal counts)').toBe(200);
    expect(reply.headers.get('x-projection-position')).toBe('6');
    expect(reply.body).toEqual(expectedModel(await wholeLog(admin, namespace.current)).accounts.b);
  });

  it('waits for the runner to apply the client’s write, then answers with it', async () => {
    const { url, runner } = await setup(sampleEvents(4));
    const pending = get(`${url}/accounts/b?minPosition=6`);
    const [, last] = await append(admin, namespace.current, [ev.deposited('b', 500), ev.withdrawn('b', 20)]);
    expect(last?.position).toBe(6);
    await runner.runOnce();
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(expectedModel(await wholeLog(admin, namespace.current)).accounts.b);
    expect(Number(reply.headers.get('x-projection-position'))).toBeGreaterThanOrEqual(6);
  });

  it('notices a checkpoint that moved without a message (a poll backs up pub/sub)', async () => {
    const { url, server } = await setup(sampleEvents(3));
    const pending = get(`${url}/days/2024-03-01/deposits?minPosition=9`);
    await waitFor('the request to wait', () => server.waiting === 1);
    await admin.set(projectionKeys(namespace.current, PROJECTION, 1).checkpoint, '9'); // no publish
    const reply = await pending;
    expect(reply.status, 'the wait must end within waitMs although no message came').toBe(200);
    expect(reply.headers.get('x-projection-position')).toBe('9');
  });

  it('answers 503 with Retry-After: 1 and the position reached when waitMs runs out', async () => {
    const { url } = await setup(sampleEvents(3), { waitMs: 300 });
    const reply = await get(`${url}/accounts/a?minPosition=10`);
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('1');
    expect(reply.body).toEqual({ position: 3 });
  });

  it('waits 2000 ms by default (no waitMs option): long enough for the runner to catch up', async () => {
    const { url, runner, server } = await setup(sampleEvents(3), { waitMs: undefined });
    const pending = get(`${url}/accounts/a?minPosition=4`);
    await waitFor('the request to wait', () => server.waiting === 1);
    await append(admin, namespace.current, [ev.deposited('a', 5)]);
    await runner.runOnce();
    expect(
      (await pending).status,
      'with the default waitMs of 2000 ms the request still waits for the commit',
    ).toBe(200);
  });

  it('answers 503 { error } at once when Redis fails while a request waits', async () => {
    const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
    onCleanup(() => proxy.close());
    const reader = await connection(`redis://127.0.0.1:${proxy.port}/${redis.db}`);
    const { url, server } = await setup(sampleEvents(3), { redis: reader, waitMs: 20_000 });
    const pending = within(get(`${url}/accounts/a?minPosition=10`), 5000);
    await waitFor('the request to wait', () => server.waiting === 1);
    proxy.refuse(true);
    proxy.cut();
    const reply = await pending;
    expect(
      reply,
      'a read of the 200 ms poll fails: that ends the wait with 503 at once, not waitMs (20 s here) later',
    ).not.toBe('pending');
    if (reply === 'pending') return;
    expect(reply.status).toBe(503);
    expect(reply.body, 'Redis failing: 503 { error }').toMatchObject({ error: expect.any(String) });
    await waitFor('the wait to end', () => server.waiting === 0, { timeoutMs: 2000 });
  });

  it('answers 400 for a minPosition that is not a non-negative decimal integer', async () => {
    const { url } = await setup(sampleEvents(2));
    for (const bad of ['-1', '1.5', 'abc', '', '1e3', '0x10', '%207', '9007199254740993']) {
      const reply = await get(`${url}/accounts/a?minPosition=${bad}`);
      expect(reply.status, `minPosition=${bad}`).toBe(400);
    }
  });

  it('leaves nothing behind when a waiting client goes away', async () => {
    const { url, server, subscriber, reader } = await setup(sampleEvents(2), { waitMs: 20_000 });
    const listeners = () => subscriber.eventNames().reduce((n, e) => n + subscriber.listenerCount(e), 0);
    const before = listeners();
    const controller = new AbortController();
    const pending = fetch(`${url}/accounts/a?minPosition=50`, { signal: controller.signal }).catch(
      () => 'aborted',
    );
    await waitFor('the request to wait', () => server.waiting === 1);
    controller.abort();
    expect(await pending).toBe('aborted');
    await waitFor('the wait to end when its client left', () => server.waiting === 0, { timeoutMs: 2000 });
    expect(listeners(), 'no listener is left on the subscriber').toBe(before);
    const reads = countCommands(reader);
    await sleep(500);
    expect(reads.sent, 'a wait that is over reads Redis no more: its 200 ms poll must be stopped').toBe(0);
  });

  it('close() answers waiting requests with 503, unsubscribes, removes its listeners and closes the server', async () => {
    const subscriber = await connection(redis.url);
    const listeners = () => subscriber.eventNames().reduce((n, e) => n + subscriber.listenerCount(e), 0);
    const before = listeners();
    const { url, server } = await setup(sampleEvents(2), { subscriber, waitMs: 20_000 });
    const pending = get(`${url}/accounts/a?minPosition=50`);
    await waitFor('the request to wait', () => server.waiting === 1);
    await server.close();
    expect((await pending).status).toBe(503);
    expect(server.waiting).toBe(0);
    expect(listeners(), 'every listener the server added to the subscriber is removed').toBe(before);
    expect(server.server.listening, 'close() closes the listening server').toBe(false);
    const channels = (await admin.call(
      'PUBSUB',
      'NUMSUB',
      projectionKeys(namespace.current, PROJECTION, 1).channel,
    )) as [string, number];
    expect(channels[1], 'nobody listens on the positions channel any more').toBe(0);
  });
});
