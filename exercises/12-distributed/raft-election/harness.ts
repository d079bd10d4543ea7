/**
 * The test side of the Raft exercise: a wrapper around the learner's factory that reads every node's
 * `status()` after every handler call (so safety is checked at every step, not only at the end of a
 * run), a random fault schedule for a 5-node cluster, and the network's view of it tick by tick (who
 * is up, who can reach whom), for the liveness checks. Nothing here is part of the contract.
 *
 * **One observer per scenario, reset per run.** `exploreSeeds` runs the same scenario object several
 * times (once per seed, then again while shrinking a failure); the kit's `ctx.run.id` says which
 * simulation builds a node, and a node built by a new one makes the observer forget the old run.
 */

import { Prng } from '../../../src/testing/sim/prng.js';
import type { FaultEvent, NodeFactory, Scenario, SimNode } from '../../../src/testing/sim/simulation.js';
import type { TraceRecord } from '../../../src/testing/sim/trace.js';
import { type RaftConfig, type RaftMessage, type RaftNode, type RaftStatus, raftNode } from './raft.js';

export const NODES5 = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;

/** One reading of one node's status. */
export interface Reading {
  readonly tick: number;
  readonly node: string;
  readonly status: RaftStatus;
}

/**
 * Watches every node of a run: Election Safety (at most one leader per term), one vote per node per
 * term (across restarts too), terms that never go down, a leader that voted for itself; and keeps
 * each node's status at the end of every tick it was up.
 */
export class Observer {
  /** The first safety violation of this run, in plain words, or undefined. */
  violation: string | undefined;
  /** `ends[tick].get(node)`: the node's status after its `onTick` of that tick (absent while down). */
  ends: Map<string, RaftStatus>[] = [];
  /** Every node's become-leader moments: [tick, node, term]. */
  elected: [number, string, number][] = [];
  /** All readings, when `keepReadings` is set (unit tests). */
  readings: Reading[] = [];
  keepReadings = false;
  readonly #leaderOf = new Map<number, string>();
  readonly #voteOf = new Map<string, string>();
  readonly #termOf = new Map<string, number>();
  readonly #roleOf = new Map<string, string>();
  /** The `ctx.run.id` of the run being watched. */
  #run: number | undefined;

  /** Forgets the previous run. */
  reset(): void {
    this.violation = undefined;
    this.ends = [];
    this.elected = [];
    this.readings = [];
    this.#leaderOf.clear();
    this.#voteOf.clear();
    this.#termOf.clear();
    this.#roleOf.clear();
  }

  /** Node `node` was built (or rebuilt at a restart) by run `run`; a run not seen before starts afresh. */
  started(node: string, run: number): void {
    if (run !== this.#run) {
      this.reset();
      this.#run = run;
    }
    this.#roleOf.delete(node);
  }

