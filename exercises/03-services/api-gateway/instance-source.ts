/**
 * Where a client finds the instances of a service: the seam between discovery and the code that
 * calls services. Given, not edited. The service registry of this chapter (`lookup` + `watch`)
 * satisfies it, and so does {@link StaticSource}, the in-memory list the tests and demos use.
 */

/** One running copy of a service, as a registry lists it. */
export interface Instance {
  /** The service's name, e.g. `users`. */
  readonly service: string;
  /** Unique within the service, e.g. `users-1`. */
  readonly id: string;
  /** Where it listens, e.g. `127.0.0.1`. */
  readonly host: string;
  /** Its TCP port, 1-65535. */
  readonly port: number;
  /** Free-form labels (version, zone, ...). */
  readonly meta: Readonly<Record<string, string>>;
}

/** What a service client or a gateway needs from discovery. */
export interface InstanceSource {
  /** The healthy instances of `service` right now (possibly none), sorted by `id`. */
  lookup(service: string): Promise<Instance[]>;
  /**
   * Calls `onChange(service)` whenever the instances of `service` may have changed, until the
   * returned function is called. It says *that* something changed, not what: call `lookup` again.
   */
  watch(service: string, onChange: (service: string) => void): () => void;
}

/** An instance as given to {@link StaticSource}: `service` is implied, `meta` defaults to `{}`. */
export interface StaticInstance {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly meta?: Readonly<Record<string, string>>;
}

/**
 * An in-memory {@link InstanceSource}: a fixed list per service that you replace with
 * {@link StaticSource.set}, which notifies that service's watchers. `lookup` returns copies sorted
 * by id, so callers cannot change the list by mutating what they got.
 */
export class StaticSource implements InstanceSource {
  readonly #instances = new Map<string, Instance[]>();
  readonly #watchers = new Map<string, Set<(service: string) => void>>();

  constructor(initial: Readonly<Record<string, readonly StaticInstance[]>> = {}) {
    for (const [service, instances] of Object.entries(initial)) this.#store(service, instances);
  }

  async lookup(service: string): Promise<Instance[]> {
    return (this.#instances.get(service) ?? []).map((instance) => ({
      ...instance,
      meta: { ...instance.meta },
    }));
  }

  watch(service: string, onChange: (service: string) => void): () => void {
    const watchers = this.#watchers.get(service) ?? new Set<(service: string) => void>();
    this.#watchers.set(service, watchers);
    // A wrapper per call, so watching twice with the same function gives two independent watches.
    const watcher = (name: string) => onChange(name);
    watchers.add(watcher);
    return () => {
      watchers.delete(watcher);
      if (watchers.size === 0 && this.#watchers.get(service) === watchers) this.#watchers.delete(service);
    };
  }

  /** Replaces the instances of `service` (an empty list removes them all) and notifies its watchers. */
  set(service: string, instances: readonly StaticInstance[]): void {
    this.#store(service, instances);
    for (const watcher of [...(this.#watchers.get(service) ?? [])]) watcher(service);
  }

  /** How many watches on `service` are active (to check that a client unwatches when it closes). */
  watcherCount(service: string): number {
    return this.#watchers.get(service)?.size ?? 0;
  }

  #store(service: string, instances: readonly StaticInstance[]): void {
    const full = instances.map(({ id, host, port, meta }) => ({
      service,
      id,
      host,
      port,
      meta: { ...meta },
    }));
    this.#instances.set(
      service,
      full.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
  }
}
