import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  deferred,
  freePort,
  type Listening,
  ManualClock,
  sleep,
  startHttpServer,
  valueWithin,
  waitFor,
} from '../../../src/testing/index.js';
import { type Instance, type InstanceInit, type InstanceSource, StaticSource } from './instance-source.js';
import {
  createServiceClient,
  NoInstanceError,
  type ServiceClient,
  type ServiceClientOptions,
  type ServiceResponse,
  ServiceTimeoutError,
} from './service-client.js';

// ---------------------------------------------------------------------------------------------
// Stand-in instances: real node:http servers on 127.0.0.1 that record what reached them.

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

interface TestInstance extends InstanceInit {
  /** Requests that reached this instance, in arrival order (recorded when their body has arrived). */
  readonly seen: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }[];
  /** TCP connections accepted so far. */
  connections: number;
  /** Connections open right now. */
  readonly sockets: Set<Socket>;
  /** Requests whose connection closed before this instance finished its response. */
  abandoned: number;
  handle: Handler;
  close(): Promise<void>;
}

const SERVICE = 'orders';
const opened: { close(): unknown }[] = [];

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

/** Answers `200 <id>` with an `x-instance: <id>` header. */
const answer =
  (id: string): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-instance': id });
    res.end(id);
  };

/** Destroys the connection once the request has arrived: a crash mid-request, ECONNRESET. */
const reset: Handler = (req) => req.socket.destroy();

/** Reads the request and never answers. */
const silent: Handler = () => {};

async function startInstance(id: string, handle?: Handler): Promise<TestInstance> {
  let server!: Listening;
  const instance: TestInstance = {
    id,
    host: '127.0.0.1',
    port: 0,
    seen: [],
    connections: 0,
    sockets: new Set(),
    abandoned: 0,
    handle: handle ?? answer(id),
    close: () => server.close(),
  };
  server = await startHttpServer((req, res) => {
    res.on('close', () => {
      if (!res.writableFinished) instance.abandoned++;
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      instance.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      instance.handle(req, res, body);
    });
  });
  server.server.on('connection', (socket: Socket) => {
    instance.connections++;
    instance.sockets.add(socket);
    socket.on('close', () => instance.sockets.delete(socket));
  });
  Object.assign(instance, { port: server.port });
  opened.push(instance);
  return instance;
}

/** An instance the registry still lists but whose process is gone: its port refuses connections. */
async function deadInstance(id: string): Promise<InstanceInit> {
  return { id, host: '127.0.0.1', port: await freePort() };
}

function sourceOf(...instances: InstanceInit[]): StaticSource {
  return new StaticSource({ [SERVICE]: instances.map(({ id, host, port }) => ({ id, host, port })) });
}

function clientFor(source: InstanceSource, options: Partial<ServiceClientOptions> = {}): ServiceClient {
  const client = createServiceClient({ service: SERVICE, source, timeoutMs: 2000, ...options });
  opened.push(client);
  return client;
}

const get = (client: ServiceClient, path = '/orders/7') => client.request({ method: 'GET', path });

/** Resolves with the error a promise rejected with; fails the test if it resolved. */
async function rejection(promise: Promise<unknown>, what: string): Promise<any> {
  try {
    const value = (await promise) as ServiceResponse;
    throw new Error(`${what}: expected a rejection, got status ${value?.status} from ${value?.instance?.id}`);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(`${what}: expected a rejection`)) throw error;
    return error;
  }
}

/** Which instance answered each of `n` sequential GETs (`!code` for a rejection, e.g. `!ECONNREFUSED`). */
async function answeredBy(client: ServiceClient, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      ids.push((await get(client)).instance.id);
    } catch (error) {
      ids.push(`!${(error as { code?: string }).code}`);
    }
  }
  return ids;
}

