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
  throw new Error(
    'createServiceRegistry() is not implemented yet: open exercises/03-services/service-registry/service-registry.ts',
  );
}
