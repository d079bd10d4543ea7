import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../src/testing/index.js';
import type { Aggregation } from './api-gateway.js';
import { type Handler, Harness, rawJson } from './harness.js';

let h = new Harness();
afterEach(async () => {
  await h.closeAll();
  h = new Harness();
});

const json =
  (value: unknown, status = 200): Handler =>
  (req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  };

const dashboard = (deadlineMs: number, extra: Partial<Aggregation> = {}): Aggregation => ({
  path: '/dashboard',
  deadlineMs,
  legs: [
    { name: 'user', service: 'users', path: '/users/me' },
    { name: 'orders', service: 'orders', path: '/orders?mine=1' },
    { name: 'stock', service: 'inventory', path: '/stock' },
  ],
  ...extra,
});

/** Three services; `handlers` overrides how each answers. */
async function threeServices(handlers: Partial<Record<'users' | 'orders' | 'inventory', Handler>> = {}) {
  const users = await h.service('users', handlers.users ?? json({ id: 'user-42' }));
  const orders = await h.service('orders', handlers.orders ?? json([{ id: 1 }]));
  const inventory = await h.service('inventory', handlers.inventory ?? json({ apples: 3 }));
  h.register('users', users);
  h.register('orders', orders);
  h.register('inventory', inventory);
  return { users, orders, inventory };
}

