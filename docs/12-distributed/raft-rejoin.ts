// A partitioned follower rejoining a Raft cluster, with and without pre-vote (Ongaro's thesis §9.6).
// Five nodes running the raft-election exercise's reference solution through the page's simulator
// model (src/components/RaftSimulator/model.ts: election timeout 10-19 ticks, heartbeats every 3,
// latency 1-3 ticks, CheckQuorum on). Run SEED until tick 60, isolate a follower, run 100 ticks,
// heal, run 60 more; print the leader before and after, the isolated node's term, and the last events.
// npx tsx docs/12-distributed/raft-rejoin.ts [SEED=42]
import { NODES, RaftRun } from '../../src/components/RaftSimulator/model.js';

const [seed = 42] = process.argv.slice(2).map(Number);
console.log(`$ npx tsx docs/12-distributed/raft-rejoin.ts ${seed}`);
console.log(`Node ${process.version}; seed ${seed}`);
for (const preVote of [false, true]) {
  const run = new RaftRun({ seed, preVote });
  const leaders = () =>
    NODES.filter((n) => run.status(n)?.role === 'leader').map((n) => `${n} (term ${run.status(n)?.term})`);
  run.run(60);
  const before = leaders();
  const isolated = NODES.find((n) => run.status(n)?.role === 'follower');
  if (!isolated) throw new Error(`seed ${seed}: no follower at tick 60`);
  run.isolate(isolated);
  run.run(100);
  const termWhenHealed = run.status(isolated)?.term;
  run.heal();
  run.run(60);
  console.log(
    `\npre-vote ${preVote ? 'on' : 'off'}: leader at t60 ${before.join(', ')}; isolated ${isolated} t60-t160, its term at the heal: ${termWhenHealed}; leader at t220 ${leaders().join(', ')}`,
  );
  for (const e of run.events.filter((e) => e.tick >= 150).slice(0, 8)) console.log(`  t${e.tick} ${e.text}`);
}
