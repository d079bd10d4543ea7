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
 * The request body is decoded as UTF-8 once it is complete, so a character split between two network
 * packets arrives intact. Any valid JSON body goes to the service, which decides what is valid
 * (`[1,2,3]` is its 400, not the controller's). Anything unexpected (a bug, Redis gone) is a 500 with exactly the body
 * `{ "error": "internal server error" }` (never the internal message or a stack trace, which may leak
 * details) and is passed to `onError`. A request never crashes the process.
 */
import type { Server } from 'node:http';
import type { UserService } from './service.js';

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

/** Creates the HTTP server (not yet listening) in front of `service`. */
export function createUserServer(service: UserService, options: UserServerOptions = {}): Server {
  throw new Error(
    'createUserServer() is not implemented yet: open exercises/02-patterns/layered-api/controller.ts',
  );
}
