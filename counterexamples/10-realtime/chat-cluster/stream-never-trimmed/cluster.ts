/**
 * The chat on N instances that share one Redis. Any instance can serve any client; what one
 * instance knows, all of them know through Redis:
 *
 * - history: a Redis Stream per room (`<prefix>history:<room>`); message ids ARE the stream ids,
 *   so every instance agrees on one order per room.
 * - fan-out: one pub/sub channel per room (`<prefix>room:<room>`); each instance subscribes to the
 *   rooms its own clients are in and forwards what arrives to them.
 * - presence: per room and instance a hash `<prefix>presence:<room>:<instanceId>` (connection → name)
 *   that expires unless its instance refreshes it, plus a set `<prefix>presence:<room>` of instance
 *   ids. A crashed instance stops refreshing, so its members disappear within `presenceTtlMs`.
 * - de-duplication: `<prefix>dedup:<room>:<clientId>` holds the first delivery for `dedupWindowMs`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocket, WebSocketServer } from 'ws';
import {
  type ClientMessage,
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

export interface ChatNodeOptions {
  /** The shared Redis, e.g. `redis://127.0.0.1:6379/0`. */
  redisUrl: string;
  /** Prepended to every key and channel this node uses (default `chat:`); lets many chats share a Redis. */
  keyPrefix?: string;
  /** This instance's id in presence keys (default: a random UUID). */
  instanceId?: string;
  /** How long a crashed instance's members stay listed. Presence is refreshed every third of it. Default 15 s. */
  presenceTtlMs?: number;
  /** WebSocket ping interval; a client that missed the previous ping is terminated. Default 30 s. */
  heartbeatIntervalMs?: number;
  /** A `clientId` seen again within this window is not delivered again. Default 60 000 ms. */
  dedupWindowMs?: number;
  /** Frames allowed per connection: `messages` per `perMs`. Default 20 per 1000 ms. */
  rateLimit?: { messages: number; perMs: number };
  /** A client whose unsent data passes this many bytes is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Approximate length each room's stream is trimmed to (`XADD ... MAXLEN ~`). Default 1000. */
  streamMaxLength?: number;
}

export interface ChatNode {
  /** The HTTP server carrying the WebSocket upgrades; not listening yet (call `listen`). */
  readonly server: Server;
  readonly instanceId: string;
  /** Open WebSocket connections on this instance. */
  readonly connections: number;
  /**
   * Closes every connection with 1001, removes this instance's presence, and disconnects from Redis.
   * Once it has resolved, no timer of the node (heartbeat, presence refresh) is left running.
   */
  close(): Promise<void>;
}

interface Client {
  readonly id: string;
  readonly ws: WebSocket;
  readonly rooms: Map<string, string>;
  alive: boolean;
  tokens: number;
  refilledAt: number;
}

/** A client that has joined a room on this instance. Until `joined` is sent, live events wait in `pending`. */
interface Membership {
  pending: MessageEvent[] | null;
}

/**
 * Appends to the room's stream, publishes to its channel and remembers the clientId, as one atomic
 * step: Redis runs a script with nothing in between, so the channel carries messages in stream-id
 * order even when several instances post at once. Returns [1, payload] or, for a duplicate,
 * [0, the payload of the first delivery].
 */
const POST_SCRIPT = `
if ARGV[3] ~= '0' then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {0, seen} end
end
local id = redis.call('XADD', KEYS[1], '*', 'm', ARGV[2])
local payload = 'm ' .. id .. ' ' .. ARGV[2]
redis.call('PUBLISH', KEYS[2], payload)
if ARGV[3] ~= '0' then redis.call('SET', KEYS[3], payload, 'PX', ARGV[3]) end
return {1, payload}`;

/**
 * The room's member names across live instances; drops instances whose hash has expired. (It builds
 * key names from the set's contents, which is fine on one Redis but not on Redis Cluster.)
 */
const READ_MEMBERS = `
local names = {}
for _, instance in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local here = redis.call('HVALS', KEYS[1] .. ':' .. instance)
  if #here == 0 then redis.call('SREM', KEYS[1], instance) end
  for _, name in ipairs(here) do table.insert(names, name) end
end
`;
const MEMBERS_SCRIPT = `${READ_MEMBERS} return names`;

/**
 * Reads the members and publishes them in one step: read and publish as two commands, and a list
 * read before someone joined could be published after their `joined`, overwriting it with an older
 * one. The payload is `p <connection not to tell>` and one name per line (names hold no control
 * characters, so no newline).
 */
const ANNOUNCE_SCRIPT = `${READ_MEMBERS}
redis.call('PUBLISH', KEYS[2], 'p ' .. ARGV[1] .. '\\n' .. table.concat(names, '\\n'))`;

