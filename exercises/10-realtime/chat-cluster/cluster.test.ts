import { randomUUID } from 'node:crypto';
import { createServer as createTcpServer, type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

/**
 * A proxy in front of Redis that can hold Redis's replies (and pushes) to one instance while its
 * commands still go through: the instance's command has run, but it does not know yet. (The kit's
 * fault proxy pauses both directions at once, which cannot make this gap.)
 */
async function replyHoldingProxy() {
  const links = new Set<{ client: Socket; upstream: Socket; held: Buffer[] }>();
  let holding = false;
  const server = createTcpServer((client) => {
    const link = { client, upstream: tcpConnect(redis.port, redis.host), held: [] as Buffer[] };
    links.add(link);
    client.on('data', (data) => link.upstream.write(data));
    link.upstream.on('data', (data) => (holding ? link.held.push(data) : client.write(data)));
    const end = () => {
      links.delete(link);
      client.destroy();
      link.upstream.destroy();
    };
    client.on('error', end).on('close', end);
    link.upstream.on('error', end).on('close', end);
  });
  const listening = await listen(server);
  cleanups.push(async () => {
    for (const link of [...links]) for (const s of [link.client, link.upstream]) s.destroy();
    await listening.close();
  });
  return {
    url: `redis://127.0.0.1:${listening.port}/${redis.db}`,
    hold: () => {
      holding = true;
    },
    /** Sends each connection's held bytes in order, before anything that arrives later. */
    release: () => {
      holding = false;
      for (const link of links) for (const data of link.held.splice(0)) link.client.write(data);
    },
  };
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
    await ada.expectSilence(ofType('message'), 500); // once: its copy through the channel is the acknowledgement
    await bob.expectSilence(ofType('message'), 100);
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

  it('reads the newest 50 by default (joined and history alike) and pages back with before and limit', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix, { rateLimit: { messages: 1000, perMs: 1000 } });
    const ada = await connect(a.url);
    await join(ada, 'h2', 'ada');
    for (let i = 1; i <= 55; i++) ada.send({ type: 'message', room: 'h2', text: `m${i}` });
    const sent: any[] = [];
    while (sent.length < 55) sent.push(await ada.next(ofType('message'), 5000));
    const texts = (messages: any[]) => messages.map((m) => m.text);
    const newest50 = sent.slice(5).map((m) => m.text);
    const bob = await connect(a.url);
    expect(
      texts((await join(bob, 'h2', 'bob')).history),
      'joined carries the newest 50, oldest first',
    ).toEqual(newest50);
    bob.send({ type: 'history', room: 'h2' });
    expect(
      texts((await bob.next(ofType('history'), 5000)).messages),
      'history without limit: the newest 50 (the stream holds more), oldest first',
    ).toEqual(newest50);
    bob.send({ type: 'history', room: 'h2', before: sent[54].id, limit: 5 });
    expect(
      texts((await bob.next(ofType('history'), 5000)).messages),
      'before is exclusive and the page is the one right before it',
    ).toEqual(['m50', 'm51', 'm52', 'm53', 'm54']);
    bob.send({ type: 'history', room: 'h2', before: sent[3].id });
    expect(
      texts((await bob.next(ofType('history'), 5000)).messages),
      'the stream keeps more than 50: paging back reaches the oldest',
    ).toEqual(['m1', 'm2', 'm3']);
  });

  it('trims each room stream to about streamMaxLength entries', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix, { streamMaxLength: 10, rateLimit: { messages: 1000, perMs: 1000 } });
    const ada = await connect(a.url);
    await join(ada, 'trim', 'ada');
    for (let i = 1; i <= 250; i++) ada.send({ type: 'message', room: 'trim', text: `m${i}` });
    await ada.next((m) => m.type === 'message' && m.text === 'm250', 10_000);
    const length = await redis.client().xlen(`${prefix}history:trim`);
    expect(
      length,
      `XADD ... MAXLEN ~ 10 trims whole internal nodes (about 100 entries each): after 250 messages the stream must hold fewer than 250, not ${length}`,
    ).toBeLessThan(250);
    expect(length, 'and never fewer than streamMaxLength').toBeGreaterThanOrEqual(10);
  });

  it('publishes a message in the same step that appends it: a slow reply from Redis cannot reorder the room', async () => {
    const prefix = uniquePrefix();
    const slowLink = await replyHoldingProxy();
    const a = await startNode(prefix, {}, slowLink.url);
    const b = await startNode(prefix);
    const ada = await connect(a.url);
    const [bob, wes] = [await connect(b.url), await connect(b.url)];
    await join(ada, 'o2', 'ada');
    await join(bob, 'o2', 'bob');
    await join(wes, 'o2', 'wes');
    const admin = redis.client();
    slowLink.hold(); // A's commands reach Redis; what Redis says back to A waits
    ada.send({ type: 'message', room: 'o2', text: 'first, through A' });
    await waitFor(
      'A to append its message to the stream',
      async () => (await admin.xlen(`${prefix}history:o2`)) === 1,
    );
    bob.send({ type: 'message', room: 'o2', text: 'second, through B' });
    await bob.next((m) => m.type === 'message' && m.text === 'second, through B', 5000);
    slowLink.release();
    const got = [await wes.next(ofType('message'), 5000), await wes.next(ofType('message'), 5000)];
    const stream = (await admin.xrange(`${prefix}history:o2`, '-', '+')).map(([id]) => id);
    expect(
      got.map((m) => m.id),
      'members receive messages in the order of their stream ids, even when one instance hears back from Redis late',
    ).toEqual(stream);
  });

  it('takes message ids from Redis, so an instance whose clock is a minute behind still posts in order', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const ada = await connect(a.url);
    const bob = await connect(b.url);
    await join(ada, 'skew', 'ada');
    await join(bob, 'skew', 'bob');
    bob.send({ type: 'message', room: 'skew', text: 'on time' });
    const onTime = await bob.next(ofType('message'), 5000);
    const realNow = Date.now.bind(Date);
    // Both instances run in this process: from here on their clocks read a minute behind Redis's.
    const behind = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 60_000);
    try {
      ada.send({ type: 'message', room: 'skew', text: 'from behind' });
      const echo = await ada.next((m) => m.type === 'error' || m.text === 'from behind', 5000);
      expect(echo, 'an instance whose clock is behind must still post (no error)').toMatchObject({
        type: 'message',
        text: 'from behind',
      });
      expect(
        compareIds(echo.id, onTime.id),
        `a later message gets a later id whatever the instance's clock says: ${echo.id} after ${onTime.id}`,
      ).toBeGreaterThan(0);
      const entry = await redis.client().xrange(`${prefix}history:skew`, echo.id, echo.id);
      expect(entry.length, `the delivered id ${echo.id} must be the id of an entry in the stream`).toBe(1);
    } finally {
      behind.mockRestore();
    }
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

  it('tells the other members, not the joiner, with presence; two connections with one name keep it listed', async () => {
    const prefix = uniquePrefix();
    // A long TTL: the refresh timer stays out of the way, so every presence here comes from a join or a leave.
    const a = await startNode(prefix, { presenceTtlMs: 30_000 });
    const b = await startNode(prefix, { presenceTtlMs: 30_000 });
    const watcher = await connect(b.url);
    await join(watcher, 'p2', 'wes');
    const [tab1, tab2] = [await connect(a.url), await connect(a.url)];
    expect((await join(tab1, 'p2', 'ada')).members).toEqual(['ada', 'wes']);
    expect((await watcher.next(ofType('presence'), 5000)).members, 'wes hears that ada joined').toEqual([
      'ada',
      'wes',
    ]);
    expect(
      tab1.received.filter(ofType('presence')),
      'the joiner gets joined, and no presence of its own arrival',
    ).toEqual([]);
    expect((await join(tab2, 'p2', 'ada')).members, 'a second tab of ada: her name once').toEqual([
      'ada',
      'wes',
    ]);
    await watcher.next(ofType('presence'), 5000);
    expect(tab2.received.filter(ofType('presence')), 'nor does the second tab').toEqual([]);
    tab1.send({ type: 'leave', room: 'p2' });
    expect(
      (await watcher.next(ofType('presence'), 5000)).members,
      'one tab of ada left, the other is still in the room: ada stays listed',
    ).toEqual(['ada', 'wes']);
    const newcomer = await connect(b.url);
    expect((await join(newcomer, 'p2', 'cyd')).members).toEqual(['ada', 'cyd', 'wes']);
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

  it('de-duplicates copies of one retry that reach two instances at the same moment', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const [onA, onB, watcher] = [await connect(a.url), await connect(b.url), await connect(b.url)];
    await join(onA, 'd2', 'ada');
    await join(onB, 'd2', 'ada');
    await join(watcher, 'd2', 'wes');
    for (let i = 0; i < 10; i++) {
      onA.send({ type: 'message', room: 'd2', text: `pay ${i}`, clientId: `race-${i}` });
      onB.send({ type: 'message', room: 'd2', text: `pay ${i}`, clientId: `race-${i}` });
    }
    const got: any[] = [];
    while (got.length < 10) got.push(await watcher.next(ofType('message'), 5000));
    await watcher.expectSilence(ofType('message'), 500);
    expect(
      got.map((m) => m.clientId).sort(),
      'each clientId is delivered once, even when two instances receive it at once',
    ).toEqual(Array.from({ length: 10 }, (_, i) => `race-${i}`).sort());
  });

  it('forgets a clientId after dedupWindowMs: the same id later is a new message', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix, { dedupWindowMs: 400 });
    const [ada, bob] = [await connect(a.url), await connect(a.url)];
    await join(ada, 'd3', 'ada');
    await join(bob, 'd3', 'bob');
    ada.send({ type: 'message', room: 'd3', text: 'again', clientId: 'c-1' });
    const first = await bob.next(ofType('message'), 5000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // well past the 400 ms window
    ada.send({ type: 'message', room: 'd3', text: 'again', clientId: 'c-1' });
    const second = await bob.next(ofType('message'), 5000);
    expect(second.id, 'with dedupWindowMs 400, the same clientId 1.5 s later is delivered as new').not.toBe(
      first.id,
    );
  });

  it('pings its clients and terminates one that stops answering', async () => {
    const a = await startNode(uniquePrefix(), { heartbeatIntervalMs: 300 });
    const ada = await connect(a.url);
    const ghost = await connectWebSocket(a.url, { autoPong: false });
    cleanups.push(async () => ghost.ws.terminate());
    await join(ada, 'hb', 'ada');
    const closed = await Promise.race([
      ghost.closed,
      new Promise<undefined>((resolve) => setTimeout(resolve, 6000)),
    ]);
    expect(closed, 'a client that ignores pings must be disconnected within a few intervals').toBeDefined();
    await waitFor('the node to let go of the silent client', () => a.node.connections === 1);
    expect(ada.ws.readyState, 'a client that answers pings stays connected').toBe(1);
  });

  it('drops a client that stops reading once its unsent data passes maxBufferedBytes', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix, {
      maxBufferedBytes: 64 * 1024,
      rateLimit: { messages: 100_000, perMs: 1000 },
    });
    const [ada, slow] = [await connect(a.url), await connect(a.url)];
    await join(ada, 'slow', 'ada');
    const text = '😀'.repeat(2000); // 8000 bytes: a history reply of 50 of these is about 400 KB
    for (let i = 0; i < 50; i++) ada.send({ type: 'message', room: 'slow', text, clientId: `h${i}` });
    await ada.next((m) => m.type === 'message' && m.clientId === 'h49', 10_000);
    await join(slow, 'slow', 'slow');
    slow.ws.pause(); // stops reading: the kernel buffers fill (a few MB), then the node's
    // Only replies go to the slow client (nobody posts): it asks, and never reads. Ada's own history
    // request after each batch paces the loop to the speed the node answers at.
    for (let round = 0; round < 100 && a.node.connections === 2; round++) {
      for (let i = 0; i < 3; i++) slow.send({ type: 'history', room: 'slow' });
      ada.send({ type: 'history', room: 'slow', limit: 1 });
      await ada.next(ofType('history'), 10_000);
    }
    await waitFor('the slow client to be dropped', () => a.node.connections === 1, { timeoutMs: 3_000 });
    slow.ws.resume();
    await slow.closed;
    ada.send({ type: 'message', room: 'slow', text: 'still here' });
    expect((await ada.next((m) => m.type === 'message' && m.text === 'still here', 5000)).from).toBe('ada');
  }, 45_000);

  it('rate-limits each connection on its own, not the instance as a whole', async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix, { rateLimit: { messages: 5, perMs: 60_000 } });
    const [ada, bob] = [await connect(a.url), await connect(a.url)];
    await join(ada, 'l1', 'ada'); // 1 frame of ada's 5
    await join(bob, 'l1', 'bob'); // 1 frame of bob's 5
    for (let i = 1; i <= 5; i++) ada.send({ type: 'message', room: 'l1', text: `a${i}` });
    const error = await ada.next(ofType('error'), 5000);
    expect(error.code, "ada's sixth frame within the minute is over the limit").toBe('rate-limited');
    for (let i = 1; i <= 4; i++) bob.send({ type: 'message', room: 'l1', text: `b${i}` });
    for (let i = 1; i <= 4; i++)
      expect(
        (await bob.next((m) => m.type === 'message' && m.from === 'bob', 5000)).text,
        "bob's budget is his own: ada's frames must not use it up",
      ).toBe(`b${i}`);
    expect(bob.received.filter(ofType('error')), 'bob is not rate-limited').toEqual([]);
  });

  it('keeps every key and channel under keyPrefix, and unsubscribes from a room no local client is in', async () => {
    const prefix = uniquePrefix();
    const room = `z${randomUUID().slice(0, 8)}`;
    const clientId = `cid-${randomUUID()}`;
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const [ada, bob] = [await connect(a.url), await connect(b.url)];
    await join(ada, room, 'ada');
    await join(bob, room, 'bob');
    ada.send({ type: 'message', room, text: 'hi', clientId });
    await bob.next(ofType('message'), 5000);
    const admin = redis.client();
    const keys = [...(await admin.keys(`*${room}*`)), ...(await admin.keys(`*${clientId}*`))];
    expect(keys.length, 'history, presence and de-duplication live in Redis').toBeGreaterThan(0);
    for (const key of keys)
      expect(key.startsWith(prefix), `the key ${key} must start with ${prefix}`).toBe(true);
    const channels = (await admin.pubsub('CHANNELS', `*${room}*`)) as string[];
    expect(channels.length, 'the instances subscribe to the room').toBeGreaterThan(0);
    for (const channel of channels)
      expect(channel.startsWith(prefix), `the channel ${channel} must start with ${prefix}`).toBe(true);

    const subscribers = async () => {
      const counts = (await admin.pubsub('NUMSUB', ...channels)) as (string | number)[];
      return counts.filter((_, i) => i % 2 === 1).reduce<number>((sum, n) => sum + Number(n), 0);
    };
    expect(await subscribers(), 'A and B are subscribed while they have members').toBe(2);
    ada.send({ type: 'leave', room });
    await waitFor(
      'A to unsubscribe after its last member left the room',
      async () => (await subscribers()) === 1,
    );
    await bob.close();
    await waitFor(
      'B to unsubscribe after its last member disconnected',
      async () => (await subscribers()) === 0,
    );
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

  it('leaves no interval running after close()', async () => {
    // Only setInterval is faked, so the suite can count the intervals the node starts.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const a = await startNode(uniquePrefix());
      const ada = await connect(a.url);
      await join(ada, 't1', 'ada');
      await a.node.close();
      expect(vi.getTimerCount(), 'after close() no heartbeat or presence timer may keep running').toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

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
