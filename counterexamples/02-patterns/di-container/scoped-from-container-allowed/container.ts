/**
 * A small dependency-injection container: register factories under names, resolve a graph of
 * objects, and let the container decide how long each one lives.
 *
 * Constructor injection comes first: a class takes what it needs as parameters
 * (`new UserService(repo, mailer)`), and nothing in it knows about a container. The container only
 * writes the `new` calls for you, in one place, and owns lifetimes and cleanup:
 *
 * ```ts
 * interface Services { config: Config; db: Database; users: UserService; requestLog: RequestLog }
 * const container = createContainer<Services>()
 *   .register('config', () => loadConfig(), { lifetime: 'singleton' })
 *   .register('db', (c) => new Database(c.resolve('config').dbUrl), {
 *     lifetime: 'singleton',
 *     dispose: (db) => db.close(),
 *   })
 *   .register('requestLog', () => new RequestLog(), { lifetime: 'scoped' })
 *   .register('users', (c) => new UserService(c.resolve('db'), c.resolve('requestLog')));
 *
 * const scope = container.createScope(); // one per HTTP request, say
 * scope.resolve('users');                // a new UserService, with the one Database and this scope's RequestLog
 * await scope.dispose();
 * await container.dispose();             // closes the Database
 * ```
 *
 * Lifetimes:
 * - `transient` (the default): a new instance on every resolve. The container does not keep or
 *   dispose it; whoever resolved it owns it.
 * - `singleton`: created on first resolve, then the same instance for the container and all its
 *   scopes. Its dependencies are resolved from the container itself, never from a scope, so a
 *   singleton cannot depend on a scoped service (it would capture one request's object forever).
 * - `scoped`: one instance per scope. Resolving it from the container (not from a scope) is an error.
 */

/** What a factory receives: a way to resolve the dependencies it needs. */
export interface Resolver<Services> {
  /**
   * Returns the instance registered under `token`, creating it (and its dependencies) as its
   * lifetime says.
   * @throws {MissingRegistrationError} when nothing is registered under a token on the way
   * @throws {DependencyCycleError} when a service needs itself, directly or through others
   * @throws {Error} when a scoped service is resolved from the container rather than a scope, or
   *   after this container or scope was disposed
   */
  resolve<K extends keyof Services>(token: K): Services[K];
}

export type Lifetime = 'transient' | 'singleton' | 'scoped';

/** Builds one instance; takes its dependencies from `resolver`. Synchronous. */
export type Factory<Services, T> = (resolver: Resolver<Services>) => T;

export interface RegisterOptions<T> {
  /** Default `transient`. */
  lifetime?: Lifetime;
  /**
   * Releases an instance (closes a pool, flushes a buffer); may be async. Called for singletons by
   * {@link Container.dispose} and for scoped instances by {@link Scope.dispose}. Without it, an
   * instance's own `[Symbol.asyncDispose]()` or `[Symbol.dispose]()` is called if it has one.
   */
  dispose?: (instance: T) => void | Promise<void>;
}

/** One unit of work (a request, a job) with its own scoped instances. */
export interface Scope<Services> extends Resolver<Services>, AsyncDisposable {
  /**
   * Disposes this scope's scoped instances in reverse order of creation, awaiting each disposer
   * before starting the next. Singletons are not touched. Calling it again does nothing more.
   * A disposer that fails does not stop the others; the failures are reported at the end as an
   * `AggregateError`.
   */
  dispose(): Promise<void>;
}

export interface Container<Services> extends Resolver<Services>, AsyncDisposable {
  /**
   * Registers how to build the service `token`. Returns the container, so calls chain.
   * @throws {Error} when `token` is already registered
   * @throws {TypeError} when `factory` is not a function
   */
  register<K extends keyof Services>(
    token: K,
    factory: Factory<Services, Services[K]>,
    options?: RegisterOptions<Services[K]>,
  ): this;
  /** Starts a new scope: its scoped instances are its own, singletons are shared with the container. */
  createScope(): Scope<Services>;
  /**
   * Disposes every singleton created so far, in reverse order of creation (an instance is created
   * when its factory returns, so a service is disposed before the dependencies it was built from),
   * awaiting each disposer before starting the next. Afterwards `resolve` throws. Calling it again
   * does nothing more. A disposer that fails does not stop the others; the failures are reported at
   * the end as an `AggregateError`. `[Symbol.asyncDispose]` does the same, so `await using` works.
   * Scopes of a disposed container cannot resolve anything either.
   */
  dispose(): Promise<void>;
}

/** Thrown when a service depends on itself; `path` is the whole chain, e.g. `['a', 'b', 'a']`. */
export class DependencyCycleError extends Error {
  override readonly name = 'DependencyCycleError';
  constructor(readonly path: readonly string[]) {
    super(`Dependency cycle: ${path.join(' -> ')}`);
  }
}

