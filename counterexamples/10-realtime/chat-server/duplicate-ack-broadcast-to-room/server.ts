/**
 * A WebSocket chat server on one instance: rooms, presence, history, and the rules that keep one
 * bad client from hurting the others (rate limits, a frame size limit, heartbeats, a send buffer limit).
 *
 * State lives in this process: rooms and their last messages are in memory, so two instances of
 * this server are two separate chats (chat-cluster fixes that with Redis).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import {
  type ClientMessage,
  type ErrorCode,
  encodeEvent,
  errorEvent,
  historyEvent,
  joinedEvent,
  LIMITS,
  type MessageEvent,
  messageEvent,
  parseClientMessage,
  presenceEvent,
  type ServerEvent,
} from './protocol.js';

/** Where the server reads the time (milliseconds); tests pass a manual clock. */
export interface Clock {
  now(): number;
}

export interface ChatServerOptions {
  /** Default: `Date.now`. Used for message timestamps and ids, the rate limit and de-duplication. */
  clock?: Clock;
  /** How often to ping every client; a client that has not answered the previous ping is terminated. Default 30 s. */
  heartbeatIntervalMs?: number;
  /** A client whose unsent data passes this many bytes is dropped (it stopped reading). Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Frames larger than this many bytes (UTF-8 bytes, not characters) close the connection with 1009. Default 16 KiB. */
  maxPayloadBytes?: number;
  /** Frames allowed per connection: `messages` per `perMs`. Default 20 per 1000 ms. */
  rateLimit?: { messages: number; perMs: number };
  /** A `clientId` seen again within this window is not delivered again. Default 60 000 ms. */
  dedupWindowMs?: number;
  /** When set, a handshake whose `Origin` header is present and not listed is refused with 403. */
  allowedOrigins?: readonly string[];
  /** How long {@link ChatServer.close} waits for clients to acknowledge the close. Default 2000 ms. */
  shutdownGraceMs?: number;
}

export interface ChatServer {
  /** The HTTP server that carries the WebSocket upgrades; not listening yet (call `listen`). */
  readonly server: Server;
  /** Open WebSocket connections. */
  readonly connections: number;
  /**
   * Graceful shutdown: stops accepting, closes every connection with 1001 (going away), and resolves
   * once they are closed (terminating those that do not answer within `shutdownGraceMs`). Once it has
   * resolved, no timer of the server (the heartbeat included) is left running.
   */
  close(): Promise<void>;
}

interface Client {
  readonly ws: WebSocket;
  /** room → the name this client joined it with */
  readonly rooms: Map<string, string>;
  alive: boolean;
  tokens: number;
  refilledAt: number;
}

interface Room {
  readonly members: Set<Client>;
  readonly history: MessageEvent[];
  /** clientId → the event it produced and when; oldest first (a Map keeps insertion order). */
  readonly seen: Map<string, { event: MessageEvent; at: number }>;
}

const GOING_AWAY = 1001;

/**
 * Creates a chat server; `listen()` its `server` to start it. Build it on `ws`: a `WebSocketServer`
 * attached to a `node:http` server.
 *
 * The protocol (see ./protocol.ts and the chapter page) and its rules:
 * - `join` replies `joined` (members incl. the joiner, and the room's last 50 messages, oldest
 *   first); the other members get `presence` (the joiner does not). `leave`, or closing the
 *   connection, sends `presence` to the members that remain (not to the one that left). Member lists
 *   hold each name once; a name stays listed while any connection that joined with it is in the room.
 *   One connection may join several rooms, under a different name in each.
 * - `message` goes to every member of the room, the sender included (its copy is the
 *   acknowledgement), once each, as a `message` event with a new `id` (`<ms>-<seq>`, increasing in
 *   numeric order, also when the clock stands still or steps back), the sender's name in that room as
 *   `from`, and `ts` from the clock. Members of other rooms get nothing.
 * - `history` replies with the newest `limit` (default 50) of the messages older than `before` (of
 *   all, when absent), oldest first. Older means an earlier id, comparing `<ms>` and then `<seq>` as
 *   numbers (as strings, `5-10` would sort before `5-9`). The server keeps the last 50 messages per
 *   room.
 * - `message`, `leave` or `history` for a room the connection has not joined: error `not-in-room`.
 * - Malformed JSON, an unknown type, a bad field or a binary frame: error `bad-request`; the
 *   connection stays open.
 * - A frame over `maxPayloadBytes` bytes (16 KiB; UTF-8 bytes, not characters): the connection is
 *   closed with 1009.
 * - More than `rateLimit.messages` frames (of any kind: requests, junk, binary) within
 *   `rateLimit.perMs` from one connection: error `rate-limited` for each frame over the limit, which
 *   is otherwise ignored. Each connection has a limit of its own (not one per server or per address).
 * - A message whose `clientId` the room has seen within `dedupWindowMs`, from any connection, is not
 *   delivered again; the sender alone receives the original `message` event (same id) once more, as
 *   the acknowledgement. The same `clientId` in another room is another message.
 * - Every `heartbeatIntervalMs` each client is pinged; one that has not answered the previous ping
 *   is terminated.
 * - A client whose `bufferedAmount` has passed `maxBufferedBytes` when the server sends to it
 *   (anything: a broadcast, or a reply to its own request) is terminated; the others keep receiving.
 * - A connection that ends, however it ends, leaves nothing behind: it leaves its rooms, and no timer
 *   of its keeps running.
 * - `close()` closes every connection with code 1001 (see {@link ChatServer.close}).
 */
