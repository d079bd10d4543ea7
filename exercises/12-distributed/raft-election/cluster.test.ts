/**
 * Whole clusters on the simulator, over many seeds (each failure prints its seed, the diagram of its
 * last moments and the command that replays it): Election Safety and one vote per term at every
 * step, a leader within a bound whenever a majority is connected and stable, no new leader in a
 * minority, check-quorum, MIT 6.5840's `ManyElections` on 7 nodes, pre-vote against a rejoining
 * node, and the split-vote rate as the timeout range narrows (printed, for the page).
 */
import { describe, expect, it } from 'vitest';
import type { SeededRun } from '../../../src/testing/sim/explore.js';
import { exploreInVitest } from '../../../src/testing/sim/explore-report.js';
import { Prng } from '../../../src/testing/sim/prng.js';
import { type FaultEvent, Simulation } from '../../../src/testing/sim/simulation.js';
import { traceHash } from '../../../src/testing/sim/trace.js';
import {
  faultsOf,
  liveMajority,
  NODES5,
  netStates,
  Observer,
  raftScenario,
  randomFaults,
  sideOf,
} from './harness.js';
import type { RaftConfig, RaftMessage, RaftNode } from './raft.js';

const ET = 10;
const HB = 3;
/** The liveness bound: a connected, stable majority has a leader all of it follows within K·et ticks. */
const K = 20;
const FULL: RaftConfig = { electionTimeout: ET, heartbeatInterval: HB, preVote: true, checkQuorum: true };
const PLAIN: RaftConfig = { electionTimeout: ET, heartbeatInterval: HB, preVote: false, checkQuorum: false };

/**
 * The properties of a finished run of `ids` under `faults`, in plain words, or undefined: the
 * observer's safety violation; for every stable stretch of at least K·et ticks in which a majority
 * is up and connected, a tick within its first K·et ticks at which one of that majority leads and
 * all of it follow that leader in its term; no node becoming leader on a side that has been a
 * minority for more than 2·et ticks; with check-quorum, no leader left on such a side.
 */
function clusterProblem(
  sim: Simulation<RaftMessage>,
  observer: Observer,
  ids: readonly string[],
  config: RaftConfig,
): string | undefined {
  if (observer.violation) return `safety: ${observer.violation}`;
  const ticks = sim.tick;
  const states = netStates(ids, faultsOf(sim.trace), ticks);
  const et = config.electionTimeout;
  for (const [tick, node, term] of observer.elected) {
    const state = states[tick]!;
    if (sideOf(state, node).length <= ids.length / 2 && tick - state.since > 2 * et) {
      return `${node} became leader of term ${term} at tick ${tick}, on a minority side (${sideOf(state, node).join(', ')}) cut off since tick ${state.since}: a leader needs votes from a majority of the whole cluster`;
    }
  }
  if (config.checkQuorum) {
    for (let t = 0; t < ticks; t++) {
      const state = states[t]!;
      for (const [node, status] of observer.ends[t] ?? []) {
        if (status.role !== 'leader') continue;
        if (sideOf(state, node).length <= ids.length / 2 && t - state.since > 2 * et) {
          return `${node} was still leader of term ${status.term} at tick ${t}, on a minority side (${sideOf(state, node).join(', ')}) cut off since tick ${state.since}: with checkQuorum a leader that has not heard from a majority for an election timeout steps down (within about 2·et = ${2 * et} ticks)`;
        }
      }
    }
  }
  for (let start = 0; start < ticks; ) {
    const state = states[start]!;
    let end = start;
    while (end < ticks && states[end] === state) end++;
    const majority = liveMajority(state, ids.length);
    if (majority && end - start >= K * et) {
      let ok = false;
      for (let t = start; t < start + K * et && !ok; t++) {
        const row = observer.ends[t];
        const leader = majority.find((id) => row?.get(id)?.role === 'leader');
        if (leader === undefined) continue;
        const term = row!.get(leader)!.term;
        ok = majority.every((id) => row!.get(id)?.leader === leader && row!.get(id)?.term === term);
      }
      if (!ok) {
        const last = observer.ends[start + K * et - 1];
        const seen = majority.map((id) => `${id}: ${JSON.stringify(last?.get(id))}`).join('\n  ');
        return `no leader followed by all of the connected majority ${majority.join(', ')} within ${K}·et = ${K * et} ticks (stable from tick ${start} to ${end}); at tick ${start + K * et - 1}:\n  ${seen}`;
      }
    }
    start = end;
  }
  return undefined;
}

