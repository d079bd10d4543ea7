// Last-write-wins loses acknowledged writes when one clock runs ahead.
//
// Three replicas of one register (n1, n2, n3) on the course's deterministic simulator
// (src/testing/sim). A write is stamped with the clock of the replica that takes it, applied there if
// its (timestamp, replica) is higher than what the replica holds, acknowledged at once and pushed to
// the peers, which keep the higher stamp: last-write-wins, as in Cassandra or a Dynamo-style store
// that resolves conflicts by wall-clock time. Alice writes through n1, whose clock runs SKEW ticks
// ahead; Bob writes through n2, whose clock is right. They take turns, one write every GAP ticks, each
// waiting for the previous one to be acknowledged (so the real order is never in doubt), and Carol
// reads from n3 GAP - 2 ticks after each write starts. For each skew and seed the script counts:
//   - lost: acknowledged writes that never became the register's value on the settled cluster,
//     because an EARLIER write carried a higher timestamp;
//   - the kit's linearizability checker's verdict on the whole history (writes and Carol's reads).
// npx tsx docs/12-distributed/lww-skew.ts [SEEDS=20] [GAP=10]
import os from 'node:os';
import { type ClientProtocol, historyOf } from '../../src/testing/sim/client-history.js';
import { pairOperations } from '../../src/testing/sim/history.js';
import { check } from '../../src/testing/sim/linearizable.js';
import { register } from '../../src/testing/sim/models.js';
import {
  type ClientOperation,
  type NodeContext,
  type Scenario,
  simulate,
} from '../../src/testing/sim/simulation.js';

const [seeds = 20, gap = 10] = process.argv.slice(2).map(Number);
const WRITES = 100;
const SKEWS = [0, 2, 5, 8, 10, 12, 15, 20, 50, 1000];

interface Stamped {
  readonly value: number;
  readonly ts: number;
  readonly node: string;
}
type Msg =
  | { type: 'write'; id: number; value: number }
  | { type: 'read'; id: number }
  | { type: 'ok'; id: number; value?: number | null }
  | { type: 'repl'; cell: Stamped };

/** (ts, node) order: the higher timestamp wins, ties go to the higher replica name. */
const newer = (a: Stamped, b: Stamped | null): boolean =>
  b === null || a.ts > b.ts || (a.ts === b.ts && a.node > b.node);

/** Every stamp a replica gave a client write, by value (observed by the script, not by the nodes). */
let stamps = new Map<number, Stamped>();

function replica(ctx: NodeContext<Msg>) {
  let cell: Stamped | null = ctx.recover<Stamped>() ?? null;
  const take = (candidate: Stamped) => {
    if (newer(candidate, cell)) {
      cell = candidate;
      ctx.persist(cell);
    }
  };
  return {
    onMessage(from: string, msg: Msg) {
      if (msg.type === 'write') {
        const stamped = { value: msg.value, ts: ctx.now(), node: ctx.id };
        stamps.set(msg.value, stamped);
        take(stamped);
        ctx.send(from, { type: 'ok', id: msg.id });
        for (const peer of ctx.peers) ctx.send(peer, { type: 'repl', cell: stamped });
      } else if (msg.type === 'read') ctx.send(from, { type: 'ok', id: msg.id, value: cell?.value ?? null });
      else if (msg.type === 'repl') take(msg.cell);
    },
  };
}

const protocol: ClientProtocol<Msg> = {
  request: (msg) =>
    msg.type === 'write'
      ? { id: msg.id, f: 'write', value: msg.value }
      : msg.type === 'read'
        ? { id: msg.id, f: 'read' }
        : undefined,
  reply: (msg, client) =>
    msg.type !== 'ok'
      ? undefined
      : client === 'carol'
        ? { id: msg.id, type: 'ok', value: msg.value ?? null }
        : { id: msg.id, type: 'ok' },
};

function run(seed: number, skew: number) {
  stamps = new Map();
  const operations: ClientOperation<Msg>[] = [];
  let id = 0;
  for (let i = 0; i < WRITES; i++) {
    const at = 1 + i * gap;
    const alice = i % 2 === 0;
    operations.push({
      at,
      client: alice ? 'alice' : 'bob',
      node: alice ? 'n1' : 'n2',
      msg: { type: 'write', id: ++id, value: i + 1 },
    });
    operations.push({ at: at + gap - 2, client: 'carol', node: 'n3', msg: { type: 'read', id: ++id } });
  }
  const scenario: Scenario<Msg> = {
    nodes: { n1: replica, n2: replica, n3: replica },
    network: { latency: { min: 1, max: 3 } },
    clocks: { n1: { offset: skew } },
    operations,
  };
  const sim = simulate(seed, scenario, WRITES * gap + 20);
  const acked = new Set(
    sim.replies.filter((r) => r.client !== 'carol').map((r) => (r.msg as { id: number }).id),
  );
  // Write i is lost if some earlier write carries a higher stamp: it can never be the value again.
  let best: Stamped | null = null;
  let lost = 0;
  for (let value = 1; value <= WRITES; value++) {
    const stamped = stamps.get(value);
    if (!stamped) continue;
    if (newer(stamped, best)) best = stamped;
    else if (acked.has(2 * value - 1)) lost++;
  }
  const verdict = check(pairOperations(historyOf(sim, protocol)), register).verdict;
  return { lost, acked: acked.size, verdict };
}

console.log(`$ npx tsx docs/12-distributed/lww-skew.ts ${seeds} ${gap}`);
console.log(
  `Node ${process.version}, ${os.cpus().length} cores; seeds 1..${seeds}; ${WRITES} writes, one every ${gap} ticks; latency 1-3 ticks`,
);
console.log(
  'skew (ticks) | acked writes | lost (total, all seeds) | lost per run (min-max) | not linearizable runs',
);
for (const skew of SKEWS) {
  let acked = 0;
  let lost = 0;
  let min = Infinity;
  let max = 0;
  let bad = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = run(seed, skew);
    acked += r.acked;
    lost += r.lost;
    min = Math.min(min, r.lost);
    max = Math.max(max, r.lost);
    if (r.verdict !== 'linearizable') bad++;
  }
  console.log(
    `${String(skew).padStart(12)} | ${String(acked).padStart(12)} | ${String(lost).padStart(5)} (${((100 * lost) / acked).toFixed(1).padStart(4)}%)${' '.repeat(12)} | ${`${min}-${max}`.padStart(22)} | ${bad}/${seeds}`,
  );
}
