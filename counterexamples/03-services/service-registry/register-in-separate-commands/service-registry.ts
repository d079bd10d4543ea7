/**
 * A service registry on Redis with Consul-style TTL health checks. Instances register themselves
 * (`register`), then keep reporting that they are alive (`heartbeat`); a client asks for the
 * healthy instances of a service (`lookup`) and can be told when that list may have changed
 * (`watch`). An instance that stops reporting goes **critical** when its TTL runs out (it is no
 * longer returned) and is **removed** a grace period later (Consul's
 * `deregister_critical_service_after`); it must then register again.
 *
 * ```
 *   register ──▶ healthy ──(now ≥ deadline)──▶ critical ──(now ≥ deadline + graceMs)──▶ removed
 *                   ▲                             │
 *                   └──── heartbeat or register ──┘      (deadline = time of the report + ttlMs)
 * ```
 *
 * Redis keys and the channel this module owns (`<ns>` is `namespace`, `<s>` a service name):
 *
 * - `<ns>:services`: a set of the service names that have instances; what {@link ServiceRegistry.reap}
 *   walks (Redis has no cheap "all keys like this" query; SCAN reads the whole keyspace).
 * - `<ns>:svc:<s>:deadlines`: a sorted set, instance id → its deadline (ms on the injected clock).
 *   Sorted by deadline, so "who is healthy" and "who is past the grace period" are range queries.
 * - `<ns>:svc:<s>:instances`: a hash, instance id → JSON `{"host", "port", "meta"}`.
 * - `<ns>:svc:<s>:critical`: a set of the ids already announced as critical, so that a lookup or
 *   reap announces an instance going critical once, not at every look.
 * - channel `<ns>:changes`: one message per change to a service's instances, the service's name.
 *
 * Two clocks. The **logical deadline** is on the injected clock: every registry object that shares
 * a namespace must share one clock (in production: hosts synced by NTP, or Redis `TIME`; whatever
 * skew there is between two hosts eats into the TTL). The **key TTL** is on Redis's own clock, and
 * is only a memory backstop: when every instance of a service dies and nobody calls reap or lookup,
 * its keys still go away.
 *
 * What the contract asks of the Redis state (the layout above is one way to meet it):
 *
 * - **Keys expire.** Every key the registry writes (and its pub/sub channel) starts with
 *   `<namespace>:`, and every key carries a TTL (PX) of at most `ttlMs + graceMs`. Register and
 *   heartbeat set the TTL of every key that holds the instance, and of any index that holds its
 *   service's name, back to `ttlMs + graceMs`.
 * - **Nothing is left behind.** Once an instance is removed (by deregister, or after its grace
 *   period by reap or by any call that names its service), no key of the namespace holds its id;
 *   once a service has no instance left, no key names it or holds its name.
 * - **Atomic.** Each call changes Redis in one atomic step (a Lua script, or MULTI/EXEC): another
 *   client sees the namespace as it was before the call or as it is after it, never in between.
 *   Here each change is one Lua script that also publishes the change, so a change that did not
 *   happen is never announced and one that did always is.
 */
import type { Redis } from 'ioredis';

/** What the registry reads the time from, in ms. */
export interface Clock {
  now(): number;
}

/** What an instance registers. */
export interface Registration {
  /** The service's name: a non-empty string without `:` (the separator of the registry's keys). */
  readonly service: string;
  /** The instance's id, unique within its service: a non-empty string without `:`. */
  readonly id: string;
  /** Where the instance listens: a non-empty string (a name or an address). */
  readonly host: string;
  /** An integer from 1 to 65535. */
  readonly port: number;
  /** Free-form labels (version, zone, ...): a plain object whose values are all strings. Default `{}`. */
  readonly meta?: Readonly<Record<string, string>>;
}

/** A healthy instance, as {@link ServiceRegistry.lookup} returns it. */
export interface ServiceInstance {
  readonly service: string;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly meta: Readonly<Record<string, string>>;
}

