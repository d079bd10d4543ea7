import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BackendSpec,
  type Balancer,
  leastConnections,
  NoHealthyBackendError,
  powerOfTwoChoices,
  type RandomSource,
  roundRobin,
  smoothWeightedRoundRobin,
} from './balancers.js';

const abc: BackendSpec[] = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];

/** `n` picks, each released at once (so in-flight counts stay at 0). */
const picks = (balancer: Balancer, n: number) =>
  Array.from({ length: n }, () => {
    const id = balancer.pick();
    balancer.release(id);
    return id;
  });

/** A random source that replays `values` and fails loudly when it runs out. */
const replay = (...values: number[]) => {
  let calls = 0;
  const random = () => {
    const value = values[calls++];
    if (value === undefined)
      throw new Error(`random() was called more than the ${values.length} times expected`);
    return value;
  };
  return Object.assign(random, { calls: () => calls });
};

/** A seeded random source (a linear congruential generator): the same seed, the same draws. */
const seeded = (seed: number): RandomSource => {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
};

const strategies: [string, (backends: readonly BackendSpec[], random?: RandomSource) => Balancer][] = [
  ['roundRobin', (backends) => roundRobin(backends)],
  ['smoothWeightedRoundRobin', (backends) => smoothWeightedRoundRobin(backends)],
  ['leastConnections', (backends) => leastConnections(backends)],
  ['powerOfTwoChoices', (backends, random = Math.random) => powerOfTwoChoices(backends, random)],
];

describe.each(strategies)('%s: what every balancer does', (_name, create) => {
  it('throws NoHealthyBackendError when the pool is empty', () => {
    const balancer = create([]);
    expect(() => balancer.pick(), 'an empty pool has nothing to pick').toThrow(NoHealthyBackendError);
    expect(() => balancer.pick()).toThrow(/no backends/);
  });

  it('throws NoHealthyBackendError when every backend is unhealthy, and recovers when one is back', () => {
    const balancer = create(abc);
    for (const { id } of abc) balancer.setHealthy(id, false);
    let error: unknown;
    try {
      balancer.pick();
    } catch (e) {
      error = e;
    }
    expect(error, 'all three are down: pick() must throw NoHealthyBackendError').toBeInstanceOf(
      NoHealthyBackendError,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('NoHealthyBackendError');
    expect((error as Error).message, 'the message says how many backends are down').toMatch(/3/);
    balancer.setHealthy('b', true);
    expect(picks(balancer, 3), 'b is the only healthy backend again').toEqual(['b', 'b', 'b']);
  });

  it('never picks an unhealthy backend', () => {
    const balancer = create(abc);
    balancer.setHealthy('a', false);
    balancer.setHealthy('c', false);
    expect(picks(balancer, 5), 'only b is healthy').toEqual(['b', 'b', 'b', 'b', 'b']);
  });

  it('counts a pick as a request in flight until it is released, never below 0', () => {
    const balancer = create([{ id: 'only' }]);
    expect(balancer.inFlight('only'), 'nothing is in flight at the start').toBe(0);
    balancer.pick();
    balancer.pick();
    expect(balancer.inFlight('only'), 'two picks, two requests in flight').toBe(2);
    balancer.release('only');
    expect(balancer.inFlight('only'), 'one released').toBe(1);
    balancer.release('only');
    balancer.release('only');
    expect(balancer.inFlight('only'), 'releasing more than was picked must not go below 0').toBe(0);
  });

  it('keeps its state to itself: two balancers over backends with the same ids do not affect each other', () => {
    const specs: BackendSpec[] = [
      { id: 'a', weight: 3 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 2 },
    ];
    const alone = create(specs, seeded(42));
    const expected = Array.from({ length: 9 }, () => alone.pick());
    const first = create(specs, seeded(42));
    const second = create(specs, seeded(42));
    const fromFirst: string[] = [];
    const fromSecond: string[] = [];
    for (let i = 0; i < 9; i++) {
      fromFirst.push(first.pick());
      fromSecond.push(second.pick());
    }
    expect(fromFirst, 'picks alternating between two balancers: each must pick as if it were alone').toEqual(
      expected,
    );
    expect(fromSecond, 'the second balancer must not skip turns because the first one picked').toEqual(
      expected,
    );
    for (const { id } of specs) {
      const held = expected.filter((e) => e === id).length;
      expect(second.inFlight(id), `${id}: in-flight counts belong to one balancer`).toBe(held);
    }
    first.release('a');
    first.setHealthy('b', false);
    expect(second.inFlight('a'), "releasing on the first balancer must not change the second's count").toBe(
      expected.filter((e) => e === 'a').length,
    );
    second.setHealthy('a', false);
    second.setHealthy('c', false);
    expect(second.pick(), 'b is down on the first balancer only: the second still has it').toBe('b');
  });

  it('rejects unknown ids, duplicate ids and weights that are not positive integers', () => {
    const balancer = create(abc);
    expect(() => balancer.release('zzz'), 'release of an unknown id').toThrow(RangeError);
    expect(() => balancer.release('zzz'), 'the error names the unknown id').toThrow(/zzz/);
    expect(() => balancer.setHealthy('zzz', false), 'setHealthy of an unknown id').toThrow(RangeError);
    expect(() => balancer.setHealthy('zzz', false), 'the error names the unknown id').toThrow(/zzz/);
    expect(() => balancer.inFlight('zzz'), 'inFlight of an unknown id').toThrow(RangeError);
    expect(() => balancer.inFlight('zzz'), 'the error names the unknown id').toThrow(/zzz/);
    expect(() => create([{ id: 'api-1' }, { id: 'api-1' }]), 'two backends named api-1').toThrow(TypeError);
    expect(() => create([{ id: 'api-1' }, { id: 'api-1' }]), 'the error names the duplicate').toThrow(
      /api-1/,
    );
    expect(() => create([{ id: 'a', weight: 2.5 }]), 'the error shows the bad weight').toThrow(/2\.5/);
    for (const weight of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => create([{ id: 'a', weight }]), `weight ${weight}`).toThrow(RangeError);
    }
    expect(() =>
      create([
        { id: 'a', weight: 1 },
        { id: 'b', weight: 100 },
      ]),
    ).not.toThrow();
  });
});

