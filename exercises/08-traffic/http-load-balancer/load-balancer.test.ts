import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { createConnection } from 'node:net';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import {
  freePort,
  type Listening,
  listen,
  sleep,
  startHttpServer,
  waitFor,
} from '../../../src/testing/index.js';
import {
  createLoadBalancer,
  type LoadBalancer,
  type LoadBalancerOptions,
  type Strategy,
} from './load-balancer.js';

// ---------------------------------------------------------------------------------------------
// Stand-in backends: real node:http servers on free ports that record what reached them.

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface TestBackend extends Listening {
  readonly name: string;
  /** Requests other than health checks, in arrival order. */
  readonly seen: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  /** Health-check requests. */
  readonly checks: string[];
  /** The distinct TCP connections that carried non-health requests. */
  readonly sockets: Set<unknown>;
  /** Replaces how the backend answers health checks (default 200); `'silence'` never answers. */
  health: (n: number) => number | 'silence';
  handle: Handler;
}

const open: { close(): Promise<void> }[] = [];

/** Echoes who answered and what arrived: `{ backend, method, url, headers }`. */
const echo =
  (name: string): Handler =>
  (req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers }));
    });
  };

async function startBackend(name: string, handle?: Handler): Promise<TestBackend> {
  const state = {
    name,
    seen: [] as TestBackend['seen'],
    checks: [] as string[],
    sockets: new Set<unknown>(),
    health: (_n: number): number | 'silence' => 200,
    handle: handle ?? echo(name),
  };
  const listening = await startHttpServer((req, res) => {
    if (req.url === '/health' || req.url?.startsWith('/status/')) {
      state.checks.push(req.url);
      const status = state.health(state.checks.length);
      if (status === 'silence') return;
      res.statusCode = status;
      res.end('health');
      return;
    }
    state.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    state.sockets.add(req.socket);
    state.handle(req, res);
  });
  const backend = Object.assign(state, listening) as unknown as TestBackend;
  Object.defineProperties(backend, {
    server: { value: listening.server },
    port: { value: listening.port },
    url: { value: listening.url },
    close: { value: listening.close },
  });
  open.push(backend);
  return backend;
}

/** A URL where nothing listens: a backend that is down. */
async function deadBackend(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/** Health checks far apart unless a test wants them: only passive failures act. */
const quiet = { intervalMs: 60_000 };

async function startBalancer(options: LoadBalancerOptions): Promise<{ lb: LoadBalancer; url: string }> {
  const lb = createLoadBalancer(options);
  const listening = await listen(lb.server);
  open.push({ close: () => lb.close() });
  return { lb, url: listening.url };
}

/** Always the first candidate: makes "which backend first, which on retry" exact. */
const firstCandidate: Strategy = { pick: (candidates) => candidates[0]! };

afterEach(async () => {
  // Balancers first (they were pushed after their backends), then the backends.
  for (const item of open.splice(0).reverse()) await item.close();
});

const getJson = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
};

