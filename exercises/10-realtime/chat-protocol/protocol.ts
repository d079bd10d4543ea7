/**
 * The chat protocol: typed JSON envelopes with a `type` field, one per WebSocket text frame.
 *
 * Client → server: `join`, `leave`, `message`, `history`.
 * Server → client: `joined`, `presence`, `message`, `history`, `error`.
 *
 * {@link parseClientMessage} is the only door from the network into the server: it turns any
 * string into either a typed request or a typed `bad-request` error, and never throws. The
 * builders make the server's events, so every server speaks exactly the same shapes.
 */

/** The limits of the protocol (the suites test them). */
export const LIMITS = {
  /** Room names: 1-32 of `a-z`, `0-9`, `-`. */
  roomPattern: /^[a-z0-9-]{1,32}$/,
  maxNameChars: 32,
  maxTextChars: 2000,
  maxClientIdChars: 64,
  /** The most messages one `history` reply (or a `joined` event) carries. */
  maxHistory: 50,
} as const;

/** A message id: the id of a Redis Stream entry, `<milliseconds>-<sequence>`. */
export const MESSAGE_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;

export interface JoinRequest {
  type: 'join';
  room: string;
  name: string;
}
export interface LeaveRequest {
  type: 'leave';
  room: string;
}
export interface MessageRequest {
  type: 'message';
  room: string;
  text: string;
  /** Chosen by the client; a second message with the same id within a minute is not delivered again. */
  clientId?: string;
}
export interface HistoryRequest {
  type: 'history';
  room: string;
  /** Only messages older than this id (exclusive); omitted: the newest. */
  before?: string;
  /** How many messages, 1-50 (default 50). */
  limit?: number;
}
/** Everything a client may send. */
export type ClientMessage = JoinRequest | LeaveRequest | MessageRequest | HistoryRequest;

/** Why a request failed. `unavailable`: the server cannot reach its storage right now (retry later). */
export type ErrorCode = 'bad-request' | 'not-in-room' | 'rate-limited' | 'unavailable';

/** A chat message as every member of the room receives it (and as history stores it). */
export interface MessageEvent {
  type: 'message';
  room: string;
  id: string;
  from: string;
  text: string;
  /** Milliseconds since the epoch, set by the server. */
  ts: number;
  clientId?: string;
}
export interface JoinedEvent {
  type: 'joined';
  room: string;
  members: string[];
  history: MessageEvent[];
}
export interface PresenceEvent {
  type: 'presence';
  room: string;
  members: string[];
}
export interface HistoryEvent {
  type: 'history';
  room: string;
  messages: MessageEvent[];
}
export interface ErrorEvent {
  type: 'error';
  code: ErrorCode;
  message: string;
}
/** Everything a server may send. */
export type ServerEvent = JoinedEvent | PresenceEvent | MessageEvent | HistoryEvent | ErrorEvent;

/** The result of parsing one frame: a request, or the error to send back. */
export type ParseResult = { ok: true; value: ClientMessage } | { ok: false; error: ErrorEvent };

/**
 * Parses one text frame from a client. Never throws: malformed JSON, a value that is not an object,
 * an unknown `type` or a field that breaks a rule all give `{ ok: false, error }` with code
 * `bad-request` and a message that says what was wrong.
 *
 * The rules (characters are code points in every rule, so an emoji counts once): `room` matches
 * {@link LIMITS}.roomPattern; `name` is 1-32 characters with no control character (Unicode category
 * Cc: C0, DEL and C1); `text` is 1-2000 characters; `clientId`, when present, is a string of 1-64
 * characters; `before`, when present, matches {@link MESSAGE_ID_PATTERN}; `limit`, when present, is
 * an integer from 1 to 50. These rules hold for every request type that has the field (`room` for
 * all four). A field that is present must follow its rule whatever its value: `""`, `0`, `false` and
 * `null` are present, and wrong. Accepted fields are passed on unchanged (no trimming, no
 * conversion). Unknown extra fields are ignored and left out of the result, so clients may send
 * newer fields to older servers. Optional fields that were not sent are not present on the result.
 */
export function parseClientMessage(raw: string): ParseResult {
  throw new Error(NOT_YET('parseClientMessage'));
}

/** `joined`: sent to the client that joined. `members`: each name once, sorted. */
export function joinedEvent(room: string, members: Iterable<string>, history: MessageEvent[]): JoinedEvent {
  throw new Error(NOT_YET('joinedEvent'));
}

/** `presence`: the room's members changed. `members`: each name once, sorted. */
export function presenceEvent(room: string, members: Iterable<string>): PresenceEvent {
  throw new Error(NOT_YET('presenceEvent'));
}

/** `message`: leaves the `clientId` key out entirely when there is none (absent or `undefined`). */
export function messageEvent(fields: Omit<MessageEvent, 'type'>): MessageEvent {
  throw new Error(NOT_YET('messageEvent'));
}

/** `history`: the messages as given (oldest first). */
export function historyEvent(room: string, messages: MessageEvent[]): HistoryEvent {
  throw new Error(NOT_YET('historyEvent'));
}

/** `error`: the connection stays open after it. */
export function errorEvent(code: ErrorCode, message: string): ErrorEvent {
  throw new Error(NOT_YET('errorEvent'));
}

/** One event as the text of one WebSocket frame (JSON). */
export function encodeEvent(event: ServerEvent): string {
  throw new Error(NOT_YET('encodeEvent'));
}

const NOT_YET = (fn: string) =>
  `${fn}() is not implemented yet: open exercises/10-realtime/chat-protocol/protocol.ts`;