export interface ServiceRegistryOptions {
  /** The connection for the registry's commands. It belongs to the caller: close() leaves it open. */
  readonly redis: Redis;
  /**
   * A connection of its own for SUBSCRIBE (a subscribed connection can send no other command). It
   * may carry other channels, but not another registry of the same namespace (closing one would
   * unsubscribe both). It belongs to the caller: close() leaves it open.
   */
  readonly subscriber: Redis;
  /** The start of every key and channel (`<namespace>:...`): a non-empty string. */
  readonly namespace: string;
  /** How long a report keeps an instance healthy, in ms: a positive integer. */
  readonly ttlMs: number;
  /** How long a critical instance stays known before it is removed, in ms: a positive integer. */
  readonly graceMs: number;
  /** The time for deadlines, in ms. Default `Date`. All registries of one namespace must share it. */
  readonly clock?: Clock;
}

export interface ServiceRegistry {
  /**
   * Registers an instance, or refreshes it: its deadline becomes `now + ttlMs`, and its host, port
   * and meta replace what was stored. Idempotent: registering the same (service, id) again never
   * adds a second entry. Publishes a change when the instance is new, when its host, port or meta
   * changed, or when it was critical; re-registering a healthy instance unchanged publishes nothing.
   * @throws {TypeError} (as a rejection) naming the field and its value, when `service`, `id` or
   *   `host` is not a non-empty string (or `service` or `id` contains `:`), or `meta` is not a plain
   *   object of strings (the message names the key whose value is not a string)
   * @throws {RangeError} (as a rejection) naming `port` and its value, when `port` is not an integer
   *   from 1 to 65535
   */
  register(registration: Registration): Promise<void>;

  /**
   * Reports that an instance is alive (Consul's TTL check update). Resolves `true` when the instance
   * is known, healthy or critical: its deadline becomes `now + ttlMs`, and a critical instance is
   * healthy again (a change: published). A heartbeat of a healthy instance publishes nothing.
   * Resolves `false` when the instance is unknown or already removed (the grace period has passed):
   * nothing is stored, and the caller must register again (Consul answers 404).
   * @throws {TypeError} (as a rejection) when `service` or `id` is not as {@link register} requires
   */
  heartbeat(service: string, id: string): Promise<boolean>;

  /**
   * Removes an instance at once. Resolves `true` if it was known (healthy or critical; a change:
   * published), `false` if not (nothing published).
   * @throws {TypeError} (as a rejection) when `service` or `id` is not as {@link register} requires
   */
  deregister(service: string, id: string): Promise<boolean>;

  /**
   * The healthy instances of `service`: those whose deadline is later than `now` (an instance is
   * critical from `now >= deadline`), sorted by id (plain string order, as `Array#sort` without a
   * comparator), each a fresh object (its meta too). An unknown service has none: `[]`.
   * @throws {TypeError} (as a rejection) when `service` is not as {@link register} requires
   */
  lookup(service: string): Promise<ServiceInstance[]>;

  /**
   * Removes every instance, of every service in the namespace, whose grace period is over
   * (`now >= deadline + graceMs`), and resolves how many it removed. Whoever runs the registry
   * calls it periodically (Consul's reaper); without it, removal still happens lazily.
   */
  reap(): Promise<number>;

  /**
   * Calls `onChange(service)` whenever the healthy list of `service` may have changed; the watcher
   * then calls {@link lookup}. Changes are announced over pub/sub, so a change made through any
   * registry object of the namespace (another process) reaches every watcher. Announced, and
   * nothing else: a register of a new instance or of changed host, port or meta; a deregister; a
   * heartbeat or register that revives a critical instance; any call that removes instances or
   * finds ones newly critical. So a heartbeat of a healthy instance is not announced. Watchers of other services are not called; one
   * that throws does not stop the others. When the subscriber connection comes back after it was
   * lost, every watcher is called once (announcements sent meanwhile are lost).
   * @returns `unwatch()`: stops this watcher (calling it again does nothing)
   * @throws {TypeError} when `service` is not as {@link register} requires
   * @throws {RegistryClosedError} after {@link close}
   */
  watch(service: string, onChange: (service: string) => void): () => void;

