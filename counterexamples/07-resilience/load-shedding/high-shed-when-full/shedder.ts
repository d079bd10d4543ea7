/**
 * Load shedding at the HTTP edge: a wrapper around a `node:http` handler that runs at most
 * `concurrency` requests at once, lets the rest wait in a short queue, and answers `503` with
 * `Retry-After` instead of letting the queue grow. The signal is how long a request has waited (its
 * queueing delay), not how many are waiting: CoDel's idea (Nichols & Jacobson, "Controlling Queue
 * Delay", ACM Queue 2012). A request that has waited longer than `targetQueueMs` when its turn comes
 * is shed, because by then the client has spent most of its patience and the server would be
 * working on answers nobody waits for. High-priority requests (health checks, paying customers,
 * the checkout rather than the recommendations) go first and are shed last.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/** Which of the two queues a request waits in. */
export type Priority = 'high' | 'low';

/** What the shedder asks for the time: milliseconds on a clock that does not jump. */
export interface Clock {
  now(): number;
}

export interface LoadShedderOptions {
  /** Handlers running at once, at most. An integer ≥ 1. */
  readonly concurrency: number;
  /** The longest a request may wait for a slot and still be started, in ms. A finite number ≥ 0. */
  readonly targetQueueMs: number;
  /** Requests waiting at once, at most, in both queues together. An integer ≥ 0. */
  readonly maxQueue: number;
  /** Default: `'high'` when the request has `x-priority: high` (any case), otherwise `'low'`. */
  readonly priority?: (req: IncomingMessage) => Priority;
  /** The `Retry-After` value of a 503, in whole seconds. An integer ≥ 0; default 1. */
  readonly retryAfterSeconds?: number;
  /** Default: `performance.now()`. */
  readonly clock?: Clock;
}

/** Counters since the shedder was created; `running` and `queued` are the state right now. */
export interface ShedderStats {
  /** Handlers started whose response has not closed yet. */
  readonly running: number;
  /** Requests waiting for a slot, in both queues. */
  readonly queued: number;
  /** Requests handed to the handler so far. */
  readonly served: number;
  /** Requests answered with 503. */
  readonly shed: number;
  /** Waiting requests whose client went away before their turn: neither run nor answered. */
  readonly dropped: number;
}

/** A request listener with counters. */
export interface LoadShedder extends RequestListener {
  stats(): ShedderStats;
}

interface Waiting {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly arrivedAt: number;
  readonly onClose: () => void;
}

const monotonicClock: Clock = { now: () => performance.now() };

const defaultPriority = (req: IncomingMessage): Priority =>
  String(req.headers['x-priority'] ?? '').toLowerCase() === 'high' ? 'high' : 'low';

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer ≥ ${min}; got ${value}`);
  }
}

/**
 * Wraps `handler` so that at most `concurrency` handlers run at once.
 *
 * - A request that finds a free slot (and nobody waiting) starts at once.
 * - Otherwise it waits in its priority's FIFO queue. When a slot frees, the oldest high-priority
 *   request goes first, then the oldest low one; a request that has waited longer than `targetQueueMs`
 *   on the clock by then is shed instead of started (exactly `targetQueueMs` is still started), and the
 *   next one is looked at.
 * - A request that arrives to a full queue (`maxQueue` waiting) is shed, except that a high-priority
 *   arrival takes the place of the newest waiting low-priority request, which is shed instead. With
 *   `maxQueue: 0` nothing waits.
 * - A waiting request whose client goes away is removed from its queue (its place is free at once),
 *   never reaches the handler, and counts as dropped.
 * - Shed means: `503` with `Retry-After: <retryAfterSeconds>` and a short text body, whichever rule
 *   shed it. The handler never sees a shed request.
 * - A slot is held from the handler's start until its response closes (finished, or the connection
 *   went away). A handler that throws or rejects gets `500` if nothing was sent yet (otherwise the
 *   response is destroyed), which frees its slot; the error never becomes an unhandled rejection.
 * @throws {RangeError} when an option is out of its range (the message names the option)
 */
export function loadShedder(handler: RequestListener, options: LoadShedderOptions): LoadShedder {
  const { concurrency, targetQueueMs, maxQueue, priority = defaultPriority } = options;
  const { retryAfterSeconds = 1, clock = monotonicClock } = options;
  requireInteger('concurrency', concurrency, 1);
  requireInteger('maxQueue', maxQueue, 0);
  requireInteger('retryAfterSeconds', retryAfterSeconds, 0);
  if (!(Number.isFinite(targetQueueMs) && targetQueueMs >= 0)) {
    throw new RangeError(`targetQueueMs must be a finite number ≥ 0; got ${targetQueueMs}`);
  }

  const queues: Record<Priority, Waiting[]> = { high: [], low: [] };
  let running = 0;
  let served = 0;
  let shed = 0;
  let dropped = 0;

  const queued = () => queues.high.length + queues.low.length;

  function reject(res: ServerResponse): void {
    shed++;
    res.writeHead(503, {
      'content-type': 'text/plain; charset=utf-8',
      'retry-after': String(retryAfterSeconds),
    });
    res.end('overloaded: try again after Retry-After seconds\n');
  }

  function start(req: IncomingMessage, res: ServerResponse): void {
    running++;
    served++;
    res.once('close', () => {
      running--;
      next();
    });
    // Called at once, in the same turn as the decision: the queueing delay measured is the real one.
    let result: unknown;
    try {
      result = handler(req, res);
    } catch {
      fail(res);
      return;
    }
    Promise.resolve(result).catch(() => fail(res));
  }

  /** A handler threw or rejected: a 500 if nothing was sent yet, otherwise the response is cut. */
  function fail(res: ServerResponse): void {
    if (res.writableEnded) return;
    if (res.headersSent) res.destroy();
    else res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal error\n');
  }

  /** Fills free slots from the queues, high first, shedding whoever has waited too long. */
  function next(): void {
    while (running < concurrency) {
      const waiting = queues.high.shift() ?? queues.low.shift();
      if (!waiting) return;
      waiting.res.off('close', waiting.onClose);
      if (clock.now() - waiting.arrivedAt > targetQueueMs) reject(waiting.res);
      else start(waiting.req, waiting.res);
    }
  }

  function enqueue(req: IncomingMessage, res: ServerResponse, queue: Waiting[]): void {
    const waiting: Waiting = {
      req,
      res,
      arrivedAt: clock.now(),
      onClose: () => {
        const at = queue.indexOf(waiting);
        if (at === -1) return;
        queue.splice(at, 1);
        dropped++;
      },
    };
    res.once('close', waiting.onClose);
    queue.push(waiting);
  }

  /** Starts the request, queues it, or sheds it (or, for a high one, the newest low one instead). */
  function admit(req: IncomingMessage, res: ServerResponse): void {
    if (running < concurrency && queued() === 0) {
      start(req, res);
      return;
    }
    const level = priority(req);
    if (queued() < maxQueue) {
      enqueue(req, res, queues[level]);
      return;
    }
    reject(res);
  }

  return Object.assign(admit, {
    stats: (): ShedderStats => ({ running, queued: queued(), served, shed, dropped }),
  });
}
