/**
 * The hash ring simulator's model: pure, deterministic (seeded), no DOM, no clock. A set of keys is
 * spread over nodes by one of two schemes:
 *
 * - consistent hashing: every node puts V virtual nodes (points) on a 32-bit ring, at
 *   hash(`${node}#${v}`); a key belongs to the first point at or after hash(key), going round;
 * - modulo N: a key belongs to nodes[hash(key) % N], the naive scheme consistent hashing replaces.
 *
 * Every operation (add a node, remove one, set V, switch scheme) returns a new ring together with
 * what changed: which keys moved, from which node to which, and the ideal share for a join or leave.
 *
 * The hash is 32-bit FNV-1a followed by murmur3's `fmix32` finaliser. FNV-1a alone is fast but mixes
 * its last byte into the high bits poorly, so labels that differ only in their last character
 * ("A#1", "A#2", ...) land in clumps on the ring; the finaliser's avalanche fixes that. It is not the
 * MD5 of the chapter's exercise (which matches the libraries learners meet, such as hashring): a
 * picture needs a well-spread 32-bit value per string, cheaply, in the browser, not compatibility.
 */

import { mulberry32Step as mulberry32 } from '../../testing/sim/prng';

export type Scheme = 'consistent' | 'modulo';

export const SCHEMES: { id: Scheme; label: string }[] = [
  { id: 'consistent', label: 'Consistent hashing' },
  { id: 'modulo', label: 'Modulo N' },
];

/** Node names in the order they join; a new node takes the first name not in use. */
export const NODE_NAMES = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'] as const;
export const MAX_NODES = NODE_NAMES.length;
export const VIRTUAL_NODE_OPTIONS = [1, 10, 100, 200] as const;
export const DEFAULTS = { seed: 42, keys: 1000, nodes: 4, virtualNodes: 100, scheme: 'consistent' } as const;

const RING = 2 ** 32;

/** 32-bit FNV-1a over UTF-16 code units (one per character for the ASCII names used here). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
export function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The ring's hash: a position in [0, 2^32). */
export function hash(text: string): number {
  return fmix32(fnv1a(text));
}

/** mulberry32 (shared with the other simulators): returns [value in [0,1), next state]. */
export const random = mulberry32;

/** `count` distinct keys such as `user:3k9x1a`, drawn from the seed. */
export function generateKeys(seed: number, count: number): string[] {
  let state = seed >>> 0;
  const seen = new Set<string>();
  const keys: string[] = [];
  while (keys.length < count) {
    const [value, next] = random(state);
    state = next;
    const key = `user:${Math.floor(value * 36 ** 6)
      .toString(36)
      .padStart(6, '0')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    keys.push(key);
  }
  return keys;
}

export interface Point {
  /** Position on the ring, [0, 2^32). */
  at: number;
  node: string;
}

export interface Change {
  kind: 'add' | 'remove' | 'virtual-nodes' | 'scheme';
  /** The node that joined or left. */
  node?: string;
  /** Node count before the operation. */
  nodesBefore: number;
  moved: number;
  /** moved / number of keys. */
  movedShare: number;
  /** Per key: did its owner change? */
  movedKeys: boolean[];
  /** Where the moved keys went, biggest flow first. */
  flows: { from: string; to: string; count: number }[];
  /**
   * What consistent hashing moves on average: 1/(N+1) of the keys for a join, 1/N for a leave
   * (N = nodes before). Only for add and remove.
   */
  ideal?: { numerator: 1; denominator: number; share: number };
  /** For a join: moved keys that went onto the new node. For a leave: the removed node's keys. */
  newNodeKeys?: number;
  /** For a join: moved keys that went from one old node to another (0 under consistent hashing). */
  betweenOld?: number;
}

export interface Ring {
  seed: number;
  keys: string[];
  /** hash(key) for each key. */
  keyHashes: number[];
  nodes: string[];
  virtualNodes: number;
  scheme: Scheme;
  /** Every node's virtual nodes, sorted by position. */
  points: Point[];
  /** The owner of each key. */
  owners: string[];
  /** What the operation that made this ring changed; absent for a fresh ring. */
  change?: Change;
}

export interface RingOptions {
  seed?: number;
  keys?: number;
  /** How many nodes to start with (names A, B, C, ...), 1 to MAX_NODES. */
  nodes?: number;
  virtualNodes?: number;
  scheme?: Scheme;
}

function clampInt(value: number | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(value)));
}

export function buildPoints(nodes: readonly string[], virtualNodes: number): Point[] {
  return nodes
    .flatMap((node) => Array.from({ length: virtualNodes }, (_, v) => ({ at: hash(`${node}#${v}`), node })))
    .sort((a, b) => a.at - b.at || (a.node < b.node ? -1 : 1));
}

/** The first point at or after `h`, wrapping round: binary search, O(log points). */
export function lookup(points: readonly Point[], h: number): string {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.at < h) lo = mid + 1;
    else hi = mid;
  }
  return points[lo === points.length ? 0 : lo]!.node;
}

