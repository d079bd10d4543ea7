/**
 * A consistent hash ring (Karger et al., STOC 1997) with virtual nodes and weights: it maps a key to
 * one of a set of nodes so that adding or removing a node moves only about 1/N of the keys, unlike
 * `hash(key) % N`, which moves nearly all of them when N changes.
 *
 * **The ring.** Every node is placed on a circle of 2^32 positions at many points (its virtual
 * nodes); a key belongs to the first point at or after its own position, going clockwise, wrapping
 * from the top of the circle back to 0. Adding a node takes over only the arcs just before its new
 * points, from whoever owned them, and removing it hands its arcs to the next point clockwise. One
 * point per node would give loads as uneven as the gaps between N random points; many points each
 * average that out (about ±1/√points per node).
 *
 * **The hash is part of the contract.** Two processes (or a Node service and a Python one) must agree
 * on where every key lives, so the exact hash, the label of each virtual node and the tie rule are
 * stated below and pinned by a golden fixture: changing any of them silently re-homes keys.
 *
 * **Lookup in O(log P)** (P = points): the points live in a sorted `Uint32Array` and a lookup is a
 * binary search. Adding a node merges its sorted points into the array (O(P)), removing one filters
 * them out (O(P)): membership changes are rare, lookups are the hot path.
 */
import { hash } from 'node:crypto';

/** Virtual nodes per unit of weight when the options do not say (what ketama uses: 40 × 4). */
export const DEFAULT_VIRTUAL_NODES = 160;

export interface HashRingOptions {
  /**
   * Points on the ring per unit of weight: a positive integer. Default 160. More points spread the
   * load more evenly and cost memory and a slightly longer rebuild, not a slower lookup.
   */
  readonly virtualNodes?: number;
}

/**
 * The ring's hash of a text: the first 4 bytes of the MD5 digest of its UTF-8 encoding, read as a
 * big-endian unsigned 32-bit integer (0 to 2^32 - 1). `hash32('abc') === 2416005272`.
 *
 * It positions keys (`hash32(key)`) and virtual nodes (`hash32(`${node}#${i}`)`) alike.
 */
export function hash32(text: string): number {
  return hash('md5', text, 'buffer').readUInt32BE(0);
}

/** One point on the ring: a position and the node that owns it. */
interface Point {
  readonly position: number;
  readonly node: string;
}

/** Ring order: by position, then (for equal positions) by node name in code-unit order. */
function before(position: number, node: string, other: Point): boolean {
  return position < other.position || (position === other.position && node < other.node);
}

/**
 * A consistent hash ring of named nodes.
 *
 * - **Points.** A node of weight `w` has `max(1, Math.round(virtualNodes * w))` points; its point
 *   `i` (from 0) sits at `hash32(`${node}#${i}`)`.
 * - **Lookup.** A key goes to the owner of the first point at or after `hash32(key)`, clockwise; past
 *   the highest point it wraps around to the lowest. Points at the same position are ordered by node
 *   name (JavaScript `<` on strings, i.e. UTF-16 code units), so the first name wins a tie.
 * - **Determinism.** The mapping depends only on the set of nodes, their weights and `virtualNodes`:
 *   not on the order of `add` calls, nor on nodes that were added and removed before.
 *
 * Complexity, P = points on the ring: `get` O(log P); `getN(key, n)` O(log P) plus the points it
 * walks past until it has met n distinct nodes; `add`, `remove` O(P + v log v), v = the node's
 * points; `nodes()` O(N); `size` O(1).
 */
export class HashRing {
  readonly #virtualNodes: number;
  /** Node name → weight, in the order the nodes were first added. */
  readonly #weights = new Map<string, number>();
  /** Positions of every point, ascending in ring order. */
  #positions = new Uint32Array(0);
  /** `#owners[i]` owns the point at `#positions[i]`. */
  #owners: string[] = [];

  /**
   * @throws {RangeError} when `virtualNodes` is not a positive integer; the message names the option
   *   and shows the bad value (`virtualNodes must be a positive integer, got 0`)
   */
  constructor(options: HashRingOptions = {}) {
    const virtualNodes = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES;
    if (!(Number.isSafeInteger(virtualNodes) && virtualNodes > 0)) {
      throw new RangeError(`virtualNodes must be a positive integer, got ${String(virtualNodes)}`);
    }
    this.#virtualNodes = virtualNodes;
  }

  /** How many nodes are on the ring (nodes, not points). */
  get size(): number {
    return this.#weights.size;
  }

