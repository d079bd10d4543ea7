/**
 * The Idempotency-Key semantics of `POST /orders` and the routes, over a scripted workflow (so the
 * test decides what the saga does) and a real Redis for the keys.
 */
import { describe, expect, it } from 'vitest';
import { deferred, ManualClock, useRedis, waitFor } from '../../../src/testing/index.js';
import {
  connection,
  getOrder,
  type HttpReply,
  postOrder,
  ScriptedWorkflow,
  startService,
  uniquePrefix,
} from './harness.js';
import { MAX_BODY_BYTES, type OrderServiceOptions } from './service.js';

const redis = useRedis();
const order = { customer: 'ada', sku: 'tea-1', quantity: 2 };

async function setup(options: Partial<OrderServiceOptions> = {}) {
  const workflow = new ScriptedWorkflow();
  const prefix = uniquePrefix();
  const client = connection(redis.url);
  const url = await startService({ redis: client, workflow, keyPrefix: prefix, ...options });
  return { workflow, url, prefix, client };
}

const same = (a: HttpReply, b: HttpReply) => ({ status: a.status, body: a.body }) as unknown;

describe('POST /orders: the key and the body are checked first', () => {
  it('answers 400 without an Idempotency-Key, and starts nothing', async () => {
    const { url, workflow } = await setup();
    const r = await postOrder(url, undefined, order);
    expect(r.status, 'a POST without Idempotency-Key must be refused with 400').toBe(400);
    expect(typeof r.body.error, 'the 400 must say what is wrong in { error }').toBe('string');
    expect(workflow.starts, 'no order may start without a key').toHaveLength(0);
  });

  it('answers 400 for a malformed key: empty, too long, not printable ASCII, a quote or backslash inside', async () => {
    const { url, workflow } = await setup();
    for (const key of ['""', 'x'.repeat(256), '"x"y"', 'a b', 'caf\u00e9', '"a\\b"']) {
      const r = await postOrder(url, key, order);
      expect(
        r.status,
        `Idempotency-Key ${JSON.stringify(key)} is malformed and must be refused with 400`,
      ).toBe(400);
    }
    expect((await postOrder(url, 'x'.repeat(255), order)).status, 'a 255-character key is fine').toBe(201);
    expect(workflow.orderCount, 'only the well-formed key ran').toBe(1);
  });

  it('treats the quoted form "k" (the draft sf-string) and the bare form k as the same key', async () => {
    const { url, workflow } = await setup();
    const first = await postOrder(url, '"k-17"', order);
    const second = await postOrder(url, 'k-17', order);
    expect(first.status).toBe(201);
    expect(same(second, first), 'the bare key k-17 is the key of "k-17": its response is replayed').toEqual(
      same(first, first),
    );
    expect(workflow.orderCount, 'one order for the two forms of one key').toBe(1);
  });

  it('answers 400 for a body that is not a valid order, and starts nothing', async () => {
    const { url, workflow } = await setup();
    const bad: unknown[] = [
      'not json',
      '[1,2]',
      'null',
      { sku: 'tea-1', quantity: 1 },
      { ...order, customer: '' },
      { ...order, customer: 'x'.repeat(101) },
      { ...order, sku: 'tea 1' },
      { ...order, sku: 'x'.repeat(33) },
      { ...order, quantity: 0 },
      { ...order, quantity: 101 },
      { ...order, quantity: 1.5 },
      { ...order, quantity: '2' },
      { ...order, coupon: 'FREE' },
    ];
    for (const [i, body] of bad.entries()) {
      const r = await postOrder(url, `bad-${i}`, body);
      expect(r.status, `the body ${JSON.stringify(body)} must be refused with 400`).toBe(400);
    }
    const edge = await postOrder(url, 'edge', {
      customer: 'x'.repeat(100),
      sku: 'x'.repeat(32),
      quantity: 100,
    });
    expect(edge.status, 'customer of 100, sku of 32 characters and quantity 100 are allowed').toBe(201);
    expect(workflow.orderCount, 'no invalid order may start').toBe(1);
  });

  it('answers 413 for a body over MAX_BODY_BYTES', async () => {
    const { url, workflow } = await setup();
    const r = await postOrder(url, 'big', { ...order, customer: 'x'.repeat(MAX_BODY_BYTES) });
    expect(r.status, `a body over ${MAX_BODY_BYTES} bytes must be refused with 413`).toBe(413);
    expect(workflow.starts).toHaveLength(0);
  });

  it('stores nothing for a 400: the same key with a corrected body runs', async () => {
    const { url, workflow } = await setup();
    expect((await postOrder(url, 'fix-me', { ...order, quantity: 0 })).status).toBe(400);
    const fixed = await postOrder(url, 'fix-me', order);
    expect(fixed.status, 'a 400 is not stored: the corrected request with the same key must run (201)').toBe(
      201,
    );
    expect(workflow.orderCount).toBe(1);
  });
});