function assign(ring: Omit<Ring, 'owners' | 'change'>): string[] {
  if (ring.scheme === 'modulo') return ring.keyHashes.map((h) => ring.nodes[h % ring.nodes.length]!);
  return ring.keyHashes.map((h) => lookup(ring.points, h));
}

export function createRing(options: RingOptions = {}): Ring {
  const seed = clampInt(options.seed, 0, 2 ** 31 - 1, DEFAULTS.seed);
  const keys = generateKeys(seed, clampInt(options.keys, 1, 200_000, DEFAULTS.keys));
  const nodes = NODE_NAMES.slice(0, clampInt(options.nodes, 1, MAX_NODES, DEFAULTS.nodes));
  const virtualNodes = clampInt(options.virtualNodes, 1, 1000, DEFAULTS.virtualNodes);
  const scheme = options.scheme ?? DEFAULTS.scheme;
  const base = {
    seed,
    keys,
    keyHashes: keys.map(hash),
    nodes,
    virtualNodes,
    scheme,
    points: buildPoints(nodes, virtualNodes),
  };
  return { ...base, owners: assign(base) };
}

function diff(before: Ring, after: Omit<Ring, 'change'>, change: Pick<Change, 'kind' | 'node'>): Change {
  const movedKeys = before.owners.map((owner, i) => owner !== after.owners[i]);
  const flowCounts = new Map<string, { from: string; to: string; count: number }>();
  let moved = 0;
  for (let i = 0; i < movedKeys.length; i++) {
    if (!movedKeys[i]) continue;
    moved++;
    const from = before.owners[i]!;
    const to = after.owners[i]!;
    const id = `${from}>${to}`;
    const flow = flowCounts.get(id) ?? { from, to, count: 0 };
    flow.count++;
    flowCounts.set(id, flow);
  }
  const flows = [...flowCounts.values()].sort(
    (a, b) => b.count - a.count || a.from.localeCompare(b.from) || a.to.localeCompare(b.to),
  );
  const result: Change = {
    ...change,
    nodesBefore: before.nodes.length,
    moved,
    movedShare: before.keys.length === 0 ? 0 : moved / before.keys.length,
    movedKeys,
    flows,
  };
  if (change.kind === 'add') {
    const denominator = before.nodes.length + 1;
    result.ideal = { numerator: 1, denominator, share: 1 / denominator };
    result.newNodeKeys = flows.filter((f) => f.to === change.node).reduce((s, f) => s + f.count, 0);
    result.betweenOld = moved - result.newNodeKeys;
  } else if (change.kind === 'remove') {
    const denominator = before.nodes.length;
    result.ideal = { numerator: 1, denominator, share: 1 / denominator };
    result.newNodeKeys = before.owners.filter((o) => o === change.node).length;
  }
  return result;
}

function rebuild(
  before: Ring,
  next: Pick<Ring, 'nodes' | 'virtualNodes' | 'scheme'>,
  change: Pick<Change, 'kind' | 'node'>,
): Ring {
  const points =
    next.nodes === before.nodes && next.virtualNodes === before.virtualNodes
      ? before.points
      : buildPoints(next.nodes, next.virtualNodes);
  const base = { ...before, ...next, points };
  const after = { ...base, owners: assign(base) };
  return { ...after, change: diff(before, after, change) };
}

/** The first unused name, or undefined when the ring is full. */
export function nextNodeName(ring: Ring): string | undefined {
  return NODE_NAMES.find((n) => !ring.nodes.includes(n));
}

/** Adds a node (the first free name unless one is given). Returns the ring unchanged when full. */
export function addNode(ring: Ring, name = nextNodeName(ring)): Ring {
  if (!name || ring.nodes.includes(name) || ring.nodes.length >= MAX_NODES) return ring;
  return rebuild(
    ring,
    { nodes: [...ring.nodes, name], virtualNodes: ring.virtualNodes, scheme: ring.scheme },
    {
      kind: 'add',
      node: name,
    },
  );
}

/** Removes a node; the last node cannot be removed (the ring is returned unchanged). */
export function removeNode(ring: Ring, name: string): Ring {
  if (!ring.nodes.includes(name) || ring.nodes.length <= 1) return ring;
  return rebuild(
    ring,
    { nodes: ring.nodes.filter((n) => n !== name), virtualNodes: ring.virtualNodes, scheme: ring.scheme },
    { kind: 'remove', node: name },
  );
}

export function setVirtualNodes(ring: Ring, virtualNodes: number): Ring {
  const v = clampInt(virtualNodes, 1, 1000, ring.virtualNodes);
  if (v === ring.virtualNodes) return ring;
  return rebuild(
    ring,
    { nodes: ring.nodes, virtualNodes: v, scheme: ring.scheme },
    { kind: 'virtual-nodes' },
  );
}

export function setScheme(ring: Ring, scheme: Scheme): Ring {
  if (scheme === ring.scheme) return ring;
  return rebuild(ring, { nodes: ring.nodes, virtualNodes: ring.virtualNodes, scheme }, { kind: 'scheme' });
}

export interface Load {
  node: string;
  keys: number;
  /** keys / all keys. */
  share: number;
  /** The share of the ring's circumference the node owns (consistent hashing only; else 1/N). */
  arc: number;
  /** Keys gained minus keys lost in the last operation. */
  delta: number;
}