/**
 * Starts a node: connects to Redis (resolve only once it is ready). `listen()` its `server` to take
 * clients. Speaks exactly the protocol of chat-server, with its rules (each member, the sender
 * included, gets a message once; the joiner gets `joined` and the others `presence`; a rate limit of
 * its own per connection; a client that misses a ping, or whose unsent data passes
 * `maxBufferedBytes`, is terminated), and every instance sharing the Redis and `keyPrefix` is part
 * of one chat:
 *
 * - A message sent to any instance reaches the room's members on every instance, in one order per
 *   room that all of them agree on: the order of the ids, whatever the delays between an instance
 *   and Redis. Its `id` is the id of its entry in the Redis Stream
 *   `<keyPrefix>history:<room>` (append with `XADD ... MAXLEN ~ streamMaxLength`). The instances'
 *   clocks may disagree with each other and with Redis; ids and order must not depend on them.
 * - `joined.history` and `history` read that stream (the newest 50 by default, as in chat-server), so
 *   history is the same on every instance.
 * - Each instance subscribes to the channel `<keyPrefix>room:<room>` of the rooms its own clients are
 *   in, and unsubscribes once its last client there has left or disconnected.
 * - `joined.members` and `presence` list the room's members on every live instance; a name stays
 *   listed while any connection that joined with it is in the room. Presence is kept in keys that
 *   expire after `presenceTtlMs` unless refreshed, so the members of an instance that crashed
 *   disappear (with a `presence` event to the others) within about `presenceTtlMs`.
 * - A `clientId` repeated within `dedupWindowMs`, on any instance, is not delivered again, also when
 *   two copies reach two instances at the same moment; the sender gets the original event back.
 *   After `dedupWindowMs` the same `clientId` is a new message.
 * - While Redis cannot be reached, requests that need it are answered with error `unavailable`
 *   (within a few seconds, not never); when Redis is back the node works again by itself.
 * - Use only keys and channels that start with `keyPrefix`.
 */
