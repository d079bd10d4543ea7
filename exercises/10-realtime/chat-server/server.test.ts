import { afterEach, describe, expect, it } from 'vitest';
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
    bob.send({ type: 'leave', room: 'r' });
    expect(
      (await ada.next((m) => m.type === 'presence' && !m.members.includes('bob'))).members,
      'the others see the member who left disappear',
    ).toEqual(['ada', 'cyd']);
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

  it('keeps the last 50 messages per room: joined carries them, history pages back with before and limit', async () => {
    const { connect } = await start({ rateLimit: { messages: 1000, perMs: 1000 } });
    const ada = await connect();
    await join(ada, 'r', 'ada');
    const sent: any[] = [];
    for (let i = 1; i <= 55; i++) {
      ada.send({ type: 'message', room: 'r', text: `m${i}` });
      sent.push(await ada.next(ofType('message')));
    }
    const ids = sent.map((m) => m.id);
    expect(new Set(ids).size, 'every message gets its own id').toBe(55);
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
    bob.send({ type: 'history', room: 'r', before: sent[7].id });
    expect(
      (await bob.next(ofType('history'))).messages.map((m: any) => m.text),
      'only the last 50 are kept',
    ).toEqual(['m6', 'm7']);
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
    clock.advance(1001);
    ada.send({ type: 'message', room: 'r', text: 'later' });
    expect((await bob.next(ofType('message'))).text, 'a second later the connection may send again').toBe(
      'later',
    );
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
    clock.advance(2_000);
    ada.send({ type: 'message', room: 'r', text: 'pay 10', clientId: 'c-1' });
    const later = await bob.next(ofType('message'));
    expect(later.id, 'after a minute the same clientId is a new message').not.toBe(original.id);
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
    await waitFor('the slow client to be dropped', () => chat.connections === 2, { timeoutMs: 10_000 });
    const presence = await waitFor('bob to hear that slow left', () =>
      bob.received.find((m: any) => m?.type === 'presence' && !m.members.includes('slow')),
    );
    expect((presence as any).members, 'the dropped client leaves the room').toEqual(['ada', 'bob']);
    slow.ws.resume();
    await slow.closed;
  }, 45_000);

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