/** Seed `seed`'s run: 5 nodes, drops, duplicates, random partitions and crashes. */
function faultyRun(config: RaftConfig, observer: Observer, ticks: number, ids: readonly string[] = NODES5) {
  return (seed: number): SeededRun<RaftMessage> => {
    const faults = randomFaults(seed, ids, { ticks, maxGap: 250, maxLength: 150 });
    return { scenario: raftScenario(ids, config, observer, faults), ticks };
  };
}

/** The leader that every live node follows at the end of `sim`, or undefined. */
function soleLeader(sim: Simulation<RaftMessage>): { id: string; term: number } | undefined {
  const statuses = sim.nodeIds.flatMap((id) => {
    const node = sim.node<RaftNode>(id);
    return node ? [[id, node.status()] as const] : [];
  });
  const leaders = statuses.filter(([, s]) => s.role === 'leader');
  if (leaders.length !== 1) return undefined;
  const [id, { term }] = leaders[0]!;
  return statuses.every(([, s]) => s.leader === id && s.term === term) ? { id, term } : undefined;
}

/** Statuses of every live node, one a line, for a failure message. */
function describeCluster(sim: Simulation<RaftMessage>): string {
  return sim.nodeIds
    .map((id) => `  ${id}: ${JSON.stringify(sim.node<RaftNode>(id)?.status() ?? 'down')}`)
    .join('\n');
}

/**
 * Runs `ids` with `config` and no faults for `ticks` ticks (the same seed, so the same run as a
 * scenario that only adds faults after them) and returns the leader at the end, or undefined.
 */
function leaderAfter(
  seed: number,
  ids: readonly string[],
  config: RaftConfig,
  ticks: number,
  network = CLEAN,
) {
  const sim = new Simulation(seed, raftScenario(ids, config, new Observer(), [], network)).run(ticks);
  return soleLeader(sim);
}

const CLEAN = { latency: { min: 1, max: 3 } } as const;