export function createChatServer(options: ChatServerOptions = {}): ChatServer {
  const clock = options.clock ?? { now: () => Date.now() };
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const rate = options.rateLimit ?? { messages: 20, perMs: 1000 };
  const dedupWindowMs = options.dedupWindowMs ?? 60_000;
  const rooms = new Map<string, Room>();
  const clients = new Set<Client>();
  const nextId = messageIds(clock);

  const server = createServer((_req, res) => {
    res
      .writeHead(426, { 'content-type': 'text/plain' })
      .end('This is a WebSocket chat: connect with ws://\n');
  });
  const wss = new WebSocketServer({
    server,
    maxPayload: options.maxPayloadBytes ?? 16 * 1024,
    verifyClient: (
      info: { origin?: string; req: IncomingMessage },
      done: (ok: boolean, code?: number) => void,
    ) => done(originAllowed(info.origin, options.allowedOrigins), 403),
  });

  const room = (name: string): Room => {
    let r = rooms.get(name);
    if (!r) {
      r = { members: new Set(), history: [], seen: new Map() };
      rooms.set(name, r);
    }
    return r;
  };
  const memberNames = (name: string) => [...room(name).members].map((c) => c.rooms.get(name) ?? '');

  function send(client: Client, event: ServerEvent): void {
    sendText(client, encodeEvent(event));
  }

  /** Sends, unless the client has stopped reading: then it is dropped, and the others go on. */
  function sendText(client: Client, text: string): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    if (client.ws.bufferedAmount > maxBuffered) {
      client.ws.terminate();
      return;
    }
    client.ws.send(text);
  }

  function broadcast(roomName: string, event: ServerEvent, except?: Client): void {
    const text = encodeEvent(event); // serialise once, not once per member
    for (const member of room(roomName).members) if (member !== except) sendText(member, text);
  }

  const fail = (client: Client, code: ErrorCode, message: string) => send(client, errorEvent(code, message));

  /** Token bucket: `rate.messages` frames at once, refilled at `rate.messages` per `rate.perMs`. */
  function takeToken(client: Client): boolean {
    const now = clock.now();
    const refill = ((now - client.refilledAt) * rate.messages) / rate.perMs;
    client.tokens = Math.min(rate.messages, client.tokens + Math.max(0, refill));
    client.refilledAt = now;
    if (client.tokens < 1) return false;
    client.tokens -= 1;
    return true;
  }

  function join(client: Client, roomName: string, name: string): void {
    client.rooms.set(roomName, name);
    const r = room(roomName);
    r.members.add(client);
    send(client, joinedEvent(roomName, memberNames(roomName), r.history.slice(-LIMITS.maxHistory)));
    broadcast(roomName, presenceEvent(roomName, memberNames(roomName)), client);
  }

  function leave(client: Client, roomName: string): void {
    client.rooms.delete(roomName);
    room(roomName).members.delete(client);
    broadcast(roomName, presenceEvent(roomName, memberNames(roomName)));
  }

  function post(client: Client, roomName: string, text: string, clientId?: string): void {
    const r = room(roomName);
    const now = clock.now();
    forgetOlderThan(r.seen, now - dedupWindowMs);
    const earlier = clientId === undefined ? undefined : r.seen.get(clientId);
    if (earlier) {
      broadcast(roomName, earlier.event); // same event, same id: clients drop ids they already have
      return;
    }
    const from = client.rooms.get(roomName) ?? '';
    const event = messageEvent({ room: roomName, id: nextId(), from, text, ts: now, clientId });
    if (clientId !== undefined) r.seen.set(clientId, { event, at: now });
    r.history.push(event);
    if (r.history.length > LIMITS.maxHistory) r.history.shift();
    broadcast(roomName, event);
  }

  function history(
    client: Client,
    roomName: string,
    before?: string,
    limit: number = LIMITS.maxHistory,
  ): void {
    const all = room(roomName).history;
    const older = before === undefined ? all : all.filter((m) => compareIds(m.id, before) < 0);
    send(client, historyEvent(roomName, older.slice(-limit)));
  }

  function handle(client: Client, request: ClientMessage): void {
    if (request.type !== 'join' && !client.rooms.has(request.room)) {
      fail(client, 'not-in-room', `join ${request.room} before you ${request.type} it`);
      return;
    }
    switch (request.type) {
      case 'join':
        join(client, request.room, request.name);
        break;
      case 'leave':
        leave(client, request.room);
        break;
      case 'message':
        post(client, request.room, request.text, request.clientId);
        break;
      case 'history':
        history(client, request.room, request.before, request.limit);
        break;
    }
  }

  wss.on('connection', (ws) => {
    const client: Client = {
      ws,
      rooms: new Map(),
      alive: true,
      tokens: rate.messages,
      refilledAt: clock.now(),
    };
    clients.add(client);
    ws.on('error', () => {}); // e.g. a frame over maxPayload: ws closes with 1009 itself; without a listener this would crash the process
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      if (!takeToken(client))
        return fail(client, 'rate-limited', `at most ${rate.messages} frames per ${rate.perMs} ms`);
      if (isBinary) return fail(client, 'bad-request', 'send JSON in text frames');
      const parsed = parseClientMessage(data.toString());
      if (!parsed.ok) return send(client, parsed.error);
      handle(client, parsed.value);
    });
    ws.on('close', () => {
      clients.delete(client);
      for (const roomName of [...client.rooms.keys()]) leave(client, roomName);
    });
  });

  // Heartbeat: TCP alone can take many minutes to notice a peer that vanished (a laptop lid closed,
  // a NAT entry expired). A ping per interval and a missing pong finds it within two intervals.
  const heartbeat = setInterval(() => {
    for (const client of clients) {
      if (!client.alive) {
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }, options.heartbeatIntervalMs ?? 30_000);
  heartbeat.unref();

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    clearInterval(heartbeat);
    const closed = [...clients].map((c) => closedPromise(c.ws));
    for (const client of clients) client.ws.close(GOING_AWAY, 'server shutting down');
    const grace = setTimeout(() => {
      for (const client of clients) client.ws.terminate();
    }, options.shutdownGraceMs ?? 2000);
    await Promise.all(closed);
    clearTimeout(grace);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }

  return {
    server,
    get connections() {
      return clients.size;
    },
    close: () => (closing ??= close()),
  };
}

function originAllowed(origin: string | undefined, allowed: readonly string[] | undefined): boolean {
  // Browsers always send Origin; other clients may not (and could forge it), so only a listed or
  // absent Origin passes. This stops other web sites from opening sockets with your users' cookies.
  return allowed === undefined || origin === undefined || allowed.includes(origin);
}

const closedPromise = (ws: WebSocket) =>
  new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve();
    else ws.once('close', () => resolve());
  });

function forgetOlderThan(seen: Map<string, { at: number }>, cutoff: number): void {
  for (const [id, entry] of seen) {
    if (entry.at > cutoff) break;
    seen.delete(id);
  }
}

/** Ids shaped like Redis Stream ids, `<ms>-<seq>`, increasing even if the clock stalls or steps back. */
function messageIds(clock: Clock): () => string {
  let lastMs = 0;
  let seq = 0;
  return () => {
    const now = clock.now();
    if (now > lastMs) [lastMs, seq] = [now, 0];
    else seq++;
    return `${lastMs}-${seq}`;
  };
}

/** Orders `<ms>-<seq>` ids numerically (as strings, "10-0" would sort before "9-0"). */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