  /**
   * Unsubscribes from the namespace's channel, removes every listener the registry added to the
   * subscriber and drops every watcher. A second call does nothing. Does not close the connections.
   * Afterwards every other method rejects (watch throws) with {@link RegistryClosedError}.
   */
  close(): Promise<void>;
}

/** The rejection of a call on a closed registry. */
export class RegistryClosedError extends Error {
  readonly code = 'REGISTRY_CLOSED';
  override readonly name = 'RegistryClosedError';

  constructor() {
    super('this service registry is closed: create a new one');
  }
}

/**
 * Creates a registry object on `namespace` and subscribes to the namespace's channel; resolves once
 * subscribed. Removal is lazy: every call that names a service (register, heartbeat, deregister,
 * lookup) first removes that service's instances whose grace period is over, and {@link
 * ServiceRegistry.reap} does it for every service.
 * @throws {TypeError} (as a rejection) naming the option, when `namespace` is not a non-empty string
 * @throws {RangeError} (as a rejection) naming the option and its value, when `ttlMs` or `graceMs`
 *   is not a positive integer
 */
export async function createServiceRegistry(options: ServiceRegistryOptions): Promise<ServiceRegistry> {
  validateOptions(options);
  const registry = new RedisServiceRegistry(options);
  await registry.start();
  return registry;
}

// Every script starts with SWEEP: it removes the service's instances whose grace period is over and
// marks the newly critical ones, so removal is lazy and needs no timer.
// KEYS: services, deadlines, instances, critical.
// ARGV: [1] service, [2] channel, [3] now, [4] now - graceMs, [5] ttlMs + graceMs (key TTL).
const SWEEP = `
  local changed = false
  local removed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
  for _, id in ipairs(removed) do
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('SREM', KEYS[4], id)
    changed = true
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])) do
    if redis.call('SADD', KEYS[4], id) == 1 then
      redis.call('PEXPIRE', KEYS[4], ARGV[5])
      changed = true
    end
  end
  local function finish()
    if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SREM', KEYS[1], ARGV[1]) end
    if changed then redis.call('PUBLISH', ARGV[2], ARGV[1]) end
  end
  local function refresh()
    for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
  end`;

const SCRIPTS = {
  /** ARGV[6]: id, [7]: the record's JSON, [8]: the new deadline. */
  register: `${SWEEP}
    local deadline = redis.call('ZSCORE', KEYS[2], ARGV[6])
    if not deadline or tonumber(deadline) <= tonumber(ARGV[3])
      or redis.call('HGET', KEYS[3], ARGV[6]) ~= ARGV[7] then changed = true end
    redis.call('HSET', KEYS[3], ARGV[6], ARGV[7])
    redis.call('ZADD', KEYS[2], ARGV[8], ARGV[6])
    redis.call('SREM', KEYS[4], ARGV[6])
    redis.call('SADD', KEYS[1], ARGV[1])
    refresh()
    finish()
    return 1`,
  /** ARGV[6]: id, [7]: the new deadline. Returns 1 if the instance is known, 0 if not. */
  heartbeat: `${SWEEP}
    local deadline = redis.call('ZSCORE', KEYS[2], ARGV[6])
    if not deadline then finish() return 0 end
    if tonumber(deadline) <= tonumber(ARGV[3]) then changed = true end
    redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
    redis.call('SREM', KEYS[4], ARGV[6])
    redis.call('SADD', KEYS[1], ARGV[1])
    refresh()
    finish()
    return 1`,
  /** ARGV[6]: id. Returns 1 if the instance was known, 0 if not. */
  deregister: `${SWEEP}
    local known = redis.call('ZREM', KEYS[2], ARGV[6])
    redis.call('HDEL', KEYS[3], ARGV[6])
    redis.call('SREM', KEYS[4], ARGV[6])
    if known == 1 then changed = true end
    finish()
    return known`,
  /** Returns [id, json, id, json, ...] of the healthy instances (deadline > now). */
  lookup: `${SWEEP}
    local healthy = {}
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[3], '+inf')) do
      local json = redis.call('HGET', KEYS[3], id)
      if json then
        table.insert(healthy, id)
        table.insert(healthy, json)
      end
    end
    finish()
    return healthy`,
  /** Returns how many instances the sweep removed. */
  reap: `${SWEEP}
    finish()
    return #removed`,
};

