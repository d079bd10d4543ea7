/**
 * A real WebSocket client (the `ws` package) shaped for tests: await the next message that matches,
 * send JSON, and see how and why the connection closed.
 */
import WebSocket, { type ClientOptions } from 'ws';

/** How a connection ended. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** A connected test client. */
export interface TestSocket {
  readonly ws: WebSocket;
  /** Every message received so far, parsed as JSON when it is JSON (else the raw string). */
  readonly received: unknown[];
  /** Sends a value as JSON, or a string/Buffer as it is. */
  send(message: unknown): void;
  /**
   * Resolves with the next message (received after the last one this returned) that `match`
   * accepts; rejects after `timeoutMs` with a message that lists what did arrive.
   */
  next<T = any>(match?: (message: any) => boolean, timeoutMs?: number): Promise<T>;
  /** Resolves when no matching message arrives within `ms`; rejects with the one that did. */
  expectSilence(match?: (message: any) => boolean, ms?: number): Promise<void>;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<CloseInfo>;
  /** Closes (if open) and waits for the close. */
  close(code?: number): Promise<CloseInfo>;
}

const parse = (data: WebSocket.RawData): unknown => {
  const text = data.toString();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** Connects to `url`; rejects if the handshake fails (the error says the status when there is one). */
export function connectWebSocket(url: string, options: ClientOptions = {}): Promise<TestSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const received: unknown[] = [];
    let cursor = 0;
    const waiters = new Set<() => void>();
    const closed = new Promise<CloseInfo>((resolveClose) => {
      ws.once('close', (code, reason) => {
        resolveClose({ code, reason: reason.toString() });
        for (const wake of waiters) wake();
      });
    });
    ws.on('message', (data) => {
      received.push(parse(data));
      for (const wake of waiters) wake();
    });
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`WebSocket handshake refused: HTTP ${res.statusCode}`)),
    );
    ws.once('error', reject);

    const next = <T>(match: (m: any) => boolean = () => true, timeoutMs = 3000) =>
      new Promise<T>((resolveNext, rejectNext) => {
        const check = () => {
          while (cursor < received.length) {
            const message = received[cursor++];
            if (match(message)) {
              cleanup();
              resolveNext(message as T);
              return;
            }
          }
          if (ws.readyState === WebSocket.CLOSED) {
            cleanup();
            rejectNext(
              new Error(
                `the connection closed before the expected message arrived; received: ${describe(received)}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          rejectNext(
            new Error(`no matching message within ${timeoutMs} ms; received so far: ${describe(received)}`),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });

    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {}); // surfaced through `closed`
      resolve({
        ws,
        received,
        send: (message) =>
          ws.send(
            typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message),
          ),
        next,
        async expectSilence(match = () => true, ms = 300) {
          try {
            const message = await next(match, ms);
            throw new Error(`expected no such message, but received ${JSON.stringify(message)}`);
          } catch (error) {
            if (!/no matching message/.test((error as Error).message)) throw error;
          }
        },
        closed,
        async close(code = 1000) {
          if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code);
          return closed;
        },
      });
    });
  });
}

function describe(messages: unknown[]): string {
  const text = JSON.stringify(messages.slice(-10));
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