describe('roundRobin', () => {
  it('goes through the backends in list order and starts over', () => {
    expect(picks(roundRobin(abc), 7)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('ignores weights', () => {
    const balancer = roundRobin([{ id: 'a', weight: 5 }, { id: 'b' }]);
    expect(picks(balancer, 4)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('skips an unhealthy backend and takes it back in its turn once it is healthy', () => {
    const balancer = roundRobin(abc);
    expect(balancer.pick()).toBe('a');
    balancer.setHealthy('b', false);
    expect(balancer.pick(), 'b is down: after a comes c').toBe('c');
    expect(balancer.pick(), 'then a again').toBe('a');
    balancer.setHealthy('b', true);
    expect(balancer.pick(), 'b is back, and after a comes b').toBe('b');
    expect(balancer.pick()).toBe('c');
  });

  it('property: with any set of healthy backends, k rounds pick each healthy backend k times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 5 }),
        (health, k) => {
          fc.pre(health.some(Boolean));
          const backends = health.map((_, i) => ({ id: `b${i}` }));
          const balancer = roundRobin(backends);
          for (const [i, healthy] of health.entries()) balancer.setHealthy(`b${i}`, healthy);
          const healthyIds = backends.filter((_, i) => health[i]).map((b) => b.id);
          const chosen = picks(balancer, k * healthyIds.length);
          for (const id of healthyIds) expect(chosen.filter((c) => c === id)).toHaveLength(k);
        },
      ),
    );
  });
});

describe('smoothWeightedRoundRobin', () => {
  it("gives nginx's sequence a a b a c a a for weights 5, 1, 1, and repeats it", () => {
    const balancer = smoothWeightedRoundRobin([
      { id: 'a', weight: 5 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 1 },
    ]);
    const cycle = ['a', 'a', 'b', 'a', 'c', 'a', 'a'];
    expect(picks(balancer, 7), 'the first cycle').toEqual(cycle);
    expect(picks(balancer, 7), 'the second cycle is the same: every score is back at 0').toEqual(cycle);
  });

  it('spreads a heavy backend out instead of sending it a burst (weights 2, 1 give a b a)', () => {
    const balancer = smoothWeightedRoundRobin([
      { id: 'a', weight: 2 },
      { id: 'b', weight: 1 },
    ]);
    expect(picks(balancer, 6)).toEqual(['a', 'b', 'a', 'a', 'b', 'a']);
  });

  it('treats a missing weight as 1 and breaks ties by list order', () => {
    expect(picks(smoothWeightedRoundRobin(abc), 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    const equal = smoothWeightedRoundRobin(abc.map(({ id }) => ({ id, weight: 2 })));
    expect(picks(equal, 6), 'equal weights of 2: plain round robin, ties to the earliest').toEqual([
      'a',
      'b',
      'c',
      'a',
      'b',
      'c',
    ]);
    const balancer = smoothWeightedRoundRobin([{ id: 'a' }, { id: 'b', weight: 3 }]);
    expect(picks(balancer, 4), 'weights 1 and 3').toEqual(['b', 'a', 'b', 'b']);
  });

  it('divides the cycle among the healthy backends only', () => {
    const balancer = smoothWeightedRoundRobin([
      { id: 'a', weight: 5 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 2 },
    ]);
    balancer.setHealthy('a', false);
    expect(picks(balancer, 6), 'a is down: b and c share the traffic 1 : 2').toEqual([
      'c',
      'b',
      'c',
      'c',
      'b',
      'c',
    ]);
  });

  it('does not grow the score of a backend while it is down, so it gets no burst when it is back', () => {
    const balancer = smoothWeightedRoundRobin([
      { id: 'a', weight: 5 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 2 },
    ]);
    expect(picks(balancer, 3), 'scores go (5,1,2) a, (2,2,4) c, (7,3,-2) a').toEqual(['a', 'c', 'a']);
    balancer.setHealthy('a', false);
    expect(picks(balancer, 6), 'a is down: only b and c score, and the winner pays 3').toEqual([
      'b',
      'b',
      'c',
      'c',
      'b',
      'c',
    ]);
    balancer.setHealthy('a', true);
    expect(
      picks(balancer, 8),
      'a is back with the score it had when it went down (-1), not one inflated while it was down',
    ).toEqual(['a', 'c', 'a', 'b', 'a', 'a', 'c', 'a']);
  });

  it('property: one full cycle picks each backend exactly its weight times', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 7 }), (weights) => {
        const backends = weights.map((weight, i) => ({ id: `b${i}`, weight }));
        const total = weights.reduce((sum, w) => sum + w, 0);
        const balancer = smoothWeightedRoundRobin(backends);
        for (let cycle = 0; cycle < 2; cycle++) {
          const chosen = picks(balancer, total);
          for (const { id, weight } of backends) {
            expect(
              chosen.filter((c) => c === id),
              `${id} (weight ${weight}) in cycle ${cycle + 1}`,
            ).toHaveLength(weight);
          }
        }
      }),
    );
  });

  it('property: never starves a backend: every run of total-weight picks contains each backend its weight times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 2, maxLength: 6 }),
        fc.integer({ min: 0, max: 40 }),
        (weights, offset) => {
          const backends = weights.map((weight, i) => ({ id: `b${i}`, weight }));
          const total = weights.reduce((sum, w) => sum + w, 0);
          const balancer = smoothWeightedRoundRobin(backends);
          picks(balancer, offset);
          const window = picks(balancer, total);
          for (const { id, weight } of backends) expect(window.filter((c) => c === id)).toHaveLength(weight);
        },
      ),
    );
  });

  it('property: the heaviest backend is never picked more than its weight times in a row', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 2, maxLength: 6 }), (weights) => {
        const backends = weights.map((weight, i) => ({ id: `b${i}`, weight }));
        const total = weights.reduce((sum, w) => sum + w, 0);
        const chosen = picks(smoothWeightedRoundRobin(backends), 2 * total);
        let run = 1;
        for (let i = 1; i < chosen.length; i++) {
          run = chosen[i] === chosen[i - 1] ? run + 1 : 1;
          const weight = backends.find((b) => b.id === chosen[i])!.weight;
          expect(run, `${chosen[i]} has weight ${weight}`).toBeLessThanOrEqual(weight);
        }
      }),
    );
  });
});

