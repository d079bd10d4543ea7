/**
 * Load-balancing strategies behind one interface: round robin, smooth weighted round robin (nginx's
 * algorithm), least connections and the power of two random choices.
 *
 * Every balancer owns a fixed list of backends, knows which of them are healthy, and counts the
 * requests in flight on each: {@link Balancer.pick} starts a request on a backend and
 * {@link Balancer.release} ends it. Unhealthy backends are never picked. A balancer's state (its
 * position, scores, health and counts) is its own: two balancers never share any of it, even when
 * their backends have the same ids.
 *
 * Every factory checks its list: a duplicate id is a `TypeError` whose message names the id, a
 * weight that is not a positive integer is a `RangeError` whose message shows the weight. An empty
 * list is allowed; picking from it throws {@link NoHealthyBackendError}.
 */

/** A backend as the caller describes it. */
export interface BackendSpec {
  /** Unique name, e.g. `"10.0.0.7:8080"`. */
  readonly id: string;
  /** A positive integer (default 1). Only smooth weighted round robin reads it. */
  readonly weight?: number;
}

/** The common interface of every strategy. */
export interface Balancer {
  /**
   * Chooses the backend for the next request among the healthy ones, counts one request in flight
   * on it, and returns its id.
   * @throws {NoHealthyBackendError} when the pool is empty or every backend is unhealthy
   */
  pick(): string;
  /**
   * Ends one request on `id` (the count never goes below 0).
   * @throws {RangeError} for an unknown id, with the id in its message
   */
  release(id: string): void;
  /**
   * Marks `id` healthy or unhealthy; backends start healthy.
   * @throws {RangeError} for an unknown id, with the id in its message
   */
  setHealthy(id: string, healthy: boolean): void;
  /** Requests in flight on `id`. @throws {RangeError} for an unknown id, with the id in its message */
  inFlight(id: string): number;
}

/** Thrown by {@link Balancer.pick} when there is nothing to pick from. */
export class NoHealthyBackendError extends Error {
  override readonly name = 'NoHealthyBackendError';
  constructor(poolSize: number) {
    super(
      poolSize === 0
        ? 'the pool has no backends: add at least one'
        : `none of the ${poolSize} backends is healthy`,
    );
  }
}

/** A source of random numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

interface Backend {
  readonly id: string;
  readonly weight: number;
  healthy: boolean;
  inFlight: number;
  /** Smooth weighted round robin's running score. */
  current: number;
}

/** The state every strategy shares: the backends, their health and their in-flight counts. */
class Pool {
  readonly backends: Backend[];
  readonly #byId = new Map<string, Backend>();

  constructor(specs: readonly BackendSpec[]) {
    this.backends = specs.map(toBackend);
    for (const backend of this.backends) {
      if (this.#byId.has(backend.id)) throw new TypeError(`duplicate backend id "${backend.id}"`);
      this.#byId.set(backend.id, backend);
    }
  }

  get(id: string): Backend {
    const backend = this.#byId.get(id);
    if (!backend) throw new RangeError(`unknown backend "${id}"`);
    return backend;
  }

  healthy(): Backend[] {
    const healthy = this.backends.filter((b) => b.healthy);
    if (healthy.length === 0) throw new NoHealthyBackendError(this.backends.length);
    return healthy;
  }

  /** Builds a {@link Balancer} from a function that chooses among the healthy backends. */
  balancer(choose: (healthy: Backend[]) => Backend): Balancer {
    return {
      pick: () => {
        const chosen = choose(this.healthy());
        chosen.inFlight++;
        return chosen.id;
      },
      release: (id) => {
        const backend = this.get(id);
        backend.inFlight--;
      },
      setHealthy: (id, healthy) => {
        this.get(id).healthy = healthy;
      },
      inFlight: (id) => this.get(id).inFlight,
    };
  }
}

function toBackend(spec: BackendSpec): Backend {
  const weight = spec.weight ?? 1;
  if (!Number.isInteger(weight) || weight < 1) {
    throw new RangeError(`backend "${spec.id}": weight must be a positive integer, got ${weight}`);
  }
  return { id: spec.id, weight, healthy: true, inFlight: 0, current: 0 };
}

/**
 * Round robin: the backends in list order, one after another, skipping unhealthy ones.
 * After picking the backend at position i, the search for the next pick starts at position i + 1.
 */
export function roundRobin(backends: readonly BackendSpec[]): Balancer {
  const pool = new Pool(backends);
  let next = 0;
  const positionOf = (backend: Backend) => pool.backends.indexOf(backend);
  return pool.balancer((healthy) => {
    // The first healthy backend at or after `next`, or else wrap around to the first healthy one.
    const chosen = healthy.find((b) => positionOf(b) >= next) ?? healthy[0]!;
    next = positionOf(chosen) + 1;
    return chosen;
  });
}

/**
 * Smooth weighted round robin, as nginx does it: on every pick each healthy backend's score grows by
 * its weight; the backend with the highest score wins (the earliest in the list on a tie) and its
 * score drops by the total weight of the healthy backends (scores start at 0). A backend that is down
 * keeps the score it had. Weights 5, 1, 1 give `a a b a c a a`: each backend gets its share of every
 * cycle, spread out instead of in a burst.
 */
export function smoothWeightedRoundRobin(backends: readonly BackendSpec[]): Balancer {
  const pool = new Pool(backends);
  return pool.balancer((healthy) => {
    let total = 0;
    let best = healthy[0]!;
    for (const backend of healthy) {
      backend.current += backend.weight;
      total += backend.weight;
      if (backend.current > best.current) best = backend;
    }
    best.current -= total;
    return best;
  });
}

/**
 * Least connections: the healthy backend with the fewest requests in flight. Ties go round robin:
 * the search starts just after the previous pick, and the first backend with the fewest wins.
 */
export function leastConnections(backends: readonly BackendSpec[]): Balancer {
  const pool = new Pool(backends);
  let next = 0;
  return pool.balancer(() => {
    const all = pool.backends;
    let best: Backend | undefined;
    for (let i = 0; i < all.length; i++) {
      const backend = all[(next + i) % all.length]!;
      if (backend.healthy && (best === undefined || backend.inFlight < best.inFlight)) best = backend;
    }
    next = all.indexOf(best!) + 1;
    return best!;
  });
}

/**
 * The power of two random choices: draw two different healthy backends at random and take the one
 * with fewer requests in flight (the first drawn on a tie). With one healthy backend, it is the pick
 * and `random` is not called.
 *
 * The draw is exact, so tests can replay it: with `n` healthy backends in list order,
 * `i = floor(random() * n)`, then `j = floor(random() * (n - 1))`, and `j` moves up by one when
 * `j >= i` (so it never equals `i`).
 */
export function powerOfTwoChoices(
  backends: readonly BackendSpec[],
  random: RandomSource = Math.random,
): Balancer {
  const pool = new Pool(backends);
  return pool.balancer((healthy) => {
    const n = healthy.length;
    if (n === 1) return healthy[0]!;
    const i = Math.floor(random() * n);
    let j = Math.floor(random() * (n - 1));
    if (j >= i) j++;
    const first = healthy[i]!;
    const second = healthy[j]!;
    return second.inFlight < first.inFlight ? second : first;
  });
}
