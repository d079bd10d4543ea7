/**
 * The order service's HTTP API: `POST /orders` made safe to retry with an `Idempotency-Key`
 * (IETF httpapi draft "The Idempotency-Key HTTP Header Field",
 * draft-ietf-httpapi-idempotency-key-header-07 of 15 October 2025),
 * and `GET /orders/:id`, over the order workflow (`./workflow.ts`: the saga and the outbox).
 *
 * Redis keys this module owns (`<p>` is `keyPrefix`):
 *
 * - `<p>idem:<key>`: a hash per idempotency key, created by the first request that uses it, with a
 *   TTL of `keyTtlMs` that nothing extends: `fingerprint` (of the order the key is bound to),
 *   `orderId` (chosen once, by that first request), `phase` (`running` or `done`), `lockedUntil`
 *   (ms on the clock: while it is ahead, a request holds the key), and once done, the response to
 *   replay: `status`, `body`, `location`. Every read-and-change of it is one Lua script, so two
 *   requests can never both believe they are the first.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { isFinal, type OrderRequest, type OrderView, type OrderWorkflow } from './workflow.js';

/** Where the service reads the time (ms) for its claims on a key. */
export interface Clock {
  now(): number;
}

export interface OrderServiceOptions {
  /** The connection for the idempotency records. It belongs to the caller. */
  readonly redis: Redis;
  /** The saga behind the API. */
  readonly workflow: OrderWorkflow;
  /** Prefix of every key this module writes, e.g. `'shop:'`. */
  readonly keyPrefix: string;
  /** How long `POST /orders` waits for the order to be final before it answers 202 (real ms). Default 2000. */
  readonly respondWithinMs?: number;
  /** How long a key is remembered, from its first use (ms). Default 24 hours. */
  readonly keyTtlMs?: number;
  /** How long a request holds its key before another may take it over (ms on `clock`). Default 30 000. */
  readonly leaseMs?: number;
  /** Default: `Date`. */
  readonly clock?: Clock;
}

export interface OrderService {
  /** Not listening yet: the caller listens (`server.listen(port)`). */
  readonly server: Server;
  /** Stops the server and closes its connections. Redis and the workflow stay the caller's. */
  close(): Promise<void>;
}

/** The largest request body accepted (bytes); a larger one is answered 413. */
export const MAX_BODY_BYTES = 16 * 1024;
const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;
const SKU_SHAPE = /^[A-Za-z0-9-]{1,32}$/;

// Claims the key for a request (new key, or a lease run out) or says why not. ARGV: fingerprint,
// order id for a new key, now, lockedUntil, ttl.
const CLAIM = `
local r = redis.call('HMGET', KEYS[1], 'fingerprint', 'orderId', 'phase', 'lockedUntil', 'status', 'body', 'location')
if not r[1] then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'orderId', ARGV[2], 'phase', 'running', 'lockedUntil', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {'run', ARGV[2]}
end
if r[3] == 'done' then return {'replay', r[5], r[6], r[7]} end
if tonumber(r[4]) > tonumber(ARGV[3]) then return {'busy'} end
redis.call('HSET', KEYS[1], 'lockedUntil', ARGV[4])
return {'run', r[2]}`;

// Stores the response for replay, unless one is stored already; returns the one that is.
const FINISH = `
local r = redis.call('HMGET', KEYS[1], 'orderId', 'phase', 'status', 'body', 'location')
if r[1] ~= ARGV[1] then return {ARGV[2], ARGV[3], ARGV[4]} end
if r[2] == 'done' then return {r[3], r[4], r[5]} end
redis.call('HSET', KEYS[1], 'phase', 'done', 'status', ARGV[2], 'body', ARGV[3], 'location', ARGV[4])
return {ARGV[2], ARGV[3], ARGV[4]}`;

// Lets the key go at once (the workflow could not start the order): the next request runs again.
const RELEASE = `
if redis.call('HGET', KEYS[1], 'orderId') == ARGV[1] and redis.call('HGET', KEYS[1], 'phase') == 'running' then
  redis.call('HSET', KEYS[1], 'lockedUntil', 0)
end
return 1`;