describe('Raft election: many seeds, faults', () => {
  it('500 seeds, 5 nodes, pre-vote and check-quorum: safety at every step, a leader whenever a majority is stable, none kept in a minority', {
    timeout: 120_000,
  }, () => {
    const observer = new Observer();
    const result = exploreInVitest({
      name: 'raft-election-full',
      count: 500,
      build: faultyRun(FULL, observer, 600),
      property: (sim) => clusterProblem(sim, observer, NODES5, FULL),
    });
    expect(result.seeds).toHaveLength(500);
  });

  it('200 seeds, 5 nodes, plain Raft (no pre-vote, no check-quorum): the same safety and liveness', {
    timeout: 60_000,
  }, () => {
    const observer = new Observer();
    exploreInVitest({
      name: 'raft-election-plain',
      count: 200,
      build: faultyRun(PLAIN, observer, 600),
      property: (sim) => clusterProblem(sim, observer, NODES5, PLAIN),
    });
  });

  it('ManyElections (MIT 6.5840): 7 nodes, 3 of them cut off again and again, a leader among the other 4 each time', {
    timeout: 60_000,
  }, () => {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
    const observer = new Observer();
    const ticks = 1200;
    exploreInVitest({
      name: 'raft-many-elections',
      count: 30,
      build: (seed) => {
        const prng = new Prng(seed).fork('many-elections');
        const faults: FaultEvent[] = [];
        for (let round = 0, t = 20; t + 260 < ticks; round++, t += 260) {
          const cut = [...ids];
          for (let i = cut.length - 1; i > 0; i--) {
            const j = prng.int(0, i);
            [cut[i], cut[j]] = [cut[j]!, cut[i]!];
          }
          faults.push({
            at: t,
            kind: 'partition',
            name: `cut${round}`,
            groups: [cut.slice(0, 3), cut.slice(3)],
          });
          faults.push({ at: t + 240, kind: 'heal', name: `cut${round}` });
        }
        return { scenario: raftScenario(ids, FULL, observer, faults), ticks };
      },
      property: (sim) => clusterProblem(sim, observer, ids, FULL),
    });
  });

  it('InitialElection (MIT 6.5840): 3 nodes, no faults: one leader, and its term holds for 50·et ticks; a seed replays exactly', () => {
    const ids = ['n1', 'n2', 'n3'];
    const observer = new Observer();
    exploreInVitest({
      name: 'raft-initial-election',
      count: 100,
      build: () => ({ scenario: raftScenario(ids, PLAIN, observer, [], CLEAN), ticks: 50 * ET }),
      property: (sim) => {
        if (observer.violation) return `safety: ${observer.violation}`;
        const leader = soleLeader(sim);
        if (!leader)
          return `no leader that every node follows after ${50 * ET} ticks:\n${describeCluster(sim)}`;
        const elections = observer.elected.length;
        if (elections !== 1)
          return `${elections} elections in a fault-free run of ${50 * ET} ticks (${JSON.stringify(observer.elected)}): a healthy leader keeps its term`;
        return undefined;
      },
    });
    const again = () => traceHash(new Simulation(7, raftScenario(ids, FULL, new Observer())).run(300).trace);
    expect(
      again(),
      'the same seed gives the same run: randomness only from ctx.random, time only from ctx.now()',
    ).toBe(again());
  });

  it('a stale leader cut off alone steps down as soon as it hears the newer term after the heal', () => {
    const observer = new Observer();
    const cutAt = 100;
    const healAt = cutAt + 10 * ET;
    exploreInVitest({
      name: 'raft-stale-leader',
      count: 100,
      build: (seed) => {
        const old = leaderAfter(seed, NODES5, PLAIN, cutAt)?.id ?? 'n1';
        const faults: FaultEvent[] = [
          { at: cutAt, kind: 'partition', name: 'alone', groups: [[old]] },
          { at: healAt, kind: 'heal', name: 'alone' },
        ];
        return { scenario: raftScenario(NODES5, PLAIN, observer, faults, CLEAN), ticks: healAt + 3 * ET };
      },
      property: (sim) => {
        if (observer.violation) return `safety: ${observer.violation}`;
        const leader = soleLeader(sim);
        if (!leader)
          return `${3 * ET} ticks after the heal, the cluster does not follow one leader:\n${describeCluster(sim)}`;
        return undefined;
      },
    });
  });
});

