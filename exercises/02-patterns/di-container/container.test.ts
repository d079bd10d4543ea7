import { describe, expect, it } from 'vitest';
import { createContainer, DependencyCycleError, MissingRegistrationError } from './container.js';

class Config {
  readonly dbUrl = 'postgres://example';
}
class Database {
  constructor(readonly config: Config) {}
}
class RequestLog {
  readonly lines: string[] = [];
}
class UserService {
  constructor(
    readonly db: Database,
    readonly log: RequestLog,
  ) {}
}

interface AppServices {
  config: Config;
  db: Database;
  requestLog: RequestLog;
  users: UserService;
}

function appContainer() {
  return createContainer<AppServices>()
    .register('config', () => new Config(), { lifetime: 'singleton' })
    .register('db', (c) => new Database(c.resolve('config')), { lifetime: 'singleton' })
    .register('requestLog', () => new RequestLog(), { lifetime: 'scoped' })
    .register('users', (c) => new UserService(c.resolve('db'), c.resolve('requestLog')));
}

/** Services named by letters, for graphs made up on the spot. */
type Letters = Record<string, unknown>;

describe('a dependency-injection container', () => {
  it('builds a service and its dependencies from the registered factories', () => {
    const scope = appContainer().createScope();
    const users = scope.resolve('users');
    expect(users, 'resolve returns what the factory built').toBeInstanceOf(UserService);
    expect(users.db, 'the factory received its dependencies through the resolver').toBeInstanceOf(Database);
    expect(users.db.config.dbUrl).toBe('postgres://example');
  });

  it('makes a new transient instance on every resolve, and uses transient when no lifetime is given', () => {
    let built = 0;
    const container = createContainer<Letters>()
      .register('clock', () => ({ n: ++built }), { lifetime: 'transient' })
      .register('id', () => ({ n: ++built }));
    const first = container.resolve('clock');
    const second = container.resolve('clock');
    expect(first, 'transient: two resolves, two instances').not.toBe(second);
    expect(container.resolve('id'), 'the default lifetime is transient').not.toBe(container.resolve('id'));
    expect(built).toBe(4);
  });

  it('creates a singleton lazily, once, and shares it with every scope', () => {
    let built = 0;
    const container = createContainer<Letters>().register('db', () => ({ n: ++built }), {
      lifetime: 'singleton',
    });
    expect(built, 'registering must not build anything yet').toBe(0);
    const fromRoot = container.resolve('db');
    expect(container.resolve('db'), 'a singleton is the same instance every time').toBe(fromRoot);
    expect(container.createScope().resolve('db'), 'and the same in every scope').toBe(fromRoot);
    expect(built, 'the factory ran once').toBe(1);
  });

  it('gives each scope its own scoped instance, the same one within the scope', () => {
    const container = appContainer();
    const a = container.createScope();
    const b = container.createScope();
    expect(a.resolve('requestLog'), 'scoped: the same instance within one scope').toBe(
      a.resolve('requestLog'),
    );
    expect(a.resolve('requestLog'), 'and a different one in another scope').not.toBe(b.resolve('requestLog'));
    expect(a.resolve('users').log, 'a transient service gets the scoped instance of its own scope').toBe(
      a.resolve('requestLog'),
    );
    expect(a.resolve('users').db, 'while singletons are shared across scopes').toBe(b.resolve('users').db);
  });

  it('refuses to resolve a scoped service from the container itself', () => {
    const container = appContainer();
    expect(() => container.resolve('requestLog'), 'a scoped service needs a scope').toThrow(/requestLog/);
    expect(() => container.resolve('requestLog')).toThrow(/scope/);
    expect(
      () => container.resolve('requestLog'),
      'resolved directly, nobody needed it: the message must not say "undefined"',
    ).not.toThrow(/undefined/);
  });

  it('refuses to let a singleton capture a scoped service, naming both', () => {
    const container = createContainer<Letters>()
      .register('session', () => ({}), { lifetime: 'scoped' })
      .register('cache', (c) => ({ session: c.resolve('session') }), { lifetime: 'singleton' });
    const scope = container.createScope();
    expect(
      () => scope.resolve('cache'),
      'a singleton is built from the container, where a scoped service cannot be resolved',
    ).toThrow(/"session".*"cache"/);
  });

  it('reports a cycle with the whole path, a -> b -> a', () => {
    const container = createContainer<Letters>()
      .register('a', (c) => ({ b: c.resolve('b') }))
      .register('b', (c) => ({ a: c.resolve('a') }));
    let error: unknown;
    try {
      container.resolve('a');
    } catch (e) {
      error = e;
    }
    expect(error, 'a cycle must throw DependencyCycleError, not overflow the stack').toBeInstanceOf(
      DependencyCycleError,
    );
    expect((error as DependencyCycleError).path).toEqual(['a', 'b', 'a']);
    expect((error as Error).name).toBe('DependencyCycleError');
    expect((error as Error).message).toContain('a -> b -> a');
  });

  it('reports the path from the service first asked for, also for longer cycles and for singletons', () => {
    const container = createContainer<Letters>()
      .register('app', (c) => ({ x: c.resolve('x') }))
      .register('x', (c) => ({ y: c.resolve('y') }), { lifetime: 'singleton' })
      .register('y', (c) => ({ z: c.resolve('z') }), { lifetime: 'singleton' })
      .register('z', (c) => ({ x: c.resolve('x') }), { lifetime: 'singleton' })
      .register('self', (c) => ({ self: c.resolve('self') }));
    expect(() => container.resolve('app')).toThrow('app -> x -> y -> z -> x');
    expect(() => container.resolve('self'), 'a service that needs itself').toThrow('self -> self');
  });

  it('reports a cycle of scoped services resolved from a scope', () => {
    const scope = createContainer<Letters>()
      .register('unitOfWork', (c) => ({ tx: c.resolve('tx') }), { lifetime: 'scoped' })
      .register('tx', (c) => ({ uow: c.resolve('unitOfWork') }), { lifetime: 'scoped' })
      .createScope();
    expect(() => scope.resolve('unitOfWork'), 'every lifetime is checked for cycles').toThrow(
      DependencyCycleError,
    );
    expect(() => scope.resolve('unitOfWork')).toThrow('unitOfWork -> tx -> unitOfWork');
  });

  it('does not mistake a diamond (two paths to one service) for a cycle', () => {
    let dbBuilt = 0;
    const container = createContainer<Letters>()
      .register('db', () => ({ n: ++dbBuilt }), { lifetime: 'singleton' })
      .register('repoA', (c) => ({ db: c.resolve('db') }))
      .register('repoB', (c) => ({ db: c.resolve('db') }))
      .register('app', (c) => [c.resolve('repoA'), c.resolve('repoB')]);
    const [a, b] = container.resolve('app') as Array<{ db: unknown }>;
    expect(a!.db, 'both repositories share the one db').toBe(b!.db);
    expect(dbBuilt).toBe(1);
  });

  it('names the missing token and the service that asked for it', () => {
    const container = createContainer<Letters>()
      .register('signup', (c) => ({ mailer: c.resolve('mailer') }))
      .register('users', (c) => ({ signup: c.resolve('signup') }))
      .register('app', (c) => ({ users: c.resolve('users') }));
    let error: unknown;
    try {
      container.resolve('app');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MissingRegistrationError);
    expect((error as MissingRegistrationError).token).toBe('mailer');
    expect(
      (error as MissingRegistrationError).requestedBy,
      'the service whose factory asked: the last one on the path app -> users -> signup',
    ).toBe('signup');
    expect((error as Error).message).toBe('Nothing is registered for "mailer" (needed by "signup")');
    expect((error as Error).name).toBe('MissingRegistrationError');

    let direct: unknown;
    try {
      container.resolve('nope');
    } catch (e) {
      direct = e;
    }
    expect(direct).toBeInstanceOf(MissingRegistrationError);
    expect(
      (direct as MissingRegistrationError).requestedBy,
      'resolved directly: nobody asked',
    ).toBeUndefined();
    expect((direct as Error).message).toBe('Nothing is registered for "nope"');
  });

  it('does not cache a failed factory, and a later resolve starts clean (no phantom cycle)', () => {
    let attempts = 0;
    const container = createContainer<Letters>()
      .register(
        'db',
        () => {
          attempts += 1;
          if (attempts === 1) throw new Error('connection refused');
          return { attempts };
        },
        { lifetime: 'singleton' },
      )
      .register('repo', (c) => ({ db: c.resolve('db') }), { lifetime: 'singleton' });
    expect(() => container.resolve('repo'), "the factory's error reaches the caller").toThrow(
      'connection refused',
    );
    expect(container.resolve('repo'), 'the second attempt builds it').toEqual({ db: { attempts: 2 } });
  });

  it('refuses a second registration of the same token and a factory that is not a function', () => {
    const container = createContainer<Letters>().register('db', () => ({}));
    expect(() => container.register('db', () => ({})), 'registering twice is a mistake').toThrow(/db/);
    expect(() => container.register('cache', 'not a function' as never)).toThrow(TypeError);
  });

  it('disposes singletons in reverse order of creation, dependents before their dependencies', async () => {
    const disposed: string[] = [];
    const container = createContainer<Letters>()
      .register('repo', (c) => ({ db: c.resolve('db') }), {
        lifetime: 'singleton',
        dispose: () => {
          disposed.push('repo');
        },
      })
      .register('db', () => ({}), {
        lifetime: 'singleton',
        dispose: () => {
          disposed.push('db');
        },
      })
      .register('metrics', () => ({}), {
        lifetime: 'singleton',
        dispose: () => {
          disposed.push('metrics');
        },
      })
      .register('never', () => ({}), {
        lifetime: 'singleton',
        dispose: () => {
          disposed.push('never');
        },
      })
      .register('helper', () => ({}), {
        dispose: () => {
          disposed.push('helper (transient)');
        },
      });
    container.resolve('repo'); // builds db first (repo's factory needs it), then repo
    container.resolve('helper');
    container.resolve('metrics');
    await container.dispose();
    expect(
      disposed,
      'reverse creation order: metrics, then repo (created after the db it needs), then db; never-built ones and transients are skipped',
    ).toEqual(['metrics', 'repo', 'db']);
  });

  it('awaits each async disposer before starting the next', async () => {
    const events: string[] = [];
    const slowDisposer = (name: string) => async () => {
      events.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push(`end ${name}`);
    };
    const container = createContainer<Letters>()
      .register('db', () => ({}), { lifetime: 'singleton', dispose: slowDisposer('db') })
      .register('queue', () => ({}), { lifetime: 'singleton', dispose: slowDisposer('queue') });
    container.resolve('db');
    container.resolve('queue');
    await container.dispose();
    expect(events, 'one at a time, and dispose() resolves after the last').toEqual([
      'start queue',
      'end queue',
      'start db',
      'end db',
    ]);
  });

  it('uses Symbol.asyncDispose or Symbol.dispose when no disposer is registered, and works with await using', async () => {
    const disposed: string[] = [];
    const asyncResource = {
      async [Symbol.asyncDispose]() {
        disposed.push('async');
      },
    };
    const syncResource = {
      [Symbol.dispose]() {
        disposed.push('sync');
      },
    };
    {
      await using container = createContainer<Letters>()
        .register('a', () => asyncResource, { lifetime: 'singleton' })
        .register('s', () => syncResource, { lifetime: 'singleton' })
        .register('plain', () => ({ nothing: 'to dispose' }), { lifetime: 'singleton' });
      container.resolve('a');
      container.resolve('s');
      container.resolve('plain');
    }
    expect(disposed, 'leaving the block disposed both, newest first').toEqual(['sync', 'async']);

    const scoped = createContainer<Letters>().register('tx', () => asyncResource, { lifetime: 'scoped' });
    {
      await using scope = scoped.createScope();
      scope.resolve('tx');
    }
    expect(disposed, 'a scope works with await using too').toEqual(['sync', 'async', 'async']);
  });

  it('calls only the registered disposer when there is one, not the instance’s own dispose methods too', async () => {
    const calls: string[] = [];
    const resource = (name: string) => ({
      async [Symbol.asyncDispose]() {
        calls.push(`${name}: own asyncDispose`);
      },
      [Symbol.dispose]() {
        calls.push(`${name}: own dispose`);
      },
    });
    const container = createContainer<Letters>()
      .register('pool', () => resource('pool'), {
        lifetime: 'singleton',
        dispose: () => void calls.push('pool: registered disposer'),
      })
      .register('tx', () => resource('tx'), {
        lifetime: 'scoped',
        dispose: () => void calls.push('tx: registered disposer'),
      });
    const scope = container.createScope();
    scope.resolve('tx');
    container.resolve('pool');
    await scope.dispose();
    await container.dispose();
    expect(
      calls,
      'a dispose option replaces the instance’s own [Symbol.asyncDispose]/[Symbol.dispose]',
    ).toEqual(['tx: registered disposer', 'pool: registered disposer']);
  });

  it('copes with services that are null or undefined when disposing', async () => {
    const container = createContainer<Letters>()
      .register('optionalCache', () => null, { lifetime: 'singleton' })
      .register('featureFlag', () => undefined, { lifetime: 'singleton' });
    expect(container.resolve('optionalCache')).toBeNull();
    expect(container.resolve('featureFlag')).toBeUndefined();
    await expect(container.dispose(), 'nothing to dispose is not an error').resolves.toBeUndefined();
  });

  it('keeps disposing when one disposer fails, then reports the failure', async () => {
    const disposed: string[] = [];
    const container = createContainer<Letters>()
      .register('a', () => ({}), { lifetime: 'singleton', dispose: () => void disposed.push('a') })
      .register('b', () => ({}), {
        lifetime: 'singleton',
        dispose: async () => {
          throw new Error('flush failed');
        },
      })
      .register('c', () => ({}), { lifetime: 'singleton', dispose: () => void disposed.push('c') });
    for (const name of ['a', 'b', 'c']) container.resolve(name);
    const error = await container.dispose().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(disposed, 'the failure of b must not stop a from being disposed').toEqual(['c', 'a']);
    expect(error, 'dispose() rejects with an AggregateError of the failures').toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual(['flush failed']);
  });

  it('disposes only once, and refuses to resolve afterwards', async () => {
    let disposals = 0;
    const container = createContainer<Letters>().register('db', () => ({}), {
      lifetime: 'singleton',
      dispose: () => {
        disposals += 1;
      },
    });
    container.resolve('db');
    const openScope = container.createScope();
    await Promise.all([container.dispose(), container.dispose()]);
    await container.dispose();
    expect(disposals, 'a second dispose() must not dispose again').toBe(1);
    expect(() => container.resolve('db'), 'a disposed container must not hand out instances').toThrow(
      /disposed/,
    );
    expect(
      () => openScope.resolve('db'),
      'nor may a scope of it (it would make singletons that nobody disposes)',
    ).toThrow(/disposed/);
  });

  describe.each(['container', 'scope'] as const)('disposing a %s', (kind) => {
    /** A container or a scope of one, with three disposable services that live in it. */
    function owner(dispose: (name: string) => void | Promise<void>) {
      const lifetime = kind === 'container' ? 'singleton' : 'scoped';
      const container = createContainer<Letters>();
      for (const name of ['a', 'b', 'c'])
        container.register(name, () => ({ name }), { lifetime, dispose: () => dispose(name) });
      const target = kind === 'container' ? container : container.createScope();
      for (const name of ['a', 'b', 'c']) target.resolve(name);
      return target;
    }

    it('keeps going when a disposer fails, and reports every failure at the end', async () => {
      const disposed: string[] = [];
      const target = owner(async (name) => {
        disposed.push(name);
        if (name !== 'b') throw new Error(`${name} failed`);
      });
      const error = await target.dispose().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(disposed, `the ${kind} disposes all three, newest first, whatever fails`).toEqual([
        'c',
        'b',
        'a',
      ]);
      expect(error, `${kind}.dispose() rejects with an AggregateError`).toBeInstanceOf(AggregateError);
      expect(
        (error as AggregateError).errors.map((e: Error) => e.message),
        'with the failures, in the order they happened',
      ).toEqual(['c failed', 'a failed']);
    });

    it('awaits each disposer before the next, and disposes only once however often it is called', async () => {
      const events: string[] = [];
      const target = owner(async (name) => {
        events.push(`start ${name}`);
        await new Promise((resolve) => setImmediate(resolve));
        events.push(`end ${name}`);
      });
      const first = target.dispose();
      const second = target.dispose();
      await Promise.all([first, second, target[Symbol.asyncDispose]()]);
      await target.dispose();
      expect(events, `one disposer at a time, and calling ${kind}.dispose() again does nothing more`).toEqual(
        ['start c', 'end c', 'start b', 'end b', 'start a', 'end a'],
      );
      expect(() => target.resolve('a'), `a disposed ${kind} refuses to resolve`).toThrow(/disposed/);
    });
  });

  it('disposes a scope’s scoped instances, newest first, and leaves singletons and transients alone', async () => {
    const disposed: string[] = [];
    const record = (name: string) => () => void disposed.push(name);
    const container = createContainer<Letters>()
      .register('db', () => ({}), { lifetime: 'singleton', dispose: record('db') })
      .register('tx', (c) => ({ db: c.resolve('db') }), { lifetime: 'scoped', dispose: record('tx') })
      .register('log', () => ({}), { lifetime: 'scoped', dispose: record('log') })
      .register('temp', () => ({}), { dispose: record('temp') });
    const scope = container.createScope();
    scope.resolve('tx');
    scope.resolve('log');
    scope.resolve('temp');
    const other = container.createScope();
    other.resolve('log');
    await scope.dispose();
    expect(disposed, "the scope's own scoped instances, in reverse creation order").toEqual(['log', 'tx']);
    expect(() => scope.resolve('log'), 'a disposed scope must not hand out instances').toThrow(/disposed/);
    expect(other.resolve('db'), 'the container and other scopes carry on').toBe(container.resolve('db'));
    await container.dispose();
    expect(disposed, 'the singleton belongs to the container').toEqual(['log', 'tx', 'db']);
  });
});
