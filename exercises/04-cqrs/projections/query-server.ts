/**
 * The query side: a small HTTP server that answers from the **active** version of the account-summary
 * read model, and can wait until the model has caught up with a write the client just made
 * (read-your-writes): the client passes the position its append returned as `minPosition`.
 *
 * Routes (GET only; every body is JSON; every answer from the model carries
 * `X-Projection-Position: <the active version's checkpoint>`, read in the same transaction as the data):
 *
 * - `GET /accounts/:id` → 200 `{ accountId, owner, balance, status, transactions }`, or 404
 *   `{ error }` for an account the model does not know. `:id` is 1-64 characters of `A-Za-z0-9_-`
 *   (else 400).
 * - `GET /days/:yyyy-mm-dd/deposits` → 200 `{ date, total }`: the deposits of that **UTC** day
 *   (0 for a day without any). A date that is not a real calendar day (`2024-02-30`) → 400.
 * - `?minPosition=N` on either route (N: decimal digits, a safe integer; else 400): first waits until
 *   the active checkpoint is **at least** N (not at all when it already is), woken by the runner's
 *   messages on `<ns>:proj:<name>:positions`, and by a poll every 200 ms in case a message is lost,
 *   for at most `waitMs`; then answers as above. Not reached in time: 503 `{ position }` (the
 *   checkpoint it reached) with `Retry-After: 1`.
 * - Redis failing (unreachable, or answering a command with an error), also while a request waits:
 *   503 `{ error }`. Another method: 405 with `Allow: GET`. Another path: 404 `{ error }`.
 *
 * A client that goes away while its request waits stops the wait at once. A wait that is over
 * (answered, out of time, its client gone) leaves nothing behind: no listener, and no poll that goes
 * on reading Redis (see {@link QueryServer.waiting}).
 */
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';

export interface QueryServerOptions {
  /** For reads. Caller-owned: close() leaves it open. */
  readonly redis: Redis;
  /** A connection of its own for SUBSCRIBE. Caller-owned: close() unsubscribes but leaves it open. */
  readonly subscriber: Redis;
  /** The namespace the projection runs in: a non-empty string. */
  readonly namespace: string;
  /** The projection's name (`account-summary`): a non-empty string without `:`. */
  readonly projectionName: string;
  /** How long a `minPosition` request may wait, in ms: a non-negative safe integer. Default 2000. */
  readonly waitMs?: number;
}

export interface QueryServer {
  /** The HTTP server, not listening: the caller listens (and may close it, or call {@link close}). */
  readonly server: Server;
  /** How many requests are waiting for a position right now. */
  readonly waiting: number;
  /**
   * Answers every waiting request 503, unsubscribes from the positions channel, removes every
   * listener it added to `subscriber`, and closes the server if it is listening. A second call does nothing.
   */
  close(): Promise<void>;
}

/**
 * Creates the query server and subscribes to the projection's positions channel; resolves once
 * subscribed.
 * @throws {TypeError} (as a rejection) naming the option and its value, when `namespace` or
 *   `projectionName` is not a non-empty string (or the name contains `:`)
 * @throws {RangeError} (as a rejection) naming `waitMs` and its value, when it is not a non-negative safe integer
 */
export async function createQueryServer(options: QueryServerOptions): Promise<QueryServer> {
  throw new Error(
    'createQueryServer() is not implemented yet: open exercises/04-cqrs/projections/query-server.ts',
  );
}