describe('Raft election: pre-vote and a node that rejoins', () => {
  const cutAt = 100;
  const healAt = cutAt + 30 * ET;
  const ticks = healAt + 10 * ET;

  /** Seed `seed`: a follower cut off alone for 30·et ticks, then healed; returns the leader's term before and after. */
  function rejoin(config: RaftConfig, observer: Observer) {
    return (seed: number): SeededRun<RaftMessage> => {
      const leader = leaderAfter(seed, NODES5, config, cutAt)?.id ?? 'n1';
      const follower = NODES5.find((id) => id !== leader)!;
      const faults: FaultEvent[] = [
        { at: cutAt, kind: 'partition', name: 'alone', groups: [[follower]] },
        { at: healAt, kind: 'heal', name: 'alone' },
      ];
      return { scenario: raftScenario(NODES5, config, observer, faults, CLEAN), ticks };
    };
  }

  it('with pre-vote, a node cut off for 30·et ticks rejoins without an election: the leader keeps its term', {
    timeout: 30_000,
  }, () => {
    const config: RaftConfig = { ...PLAIN, preVote: true };
    const observer = new Observer();
    exploreInVitest({
      name: 'raft-prevote-rejoin',
      count: 100,
      build: rejoin(config, observer),
      property: (sim) => {
        if (observer.violation) return `safety: ${observer.violation}`;
        const before = observer.elected.filter(([tick]) => tick < cutAt).at(-1);
        const leader = soleLeader(sim);
        if (!before || !leader)
          return `no single leader before the cut or at the end:\n${describeCluster(sim)}`;
        if (leader.id !== before[1] || leader.term !== before[2]) {
          return `the leader was ${before[1]} in term ${before[2]} before the cut, and is ${leader.id} in term ${leader.term} at the end: with pre-vote the rejoining node must not force an election (it cannot win pre-votes while the others hear their leader)`;
        }
        return undefined;
      },
    });
  });

  it('without pre-vote, the same rejoin forces an election: the term jumps (the lesson, printed)', {
    timeout: 30_000,
  }, () => {
    const observer = new Observer();
    const jumps: number[] = [];
    exploreInVitest({
      name: 'raft-no-prevote-rejoin',
      count: 100,
      build: rejoin(PLAIN, observer),
      property: (sim) => {
        if (observer.violation) return `safety: ${observer.violation}`;
        const before = observer.elected.filter(([tick]) => tick < cutAt).at(-1);
        const leader = soleLeader(sim);
        if (!before || !leader)
          return `no single leader before the cut or at the end:\n${describeCluster(sim)}`;
        jumps.push(leader.term - before[2]);
        return undefined;
      },
    });
    const mean = jumps.reduce((a, b) => a + b, 0) / jumps.length;
    console.log(
      `rejoin without pre-vote: the term rose by ${mean.toFixed(1)} on average (min ${Math.min(...jumps)}, max ${Math.max(...jumps)}) over ${jumps.length} seeds; with pre-vote: 0`,
    );
    expect(
      Math.min(...jumps),
      'the isolated node kept raising its term, and its return deposed the leader',
    ).toBeGreaterThan(0);
  });
});

describe('Raft election: split votes (informational)', () => {
  it('the smaller et is next to the latency, the more terms an election takes (printed)', () => {
    const rows: string[] = [];
    const meanTerms = new Map<number, number>();
    for (const et of [3, 5, 10, 20]) {
      const config: RaftConfig = {
        electionTimeout: et,
        heartbeatInterval: 1,
        preVote: false,
        checkQuorum: false,
      };
      const terms: number[] = [];
      const ticks: number[] = [];
      for (let seed = 1; seed <= 200; seed++) {
        const observer = new Observer();
        const sim = new Simulation(seed, raftScenario(NODES5, config, observer, [], CLEAN));
        for (let t = 0; t < 100 * et && observer.elected.length === 0; t++) sim.step();
        const first = observer.elected[0];
        expect(first, `et ${et}, seed ${seed}: a leader within 100·et ticks`).toBeDefined();
        terms.push(first![2]);
        ticks.push(first![0]);
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      meanTerms.set(et, mean(terms));
      rows.push(
        `et ${String(et).padStart(2)}: ${mean(terms).toFixed(2)} terms, ${mean(ticks).toFixed(1)} ticks to the first leader (mean of 200 seeds), ${(terms.filter((t) => t > 1).length / 2).toFixed(1)}% needed more than one term`,
      );
    }
    console.log(`split votes, 5 nodes, latency 1-3 ticks:\n${rows.join('\n')}`);
    expect(meanTerms.get(3)!, 'with et = 3 (about one round trip) split votes are the rule').toBeGreaterThan(
      meanTerms.get(20)!,
    );
  });
});
