import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  connectWebSocket,
  listen,
  ManualClock,
  sleep,
  type TestSocket,
  waitFor,
} from '../../../src/testing/index.js';
import { type ChatServerOptions, createChatServer } from './server.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function start(options: ChatServerOptions = {}) {
  const chat = createChatServer(options);
  const listening = await listen(chat.server);
  cleanups.push(() => listening.close());
  cleanups.push(() => chat.close());
  const url = listening.url.replace('http', 'ws');
  const connect = async (clientOptions: Parameters<typeof connectWebSocket>[1] = {}) => {
    const socket = await connectWebSocket(url, clientOptions);
    cleanups.push(async () => socket.ws.terminate());
    return socket;
  };
  return { chat, url, connect };
}

const ofType =
  (type: string, room?: string) =>
  (m: any): boolean =>
    m?.type === type && (room === undefined || m.room === room);

async function join(socket: TestSocket, room: string, name: string) {
  socket.send({ type: 'join', room, name });
  return socket.next(ofType('joined', room));
}

const isRateLimited = (m: any) => m?.type === 'error' && m.code === 'rate-limited';

/** Orders `<ms>-<seq>` ids as numbers, the way the contract means "increasing". */
function idOrder(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

describe('a chat server on one instance', () => {
  it('replies joined with the members and tells the others with presence', async () => {
    const { connect } = await start();
    const ada = await connect();
    const bob = await connect();
    const first = await join(ada, 'general', 'ada');
    expect(first, 'the first member sees only itself and no history').toEqual({
      type: 'joined',
      room: 'general',
      members: ['ada'],
      history: [],
    });
    const second = await join(bob, 'general', 'bob');
    expect(second.members, 'joined lists every member, the joiner included').toEqual(['ada', 'bob']);
    expect(await ada.next(ofType('presence')), 'the members already there hear about the newcomer').toEqual({
      type: 'presence',
      room: 'general',
      members: ['ada', 'bob'],
    });
  });

  it('delivers a message to every member of the room, the sender included, and to nobody else', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { connect } = await start({ clock });
    const [ada, bob, cyd] = await Promise.all([connect(), connect(), connect()]);
    await join(ada, 'general', 'ada');
    await join(bob, 'general', 'bob');
    await join(cyd, 'random', 'cyd');
    ada.send({ type: 'message', room: 'general', text: 'hello <b>world</b> 😀' });
    const atBob = await bob.next(ofType('message'));
    expect(atBob, 'a member receives the message with an id, the sender name and the time').toMatchObject({
      type: 'message',
      room: 'general',
      from: 'ada',
      text: 'hello <b>world</b> 😀',
      ts: 1_700_000_000_000,
    });
    expect(atBob.id, 'the id looks like a stream id <ms>-<seq>').toMatch(/^\d+-\d+$/);
    expect(
      await ada.next(ofType('message')),
      'the sender gets its own message back (its acknowledgement)',
    ).toEqual(atBob);
    await cyd.expectSilence(ofType('message'), 300);
  });

  it("names the sender by the name it joined that room with, and keeps each room's messages in that room", async () => {
    const { connect } = await start();
    const [ada, bob] = await Promise.all([connect(), connect()]);
    await join(ada, 'general', 'ada');
    expect((await join(ada, 'work', 'ada-at-work')).members, 'one connection, two rooms, two names').toEqual([
      'ada-at-work',
    ]);
    await join(bob, 'general', 'bob');
    await join(bob, 'work', 'bob');
    ada.send({ type: 'message', room: 'general', text: 'in general' });
    const inGeneral = await bob.next(ofType('message'));
    expect(inGeneral, 'from is the name the sender joined this room with').toMatchObject({
      room: 'general',
      from: 'ada',
      text: 'in general',
    });
    ada.send({ type: 'message', room: 'work', text: 'at work' });
    expect(
      await bob.next(ofType('message')),
      'and in the other room, the name it joined that one with',
    ).toMatchObject({
      room: 'work',
      from: 'ada-at-work',
      text: 'at work',
    });
    await bob.expectSilence(ofType('message'), 300); // each message once, in its own room only
  });

  it('answers not-in-room for a message, history or leave in a room not joined, and stays open', async () => {
    const { connect } = await start();
    const ada = await connect();
    for (const request of [
      { type: 'message', room: 'general', text: 'hi' },
      { type: 'history', room: 'general' },
      { type: 'leave', room: 'general' },
    ]) {
      ada.send(request);
      expect(await ada.next(ofType('error')), `${request.type} before join`).toMatchObject({
        type: 'error',
        code: 'not-in-room',
      });
    }
    expect((await join(ada, 'general', 'ada')).members, 'the connection still works').toEqual(['ada']);
  });

  it('sends presence when a member leaves or disconnects, and stops delivering to the one who left', async () => {
    const { connect } = await start();
    const [ada, bob, cyd] = await Promise.all([connect(), connect(), connect()]);
    await join(ada, 'r', 'ada');
    await join(bob, 'r', 'bob');
    await join(cyd, 'r', 'cyd');
    await bob.next(ofType('presence')); // cyd arrived
    bob.send({ type: 'leave', room: 'r' });
    expect(
      (await ada.next((m) => m.type === 'presence' && !m.members.includes('bob'))).members,
      'the others see the member who left disappear',
    ).toEqual(['ada', 'cyd']);
    await bob.expectSilence(ofType('presence'), 300); // presence goes to the members that remain
    ada.send({ type: 'message', room: 'r', text: 'after bob left' });
    await cyd.next(ofType('message'));
    await bob.expectSilence(ofType('message'), 300);
    bob.send({ type: 'message', room: 'r', text: 'still here?' });
    expect((await bob.next(ofType('error'))).code, 'after leaving, sending is not-in-room').toBe(
      'not-in-room',
    );
    await cyd.close();
    expect(
      (await ada.next((m) => m.type === 'presence' && m.members.length === 1)).members,
      'a closed connection leaves its rooms',
    ).toEqual(['ada']);
  });

  it('treats two connections with the same name as two members: both receive, and the name stays while one is in', async () => {
    const { connect } = await start();
    const [bob, tab1, tab2] = await Promise.all([connect(), connect(), connect()]);
    await join(bob, 'r', 'bob');
    await join(tab1, 'r', 'ada');
    await bob.next(ofType('presence'));
    expect((await join(tab2, 'r', 'ada')).members, 'a second tab of ada: her name once').toEqual([
      'ada',
      'bob',
    ]);
    await bob.next(ofType('presence'));
    bob.send({ type: 'message', room: 'r', text: 'to both tabs' });
    await tab1.next(ofType('message'));
    await tab2.next(ofType('message'));
    tab1.send({ type: 'leave', room: 'r' });
    expect(
      (await bob.next(ofType('presence'))).members,
      'one tab of ada left, the other is still in the room: ada stays listed',
    ).toEqual(['ada', 'bob']);
    bob.send({ type: 'message', room: 'r', text: 'to the tab that stayed' });
    expect((await tab2.next(ofType('message'))).text).toBe('to the tab that stayed');
    await tab2.close();
    expect((await bob.next(ofType('presence'))).members, 'the last connection named ada is gone').toEqual([
      'bob',
    ]);
  });

  it('keeps the last 50 messages per room: joined carries them, history pages back with before and limit', async () => {
    // A clock that stands still: every id has the same <ms>, so the <seq> part runs from 0 to 54.
    const clock = new ManualClock(1_700_000_000_000);
    const { connect } = await start({ clock, rateLimit: { messages: 1000, perMs: 1000 } });
    const ada = await connect();
    await join(ada, 'r', 'ada');
    const sent: any[] = [];
    for (let i = 1; i <= 55; i++) {
      ada.send({ type: 'message', room: 'r', text: `m${i}` });
      sent.push(await ada.next(ofType('message')));
    }
    const ids = sent.map((m) => m.id);
    expect(new Set(ids).size, 'every message gets its own id').toBe(55);
    expect(
      ids.every((id, i) => i === 0 || idOrder(ids[i - 1], id) < 0),
      `ids increase in <ms>-<seq> order, also within one millisecond: ${ids.slice(8, 12).join(', ')}`,
    ).toBe(true);
    const bob = await connect();
    const joined = await join(bob, 'r', 'bob');
    expect(
      joined.history.map((m: any) => m.text),
      'joined carries the last 50 messages, oldest first',
    ).toEqual(sent.slice(5).map((m) => m.text));
    expect(joined.history[0], 'history holds whole message events').toEqual(sent[5]);

    bob.send({ type: 'history', room: 'r', limit: 3 });
    expect((await bob.next(ofType('history'))).messages.map((m: any) => m.text)).toEqual([
      'm53',
      'm54',
      'm55',
    ]);
    bob.send({ type: 'history', room: 'r', before: sent[19].id, limit: 5 });
    const page = await bob.next(ofType('history'));
    expect(page.room).toBe('r');
    expect(
      page.messages.map((m: any) => m.text),
      'before is exclusive: the 5 messages just older than m20',
    ).toEqual(['m15', 'm16', 'm17', 'm18', 'm19']);
    bob.send({ type: 'history', room: 'r', before: sent[10].id, limit: 5 });
    expect(
      (await bob.next(ofType('history'))).messages.map((m: any) => m.text),
      `older means an earlier id in <ms>-<seq> order (${sent[9].id} is older than ${sent[10].id})`,
    ).toEqual(['m6', 'm7', 'm8', 'm9', 'm10']);
    bob.send({ type: 'history', room: 'r', before: sent[7].id });
    expect(
      (await bob.next(ofType('history'))).messages.map((m: any) => m.text),
      'only the last 50 are kept',
    ).toEqual(['m6', 'm7']);

    clock.set(1_700_000_000_000 - 60_000); // the clock steps back a minute (NTP, a VM resumed)
    ada.send({ type: 'message', room: 'r', text: 'm56' });
    const after = await ada.next(ofType('message'));
    expect(
      idOrder(after.id, sent[54].id),
      `ids keep increasing when the clock steps back: ${after.id} must come after ${sent[54].id}`,
    ).toBeGreaterThan(0);
    bob.send({ type: 'history', room: 'r', before: after.id, limit: 1 });
    expect((await bob.next(ofType('history'))).messages.map((m: any) => m.text)).toEqual(['m55']);
  });

  it('answers malformed, unknown and binary frames with bad-request and keeps the connection open', async () => {
    const { connect } = await start();
    const ada = await connect();
    const hostile = [
      'not json',
      '{"type":"join"',
      '[]',
      'null',
      JSON.stringify({ type: 'shout', room: 'r' }),
      JSON.stringify({ type: 'toString' }),
      JSON.stringify({ type: '__proto__', room: 'r' }),
      JSON.stringify({ type: 'join', room: 'R!', name: 'x' }),
      JSON.stringify({ type: 'join', room: 'r', name: 'a\u0000b' }),
      JSON.stringify({ type: 'join', room: 'r', name: 'x'.repeat(33) }),
    ];
    for (const frame of hostile) {
      ada.send(frame);
      expect((await ada.next(ofType('error'))).code, `the frame ${frame}`).toBe('bad-request');
    }
    ada.send(Buffer.from(JSON.stringify({ type: 'join', room: 'r', name: 'x' })));
    expect((await ada.next(ofType('error'))).code, 'a binary frame').toBe('bad-request');
    await join(ada, 'r', 'ada');
    ada.send({ type: 'message', room: 'r', text: 'x'.repeat(2001) });
    expect((await ada.next(ofType('error'))).code, 'a 2001-character text').toBe('bad-request');
    expect(ada.ws.readyState, 'the connection stays open after bad requests').toBe(1);
  });

  it('closes the connection with 1009 for a frame over 16 KiB, but not for one of exactly 16 KiB', async () => {
    const { connect } = await start();
    const ada = await connect();
    ada.send('x'.repeat(16 * 1024));
    expect(
      (await ada.next(ofType('error'))).code,
      'exactly 16 KiB is allowed (and then rejected as junk)',
    ).toBe('bad-request');
    ada.send('x'.repeat(16 * 1024 + 1));
    const closed = await Promise.race([ada.closed, sleep(3000).then(() => undefined)]);
    expect(
      closed?.code,
      'a 16 KiB + 1 byte frame must close the connection with 1009 (message too big)',
    ).toBe(1009);

    const bob = await connect();
    bob.send(`${'€'.repeat(5461)}x`); // 16 384 bytes in UTF-8, 5462 characters
    expect((await bob.next(ofType('error'))).code, 'exactly 16 KiB of multi-byte text is allowed').toBe(
      'bad-request',
    );
    bob.send('€'.repeat(5462)); // 16 386 bytes, but only 5462 characters
    const bobClosed = await Promise.race([bob.closed, sleep(3000).then(() => undefined)]);
    expect(
      bobClosed?.code,
      'the limit counts bytes, not characters: 16 386 bytes of € must close with 1009',
    ).toBe(1009);
  });

  it('takes the frame limit from maxPayloadBytes', async () => {
    const { connect } = await start({ maxPayloadBytes: 1024 });
    const ada = await connect();
    ada.send('x'.repeat(1024));
    expect((await ada.next(ofType('error'))).code, 'a frame of exactly maxPayloadBytes is allowed').toBe(
      'bad-request',
    );
    ada.send('x'.repeat(1025));
    const closed = await Promise.race([ada.closed, sleep(3000).then(() => undefined)]);
    expect(closed?.code, 'with maxPayloadBytes 1024, a 1025-byte frame must close with 1009').toBe(1009);
  });

  it('rate-limits each connection to 20 frames per second with rate-limited errors', async () => {
    const clock = new ManualClock();
    const { connect } = await start({ clock });
    const [ada, bob] = await Promise.all([connect(), connect()]);
    await join(ada, 'r', 'ada');
    await join(bob, 'r', 'bob');
    clock.advance(1001);
    for (let i = 1; i <= 21; i++) ada.send({ type: 'message', room: 'r', text: `m${i}` });
    for (let i = 1; i <= 20; i++) {
      expect((await bob.next(ofType('message'))).text, '20 messages in one second are fine').toBe(`m${i}`);
    }
    expect((await ada.next(ofType('error'))).code, 'the 21st frame within a second').toBe('rate-limited');
    await bob.expectSilence(ofType('message'), 300);
    for (let i = 1; i <= 20; i++) bob.send({ type: 'message', room: 'r', text: `b${i}` });
    for (let i = 1; i <= 20; i++) {
      expect(
        (await ada.next(ofType('message'))).text,
        "the limit is per connection: ada's flood must not use up bob's 20 frames",
      ).toBe(`b${i}`);
    }
    await bob.expectSilence(isRateLimited, 300);
    clock.advance(1001);
    ada.send({ type: 'message', room: 'r', text: 'later' });
    expect((await bob.next(ofType('message'))).text, 'a second later the connection may send again').toBe(
      'later',
    );
  });

  it('counts frames of every kind against the rate limit, and answers each frame over it with rate-limited', async () => {
    const clock = new ManualClock();
    const { connect } = await start({ clock, rateLimit: { messages: 8, perMs: 1000 } });
    const [ada, bob] = await Promise.all([connect(), connect()]);
    await join(ada, 'r', 'ada');
    await join(bob, 'r', 'bob');
    clock.advance(1001);
    const notMessages = [
      { type: 'history', room: 'r' },
      { type: 'history', room: 'r', limit: 1 },
      'not json',
      '{"type":"shout"}',
      Buffer.from('binary'),
      Buffer.from('{}'),
      { type: 'leave', room: 'elsewhere' },
      { type: 'join', room: 'side', name: 'ada' },
    ];
    for (const frame of notMessages) ada.send(frame);
    await ada.next(ofType('joined', 'side'));
    expect(
      ada.received.filter(isRateLimited),
      'rateLimit.messages is 8: eight frames of any kind are within the limit',
    ).toEqual([]);
    ada.send({ type: 'message', room: 'r', text: 'the ninth frame' });
    ada.send({ type: 'history', room: 'r' });
    ada.send('junk');
    await ada.next(isRateLimited);
    await ada.next(isRateLimited);
    await ada.next(isRateLimited);
    await bob.expectSilence(ofType('message'), 300);
    await ada.expectSilence(ofType('history'), 300); // a frame over the limit is otherwise ignored
  });

  it('delivers a clientId once within a minute and acknowledges the retry with the original event', async () => {
    const clock = new ManualClock();
    const { connect } = await start({ clock });
    const [ada, bob] = await Promise.all([connect(), connect()]);
    await join(ada, 'r', 'ada');
    await join(bob, 'r', 'bob');
    ada.send({ type: 'message', room: 'r', text: 'pay 10', clientId: 'c-1' });
    const original = await bob.next(ofType('message'));
    expect(original.clientId, 'the event carries the clientId').toBe('c-1');
    expect(await ada.next(ofType('message'))).toEqual(original);
    clock.advance(59_000);
    ada.send({ type: 'message', room: 'r', text: 'pay 10', clientId: 'c-1' });
    expect(await ada.next(ofType('message')), 'the retry is acknowledged with the same event').toEqual(
      original,
    );
    await bob.expectSilence(ofType('message'), 300);
    // A client that lost its connection retries on a new one: the room has still seen that clientId.
    const adaAgain = await connect();
    await join(adaAgain, 'r', 'ada');
    adaAgain.send({ type: 'message', room: 'r', text: 'pay 10', clientId: 'c-1' });
    expect(
      await adaAgain.next(ofType('message')),
      'a retry from another connection is acknowledged with the original event',
    ).toEqual(original);
    await bob.expectSilence(ofType('message'), 300);
    // The same clientId in another room is another room's business.
    await join(ada, 'other', 'ada');
    await join(bob, 'other', 'bob');
    ada.send({ type: 'message', room: 'other', text: 'pay 20', clientId: 'c-1' });
    const elsewhere = await bob.next(ofType('message'));
    expect(elsewhere, 'de-duplication is per room: c-1 in another room is delivered').toMatchObject({
      room: 'other',
      text: 'pay 20',
      clientId: 'c-1',
    });
    clock.advance(2_000);
    ada.send({ type: 'message', room: 'r', text: 'pay 10', clientId: 'c-1' });
    const later = await bob.next(ofType('message'));
    expect(later.id, 'after a minute the same clientId is a new message').not.toBe(original.id);
  });

  it('takes the de-duplication window from dedupWindowMs', async () => {
    const clock = new ManualClock();
    const { connect } = await start({ clock, dedupWindowMs: 5_000 });
    const [ada, bob] = await Promise.all([connect(), connect()]);
    await join(ada, 'r', 'ada');
    await join(bob, 'r', 'bob');
    ada.send({ type: 'message', room: 'r', text: 'once', clientId: 'c-1' });
    const original = await bob.next(ofType('message'));
    clock.advance(4_000);
    ada.send({ type: 'message', room: 'r', text: 'once', clientId: 'c-1' });
    await bob.expectSilence(ofType('message'), 300);
    clock.advance(2_000);
    ada.send({ type: 'message', room: 'r', text: 'once', clientId: 'c-1' });
    expect(
      (await bob.next(ofType('message'))).id,
      'with dedupWindowMs 5000, the same clientId 6 s later is a new message',
    ).not.toBe(original.id);
  });

  it('pings clients and terminates one that stops answering, telling the room', async () => {
    const { connect } = await start({ heartbeatIntervalMs: 100 });
    const ada = await connect();
    const ghost = await connect({ autoPong: false });
    await join(ada, 'r', 'ada');
    await join(ghost, 'r', 'ghost');
    const closed = await Promise.race([ghost.closed, sleep(4000).then(() => undefined)]);
    expect(closed, 'a client that ignores pings must be disconnected within a few intervals').toBeDefined();
    expect((await ada.next((m) => m.type === 'presence' && m.members.length === 1)).members).toEqual(['ada']);
    expect(ada.ws.readyState, 'a client that answers pings stays connected').toBe(1);
  });

  it('drops a client that stops reading once its buffer passes the limit, while the others keep receiving', async () => {
    const { chat, connect } = await start({
      maxBufferedBytes: 1024 * 1024,
      rateLimit: { messages: 100_000, perMs: 1000 },
    });
    const [ada, bob, slow] = await Promise.all([connect(), connect(), connect()]);
    await join(ada, 'r', 'ada');
    await join(bob, 'r', 'bob');
    await join(slow, 'r', 'slow');
    await ada.next(ofType('presence'));
    slow.ws.pause(); // stops reading from the TCP socket: the kernel buffers fill, then the server's
    const text = '😀'.repeat(2000); // 8000 bytes a frame; 2000 frames are more than the socket buffers hold
    for (let batch = 0; batch < 40; batch++) {
      // 50 at a time, waiting for the echo, so the readers are never more than a batch behind.
      for (let i = batch * 50; i < (batch + 1) * 50; i++)
        ada.send({ type: 'message', room: 'r', text, clientId: `m${i}` });
      await ada.next((m) => m.type === 'message' && m.clientId === `m${batch * 50 + 49}`, 10_000);
    }
    const last = await bob.next((m) => m.type === 'message' && m.clientId === 'm1999', 30_000);
    expect(last.text, 'the other members receive everything').toBe(text);
    // Terminating is immediate: 3 s is ample, and a polite close() would take ws's 30 s closeTimeout.
    await waitFor('the slow client to be dropped', () => chat.connections === 2, { timeoutMs: 3_000 });
    const presence = await waitFor('bob to hear that slow left', () =>
      bob.received.find((m: any) => m?.type === 'presence' && !m.members.includes('slow')),
    );
    expect((presence as any).members, 'the dropped client leaves the room').toEqual(['ada', 'bob']);
    slow.ws.resume();
    await slow.closed;
  }, 45_000);

  it('drops a client that stops reading even when what piles up are replies to its own requests', async () => {
    const { chat, connect } = await start({
      maxBufferedBytes: 256 * 1024,
      rateLimit: { messages: 100_000, perMs: 1000 },
    });
    const [ada, slow] = await Promise.all([connect(), connect()]);
    await join(ada, 'r', 'ada');
    const text = '😀'.repeat(2000); // 8000 bytes: a history reply of 50 of these is about 400 KB
    for (let i = 0; i < 50; i++) ada.send({ type: 'message', room: 'r', text, clientId: `h${i}` });
    await ada.next((m) => m.type === 'message' && m.clientId === 'h49', 10_000);
    await join(slow, 'r', 'slow');
    slow.ws.pause();
    // Only replies go to the slow client from here on (nobody posts): it asks, and never reads. Ada's
    // own history request after each batch paces the loop to the speed the server answers at.
    for (let round = 0; round < 100 && chat.connections === 2; round++) {
      for (let i = 0; i < 3; i++) slow.send({ type: 'history', room: 'r' });
      ada.send({ type: 'history', room: 'r', limit: 1 });
      await ada.next(ofType('history'), 10_000);
    }
    await waitFor('the slow client to be dropped', () => chat.connections === 1, { timeoutMs: 3_000 });
    const presence = await ada.next((m) => m.type === 'presence' && !m.members.includes('slow'), 5_000);
    expect(presence.members, 'the dropped client leaves the room').toEqual(['ada']);
    slow.ws.resume();
    await slow.closed;
  }, 45_000);

  it('leaves no timer running for a connection that closed, nor for the server after close()', async () => {
    // Only setInterval is faked: the suite can count the intervals the server starts, nothing else changes.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { chat, connect } = await start({ heartbeatIntervalMs: 60_000 });
      const comeAndGo = async (count: number) => {
        const sockets = await Promise.all(Array.from({ length: count }, () => connect()));
        await Promise.all(sockets.map((s, i) => join(s, 'r', `user${i}`)));
        await Promise.all(sockets.map((s) => s.close()));
        await waitFor('the server to see the connections close', () => chat.connections === 0);
        return vi.getTimerCount();
      };
      const afterOne = await comeAndGo(1);
      expect(
        await comeAndGo(3),
        'three more connections came and went: no more intervals may be running than after the first',
      ).toBe(afterOne);
      await chat.close();
      expect(vi.getTimerCount(), 'after close() no interval of the server may keep running').toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('finishes close() by terminating a client that does not answer within shutdownGraceMs', async () => {
    const { chat, connect } = await start({ shutdownGraceMs: 200 });
    const [ada, deaf] = await Promise.all([connect(), connect()]);
    await join(ada, 'r', 'ada');
    deaf.ws.pause(); // never reads the close frame, so never answers it
    const done = chat.close().then(() => 'closed');
    const outcome = await Promise.race([done, sleep(10_000).then(() => 'still waiting')]);
    expect(
      outcome,
      'close() must terminate clients that have not answered once shutdownGraceMs (200 ms here) has passed',
    ).toBe('closed');
    expect((await ada.closed).code).toBe(1001);
    deaf.ws.resume();
    await deaf.closed;
  }, 20_000);

  it('closes every connection with 1001 on shutdown', async () => {
    const { chat, connect } = await start();
    const [ada, bob] = await Promise.all([connect(), connect()]);
    await join(ada, 'r', 'ada');
    await chat.close();
    expect((await ada.closed).code, 'going away').toBe(1001);
    expect((await bob.closed).code).toBe(1001);
  });

  it('refuses a handshake from an Origin that is not allowed', async () => {
    const { connect } = await start({ allowedOrigins: ['https://chat.example'] });
    await expect(connect({ origin: 'https://evil.example' }), 'another site must get 403').rejects.toThrow(
      /403/,
    );
    const ok = await connect({ origin: 'https://chat.example' });
    expect((await join(ok, 'r', 'ada')).members).toEqual(['ada']);
    const noOrigin = await connect();
    expect(
      (await join(noOrigin, 'r', 'bob')).members,
      'a non-browser client without Origin may connect',
    ).toEqual(['ada', 'bob']);
  });
});
