/**
 * The controller layer: HTTP in, HTTP out, on plain `node:http`. It parses requests, calls the
 * service, and maps results and errors to status codes. It holds no business rules.
 *
 * Routes (every response body is JSON; errors are `{ "error": "<message>" }`, plus `"field"` on 400s
 * caused by an invalid field):
 *
 * | request            | response                                                                  |
 * |--------------------|---------------------------------------------------------------------------|
 * | `POST /users`      | 201 with the user and `Location: /users/<id>`                            |
 * |                    | 400 when the body is not valid JSON, or a field is invalid (`field` named) |
 * |                    | 409 when the email is taken; 413 when the body is larger than the limit    |
 * | `GET /users/<id>`  | 200 with the user; 404 when there is none                                 |
 * | other methods      | 405 with an `Allow` header on those two paths                             |
 * | any other path     | 404                                                                       |
 *
 * Anything unexpected (a bug, Redis gone) is a 500 with the body `{ "error": "internal server error" }`
 * (never the internal message, which may leak details) and is passed to `onError`.
 * A request never crashes the process.
 */
import type { Server } from 'node:http';
import type { UserService } from './service.js';

export interface UserServerOptions {
  /** The largest request body accepted, in bytes (default 16 KiB); a larger one gets 413. */
  maxBodyBytes?: number;
  /**
   * How long a client may take to send a whole request, in ms (default 10 000). A client that stalls
   * mid-request gets 408 and its connection is closed, so silent clients cannot pile up.
   */
  requestTimeoutMs?: number;
  /** Told about every unexpected error, i.e. every 500 (default: `console.error`). */
  onError?: (error: unknown) => void;
}

/** Creates the HTTP server (not yet listening) in front of `service`. */
export function createUserServer(service: UserService, options: UserServerOptions = {}): Server {
  throw new Error(
    'createUserServer() is not implemented yet: open exercises/02-patterns/layered-api/controller.ts',
  );
}