  /**
   * Puts `node` on the ring with `weight` (default 1): a node of weight 2 gets about twice the keys
   * of a node of weight 1. Adding a node that is already there replaces its weight (its points are
   * recomputed) and keeps its place in {@link nodes}.
   *
   * @throws {TypeError} when `node` is not a non-empty string
   * @throws {RangeError} when `weight` is not a positive finite number; the message names the weight
   *   and shows the bad value (`weight must be a positive finite number, got NaN`); the ring is left
   *   as it was
   */
  add(node: string, weight = 1): void {
    if (typeof node !== 'string' || node === '') {
      throw new TypeError(`node must be a non-empty string, got ${JSON.stringify(node)}`);
    }
    if (!(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
      throw new RangeError(
        `weight of node "${node}" must be a positive finite number, got ${String(weight)}`,
      );
    }
    if (this.#weights.has(node)) this.#removePoints(node);
    this.#weights.set(node, weight);
    this.#mergePoints(this.#pointsOf(node, weight));
  }

  /** Takes `node` off the ring; its keys go to the next points clockwise. False if it was not there. */
  remove(node: string): boolean {
    if (!this.#weights.delete(node)) return false;
    this.#removePoints(node);
    return true;
  }

  /**
   * The node that owns `key`.
   *
   * @throws {Error} when the ring has no nodes (the message says the ring is empty)
   */
  get(key: string): string {
    this.#assertNotEmpty('get');
    return this.#owners[this.#firstPointAtOrAfter(hash32(key))] as string;
  }

  /**
   * The first `n` distinct nodes met walking clockwise from `key`'s position (its owner first, then
   * the owners of the following points, skipping nodes already listed): where to put `n` replicas of
   * the key. Fewer than `n` when the ring has fewer nodes. `getN(key, 1)[0] === get(key)`.
   *
   * @throws {RangeError} when `n` is not a positive integer; the message shows the bad value
   * @throws {Error} when the ring has no nodes (the message says the ring is empty)
   */
  getN(key: string, n: number): string[] {
    if (!(Number.isSafeInteger(n) && n > 0)) {
      throw new RangeError(`n must be a positive integer, got ${String(n)}`);
    }
    this.#assertNotEmpty('getN');
    const wanted = Math.min(n, this.size);
    const found = new Set<string>();
    const count = this.#owners.length;
    const start = this.#firstPointAtOrAfter(hash32(key));
    for (let step = 0; found.size < wanted; step++) {
      found.add(this.#owners[(start + step) % count] as string);
    }
    return [...found];
  }

  /** The nodes on the ring, in the order they were first added. */
  nodes(): string[] {
    return [...this.#weights.keys()];
  }

  #assertNotEmpty(method: string): void {
    if (this.#weights.size === 0) {
      throw new Error(`${method}() on an empty hash ring: add a node first`);
    }
  }

  /** Binary search: the index of the first point at or after `position`, or 0 past the top (wrap). */
  #firstPointAtOrAfter(position: number): number {
    const positions = this.#positions;
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((positions[mid] as number) < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === positions.length ? 0 : lo;
  }

  /** The node's points, in ring order. */
  #pointsOf(node: string, _weight: number): Point[] {
    const count = this.#virtualNodes;
    const points: Point[] = [];
    for (let i = 0; i < count; i++) points.push({ position: hash32(`${node}#${i}`), node });
    return points.sort((a, b) => a.position - b.position);
  }

  /** Merges sorted `points` into the ring's sorted arrays. */
  #mergePoints(points: readonly Point[]): void {
    const oldPositions = this.#positions;
    const oldOwners = this.#owners;
    const total = oldPositions.length + points.length;
    const positions = new Uint32Array(total);
    const owners = new Array<string>(total);
    let i = 0;
    let j = 0;
    for (let k = 0; k < total; k++) {
      const next = points[j];
      if (
        i < oldPositions.length &&
        (next === undefined || before(oldPositions[i] as number, oldOwners[i] as string, next))
      ) {
        positions[k] = oldPositions[i] as number;
        owners[k] = oldOwners[i] as string;
        i++;
      } else {
        const taken = next as Point;
        positions[k] = taken.position;
        owners[k] = taken.node;
        j++;
      }
    }
    this.#positions = positions;
    this.#owners = owners;
  }

  /** Drops every point `node` owns, keeping the order of the rest. */
  #removePoints(node: string): void {
    const positions: number[] = [];
    const owners: string[] = [];
    for (let k = 0; k < this.#owners.length; k++) {
      if (this.#owners[k] === node) continue;
      positions.push(this.#positions[k] as number);
      owners.push(this.#owners[k] as string);
    }
    this.#positions = Uint32Array.from(positions);
    this.#owners = owners;
  }
}
