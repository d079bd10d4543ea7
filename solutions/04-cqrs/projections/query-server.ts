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
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { accountKey, depositsKey, parseAccountSummary } from './account-summary.js';
import { projectionKeys } from './keys.js';

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
  validate(options);
  const queries = new AccountQueries(options);
  await queries.subscribe();
  return queries;
}

/** How often a waiting request re-reads the checkpoint, in case a positions message was missed. */
const POLL_MS = 200;
const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A read from the active version: its checkpoint, and what the route asked for. */
interface Read<T> {
  readonly position: number;
  readonly value: T;
}

class AccountQueries implements QueryServer {
  readonly server: Server;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #namespace: string;
  readonly #name: string;
  readonly #channel: string;
  readonly #activeKey: string;
  readonly #waitMs: number;
  /** Each waiting request's "check again" callback. */
  readonly #waiters = new Set<() => void>();
  readonly #onMessage = (channel: string) => {
    if (channel === this.#channel) for (const check of this.#waiters) check();
  };
  #closed = false;

  constructor(options: QueryServerOptions) {
    this.#redis = options.redis;
    this.#subscriber = options.subscriber;
    this.#namespace = options.namespace;
    this.#name = options.projectionName;
    const keys = projectionKeys(options.namespace, options.projectionName, 1);
    this.#channel = keys.channel;
    this.#activeKey = keys.active;
    this.#waitMs = options.waitMs ?? 2000;
    this.server = createServer((req, res) => void this.#handle(req, res));
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  async subscribe(): Promise<void> {
    this.#subscriber.on('message', this.#onMessage);
    await this.#subscriber.subscribe(this.#channel);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const check of [...this.#waiters]) check();
    this.#subscriber.off('message', this.#onMessage);
    await this.#subscriber.unsubscribe(this.#channel).catch(() => {});
    if (this.server.listening) {
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== 'GET') {
        res.setHeader('allow', 'GET');
        throw new HttpError(405, `only GET is served (got ${req.method})`);
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const read = this.#route(url.pathname);
      const minPosition = parseMinPosition(url.searchParams.get('minPosition'));
      if (minPosition !== undefined) {
        let reached = await this.#activePosition();
        if (reached < minPosition) {
          const waited = await this.#waitFor(minPosition, reached, res);
          if (waited === undefined) return; // the client went away
          reached = waited;
        }
        if (reached < minPosition) {
          res.setHeader('retry-after', '1');
          return send(res, 503, { position: reached });
        }
      }
      const { position, value } = await read();
      res.setHeader('x-projection-position', String(position));
      if (value === undefined) throw new HttpError(404, 'no such account in the read model');
      send(res, 200, value);
    } catch (error) {
      if (error instanceof HttpError) return send(res, error.status, { error: error.message });
      send(res, 503, { error: `the read model is unavailable: ${(error as Error).message}` });
    }
  }

  /** The read for a path, or an HttpError (400, 404) for a bad one. */
  #route(path: string): () => Promise<Read<unknown>> {
    const parts = path.split('/');
    if (parts.length === 3 && parts[1] === 'accounts') {
      const id = decode(parts[2] as string);
      if (!ACCOUNT_ID.test(id)) throw new HttpError(400, `bad account id ${JSON.stringify(id)}`);
      return () =>
        this.#readActive(
          async (prefix, tx) => tx.hgetall(accountKey(prefix, id)),
          (hash) => parseAccountSummary(id, (hash ?? {}) as Record<string, string>),
        );
    }
    if (parts.length === 4 && parts[1] === 'days' && parts[3] === 'deposits') {
      const date = decode(parts[2] as string);
      if (!isCalendarDay(date)) throw new HttpError(400, `bad date ${JSON.stringify(date)}: want yyyy-mm-dd`);
      return () =>
        this.#readActive(
          async (prefix, tx) => tx.get(depositsKey(prefix, date)),
          (total) => ({
            date,
            total: Number(total ?? 0),
          }),
        );
    }
    throw new HttpError(404, `no route for ${path}`);
  }

  /**
   * Reads the active version's checkpoint and one value in one transaction. No active version yet:
   * position 0 and the value of an empty model.
   */
  async #readActive<T>(
    queue: (prefix: string, tx: ReturnType<Redis['multi']>) => Promise<unknown>,
    parse: (raw: unknown) => T,
  ): Promise<Read<T>> {
    const version = Number((await this.#redis.get(this.#activeKey)) ?? 0);
    if (version === 0) return { position: 0, value: parse(undefined) };
    const keys = projectionKeys(this.#namespace, this.#name, version);
    const tx = this.#redis.multi().get(keys.checkpoint);
    await queue(keys.prefix, tx);
    const results = await tx.exec();
    if (!results) throw new Error('the read transaction was aborted');
    for (const [error] of results) if (error) throw error;
    return { position: Number(results[0]?.[1] ?? 0), value: parse(results[1]?.[1]) };
  }

  /** The active checkpoint (0 when no version is active). */
  async #activePosition(): Promise<number> {
    return (
      await this.#readActive(
        async () => undefined,
        () => undefined,
      )
    ).position;
  }

  /**
   * Waits until the active checkpoint (`from` when it was last read) is at least `min`, at most
   * waitMs. Resolves the checkpoint reached, or `undefined` when the client went away first.
   */
  #waitFor(min: number, from: number, res: ServerResponse): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      let reached = from;
      let checking = false;
      let again = false;
      const finish = (result: number | undefined, error?: unknown) => {
        if (!this.#waiters.delete(check)) return;
        clearTimeout(deadline);
        clearInterval(poll);
        res.off('close', gone);
        if (error) reject(error);
        else resolve(result);
      };
      const check = () => {
        if (this.#closed) return finish(reached);
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        this.#activePosition().then(
          (position) => {
            reached = Math.max(reached, position);
            checking = false;
            if (reached >= min) finish(reached);
            else if (again) {
              again = false;
              check();
            }
          },
          (error) => finish(undefined, error),
        );
      };
      const gone = () => finish(undefined);
      const deadline = setTimeout(() => finish(reached), this.#waitMs);
      const poll = setInterval(check, POLL_MS);
      this.#waiters.add(check);
      res.once('close', gone);
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(`${JSON.stringify(body)}\n`);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `bad percent-encoding in ${JSON.stringify(segment)}`);
  }
}