describe('POST /orders: the same key', () => {
  it('answers 201 with Location and the order, and replays it for the same key and body', async () => {
    const { url, workflow } = await setup();
    const first = await postOrder(url, 'k1', order);
    expect(first.status, 'an order final within respondWithinMs is answered 201').toBe(201);
    expect(first.body).toMatchObject({ ...order, state: 'shipped', amountCents: 2500 });
    const id = String(first.body.id);
    expect(first.headers.get('location'), 'Location names the order').toBe(`/orders/${id}`);
    expect(first.headers.get('idempotent-replayed'), 'a first response is not a replay').toBeNull();

    for (let i = 0; i < 3; i++) {
      const again = await postOrder(url, 'k1', order);
      expect(same(again, first), 'the same key and body must get the same status and body').toEqual(
        same(first, first),
      );
      expect(again.headers.get('location')).toBe(`/orders/${id}`);
      expect(again.headers.get('idempotent-replayed'), 'a replay says so: Idempotent-Replayed: true').toBe(
        'true',
      );
    }
    expect(workflow.starts, 'a replay must not start the order again').toHaveLength(1);
  });

  it('binds the key to the order, not to its spelling: reordered fields and spaces are the same request', async () => {
    const { url, workflow } = await setup();
    const first = await postOrder(url, 'k2', '{"customer":"ada","sku":"tea-1","quantity":2}');
    const again = await postOrder(url, 'k2', '{ "quantity": 2,\n  "sku": "tea-1", "customer": "ada" }');
    expect(same(again, first), 'the same order written differently is the same request: replayed').toEqual(
      same(first, first),
    );
    expect(workflow.orderCount).toBe(1);
  });

  it('answers 422 for the same key with a different order, and starts nothing', async () => {
    const { url, workflow } = await setup();
    expect((await postOrder(url, 'k3', order)).status).toBe(201);
    for (const other of [
      { ...order, quantity: 3 },
      { ...order, sku: 'tea-2' },
      { ...order, customer: 'bob' },
    ]) {
      const r = await postOrder(url, 'k3', other);
      expect(r.status, `key k3 is bound to the first order: ${JSON.stringify(other)} must get 422`).toBe(422);
    }
    expect(workflow.orderCount, 'a 422 starts nothing').toBe(1);
    expect((await postOrder(url, 'k3', order)).status, 'the bound order still replays').toBe(201);
  });

  it('keys are per prefix: the same key under two prefixes is two keys', async () => {
    const a = await setup();
    const b = await setup();
    expect((await postOrder(a.url, 'shared', order)).status).toBe(201);
    expect((await postOrder(b.url, 'shared', { ...order, quantity: 5 })).status).toBe(201);
  });

  it('stores a compensated order (a 201 that says why) and replays it: the key never orders again', async () => {
    const { url, workflow } = await setup();
    workflow.outcome = 'compensated';
    workflow.reason = 'payment declined';
    const first = await postOrder(url, 'k4', order);
    expect(first.status, 'a final order is a 201, compensated or not').toBe(201);
    expect(first.body).toMatchObject({ state: 'compensated', reason: 'payment declined' });
    workflow.outcome = 'shipped';
    workflow.reason = undefined;
    const again = await postOrder(url, 'k4', order);
    expect(same(again, first), 'the first result of a request that began is the result: replayed').toEqual(
      same(first, first),
    );
    expect(workflow.orderCount, 'a retry of a failed order must not order again').toBe(1);
  });

  it('answers 202 with Location for an order still running, replays that 202, and GET shows it now', async () => {
    const { url, workflow } = await setup();
    workflow.outcome = 'paid';
    const first = await postOrder(url, 'k5', order);
    expect(first.status, 'an order not final within respondWithinMs is answered 202').toBe(202);
    const id = String(first.body.id);
    expect(first.headers.get('location')).toBe(`/orders/${id}`);
    expect(first.body).toMatchObject({ id, state: 'paid' });

    const view = workflow.orders.get(id);
    if (view) workflow.orders.set(id, { ...view, state: 'shipped' });
    const again = await postOrder(url, 'k5', order);
    expect(same(again, first), 'the stored 202 is replayed as it was').toEqual(same(first, first));
    const now = await getOrder(url, id);
    expect(now.status).toBe(200);
    expect(now.body, 'GET must read the order as the workflow has it now, not a copy').toMatchObject({
      id,
      state: 'shipped',
    });
    expect(workflow.orderCount).toBe(1);
  });

  it('answers 409 with Retry-After while the first request with the key is in flight', async () => {
    const { url, workflow } = await setup();
    const gate = deferred<void>();
    workflow.gate = gate.promise;
    const first = postOrder(url, 'k6', order);
    await waitFor('the first request to start its order', () => workflow.starts.length === 1);
    const second = await postOrder(url, 'k6', order);
    expect(second.status, 'a request while the first with its key runs must get 409').toBe(409);
    expect(second.headers.get('retry-after'), '409 says when to retry').toBe('1');
    expect(workflow.starts, 'the second request must not run').toHaveLength(1);
    gate.resolve();
    const done = await first;
    expect(done.status).toBe(201);
    const third = await postOrder(url, 'k6', order);
    expect(same(third, done), 'after the first finishes, the key replays its response').toEqual(
      same(done, done),
    );
  });

  it('20 concurrent identical requests start one order; retried on 409, all end with the same response', async () => {
    const { url, workflow } = await setup();
    const gate = deferred<void>();
    workflow.gate = gate.promise;
    const racing = Array.from({ length: 20 }, () => postOrder(url, 'k7', order));
    await waitFor('one request to start the order', () => workflow.starts.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    gate.resolve();
    const replies = await Promise.all(racing);
    expect(workflow.orderCount, '20 concurrent requests with one key must make exactly one order').toBe(1);
    expect(workflow.starts, '...and start it once').toHaveLength(1);
    const finals = await Promise.all(
      replies.map(async (r) => {
        expect([201, 409], 'each concurrent request gets the response or a 409').toContain(r.status);
        return r.status === 409 ? postOrder(url, 'k7', order) : r;
      }),
    );
    const first = finals[0] as HttpReply;
    for (const r of finals)
      expect(same(r, first), 'every request ends with the same response').toEqual(same(first, first));
  });

  it('a key held longer than leaseMs (its server died) is taken over with the same order id', async () => {
    const clock = new ManualClock(1_000_000);
    const prefix = uniquePrefix();
    const hung = new ScriptedWorkflow();
    hung.gate = new Promise(() => {}); // the first server never answers: it "died"
    const a = await startService({
      redis: connection(redis.url),
      workflow: hung,
      keyPrefix: prefix,
      leaseMs: 5000,
      clock,
    });
    const survivor = new ScriptedWorkflow();
    const b = await startService({
      redis: connection(redis.url),
      workflow: survivor,
      keyPrefix: prefix,
      leaseMs: 5000,
      clock,
    });
    void postOrder(a, 'k8', order).catch(() => {});
    await waitFor('the first server to start the order', () => hung.starts.length === 1);
    clock.advance(4999);
    expect((await postOrder(b, 'k8', order)).status, 'inside the lease the key is held: 409').toBe(409);
    clock.advance(1);
    const taken = await postOrder(b, 'k8', order);
    expect(taken.status, 'after leaseMs the key is taken over and the request runs').toBe(201);
    expect(
      survivor.starts[0]?.orderId,
      'the takeover must resume the same order id, not make a second order',
    ).toBe(hung.starts[0]?.orderId);
    expect(taken.body.id).toBe(hung.starts[0]?.orderId);
  });

  it('answers 503 when the workflow cannot start the order, stores nothing, and a retry runs the same order id', async () => {
    const { url, workflow } = await setup();
    workflow.startFailure = new Error('Redis is unreachable');
    const failed = await postOrder(url, 'k9', order);
    expect(failed.status, 'a workflow that cannot start answers 503').toBe(503);
    expect(failed.headers.get('retry-after')).toBe('1');
    workflow.startFailure = undefined;
    const retried = await postOrder(url, 'k9', order);
    expect(retried.status, 'a 503 is not stored: the retry with the same key must run (201)').toBe(201);
    expect(retried.headers.get('idempotent-replayed'), 'that 201 is a run, not a replay').toBeNull();
    expect(workflow.attempted, 'start was tried twice').toHaveLength(2);
    expect(
      workflow.attempted[1],
      'the retry must start the same order id (the first may exist already)',
    ).toBe(workflow.attempted[0]);
  });

  it('remembers a key for keyTtlMs from its first use, then forgets it', async () => {
    const { url, client, prefix, workflow } = await setup({ keyTtlMs: 400 });
    expect((await postOrder(url, 'k10', order)).status).toBe(201);
    const ttl = await client.pttl(`${prefix}idem:k10`);
    expect(ttl, `the record ${prefix}idem:k10 must expire within keyTtlMs (400 ms)`).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(400);
    expect((await postOrder(url, 'k10', order)).headers.get('idempotent-replayed'), 'still remembered').toBe(
      'true',
    );
    const later = await waitFor(
      'the key to be forgotten after keyTtlMs',
      async () => {
        const r = await postOrder(url, 'k10', { ...order, quantity: 7 });
        return r.status === 201 ? r : undefined;
      },
      { timeoutMs: 5000, intervalMs: 100 },
    );
    expect(later.body.quantity, 'a forgotten key is new: the new order runs').toBe(7);
    expect(workflow.orderCount).toBe(2);
  });
});

describe('GET /orders/:id and the other routes', () => {
  it('GET answers 200 with the order as the workflow has it now, 404 for none', async () => {
    const { url, workflow } = await setup();
    workflow.outcome = 'pending';
    const posted = await postOrder(url, 'g1', order);
    const id = String(posted.body.id);
    for (const state of ['reserved', 'compensating', 'compensated'] as const) {
      const view = workflow.orders.get(id);
      if (view) workflow.orders.set(id, { ...view, state, reason: 'payment declined' });
      const r = await getOrder(url, id);
      expect(r.status).toBe(200);
      expect(r.body, `GET must show the state now: ${state}`).toMatchObject({ id, state });
    }
    expect((await getOrder(url, 'no-such-order')).status, 'an unknown order is 404').toBe(404);
  });

  it('405 with Allow for another method, 404 for another path', async () => {
    const { url } = await setup();
    const put = await fetch(`${url}/orders`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
    const del = await fetch(`${url}/orders/abc`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET');
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });
});
