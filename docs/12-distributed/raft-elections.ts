// How long a Raft election takes, and how often votes split, with the raft-election exercise's reference
// solution (solutions/12-distributed/raft-election/raft.ts) on the course's simulator: 5 nodes, no pre-vote,
// no check-quorum, no drops, 1,000 seeds per row.
//
// 1. et = 10 ticks, heartbeats every 3, latency 1-3 ticks: ticks from a cold start to the first leader, and
//    from the crash of a leader to the next one (p50 / p99 / max), with timeouts in [et, 2et).
// 2. The timeout range: [et, 1.1et), [et, 1.5et), [et, 2et). In whole ticks [10, 11) is the single value 10,
//    a fixed timeout, so the same ratios are also run 10 times finer (et = 100, latency 10-30 ticks). A node's
//    dice are narrowed by wrapping the `random.int` of its context: the solution draws `int(et, 2et - 1)` for
//    its timeouts and nothing else, so the wrapper changes the range and nothing more.
//    "split" = the first election round elected nobody (the first leader's term is above 1).
//
// npx tsx docs/12-distributed/raft-elections.ts

import type { RaftMessage } from '../../solutions/12-distributed/raft-election/raft.js';
import {
  type RaftConfig,
  type RaftContext,
  type RaftNode,
  raftNode,
} from '../../solutions/12-distributed/raft-election/raft.js';
import { type NodeFactory, Simulation } from '../../src/testing/sim/simulation.js';

const SEEDS = 1000;
const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];

/** The solution's factory with its timeouts drawn from [et, et + spread) instead of [et, 2et). */
function withSpread(config: RaftConfig, spread: number): NodeFactory<RaftMessage> {
  const factory = raftNode(config);
  return (ctx) =>
    factory({
      ...ctx,
      send: (to, msg) => ctx.send(to, msg),
      now: () => ctx.now(),
      persist: (state) => ctx.persist(state),
      recover: <S>() => ctx.recover<S>(),
      random: { int: (lo: number) => lo + ctx.random.int(0, spread - 1) },
    } satisfies RaftContext);
}

function leaderOf(sim: Simulation<RaftMessage>): RaftNode | undefined {
  for (const id of sim.nodeIds) {
    const node = sim.node<RaftNode>(id);
    if (node?.status().role === 'leader') return node;
  }
  return undefined;
}

/** Ticks until some node leads (at most `limit`), and that leader's term. */
function untilLeader(
  sim: Simulation<RaftMessage>,
  limit: number,
): { ticks: number; term: number } | undefined {
  const start = sim.tick;
  while (sim.tick - start < limit) {
    sim.step();
    const leader = leaderOf(sim);
    if (leader) return { ticks: sim.tick - start, term: leader.status().term };
  }
  return undefined;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];

function summary(samples: number[], failed: number): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const head =
    sorted.length > 0
      ? `p50 ${pct(sorted, 0.5)}, p99 ${pct(sorted, 0.99)}, max ${sorted.at(-1)} ticks`
      : 'never';
  return `${head}${failed > 0 ? ` (no leader within 100·et in ${failed} of ${SEEDS} seeds)` : ''}`;
}

function coldStart(et: number, spread: number, latency: { min: number; max: number }) {
  const config: RaftConfig = {
    electionTimeout: et,
    heartbeatInterval: Math.max(1, Math.floor(et / 3)),
    preVote: false,
    checkQuorum: false,
  };
  const ticks: number[] = [];
  let failed = 0;
  let split = 0;
  let terms = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const factory = withSpread(config, spread);
    const sim = new Simulation<RaftMessage>(seed, {
      nodes: Object.fromEntries(NODES.map((id) => [id, factory])),
      network: { latency },
    });
    const first = untilLeader(sim, 100 * et);
    if (!first) {
      failed++;
      split++;
      continue;
    }
    ticks.push(first.ticks);
    terms += first.term;
    if (first.term > 1) split++;
  }
  return { ticks, failed, split, meanTerms: terms / Math.max(1, ticks.length) };
}

function failover(et: number, latency: { min: number; max: number }) {
  const config: RaftConfig = {
    electionTimeout: et,
    heartbeatInterval: 3,
    preVote: false,
    checkQuorum: false,
  };
  const ticks: number[] = [];
  let failed = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const factory = raftNode(config);
    const sim = new Simulation<RaftMessage>(seed, {
      nodes: Object.fromEntries(NODES.map((id) => [id, factory])),
      network: { latency },
    });
    sim.run(10 * et);
    const leader = sim.nodeIds.find((id) => sim.node<RaftNode>(id)?.status().role === 'leader');
    if (!leader) {
      failed++;
      continue;
    }
    sim.crash(leader);
    const next = untilLeader(sim, 100 * et);
    if (next) ticks.push(next.ticks);
    else failed++;
  }
  return { ticks, failed };
}

console.log('$ npx tsx docs/12-distributed/raft-elections.ts');
console.log(`Node ${process.version}; ${SEEDS} seeds per row; 5 nodes, no drops, no pre-vote`);

const cold = coldStart(10, 10, { min: 1, max: 3 });
const over = failover(10, { min: 1, max: 3 });
console.log('\net = 10 ticks, heartbeats every 3, latency 1-3 ticks, timeouts in [et, 2et):');
console.log(`  cold start to the first leader: ${summary(cold.ticks, cold.failed)}`);
console.log(`  leader crash to the next leader: ${summary(over.ticks, over.failed)}`);

console.log('\nthe timeout range (split = the first round elected nobody):');
for (const [et, latency] of [
  [10, { min: 1, max: 3 }],
  [100, { min: 10, max: 30 }],
] as const) {
  for (const [label, fraction] of [
    ['[et, 1.1et)', 0.1],
    ['[et, 1.5et)', 0.5],
    ['[et, 2et)  ', 1],
  ] as const) {
    const spread = Math.max(1, Math.round(et * fraction));
    const run = coldStart(et, spread, latency);
    console.log(
      `  et ${String(et).padStart(3)}, latency ${latency.min}-${latency.max}, ${label} (${spread} value${spread > 1 ? 's' : ''}): ` +
        `split ${((run.split / SEEDS) * 100).toFixed(1)}%, ${run.ticks.length > 0 ? run.meanTerms.toFixed(2) : '-'} terms per election, ` +
        `first leader ${summary(run.ticks, run.failed)}`,
    );
  }
}
