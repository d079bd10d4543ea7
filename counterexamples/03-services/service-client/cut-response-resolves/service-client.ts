/**
 * A client for one named service: the piece of client-side discovery that lives in every caller.
 * It asks an {@link InstanceSource} (a registry) which instances exist, spreads calls over them round
 * robin, keeps connections alive, bounds every attempt with a timeout, retries what is safe to retry
 * on another instance, and steers around an instance that refuses connections for a while.
 *
 * ```
 *   request ─▶ list (cached; looked up again after a change notification)
 *           ─▶ pick (round robin; untried and not suspect first)
 *           ─▶ attempt (keep-alive agent, timeoutMs for the whole attempt)
 *              ├─ response of any status ─▶ resolve
 *              └─ refused / reset before a response / timed out
 *                   ─▶ idempotent method and retries left? next attempt on another instance
 *                   ─▶ otherwise reject
 * ```
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Instance, InstanceSource } from './instance-source.js';

export type { Instance, InstanceSource };

/** What the client reads the time from (ms). Default: `Date.now()`. */
export interface Clock {
  now(): number;
}

export interface ServiceClientOptions {
  /** The service to call, e.g. `"orders"`: a non-empty string. */
  readonly service: string;
  /** Where the instances come from: an object with `lookup` and `watch` functions. */
  readonly source: InstanceSource;
  /**
   * The limit for one attempt, in ms: connecting, sending, and receiving the whole response (headers
   * and body). A positive finite number. A call with retries can take up to `(retries + 1) * timeoutMs`.
   */
  readonly timeoutMs: number;
  /** How many times a failed idempotent call is tried again: an integer ≥ 0. Default 1. */
  readonly retries?: number;
  /** How long an instance that refused a connection stays suspect, in ms: a finite number ≥ 0. Default 5000. */
  readonly suspectMs?: number;
  /** Default: `Date.now()`. Only suspicion reads it; timeouts are real timers. */
  readonly clock?: Clock;
}

/** One call, as the caller describes it. */
export interface ServiceRequest {
  /** An HTTP method, any case (`'get'` is GET). */
  readonly method: string;
  /** The path and query, starting with `/`, e.g. `/orders/7?expand=items`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent with a `Content-Length`; kept, so a retry sends the same bytes. */
  readonly body?: string | Uint8Array;
}

/** The answer of the instance that answered. */
export interface ServiceResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The whole body, byte for byte. */
  readonly body: Buffer;
  /** Which instance answered. */
  readonly instance: Instance;
}

export interface ServiceClient {
  /**
   * Calls one instance of the service and resolves with its answer, whatever its status.
   * @throws {TypeError} (as a rejection) when `method` is not an HTTP token or `path` does not
   * start with `/`; nothing is sent
   * @throws {NoInstanceError} (as a rejection) when the source lists no instance
   * @throws {ServiceTimeoutError} (as a rejection) when the last attempt timed out
   * @throws the last attempt's socket error (as a rejection), with Node's `code`: `ECONNREFUSED`,
   * `ECONNRESET`, ...
   * @throws the source's error (as a rejection) when its `lookup` failed
   * @throws {Error} (as a rejection) once the client is closed
   */
  request(request: ServiceRequest): Promise<ServiceResponse>;
  /**
   * Stops watching the source and destroys the client's agent: its connections close, calls in
   * flight reject and are not retried, and later calls reject.
   */
  close(): void;
}

/** The rejection of a call when the source lists no instance of the service. */
export class NoInstanceError extends Error {
  readonly code = 'ENOINSTANCE';
  override readonly name = 'NoInstanceError';

  constructor(readonly service: string) {
    super(`no instance of service "${service}" is registered: start one, or check its heartbeats`);
  }
}

/** The rejection of a call whose last attempt did not finish within `timeoutMs`. */
export class ServiceTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  override readonly name = 'ServiceTimeoutError';

  constructor(
    readonly instance: Instance,
    readonly timeoutMs: number,
  ) {
    super(
      `instance ${instance.id} of service "${instance.service}" (${instance.host}:${instance.port}) ` +
        `did not answer completely within ${timeoutMs} ms`,
    );
  }
}

