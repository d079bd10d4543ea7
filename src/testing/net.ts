/**
 * Real servers on real ports for tests: listen on port 0 of 127.0.0.1, get the URL back, and close
 * everything (open keep-alive sockets included) when done.
 */
import type { Server as HttpServer, RequestListener } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';

export { freePort } from './redis-server.js';

/** A listening server under test. */
export interface Listening<S extends Server = Server> {
  readonly server: S;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Closes the server and destroys its open connections. Safe to call twice. */
  close(): Promise<void>;
}

/** Starts `server` on a free port of 127.0.0.1 (or the given port). */
export async function listen<S extends Server>(server: S, port = 0): Promise<Listening<S>> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () => (closing ??= closeServer(server)),
  };
}

/** Starts a plain `node:http` server with the given handler (a stand-in backend, say). */
export function startHttpServer(handler: RequestListener): Promise<Listening<HttpServer>> {
  return listen(createHttpServer(handler));
}

/** Closes a server now: stops accepting, and destroys idle and active connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    const http = server as Partial<HttpServer>;
    http.closeAllConnections?.();
  });
}

/** Resolves after `ms` milliseconds (for tests that must wait in real time; prefer a clock). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes; the error names `what`.
 * For conditions in other processes or servers, where there is no event to await.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 20 } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}
