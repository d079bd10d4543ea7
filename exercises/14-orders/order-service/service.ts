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
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { OrderView, OrderWorkflow } from './workflow.js';

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
  void options;
  throw new Error(
    'createOrderService() is not implemented yet: open exercises/14-orders/order-service/service.ts',
  );
}