/** A response: status, JSON body, extra headers. */
interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Creates the service. Every body is JSON; every error body is `{ "error": "<what went wrong and
 * what to do>" }`.
 *
 * **`POST /orders`**, body `{ "customer": string, "sku": string, "quantity": number }` and an
 * `Idempotency-Key` header. In this order:
 *
 * 1. The key. The header's value is an sf-string (`"8e03978e"`, quotes included: the draft's
 *    §2.1, "Syntax") or, as Stripe's clients send it, the bare key (`8e03978e`); either way the key is 1
 *    to 255 printable ASCII characters (0x21-0x7E), with no `"` or `\` inside. Missing or malformed: **400**
 *    (the draft's §2.7, its error cases; its "Security Considerations": validate the key's format).
 * 2. The body. Larger than {@link MAX_BODY_BYTES}: **413**. Not JSON, not an object, a field
 *    missing or out of range, or any other field: **400**. `customer`: a string of 1 to 100
 *    characters; `sku`: 1 to 32 letters, digits or dashes; `quantity`: an integer from 1 to 100.
 *    Nothing is stored for a 400 or a 413: the request never began, and the same key may be sent
 *    again with a corrected body.
 * 3. The key's record, `<keyPrefix>idem:<key>` (the draft's §2.4, "Idempotency Fingerprint", and
 *    §2.6, its retry cases). The key is bound to the order's **fingerprint**: the
 *    SHA-256 of its three fields, so the same order with its JSON fields in
 *    another order or other spacing is the same request. Read and written atomically (two requests
 *    with a new key at the same moment: exactly one of them runs):
 *    - no record: this request runs. The record gets the fingerprint, a new order id (a random
 *      UUID), and a TTL of `keyTtlMs` from now that nothing extends; after it, the key is new again.
 *    - bound to another fingerprint: **422**, nothing runs.
 *    - a stored response: replayed, the same status and body, with the header
 *      `Idempotent-Replayed: true`; nothing runs.
 *    - held by a request still running (claimed less than `leaseMs` ago on `clock`): **409** with
 *      `Retry-After: 1`, nothing runs.
 *    - held, but claimed `leaseMs` ago or more (its server died mid-request): this request takes it
 *      over and runs **the same order id** again (`workflow.start` does nothing for an order that
 *      exists), so a retry never makes a second order or a second charge.
 * 4. Running: `workflow.start(orderId, order)`, then `workflow.settled(orderId, respondWithinMs)`.
 *    The order final (`shipped` or `compensated`): **201**; still on its way: **202**. Both with
 *    `Location: /orders/<orderId>` and the {@link OrderView} as the body. That response, whichever
 *    it is, is stored under the key and replayed from then on (the draft's §2.6: a retry gets
 *    "the result of the previously completed operation, success or an
 *    error"; Stripe does the same for a request that began executing): a compensated order is a
 *    201 that says `compensated` and why, and the same key never orders again. A 202 is replayed as it was;
 *    `GET` the Location for the order's state now.
 * 5. `workflow.start` or `settled` rejected (Redis, or the workflow, unreachable): **503** with
 *    `Retry-After: 1`, and nothing is stored: the key is let go at once, and a retry with it runs
 *    again, with the same order id.
 *
 * Only 201 and 202 are ever stored. A 400, 409, 413, 422 or 503 is not.
 *
 * **`GET /orders/:id`**: **200** with the order as `workflow.get` reads it at that moment (never a
 * copy kept by the service: the saga moves on after the POST has answered), **404** when there is
 * no such order.
 *
 * Another method on `/orders` or `/orders/:id`: **405** with `Allow` (`POST` or `GET`). Another
 * path: **404**. Redis or the workflow unreachable anywhere else: **503**.
 */
export function createOrderService(options: OrderServiceOptions): OrderService {
  const { redis, workflow, keyPrefix } = options;
  const respondWithinMs = options.respondWithinMs ?? 2000;
  const keyTtlMs = options.keyTtlMs ?? 24 * 60 * 60 * 1000;
  const leaseMs = options.leaseMs ?? 30_000;
  const clock = options.clock ?? Date;

  const post = async (req: IncomingMessage): Promise<Reply> => {
    const key = idempotencyKey(req.headers['idempotency-key']);
    const order = parseOrder(await readBody(req));
    const recordKey = `${keyPrefix}idem:${key}`;
    const now = clock.now();
    const claim = (await redis.eval(
      CLAIM,
      1,
      recordKey,
      fingerprint(order),
      randomUUID(),
      now,
      now + leaseMs,
      keyTtlMs,
    )) as string[];
    const [verdict, ...rest] = claim;
    if (verdict === 'mismatch') {
      return error(
        422,
        `Idempotency-Key "${key}" was used for a different order; use a new key for a new order.`,
      );
    }
    if (verdict === 'busy') {
      return error(409, `A request with Idempotency-Key "${key}" is still in progress; retry later.`, {
        'retry-after': '1',
      });
    }
    if (verdict === 'replay') return stored(rest, true);

    const orderId = rest[0] ?? '';
    let view: OrderView;
    try {
      await workflow.start(orderId, order);
      view = await workflow.settled(orderId, respondWithinMs);
    } catch {
      await redis.eval(RELEASE, 1, recordKey, orderId).catch(() => {});
      return error(503, 'The order could not be started; retry with the same Idempotency-Key.', {
        'retry-after': '1',
      });
    }
    const status = isFinal(view.state) ? 201 : 202;
    const kept = (await redis.eval(
      FINISH,
      1,
      recordKey,
      orderId,
      status,
      JSON.stringify(view),
      `/orders/${orderId}`,
    )) as string[];
    return stored(kept, false);
  };

  const get = async (id: string): Promise<Reply> => {
    const view = await workflow.get(id);
    return view ? { status: 200, body: view } : error(404, `There is no order ${id}.`);
  };

  const route = async (req: IncomingMessage): Promise<Reply> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/orders')
      return req.method === 'POST' ? post(req) : error(405, 'Use POST.', { allow: 'POST' });
    const match = /^\/orders\/([^/]+)$/.exec(path);
    if (match?.[1]) {
      return req.method === 'GET'
        ? get(decodeURIComponent(match[1]))
        : error(405, 'Use GET.', { allow: 'GET' });
    }
    return error(404, `Nothing at ${path}.`);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    route(req)
      .catch((e: unknown) =>
        e instanceof BadRequest
          ? error(e.status, e.message, e.status === 413 ? { connection: 'close' } : {})
          : error(503, 'The order store is unavailable; retry later.', { 'retry-after': '1' }),
      )
      .then((reply) => send(res, reply));
  });

  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The key from the header: the draft's sf-string (`"abc"`, quotes included) or a bare key (`abc`,
 * as Stripe's clients send it); 1 to 255 printable ASCII characters, no `"` or `\` inside quotes.
 */
