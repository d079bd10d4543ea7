/**
 * A convergence checker for replicated data (CRDTs): after a final flush, do all replicas hold the same
 * state? If not, which differ, and how: the replicas are grouped by state, the largest group is the
 * reference, and each other group is shown against it field by field.
 *
 * The final flush, as Yjs's `flushAllMessages` does in its tests: heal every partition, restart every
 * crashed node, then run until the replicas agree (or the wire is quiet), bounded in ticks. The flush
 * cannot lower the network's drop and duplicate rates (they are the scenario's), so a replica that only
 * sends on change must be flushed over a reliable network; one that gossips (anti-entropy) converges
 * through drops. Call it after the scenario's last scheduled fault: a later one still happens.
 */

import type { SimNode, Simulation } from './simulation.js';
import { canonicalJson } from './trace.js';

/** Replicas that hold one state, and that state as text. */
export interface ReplicaGroup {
  readonly replicas: readonly string[];
  readonly state: string;
}

/** What {@link checkConvergence} found. */
export type Convergence =
  | { readonly converged: true; readonly state: string }
  | {
      readonly converged: false;
      /** The replicas grouped by state, largest group first (ties: by first replica's name). */
      readonly groups: readonly ReplicaGroup[];
      /** A readable account: each minority group against the first, field by field. */
      readonly diff: string;
    };

/**
 * Whether every replica in `states` (replica name to state) holds the same state, as `serialize` writes
 * it (default: canonical JSON, keys sorted, so that field order does not matter; a `Set` or `Map` needs
 * a `serialize` that lists its entries).
 */
export function checkConvergence<S>(
  states: ReadonlyMap<string, S> | Readonly<Record<string, S>>,
  serialize: (state: S) => string = canonicalJson,
): Convergence {
  const entries = states instanceof Map ? [...states.entries()] : Object.entries(states as Record<string, S>);
  const byState = new Map<string, string[]>();
  for (const [replica, state] of entries) {
    const text = serialize(state);
    const group = byState.get(text);
    if (group) group.push(replica);
    else byState.set(text, [replica]);
  }
  if (byState.size <= 1) return { converged: true, state: [...byState.keys()][0] ?? '' };
  const groups = [...byState.entries()]
    .map(([state, replicas]) => ({ replicas, state }))
    .sort((a, b) => b.replicas.length - a.replicas.length || a.replicas[0]!.localeCompare(b.replicas[0]!));
  const [reference, ...others] = groups as unknown as [ReplicaGroup, ...ReplicaGroup[]];
  const lines = [`${byState.size} different states among ${entries.length} replicas:`];
  for (const group of others) {
    lines.push(`${group.replicas.join(', ')} vs ${reference.replicas.join(', ')}:`);
    lines.push(...diffStates(group.state, reference.state).map((line) => `  ${line}`));
  }
  return { converged: false, groups, diff: lines.join('\n') };
}

/** Field-by-field differences of two JSON texts (`field: ours, reference theirs`), or both texts whole. */
function diffStates(ours: string, theirs: string): string[] {
  const a = parseObject(ours);
  const b = parseObject(theirs);
  if (!(a && b)) return [`${ours}, reference ${theirs}`];
  const show = (object: Record<string, unknown>, key: string): string =>
    key in object ? canonicalJson(object[key]) : 'missing';
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .sort()
    .filter((key) => show(a, key) !== show(b, key))
    .map((key) => `${key}: ${show(a, key)}, reference ${show(b, key)}`);
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every live node's state, read by `state(node, id)`, by node name; crashed nodes are left out (a
 * final flush restarts them).
 */
export function replicaStates<M, S>(
  sim: Simulation<M>,
  state: (node: SimNode<M>, id: string) => S,
): Map<string, S> {
  const states = new Map<string, S>();
  for (const id of sim.nodeIds) {
    const node = sim.node(id);
    if (node) states.set(id, state(node, id));
  }
  return states;
}

/** How {@link finalFlush} ends. */
export interface FlushOptions<M> {
  /** At most this many ticks. */
  readonly maxTicks: number;
  /** Stop as soon as this holds (checked before each tick), e.g. the replicas agree. Default: the wire is quiet. */
  readonly until?: (sim: Simulation<M>) => boolean;
}

/**
 * The final flush: heals every active partition, restarts every crashed node, then runs until
 * `until` holds (default: no message in flight), at most `maxTicks` ticks.
 * @returns whether `until` held, and the ticks run
 */
export function finalFlush<M>(
  sim: Simulation<M>,
  options: FlushOptions<M>,
): { done: boolean; ticks: number } {
  for (const name of sim.network.partitions()) sim.heal(name);
  for (const id of sim.nodeIds) if (!sim.isUp(id)) sim.restart(id);
  const until = options.until ?? ((run: Simulation<M>) => run.network.inFlight().length === 0);
  for (let ticks = 0; ticks < options.maxTicks; ticks++) {
    if (until(sim)) return { done: true, ticks };
    sim.step();
  }
  return { done: until(sim), ticks: options.maxTicks };
}