/** RFC 9110 §9.2.2: the methods whose repetition has the same effect as one request. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** RFC 9110 §5.6.2: a method is a token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Creates a client for `options.service`.
 *
 * **The list.** The client calls `source.watch(service, ...)` once, when it is created. It calls
 * `source.lookup(service)` on the first request, and then again only on the first request after a
 * change notification (however many notifications came in between): never per request. Requests
 * that need the list while a lookup is in flight wait for that lookup instead of starting another,
 * unless a notification came after it started: its answer may be stale, so the next request looks
 * up again. A lookup that fails rejects the requests waiting for it and is not kept: the next
 * request looks up again. An empty list rejects with {@link NoInstanceError}.
 *
 * **Round robin** (chapter 08's rule): the instances in list order, one after another. After picking
 * the instance at position i, the search for the next pick starts at position i + 1 (modulo the
 * list's length at that time), also when the list was looked up again in between: a refresh does
 * not send the next call back to the first instance. From there, each attempt takes the first
 * instance that this call has not tried and that is not suspect; failing that, the first not tried;
 * failing that, the first not suspect; failing that, the first.
 *
 * **Connections.** One `http.Agent({ keepAlive: true })` per client, for every instance: sequential
 * calls to one instance reuse one TCP connection. `close()` destroys it.
 *
 * **Timeouts.** Each attempt must finish (connect, send, and receive the whole body) within
 * `timeoutMs`, or it fails with {@link ServiceTimeoutError} and its socket is destroyed, so the
 * instance sees the request closed. A response that is slow to start but complete within the limit
 * is not cut. When an attempt ends, its timer is cleared: no timer outlives a call.
 *
 * **Retries.** Only the idempotent methods (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and
 * DELETE, in any case) are retried; POST, PATCH and every other method are sent once, whatever
 * happens. An attempt is retried when the connection was refused (`ECONNREFUSED`), reset before any
 * of the response arrived (`ECONNRESET`), or timed out; at most `retries` times per call, each time
 * on an instance this call has not tried when one exists (with a single instance, the same one
 * again). A retry sends the same method, path, headers and body. A response of any status (a 500, a
 * 503) is an answer: it is returned, not retried. A response cut off after it started rejects with
 * the socket's error and is not retried.
 *
 * **Suspicion.** An instance that refused a connection is suspect for `suspectMs` on the clock: from
 * the refusal at time t until t + suspectMs (at t + suspectMs it is not suspect any more), the picker
 * skips it while any instance that is not suspect is listed (see round robin above). Nothing else
 * makes an instance suspect: not a reset, not a timeout, not a status. A refresh of the list keeps
 * the suspicion of the instances still listed (by `id`) and forgets the others.
 *
 * @throws {TypeError} naming the option and its value, when `service` is not a non-empty string or
 * `source` lacks a `lookup` or `watch` function
 * @throws {RangeError} naming the option and its value, when `timeoutMs` is not a positive finite
 * number, `retries` is not an integer ≥ 0, or `suspectMs` is not a finite number ≥ 0
 */
export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  return new Client(validated(options));
}

type Settings = Required<ServiceClientOptions>;

function validated(options: ServiceClientOptions): Settings {
  const { service, source, timeoutMs, retries = 1, suspectMs = 5000, clock = Date } = options;
  if (typeof service !== 'string' || service === '')
    throw new TypeError(`service must be a non-empty string, got ${JSON.stringify(service)}`);
  if (typeof source?.lookup !== 'function' || typeof source.watch !== 'function')
    throw new TypeError(`source must have lookup() and watch() functions, got ${String(source)}`);
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0))
    throw new RangeError(`timeoutMs must be a positive finite number of ms, got ${timeoutMs}`);
  if (!(Number.isInteger(retries) && retries >= 0))
    throw new RangeError(`retries must be an integer >= 0, got ${retries}`);
  if (!(Number.isFinite(suspectMs) && suspectMs >= 0))
    throw new RangeError(`suspectMs must be a finite number of ms >= 0, got ${suspectMs}`);
  return { service, source, timeoutMs, retries, suspectMs, clock };
}

/** How far one attempt got: a failure after the response started is never retried. */
interface Progress {
  responded: boolean;
}

class Client implements ServiceClient {
  readonly #settings: Settings;
  readonly #agent = new Agent({ keepAlive: true });
  readonly #unwatch: () => void;
  /** Bumped by every change notification; a list looked up before the latest bump is stale. */
  #generation = 0;
  /** The lookup for one generation: in flight, or resolved (then it is the cached list). */
  #list: { readonly generation: number; readonly instances: Promise<readonly Instance[]> } | undefined;
  /** Round robin: the position where the search for the next pick starts. */
  #cursor = 0;
  /** Instance id → the clock time when its suspicion ends. */
  readonly #suspectUntil = new Map<string, number>();
  #closed = false;

