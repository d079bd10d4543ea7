/**
 * The controller layer: HTTP in, HTTP out, on plain `node:http`. It parses requests, calls the
 * service, and maps results and errors to status codes. It holds no business rules.
 *
 * Routes (every response body is JSON, sent as `Content-Type: application/json`; errors are
 * `{ "error": "<message>" }`, plus `"field"` on 400s caused by an invalid field). Routes match the
 * path only: a query string (`/users/<id>?fields=all`) changes nothing.
 *
 * | request            | response                                                                  |
 * |--------------------|---------------------------------------------------------------------------|
 * | `POST /users`      | 201 with the user and `Location: /users/<id>`                            |
 * |                    | 400 when the body is not valid JSON (the message says so: "... not valid JSON") |
 * |                    | 400 when the service rejects a field (`ValidationError`: its message and `field`) |
 * |                    | 409 when the email is taken (`DuplicateEmailError`: its message names the email) |
 * |                    | 413 when the body is larger than `maxBodyBytes`; the service is not called |
 * | `GET /users/<id>`  | 200 with the user; 404 when there is none (also for an id that cannot be decoded) |
 * | other methods      | 405 with `Allow: POST` on `/users` and `Allow: GET` on `/users/<id>`      |
 * | any other path     | 404                                                                       |
 *
 * Any valid JSON body goes to the service, which decides what is valid (`[1,2,3]` is its 400, not
 * the controller's). Anything unexpected (a bug, Redis gone) is a 500 with exactly the body
 * `{ "error": "internal server error" }` (never the internal message or a stack trace, which may leak
 * details) and is passed to `onError`. A request never crashes the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { UserService } from './service.js';
import { DuplicateEmailError, ValidationError } from './users.js';

export interface UserServerOptions {
  /**
   * The largest request body accepted, in bytes (default 16 KiB): a body of exactly this size is
   * accepted, a larger one gets 413. The bytes are counted as they arrive, so a chunked body with no
   * `Content-Length` is limited too.
   */
  maxBodyBytes?: number;
  /**
   * How long a client may take to send a whole request, in ms (default 10 000). A client that stalls
   * mid-request gets 408 and its connection is closed, so silent clients cannot pile up.
   */
  requestTimeoutMs?: number;
  /** Told about every unexpected error, i.e. every 500 (default: `console.error`). */
  onError?: (error: unknown) => void;
}

/** An error that already knows its HTTP status. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Creates the HTTP server (not yet listening) in front of `service`. */
export function createUserServer(service: UserService, options: UserServerOptions = {}): Server {
  const { maxBodyBytes = 16 * 1024, requestTimeoutMs = 10_000, onError = console.error } = options;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname === '/users') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const user = await service.register(parseJson(await readBody(req, maxBodyBytes)));
      res.setHeader('Location', `/users/${encodeURIComponent(user.id)}`);
      return send(res, 201, user);
    }
    const match = /^\/users\/([^/]+)$/.exec(pathname);
    if (match) {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      const id = decodePathSegment(match[1]!);
      const user = id === undefined ? null : await service.getById(id);
      return user ? send(res, 200, user) : send(res, 404, { error: 'user not found' });
    }
    send(res, 404, { error: 'not found' });
  }

  const server = createServer(
    // The server checks for timed-out requests every `connectionsCheckingInterval` ms (default 30 s),
    // so the interval must be shorter than the timeout for the timeout to mean anything.
    { requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, requestTimeoutMs / 2) },
    (req, res) => {
      route(req, res).catch((error: unknown) => sendError(res, error, onError));
    },
  );
  return server;
}

/** The response to an error the client caused, or `undefined` for an unexpected one. */
function clientErrorResponse(error: unknown): { status: number; body: object } | undefined {
  if (error instanceof ValidationError) {
    return { status: 400, body: { error: error.message, field: error.field } };
  }
  if (error instanceof DuplicateEmailError) return { status: 409, body: { error: error.message } };
  if (error instanceof HttpError) return { status: error.status, body: { error: error.message } };
  return undefined;
}

function sendError(res: ServerResponse, error: unknown, onError: (error: unknown) => void): void {
  const response = clientErrorResponse(error);
  if (!response) {
    onError(error);
    send(res, 500, { error: 'internal server error' });
    return;
  }
  // After a 413 the rest of the body was not read: close the connection rather than drain it.
  if (response.status === 413) res.setHeader('Connection', 'close');
  send(res, response.status, response.body);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
  });
  res.end(json);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  send(res, 405, { error: 'method not allowed' });
}

/** Reads the whole body as UTF-8, refusing (413) as soon as it is known to exceed `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = () => new HttpError(413, `the request body must not exceed ${limit} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.reject(tooLarge());

  return new Promise((resolve, reject) => {
    // Let the stream decode UTF-8 (it handles characters split between chunks).
    req.setEncoding('utf8');
    let body = '';
    const onData = (chunk: string) => {
      body += chunk;
      if (body.length > limit) {
        // Stop buffering; the 413 goes out and the connection is closed after it.
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
    };
    req.on('data', onData);
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
}

/** `undefined` for a malformed percent-encoding such as `%E0%A4%A`, which no user id can match. */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