/**
 * Thrown when nothing is registered under `token`; `requestedBy` is the service whose factory asked
 * for it, or `undefined` when it was resolved directly.
 */
export class MissingRegistrationError extends Error {
  override readonly name = 'MissingRegistrationError';
  constructor(
    readonly token: string,
    readonly requestedBy?: string,
  ) {
    super(
      `Nothing is registered for "${token}"${requestedBy === undefined ? '' : ` (needed by "${requestedBy}")`}`,
    );
  }
}

interface Registration {
  readonly factory: Factory<unknown, unknown>;
  readonly lifetime: Lifetime;
  readonly dispose?: (instance: unknown) => void | Promise<void>;
}

/** Where instances live: the container (singletons) or one scope (scoped instances). */
interface Owner {
  readonly kind: 'container' | 'scope';
  readonly instances: Map<PropertyKey, unknown>;
  /** Created instances in creation order, with how to dispose each. */
  readonly created: Array<() => void | Promise<void>>;
  disposal?: Promise<void>;
}

const newOwner = (kind: Owner['kind']): Owner => ({ kind, instances: new Map(), created: [] });

/** Creates an empty container. */
export function createContainer<Services>(): Container<Services> {
  const registrations = new Map<PropertyKey, Registration>();
  const root = newOwner('container');

  /** `path` holds the services being built right now, outermost first. */
  function resolveIn(owner: Owner, token: PropertyKey, path: readonly PropertyKey[]): unknown {
    // A scope of a disposed container must not create singletons that nobody would dispose.
    const disposed = [owner, root].find((o) => o.disposal);
    if (disposed) throw new Error(`Cannot resolve "${String(token)}": the ${disposed.kind} is disposed`);
    if (path.includes(token)) throw new DependencyCycleError([...path, token].map(String));
    const registration = registrations.get(token);
    if (!registration) throw new MissingRegistrationError(String(token), path.at(-1)?.toString());

    switch (registration.lifetime) {
      case 'transient':
        return build(owner, token, registration, path);
      case 'singleton':
        return cached(root, token, registration, path);
      case 'scoped':
        // Outside a scope, the container acts as the outermost scope.
        return cached(owner, token, registration, path);
    }
  }

  function build(owner: Owner, token: PropertyKey, registration: Registration, path: readonly PropertyKey[]) {
    const innerPath = [...path, token];
    return registration.factory({ resolve: (dependency) => resolveIn(owner, dependency, innerPath) });
  }

  function cached(
    owner: Owner,
    token: PropertyKey,
    registration: Registration,
    path: readonly PropertyKey[],
  ) {
    if (owner.instances.has(token)) return owner.instances.get(token);
    const instance = build(owner, token, registration, path);
    // Recorded only now that the factory has returned: its dependencies were created (and recorded)
    // first, so the reverse of this order disposes a service before what it depends on.
    owner.instances.set(token, instance);
    owner.created.push(() => disposeInstance(instance, registration.dispose));
    return instance;
  }

  const resolverFor = (owner: Owner): Resolver<Services> => ({
    resolve: <K extends keyof Services>(token: K) => resolveIn(owner, token, []) as Services[K],
  });

  const container: Container<Services> = {
    register(token, factory, options = {}) {
      if (registrations.has(token)) throw new Error(`"${String(token)}" is already registered`);
      if (typeof factory !== 'function') {
        throw new TypeError(`the factory for "${String(token)}" must be a function`);
      }
      registrations.set(token, {
        factory: factory as Factory<unknown, unknown>,
        lifetime: options.lifetime ?? 'transient',
        dispose: options.dispose as Registration['dispose'],
      });
      return this;
    },
    ...resolverFor(root),
    createScope() {
      const scope = newOwner('scope');
      return {
        ...resolverFor(scope),
        dispose: () => disposeOwner(scope),
        [Symbol.asyncDispose]: () => disposeOwner(scope),
      };
    },
    dispose: () => disposeOwner(root),
    [Symbol.asyncDispose]: () => disposeOwner(root),
  };
  return container;
}

function disposeOwner(owner: Owner): Promise<void> {
  owner.disposal ??= (async () => {
    const failures: unknown[] = [];
    for (const dispose of owner.created.toReversed()) {
      try {
        await dispose();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) {
      throw new AggregateError(failures, `${failures.length} disposer(s) of the ${owner.kind} failed`);
    }
  })();
  return owner.disposal;
}

async function disposeInstance(instance: unknown, dispose?: (instance: unknown) => void | Promise<void>) {
  if (dispose) return dispose(instance);
  const disposable = instance as Partial<AsyncDisposable & Disposable> | null;
  const asyncDispose = disposable?.[Symbol.asyncDispose];
  if (typeof asyncDispose === 'function') return asyncDispose.call(disposable);
  const syncDispose = disposable?.[Symbol.dispose];
  if (typeof syncDispose === 'function') return syncDispose.call(disposable);
}