describe('aggregation', () => {
  it('calls every leg in parallel and answers 200 with data, partial: false and no errors', async () => {
    // Each service answers only once all three requests have arrived: legs called one after the
    // other would each wait for the next, and all time out.
    const waiting: (() => void)[] = [];
    const barrier =
      (value: unknown): Handler =>
      (req, res) => {
        req.resume();
        waiting.push(() =>
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value)),
        );
        if (waiting.length === 3) for (const answer of waiting.splice(0)) answer();
      };
    const { users, orders, inventory } = await threeServices({
      users: barrier({ id: 'user-42' }),
      orders: barrier([{ id: 1 }]),
      inventory: barrier({ apples: 3 }),
    });
    const { port } = await h.gateway({ routes: [], aggregations: [dashboard(3000)] });
    const res = await rawJson(port, {
      path: '/dashboard',
      headers: { authorization: `Bearer ${await h.token()}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.json, 'every leg’s JSON under its name').toEqual({
      data: { user: { id: 'user-42' }, orders: [{ id: 1 }], stock: { apples: 3 } },
      partial: false,
      errors: {},
    });
    expect(users.seen[0]?.url, 'each leg’s own path').toBe('/users/me');
    expect(orders.seen[0]?.url).toBe('/orders?mine=1');
    expect(inventory.seen[0]?.method, 'legs are GETs').toBe('GET');
    expect(users.seen[0]?.headers['x-authenticated-subject'], 'legs carry the caller’s subject').toBe(
      'user-42',
    );
    expect(users.seen[0]?.headers.authorization, 'and not the token').toBeUndefined();
  });

  it('answers by the deadline with partial results when a leg is slow, marking it as a timeout', async () => {
    const { inventory } = await threeServices({
      inventory: (req, res) => {
        req.resume();
        h.later(6000, () => res.end('{}'));
      },
    });
    const { port } = await h.gateway({ routes: [], aggregations: [dashboard(800, { public: true })] });
    const started = performance.now();
    const res = await rawJson(port, { path: '/dashboard' });
    const elapsed = performance.now() - started;
    expect(res.status, 'two of three legs answered: still 200').toBe(200);
    expect(res.json).toEqual({
      data: { user: { id: 'user-42' }, orders: [{ id: 1 }] },
      partial: true,
      errors: { stock: 'timeout' },
    });
    expect(elapsed, 'the answer came at the 800 ms deadline, not after the 6 s leg').toBeLessThan(4500);
    await waitFor('the slow leg’s request to be abandoned', () => inventory.abandoned.length === 1);
  });

  it('says why each failed leg is missing: unavailable, status <n>, invalid json', async () => {
    const users = await h.service('users', json({ error: 'nope' }, 404));
    const orders = await h.service('orders', json({ error: 'boom' }, 500));
    const inventory = await h.service('inventory', (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"apples": 3');
    });
    const ok = await h.service('prices', json({ apples: 0.5 }));
    h.register('users', users);
    h.register('orders', orders);
    h.register('inventory', inventory);
    h.register('prices', ok);
    h.register('reviews', { port: await h.deadPort() });
    const aggregation: Aggregation = {
      path: '/everything',
      deadlineMs: 3000,
      public: true,
      legs: [
        { name: 'user', service: 'users', path: '/' },
        { name: 'orders', service: 'orders', path: '/' },
        { name: 'stock', service: 'inventory', path: '/' },
        { name: 'prices', service: 'prices', path: '/' },
        { name: 'reviews', service: 'reviews', path: '/' },
        { name: 'ghost', service: 'nobody-runs-this', path: '/' },
      ],
    };
    const { port } = await h.gateway({ routes: [], aggregations: [aggregation] });
    const res = await rawJson(port, { path: '/everything' });
    expect(res.status, 'one leg succeeded: 200').toBe(200);
    expect(res.json).toEqual({
      data: { prices: { apples: 0.5 } },
      partial: true,
      errors: {
        user: 'status 404',
        orders: 'status 500',
        stock: 'invalid json',
        reviews: 'unavailable',
        ghost: 'unavailable',
      },
    });
  });

  it('answers 502 with the same body shape when every leg failed', async () => {
    await threeServices({
      users: json({}, 503),
      orders: json({}, 500),
      inventory: (req, res) => {
        req.resume();
        res.end('not json');
      },
    });
    const { port } = await h.gateway({ routes: [], aggregations: [dashboard(3000, { public: true })] });
    const res = await rawJson(port, { path: '/dashboard' });
    expect(res.status, 'nothing to show: 502').toBe(502);
    expect(res.json).toEqual({
      data: {},
      partial: true,
      errors: { user: 'status 503', orders: 'status 500', stock: 'invalid json' },
    });
  });

  it('needs a token unless public, answers GET only, and wins over a route prefix', async () => {
    const { users, orders, inventory } = await threeServices();
    const web = await h.service('web');
    h.register('web', web);
    const { port } = await h.gateway({
      routes: [{ prefix: '/', service: 'web', timeoutMs: 1000, public: true }],
      aggregations: [dashboard(3000)],
    });
    const anonymous = await rawJson(port, { path: '/dashboard' });
    expect(anonymous.status, 'no token: 401').toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    expect(users.seen.length + orders.seen.length + inventory.seen.length, 'no leg was called').toBe(0);
    const post = await rawJson(port, {
      method: 'POST',
      path: '/dashboard',
      headers: { authorization: `Bearer ${await h.token()}` },
    });
    expect(post.status, 'an aggregation answers GET only').toBe(405);
    expect(post.headers.allow).toBe('GET');
    const ok = await rawJson(port, {
      path: '/dashboard?ignored=1',
      headers: { authorization: `Bearer ${await h.token()}` },
    });
    expect(ok.status, 'the query string does not change the match').toBe(200);
    expect(ok.json.partial).toBe(false);
    expect(web.seen, 'the aggregation path wins over the "/" route').toHaveLength(0);
  });

  it('abandons the legs when the client disconnects', async () => {
    const hang: Handler = (req) => req.resume();
    const { users, orders } = await threeServices({ users: hang, orders: hang });
    const { port } = await h.gateway({ routes: [], aggregations: [dashboard(5000, { public: true })] });
    const req = request({ host: '127.0.0.1', port, path: '/dashboard', agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor('both slow legs to be called', () => users.seen.length === 1 && orders.seen.length === 1);
    req.destroy();
    await waitFor(
      'both slow legs to be abandoned',
      () => users.abandoned.length === 1 && orders.abandoned.length === 1,
      { timeoutMs: 5000 },
    );
  });
});
