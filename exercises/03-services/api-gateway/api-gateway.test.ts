import { createHash, generateKeyPairSync } from 'node:crypto';
import { request } from 'node:http';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, waitFor } from '../../../src/testing/index.js';
import { createApiGateway } from './api-gateway.js';
import { AUDIENCE, Harness, ISSUER, raw, rawJson, SECRET } from './harness.js';
import { StaticSource } from './instance-source.js';

let h = new Harness();
afterEach(async () => {
  await h.closeAll();
  h = new Harness();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('routing', () => {
  it('picks the longest prefix that matches whole path segments; no match is a 404 with a JSON body', async () => {
    const users = await h.service('users');
    const admin = await h.service('admin');
    h.register('users', users);
    h.register('admin', admin);
    // The shorter prefix is listed first: order must not matter, length must.
    const { port } = await h.gateway({
      routes: [
        { prefix: '/users', service: 'users', timeoutMs: 2000, public: true },
        { prefix: '/users/admin', service: 'admin', timeoutMs: 2000, public: true },
      ],
    });
    expect((await rawJson(port, { path: '/users' })).json.service, '/users itself').toBe('users');
    expect((await rawJson(port, { path: '/users/7?x=1' })).json.url, 'a path below it, query kept').toBe(
      '/users/7?x=1',
    );
    expect((await rawJson(port, { path: '/users/admin/9' })).json.service, 'the longer prefix wins').toBe(
      'admin',
    );
    expect((await rawJson(port, { path: '/users/administrators' })).json.service, 'segment, not string').toBe(
      'users',
    );
    for (const path of ['/usersettings', '/users-admin', '/', '/orders/1']) {
      const res = await rawJson(port, { path });
      expect(res.status, `${path} matches no route on whole segments: 404`).toBe(404);
      expect(res.headers['content-type'], 'the 404 is JSON').toMatch(/application\/json/);
      expect(res.json, 'with a JSON body').toBeTypeOf('object');
    }
    expect(users.seen.length + admin.seen.length, 'only the 4 routed requests reached a service').toBe(4);
  });

  it('a "/" route catches everything else; stripPrefix removes the prefix before forwarding', async () => {
    const web = await h.service('web');
    const orders = await h.service('orders');
    h.register('web', web);
    h.register('orders', orders);
    const { port } = await h.gateway({
      routes: [
        { prefix: '/', service: 'web', timeoutMs: 2000, public: true },
        { prefix: '/api/orders', service: 'orders', timeoutMs: 2000, public: true, stripPrefix: true },
      ],
    });
    expect((await rawJson(port, { path: '/anything/else?q=1' })).json.url).toBe('/anything/else?q=1');
    expect((await rawJson(port, { path: '/api/orders/7?expand=items' })).json.url, 'prefix stripped').toBe(
      '/7?expand=items',
    );
    expect((await rawJson(port, { path: '/api/orders' })).json.url, 'the prefix alone becomes /').toBe('/');
    expect((await rawJson(port, { path: '/api/ordersx' })).json.service, 'not a segment match: web').toBe(
      'web',
    );
  });

  it('resolves dot segments before matching: /public/../private does not skip authentication', async () => {
    const pub = await h.service('public');
    const priv = await h.service('private');
    h.register('public', pub);
    h.register('private', priv);
    const { port } = await h.gateway({
      routes: [
        { prefix: '/public', service: 'public', timeoutMs: 2000, public: true },
        { prefix: '/private', service: 'private', timeoutMs: 2000 },
      ],
    });
    for (const path of [
      '/public/../private/secrets',
      '/public/%2e%2e/private/secrets',
      '/public/./../private/secrets',
    ]) {
      const res = await raw(port, { path });
      expect(res.status, `${path} is /private/secrets: it needs a token`).toBe(401);
    }
    expect(pub.seen.length + priv.seen.length, 'no service was called').toBe(0);
    const ok = await rawJson(port, {
      path: '/public/../private/secrets?a=1',
      headers: bearer(await h.token()),
    });
    expect(ok.json.url, 'the normalised path is what goes upstream').toBe('/private/secrets?a=1');
    const bad = await raw(port, { path: 'http://evil.example/private/x' });
    expect(bad.status, 'a request target that does not start with "/": 400').toBe(400);
    expect(priv.seen, 'still only the one authenticated call').toHaveLength(1);
  });
});

describe('authentication at the edge', () => {
  async function privateGateway() {
    const users = await h.service('users');
    h.register('users', users);
    const gw = await h.gateway({ routes: [{ prefix: '/users', service: 'users', timeoutMs: 2000 }] });
    return { users, ...gw };
  }

  it('answers 401 with WWW-Authenticate: Bearer when no bearer token is sent, without calling upstream', async () => {
    const { users, port } = await privateGateway();
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer' },
    ];
    for (const headers of attempts) {
      const res = await rawJson(port, { path: '/users/1', headers });
      expect(res.status, `${JSON.stringify(headers)}: no bearer token, 401`).toBe(401);
      expect(res.headers['www-authenticate'], 'RFC 6750 §3: the challenge, no error code').toBe('Bearer');
      expect(res.json, 'a JSON error body').toBeTypeOf('object');
    }
    expect(users.seen, 'an unauthenticated request never reaches the service').toHaveLength(0);
  });

  it('refuses every token that fails a check with 401 invalid_token, without calling upstream', async () => {
    const { users, port } = await privateGateway();
    const now = Math.floor(h.clock.now() / 1000);
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now + 300 })}.`;
    const bad: Record<string, string> = {
      'signed with another secret': await h.token({}, { key: new TextEncoder().encode('x'.repeat(40)) }),
      'expired a second ago': await h.token({ exp: now - 1 }),
      'not valid before a minute from now': await h.token({ nbf: now + 60 }),
      'for another audience': await h.token({ aud: 'billing-api' }),
      'without an audience': await h.token({ aud: undefined }),
      'from another issuer': await h.token({ iss: 'https://evil.example' }),
      'without exp (valid for ever)': await h.token({ exp: undefined }),
      'without sub': await h.token({ sub: undefined }),
      'with an empty sub': await h.token({ sub: '' }),
      'HS512 with the right secret (alg not allowed)': await h.token({}, { alg: 'HS512' }),
      'HS384 with the right secret (alg not allowed)': await h.token({}, { alg: 'HS384' }),
      'alg none': unsigned,
      'not a JWT': 'not-a-token',
    };
    for (const [what, token] of Object.entries(bad)) {
      const res = await rawJson(port, { path: '/users/1', headers: bearer(token) });
      expect(res.status, `a token ${what}: 401`).toBe(401);
      expect(res.headers['www-authenticate'], `a token ${what}: RFC 6750 error code`).toBe(
        'Bearer error="invalid_token"',
      );
    }
    expect(users.seen, 'no refused token may reach the service').toHaveLength(0);
  });

  it('checks exp and nbf on the injected clock, with no tolerance', async () => {
    const { users, port } = await privateGateway();
    const now = Math.floor(h.clock.now() / 1000);
    const token = await h.token({ nbf: now + 10, exp: now + 70 });
    const at = async () => (await raw(port, { path: '/users/1', headers: bearer(token) })).status;
    expect(await at(), 'before nbf').toBe(401);
    h.clock.advance(9_999);
    expect(await at(), 'still a millisecond before nbf').toBe(401);
    h.clock.advance(1);
    expect(await at(), 'at nbf').toBe(200);
    h.clock.advance(59_999);
    expect(await at(), 'just before exp').toBe(200);
    h.clock.advance(1);
    expect(await at(), 'at exp the token has expired').toBe(401);
    expect(users.seen, 'only the two valid requests reached the service').toHaveLength(2);
  });

  it('verifies with a public key: ES256 accepted, HS256 signed with the public key refused', async () => {
    const users = await h.service('users');
    h.register('users', users);
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { port } = await h.gateway({
      routes: [{ prefix: '/users', service: 'users', timeoutMs: 2000 }],
      auth: { key: publicKey, issuer: ISSUER, audience: [AUDIENCE, 'other'], algorithms: ['ES256'] },
    });
    const now = Math.floor(h.clock.now() / 1000);
    const claims = { sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: now + 60 };
    const good = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    const pem = new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(pem);
    const ok = await rawJson(port, { path: '/users/me', headers: bearer(good) });
    expect(ok.status, 'a valid ES256 token').toBe(200);
    expect(ok.json.headers['x-authenticated-subject']).toBe('alice');
    const res = await raw(port, { path: '/users/me', headers: bearer(confused) });
    expect(res.status, 'HS256 "signed" with the public key (key confusion) is refused').toBe(401);
    expect(users.seen).toHaveLength(1);
  });

  it('tells the upstream who the caller is, and never forwards the token or a client-sent subject', async () => {
    const { port } = await privateGateway();
    const token = await h.token({ sub: 'user-42' });
    const res = await rawJson(port, {
      path: '/users/me',
      headers: { authorization: `bearer ${token}`, 'x-authenticated-subject': 'admin' },
    });
    expect(res.status, 'the scheme name is case-insensitive').toBe(200);
    expect(res.json.headers['x-authenticated-subject'], 'the token’s sub, not the client’s claim').toBe(
      'user-42',
    );
    expect(res.json.headers.authorization, 'the token stops at the gateway').toBeUndefined();
  });

  it('public routes need no token, and still drop a client-sent X-Authenticated-Subject and Authorization', async () => {
    const catalog = await h.service('catalog');
    h.register('catalog', catalog);
    const { port } = await h.gateway({
      routes: [{ prefix: '/catalog', service: 'catalog', timeoutMs: 2000, public: true }],
    });
    const res = await rawJson(port, {
      path: '/catalog/items',
      headers: { 'x-authenticated-subject': 'admin', authorization: 'Bearer whatever' },
    });
    expect(res.status, 'no token needed on a public route').toBe(200);
    expect(res.json.headers['x-authenticated-subject'], 'a client cannot claim an identity').toBeUndefined();
    expect(res.json.headers.authorization, 'the gateway never forwards Authorization').toBeUndefined();
  });
});

describe('proxying', () => {
  async function publicGateway(name = 'svc', handle?: Parameters<Harness['service']>[1]) {
    const service = await h.service(name, handle);
    h.register(name, service);
    const gw = await h.gateway({ routes: [{ prefix: '/', service: name, timeoutMs: 2000, public: true }] });
    return { service, ...gw };
  }

  it('passes method, path, status, headers (several Set-Cookie) and a 1 MB body through unchanged', async () => {
    const { port } = await publicGateway('svc', (req, res) => {
      const hash = createHash('sha256');
      req.on('data', (chunk) => hash.update(chunk));
      req.on('end', () => {
        res.writeHead(201, { 'x-service': 'svc', 'set-cookie': ['s=1', 't=2'] });
        res.end(`${req.method} ${req.url} ${hash.digest('hex')}`);
      });
    });
    const body = Buffer.alloc(1_000_000, 'x');
    const res = await raw(port, { method: 'PUT', path: '/orders/7?expand=items&x=%20', body });
    expect(res.status, 'the upstream’s status').toBe(201);
    expect(res.headers['x-service']).toBe('svc');
    expect(res.headers['set-cookie'], 'both cookies, not merged').toEqual(['s=1', 't=2']);
    const digest = createHash('sha256').update(body).digest('hex');
    expect(res.body, 'method, path with query, exact body').toBe(
      `PUT /orders/7?expand=items&x=%20 ${digest}`,
    );
  });

  it('streams the response: the client gets the first bytes while the upstream is still writing', async () => {
    let finish = () => {};
    const { port } = await publicGateway('svc', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part;');
      finish = () => res.end('second part');
    });
    const text = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/stream', agent: false }, (res) => {
        let received = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          received += chunk;
          if (received === 'first part;') finish(); // only now does the upstream end
        });
        res.on('end', () => resolve(received));
      });
      req.on('error', reject);
      req.end();
    });
    expect(text, 'a gateway that buffers would wait for ever here').toBe('first part;second part');
  });

  it('drops hop-by-hop headers both ways, including every header Connection names', async () => {
    const { port } = await publicGateway('svc', (req, res) => {
      res.writeHead(200, {
        connection: 'X-Upstream-Hop',
        'x-upstream-hop': 'secret',
        'keep-alive': 'timeout=5',
        'proxy-authenticate': 'Basic',
        'x-kept': 'yes',
        'content-type': 'application/json',
      });
      res.end(JSON.stringify(req.headers));
    });
    const res = await raw(port, {
      path: '/',
      headers: {
        connection: 'keep-alive, X-Client-Hop',
        'x-client-hop': '1',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic abc',
        'x-end-to-end': '2',
      },
    });
    const upstreamSaw = JSON.parse(res.body) as Record<string, string>;
    for (const name of ['x-client-hop', 'te', 'proxy-authorization']) {
      expect(upstreamSaw[name], `${name} is hop-by-hop: it must not reach the upstream`).toBeUndefined();
    }
    expect(upstreamSaw.connection ?? 'keep-alive', 'only the gateway’s own Connection').not.toMatch(
      /client-hop/i,
    );
    expect(upstreamSaw['x-end-to-end'], 'end-to-end headers pass').toBe('2');
    expect(
      res.headers['x-upstream-hop'],
      'named in the upstream’s Connection: not for the client',
    ).toBeUndefined();
    expect(res.headers['proxy-authenticate'], 'hop-by-hop on the way back too').toBeUndefined();
    expect(res.headers['x-kept']).toBe('yes');
  });

  it('appends X-Forwarded-For and Forwarded, sets X-Forwarded-Proto/Host and the upstream Host', async () => {
    const { service, port } = await publicGateway();
    const plain = await rawJson(port, { path: '/', headers: { host: 'shop.example' } });
    expect(plain.json.headers['x-forwarded-for'], 'the client’s address').toBe('127.0.0.1');
    expect(plain.json.headers.forwarded).toBe('for=127.0.0.1;host=shop.example;proto=http');
    expect(plain.json.headers['x-forwarded-proto']).toBe('http');
    expect(plain.json.headers['x-forwarded-host'], 'the Host the client asked for').toBe('shop.example');
    expect(plain.json.headers.host, 'the instance’s own host:port').toBe(`127.0.0.1:${service.port}`);
    const chained = await rawJson(port, {
      path: '/',
      headers: {
        host: 'shop.example:8080',
        'x-forwarded-for': '198.51.100.4, 203.0.113.7',
        forwarded: 'for=198.51.100.4;proto=https',
        'x-forwarded-proto': 'https',
      },
    });
    expect(chained.json.headers['x-forwarded-for'], 'every earlier hop kept, this one appended').toBe(
      '198.51.100.4, 203.0.113.7, 127.0.0.1',
    );
    expect(chained.json.headers.forwarded, 'the earlier element kept, ours appended').toBe(
      'for=198.51.100.4;proto=https, for=127.0.0.1;host="shop.example:8080";proto=http',
    );
    expect(chained.json.headers['x-forwarded-proto'], 'a client cannot claim https on plain http').toBe(
      'http',
    );
  });
});

describe('instances from the source', () => {
  it('spreads requests round robin and looks the list up once, not per request', async () => {
    const services = await Promise.all(['a', 'b', 'c'].map((n) => h.service(n)));
    h.register('svc', ...services);
    const { port } = await h.gateway({
      routes: [{ prefix: '/', service: 'svc', timeoutMs: 2000, public: true }],
    });
    const answered = [];
    for (let i = 0; i < 6; i++) answered.push((await rawJson(port, { path: '/' })).json.service);
    expect(answered, 'round robin').toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(h.source.lookupCount('svc'), 'one lookup for six requests').toBe(1);
  });

  it('looks the list up again after the source reports a change, and unwatches on close', async () => {
    const a = await h.service('a');
    const b = await h.service('b');
    h.register('svc', a);
    const { gateway, port } = await h.gateway({
      routes: [{ prefix: '/', service: 'svc', timeoutMs: 2000, public: true }],
    });
    expect((await rawJson(port, { path: '/' })).json.service).toBe('a');
    h.register('svc', b); // notifies watchers
    expect((await rawJson(port, { path: '/' })).json.service, 'after the change: the new list').toBe('b');
    expect((await rawJson(port, { path: '/' })).json.service).toBe('b');
    expect(h.source.lookupCount('svc'), 'once at first, once after the change').toBe(2);
    expect(h.source.watcherCount('svc'), 'the gateway watches the service it routes to').toBeGreaterThan(0);
    await gateway.close();
    expect(h.source.watcherCount('svc'), 'close() undoes every watch').toBe(0);
  });

  it('keeps upstream connections alive: 10 requests in a row use one connection', async () => {
    const sockets = new Set<unknown>();
    const svc = await h.service('svc', (req, res) => {
      sockets.add(req.socket);
      req.resume();
      res.end('ok');
    });
    h.register('svc', svc);
    const { port } = await h.gateway({
      routes: [{ prefix: '/', service: 'svc', timeoutMs: 2000, public: true }],
    });
    for (let i = 0; i < 10; i++) expect((await raw(port, { path: `/${i}` })).status).toBe(200);
    expect(sockets.size, 'one keep-alive connection to the upstream, reused').toBe(1);
  });

  it('answers 503 when the service has no instance or the lookup fails', async () => {
    const source = new StaticSource();
    let failing = false;
    const flaky = {
      lookup: (service: string) =>
        failing ? Promise.reject(new Error('registry down')) : source.lookup(service),
      watch: source.watch.bind(source),
    };
    const { port } = await h.gateway({
      source: flaky,
      routes: [{ prefix: '/', service: 'empty', timeoutMs: 2000, public: true }],
    });
    expect((await raw(port, { path: '/' })).status, 'no instance: 503').toBe(503);
    failing = true;
    const svc = await h.service('svc');
    source.set('empty', [{ id: 'svc-1', host: '127.0.0.1', port: svc.port }]); // a new lookup, which fails
    expect((await raw(port, { path: '/' })).status, 'a failed lookup: 503').toBe(503);
    failing = false;
    expect(
      (await raw(port, { path: '/' })).status,
      'a failed lookup is not cached: the next one asks again',
    ).toBe(200);
  });
});

describe('failures: 504, 502 and retries', () => {
  it('answers 504 when the upstream is slower than the route’s timeout, and abandons the upstream request', async () => {
    const slow = await h.service('slow', (_req, res) => h.later(250, () => res.end('late')));
    h.register('slow', slow);
    const { port } = await h.gateway({
      routes: [
        { prefix: '/impatient', service: 'slow', timeoutMs: 80, public: true },
        { prefix: '/patient', service: 'slow', timeoutMs: 2000, public: true },
      ],
    });
    const cut = await rawJson(port, { path: '/impatient' });
    expect(cut.status, 'no answer within 80 ms: 504 Gateway Timeout').toBe(504);
    expect(cut.json, 'a JSON error body').toBeTypeOf('object');
    await waitFor('the upstream request to be abandoned', () => slow.abandoned.length === 1);
    const ok = await raw(port, { path: '/patient' });
    expect(ok.status, 'the same 250 ms answer within a 2 s timeout is not cut').toBe(200);
    expect(ok.body).toBe('late');
    expect(slow.seen, 'a timed-out request is not retried').toHaveLength(2);
  });

  it('retries a GET that was refused once on another instance; 502 when none answers', async () => {
    const live = await h.service('live');
    const dead = await h.deadPort();
    h.register('svc', { port: dead }, live);
    const { port } = await h.gateway({
      routes: [{ prefix: '/', service: 'svc', timeoutMs: 2000, public: true }],
    });
    const res = await rawJson(port, { path: '/x' });
    expect(res.status, 'the first instance refused; the other answered').toBe(200);
    expect(res.json.service).toBe('live');
    h.register('svc', { port: dead }, { port: await h.deadPort() });
    const down = await rawJson(port, { path: '/x' });
    expect(down.status, 'every instance refused: 502 Bad Gateway').toBe(502);
    expect(down.json, 'a JSON error body').toBeTypeOf('object');
    h.register('svc', { port: dead });
    expect((await raw(port, { path: '/x', method: 'HEAD' })).status, 'the only instance refused: 502').toBe(
      502,
    );
  });

  it('never sends a POST or PATCH twice: a reset after the upstream got it is a 502', async () => {
    const resetting = await h.resetting();
    const live = await h.service('live');
    h.register('orders', resetting, live);
    h.register('carts', { port: await h.deadPort() }, live);
    const { port } = await h.gateway({
      routes: [
        { prefix: '/orders', service: 'orders', timeoutMs: 2000, public: true },
        { prefix: '/carts', service: 'carts', timeoutMs: 2000, public: true },
      ],
    });
    const post = await raw(port, { method: 'POST', path: '/orders', body: '{"item":1}' });
    expect(post.status, 'the connection broke before an answer: 502').toBe(502);
    expect(resetting.requests, 'the first instance got the POST').toHaveLength(1);
    expect(live.seen, 'the POST may have been processed: it must not go to another instance').toHaveLength(0);
    const patch = await raw(port, { method: 'PATCH', path: '/carts/1', body: '{}' });
    expect(patch.status, 'a refused PATCH is not retried either').toBe(502);
    expect(live.seen, 'no PATCH reached the other instance').toHaveLength(0);
  });
});

describe('faults on the upstream connection', () => {
  it('a stalled network is a 504; a connection cut mid-response reaches the client as a broken response', async () => {
    const svc = await h.service('svc', (req, res) => {
      req.resume();
      if (req.url === '/ok') return res.end('ok');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part;'); // ... and the rest never comes
    });
    const proxy = await startFaultProxy({ port: svc.port });
    h.register('svc', { port: proxy.port });
    const { port } = await h.gateway({
      routes: [{ prefix: '/', service: 'svc', timeoutMs: 150, public: true }],
    });
    try {
      // One request first, so the gateway holds a kept-alive connection through the proxy: the proxy
      // can stall a connection that is already open.
      expect((await raw(port, { path: '/ok' })).status).toBe(200);
      proxy.pause();
      expect((await raw(port, { path: '/stalled' })).status, 'no bytes through the network: 504').toBe(504);
      proxy.resume();
      proxy.cut(); // drop the stalled connection; the next request opens a new one
      const outcome = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/cut', agent: false }, (res) => {
          let ended = false;
          res.on('data', () => proxy.cut()); // the upstream dies after the first bytes // the upstream dies after the first bytes
          res.on('end', () => {
            ended = true;
          });
          res.on('error', () => {});
          res.on('close', () => resolve(ended ? 'ended cleanly' : 'broken'));
        });
        req.on('error', reject);
        req.end();
        setTimeout(() => resolve('still open after 3 s'), 3000).unref();
      });
      expect(
        outcome,
        'a truncated body must not look complete: the gateway destroys the client connection',
      ).toBe('broken');
    } finally {
      await proxy.close();
    }
  });
});

describe('Retry-After from an upstream 503', () => {
  /** An upstream that answers the given (status, Retry-After) pairs in turn, then 200. */
  async function answering(...answers: [number, string | undefined][]) {
    const svc = await h.service('svc', (req, res) => {
      req.resume();
      const next = answers.shift();
      if (!next) return res.end('ok');
      const [status, retryAfter] = next;
      res.writeHead(status, retryAfter === undefined ? {} : { 'retry-after': retryAfter });
      res.end(`busy (${status})`);
    });
    h.register('svc', svc);
    const waits: number[] = [];
    const { port } = await h.gateway({
      routes: [{ prefix: '/', service: 'svc', timeoutMs: 2000, public: true }],
      maxRetryAfterMs: 3000,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    return { svc, port, waits };
  }

  it('waits a short delta-seconds Retry-After out with sleep and retries a GET once', async () => {
    const { svc, port, waits } = await answering([503, '2']);
    const res = await raw(port, { path: '/stock' });
    expect(res.status, 'after waiting, the retry succeeded').toBe(200);
    expect(res.body).toBe('ok');
    expect(waits, 'slept exactly the 2 s asked for, through the injected sleep').toEqual([2000]);
    expect(svc.seen, 'the request and its one retry').toHaveLength(2);
  });

  it('understands an HTTP-date Retry-After, on the injected clock', async () => {
    const { svc, port, waits } = await answering([503, new Date(h.clock.now() + 3000).toUTCString()]);
    expect((await raw(port, { path: '/stock' })).status).toBe(200);
    expect(waits, 'the date is 3 s after clock.now()').toEqual([3000]);
    expect(svc.seen).toHaveLength(2);
  });

  it('passes the 503 and its Retry-After through when the wait is longer than maxRetryAfterMs', async () => {
    const { svc, port, waits } = await answering([503, '120']);
    const res = await raw(port, { path: '/stock' });
    expect(res.status, 'too long to wait: the client decides').toBe(503);
    expect(res.headers['retry-after'], 'the upstream’s Retry-After reaches the client').toBe('120');
    expect(waits, 'no sleep').toEqual([]);
    expect(svc.seen, 'no retry').toHaveLength(1);
  });

  it('retries only once: a second 503 goes to the client with its Retry-After', async () => {
    const { svc, port, waits } = await answering([503, '1'], [503, '2'], [503, '1']);
    const res = await raw(port, { path: '/stock' });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after'], 'the second answer’s Retry-After').toBe('2');
    expect(waits, 'one wait').toEqual([1000]);
    expect(svc.seen, 'the request and one retry, no more').toHaveLength(2);
  });

  it('never retries a POST on Retry-After; a 503 without a usable Retry-After passes through', async () => {
    const { svc, port, waits } = await answering([503, '1'], [503, undefined], [503, 'soon']);
    const post = await raw(port, { method: 'POST', path: '/orders', body: '{}' });
    expect(post.status, 'a POST is not sent again').toBe(503);
    expect(post.headers['retry-after'], 'the client learns when to come back').toBe('1');
    expect((await raw(port, { path: '/stock' })).status, 'no Retry-After: nothing to wait for').toBe(503);
    const unusable = await raw(port, { path: '/stock' });
    expect(unusable.status).toBe(503);
    expect(unusable.headers['retry-after']).toBe('soon');
    expect(waits, 'no sleep at all').toEqual([]);
    expect(svc.seen.map((s) => s.method)).toEqual(['POST', 'GET', 'GET']);
  });
});

describe('a client that goes away', () => {
  it('aborts the upstream request when the client disconnects', async () => {
    const hanging = await h.service('hanging', () => {}); // never answers
    h.register('svc', hanging);
    const { port } = await h.gateway({
      routes: [{ prefix: '/', service: 'svc', timeoutMs: 5000, public: true }],
    });
    const req = request({ host: '127.0.0.1', port, path: '/wait', agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor('the request to reach the upstream', () => hanging.seen.length === 1);
    req.destroy();
    await waitFor('the upstream request to be closed', () => hanging.abandoned.length === 1);
  });

  it('does not send the retry when the client left during the Retry-After wait', async () => {
    const svc = await h.service('svc', (req, res) => {
      req.resume();
      res.writeHead(503, { 'retry-after': '1' }).end();
    });
    h.register('svc', svc);
    let wake = () => {};
    let sleeping = false;
    const { gateway, port } = await h.gateway({
      routes: [{ prefix: '/', service: 'svc', timeoutMs: 2000, public: true }],
      sleep: () =>
        new Promise<void>((resolve) => {
          sleeping = true;
          wake = resolve;
        }),
    });
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor('the gateway to wait out Retry-After', () => sleeping);
    req.destroy();
    const open = () => new Promise<number>((resolve) => gateway.server.getConnections((_e, n) => resolve(n)));
    await waitFor('the gateway to see the client leave', async () => (await open()) === 0);
    wake();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(svc.seen, 'nobody is waiting for the answer: no retry').toHaveLength(1);
  });
});

describe('options', () => {
  const source = new StaticSource();
  const auth = { key: SECRET, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256' as const] };
  const route = { prefix: '/a', service: 'a', timeoutMs: 100 };

  it('throws TypeError or RangeError naming the bad option and value', () => {
    const make = (overrides: Record<string, unknown>) => () =>
      createApiGateway({ routes: [route], source, auth, ...overrides } as never);
    expect(make({ routes: [] }), 'no routes').toThrow(TypeError);
    expect(make({ routes: [{ ...route, prefix: 'a' }] }), 'a prefix must start with /').toThrow(/"a"/);
    expect(make({ routes: [{ ...route, prefix: '/a/' }] }), 'no trailing slash').toThrow(TypeError);
    expect(make({ routes: [route, { ...route }] }), 'a prefix given twice').toThrow(TypeError);
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(make({ routes: [{ ...route, timeoutMs }] }), `timeoutMs ${timeoutMs}`).toThrow(RangeError);
      expect(make({ routes: [{ ...route, timeoutMs }] }), 'the message names the option').toThrow(
        /timeoutMs/,
      );
    }
    expect(make({ maxRetryAfterMs: -1 }), 'maxRetryAfterMs -1').toThrow(/maxRetryAfterMs.*-1/);
    expect(make({ auth: { ...auth, algorithms: [] } }), 'an empty allow-list').toThrow(TypeError);
    expect(make({ auth: { ...auth, algorithms: ['none'] } }), 'alg none').toThrow(/none/);
    const agg = { path: '/dash', deadlineMs: 100, legs: [{ name: 'a', service: 'a', path: '/' }] };
    expect(make({ aggregations: [{ ...agg, deadlineMs: 0 }] }), 'deadlineMs 0').toThrow(/deadlineMs/);
    expect(make({ aggregations: [{ ...agg, legs: [] }] }), 'no legs').toThrow(TypeError);
    expect(
      make({ aggregations: [{ ...agg, legs: [...agg.legs, ...agg.legs] }] }),
      'two legs, one name',
    ).toThrow(TypeError);
  });
});