export async function createChatNode(options: ChatNodeOptions): Promise<ChatNode> {
  const prefix = options.keyPrefix ?? 'chat:';
  const instanceId = options.instanceId ?? randomUUID();
  const ttlMs = options.presenceTtlMs ?? 15_000;
  const dedupWindowMs = options.dedupWindowMs ?? 60_000;
  const rate = options.rateLimit ?? { messages: 20, perMs: 1000 };
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const maxLength = options.streamMaxLength ?? 1000;
  const keys = {
    history: (room: string) => `${prefix}history:${room}`,
    channel: (room: string) => `${prefix}room:${room}`,
    instances: (room: string) => `${prefix}presence:${room}`,
    presence: (room: string) => `${prefix}presence:${room}:${instanceId}`,
    dedup: (room: string, clientId: string) => `${prefix}dedup:${room}:${clientId}`,
  };

  // Two connections: one for commands, one subscribed. With RESP3 (the ioredis 6 default) a
  // subscribed connection may also run commands, but a separate one keeps commands from queueing
  // behind a flood of messages and still works with protocol: 2.
  // No offline queue and a command timeout: while Redis is away, requests fail fast with
  // `unavailable` instead of piling up in memory.
  const redisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: 2000,
    maxRetriesPerRequest: 1,
  };
  const redis = new Redis(options.redisUrl, redisOptions);
  const sub = new Redis(options.redisUrl, redisOptions);
  for (const connection of [redis, sub]) connection.on('error', () => {}); // reconnects on its own
  await Promise.all([redis.connect(), sub.connect()]);

  const local = new Map<string, Map<Client, Membership>>(); // room → this instance's members
  const lastPresence = new Map<string, string>(); // room → the member list last sent here (JSON)
  const clients = new Set<Client>();
  const subscriptions = new Map<string, Promise<unknown>>();

  const server = createServer((_req, res) => {
    res
      .writeHead(426, { 'content-type': 'text/plain' })
      .end('This is a WebSocket chat: connect with ws://\n');
  });
  const wss = new WebSocketServer({ server, maxPayload: 16 * 1024 });

  function sendText(client: Client, text: string): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    if (client.ws.bufferedAmount > maxBuffered) client.ws.terminate();
    else client.ws.send(text);
  }
  const send = (client: Client, event: ServerEvent) => sendText(client, encodeEvent(event));

  function sendPresence(room: string, names: string[], exceptKey?: string): void {
    const event = presenceEvent(room, names);
    lastPresence.set(room, JSON.stringify(event.members));
    const text = encodeEvent(event);
    for (const [client, membership] of local.get(room) ?? []) {
      // A client still joining gets the members in `joined`, read after it was added; a list that
      // arrives now may be older than that.
      if (membership.pending || `${instanceId}/${client.id}` === exceptKey) continue;
      sendText(client, text);
    }
  }

  function deliver(room: string, event: MessageEvent): void {
    const text = encodeEvent(event);
    for (const [client, membership] of local.get(room) ?? []) {
      if (membership.pending) membership.pending.push(event);
      else sendText(client, text);
    }
  }

  sub.on('message', (channel: string, payload: string) => {
    const room = channel.slice(keys.channel('').length);
    if (payload.startsWith('m ')) deliver(room, decodeMessage(room, payload));
    else if (payload.startsWith('p ')) {
      const [except = '', ...members] = payload.slice(2).split('\n');
      sendPresence(room, members.filter(Boolean), except || undefined);
    }
  });

  const members = async (room: string) =>
    (await redis.eval(MEMBERS_SCRIPT, 1, keys.instances(room))) as string[];

  async function announcePresence(room: string, except = ''): Promise<void> {
    await redis.eval(ANNOUNCE_SCRIPT, 2, keys.instances(room), keys.channel(room), except);
  }

  async function readHistory(
    room: string,
    before: string | undefined,
    limit: number,
  ): Promise<MessageEvent[]> {
    const newestFirst = await redis.xrevrange(
      keys.history(room),
      before ? `(${before}` : '+',
      '-',
      'COUNT',
      limit,
    );
    return newestFirst.reverse().map(([id, fields]) => decodeEntry(room, id, fields));
  }

  /** Subscribes once per room; every join waits for it, so nothing is published before we listen. */
  function subscribe(room: string): Promise<unknown> {
    let subscribed = subscriptions.get(room);
    if (!subscribed) {
      subscribed = sub.subscribe(keys.channel(room));
      subscribed.catch(() => subscriptions.delete(room));
      subscriptions.set(room, subscribed);
    }
    return subscribed;
  }

  async function join(client: Client, room: string, name: string): Promise<void> {
    const roomMembers = local.get(room) ?? new Map<Client, Membership>();
    local.set(room, roomMembers);
    const membership: Membership = { pending: [] };
    roomMembers.set(client, membership);
    client.rooms.set(room, name);
    try {
      await subscribe(room); // before reading history, so no message falls in between
      await redis
        .multi()
        .hset(keys.presence(room), client.id, name)
        .pexpire(keys.presence(room), ttlMs)
        .sadd(keys.instances(room), instanceId)
        .exec();
      const [names, history] = await Promise.all([
        members(room),
        readHistory(room, undefined, LIMITS.maxHistory),
      ]);
      send(client, joinedEvent(room, names, history));
      // Live messages that arrived while we read the history: send those the history did not hold.
      const lastId = history.at(-1)?.id ?? '0-0';
      for (const event of membership.pending ?? []) if (compareIds(event.id, lastId) > 0) send(client, event);
      membership.pending = null;
    } catch (error) {
      forget(client, room);
      throw error;
    }
    await announcePresence(room, `${instanceId}/${client.id}`);
  }

  /** Removes a local membership; unsubscribes when it was the room's last one here. */
  function forget(client: Client, room: string): void {
    client.rooms.delete(room);
    const roomMembers = local.get(room);
    roomMembers?.delete(client);
    if (roomMembers?.size === 0) {
      local.delete(room);
      lastPresence.delete(room);
      subscriptions.delete(room);
      sub.unsubscribe(keys.channel(room)).catch(() => {});
    }
  }

  async function leave(client: Client, room: string): Promise<void> {
    forget(client, room);
    await redis.hdel(keys.presence(room), client.id);
    await announcePresence(room);
  }

  async function post(client: Client, room: string, text: string, clientId?: string): Promise<void> {
    const body = JSON.stringify({ from: client.rooms.get(room), text, ts: Date.now(), clientId });
    const [fresh, payload] = (await redis.eval(
      POST_SCRIPT,
      3,
      keys.history(room),
      keys.channel(room),
      keys.dedup(room, clientId ?? ''),
      maxLength,
      body,
      clientId === undefined ? 0 : dedupWindowMs,
    )) as [number, string];
    // The fresh message reaches everyone, the sender too, through the channel. A duplicate goes back
    // to the sender only: its retry is acknowledged, nobody sees it twice.
    if (!fresh) send(client, decodeMessage(room, payload));
  }

  async function handle(client: Client, request: ClientMessage): Promise<void> {
    if (request.type !== 'join' && !client.rooms.has(request.room)) {
      send(client, errorEvent('not-in-room', `join ${request.room} before you ${request.type} it`));
      return;
    }
    switch (request.type) {
      case 'join':
        return join(client, request.room, request.name);
      case 'leave':
        return leave(client, request.room);
      case 'message':
        return post(client, request.room, request.text, request.clientId);
      case 'history': {
        const messages = await readHistory(request.room, request.before, request.limit ?? LIMITS.maxHistory);
        send(client, historyEvent(request.room, messages));
      }
    }
  }

  /** Token bucket per connection; a clock that steps back refills nothing (rather than draining it). */
  function takeToken(client: Client): boolean {
    const now = Date.now();
    const refill = ((now - client.refilledAt) * rate.messages) / rate.perMs;
    client.tokens = Math.min(rate.messages, client.tokens + Math.max(0, refill));
    client.refilledAt = now;
    if (client.tokens < 1) return false;
    client.tokens -= 1;
    return true;
  }

  wss.on('connection', (ws) => {
    const client: Client = {
      id: randomUUID(),
      ws,
      rooms: new Map(),
      alive: true,
      tokens: rate.messages,
      refilledAt: Date.now(),
    };
    clients.add(client);
    ws.on('error', () => {});
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      if (!takeToken(client))
        return send(
          client,
          errorEvent('rate-limited', `at most ${rate.messages} frames per ${rate.perMs} ms`),
        );
      const parsed = isBinary ? undefined : parseClientMessage(data.toString());
      if (!parsed) return send(client, errorEvent('bad-request', 'send JSON in text frames'));
      if (!parsed.ok) return send(client, parsed.error);
      handle(client, parsed.value).catch(() =>
        send(client, errorEvent('unavailable', 'the chat cannot reach its storage; try again shortly')),
      );
    });
    ws.on('close', () => {
      clients.delete(client);
      for (const room of [...client.rooms.keys()]) leave(client, room).catch(() => {}); // the TTL cleans up
    });
  });

  const pinger = setInterval(() => {
    for (const client of clients) {
      if (!client.alive) client.ws.terminate();
      else {
        client.alive = false;
        client.ws.ping();
      }
    }
  }, options.heartbeatIntervalMs ?? 30_000);

  /** Refreshes this instance's presence, and notices members of crashed instances that expired. */
  async function refreshPresence(): Promise<void> {
    for (const [room, roomMembers] of local) {
      const fields = [...roomMembers.keys()].flatMap((c) => [c.id, c.rooms.get(room) ?? '']);
      if (fields.length === 0) continue;
      // Rewritten, not added to: a field written by a join that its client abandoned midway (it
      // disconnected, or Redis failed) would otherwise live as long as the hash does.
      await redis
        .multi()
        .del(keys.presence(room))
        .hset(keys.presence(room), ...fields)
        .pexpire(keys.presence(room), ttlMs)
        .sadd(keys.instances(room), instanceId)
        .exec();
      const names = await members(room);
      const known = lastPresence.get(room);
      if (known !== undefined && known !== JSON.stringify(presenceEvent(room, names).members)) {
        sendPresence(room, names);
      }
    }
  }
  const presenceTimer = setInterval(() => refreshPresence().catch(() => {}), ttlMs / 3);
  for (const timer of [pinger, presenceTimer]) timer.unref();

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    clearInterval(pinger);
    clearInterval(presenceTimer);
    const closed = [...clients].map(
      (c) =>
        new Promise<void>((resolve) =>
          c.ws.readyState === WebSocket.CLOSED ? resolve() : c.ws.once('close', () => resolve()),
        ),
    );
    for (const client of clients) client.ws.close(1001, 'server shutting down');
    const grace = setTimeout(() => {
      for (const client of clients) client.ws.terminate();
    }, 2000);
    await Promise.all(closed);
    clearTimeout(grace);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    redis.disconnect();
    sub.disconnect();
  }

  return {
    server,
    instanceId,
    get connections() {
      return clients.size;
    },
    close: () => (closing ??= close()),
  };
}

/** `m <id> <json>` from the channel (or the script) → a message event. */
function decodeMessage(room: string, payload: string): MessageEvent {
  const space = payload.indexOf(' ', 2);
  return toEvent(room, payload.slice(2, space), payload.slice(space + 1));
}

/** A stream entry `[id, ['m', json]]` → a message event. */
function decodeEntry(room: string, id: string, fields: string[]): MessageEvent {
  return toEvent(room, id, fields[1] ?? '{}');
}

function toEvent(room: string, id: string, json: string): MessageEvent {
  const { from, text, ts, clientId } = JSON.parse(json) as Omit<MessageEvent, 'type' | 'room' | 'id'>;
  return messageEvent({ room, id, from, text, ts, clientId });
}

/** Orders stream ids `<ms>-<seq>` numerically. */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
