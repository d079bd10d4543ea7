// R + W against stale reads, on the quorum-kv exercise's REFERENCE solution.
//
// Part 1: three nodes, every key on all three (N = 3), one key, 30 random client operations (30% puts)
// from three clients over 120 ticks, latency 1-6 ticks, 15% of messages dropped, timeouts after 16
// ticks. For each (R, W) and read-repair setting, SEEDS seeds: how many runs the kit's linearizability
// checker finds NOT linearizable (a stale read), how many operations completed ok or timed out
// (`info`), and the median ticks of an ok operation.
// Part 2: a sloppy quorum under a partition. Five nodes, N = 3, R = W = 2. Client c0 writes v0; the
// network splits the key's first home replica (with client c1 and the two non-home nodes) from the
// other two homes (with client c2); c1 writes v1 through the first home, and once it has its answer,
// c2 reads through the second home. Sloppy off: c1's put cannot reach W = 2 homes and times out
// (`info`: it may or may not have happened). Sloppy on: a stand-in takes the write, c1 gets put_ok, and
// c2 reads v0 from the two homes it can reach: an acknowledged write missed.
// npx tsx docs/12-distributed/quorum-stale.ts [SEEDS=200]
import os from 'node:os';
import {
  type KvMessage,
  preferenceList,
  type QuorumConfig,
  quorumNode,
} from '../../solutions/12-distributed/quorum-kv/quorum-kv.js';
import { type ClientProtocol, historyOf } from '../../src/testing/sim/client-history.js';
import { pairOperations } from '../../src/testing/sim/history.js';
import { check } from '../../src/testing/sim/linearizable.js';
import { kv } from '../../src/testing/sim/models.js';
import { Prng } from '../../src/testing/sim/prng.js';
import { type ClientOperation, type Scenario, simulate } from '../../src/testing/sim/simulation.js';

const [seeds = 200] = process.argv.slice(2).map(Number);

const protocol: ClientProtocol<KvMessage> = {
  request(msg) {
    if (msg.type === 'get') return { id: msg.id, f: 'get', key: msg.key };
    if (msg.type === 'put') return { id: msg.id, f: 'put', key: msg.key, value: msg.value };
    return undefined;
  },
  reply(msg) {
    if (msg.type === 'get_ok') return { id: msg.id, type: 'ok', value: msg.value };
    if (msg.type === 'put_ok') return { id: msg.id, type: 'ok' };
    if (msg.type === 'error') return { id: msg.id, type: 'info' };
    return undefined;
  },
};

function randomRun(seed: number, config: QuorumConfig) {
  const prng = new Prng(seed).fork('workload');
  const operations: ClientOperation<KvMessage>[] = [];
  const sent = new Map<string, number>();
  const ats = Array.from({ length: 30 }, () => prng.int(1, 120)).sort((a, b) => a - b);
  for (const at of ats) {
    const client = prng.pick(['c1', 'c2', 'c3']);
    const number = (sent.get(client) ?? 0) + 1;
    sent.set(client, number);
    const id = `${client}-${number}`;
    const node = prng.pick(config.nodes);
    const msg: KvMessage = prng.chance(0.3)
      ? { type: 'put', id, key: 'a', value: id }
      : { type: 'get', id, key: 'a' };
    operations.push({ at, client, node, msg });
  }
  const factory = quorumNode(config);
  const scenario: Scenario<KvMessage> = {
    nodes: Object.fromEntries(config.nodes.map((id) => [id, factory])),
    network: { latency: { min: 1, max: 6 }, dropRate: 0.15 },
    operations,
  };
  return simulate(seed, scenario, 120 + 4 * config.timeoutTicks);
}

function measure(sim: ReturnType<typeof simulate<KvMessage>>) {
  const events = historyOf(sim, protocol);
  const ops = pairOperations(events);
  const sentAt = new Map<string, number>();
  for (const r of sim.trace) {
    if (r.kind === 'send' && !sim.nodeIds.includes(r.from)) sentAt.set((r.msg as { id: string }).id, r.tick);
  }
  const latencies = sim.replies
    .filter((r) => r.msg.type === 'get_ok' || r.msg.type === 'put_ok')
    .map((r) => r.tick - (sentAt.get((r.msg as { id: string }).id) ?? r.tick));
  return {
    verdict: check(ops, kv).verdict,
    ok: ops.filter((o) => o.status === 'ok').length,
    info: ops.filter((o) => o.status === 'info').length,
    latencies,
  };
}