/** A source whose lookups the test answers by hand, one at a time. */
function handSource() {
  const pending: ReturnType<typeof deferred<Instance[]>>[] = [];
  const watchers = new Set<(service: string) => void>();
  const source: InstanceSource = {
    lookup() {
      const lookup = deferred<Instance[]>();
      pending.push(lookup);
      return lookup.promise;
    },
    watch(_service, onChange) {
      watchers.add(onChange);
      return () => watchers.delete(onChange);
    },
  };
  const notify = () => {
    for (const watcher of watchers) watcher(SERVICE);
  };
  const asInstance = ({ id, host, port }: InstanceInit): Instance => ({
    service: SERVICE,
    id,
    host,
    port,
    meta: {},
  });
  return { source, pending, notify, asInstance };
}

/** Lets pending promise callbacks and I/O callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------

describe('service client: options and requests', () => {
  it('rejects bad options with an error that names the option and the value', () => {
    const source = new StaticSource();
    const make = (options: Partial<ServiceClientOptions>) => () =>
      createServiceClient({ service: SERVICE, source, timeoutMs: 1000, ...options } as ServiceClientOptions);
    const cases: [Partial<ServiceClientOptions>, ErrorConstructor, RegExp][] = [
      [{ service: '' }, TypeError, /service/],
      [{ service: 42 as unknown as string }, TypeError, /service.*42/],
      [{ source: {} as InstanceSource }, TypeError, /source/],
      [{ source: { lookup: async () => [] } as unknown as InstanceSource }, TypeError, /source/],
      [{ source: { watch: () => () => {} } as unknown as InstanceSource }, TypeError, /source/],
      [{ timeoutMs: 0 }, RangeError, /timeoutMs.*0/],
      [{ timeoutMs: -5 }, RangeError, /timeoutMs.*-5/],
      [{ timeoutMs: Number.NaN }, RangeError, /timeoutMs.*NaN/],
      [{ timeoutMs: Number.POSITIVE_INFINITY }, RangeError, /timeoutMs.*Infinity/],
      [{ retries: -1 }, RangeError, /retries.*-1/],
      [{ retries: 1.5 }, RangeError, /retries.*1\.5/],
      [{ retries: Number.NaN }, RangeError, /retries.*NaN/],
      [{ suspectMs: -1 }, RangeError, /suspectMs.*-1/],
      [{ suspectMs: Number.NaN }, RangeError, /suspectMs.*NaN/],
      [{ suspectMs: Number.POSITIVE_INFINITY }, RangeError, /suspectMs.*Infinity/],
    ];
    for (const [options, type, message] of cases) {
      expect(make(options), `${JSON.stringify(options)} must throw a ${type.name}`).toThrow(type);
      expect(make(options), `the message must name the option and the value`).toThrow(message);
    }
    for (const fine of [{ retries: 0 }, { suspectMs: 0 }, { timeoutMs: 0.5 }]) {
      const client = make(fine)();
      client.close();
    }
  });

  it('rejects a bad method or path with a TypeError and sends nothing', async () => {
    const a = await startInstance('a');
    const source = sourceOf(a);
    const client = clientFor(source);
    const bad = [
      [{ method: '', path: '/x' }, /method/],
      [{ method: 'GE T', path: '/x' }, /method.*GE T/],
      [{ method: 42 as unknown as string, path: '/x' }, /method.*42/],
      [{ method: 'GET', path: 'orders/7' }, /path.*orders\/7/],
      [{ method: 'GET', path: 'http://evil.example/' }, /path.*evil/],
    ] as const;
    for (const [request, message] of bad) {
      const error = await rejection(client.request(request), JSON.stringify(request));
      expect(error, `${JSON.stringify(request)} must reject with a TypeError`).toBeInstanceOf(TypeError);
      expect(String(error.message), 'the message names the bad field and its value').toMatch(message);
    }
    expect(a.seen, 'nothing reaches an instance').toEqual([]);
  });

  it('passes method, path, headers and body through, and returns status, headers and the body byte for byte', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const a = await startInstance('a', (_req, res) => {
      res.writeHead(201, { 'x-instance': 'a', 'content-type': 'application/octet-stream' });
      // Split so a multi-byte sequence would straddle two chunks.
      res.write(bytes.subarray(0, 129));
      setTimeout(() => res.end(bytes.subarray(129)), 5);
    });
    const client = clientFor(sourceOf(a));
    const res = await client.request({
      method: 'put',
      path: '/orders/7?expand=items',
      headers: { 'x-request-id': 'r-1', 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status).toBe(201);
    expect(res.headers['x-instance'], 'the response headers').toBe('a');
    expect(res.instance, 'which instance answered, as the source listed it').toMatchObject({
      id: 'a',
      host: '127.0.0.1',
      port: a.port,
    });
    expect(Buffer.isBuffer(res.body), 'body is a Buffer').toBe(true);
    expect(res.body.equals(bytes), 'every byte 0-255 back unchanged (do not decode the body as text)').toBe(
      true,
    );
    const seen = a.seen[0]!;
    expect(seen.method, 'the method, in upper case').toBe('PUT');
    expect(seen.url, 'the path with its query').toBe('/orders/7?expand=items');
    expect(seen.headers['x-request-id'], 'the caller’s headers').toBe('r-1');
    expect(seen.body.equals(bytes), 'the request body, byte for byte').toBe(true);
    expect(seen.headers['content-length'], 'a body goes with a Content-Length (the contract says so)').toBe(
      '256',
    );
  });
});

describe('service client: the instance list', () => {
  it('spreads calls round robin over the instances in list order', async () => {
    const instances = await Promise.all(['a', 'b', 'c'].map((id) => startInstance(id)));
    const client = clientFor(sourceOf(...instances));
    expect(await answeredBy(client, 7), 'round robin: a b c a b c a').toEqual([
      'a',
      'b',
      'c',
      'a',
      'b',
      'c',
      'a',
    ]);
  });

  it('watches the source from the start, and looks the list up once, on the first request, not per request', async () => {
    const a = await startInstance('a');
    const source = sourceOf(a);
    const client = clientFor(source);
    expect(source.watcherCount(SERVICE), 'one watch, registered when the client is created').toBe(1);
    expect(source.lookupCount(SERVICE), 'no lookup before the first request').toBe(0);
    await answeredBy(client, 10);
    expect(source.lookupCount(SERVICE), '10 requests, one lookup: the list is cached').toBe(1);
    expect(source.watcherCount(SERVICE), 'still one watch').toBe(1);
  });

  it('looks the list up again after a change notification: once, on the next request', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const source = sourceOf(a);
    const client = clientFor(source);
    expect(await answeredBy(client, 2)).toEqual(['a', 'a']);
    source.set(SERVICE, [a]);
    source.set(SERVICE, [a, b]);
    source.set(SERVICE, [b]);
    expect(source.lookupCount(SERVICE), 'a notification alone does not look up: the next request does').toBe(
      1,
    );
    expect(await answeredBy(client, 3), 'the new list is used').toEqual(['b', 'b', 'b']);
    expect(source.lookupCount(SERVICE), 'three notifications, then requests: one more lookup').toBe(2);
    expect(source.watcherCount(SERVICE), 'refreshing does not add watchers').toBe(1);
  });

  it('shares one lookup between requests that arrive together', async () => {
    const instances = await Promise.all(['a', 'b'].map((id) => startInstance(id)));
    const source = sourceOf(...instances);
    const client = clientFor(source);
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(client)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(source.lookupCount(SERVICE), '10 concurrent first requests wait for one lookup').toBe(1);
    source.set(SERVICE, instances);
    await Promise.all(Array.from({ length: 10 }, () => get(client)));
    expect(source.lookupCount(SERVICE), 'and after a change, again one lookup for the burst').toBe(2);
  });

  it('looks up again when a change was notified while a lookup was in flight', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    const { source, pending, notify, asInstance } = handSource();
    const client = clientFor(source);
    const first = get(client);
    await settle();
    expect(pending, 'the first request looks up').toHaveLength(1);
    notify(); // b replaces a, while the lookup is on its way back with the old list
    pending[0]!.resolve([asInstance(a)]);
    expect((await first).instance.id, 'the first request uses the answer it waited for').toBe('a');
    const second = get(client);
    await settle();
    expect(
      pending,
      'that answer may predate the change: the next request must look up again, or the client keeps a stale list',
    ).toHaveLength(2);
    pending[1]!.resolve([asInstance(b)]);
    expect((await second).instance.id).toBe('b');
  });

  it('rejects with the source’s error when the lookup fails, and looks up again on the next request', async () => {
    const a = await startInstance('a');
    const { source, pending, asInstance } = handSource();
    const client = clientFor(source);
    const down = new Error('registry unreachable');
    const first = get(client);
    await settle();
    pending[0]!.reject(down);
    expect(await rejection(first, 'a request whose lookup failed'), 'the source’s own error').toBe(down);
    const second = get(client);
    await settle();
    expect(pending, 'a failed lookup is not kept: the next request asks again').toHaveLength(2);
    pending[1]!.resolve([asInstance(a)]);
    expect((await second).status).toBe(200);
  });

  it('rejects with NoInstanceError when the source lists nothing, and recovers when an instance appears', async () => {
    const source = new StaticSource({ [SERVICE]: [] });
    const client = clientFor(source);
    const error = await rejection(get(client), 'no instance');
    expect(error).toBeInstanceOf(NoInstanceError);
    expect(error.code, 'code ENOINSTANCE').toBe('ENOINSTANCE');
    expect(String(error.message), 'the message names the service').toContain(SERVICE);
    const a = await startInstance('a');
    source.set(SERVICE, [a]);
    expect((await get(client)).instance.id).toBe('a');
  });

  it('keeps its round-robin position across refreshes: a busy registry does not pile calls on the first instance', async () => {
    const instances = await Promise.all(['a', 'b', 'c'].map((id) => startInstance(id)));
    const source = sourceOf(...instances);
    const client = clientFor(source);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      source.set(SERVICE, instances); // a heartbeat-driven notification before every call
      ids.push((await get(client)).instance.id);
    }
    expect(ids, 'the position carries over to the new list').toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(source.lookupCount(SERVICE)).toBe(6);
  });
});

describe('service client: connections and timeouts', () => {
  it('keeps connections alive: 20 sequential calls to one instance use one TCP connection', async () => {
    const a = await startInstance('a');
    const client = clientFor(sourceOf(a));
    await answeredBy(client, 20);
    expect(a.connections, 'one connection, reused (an http.Agent with keepAlive: true)').toBe(1);
    const b = await startInstance('b');
    const c = await startInstance('c');
    const pair = clientFor(sourceOf(b, c));
    await answeredBy(pair, 20);
    expect([b.connections, c.connections], 'one connection per instance').toEqual([1, 1]);
  });

  it('close() stops watching, closes its connections, and rejects later calls', async () => {
    const a = await startInstance('a');
    const source = sourceOf(a);
    const client = clientFor(source);
    await get(client);
    expect(a.sockets.size, 'the keep-alive connection is open').toBe(1);
    client.close();
    expect(source.watcherCount(SERVICE), 'close() calls the function watch returned').toBe(0);
    await waitFor(
      'the client’s idle connection to close (its own agent, destroyed)',
      () => a.sockets.size === 0,
    );
    await rejection(get(client), 'a call after close()');
    expect(a.seen, 'nothing is sent after close()').toHaveLength(1);
  });

  it('close() rejects a call in flight and does not retry it elsewhere', async () => {
    const a = await startInstance('a', silent);
    const b = await startInstance('b');
    const client = clientFor(sourceOf(a, b));
    const call = get(client);
    await waitFor('the call to reach a', () => a.seen.length === 1);
    client.close();
    const error = await rejection(call, 'a call in flight at close()');
    expect(error, 'it fails because of close(), not a timeout').not.toBeInstanceOf(ServiceTimeoutError);
    await waitFor('a to see the request closed', () => a.abandoned === 1);
    await sleep(50);
    expect(b.seen, 'a closed client sends nothing more').toEqual([]);
  });

  it('times out a call whose instance never answers, and closes the request', async () => {
    const a = await startInstance('a', silent);
    const client = clientFor(sourceOf(a), { timeoutMs: 150, retries: 0 });
    const error = await rejection(valueWithin(get(client), 2000, 'a 150 ms call'), 'a silent instance');
    expect(error, 'a ServiceTimeoutError').toBeInstanceOf(ServiceTimeoutError);
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.instance?.id, 'naming the instance').toBe('a');
    await waitFor('the instance to see the request closed (the socket destroyed)', () => a.abandoned === 1, {
      timeoutMs: 3000,
    });
  });

  it('times out a body that trickles forever: the limit covers the whole response, not just the headers', async () => {
    const a = await startInstance('a', (_req, res) => {
      // The headers and a first byte at once, then a byte every 10 ms, never the end.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('.');
      const drip = setInterval(() => res.write('.'), 10);
      res.on('close', () => clearInterval(drip));
    });
    const client = clientFor(sourceOf(a), { timeoutMs: 300, retries: 0 });
    // Twice: on a busy machine one call could stall past its limit before the headers were read.
    for (const call of [1, 2]) {
      const error = await rejection(
        valueWithin(get(client), 2000, `call ${call}, limit 300 ms`),
        'a trickle',
      );
      expect(error, 'headers came at once, but the body never ended: ServiceTimeoutError').toBeInstanceOf(
        ServiceTimeoutError,
      );
      await waitFor('the instance to see the request closed', () => a.abandoned === call);
    }
  });

  it('does not cut a response that is slow to start but complete within the limit', async () => {
    const a = await startInstance('a', (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('slow ');
        setTimeout(() => res.end('but in time'), 25);
      }, 25);
    });
    const client = clientFor(sourceOf(a), { timeoutMs: 300, retries: 0 });
    const res = await get(client);
    expect(res.body.toString(), 'the whole body, within 300 ms').toBe('slow but in time');
  });

  it('leaves no timer running after calls that answered', async () => {
    const a = await startInstance('a');
    const client = clientFor(sourceOf(a), { timeoutMs: 60_000 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await get(client); // warm up: the connection and whatever the first call creates once
    const before = timers();
    await answeredBy(client, 20);
    expect(
      timers() - before,
      '20 fast calls with a 60 s timeout: each call’s timer must be cleared when it is answered',
    ).toBeLessThan(5);
  });
});

describe('service client: retries', () => {
  it('retries each idempotent method (any case) on another instance, and nothing else', async () => {
    const cases = [
      ['GET', true],
      ['get', true],
      ['HEAD', true],
      ['OPTIONS', true],
      ['TRACE', true],
      ['PUT', true],
      ['DELETE', true],
      ['POST', false],
      ['post', false],
      ['PATCH', false],
      ['LOCK', false],
    ] as const;
    for (const [method, retried] of cases) {
      const flaky = await startInstance(`flaky-${method}`, reset);
      const good = await startInstance(`good-${method}`);
      const client = clientFor(sourceOf(flaky, good));
      const outcome = await client.request({ method, path: '/orders/7' }).then(
        (res) => `status ${res.status} from ${res.instance.id}`,
        (error) => `rejected with ${error.code}`,
      );
      expect(
        outcome,
        retried
          ? `${method} is idempotent: after a reset it is retried on the other instance`
          : `${method} is not idempotent: it is sent once, and the reset is the caller’s to see`,
      ).toBe(retried ? `status 200 from good-${method}` : 'rejected with ECONNRESET');
      expect(flaky.seen, `${method}: the first instance saw it once`).toHaveLength(1);
      expect(good.seen, `${method}: requests that reached the second instance`).toHaveLength(retried ? 1 : 0);
    }
  });

  it('sends the same method, path, headers and body on the retry', async () => {
    const flaky = await startInstance('flaky', reset);
    const good = await startInstance('good');
    const client = clientFor(sourceOf(flaky, good));
    const body = '{"status":"shipped"}';
    const res = await client.request({
      method: 'PUT',
      path: '/orders/7/status',
      headers: { 'content-type': 'application/json', 'x-request-id': 'r-7' },
      body,
    });
    expect(res.instance.id).toBe('good');
    const retry = good.seen[0]!;
    expect([retry.method, retry.url]).toEqual(['PUT', '/orders/7/status']);
    expect(retry.headers['x-request-id']).toBe('r-7');
    expect(retry.body.toString(), 'the retry carries the whole body again').toBe(body);
  });

  it('retries at most `retries` times (default 1), each time on an instance not yet tried', async () => {
    const attempts = async (retries: number | undefined) => {
      const instances = await Promise.all(['x', 'y', 'z', 'w'].map((id) => startInstance(id, reset)));
      const client = clientFor(sourceOf(...instances), retries === undefined ? {} : { retries });
      await rejection(get(client), 'every instance resets');
      return instances.map((instance) => instance.seen.length);
    };
    expect(await attempts(undefined), 'by default, one attempt and one retry').toEqual([1, 1, 0, 0]);
    expect(await attempts(0), 'retries: 0, one attempt').toEqual([1, 0, 0, 0]);
    expect(await attempts(2), 'retries: 2, three attempts on three different instances').toEqual([
      1, 1, 1, 0,
    ]);
  });

  it('retries on an instance the call has not tried, even after concurrent calls moved the round-robin position', async () => {
    const flaky = await startInstance('flaky', reset);
    const good = await startInstance('good');
    const client = clientFor(sourceOf(flaky, good));
    // Two calls at once: the first takes flaky, the second takes good, so the shared position now
    // points at flaky again when the first call's retry picks.
    const outcomes = await Promise.allSettled([get(client), get(client)]);
    expect(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value.instance.id : `rejected: ${o.reason?.code}`)),
      'the first call’s retry goes to good, the instance it has not tried, not back to flaky',
    ).toEqual(['good', 'good']);
    expect(flaky.seen, 'flaky was tried once').toHaveLength(1);
  });

  it('retries on the same instance when it is the only one', async () => {
    let calls = 0;
    const only = await startInstance('only', (req, res) => {
      if (++calls === 1) return reset(req, res, Buffer.alloc(0));
      answer('only')(req, res, Buffer.alloc(0));
    });
    const client = clientFor(sourceOf(only));
    const res = await get(client);
    expect(res.status, 'a reset GET is retried even with nowhere else to go').toBe(200);
    expect(only.seen).toHaveLength(2);
  });

  it('retries a refused connection on another instance', async () => {
    const dead = await deadInstance('dead');
    const good = await startInstance('good');
    const client = clientFor(sourceOf(dead, good));
    const res = await get(client);
    expect(res.instance.id, 'refused, then answered by the other instance').toBe('good');
  });

  it('retries a timed-out GET on another instance, and never a timed-out POST', async () => {
    const slow = await startInstance('slow', silent);
    const good = await startInstance('good');
    const client = clientFor(sourceOf(slow, good), { timeoutMs: 300 });
    const res = await valueWithin(get(client), 2000, 'two attempts of at most 300 ms');
    expect(res.instance.id, 'the GET timed out on slow and was answered by good').toBe('good');
    await waitFor('slow to see its request closed', () => slow.abandoned === 1);

    const slow2 = await startInstance('slow2', silent);
    const good2 = await startInstance('good2');
    const posting = clientFor(sourceOf(slow2, good2), { timeoutMs: 150 });
    const error = await rejection(
      valueWithin(posting.request({ method: 'POST', path: '/payments', body: '{}' }), 2000, 'a 150 ms POST'),
      'a POST',
    );
    expect(error, 'the POST times out and is not retried').toBeInstanceOf(ServiceTimeoutError);
    expect(good2.seen, 'a retried POST could charge twice: it reached one instance, once').toEqual([]);
  });

  it('returns an answer of any status instead of retrying it', async () => {
    for (const status of [500, 503]) {
      const failing = await startInstance(`failing-${status}`, (_req, res) => {
        res.writeHead(status, { 'retry-after': '1' }).end('unavailable');
      });
      const good = await startInstance(`good-${status}`);
      const client = clientFor(sourceOf(failing, good));
      const res = await get(client);
      expect(res.status, `a ${status} is an answer: the caller gets it`).toBe(status);
      expect(res.body.toString()).toBe('unavailable');
      expect(good.seen, `a ${status} is not retried on another instance`).toEqual([]);
    }
  });

  it('rejects a response cut off in the middle of its body, without retrying it', async () => {
    const cut = await startInstance('cut', (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only ten b');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const good = await startInstance('good');
    const client = clientFor(sourceOf(cut, good), { timeoutMs: 5000 });
    const error = await rejection(get(client), 'a body cut off after 10 of 100 bytes');
    expect(error.code, 'the socket’s error (not a timeout, not a truncated 200)').toBe('ECONNRESET');
    expect(good.seen, 'a response had started: not retried').toEqual([]);
  });
});

describe('service client: suspect instances', () => {
  it('skips an instance that refused a connection for suspectMs, then tries it again', async () => {
    const clock = new ManualClock();
    const dead = await deadInstance('dead');
    const good = await startInstance('good');
    const client = clientFor(sourceOf(dead, good), { retries: 0, suspectMs: 1000, clock });
    expect(await answeredBy(client, 1), 'the first call goes to dead and is refused').toEqual([
      '!ECONNREFUSED',
    ]);
    expect(await answeredBy(client, 4), 'dead is suspect: skipped').toEqual(['good', 'good', 'good', 'good']);
    clock.advance(999);
    expect(await answeredBy(client, 2), '1 ms before suspectMs is over: still skipped').toEqual([
      'good',
      'good',
    ]);
    clock.advance(1);
    expect(
      await answeredBy(client, 1),
      'at exactly suspectMs after the refusal it is not suspect: its turn comes again',
    ).toEqual(['!ECONNREFUSED']);
    expect(await answeredBy(client, 2), 'refused again: suspect again').toEqual(['good', 'good']);
  });

  it('does not make an instance suspect for a reset, a timeout or an error status', async () => {
    for (const failure of ['reset', 'slow', 'status 500']) {
      let calls = 0;
      const flaky = await startInstance(`flaky-${failure}`, (req, res, body) => {
        if (++calls > 1) return answer('flaky')(req, res, body);
        if (failure === 'reset') return reset(req, res, body);
        if (failure === 'status 500') return void res.writeHead(500).end();
      });
      const good = await startInstance(`good-${failure}`);
      const client = clientFor(sourceOf(flaky, good), {
        retries: 0,
        // Short only where a timeout is the failure under test; wide elsewhere, for a busy machine.
        timeoutMs: failure === 'slow' ? 300 : 5000,
        clock: new ManualClock(),
      });
      await get(client).catch(() => {});
      expect(
        await answeredBy(client, 2),
        `after a ${failure}, flaky stays in the rotation: only a refused connection makes it suspect`,
      ).toEqual([`good-${failure}`, `flaky-${failure}`]);
    }
  });

  it('keeps suspicion across a refresh for instances still listed, and forgets instances that left', async () => {
    const clock = new ManualClock();
    const dead = await deadInstance('dead');
    const good = await startInstance('good');
    const source = sourceOf(dead, good);
    const client = clientFor(source, { retries: 0, clock });
    expect(await answeredBy(client, 1)).toEqual(['!ECONNREFUSED']);
    source.set(SERVICE, [dead, good]); // a heartbeat somewhere: same list, new lookup
    expect(await answeredBy(client, 3), 'still listed, still suspect after the refresh').toEqual([
      'good',
      'good',
      'good',
    ]);
    source.set(SERVICE, [good]); // dead's lease ran out
    expect(await answeredBy(client, 1)).toEqual(['good']);
    source.set(SERVICE, [dead, good]); // it registered again
    expect(
      await answeredBy(client, 2),
      'an instance that left and came back starts without suspicion',
    ).toContain('!ECONNREFUSED');
  });

  it('still calls out when every instance is suspect', async () => {
    const clock = new ManualClock();
    const x = await deadInstance('x');
    const y = await deadInstance('y');
    const client = clientFor(sourceOf(x, y), { retries: 0, clock });
    expect(await answeredBy(client, 4), 'round robin over the suspects: no other choice').toEqual(
      Array(4).fill('!ECONNREFUSED'),
    );
  });
});