  read(tick: number, node: string, status: RaftStatus, endOfTick: boolean): void {
    if (this.keepReadings) this.readings.push({ tick, node, status });
    if (endOfTick) {
      let row = this.ends[tick];
      if (!row) {
        row = new Map();
        this.ends[tick] = row;
      }
      row.set(node, status);
    }
    const fail = (what: string): void => {
      this.violation ??= `tick ${tick}, ${node}: ${what} (status ${JSON.stringify(status)})`;
    };
    const { role, term, votedFor } = status;
    const lastTerm = this.#termOf.get(node) ?? 0;
    if (term < lastTerm)
      fail(`its term went down from ${lastTerm} to ${term}: terms never decrease, not even across a restart`);
    this.#termOf.set(node, term);
    if (votedFor !== null) {
      const key = `${node}@${term}`;
      const earlier = this.#voteOf.get(key);
      if (earlier !== undefined && earlier !== votedFor) {
        fail(`voted for ${earlier} and then for ${votedFor} in term ${term}: at most one vote per term`);
      }
      this.#voteOf.set(key, votedFor);
    }
    if (role === 'leader') {
      const other = this.#leaderOf.get(term);
      if (other !== undefined && other !== node) {
        fail(
          `became leader of term ${term}, which ${other} already leads: two leaders in one term (Election Safety)`,
        );
      }
      this.#leaderOf.set(term, node);
      if (votedFor !== node) fail(`leads term ${term} but its votedFor is ${votedFor}, not itself`);
      if (this.#roleOf.get(node) !== 'leader') this.elected.push([tick, node, term]);
    }
    this.#roleOf.set(node, role);
  }
}

/** `factory` with every node's status read by `observer` after it is built and after each handler. */
export function observed(factory: NodeFactory<RaftMessage>, observer: Observer): NodeFactory<RaftMessage> {
  return (ctx) => {
    observer.started(ctx.id, ctx.run.id);
    const node = factory(ctx) as RaftNode;
    observer.read(ctx.now(), ctx.id, node.status(), false);
    const wrapped: SimNode<RaftMessage> & { status(): RaftStatus } = {
      onMessage(from, msg) {
        const before = node.status().term;
        node.onMessage(from, msg);
        const after = node.status();
        observer.read(ctx.now(), ctx.id, after, false);
        const carriesTerm = msg.type !== 'PreVote' && !(msg.type === 'PreVoteReply' && msg.granted);
        if (carriesTerm && msg.term > before && (after.term !== msg.term || after.role !== 'follower')) {
          observer.violation ??=
            `tick ${ctx.now()}, ${ctx.id}: a ${msg.type} of term ${msg.term} from ${from} reached it in term ${before}, ` +
            `and it is now ${after.role} in term ${after.term}: a higher term must make it a follower of that term`;
        }
      },
      onTick() {
        node.onTick?.();
        observer.read(ctx.now(), ctx.id, node.status(), true);
      },
      status: () => node.status(),
    };
    return wrapped;
  };
}

/** A cluster of `ids` running the learner's `raftNode(config)`, watched by `observer`. */
export function cluster(
  ids: readonly string[],
  config: RaftConfig,
  observer: Observer,
): Record<string, NodeFactory<RaftMessage>> {
  const factory = observed(raftNode(config), observer);
  return Object.fromEntries(ids.map((id) => [id, factory]));
}

/** Who is up and which nodes can reach each other at one tick (one active partition at most). */
export interface NetState {
  readonly up: ReadonlySet<string>;
  /** Each node's group; nodes in no group of the active partition share group -1. */
  readonly groupOf: ReadonlyMap<string, number>;
  /** The tick at which this state began. */
  readonly since: number;
}

/**
 * Replays `faults` (applied at the start of their tick) over `ticks` ticks: `states[t]` is the state
 * during tick `t`. Supports one partition at a time (as {@link randomFaults} makes).
 */
export function netStates(ids: readonly string[], faults: readonly FaultEvent[], ticks: number): NetState[] {
  const up = new Set(ids);
  let groupOf = new Map<string, number>(ids.map((id) => [id, -1]));
  let since = 0;
  const byTick = new Map<number, FaultEvent[]>();
  for (const fault of faults) byTick.set(fault.at, [...(byTick.get(fault.at) ?? []), fault]);
  const states: NetState[] = [];
  let current: NetState = { up: new Set(up), groupOf, since };
  for (let t = 0; t < ticks; t++) {
    const due = byTick.get(t);
    if (due) {
      for (const fault of due) {
        if (fault.kind === 'crash') up.delete(fault.node);
        else if (fault.kind === 'restart') up.add(fault.node);
        else if (fault.kind === 'heal') groupOf = new Map(ids.map((id) => [id, -1]));
        else {
          groupOf = new Map(ids.map((id) => [id, -1]));
          fault.groups.forEach((group, index) => {
            for (const id of group) groupOf.set(id, index);
          });
        }
      }
      since = t;
      current = { up: new Set(up), groupOf, since };
    }
    states.push(current);
  }
  return states;
}

/** The faults a run went through, read back from its trace (so a shrunk run is judged by its own). */
export function faultsOf(trace: readonly TraceRecord[]): FaultEvent[] {
  const faults: FaultEvent[] = [];
  for (const record of trace) {
    if (record.kind === 'partition') {
      faults.push({ at: record.tick, kind: 'partition', name: record.name, groups: record.groups });
    } else if (record.kind === 'heal') faults.push({ at: record.tick, kind: 'heal', name: record.name });
    else if (record.kind === 'crash' || record.kind === 'restart') {
      faults.push({ at: record.tick, kind: record.kind, node: record.node });
    }
  }
  return faults;
}

/** The nodes of `node`'s side (its group, up or down). */
export function sideOf(state: NetState, node: string): string[] {
  const group = state.groupOf.get(node);
  return [...state.groupOf].filter(([, g]) => g === group).map(([id]) => id);
}

/** The live nodes of the side that holds a majority of `clusterSize` live nodes, or undefined. */
export function liveMajority(state: NetState, clusterSize: number): string[] | undefined {
  const groups = new Map<number, string[]>();
  for (const [id, group] of state.groupOf) {
    if (!state.up.has(id)) continue;
    groups.set(group, [...(groups.get(group) ?? []), id]);
  }
  for (const members of groups.values()) {
    if (members.length > clusterSize / 2) return members;
  }
  return undefined;
}

/** Options of {@link randomFaults}. */
export interface FaultOptions {
  readonly ticks: number;
  /** Longest quiet gap between faults, in ticks. */
  readonly maxGap: number;
  /** Longest fault, in ticks. */
  readonly maxLength: number;
}

/**
 * A random schedule for `ids`, from `seed` (its own stream, not the simulation's): partitions that
 * cut off a minority (one node, or two of five), healed later, and crashes with their restarts, one
 * fault at a time, all from tick 10 on and over before `ticks`.
 */
export function randomFaults(seed: number, ids: readonly string[], options: FaultOptions): FaultEvent[] {
  const prng = new Prng(seed).fork('raft-faults');
  const faults: FaultEvent[] = [];
  const { ticks, maxGap, maxLength } = options;
  let t = 10 + prng.int(0, maxGap);
  let count = 0;
  while (t < ticks - 20) {
    const length = prng.int(5, maxLength);
    const end = Math.min(t + length, ticks - 10);
    if (prng.chance(0.55)) {
      const shuffled = [...ids];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = prng.int(0, i);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const cut = prng.int(1, Math.floor((ids.length - 1) / 2));
      const name = `p${count++}`;
      faults.push({ at: t, kind: 'partition', name, groups: [shuffled.slice(0, cut), shuffled.slice(cut)] });
      faults.push({ at: end, kind: 'heal', name });
    } else {
      const node = prng.pick(ids);
      faults.push({ at: t, kind: 'crash', node });
      faults.push({ at: end, kind: 'restart', node });
    }
    t = end + prng.int(1, maxGap);
  }
  return faults;
}

/** A scenario of `ids` with the course's usual wire: 1-3 ticks, some drops and duplicates. */
export function raftScenario(
  ids: readonly string[],
  config: RaftConfig,
  observer: Observer,
  faults: readonly FaultEvent[] = [],
  network: Scenario<RaftMessage>['network'] = {
    latency: { min: 1, max: 3 },
    dropRate: 0.05,
    duplicateRate: 0.02,
  },
): Scenario<RaftMessage> {
  return { nodes: cluster(ids, config, observer), network, faults };
}
