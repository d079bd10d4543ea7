/**
 * Fake stock, payment and shipping services (PROVIDED: used by the suite, `serve.ts` and
 * `bench.ts`). Each is a real HTTP server on port 0 of 127.0.0.1 behind the kit's fault proxy, so
 * that a test can make it slow (`delayMs`), flaky (`failRate`: answers 503 without doing anything)
 * or down (`down()`: new connections are refused, open ones cut).
 *
 * Every service keeps one record per id: `PUT /<things>/<id>` creates it (201), or answers 200 when
 * it exists; `DELETE /<things>/<id>` cancels it (204) and leaves a tombstone when there was none, so
 * a PUT that arrives after its own cancellation (a slow request overtaken) is refused with 410.
 * Stock answers 409 `out of stock`; payment answers 402 `payment declined` for a customer whose name
 * starts with `declined`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type FaultProxy, startFaultProxy } from '../../../src/testing/fault-proxy.js';
import { listen } from '../../../src/testing/net.js';
import { seededRandom } from '../../../src/testing/sim/prng.js';
import type { Answer, ServiceUrls, Transport } from './workflow.js';

export type ServiceName = keyof ServiceUrls;

interface Entry {
  active: boolean;
  readonly body: { sku?: string; quantity?: number; amountCents?: number; customer?: string };
}

export interface FakeService {
  readonly name: ServiceName;
  /** The proxy's URL: what the workflow calls. */
  readonly url: string;
  readonly proxy: FaultProxy;
  /** Each request waits this long before it is handled (ms). */
  delayMs: number;
  /** The fraction of requests answered 503 at once, nothing done (seeded). */
  failRate: number;
  /** Requests received (PUT and DELETE), answered or not. */
  readonly received: number;
  /** Requests answered (or whose client was gone by then). */
  readonly handled: number;
  readonly entries: ReadonlyMap<string, Entry>;
  down(): void;
  up(): void;
  /** Handles one request in process (the bench's monolith calls this directly). */
  handle(method: string, id: string, body: Entry['body']): Answer;
  close(): Promise<void>;
}

export interface FakeServices {
  readonly stock: FakeService;
  readonly payment: FakeService;
  readonly shipping: FakeService;
  readonly urls: ServiceUrls;
  /** Units of `sku` in stock now. */
  available(sku: string): number;
  /** Cents charged and not refunded. */
  chargedCents(): number;
  /** The monolith's transport: direct calls, no network. */
  inProcess: Transport;
  close(): Promise<void>;
}

/** Starts the three services; `stock` gives the units per sku at start. */
export async function startFakeServices(stock: Record<string, number>, seed = 1): Promise<FakeServices> {
  const units = new Map(Object.entries(stock));
  const random = seededRandom(seed);
  const refuse = (body: Entry['body'], name: ServiceName): Answer | undefined => {
    if (name === 'stock' && (units.get(body.sku ?? '') ?? 0) < (body.quantity ?? 0)) {
      return { status: 409, body: { error: 'out of stock' } };
    }
    if (name === 'payment' && body.customer?.startsWith('declined')) {
      return { status: 402, body: { error: 'payment declined' } };
    }
    return undefined;
  };
  const effect = (entry: Entry, name: ServiceName, sign: 1 | -1) => {
    if (name !== 'stock') return;
    const sku = entry.body.sku ?? '';
    units.set(sku, (units.get(sku) ?? 0) - sign * (entry.body.quantity ?? 0));
  };
  const services = {} as Record<ServiceName, FakeService>;
  for (const name of ['stock', 'payment', 'shipping'] as const) {
    services[name] = await startFake(name, random, refuse, effect);
  }
  return {
    ...services,
    urls: { stock: services.stock.url, payment: services.payment.url, shipping: services.shipping.url },
    available: (sku) => units.get(sku) ?? 0,
    chargedCents: () =>
      [...services.payment.entries.values()].reduce(
        (sum, e) => sum + (e.active ? (e.body.amountCents ?? 0) : 0),
        0,
      ),
    inProcess: async (service, method, path, body) =>
      services[service].handle(method, path.split('/').at(-1) ?? '', (body ?? {}) as Entry['body']),
    close: async () => {
      await Promise.all(Object.values(services).map((s) => s.close()));
    },
  };
}

async function startFake(
  name: ServiceName,
  random: () => number,
  refuse: (body: Entry['body'], name: ServiceName) => Answer | undefined,
  effect: (entry: Entry, name: ServiceName, sign: 1 | -1) => void,
): Promise<FakeService> {
  const entries = new Map<string, Entry>();
  let received = 0;
  let handled = 0;
  const handle = (method: string, id: string, body: Entry['body']): Answer => {
    const entry = entries.get(id);
    if (method === 'PUT') {
      if (entry)
        return entry.active
          ? { status: 200, body: { id } }
          : { status: 410, body: { error: `${id} was cancelled` } };
      const refused = refuse(body, name);
      if (refused) return refused;
      const created = { active: true, body };
      entries.set(id, created);
      effect(created, name, 1);
      return { status: 201, body: { id } };
    }
    if (method === 'DELETE') {
      if (!entry)
        entries.set(id, { active: false, body }); // a tombstone
      else if (entry.active) {
        entry.active = false;
        effect(entry, name, -1);
      }
      return { status: 204, body: {} };
    }
    return { status: 405, body: { error: `${method} is not allowed` } };
  };

  const fake: FakeService = {
    name,
    url: '',
    proxy: undefined as unknown as FaultProxy,
    delayMs: 0,
    failRate: 0,
    get received() {
      return received;
    },
    get handled() {
      return handled;
    },
    entries,
    down: () => {
      fake.proxy.refuse(true);
      fake.proxy.cut();
    },
    up: () => fake.proxy.refuse(false),
    handle,
    close: async () => {
      await fake.proxy.close();
      await listening.close();
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    received++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = (a: Answer) => {
        handled++;
        if (res.destroyed) return;
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.status === 204 ? undefined : JSON.stringify(a.body));
      };
      if (random() < fake.failRate) return answer({ status: 503, body: { error: `${name} is overloaded` } });
      setTimeout(() => {
        let body: Entry['body'] = {};
        try {
          body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
        } catch {
          return answer({ status: 400, body: { error: 'body is not JSON' } });
        }
        answer(handle(req.method ?? '', req.url?.split('/').at(-1) ?? '', body));
      }, fake.delayMs);
    });
  });
  const listening = await listen(server);
  const proxy = await startFaultProxy({ port: listening.port });
  Object.assign(fake, { proxy, url: `http://127.0.0.1:${proxy.port}` });
  return fake;
}
