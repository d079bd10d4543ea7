/**
 * YOUR service over the real workflow (`workflow.ts`): the fake stock, payment and shipping
 * services are real HTTP servers behind fault proxies, and the tests make them refuse, go down and
 * go slow. Steps have 250 ms per attempt and 3 attempts; the service answers within 3000 ms (500 where a test wants a 202).
 */
import { describe, expect, it } from 'vitest';
import { useRedis, waitFor } from '../../../src/testing/index.js';
import { getOrder, postOrder, startStack } from './harness.js';

const redis = useRedis();

async function finalOrder(url: string, id: string, timeoutMs = 8000) {
  return waitFor(
    `order ${id} to be final (shipped or compensated)`,
    async () => {
      const r = await getOrder(url, id);
      return r.body.state === 'shipped' || r.body.state === 'compensated' ? r.body : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

describe('the saga behind the API', () => {
  it('ships an order: stock taken, payment charged to the cent, shipment made, events published', async () => {
    const { url, fakes, redis: client, prefix } = await startStack(redis.url, { 'tea-1': 10 });
    const r = await postOrder(url, 'happy', { customer: 'ada', sku: 'tea-1', quantity: 3 });
    expect(r.status, 'healthy services finish within respondWithinMs: 201').toBe(201);
    expect(r.body).toMatchObject({ state: 'shipped', amountCents: 3750 });
    const id = String(r.body.id);
    expect(fakes.available('tea-1'), '3 of 10 units are taken').toBe(7);
    expect(fakes.chargedCents(), 'the payment is 3 × 1250 cents').toBe(3750);
    expect(fakes.shipping.entries.get(id)?.active, 'the shipment exists').toBe(true);
    await waitFor('OrderPlaced and OrderCompleted to reach the events stream', async () => {
      const events = await client.xrange(`${prefix}events`, '-', '+');
      const types = events.map(([, f]) => f[f.indexOf('type') + 1]);
      return types.includes('OrderPlaced') && types.includes('OrderCompleted');
    });
  });

  it('payment declined: 201 compensated, stock released, nothing charged, GET says why', async () => {
    const { url, fakes } = await startStack(redis.url, { 'tea-1': 10 });
    const r = await postOrder(url, 'declined', { customer: 'declined-bob', sku: 'tea-1', quantity: 2 });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ state: 'compensated', reason: 'payment declined' });
    const view = await getOrder(url, String(r.body.id));
    expect(view.body, 'GET says the order was compensated and why').toMatchObject({
      state: 'compensated',
      reason: 'payment declined',
    });
    expect(fakes.available('tea-1'), 'the reserved units are back').toBe(10);
    expect(fakes.chargedCents()).toBe(0);
  });

  it('payment down: 202 while it compensates (a charge may have happened), compensated once payment is back', async () => {
    const { url, fakes } = await startStack(redis.url, { 'tea-1': 10 }, { respondWithinMs: 500 });
    fakes.payment.down();
    const r = await postOrder(url, 'down', { customer: 'ada', sku: 'tea-1', quantity: 1 });
    expect(r.status, 'not final within respondWithinMs: 202').toBe(202);
    const id = String(r.body.id);
    expect(r.headers.get('location')).toBe(`/orders/${id}`);
    const during = await waitFor('the order to be compensating', async () => {
      const view = (await getOrder(url, id)).body;
      return view.state === 'compensating' ? view : undefined;
    });
    expect(String(during.reason), 'GET says the payment step failed').toMatch(/^payment /);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await getOrder(url, id)).body.state, 'while payment is down the refund cannot be confirmed').toBe(
      'compensating',
    );
    fakes.payment.up();
    const done = await finalOrder(url, id);
    expect(done.state).toBe('compensated');
    expect(fakes.available('tea-1'), 'stock released').toBe(10);
    expect(fakes.chargedCents(), 'nothing charged').toBe(0);
    const replay = await postOrder(url, 'down', { customer: 'ada', sku: 'tea-1', quantity: 1 });
    expect(replay.status, 'the key replays the stored 202, it does not order again').toBe(202);
    expect(fakes.payment.entries.size, 'payment saw one order id at most').toBeLessThanOrEqual(1);
  });

  it('slow shipping past its deadline: the order is compensated, shipment cancelled, refunded, restocked', async () => {
    const { url, fakes } = await startStack(redis.url, { 'tea-1': 10 });
    fakes.shipping.delayMs = 1200;
    const r = await postOrder(url, 'slow', { customer: 'ada', sku: 'tea-1', quantity: 4 });
    const id = String(r.body.id);
    const done = await finalOrder(url, id);
    expect(done).toMatchObject({
      state: 'compensated',
      reason: 'shipping timed out after 3 attempts of 250 ms',
    });
    await waitFor(
      'every shipment request, the late ones too, to be handled',
      () => fakes.shipping.received >= 4 && fakes.shipping.handled === fakes.shipping.received,
      { timeoutMs: 5000 },
    );
    expect(
      fakes.shipping.entries.get(id)?.active ?? false,
      'no shipment is left for a compensated order',
    ).toBe(false);
    expect(fakes.chargedCents(), 'refunded to the cent').toBe(0);
    expect(fakes.available('tea-1'), 'restocked').toBe(10);
  });

  it('out of stock: compensated with nothing to undo, and the next order for what is left ships', async () => {
    const { url, fakes } = await startStack(redis.url, { 'tea-1': 2 });
    const big = await postOrder(url, 'big', { customer: 'ada', sku: 'tea-1', quantity: 3 });
    expect(big.body).toMatchObject({ state: 'compensated', reason: 'out of stock' });
    expect(fakes.payment.received, 'payment is never called for an order without stock').toBe(0);
    const fits = await postOrder(url, 'fits', { customer: 'ada', sku: 'tea-1', quantity: 2 });
    expect(fits.body.state).toBe('shipped');
    expect(fakes.available('tea-1')).toBe(0);
  });
});