describe('leastConnections', () => {
  it('picks the backend with the fewest requests in flight', () => {
    const balancer = leastConnections(abc);
    expect([balancer.pick(), balancer.pick(), balancer.pick()], 'all at 0: one each').toEqual([
      'a',
      'b',
      'c',
    ]);
    balancer.release('b');
    expect(balancer.pick(), 'b finished its request, so it has the fewest').toBe('b');
    balancer.pick(); // all at 1 again (tie: after b comes c)
    expect(balancer.inFlight('c'), 'c got the tie after b').toBe(2);
    balancer.release('a');
    balancer.release('c');
    balancer.release('c');
    expect(balancer.pick(), 'c now has 0 in flight, a has 0 too, b has 1: after c comes a').toBe('a');
    expect(balancer.pick(), 'c is the only one left at 0').toBe('c');
  });

  it('goes round robin among equally loaded backends, so short requests spread evenly', () => {
    expect(picks(leastConnections(abc), 7)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('sends nothing new to a backend stuck with slow requests until it releases them', () => {
    const balancer = leastConnections(abc);
    balancer.pick(); // a: 1, never released (a slow request)
    balancer.pick(); // b: 1
    balancer.pick(); // c: 1
    balancer.pick(); // a: 2
    balancer.release('b');
    balancer.release('c');
    const chosen = picks(balancer, 6);
    expect(chosen, 'a is busy: b and c take every short request').not.toContain('a');
    expect(chosen.filter((id) => id === 'b')).toHaveLength(3);
  });

  it('skips an unhealthy backend even when it is the least loaded', () => {
    const balancer = leastConnections(abc);
    balancer.pick();
    balancer.pick();
    balancer.setHealthy('c', false);
    expect(balancer.pick(), 'c has 0 in flight but is down: a (1) wins the tie with b (1)').toBe('a');
  });

  it('property: after any sequence of picks and releases, the pick has the fewest in flight of the healthy', () => {
    const op = fc.oneof(
      fc.constant({ kind: 'pick' as const }),
      fc.record({ kind: fc.constant('release' as const), backend: fc.integer({ min: 0, max: 3 }) }),
      fc.record({
        kind: fc.constant('health' as const),
        backend: fc.integer({ min: 0, max: 3 }),
        healthy: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const ids = ['w', 'x', 'y', 'z'];
        const balancer = leastConnections(ids.map((id) => ({ id })));
        const healthy = new Set(ids);
        const inFlight = new Map(ids.map((id) => [id, 0]));
        for (const o of ops) {
          if (o.kind === 'release') {
            const id = ids[o.backend]!;
            balancer.release(id);
            inFlight.set(id, Math.max(0, inFlight.get(id)! - 1));
          } else if (o.kind === 'health') {
            const id = ids[o.backend]!;
            balancer.setHealthy(id, o.healthy);
            if (o.healthy) healthy.add(id);
            else healthy.delete(id);
          } else if (healthy.size > 0) {
            const fewest = Math.min(...[...healthy].map((id) => inFlight.get(id)!));
            const id = balancer.pick();
            expect(healthy.has(id), `${id} is not healthy`).toBe(true);
            expect(inFlight.get(id), `${id} does not have the fewest requests in flight`).toBe(fewest);
            inFlight.set(id, inFlight.get(id)! + 1);
          }
          for (const id of ids) expect(balancer.inFlight(id), `in flight on ${id}`).toBe(inFlight.get(id));
        }
      }),
    );
  });
});

describe('powerOfTwoChoices', () => {
  it('draws two different backends exactly as documented and takes the less loaded one', () => {
    const random = replay(0, 0, 0.9, 0.9, 0, 0);
    const balancer = powerOfTwoChoices(abc, random);
    expect(balancer.pick(), 'draws a (i = 0) and b (j = 0 moves up to 1): a tie, the first drawn wins').toBe(
      'a',
    );
    expect(balancer.pick(), 'draws c (i = 2) and b (j = 1): a tie, c').toBe('c');
    expect(balancer.pick(), 'draws a (1 in flight) and b (0 in flight): b').toBe('b');
    expect(random.calls(), 'two random numbers per pick').toBe(6);
  });

  it('never draws the same backend twice', () => {
    const balancer = powerOfTwoChoices(abc, replay(0, 0, 0, 0));
    expect(balancer.pick()).toBe('a');
    expect(
      balancer.pick(),
      'a already has 1 in flight; the second draw must move past a to b (0 in flight)',
    ).toBe('b');
  });

  it('takes the second draw when it is less loaded', () => {
    const balancer = powerOfTwoChoices(abc, replay(0.5, 0.9, 0.5, 0.2));
    expect(balancer.pick(), 'b (i = 1) and c (j = 1 moves up to 2): a tie, b').toBe('b');
    expect(balancer.pick(), 'b (1) and a (j = 0): a has fewer').toBe('a');
  });

  it('scales the second draw to the n - 1 backends left', () => {
    const balancer = powerOfTwoChoices([...abc, { id: 'd' }], replay(0, 0, 0.1, 0.9));
    expect(balancer.pick(), 'a and b: a tie, a').toBe('a');
    expect(
      balancer.pick(),
      'i = 0 is a (1 in flight); j = floor(0.9 * 3) = 2 moves up to 3: d (0) wins',
    ).toBe('d');
  });

  it('draws among the healthy backends only, in list order', () => {
    const balancer = powerOfTwoChoices([...abc, { id: 'd' }], replay(0, 0, 0.99, 0.99));
    balancer.setHealthy('a', false);
    expect(balancer.pick(), 'healthy are b c d: i = 0 is b').toBe('b');
    expect(balancer.pick(), 'i = floor(0.99 * 3) = 2 is d; j = 1 is c; a tie, d').toBe('d');
  });

  it('does not call random when only one backend is healthy', () => {
    const random = replay();
    const balancer = powerOfTwoChoices(abc, random);
    balancer.setHealthy('a', false);
    balancer.setHealthy('b', false);
    expect(balancer.pick()).toBe('c');
    expect(random.calls()).toBe(0);
  });

  it('property: with two or more healthy backends it never picks the one most loaded of all', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 2, maxLength: 6 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (loads, r1, r2) => {
          const backends = loads.map((_, i) => ({ id: `b${i}` }));
          // Load each backend while it is the only healthy one (no random draw then), then pick once.
          let values: number[] = [];
          const balancer = powerOfTwoChoices(backends, () => values.shift() ?? 0);
          const byId = new Map(backends.map((b, i) => [b.id, loads[i]!]));
          for (const [i, load] of loads.entries()) {
            const others = backends.filter((_, k) => k !== i).map((b) => b.id);
            for (const id of others) balancer.setHealthy(id, false);
            for (let n = 0; n < load; n++) balancer.pick();
            for (const id of others) balancer.setHealthy(id, true);
          }
          values = [r1, r2];
          const chosen = balancer.pick();
          const max = Math.max(...loads);
          const atMax = loads.filter((l) => l === max).length;
          if (atMax === 1)
            expect(byId.get(chosen), 'the single most loaded backend was picked').toBeLessThan(max);
          expect(balancer.inFlight(chosen)).toBe(byId.get(chosen)! + 1);
        },
      ),
    );
  });
});
