/**
 * The edges of the contract in `service.ts` that the main suites do not reach: the defaults, the
 * exact routes, a body streamed without Content-Length, Redis or the workflow failing outside
 * `start`, and the `{ "error": ... }` body every error response carries.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { deferred, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  connection,
  getOrder,
  type HttpReply,
  postOrder,
  readReply,
  ScriptedWorkflow,
  startService,
  uniquePrefix,
} from './harness.js';
import { MAX_BODY_BYTES, type OrderServiceOptions } from './service.js';
import type { OrderView } from './workflow.js';

const redis = useRedis();
const order = { customer: 'ada', sku: 'tea-1', quantity: 2 };

/** The scripted workflow, which also records the wait `settled` was given and can fail `get`. */
class RecordingWorkflow extends ScriptedWorkflow {
  readonly settledWaits: number[] = [];
  getFailure: Error | undefined;
  override async settled(orderId: string, timeoutMs: number): Promise<OrderView> {
    this.settledWaits.push(timeoutMs);
    return super.settled(orderId, timeoutMs);
  }
  override async get(orderId: string): Promise<OrderView | undefined> {
    if (this.getFailure) throw this.getFailure;
    return super.get(orderId);
  }
}

async function setup(options: Partial<OrderServiceOptions> = {}) {
  const workflow = new RecordingWorkflow();
  const prefix = uniquePrefix();
  const client = connection(redis.url);
  const url = await startService({ redis: client, workflow, keyPrefix: prefix, ...options });
  return { workflow, url, prefix, client };
}

const call = async (url: string, method: string, path: string) =>
  readReply(await fetch(`${url}${path}`, { method }));

/** The contract: "every error body is `{ "error": "<what went wrong and what to do>" }`". */
function expectError(r: HttpReply, status: number, what: string): void {
  expect(r.status, `${what} must be answered ${status}`).toBe(status);
  const message = r.body.error;
  expect(
    typeof message === 'string' && message.trim() !== '',
    `${what}: the ${status} body must be { "error": "<what went wrong>" } with a message, got ${JSON.stringify(r.body)}`,
  ).toBe(true);
}