type ScriptName = keyof typeof SCRIPTS;

/** What the instances hash stores per id. */
interface StoredRecord {
  host: string;
  port: number;
  meta: Record<string, string>;
}

class RedisServiceRegistry implements ServiceRegistry {
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #namespace: string;
  readonly #channel: string;
  readonly #ttlMs: number;
  readonly #graceMs: number;
  readonly #clock: Clock;
  readonly #watchers = new Map<string, Set<(service: string) => void>>();
  #closed = false;

  constructor(options: ServiceRegistryOptions) {
    this.#redis = options.redis;
    this.#subscriber = options.subscriber;
    this.#namespace = options.namespace;
    this.#channel = `${options.namespace}:changes`;
    this.#ttlMs = options.ttlMs;
    this.#graceMs = options.graceMs;
    this.#clock = options.clock ?? Date;
  }

  /** Subscribes, and only then listens: a failed start leaves no listener behind. */
  async start(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel);
    this.#subscriber.on('message', this.#onMessage);
    this.#subscriber.on('ready', this.#onReady);
  }

  async register(registration: Registration): Promise<void> {
    this.#assertOpen();
    const { service, id, host, port } = registration;
    checkName('service', service);
    checkName('id', id);
    if (typeof host !== 'string' || host === '') {
      throw new TypeError(`host must be a non-empty string, got ${JSON.stringify(host)}`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`port must be an integer from 1 to 65535, got ${String(port)}`);
    }
    const meta = registration.meta === undefined ? {} : checkedMeta(registration.meta);
    const record: StoredRecord = { host, port, meta };
    const now = this.#clock.now();
    await this.#run('reap', service, now);
    const [services, deadlines, instances, critical] = this.#keys(service) as [
      string,
      string,
      string,
      string,
    ];
    const json = JSON.stringify(record);
    const before = await this.#redis.zscore(deadlines, id);
    const changed =
      before === null || Number(before) <= now || (await this.#redis.hget(instances, id)) !== json;
    const keyTtl = this.#ttlMs + this.#graceMs;
    await this.#redis.zadd(deadlines, now + this.#ttlMs, id);
    await this.#redis.pexpire(deadlines, keyTtl);
    await this.#redis.hset(instances, id, json);
    await this.#redis.pexpire(instances, keyTtl);
    await this.#redis.srem(critical, id);
    await this.#redis.sadd(services, service);
    await this.#redis.pexpire(services, keyTtl);
    if (changed) await this.#redis.publish(this.#channel, service);
  }

  async heartbeat(service: string, id: string): Promise<boolean> {
    this.#assertOpen();
    checkName('service', service);
    checkName('id', id);
    const now = this.#clock.now();
    return (await this.#run('heartbeat', service, now, id, String(now + this.#ttlMs))) === 1;
  }

  async deregister(service: string, id: string): Promise<boolean> {
    this.#assertOpen();
    checkName('service', service);
    checkName('id', id);
    return (await this.#run('deregister', service, this.#clock.now(), id)) === 1;
  }

  async lookup(service: string): Promise<ServiceInstance[]> {
    this.#assertOpen();
    checkName('service', service);
    const flat = (await this.#run('lookup', service, this.#clock.now())) as string[];
    const instances: ServiceInstance[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const { host, port, meta } = JSON.parse(flat[i + 1]!) as StoredRecord;
      instances.push({ service, id: flat[i]!, host, port, meta });
    }
    return instances.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async reap(): Promise<number> {
    this.#assertOpen();
    const now = this.#clock.now();
    const services = await this.#redis.smembers(`${this.#namespace}:services`);
    let removed = 0;
    for (const service of services) removed += (await this.#run('reap', service, now)) as number;
    return removed;
  }

  watch(service: string, onChange: (service: string) => void): () => void {
    this.#assertOpen();
    checkName('service', service);
    // A function of its own per call, so that one callback watched twice is unwatched one at a time.
    const watcher = (changed: string) => onChange(changed);
    const watchers = this.#watchers.get(service) ?? new Set();
    this.#watchers.set(service, watchers);
    watchers.add(watcher);
    return () => {
      watchers.delete(watcher);
      if (watchers.size === 0 && this.#watchers.get(service) === watchers) this.#watchers.delete(service);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchers.clear();
    this.#subscriber.off('message', this.#onMessage);
    this.#subscriber.off('ready', this.#onReady);
    await this.#subscriber.unsubscribe(this.#channel).catch(() => {}); // away: the subscription died with it
  }

  /** Runs one script on `service`'s keys, with the sweep's arguments before the script's own. */
  #run(script: ScriptName, service: string, now: number, ...args: string[]): Promise<unknown> {
    const keys = this.#keys(service);
    const sweepArgs = [service, this.#channel, String(now), String(now - this.#graceMs)];
    const keyTtl = String(this.#ttlMs + this.#graceMs);
    return this.#redis.eval(SCRIPTS[script], keys.length, ...keys, ...sweepArgs, keyTtl, ...args);
  }

  #keys(service: string): string[] {
    const ns = this.#namespace;
    const svc = `${ns}:svc:${service}`;
    return [`${ns}:services`, `${svc}:deadlines`, `${svc}:instances`, `${svc}:critical`];
  }

  readonly #onMessage = (channel: string, service: string): void => {
    if (channel === this.#channel) this.#notify(service);
  };

  /** Back after a lost connection: announcements sent meanwhile are gone, so everyone looks again. */
  readonly #onReady = (): void => {
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        for (const service of [...this.#watchers.keys()]) this.#notify(service);
      },
      () => {}, // lost again: the next 'ready' tries again
    );
  };

  #notify(service: string): void {
    if (this.#closed) return;
    for (const watcher of [...(this.#watchers.get(service) ?? [])]) {
      try {
        watcher(service);
      } catch {
        // One watcher's failure is its own business: the others still hear of the change.
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new RegistryClosedError();
  }
}

/** Service names and ids end up inside key names, so the separator is not allowed in them. */
function checkName(field: 'service' | 'id', value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '' || value.includes(':')) {
    throw new TypeError(`${field} must be a non-empty string without ':', got ${JSON.stringify(value)}`);
  }
}

/** A copy of `meta` with its keys sorted, so that the same labels always give the same JSON. */
function checkedMeta(meta: unknown): Record<string, string> {
  const proto = typeof meta === 'object' && meta !== null ? Object.getPrototypeOf(meta) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`meta must be a plain object of strings, got ${describe(meta)}`);
  }
  const copy: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta as object).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (typeof value !== 'string') {
      throw new TypeError(`meta.${key} must be a string, got ${describe(value)}`);
    }
    copy[key] = value;
  }
  return copy;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' && value !== null ? 'an object' : String(JSON.stringify(value) ?? value);
}

function validateOptions(options: ServiceRegistryOptions): void {
  const { namespace, ttlMs, graceMs } = options;
  if (typeof namespace !== 'string' || namespace === '') {
    throw new TypeError(`namespace must be a non-empty string, got ${JSON.stringify(namespace)}`);
  }
  for (const [name, value] of [
    ['ttlMs', ttlMs],
    ['graceMs', graceMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`${name} must be a positive integer (ms), got ${String(value)}`);
    }
  }
}