console.log(`$ npx tsx docs/12-distributed/quorum-stale.ts ${seeds}`);
console.log(
  `Node ${process.version}, ${os.cpus().length} cores; solutions/12-distributed/quorum-kv; seeds 1..${seeds}`,
);
console.log('\nPart 1: N = 3 (3 nodes), 30 ops per run, latency 1-6, drop 15%, timeout 16 ticks');
console.log(
  'R W | read repair | R+W>N | not linearizable runs | ok ops | timed out (info) | median ticks of an ok op',
);
const settings: [number, number, QuorumConfig['readRepair']][] = [
  [1, 1, 'blocking'],
  [1, 2, 'blocking'],
  [2, 1, 'blocking'],
  [1, 3, 'blocking'],
  [3, 1, 'blocking'],
  [2, 2, 'blocking'],
  [3, 3, 'blocking'],
  [2, 2, 'async'],
  [2, 2, 'off'],
];
for (const [r, w, readRepair] of settings) {
  const config: QuorumConfig = {
    nodes: ['n1', 'n2', 'n3'],
    n: 3,
    r,
    w,
    readRepair,
    sloppy: false,
    timeoutTicks: 16,
  };
  let bad = 0;
  let ok = 0;
  let info = 0;
  const latencies: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const m = measure(randomRun(seed, config));
    if (m.verdict !== 'linearizable') bad++;
    ok += m.ok;
    info += m.info;
    latencies.push(...m.latencies);
  }
  latencies.sort((a, b) => a - b);
  const median = latencies[Math.floor(latencies.length / 2)];
  console.log(
    `${r} ${w} | ${readRepair.padEnd(11)} | ${r + w > 3 ? 'yes  ' : 'no   '} | ${`${bad}/${seeds}`.padStart(21)} | ${String(ok).padStart(6)} | ${String(info).padStart(16)} | ${median}`,
  );
}

console.log('\nPart 2: 5 nodes, N = 3, R = W = 2, a partition, sloppy quorum off and on');
const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
const homes = preferenceList('a', nodes, 3);
const [home0, home1, home2] = homes as [string, string, string];
const others = nodes.filter((n) => !homes.includes(n));
console.log(
  `key "a": home replicas ${homes.join(', ')}; side A: ${home0}, ${others.join(', ')}, c1; side B: ${home1}, ${home2}, c2`,
);
for (const sloppy of [false, true]) {
  let stale = 0;
  let putOk = 0;
  let example = '';
  for (let seed = 1; seed <= seeds; seed++) {
    const config: QuorumConfig = {
      nodes,
      n: 3,
      r: 2,
      w: 2,
      readRepair: 'blocking',
      sloppy,
      timeoutTicks: 16,
    };
    const factory = quorumNode(config);
    const scenario: Scenario<KvMessage> = {
      nodes: Object.fromEntries(nodes.map((id) => [id, factory])),
      network: { latency: { min: 1, max: 3 } },
      faults: [
        {
          at: 30,
          kind: 'partition',
          name: 'split',
          groups: [
            [home0, ...others, 'c1'],
            [home1, home2, 'c2'],
          ],
        },
        { at: 200, kind: 'heal', name: 'split' },
      ],
      operations: [
        { at: 1, client: 'c0', node: home1, msg: { type: 'put', id: 'c0-1', key: 'a', value: 'v0' } },
        { at: 40, client: 'c1', node: home0, msg: { type: 'put', id: 'c1-1', key: 'a', value: 'v1' } },
        { at: 100, client: 'c2', node: home1, msg: { type: 'get', id: 'c2-1', key: 'a' } },
      ],
    };
    const sim = simulate(seed, scenario, 260);
    const reply = (id: string) => sim.replies.find((r) => (r.msg as { id: string }).id === id);
    const put = reply('c1-1');
    const get = reply('c2-1');
    if (put?.msg.type === 'put_ok') putOk++;
    const verdict = check(pairOperations(historyOf(sim, protocol)), kv).verdict;
    if (verdict !== 'linearizable') {
      stale++;
      if (!example && get?.msg.type === 'get_ok' && put) {
        example = `seed ${seed}: c1's put v1 answered put_ok at t${put.tick}; c2's get at t100 returned ${JSON.stringify(get.msg.value)} at t${get.tick}`;
      }
    }
  }
  console.log(
    `sloppy ${sloppy ? 'on ' : 'off'}: c1's put acknowledged in ${putOk}/${seeds} runs; not linearizable (stale read): ${stale}/${seeds}`,
  );
  if (example) console.log(`  e.g. ${example}`);
}
