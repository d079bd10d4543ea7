/**
 * Test helpers for the gateway suites (given, not edited): stand-in services that record what
 * reached them, a gateway on a free port with an HMAC key and a manual clock, and tokens to match.
 */
import { createHash } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { SignJWT } from 'jose';
import {
  freePort,
  type Listening,
  listen,
  ManualClock,
  startHttpServer,
} from '../../../src/testing/index.js';
import { type ApiGateway, type ApiGatewayOptions, createApiGateway } from './api-gateway.js';
import { StaticSource } from './instance-source.js';

export const SECRET = new TextEncoder().encode('a-demo-secret-of-at-least-32-bytes!!');
export const ISSUER = 'https://auth.example.test';
export const AUDIENCE = 'api-gateway';

/** What reached a stand-in service. */
export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestService extends Listening {
  readonly name: string;
  readonly seen: Seen[];
  /** Requests whose connection closed before the service answered. */
  readonly abandoned: Seen[];
  handle: Handler;
}

/** Echoes `{ service, method, url, headers, bodySha256 }` after reading the whole body. */
export const echo =
  (name: string): Handler =>
  (req, res) => {
    const hash = createHash('sha256');
    req.on('data', (chunk) => hash.update(chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          service: name,
          method: req.method,
          url: req.url,
          headers: req.headers,
          bodySha256: hash.digest('hex'),
        }),
      );
    });
  };

export class Harness {
  readonly clock = new ManualClock();
  readonly source = new StaticSource();
  readonly #open: { close(): Promise<void> }[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();

  /** A node:http service on a free port that records every request. */
  async service(name: string, handle?: Handler): Promise<TestService> {
    const state = { name, seen: [] as Seen[], abandoned: [] as Seen[], handle: handle ?? echo(name) };
    const listening = await startHttpServer((req, res) => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
      state.seen.push(seen);
      res.on('close', () => {
        if (!res.writableFinished) state.abandoned.push(seen);
      });
      state.handle(req, res);
    });
    this.#open.push(listening);
    return Object.assign(state, {
      server: listening.server,
      port: listening.port,
      url: listening.url,
      close: listening.close,
    });
  }

  /** A service that resets the connection as soon as a request arrives (it got the request, no answer). */
  async resetting(): Promise<Listening & { readonly requests: Seen[] }> {
    const requests: Seen[] = [];
    const listening = await listen(
      createServer((req) => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
        req.socket.destroy();
      }),
    );
    this.#open.push(listening);
    return Object.assign(listening, { requests });
  }

  /** An address where nothing listens: an instance that is down. */
  async deadPort(): Promise<number> {
    return freePort();
  }

  /** Lists services as instances of `service` in the source, in this order. */
  register(service: string, ...instances: ({ port: number } | TestService)[]): void {
    this.source.set(
      service,
      instances.map((instance, i) => ({ id: `${service}-${i + 1}`, host: '127.0.0.1', port: instance.port })),
    );
  }

  /** A gateway on a free port, with this harness's source, clock and HMAC key unless overridden. */
  async gateway(
    options: Partial<ApiGatewayOptions> & Pick<ApiGatewayOptions, 'routes'>,
  ): Promise<{ gateway: ApiGateway; url: string; port: number }> {
    const gateway = createApiGateway({
      source: this.source,
      clock: this.clock,
      auth: { key: SECRET, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] },
      ...options,
    });
    const listening = await listen(gateway.server);
    this.#open.push({ close: () => gateway.close() });
    return { gateway, url: listening.url, port: listening.port };
  }

  /** A valid HS256 token for `sub`, issued now on the harness clock, expiring in 5 minutes. */
  token(
    claims: Record<string, unknown> = {},
    { alg = 'HS256', key = SECRET as Uint8Array } = {},
  ): Promise<string> {
    const now = Math.floor(this.clock.now() / 1000);
    return new SignJWT({ sub: 'user-42', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg })
      .sign(key);
  }

  /** setTimeout that `closeAll` cancels (for services that answer late). */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  async closeAll(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    // Gateways were opened after their services: close in reverse order.
    for (const item of this.#open.splice(0).reverse()) await item.close();
  }
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A request with exactly these headers and path (fetch would add, forbid or normalise some). */
export function raw(
  port: number,
  {
    method = 'GET',
    path = '/',
    headers = {},
    body,
  }: {
    method?: string;
    path?: string;
    headers?: Record<string, string | string[]>;
    body?: string | Buffer;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `raw` and parse the body as JSON. */
export async function rawJson(
  port: number,
  options: Parameters<typeof raw>[1] = {},
): Promise<RawResponse & { json: any }> {
  const res = await raw(port, options);
  let json: any;
  try {
    json = JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  return { ...res, json };
}