export function loads(ring: Ring): Load[] {
  const counts = new Map(ring.nodes.map((n) => [n, 0]));
  for (const owner of ring.owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  const arcs = new Map(ring.nodes.map((n) => [n, ring.scheme === 'modulo' ? 1 / ring.nodes.length : 0]));
  if (ring.scheme === 'consistent') {
    // A point owns the arc from the previous point (exclusive) up to itself.
    ring.points.forEach((p, i) => {
      const prev = i === 0 ? ring.points.at(-1)!.at - RING : ring.points[i - 1]!.at;
      arcs.set(p.node, arcs.get(p.node)! + (p.at - prev) / RING);
    });
  }
  const deltas = new Map<string, number>();
  for (const f of ring.change?.flows ?? []) {
    deltas.set(f.to, (deltas.get(f.to) ?? 0) + f.count);
    deltas.set(f.from, (deltas.get(f.from) ?? 0) - f.count);
  }
  return ring.nodes.map((node) => ({
    node,
    keys: counts.get(node)!,
    share: ring.keys.length === 0 ? 0 : counts.get(node)! / ring.keys.length,
    arc: arcs.get(node)!,
    delta: deltas.get(node) ?? 0,
  }));
}

export interface Spread {
  max: number;
  min: number;
  mean: number;
  /** max / min keys per node: Infinity when a node has none. */
  maxMin: number;
  maxMean: number;
  busiest: string;
  quietest: string;
}

export function spread(ring: Ring): Spread {
  const rows = loads(ring);
  const busiest = rows.reduce((a, b) => (b.keys > a.keys ? b : a));
  const quietest = rows.reduce((a, b) => (b.keys < a.keys ? b : a));
  const mean = ring.keys.length / rows.length;
  return {
    max: busiest.keys,
    min: quietest.keys,
    mean,
    maxMin: quietest.keys === 0 ? Number.POSITIVE_INFINITY : busiest.keys / quietest.keys,
    maxMean: mean === 0 ? 1 : busiest.keys / mean,
    busiest: busiest.node,
    quietest: quietest.node,
  };
}

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
const idealPercent = (share: number) => `${Number((share * 100).toFixed(1))}%`;
const count = (n: number) => n.toLocaleString('en');

function flowList(flows: Change['flows'], side: 'from' | 'to'): string {
  return flows.map((f) => `${count(f.count)} ${side} ${f[side]}`).join(', ');
}

/** The last operation in words: "the join moved 24.6% of keys (246 of 1,000), all onto node E; ideal 1/5 = 20%". */
export function describeChange(ring: Ring): string {
  const c = ring.change;
  if (!c) return 'Add or remove a node, or change the virtual nodes or the scheme, to see which keys move.';
  const of = `(${count(c.moved)} of ${count(ring.keys.length)})`;
  const ideal = c.ideal ? `; ideal 1/${c.ideal.denominator} = ${idealPercent(c.ideal.share)}` : '';
  switch (c.kind) {
    case 'add': {
      if (c.moved === 0) return `The join of node ${c.node} moved no keys${ideal}.`;
      if (c.betweenOld === 0)
        return `The join moved ${percent(c.movedShare)} of keys ${of}, all onto node ${c.node} (${flowList(c.flows, 'from')})${ideal}.`;
      return `The join moved ${percent(c.movedShare)} of keys ${of}: ${count(c.newNodeKeys!)} onto node ${c.node} and ${count(c.betweenOld!)} between the old nodes${ideal}.`;
    }
    case 'remove': {
      const own = c.newNodeKeys!;
      if (c.moved === own)
        return `Removing node ${c.node} moved ${percent(c.movedShare)} of keys ${of}, only ${c.node}’s own keys${own > 0 ? ` (${flowList(c.flows, 'to')})` : ''}${ideal}.`;
      return `Removing node ${c.node} moved ${percent(c.movedShare)} of keys ${of}, though only ${c.node}’s ${count(own)} had to move${ideal}.`;
    }
    case 'virtual-nodes':
      return `Going to ${ring.virtualNodes} virtual node${ring.virtualNodes === 1 ? '' : 's'} per node moved ${percent(c.movedShare)} of keys ${of}.`;
    case 'scheme':
      return `Switching to ${ring.scheme === 'modulo' ? 'modulo N' : 'consistent hashing'} moved ${percent(c.movedShare)} of keys ${of}.`;
  }
}

/** The spread in words: "max/min 1.32 (A has 287 keys, C 217), max/mean 1.15". */
export function describeSpread(ring: Ring): string {
  const s = spread(ring);
  if (ring.nodes.length === 1) return `One node holds all ${count(ring.keys.length)} keys.`;
  const maxMin = Number.isFinite(s.maxMin) ? s.maxMin.toFixed(2) : '∞';
  return `Busiest ${s.busiest} has ${count(s.max)} keys, quietest ${s.quietest} ${count(s.min)}: max/min ${maxMin}, max/mean ${s.maxMean.toFixed(2)}.`;
}
