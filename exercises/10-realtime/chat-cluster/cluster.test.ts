import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectWebSocket,
  listen,
  startFaultProxy,
  type TestSocket,
  useRedis,
  waitFor,
} from '../../../src/testing/index.js';
import { type ChatNodeOptions, createChatNode } from './cluster.js';

const redis = useRedis();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** Pub/sub channels are shared by every test file on this Redis: a prefix of our own per test. */
const uniquePrefix = () => `t-${randomUUID().slice(0, 8)}:`;

async function startNode(prefix: string, options: Partial<ChatNodeOptions> = {}, redisUrl = redis.url) {
  const node = await createChatNode({ redisUrl, keyPrefix: prefix, presenceTtlMs: 3000, ...options });
  const listening = await listen(node.server);
  cleanups.push(() => listening.close());
  cleanups.push(() => node.close());
  return { node, port: listening.port, url: `ws://127.0.0.1:${listening.port}` };
}

async function connect(url: string) {
  const socket = await connectWebSocket(url);
  cleanups.push(async () => socket.ws.terminate());
  return socket;
}

/** Redis on a fault proxy, so a test can take it away from one instance. */
async function redisProxy() {
  const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
  cleanups.push(() => proxy.close());
  return { proxy, url: `redis://127.0.0.1:${proxy.port}/${redis.db}` };
}

const ofType =
  (type: string) =>
  (m: any): boolean =>
    m?.type === type;

async function join(socket: TestSocket, room: string, name: string) {
  socket.send({ type: 'join', room, name });
  return socket.next((m) => m.type === 'joined' && m.room === room, 5000);
}

const compareIds = (a: string, b: string) => {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
};

