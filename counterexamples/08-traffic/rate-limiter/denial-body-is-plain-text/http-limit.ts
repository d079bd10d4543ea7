/**
 * Rate limiting at the HTTP edge: a wrapper around a `node:http` handler that asks a limiter before
 * the handler runs, and answers what a client deserves when it is over the limit: `429 Too Many
 * Requests` (RFC 6585) with `Retry-After` (RFC 9110), plus `RateLimit-Limit`, `RateLimit-Remaining`
 * and `RateLimit-Reset` on every response (the IETF RateLimit header fields draft).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/** What the wrapper needs from a limiter (the Redis limiter has this shape). */
export interface Limiter {
  take(key: string): Promise<{
    readonly allowed: boolean;
    readonly limit: number;
    readonly remaining: number;
    readonly resetMs: number;
    readonly retryAfterMs: number;
  }>;
}

export interface RateLimitOptions {
  readonly limiter: Limiter;
  /**
   * What to do when the limiter fails (Redis is down): `'allow'` lets the request through without
   * rate-limit headers (fail open, the default: an outage of the limiter is not an outage of the API);
   * `'reject'` answers 503 (fail closed) with a JSON error body as for a 429, and does not call the
   * handler.
   */
  readonly onLimiterError?: 'allow' | 'reject';
}

/**
 * The key a request is counted under: `key:<X-API-Key>` when the request carries a non-empty
 * `X-API-Key` header, otherwise `ip:<the socket's remote address>`. `X-Forwarded-For` is ignored:
 * any client can write it, so trusting it would let a client pick its own bucket.
 */
export function clientKey(req: IncomingMessage): string {
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return `key:${apiKey}`;
  return `ip:${req.socket.remoteAddress ?? 'unknown'}`;
}

const toSeconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/**
 * Wraps `handler`: every request is counted under {@link clientKey}. An admitted request reaches
 * the handler with the three `RateLimit-*` headers already set (and no `Retry-After`); a denied one
 * gets 429 with `Retry-After` (whole seconds, rounded up, at least 1), the same headers, and a body
 * `{ "error": "<what happened, in words>" }` sent as `Content-Type: application/json`, and never
 * reaches the handler. `RateLimit-Reset` is in whole seconds, rounded up.
 */
export function withRateLimit(handler: RequestListener, options: RateLimitOptions): RequestListener {
  const { limiter, onLimiterError = 'allow' } = options;
  return (req, res) => {
    limiter.take(clientKey(req)).then(
      (decision) => {
        res.setHeader('RateLimit-Limit', String(decision.limit));
        res.setHeader('RateLimit-Remaining', String(decision.remaining));
        res.setHeader('RateLimit-Reset', String(toSeconds(decision.resetMs)));
        if (decision.allowed) return handler(req, res);
        res.setHeader('Retry-After', String(Math.max(1, toSeconds(decision.retryAfterMs))));
        res.writeHead(429, { 'content-type': 'text/plain' }).end('Too Many Requests');
      },
      () => {
        if (onLimiterError === 'allow') return handler(req, res);
        sendJson(res, 503, { error: 'the rate limiter is unavailable; try again shortly' });
      },
    );
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
