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

type Fields = Record<string, unknown>;

/** Characters as a reader counts them: code points, so an emoji is one character, not two. */
const chars = (s: string) => [...s].length;

/** Control characters: the ASCII ones, below the space. */
const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 32);

const isRoom = (v: unknown): v is string => typeof v === 'string' && LIMITS.roomPattern.test(v);
const isName = (v: unknown): v is string =>
  typeof v === 'string' && chars(v) >= 1 && chars(v) <= LIMITS.maxNameChars && !hasControl(v);
const isText = (v: unknown): v is string =>
  typeof v === 'string' && chars(v) >= 1 && chars(v) <= LIMITS.maxTextChars;
const isClientId = (v: unknown): v is string =>
  typeof v === 'string' && chars(v) >= 1 && chars(v) <= LIMITS.maxClientIdChars;
const isMessageId = (v: unknown): v is string => typeof v === 'string' && MESSAGE_ID_PATTERN.test(v);
const isLimit = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= LIMITS.maxHistory;

const bad = (message: string): ParseResult => ({ ok: false, error: errorEvent('bad-request', message) });
const ok = (value: ClientMessage): ParseResult => ({ ok: true, value });

const ROOM_RULE = 'room must be 1-32 characters of a-z, 0-9 and -';

function parseJoin(m: Fields): ParseResult {
  if (!isRoom(m.room)) return bad(ROOM_RULE);
  if (!isName(m.name)) return bad('name must be 1-32 printable characters');
  return ok({ type: 'join', room: m.room, name: m.name });
}

function parseLeave(m: Fields): ParseResult {
  if (!isRoom(m.room)) return bad(ROOM_RULE);
  return ok({ type: 'leave', room: m.room });
}

function parseMessage(m: Fields): ParseResult {
  if (!isRoom(m.room)) return bad(ROOM_RULE);
  if (!isText(m.text)) return bad('text must be 1-2000 characters');
  if (m.clientId === undefined) return ok({ type: 'message', room: m.room, text: m.text });
  if (!isClientId(m.clientId)) return bad('clientId, when present, must be 1-64 characters');
  return ok({ type: 'message', room: m.room, text: m.text, clientId: m.clientId });
}

function parseHistory(m: Fields): ParseResult {
  if (!isRoom(m.room)) return bad(ROOM_RULE);
  const request: HistoryRequest = { type: 'history', room: m.room };
  if (m.before !== undefined) {
    if (!isMessageId(m.before)) return bad('before, when present, must be a message id like 1700000000000-0');
    request.before = m.before;
  }
  if (m.limit !== undefined) {
    if (!isLimit(m.limit)) return bad('limit, when present, must be an integer from 1 to 50');
    request.limit = m.limit;
  }
  return ok(request);
}

/** A Map, not an object: `{"type":"toString"}` must not find `Object.prototype.toString`. */
const PARSERS = new Map<string, (m: Fields) => ParseResult>([
  ['join', parseJoin],
  ['leave', parseLeave],
  ['message', parseMessage],
  ['history', parseHistory],
]);

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
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return bad('the frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return bad('a request must be a JSON object with a "type"');
  }
  const fields = value as Fields;
  const parse = typeof fields.type === 'string' ? PARSERS.get(fields.type) : undefined;
  if (!parse) return bad('type must be one of join, leave, message, history');
  return parse(fields);
}

/** Member names as clients see them: each name once, sorted. */
const memberList = (names: Iterable<string>) => [...new Set(names)].sort();

/** `joined`: sent to the client that joined. `members`: each name once, sorted. */
export function joinedEvent(room: string, members: Iterable<string>, history: MessageEvent[]): JoinedEvent {
  return { type: 'joined', room, members: memberList(members), history };
}

/** `presence`: the room's members changed. `members`: each name once, sorted. */
export function presenceEvent(room: string, members: Iterable<string>): PresenceEvent {
  return { type: 'presence', room, members: memberList(members) };
}

/** `message`: leaves the `clientId` key out entirely when there is none (absent or `undefined`). */
export function messageEvent(fields: Omit<MessageEvent, 'type'>): MessageEvent {
  const { room, id, from, text, ts, clientId } = fields;
  const event: MessageEvent = { type: 'message', room, id, from, text, ts };
  if (clientId !== undefined) event.clientId = clientId;
  return event;
}

/** `history`: the messages as given (oldest first). */
export function historyEvent(room: string, messages: MessageEvent[]): HistoryEvent {
  return { type: 'history', room, messages };
}

/** `error`: the connection stays open after it. */
export function errorEvent(code: ErrorCode, message: string): ErrorEvent {
  return { type: 'error', code, message };
}

/** One event as the text of one WebSocket frame (JSON). */
export function encodeEvent(event: ServerEvent): string {
  return JSON.stringify(event);
}