/** Sends raw bytes and resolves with whatever comes back before the server closes or 2 s pass. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => {
      reply += d.toString('latin1');
    });
    const done = () => resolve(reply);
    socket.on('close', done).on('error', done);
    socket.setTimeout(2000, () => socket.destroy());
    socket.write(bytes);
  });
}

// ---------------------------------------------------------------------------------------------

describe('an HTTP load balancer: routing and proxying', () => {
  it('spreads requests over the backends round robin by default', async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
    const { url } = await startBalancer({ backends: backends.map((b) => b.url), healthCheck: quiet });
    const answeredBy = [];
    for (let i = 0; i < 6; i++) answeredBy.push((await getJson(`${url}/x`)).body.backend);
    expect(answeredBy, 'round robin: a b c a b c').toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('passes method, path, query, status, headers and body through unchanged', async () => {
    const backend = await startBackend('a', (req, res) => {
      const hash = createHash('sha256');
      req.on('data', (chunk) => hash.update(chunk));
      req.on('end', () => {
        res.writeHead(201, { 'x-backend': 'a', 'set-cookie': ['s=1', 't=2'] });
        res.end(`${req.method} ${req.url} ${hash.digest('hex')}`);
      });
    });
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    const body = Buffer.alloc(1_000_000, 'x');
    const res = await fetch(`${url}/orders/7?expand=items&x=%20`, { method: 'PUT', body });
    expect(res.status, 'the backend’s status').toBe(201);
    expect(res.headers.get('x-backend'), 'the backend’s headers').toBe('a');
    expect(res.headers.getSetCookie(), 'both cookies, not merged into one').toEqual(['s=1', 't=2']);
    const expected = `PUT /orders/7?expand=items&x=%20 ${createHash('sha256').update(body).digest('hex')}`;
    expect(await res.text(), 'method, path with query, and the exact 1 MB body').toBe(expected);
  });

  it('adds X-Forwarded-For (appending to what was there), X-Forwarded-Proto and X-Forwarded-Host', async () => {
    const backend = await startBackend('a');
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    const plain = await getJson(`${url}/`);
    expect(plain.body.headers['x-forwarded-for'], 'the client’s address').toBe('127.0.0.1');
    expect(plain.body.headers['x-forwarded-proto']).toBe('http');
    expect(plain.body.headers['x-forwarded-host'], 'the Host the client asked for').toBe(new URL(url).host);
    const chained = await getJson(`${url}/`, {
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' },
    });
    expect(chained.body.headers['x-forwarded-for'], 'appended after the earlier hops').toBe(
      '203.0.113.7, 127.0.0.1',
    );
    expect(
      chained.body.headers['x-forwarded-proto'],
      'the client cannot claim https on a plain connection',
    ).toBe('http');
    const twoHops = await getJson(`${url}/`, {
      headers: { 'x-forwarded-for': '198.51.100.4, 203.0.113.7' },
    });
    expect(
      twoHops.body.headers['x-forwarded-for'],
      'every earlier hop is kept, in order, and this hop is appended last',
    ).toBe('198.51.100.4, 203.0.113.7, 127.0.0.1');
  });

  it('drops hop-by-hop headers, including those named in Connection', async () => {
    const backend = await startBackend('a', (req, res) => {
      res.writeHead(200, { connection: 'x-backend-hop', 'x-backend-hop': 'secret', 'x-kept': 'yes' });
      res.end(JSON.stringify(req.headers));
    });
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    const { headers, body } = await new Promise<{ headers: IncomingMessage['headers']; body: string }>(
      (resolve, reject) => {
        const req = request(url, {
          headers: {
            connection: 'keep-alive, x-client-hop',
            'x-client-hop': '1',
            te: 'trailers',
            'x-end-to-end': '2',
          },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ headers: res.headers, body: text }));
        });
        req.on('error', reject).end();
      },
    );
    const seen = JSON.parse(body);
    expect(seen['x-end-to-end'], 'end-to-end headers pass').toBe('2');
    expect(seen['x-client-hop'], 'a header named in Connection must not reach the backend').toBeUndefined();
    expect(seen.te, 'TE is hop-by-hop').toBeUndefined();
    expect(headers['x-kept'], 'the backend’s end-to-end header reaches the client').toBe('yes');
    expect(
      headers['x-backend-hop'],
      'a header the backend named in Connection must not reach the client',
    ).toBeUndefined();
  });

  it('reuses connections to a backend instead of opening one per request', async () => {
    const backend = await startBackend('a');
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    for (let i = 0; i < 20; i++) expect((await fetch(`${url}/${i}`)).status).toBe(200);
    expect(backend.seen).toHaveLength(20);
    expect(
      backend.sockets.size,
      '20 requests one after another need one kept-alive connection',
    ).toBeLessThanOrEqual(2);
  });

  it('streams a response as it arrives instead of waiting for the end', async () => {
    let finish = () => {};
    const backend = await startBackend('a', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part;');
      finish = () => res.end('last part');
    });
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    // Headers and the first part both count: a balancer that buffers sends neither until the end.
    const abort = new AbortController();
    const reading = fetch(url, { signal: abort.signal }).then(async (res) => {
      const reader = res.body!.getReader();
      const part = await reader.read();
      return { reader, first: new TextDecoder().decode(part.value) };
    });
    reading.catch(() => {}); // aborted below when nothing came: that rejection is expected
    const first = await Promise.race([reading, sleep(3000).then(() => undefined)]);
    if (!first) abort.abort();
    finish();
    expect(
      first?.first ?? 'nothing after 3 s',
      'the first part must reach the client while the backend is still writing',
    ).toBe('first part;');
    const { reader } = first!;
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value);
    expect(rest).toBe('last part');
  });

  it('streams a 50 MB upload: the balancer’s live memory grows by less than 32 MB', {
    timeout: 180_000,
  }, async () => {
    // Live memory, not RSS: a full GC before every sample leaves only what is still referenced.
    // A balancer that streams holds a few 64 KB chunks at a time; one that buffers the body holds
    // all of it. The backend and the client in this process stream too (a reused chunk, a counter),
    // so they add next to nothing. The bound sits between the two: a streaming balancer was measured
    // at up to 20.2 MB on a loaded 2-core CI machine (chunks queued between the streams while the
    // in-process backend was descheduled); buffering the body holds at least its 50 MB.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const live = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const backend = await startBackend('a', (req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      req.on('end', () => res.end(String(bytes)));
    });
    // The backend answers only after the whole upload: on a loaded machine that can take longer than
    // the default 10 s time-to-headers, which would turn a streaming balancer's answer into a 504.
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet, timeoutMs: 180_000 });
    const total = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'z');
    const baseline = live();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, live());
    }, 50);
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const upload = request(`${url}/upload`, {
          method: 'POST',
          headers: { 'content-length': String(total), 'content-type': 'application/octet-stream' },
        });
        upload.on('response', (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve(text));
        });
        upload.on('error', reject);
        Readable.from(
          (function* () {
            for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
          })(),
        ).pipe(upload);
      });
      peak = Math.max(peak, live());
      expect(reply, 'the backend received every byte').toBe(String(total));
    } finally {
      clearInterval(sampler);
    }
    const growthMb = (peak - baseline) / 1024 / 1024;
    expect(
      growthMb,
      `live memory grew by ${growthMb.toFixed(1)} MB: stream the body, do not buffer it`,
    ).toBeLessThan(32);
  });
});

describe('an HTTP load balancer: failures', () => {
  it('loses no GET when a backend is killed in the middle of a run', { timeout: 30_000 }, async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
    const { lb, url } = await startBalancer({
      backends: backends.map((b) => b.url),
      healthCheck: { intervalMs: 100 },
    });
    const statuses: number[] = [];
    let next = 0;
    const total = 240;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        if (i === 80) await backends[1]!.close(); // b dies, with requests of its own in flight
        try {
          statuses.push((await fetch(`${url}/item/${i}`)).status);
        } catch {
          statuses.push(-1);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(statuses).toHaveLength(total);
    expect(
      statuses.filter((s) => s !== 200),
      'every GET must succeed: a refused or reset GET is retried on another backend',
    ).toEqual([]);
    expect(lb.healthyBackends(), 'b left the pool').toEqual([backends[0]!.url, backends[2]!.url]);
    expect(backends[0]!.seen.length + backends[2]!.seen.length, 'a and c took over').toBeGreaterThan(
      total / 2,
    );
  });

  it('retries a GET once on another backend when the first one resets the connection', async () => {
    const flaky = await startBackend('flaky', (req) => req.socket.destroy());
    const good = await startBackend('good');
    const { lb, url } = await startBalancer({
      backends: [flaky.url, good.url],
      strategy: firstCandidate,
      healthCheck: quiet,
    });
    const res = await getJson(`${url}/report`);
    expect(res.status, 'the client never sees the reset').toBe(200);
    expect(res.body.backend, 'the retry went to the other backend').toBe('good');
    expect(flaky.seen, 'the first attempt reached flaky').toHaveLength(1);
    expect(lb.healthyBackends(), 'a reset is a passive failure: flaky leaves the pool at once').toEqual([
      good.url,
    ]);
  });

  it('never retries a POST: the client gets 502 and the request reached one backend at most once', async () => {
    const resetter = (req: IncomingMessage) => req.socket.destroy();
    const first = await startBackend('first', resetter);
    const second = await startBackend('second', resetter);
    const { url } = await startBalancer({
      backends: [first.url, second.url],
      strategy: firstCandidate,
      healthCheck: quiet,
    });
    const res = await fetch(`${url}/payments`, { method: 'POST', body: '{"amount":100}' });
    expect(res.status, 'a failed POST is reported, not repeated').toBe(502);
    expect(
      first.seen.length + second.seen.length,
      'a retried POST could charge the customer twice: it must reach one backend, once',
    ).toBe(1);
  });

  it('retries every idempotent method without a body, and nothing else: not another method, not a body', {
    timeout: 30_000,
  }, async () => {
    const cases = [
      ['DELETE', undefined, true],
      ['PUT', undefined, true],
      ['OPTIONS', undefined, true],
      ['HEAD', undefined, true],
      ['POST', undefined, false],
      ['PATCH', undefined, false],
      ['PUT', 'the new order', false],
    ] as const;
    for (const [method, body, retried] of cases) {
      const what = body === undefined ? `${method} without a body` : `${method} with a body`;
      const flaky = await startBackend(`flaky-${method}`, (req) => req.socket.destroy());
      const good = await startBackend(`good-${method}`);
      const { url } = await startBalancer({
        backends: [flaky.url, good.url],
        strategy: firstCandidate,
        healthCheck: quiet,
        timeoutMs: 5000,
      });
      const res = await fetch(`${url}/orders/7/cancel`, { method, body });
      expect(
        res.status,
        retried
          ? `${what}: idempotent, nothing to replay, so it is retried on another backend`
          : `${what}: not retried (a method that is not idempotent, or a body already sent): 502`,
      ).toBe(retried ? 200 : 502);
      expect(good.seen.length, `${what}: requests that reached the second backend`).toBe(retried ? 1 : 0);
      expect(flaky.seen.length, `${what}: the first backend saw it once`).toBe(1);
    }
  });

  it('retries at most once: when two backends fail, the client gets 502', async () => {
    const backends = await Promise.all(
      ['x', 'y', 'z'].map((n) => startBackend(n, (req: IncomingMessage) => req.socket.destroy())),
    );
    const { url } = await startBalancer({
      backends: backends.map((b) => b.url),
      strategy: firstCandidate,
      healthCheck: quiet,
    });
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(502);
    expect(
      backends.map((b) => b.seen.length),
      'one attempt and one retry, not three',
    ).toEqual([1, 1, 0]);
  });

  it('treats a refused connection as a failure, and answers 503 with Retry-After once no backend is left', async () => {
    const down1 = await deadBackend();
    const down2 = await deadBackend();
    const { lb, url } = await startBalancer({
      backends: [down1, down2],
      healthCheck: quiet,
      retryAfterSeconds: 7,
    });
    const first = await fetch(url);
    expect(first.status, 'both refused the connection: 502').toBe(502);
    expect(lb.healthyBackends(), 'both left the pool').toEqual([]);
    const second = await fetch(url);
    expect(second.status, 'nobody healthy: 503 Service Unavailable').toBe(503);
    expect(second.headers.get('retry-after'), 'with the configured Retry-After').toBe('7');
  });

  it('sends 503 with a positive Retry-After by default', async () => {
    const { lb, url } = await startBalancer({ backends: [await deadBackend()], healthCheck: quiet });
    await fetch(url);
    expect(lb.healthyBackends()).toEqual([]);
    const res = await fetch(url);
    expect(res.status).toBe(503);
    expect(
      Number(res.headers.get('retry-after')),
      'Retry-After is a number of seconds',
    ).toBeGreaterThanOrEqual(1);
  });

  it('answers 504 when a backend does not answer in time, and abandons the backend request', async () => {
    let abandoned = false;
    const slow = await startBackend('slow', (req) => {
      req.resume();
      req.socket.on('close', () => {
        abandoned = true;
      });
    });
    const { url } = await startBalancer({ backends: [slow.url], healthCheck: quiet, timeoutMs: 300 });
    const started = Date.now();
    const res = await fetch(`${url}/slow`);
    expect(res.status, '504 Gateway Timeout').toBe(504);
    expect(Date.now() - started, 'after the 300 ms timeout, not much later').toBeLessThan(3000);
    expect(
      slow.seen,
      'a timed-out request is not retried (the backend may still be working on it)',
    ).toHaveLength(1);
    await waitFor('the balancer to close its connection to the slow backend', () => abandoned);
  });

  it('stops the backend’s work when the client hangs up', async () => {
    let backendSawClose = false;
    const backend = await startBackend('a', (_req, res) => {
      res.writeHead(200);
      const tick = setInterval(() => res.write('tick\n'), 20);
      res.on('close', () => {
        clearInterval(tick);
        backendSawClose = true;
      });
    });
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    const controller = new AbortController();
    const res = await fetch(`${url}/stream`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await waitFor('the backend to see its response closed', () => backendSawClose);
  });

  it('abandons the backend request when the client hangs up before the backend has answered', async () => {
    let backendSawClose = false;
    const backend = await startBackend('a', (req) => {
      req.resume(); // and never answer
      req.socket.on('close', () => {
        backendSawClose = true;
      });
    });
    const released: string[] = [];
    const { url } = await startBalancer({
      backends: [backend.url],
      strategy: { pick: (candidates) => candidates[0]!, release: (id) => released.push(id) },
      healthCheck: quiet,
      timeoutMs: 60_000,
    });
    const client = request(`${url}/slow-report`);
    client.on('error', () => {});
    client.end();
    await waitFor('the request to reach the backend', () => backend.seen.length === 1);
    client.destroy();
    await waitFor(
      'the balancer to close its request to the backend once the client is gone (not 60 s later)',
      () => backendSawClose,
    );
    await waitFor('the abandoned attempt to be released', () => released.length > 0);
    await sleep(100);
    expect(released, 'an abandoned attempt is released once').toEqual([backend.url]);
  });

  it('releases every pick exactly once, whatever ended the attempt: refused, reset, timed out', async () => {
    const released: string[] = [];
    const recording: Strategy = { pick: (candidates) => candidates[0]!, release: (id) => released.push(id) };
    const settle = async (count: number, what: string) => {
      await waitFor(what, () => released.length >= count);
      await sleep(100); // room for a second, wrong release to show up
    };

    const dead = await deadBackend();
    const good = await startBackend('good');
    const refused = await startBalancer({
      backends: [dead, good.url],
      strategy: recording,
      healthCheck: quiet,
    });
    expect((await fetch(`${refused.url}/`)).status, 'refused, then retried on good').toBe(200);
    await settle(2, 'both attempts to be released');
    expect(released.toSorted(), 'a refused attempt and its retry: one release each').toEqual(
      [dead, good.url].toSorted(),
    );

    released.length = 0;
    const resetter = await startBackend('resetter', (req) => req.socket.destroy());
    const reset = await startBalancer({ backends: [resetter.url], strategy: recording, healthCheck: quiet });
    expect((await fetch(`${reset.url}/pay`, { method: 'POST', body: 'x' })).status).toBe(502);
    await settle(1, 'the reset attempt to be released');
    expect(released, 'a reset attempt: one release').toEqual([resetter.url]);

    released.length = 0;
    const silent = await startBackend('silent', (req) => req.resume());
    const timedOut = await startBalancer({
      backends: [silent.url],
      strategy: recording,
      healthCheck: quiet,
      timeoutMs: 200,
    });
    expect((await fetch(`${timedOut.url}/slow`)).status).toBe(504);
    await settle(1, 'the timed-out attempt to be released');
    expect(released, 'a timed-out attempt: one release, not one per event that ended it').toEqual([
      silent.url,
    ]);
  });
});

describe('an HTTP load balancer: active health checks', () => {
  it('takes a backend out after 2 failed checks in a row, brings it back after 2 passing ones', async () => {
    const a = await startBackend('a');
    const b = await startBackend('b');
    //                  check:  1    2    3    4    5    6    7    8
    const plan = [200, 500, 200, 500, 500, 200, 200, 200];
    a.health = (n) => plan[n - 1] ?? 200;
    let lb: LoadBalancer | undefined;
    const inPoolAtCheck: boolean[] = [];
    const check = a.health;
    a.health = (n) => {
      // When check n arrives, the results of checks 1..n-1 have been applied.
      inPoolAtCheck.push(lb!.healthyBackends().includes(a.url));
      return check(n);
    };
    const started = await startBalancer({
      backends: [a.url, b.url],
      healthCheck: { path: '/status/ready', intervalMs: 30, timeoutMs: 500 },
    });
    lb = started.lb;
    await waitFor('nine health checks', () => a.checks.length >= 9);
    expect(a.checks[0], 'the configured health-check path').toBe('/status/ready');
    expect(
      inPoolAtCheck.slice(0, 8),
      'in the pool before checks 1-8: one failure is forgiven, two are not',
    ).toEqual([
      true, // start: every backend starts healthy
      true, // 200
      true, // 500 (one failure)
      true, // 200 (the count starts over)
      true, // 500
      false, // 500, 500: out
      false, // 200 (one pass is not enough)
      true, // 200, 200: back
    ]);
    expect(b.checks.length, 'every backend is checked').toBeGreaterThan(3);
  });

  it('brings a killed backend back when it returns, and routes to it again', {
    timeout: 20_000,
  }, async () => {
    const a = await startBackend('a');
    const b = await startBackend('b');
    const { lb, url } = await startBalancer({
      backends: [a.url, b.url],
      healthCheck: { intervalMs: 40, timeoutMs: 500 },
    });
    const port = b.port;
    await b.close();
    await waitFor('b to leave the pool', () => !lb.healthyBackends().includes(b.url), { timeoutMs: 5000 });
    for (let i = 0; i < 4; i++) expect((await getJson(url)).body.backend, 'only a while b is down').toBe('a');
    const revived = await listen(
      createServer((req, res) => res.end(JSON.stringify({ backend: req.url === '/health' ? 'ok' : 'b' }))),
      port,
    );
    open.push(revived);
    await waitFor('b to come back', () => lb.healthyBackends().includes(b.url), { timeoutMs: 5000 });
    const answeredBy = new Set<string>();
    for (let i = 0; i < 4; i++) answeredBy.add((await getJson(url)).body.backend);
    expect(answeredBy, 'b takes requests again').toContain('b');
  });

  it('passes a check on any 2xx answer and fails it on anything else, redirects included', async () => {
    const ok204 = await startBackend('no-content');
    const moved = await startBackend('redirect');
    const missing = await startBackend('missing');
    ok204.health = () => 204;
    moved.health = () => 302;
    missing.health = () => 404;
    const { lb } = await startBalancer({
      backends: [ok204.url, moved.url, missing.url],
      healthCheck: { intervalMs: 30, timeoutMs: 500 },
    });
    await waitFor('four rounds of checks', () => Math.min(ok204.checks.length, moved.checks.length) >= 4);
    expect(
      lb.healthyBackends(),
      'only the backend answering 204 is healthy: a 302 or a 404 is a failed check',
    ).toEqual([ok204.url]);
  });

  it('brings back a backend ejected by a reset once it passes healthyAfter checks in a row', {
    timeout: 20_000,
  }, async () => {
    let resets = true;
    const flaky = await startBackend('flaky', (req, res) => {
      if (resets) req.socket.destroy();
      else echo('flaky')(req, res);
    });
    const good = await startBackend('good');
    let lb: LoadBalancer | undefined;
    const inPoolAtCheck: boolean[] = [];
    flaky.health = () => {
      // When a check arrives, the results of the earlier ones have been applied.
      inPoolAtCheck.push(lb!.healthyBackends().includes(flaky.url));
      return 200;
    };
    const started = await startBalancer({
      backends: [flaky.url, good.url],
      strategy: firstCandidate,
      healthCheck: { intervalMs: 200, timeoutMs: 1000, healthyAfter: 3 },
    });
    lb = started.lb;
    await waitFor('three passing checks of flaky', () => flaky.checks.length >= 3);
    expect((await getJson(`${started.url}/`)).body.backend, 'reset by flaky, retried on good').toBe('good');
    resets = false;
    expect(lb.healthyBackends(), 'a reset takes flaky out at once').toEqual([good.url]);
    // Check k may have been answered just before or just after the reset; the ones after it come after.
    const k = inPoolAtCheck.length;
    await waitFor('four more checks', () => inPoolAtCheck.length >= k + 4, { timeoutMs: 10_000 });
    expect(
      inPoolAtCheck.slice(k, k + 2),
      'still out when the next two checks arrive: the passes before the reset do not count, and 3 are needed',
    ).toEqual([false, false]);
    expect(inPoolAtCheck[k + 3], 'back once 3 checks in a row have passed since the reset').toBe(true);
    expect((await getJson(`${started.url}/`)).body.backend, 'flaky takes requests again').toBe('flaky');
  });

  it('counts a check that times out as failed', async () => {
    const a = await startBackend('a');
    const b = await startBackend('b');
    a.health = () => 'silence';
    const { lb } = await startBalancer({
      backends: [a.url, b.url],
      healthCheck: { intervalMs: 30, timeoutMs: 100 },
    });
    await waitFor(
      'a to leave the pool after its checks time out',
      () => !lb.healthyBackends().includes(a.url),
    );
    expect(lb.healthyBackends()).toEqual([b.url]);
  });
});

describe('an HTTP load balancer: hostile clients and shutdown', () => {
  it('refuses a request with 64 KB of headers (431) without bothering a backend', async () => {
    const backend = await startBackend('a');
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    const reply = await rawExchange(
      Number(new URL(url).port),
      `GET / HTTP/1.1\r\nHost: lb\r\nX-Huge: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    );
    expect(reply, 'Request Header Fields Too Large').toMatch(/^HTTP\/1\.1 431/);
    expect(backend.seen).toHaveLength(0);
  });

  it('answers malformed and ambiguous requests with 400 without bothering a backend', async () => {
    const backend = await startBackend('a');
    const { url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    const port = Number(new URL(url).port);
    expect(await rawExchange(port, 'HELLO THERE\r\n\r\n'), 'not HTTP at all').toMatch(/^HTTP\/1\.1 400/);
    expect(
      await rawExchange(
        port,
        'POST / HTTP/1.1\r\nHost: lb\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      ),
      'Content-Length with Transfer-Encoding (request smuggling)',
    ).toMatch(/^HTTP\/1\.1 400/);
    expect(backend.seen).toHaveLength(0);
  });

  it('keeps serving others while a client stalls mid-upload, and close() does not wait for it forever', async () => {
    const backend = await startBackend('a');
    const { lb, url } = await startBalancer({
      backends: [backend.url],
      healthCheck: quiet,
      drainTimeoutMs: 300,
    });
    const stalled = createConnection(Number(new URL(url).port), '127.0.0.1');
    stalled.on('error', () => {});
    stalled.write('POST /upload HTTP/1.1\r\nHost: lb\r\nContent-Length: 1000\r\n\r\n0123456789');
    await waitFor('the stalled upload to reach the backend', () => backend.seen.length === 1);
    const other = await getJson(`${url}/other`);
    expect(other.status, 'another client is served while one stalls').toBe(200);
    const started = Date.now();
    await lb.close();
    expect(Date.now() - started, 'close() gives up on the stalled client after drainTimeoutMs').toBeLessThan(
      3000,
    );
    stalled.destroy();
  });

  it('closes gracefully: requests in flight finish, new connections are refused', async () => {
    let release = () => {};
    const backend = await startBackend('a', (req, res) => {
      req.resume();
      release = () => res.end('finished');
    });
    const { lb, url } = await startBalancer({ backends: [backend.url], healthCheck: quiet });
    const inFlight = fetch(`${url}/slow`);
    await waitFor('the request to reach the backend', () => backend.seen.length === 1);
    const closing = lb.close();
    await sleep(50);
    await expect(fetch(`${url}/new`), 'a closing balancer accepts no new connections').rejects.toThrow();
    release();
    const res = await inFlight;
    expect(res.status, 'the request in flight completes').toBe(200);
    expect(await res.text()).toBe('finished');
    const finishedAt = Date.now();
    await closing;
    expect(
      Date.now() - finishedAt,
      'close() resolves soon after the last request ends (close the connections that just went idle)',
    ).toBeLessThan(2000);
  });

  it('stops its health checks on close()', { timeout: 30_000 }, async () => {
    const backend = await startBackend('a');
    const control = await startBackend('control');
    const { lb } = await startBalancer({ backends: [backend.url], healthCheck: { intervalMs: 30 } });
    await startBalancer({ backends: [control.url], healthCheck: { intervalMs: 30 } });
    await waitFor('three health checks', () => backend.checks.length >= 3);
    await lb.close();
    const atClose = backend.checks.length;
    const controlAtClose = control.checks.length;
    // A balancer left open, checking at the same pace, says how much time that was on this machine.
    await waitFor(
      'five more checks by a balancer that is still open',
      () => control.checks.length >= controlAtClose + 5,
      {
        timeoutMs: 20_000,
      },
    );
    expect(
      backend.checks.length,
      'a closed balancer must not keep probing its backends (the open one checked 5 more times meanwhile)',
    ).toBeLessThanOrEqual(atClose + 1);
  });

  it('uses any strategy object: pick among the candidates, release each pick once', async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
    const picks: string[] = [];
    const released: string[] = [];
    const lastOne: Strategy = {
      pick: (candidates) => {
        picks.push(candidates.join(','));
        return candidates[candidates.length - 1]!;
      },
      release: (id) => {
        released.push(id);
      },
    };
    const { url } = await startBalancer({
      backends: backends.map((b) => b.url),
      strategy: lastOne,
      healthCheck: quiet,
    });
    for (let i = 0; i < 5; i++) expect((await getJson(url)).body.backend).toBe('c');
    expect(picks, 'the strategy is offered every healthy backend').toEqual(
      Array(5).fill(backends.map((b) => b.url).join(',')),
    );
    await waitFor('every pick to be released', () => released.length === 5);
    expect(released, 'released once per pick').toEqual(Array(5).fill(backends[2]!.url));
  });

  it('rejects a configuration without backends or with a backend that is not http://', () => {
    expect(() => createLoadBalancer({ backends: [] }), 'no backends').toThrow(TypeError);
    expect(() => createLoadBalancer({ backends: ['ftp://127.0.0.1:21'] }), 'ftp').toThrow(TypeError);
    expect(() => createLoadBalancer({ backends: ['not a url'] }), 'not a URL').toThrow(TypeError);
  });
});