describe('a chat on several instances sharing Redis', () => {
  it('delivers a message sent to instance A to members connected to instance B', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const ada = await connect(a.url);
    const bob = await connect(b.url);
    await join(ada, 'general', 'ada');
    await join(bob, 'general', 'bob');
    ada.send({ type: 'message', room: 'general', text: 'hello from A' });
    const atBob = await bob.next(ofType('message'), 5000);
    expect(atBob, 'B forwards what was sent on A').toMatchObject({
      type: 'message',
      room: 'general',
      from: 'ada',
      text: 'hello from A',
    });
    expect(await ada.next(ofType('message'), 5000), 'the sender receives the same event').toEqual(atBob);
  });

  it('uses the Redis Stream of the room as history: ids are stream ids, shared by every instance', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const ada = await connect(a.url);
    const bob = await connect(b.url);
    await join(ada, 'r1', 'ada');
    await join(bob, 'r1', 'bob');
    const ids: string[] = [];
    for (const [socket, text] of [
      [ada, 'one'],
      [bob, 'two'],
      [ada, 'three'],
    ] as const) {
      socket.send({ type: 'message', room: 'r1', text });
      ids.push((await socket.next((m) => m.type === 'message' && m.text === text, 5000)).id);
    }
    const stream = await redis.client().xrange(`${prefix}history:r1`, '-', '+');
    expect(
      stream.map(([id]) => id),
      `the messages are entries of the stream ${prefix}history:r1 and their ids are the message ids`,
    ).toEqual(ids);
    const cyd = await connect(b.url);
    const joined = await join(cyd, 'r1', 'cyd');
    expect(
      joined.history.map((m: any) => m.text),
      'a newcomer on B sees history written through A and B',
    ).toEqual(['one', 'two', 'three']);
    expect(joined.members, 'members span the instances').toEqual(['ada', 'bob', 'cyd']);
    cyd.send({ type: 'history', room: 'r1', before: ids[2], limit: 1 });
    expect((await cyd.next(ofType('history'), 5000)).messages.map((m: any) => m.text)).toEqual(['two']);
  });

  it('keeps one order per room that every member on every instance sees', async () => {
    const prefix = uniquePrefix();
    const options = { rateLimit: { messages: 1000, perMs: 1000 } };
    const a = await startNode(prefix, options);
    const b = await startNode(prefix, options);
    const senders = [await connect(a.url), await connect(b.url)];
    const watchers = [await connect(a.url), await connect(b.url)];
    for (const [i, s] of [...senders, ...watchers].entries()) await join(s, 'ordered', `user${i}`);
    for (let i = 0; i < 30; i++) {
      senders[0]!.send({ type: 'message', room: 'ordered', text: `a${i}` });
      senders[1]!.send({ type: 'message', room: 'ordered', text: `b${i}` });
    }
    const seen = await Promise.all(
      watchers.map(async (w) => {
        const got: any[] = [];
        while (got.length < 60) got.push(await w.next(ofType('message'), 5000));
        return got;
      }),
    );
    const [onA, onB] = seen as [any[], any[]];
    expect(
      onB.map((m) => m.id),
      'members on A and on B receive the messages in the same order',
    ).toEqual(onA.map((m) => m.id));
    const sorted = [...onA.map((m) => m.id)].sort(compareIds);
    expect(
      onA.map((m) => m.id),
      'and that order is the order of the stream ids',
    ).toEqual(sorted);
    expect(
      onA.filter((m) => m.text.startsWith('a')).map((m) => m.text),
      "each sender's order is kept",
    ).toEqual(Array.from({ length: 30 }, (_, i) => `a${i}`));
  });

  it('sends presence across instances when members join and leave', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const ada = await connect(a.url);
    const bob = await connect(b.url);
    await join(ada, 'p1', 'ada');
    await join(bob, 'p1', 'bob');
    expect(
      (await ada.next((m) => m.type === 'presence' && m.members.includes('bob'), 5000)).members,
      'ada on A hears that bob joined on B',
    ).toEqual(['ada', 'bob']);
    bob.send({ type: 'leave', room: 'p1' });
    expect(
      (await ada.next((m) => m.type === 'presence' && !m.members.includes('bob'), 5000)).members,
      'and that he left',
    ).toEqual(['ada']);
  });

  it('de-duplicates a clientId across instances: a retry on another instance is acknowledged, not delivered again', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const ada = await connect(a.url);
    const bob = await connect(b.url);
    await join(ada, 'd1', 'ada');
    await join(bob, 'd1', 'bob');
    ada.send({ type: 'message', room: 'd1', text: 'pay 10', clientId: 'once-1' });
    const original = await bob.next(ofType('message'), 5000);
    const retry = await connect(b.url);
    await join(retry, 'd1', 'ada');
    retry.send({ type: 'message', room: 'd1', text: 'pay 10', clientId: 'once-1' });
    expect(await retry.next(ofType('message'), 5000), 'the retry gets the original event back').toEqual(
      original,
    );
    await bob.expectSilence(ofType('message'), 500);
  });

  it("removes a crashed instance's members within the presence TTL", async () => {
    const prefix = uniquePrefix();
    const { proxy, url } = await redisProxy();
    const a = await startNode(prefix, { presenceTtlMs: 600 }, url);
    const b = await startNode(prefix, { presenceTtlMs: 600 });
    const front = await startFaultProxy({ port: a.port }); // the clients' network path to A
    cleanups.push(() => front.close());
    const ghost = await connect(`ws://127.0.0.1:${front.port}`);
    const bob = await connect(b.url);
    await join(ghost, 'c1', 'ghost');
    expect((await join(bob, 'c1', 'bob')).members, 'first both are there').toEqual(['bob', 'ghost']);

    // A "crashes": it loses Redis and its clients at once, and can clean nothing up.
    proxy.refuse();
    proxy.cut();
    front.cut();
    const started = Date.now();
    const presence = await bob.next((m) => m.type === 'presence' && !m.members.includes('ghost'), 5000);
    expect(presence.members, "the crashed instance's member is gone").toEqual(['bob']);
    expect(Date.now() - started, 'within about the TTL (600 ms), not forever').toBeLessThan(4000);
    const carol = await connect(b.url);
    expect((await join(carol, 'c1', 'carol')).members, 'and stays gone for newcomers').toEqual([
      'bob',
      'carol',
    ]);
  });

  it('lets a client whose instance died reconnect to another and catch up from the last id it saw', async () => {
    const prefix = uniquePrefix();
    const { proxy, url } = await redisProxy();
    const a = await startNode(prefix, {}, url);
    const b = await startNode(prefix);
    const front = await startFaultProxy({ port: a.port });
    cleanups.push(() => front.close());
    const ada = await connect(`ws://127.0.0.1:${front.port}`);
    const bob = await connect(b.url);
    await join(ada, 'k1', 'ada');
    await join(bob, 'k1', 'bob');
    bob.send({ type: 'message', room: 'k1', text: 'before the crash' });
    const lastSeen = (await ada.next(ofType('message'), 5000)).id;

    proxy.refuse();
    proxy.cut();
    front.cut();
    await ada.closed;
    const acked: string[] = [];
    for (const text of ['while ada was away 1', 'while ada was away 2']) {
      bob.send({ type: 'message', room: 'k1', text });
      acked.push((await bob.next((m) => m.type === 'message' && m.text === text, 5000)).id);
    }

    const again = await connect(b.url);
    const joined = await join(again, 'k1', 'ada');
    const missed = joined.history.filter((m: any) => compareIds(m.id, lastSeen) > 0);
    expect(
      missed.map((m: any) => m.id),
      'every acknowledged message after the last id ada saw is in the history on B',
    ).toEqual(acked);
  });

  it('answers unavailable while Redis is away, stays up, and works again when Redis is back', async () => {
    const prefix = uniquePrefix();
    const { proxy, url } = await redisProxy();
    const a = await startNode(prefix, {}, url);
    const b = await startNode(prefix);
    const ada = await connect(a.url);
    const bob = await connect(b.url);
    await join(ada, 'u1', 'ada');
    await join(bob, 'u1', 'bob');

    proxy.refuse();
    proxy.cut();
    ada.send({ type: 'message', room: 'u1', text: 'into the void' });
    expect(
      (await ada.next(ofType('error'), 6000)).code,
      'a request that needs Redis fails with unavailable within seconds instead of hanging',
    ).toBe('unavailable');
    expect(ada.ws.readyState, 'the client stays connected').toBe(1);

    proxy.refuse(false);
    await waitFor(
      'a message from A to reach B and A again after Redis came back',
      async () => {
        ada.send({ type: 'message', room: 'u1', text: 'back' });
        const isBack = (m: any) => m?.type === 'message' && m.text === 'back';
        // B must receive it, and A must too (A's subscription is back, not only its commands).
        return bob.received.some(isBack) && ada.received.some(isBack);
      },
      { timeoutMs: 15_000, intervalMs: 500 },
    );
    bob.send({ type: 'message', room: 'u1', text: 'from B after recovery' });
    await ada.next((m) => m.type === 'message' && m.text === 'from B after recovery', 5000);
  }, 30_000);

  it('closes its connections with 1001 on shutdown', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix);
    const ada = await connect(a.url);
    await join(ada, 's1', 'ada');
    await a.node.close();
    expect((await ada.closed).code).toBe(1001);
  });

  it('keeps to the protocol rules on every instance: not-in-room, bad-request, 1009', async () => {
    const a = await startNode(uniquePrefix());
    const ada = await connect(a.url);
    ada.send({ type: 'message', room: 'x', text: 'hi' });
    expect((await ada.next(ofType('error'), 5000)).code).toBe('not-in-room');
    ada.send('{oops');
    expect((await ada.next(ofType('error'), 5000)).code).toBe('bad-request');
    ada.send('x'.repeat(16 * 1024 + 1));
    expect((await ada.closed).code, 'a frame over 16 KiB closes with 1009').toBe(1009);
  });
});