/** `POST /orders` with the body sent in chunks (Transfer-Encoding: chunked, no Content-Length). */
function postChunked(url: string, key: string, chunks: string[]): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/orders`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = { unparsed: text };
          }
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') headers.set(name, value);
          }
          resolve({ status: res.statusCode ?? 0, body, headers });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('the contract edges: defaults', () => {
  it('waits respondWithinMs for the order (2000 when not given) and remembers a key 24 hours by default', async () => {
    const plain = await setup();
    expect((await postOrder(plain.url, 'd1', order)).status).toBe(201);
    expect(
      plain.workflow.settledWaits,
      'without respondWithinMs, workflow.settled must be given the default 2000 ms',
    ).toEqual([2000]);
    const ttl = await plain.client.pttl(`${plain.prefix}idem:d1`);
    const day = 24 * 60 * 60 * 1000;
    expect(ttl, `without keyTtlMs, the record ${plain.prefix}idem:d1 must live 24 hours`).toBeGreaterThan(
      day - 60_000,
    );
    expect(ttl).toBeLessThanOrEqual(day);

    const given = await setup({ respondWithinMs: 50 });
    expect((await postOrder(given.url, 'd2', order)).status).toBe(201);
    expect(given.workflow.settledWaits, 'respondWithinMs: 50 must reach workflow.settled as 50').toEqual([
      50,
    ]);
  });
});

describe('the contract edges: the body', () => {
  it('answers 400 for a sku or customer that is missing or not a string, and starts nothing', async () => {
    const { url, workflow } = await setup();
    const bad: unknown[] = [
      { customer: 'ada', quantity: 1 },
      { ...order, sku: 12345 },
      { ...order, sku: null },
      { ...order, sku: ['tea-1'] },
      { ...order, customer: 42 },
      { customer: 'ada', sku: 'tea-1' },
    ];
    for (const [i, body] of bad.entries()) {
      const r = await postOrder(url, `field-${i}`, body);
      expect(r.status, `the body ${JSON.stringify(body)} must be refused with 400`).toBe(400);
    }
    expect(workflow.attempted, 'no invalid order may start').toHaveLength(0);
  });

  it('answers 413 for a body over MAX_BODY_BYTES sent in chunks without Content-Length', async () => {
    const { url, workflow } = await setup();
    const body = JSON.stringify({ ...order, customer: 'x'.repeat(MAX_BODY_BYTES) });
    const half = Math.floor(body.length / 2);
    const r = await postChunked(url, 'chunked', [body.slice(0, half), body.slice(half)]);
    expectError(r, 413, `a body of ${body.length} bytes sent in chunks, with no Content-Length,`);
    expect(workflow.attempted, 'a 413 starts nothing').toHaveLength(0);
  });
});

describe('the contract edges: the limits themselves are allowed', () => {
  it('accepts a customer of 1 and of 100 characters, and a body of exactly MAX_BODY_BYTES bytes, sent whole or in chunks', async () => {
    const { url } = await setup();
    for (const customer of ['a', 'c'.repeat(100)]) {
      const r = await postOrder(url, `len-${customer.length}`, { ...order, customer });
      expect(r.status, `a customer of ${customer.length} characters is within "1 to 100 characters"`).toBe(
        201,
      );
    }
    // JSON allows whitespace after the value: pad a valid order to exactly the limit.
    const json = JSON.stringify({ ...order, customer: 'max' });
    const body = json + ' '.repeat(MAX_BODY_BYTES - Buffer.byteLength(json));
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    const whole = await postOrder(url, 'exact-whole', body);
    expect(
      whole.status,
      `a body of exactly ${MAX_BODY_BYTES} bytes (with Content-Length) is not "larger than" the limit`,
    ).toBe(201);
    const half = Math.floor(body.length / 2);
    const chunked = await postChunked(url, 'exact-chunked', [body.slice(0, half), body.slice(half)]);
    expect(
      chunked.status,
      `a body of exactly ${MAX_BODY_BYTES} bytes sent in chunks is not "larger than" the limit`,
    ).toBe(201);
  });
});

describe('the contract edges: routes and failures', () => {
  it('routes only /orders and /orders/:id exactly: a longer, shorter or prefixed path is 404', async () => {
    const { url } = await setup();
    const posted = await postOrder(url, 'r1', order);
    const id = String(posted.body.id);
    expect((await getOrder(url, id)).status, 'the order itself is there').toBe(200);
    for (const path of [`/orders/${id}/x`, `/v1/orders/${id}`, `/orders${id}`, '/ordersx', '/orders/']) {
      expectError(await call(url, 'GET', path), 404, `GET ${path}`);
    }
    expectError(await call(url, 'POST', `/orders/${id}/x`), 404, `POST /orders/${id}/x`);
  });

  it('answers 503 when the workflow cannot read an order, or Redis cannot be reached for a key', async () => {
    const { url, workflow } = await setup();
    workflow.getFailure = new Error('Redis is unreachable');
    expectError(await getOrder(url, 'any-order'), 503, 'GET /orders/:id while the workflow cannot read');

    const dead = connection(redis.url);
    await dead.ping();
    dead.disconnect();
    const cut = new RecordingWorkflow();
    const cutUrl = await startService({ redis: dead, workflow: cut, keyPrefix: uniquePrefix() });
    expectError(await postOrder(cutUrl, 'r2', order), 503, 'POST /orders while Redis is unreachable');
    expect(cut.attempted, 'no order may start when its key cannot be claimed').toHaveLength(0);
  });

  it('every error response is JSON { "error": "<what went wrong>" }', async () => {
    const { url, workflow } = await setup();
    expectError(await postOrder(url, undefined, order), 400, 'a POST without Idempotency-Key');
    expectError(await postOrder(url, 'a b', order), 400, 'a malformed Idempotency-Key');
    expectError(await postOrder(url, 'e1', 'not json'), 400, 'a body that is not JSON');
    expectError(await postOrder(url, 'e1', '[1,2]'), 400, 'a body that is not an object');
    expectError(await postOrder(url, 'e1', { ...order, coupon: 'FREE' }), 400, 'a body with another field');
    expectError(await postOrder(url, 'e1', { ...order, customer: '' }), 400, 'an empty customer');
    expectError(await postOrder(url, 'e1', { ...order, sku: 'tea 1' }), 400, 'a sku with a space');
    expectError(await postOrder(url, 'e1', { ...order, quantity: 0 }), 400, 'quantity 0');
    expectError(
      await postOrder(url, 'e1', { ...order, customer: 'x'.repeat(MAX_BODY_BYTES) }),
      413,
      `a body over ${MAX_BODY_BYTES} bytes`,
    );

    expect((await postOrder(url, 'e2', order)).status).toBe(201);
    expectError(await postOrder(url, 'e2', { ...order, quantity: 3 }), 422, 'the key e2 with another order');

    const gate = deferred<void>();
    workflow.gate = gate.promise;
    const first = postOrder(url, 'e3', order);
    await waitFor('the first request to start its order', () => workflow.starts.length === 2);
    expectError(await postOrder(url, 'e3', order), 409, 'the key e3 while its first request runs');
    gate.resolve();
    expect((await first).status).toBe(201);
    workflow.gate = undefined;

    workflow.startFailure = new Error('Redis is unreachable');
    expectError(await postOrder(url, 'e4', order), 503, 'a workflow that cannot start the order');
    workflow.startFailure = undefined;

    expectError(await getOrder(url, 'no-such-order'), 404, 'GET of an unknown order');
    expectError(await call(url, 'PUT', '/orders'), 405, 'PUT /orders');
    expectError(await call(url, 'DELETE', '/orders/abc'), 405, 'DELETE /orders/abc');
    expectError(await call(url, 'GET', '/nope'), 404, 'GET /nope');
  });
});
