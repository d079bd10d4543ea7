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
import type { Server } from 'node:http';

// From ./protocol.js (a copy of chat-protocol's answer) you need parseClientMessage, the event
// builders and encodeEvent; from 'ioredis' the Redis class; from 'ws' WebSocketServer.

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
  throw new Error(
    'createChatNode() is not implemented yet: open exercises/10-realtime/chat-cluster/cluster.ts',
  );
}
