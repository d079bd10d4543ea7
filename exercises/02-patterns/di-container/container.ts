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
   * lifetime says. A factory that throws creates nothing: its error reaches the caller, and the
   * next resolve calls the factory again.
   * @throws {MissingRegistrationError} when nothing is registered under a token on the way
   * @throws {DependencyCycleError} when a service needs itself, directly or through others (any
   *   lifetime)
   * @throws {Error} when a scoped service is resolved from the container rather than a scope; the
   *   message names the scoped service, then the service that needed it if a factory asked, e.g.
   *   `"session" is scoped: resolve it from a scope (createScope()), not from the container (needed by "cache")`
   * @throws {Error} after this container or scope was disposed; the message says it is disposed
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
   * @throws {Error} when `token` is already registered; the message names it
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

/**
 * Thrown when a service depends on itself; `path` is the whole chain, from the service first
 * resolved down to the one that repeats, e.g. `['a', 'b', 'a']`, or `['app', 'x', 'y', 'x']` when
 * `app` was resolved and needs `x`, which is in a cycle with `y`.
 */
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

/** Creates an empty container. */
export function createContainer<Services>(): Container<Services> {
  throw new Error(
    'createContainer() is not implemented yet: open exercises/02-patterns/di-container/container.ts',
  );
}
