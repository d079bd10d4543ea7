/**
 * A WebSocket chat server on one instance: rooms, presence, history, and the rules that keep one
 * bad client from hurting the others (rate limits, a frame size limit, heartbeats, a send buffer limit).
 *
 * State lives in this process: rooms and their last messages are in memory, so two instances of
 * this server are two separate chats (chat-cluster fixes that with Redis).
 */
import type { Server } from 'node:http';

// Everything you need from the protocol (a copy of chat-protocol's answer) is in ./protocol.js:
// parseClientMessage, the event builders, encodeEvent, LIMITS.

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
  throw new Error(
    'createChatServer() is not implemented yet: open exercises/10-realtime/chat-server/server.ts',
  );
}