function idempotencyKey(header: string | string[] | undefined): string {
  if (header === undefined)
    throw new BadRequest(400, 'The Idempotency-Key header is required for POST /orders.');
  const value = Array.isArray(header) ? header.join(', ') : header.trim();
  const quoted = /^"([^"\\]*)"$/.exec(value);
  const key = quoted ? (quoted[1] ?? '') : value;
  if (!KEY_SHAPE.test(key) || (!quoted && value.includes('"'))) {
    throw new BadRequest(
      400,
      'The Idempotency-Key must be 1 to 255 printable ASCII characters, e.g. "8e03978e".',
    );
  }
  return key;
}

async function readBody(req: IncomingMessage): Promise<string> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    throw new BadRequest(413, `The body is larger than ${MAX_BODY_BYTES} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(413, `The body is larger than ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseOrder(text: string): OrderRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest(400, 'The body must be JSON: {"customer": "...", "sku": "...", "quantity": 1}.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest(400, 'The body must be a JSON object with customer, sku and quantity.');
  }
  const { customer, sku, quantity, ...others } = body as Record<string, unknown>;
  const unknown = Object.keys(others)[0];
  if (unknown !== undefined) throw new BadRequest(400, `Unknown field "${unknown}".`);
  if (typeof customer !== 'string' || customer.length < 1 || customer.length > 100) {
    throw new BadRequest(400, 'customer must be a string of 1 to 100 characters.');
  }
  if (typeof sku !== 'string' || !SKU_SHAPE.test(sku)) {
    throw new BadRequest(400, 'sku must be 1 to 32 letters, digits or dashes.');
  }
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > 100) {
    throw new BadRequest(400, 'quantity must be an integer from 1 to 100.');
  }
  return { customer, sku, quantity };
}

/** SHA-256 of the order's fields in a fixed order: the same order written differently is the same. */
function fingerprint(order: OrderRequest): string {
  return createHash('sha256')
    .update(JSON.stringify([order.customer, order.sku, order.quantity]))
    .digest('base64url');
}

function stored([status, body, location]: string[], replayed: boolean): Reply {
  const headers: Record<string, string> = { location: location ?? '' };
  if (replayed) headers['idempotent-replayed'] = 'true';
  return { status: Number(status), body: JSON.parse(body ?? 'null'), headers };
}

function error(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return { status, body: { error: message }, headers };
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
  res.end(JSON.stringify(reply.body));
}