/** `minPosition` from the query string: undefined when absent; HttpError 400 when not a safe integer ≥ 0. */
function parseMinPosition(raw: string | null): number | undefined {
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
    throw new HttpError(400, `minPosition must be a non-negative integer (got ${JSON.stringify(raw)})`);
  }
  return value;
}

/**
 * Whether `text` is `yyyy-mm-dd` naming a real day. Built in UTC (the server's zone plays no part),
 * a day that does not exist rolls over (`2024-02-30` → `2024-03-01`) and no longer reads the same.
 * `setUTCFullYear`, unlike `Date.UTC`, takes years 0-99 as they are, not as 1900-1999.
 */
function isCalendarDay(text: string): boolean {
  const match = DAY.exec(text);
  if (!match) return false;
  const date = new Date(0);
  date.setUTCFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return date.toISOString().slice(0, 10) === text;
}

function validate(options: QueryServerOptions): void {
  for (const option of ['namespace', 'projectionName'] as const) {
    const value = options[option];
    if (typeof value !== 'string' || value === '') {
      throw new TypeError(
        `${option} must be a non-empty string (got ${JSON.stringify(value) ?? String(value)})`,
      );
    }
  }
  if (options.projectionName.includes(':')) {
    throw new TypeError(
      `projectionName must not contain ':' (got ${JSON.stringify(options.projectionName)})`,
    );
  }
  const waitMs = options.waitMs;
  if (waitMs !== undefined && !(Number.isSafeInteger(waitMs) && waitMs >= 0)) {
    throw new RangeError(`waitMs must be a non-negative safe integer (got ${String(waitMs)})`);
  }
}
