/**
 * A small seeded pseudo-random generator for the simulator: sfc32 (Chris Doty-Humphrey's Small Fast
 * Counting generator, 128 bits of state, period at least 2^32) seeded by splitmix32, so that nearby
 * seeds (1, 2, 3, ...) give unrelated streams. Pure arithmetic on 32-bit integers: no `Math.random`,
 * no wall clock, no Node-only import, and the same numbers in every JavaScript engine.
 */

/** Outputs thrown away after seeding, so that the first numbers do not echo the seed (sfc32's advice). */
const WARM_UP = 12;

/** 2^32: turns a 32-bit unsigned output into a fraction in [0, 1). */
const TWO_TO_32 = 0x1_0000_0000;

/** FNV-1a's 32-bit offset basis: the hash of the empty string. */
export const FNV1A32_BASIS = 0x811c9dc5;

/**
 * FNV-1a, 32 bits, over the UTF-16 code units of `text`: a stable, fast, non-cryptographic hash (the
 * same in Node and the browser). Used to derive streams from labels and to hash traces. Pass the hash
 * of what came before as `basis` to continue it: `fnv1a32(b, fnv1a32(a))` equals `fnv1a32(a + b)`.
 */
export function fnv1a32(text: string, basis = FNV1A32_BASIS): number {
  let hash = basis;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** One splitmix32 step: the next state and its well-mixed output. */
function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

function requireSeed(seed: number): void {
  if (!(Number.isInteger(seed) && seed >= 0 && seed < TWO_TO_32)) {
    throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  }
}

/**
 * A seeded stream of numbers. Two `Prng`s made with the same seed give the same numbers in the same
 * order; {@link Prng.fork} derives an independent stream per label, so that one part of a simulation
 * drawing more numbers does not shift what another part draws.
 */
export class Prng {
  /** The seed this stream was made from (an integer in [0, 2^32)). */
  readonly seed: number;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @throws {RangeError} when `seed` is not an integer in [0, 2^32); the message shows the bad value */
  constructor(seed: number) {
    requireSeed(seed);
    this.seed = seed;
    let state = seed;
    let output: number;
    [state, output] = splitmix32(state);
    this.#a = output;
    [state, output] = splitmix32(state);
    this.#b = output;
    [state, output] = splitmix32(state);
    this.#c = output;
    this.#d = 1;
    for (let i = 0; i < WARM_UP; i++) this.#uint32();
  }

  /** sfc32's step: the next unsigned 32-bit output. */
  #uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A fraction in [0, 1), in steps of 2^-32. */
  next(): number {
    return this.#uint32() / TWO_TO_32;
  }

  /**
   * An integer in [lo, hi], both ends included, each equally likely (up to 2^-32 of bias).
   * @throws {RangeError} when `lo` or `hi` is not a safe integer or `hi < lo`
   */
  int(lo: number, hi: number): number {
    if (!(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && hi >= lo)) {
      throw new RangeError(`int(lo, hi) needs integers with lo <= hi, got int(${lo}, ${hi})`);
    }
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /**
   * True with probability `p`: never for 0, always for 1.
   * @throws {RangeError} when `p` is not a number in [0, 1]
   */
  chance(p: number): boolean {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`chance(p) needs p in [0, 1], got ${p}`);
    return this.next() < p;
  }

  /**
   * One element of `items`, each equally likely.
   * @throws {RangeError} when `items` is empty
   */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick(items) needs at least one item');
    return items[this.int(0, items.length - 1)]!;
  }

  /**
   * An independent stream for `label`, derived from this stream's seed and the label only: it does not
   * depend on (nor change) how many numbers this stream has drawn. The same label gives the same
   * stream, so give each consumer its own label (`'network'`, `'node:a'`, `'node:a#2'`).
   */
  fork(label: string): Prng {
    const [, mixed] = splitmix32((this.seed ^ fnv1a32(label)) | 0);
    return new Prng(mixed);
  }
}

/**
 * `Math.random`'s shape from a seed: a function returning fractions in [0, 1), the same sequence for
 * the same seed. For tests, harnesses and benches that only need "a seeded random number"; use a
 * {@link Prng} for more (integers, picks, forked streams).
 * @throws {RangeError} when `seed` is not an integer in [0, 2^32)
 */
export function seededRandom(seed: number): () => number {
  const stream = new Prng(seed);
  return () => stream.next();
}

/**
 * One step of mulberry32 (Tommy Ettinger's 32-bit generator) from `state` (a 32-bit integer; the seed
 * to start with): a fraction in [0, 1) and the next state. It is not the {@link Prng}'s generator
 * (sfc32): the same seed gives other numbers. The browser simulators keep their random state as this
 * one number, and pages quote numbers drawn from its streams, so those keep it.
 */
export function mulberry32Step(state: number): [value: number, next: number] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / TWO_TO_32, next];
}

/**
 * A mulberry32 stream in `Math.random`'s shape (see {@link mulberry32Step}): for the benches whose
 * seeded workloads feed numbers quoted on the pages. New code wants {@link seededRandom}.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const [value, next] = mulberry32Step(state);
    state = next;
    return value;
  };
}