  constructor(settings: Settings) {
    this.#settings = settings;
    this.#unwatch = settings.source.watch(settings.service, () => {
      this.#generation++;
    });
  }

  async request(call: ServiceRequest): Promise<ServiceResponse> {
    const method = checkedMethod(call.method);
    if (typeof call.path !== 'string' || !call.path.startsWith('/'))
      throw new TypeError(`path must start with "/", got ${JSON.stringify(call.path)}`);
    const body = call.body === undefined ? undefined : Buffer.from(call.body);
    const retryable = IDEMPOTENT_METHODS.has(method);
    const tried = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      this.#assertOpen();
      const instances = await this.#instances();
      this.#assertOpen();
      if (instances.length === 0) throw new NoInstanceError(this.#settings.service);
      const instance = this.#pick(instances, tried);
      tried.add(instance.id);
      const progress: Progress = { responded: false };
      try {
        return await this.#send(instance, { ...call, method, body }, progress);
      } catch (error) {
        if (errorCode(error) === 'ECONNREFUSED') this.#suspect(instance);
        const again = retryable && attempt < this.#settings.retries && !this.#closed;
        if (!again || !isTransient(error, progress)) throw error;
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
    this.#agent.destroy();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`the client of service "${this.#settings.service}" is closed`);
  }

  /** The cached list, or the lookup of the current generation (started here if none is). */
  #instances(): Promise<readonly Instance[]> {
    const generation = this.#generation;
    if (this.#list?.generation === generation) return this.#list.instances;
    const instances = this.#lookup();
    const entry = { generation, instances };
    this.#list = entry;
    // A failed lookup is not kept: the next request tries again.
    instances.catch(() => {
      if (this.#list === entry) this.#list = undefined;
    });
    return instances;
  }

  async #lookup(): Promise<readonly Instance[]> {
    const { source, service } = this.#settings;
    const instances = [...(await source.lookup(service))];
    const listed = new Set(instances.map((instance) => instance.id));
    for (const id of this.#suspectUntil.keys()) if (!listed.has(id)) this.#suspectUntil.delete(id);
    return instances;
  }

  /** Round robin from the cursor, by the preference order in the contract. */
  #pick(instances: readonly Instance[], tried: ReadonlySet<string>): Instance {
    const now = this.#settings.clock.now();
    const fresh = (instance: Instance) => !tried.has(instance.id);
    const trusted = (instance: Instance) => (this.#suspectUntil.get(instance.id) ?? -Infinity) <= now;
    const preferences = [
      (instance: Instance) => fresh(instance) && trusted(instance),
      fresh,
      trusted,
      () => true,
    ];
    for (const acceptable of preferences) {
      for (let step = 0; step < instances.length; step++) {
        const position = (this.#cursor + step) % instances.length;
        const instance = instances[position]!;
        if (acceptable(instance)) {
          this.#cursor = position + 1;
          return instance;
        }
      }
    }
    throw new Error('unreachable: the last preference accepts any instance of a non-empty list');
  }

  #suspect(instance: Instance): void {
    this.#suspectUntil.set(instance.id, this.#settings.clock.now() + this.#settings.suspectMs);
  }

  /** One attempt on one instance, bounded by `timeoutMs` from start to the last byte. */
  #send(
    instance: Instance,
    call: { method: string; path: string; headers?: Readonly<Record<string, string>>; body?: Buffer },
    progress: Progress,
  ): Promise<ServiceResponse> {
    const { timeoutMs } = this.#settings;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...call.headers };
      if (call.body) headers['content-length'] = String(call.body.length);
      const outgoing = httpRequest({
        host: instance.host,
        port: instance.port,
        method: call.method,
        path: call.path,
        headers,
        agent: this.#agent,
      });
      const fail = (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(new ServiceTimeoutError(instance, timeoutMs));
        outgoing.destroy();
      }, timeoutMs);
      outgoing.on('error', fail);
      outgoing.on('response', (response) => {
        progress.responded = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => {});
        response.on('close', () => {
          clearTimeout(timer);
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            body: Buffer.concat(chunks),
            instance,
          });
        });
      });
      outgoing.end(call.body);
    });
  }
}

function checkedMethod(method: unknown): string {
  if (typeof method !== 'string' || !TOKEN.test(method))
    throw new TypeError(`method must be an HTTP method such as "GET", got ${JSON.stringify(method)}`);
  return method.toUpperCase();
}

/** A failure worth another attempt: refused, reset before any response, or timed out. */
function isTransient(error: unknown, progress: Progress): boolean {
  if (error instanceof ServiceTimeoutError) return true;
  const code = errorCode(error);
  return code === 'ECONNREFUSED' || (code === 'ECONNRESET' && !progress.responded);
}

function errorCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}
