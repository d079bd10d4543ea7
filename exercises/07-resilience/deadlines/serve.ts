/**
 * `npm run serve -- 07-resilience/deadlines [--port N]`
 *
 * Starts a two-hop demo: a front service (the port you asked for) that spends `?pre=ms` on its own
 * work and then calls a downstream service (on a free port) with what is left of the request's budget
 * in `x-request-timeout-ms`; the downstream spends `?work=ms`, honouring its deadline. Both answer with
 * the budget they were given, so you can watch it shrink from hop to hop, and a 504 when it runs out.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServeContext, Served } from '../../../src/testing/index.js';
import { DeadlineExceededError } from './deadline.js';
import { DEADLINE_HEADER, type DeadlineHandler, fetchWithDeadline, withDeadline } from './propagate.js';

function listenOn(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
  });
}

function closeAll(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function spend(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', stop, { once: true });
  });
}

/** JSON when it is, the text otherwise (a 504's plain-text body). */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text.trim();
  }
}

const msParam = (url: string | undefined, name: string) =>
  Math.max(0, Number(new URL(url ?? '/', 'http://demo').searchParams.get(name)) || 0);

export default async function serve(ctx: ServeContext): Promise<Served> {
  const downstreamHandler: DeadlineHandler = async (req, res, deadline) => {
    const given = req.headers[DEADLINE_HEADER] ?? '(none: the default)';
    const work = msParam(req.url, 'work');
    await spend(work, deadline.signal);
    res.setHeader('content-type', 'application/json');
    res.end(`${JSON.stringify({ hop: 'downstream', budgetGivenMs: given, workedMs: work })}\n`);
  };
  const downstream = createServer(withDeadline(downstreamHandler, { defaultMs: 5000, maxMs: 10_000 }));
  const downstreamUrl = await listenOn(downstream, 0, ctx.host);

  const frontHandler: DeadlineHandler = async (req, res, deadline) => {
    const given = req.headers[DEADLINE_HEADER] ?? '(none: the default)';
    await spend(msParam(req.url, 'pre'), deadline.signal);
    const url = new URL(req.url ?? '/', downstreamUrl);
    try {
      const answer = await fetchWithDeadline(url, deadline);
      const text = await answer.text();
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ hop: 'front', budgetGivenMs: given, downstream: parsed(text) })}\n`);
    } catch (error) {
      if (error instanceof DeadlineExceededError) throw error; // withDeadline has answered 504
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`the downstream failed: ${String(error)}\n`);
    }
  };
  const front = createServer(withDeadline(frontHandler, { defaultMs: 5000, maxMs: 10_000 }));
  const url = await listenOn(front, ctx.port, ctx.host);
  ctx.log(
    `Front service on ${url}, calling the downstream on ${downstreamUrl} (default budget 5 s, max 10 s)`,
  );
  return {
    url,
    tryIt: [
      `curl -s '${url}/?pre=100&work=100' -H '${DEADLINE_HEADER}: 1000'   # the downstream is given ~900 ms`,
      `curl -si '${url}/?pre=100&work=2000' -H '${DEADLINE_HEADER}: 500'  # 504: the work cannot finish`,
      `curl -si '${url}/' -H '${DEADLINE_HEADER}: 0'                      # 504 at once: no time left`,
      `curl -si '${url}/' -H '${DEADLINE_HEADER}: soon'                   # 400: not a number of ms`,
      `curl -s '${url}/?work=3000'                                        # the 5 s default budget`,
    ],
    async close() {
      await closeAll(front);
      await closeAll(downstream);
    },
  };
}
