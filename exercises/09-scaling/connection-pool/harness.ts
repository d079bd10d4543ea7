/**
 * Test helpers for the pool's suites: a clock whose timers fire only when the test moves time, and a
 * resource factory that counts what exists, independently of what the pool reports.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { type Deferred, deferred } from '../../../src/testing/index.js';
import type { PoolClock, ResourceFactory } from './pool.js';

/** A {@link PoolClock} whose time moves, and whose timers fire, only in {@link advance}. */
export class ManualTimers implements PoolClock {
  /** Not 0, so that a time mistaken for a duration shows. */
  #now = 1_000_000;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers scheduled and neither fired nor cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, earliest first (and at
   * its own time), including timers those callbacks schedule; settles the promises they resolve.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].callback();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

/** Lets every promise chain that can move do so (a few macrotask turns). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await nextMacrotask();
}

/** What the test factory lends: a numbered object that can be marked broken. */
export interface Res {
  readonly id: number;
  broken: boolean;
}

/** How the test factory's `validate` answers, per call. */
export type ValidateAnswer = 'true' | 'false' | 'throws' | 'rejects' | 'hangs';

/**
 * A factory under the test's control. Counts resources that exist from its own point of view (a
 * create was called and did not fail, and its destroy has not settled) and the most that ever did.
 *
 * - `holdCreates`: every create waits until the test calls `resolveCreate()` / `failCreate()`;
 *   otherwise it resolves at once, or rejects with the next error in `createErrors`.
 * - `holdDestroys`: every destroy waits for `finishDestroy()`.
 * - `validate` (when `withValidate`): answers `validateAnswer(resource)`; by default `true` unless
 *   the resource is marked broken.
 */
export function testFactory(
  options: { holdCreates?: boolean; holdDestroys?: boolean; withValidate?: boolean } = {},
) {
  let nextId = 1;
  const state = {
    exists: 0,
    maxExists: 0,
    createCalls: 0,
    validateCalls: [] as number[],
    destroyed: [] as number[],
    createErrors: [] as unknown[],
    heldCreates: [] as Deferred<Res>[],
    heldDestroys: [] as Deferred<void>[],
    destroyRejects: false,
    syncThrow: undefined as unknown,
    validateAnswer: (r: Res): ValidateAnswer => (r.broken ? 'false' : 'true'),
  };
  const created = (): Res => ({ id: nextId++, broken: false });
  const factory: ResourceFactory<Res> = {
    create() {
      state.createCalls++;
      if (state.syncThrow !== undefined) {
        const error = state.syncThrow;
        state.syncThrow = undefined;
        throw error;
      }
      state.exists++;
      state.maxExists = Math.max(state.maxExists, state.exists);
      const fail = (error: unknown) => {
        state.exists--;
        throw error;
      };
      if (options.holdCreates) {
        const d = deferred<Res>();
        state.heldCreates.push(d);
        return d.promise.catch(fail);
      }
      if (state.createErrors.length > 0) return Promise.reject(state.createErrors.shift()).catch(fail);
      return Promise.resolve(created());
    },
    destroy(resource) {
      state.destroyed.push(resource.id);
      const done = () => {
        state.exists--;
      };
      if (options.holdDestroys) {
        const d = deferred();
        state.heldDestroys.push(d);
        return d.promise.finally(done);
      }
      done();
      return state.destroyRejects ? Promise.reject(new Error('destroy failed')) : Promise.resolve();
    },
  };
  if (options.withValidate) {
    factory.validate = (resource) => {
      state.validateCalls.push(resource.id);
      switch (state.validateAnswer(resource)) {
        case 'true':
          return Promise.resolve(true);
        case 'false':
          return Promise.resolve(false);
        case 'throws':
          throw new Error('validate threw');
        case 'rejects':
          return Promise.reject(new Error('validate rejected'));
        case 'hangs':
          return new Promise<boolean>(() => {});
      }
    };
  }
  return {
    factory,
    state,
    /** Resolves the oldest held create with a new resource. */
    resolveCreate(): Res {
      const d = state.heldCreates.shift();
      if (!d) throw new Error('no create is waiting');
      const r = created();
      d.resolve(r);
      return r;
    },
    /** Rejects the oldest held create. */
    failCreate(error: unknown = new Error('connection refused')): void {
      const d = state.heldCreates.shift();
      if (!d) throw new Error('no create is waiting');
      d.reject(error);
    },
    /** Lets the oldest held destroy finish. */
    finishDestroy(): void {
      const d = state.heldDestroys.shift();
      if (!d) throw new Error('no destroy is waiting');
      d.resolve();
    },
  };
}

/** Watches a promise: `state()` says whether it has settled, and how, without awaiting it. */
export function track<T>(promise: Promise<T>) {
  let outcome:
    | { status: 'pending' }
    | { status: 'resolved'; value: T }
    | { status: 'rejected'; error: unknown } = {
    status: 'pending',
  };
  promise.then(
    (value) => {
      outcome = { status: 'resolved', value };
    },
    (error: unknown) => {
      outcome = { status: 'rejected', error };
    },
  );
  return {
    promise,
    get outcome() {
      return outcome;
    },
    get value(): T {
      if (outcome.status !== 'resolved')
        throw new Error(`expected the promise to have resolved, it is ${outcome.status}`);
      return outcome.value;
    },
    get error(): unknown {
      if (outcome.status !== 'rejected')
        throw new Error(`expected the promise to have rejected, it is ${outcome.status}`);
      return outcome.error;
    },
  };
}
