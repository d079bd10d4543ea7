/**
 * The test bench of the quorum store (given; you do not edit it): random client workloads on the
 * simulator, the client protocol that turns a run into a Jepsen history, and the check of that
 * history with the kit's `kv` model. The suites and the bench share it.
 *
 * A client operation is a `get` or a `put` with an id unique in the run (`c1-4`: client c1's fourth
 * request) and, for a put, a value unique in the run (`c1-4`, the same text), so that the checker can
 * tell every write apart. `get_ok` and `put_ok` complete an operation as `ok`; an `error` reply as
 * `info` (a put that timed out may still have taken effect); no reply at all is `info` too.
 */
import type { ClientProtocol } from '../../../src/testing/sim/client-history.js';
import { historyOf } from '../../../src/testing/sim/client-history.js';
import type { SeededRun } from '../../../src/testing/sim/explore.js';
import type { HistoryEvent, Operation } from '../../../src/testing/sim/history.js';
import { drawTimeline, pairOperations } from '../../../src/testing/sim/history.js';
import { check, type Verdict } from '../../../src/testing/sim/linearizable.js';
import { kv } from '../../../src/testing/sim/models.js';
import { Prng } from '../../../src/testing/sim/prng.js';
import type {
  ClientOperation,
  FaultEvent,
  Scenario,
  Simulation,
} from '../../../src/testing/sim/simulation.js';
import { type KvMessage, type QuorumConfig, quorumNode } from './quorum-kv.js';

/** How the client messages of a run map to history events. */
export const kvProtocol: ClientProtocol<KvMessage> = {
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

/** The run's client history (Jepsen events). */
export function historyFor(sim: Simulation<KvMessage>): HistoryEvent[] {
  return historyOf(sim, kvProtocol);
}

/** The run's history checked with the `kv` model, key by key. */
export function checkRun(sim: Simulation<KvMessage>): Verdict {
  return check(pairOperations(historyFor(sim)), kv);
}

/** A verdict in words, with the witness drawn as a timeline; `undefined` when linearizable. */
export function explain(verdict: Verdict): string | undefined {
  if (verdict.verdict === 'linearizable') return undefined;
  if (verdict.verdict === 'unknown') return 'the checker could not decide (unknown)';
  return [
    `not linearizable on key ${JSON.stringify(verdict.part)}: these operations cannot be ordered`,
    drawTimeline(verdict.witness as Operation[], (op) => kv.describe(op)),
  ].join('\n');
}

/** What a random run looks like. */
export interface WorkloadOptions {
  /** The store's settings (its `nodes` are the scenario's nodes). */
  readonly config: QuorumConfig;
  /** Keys the clients use. Default `['a', 'b']`. */
  readonly keys?: readonly string[];
  /** Clients, each sending to random nodes. Default `['c1', 'c2', 'c3']`. */
  readonly clients?: readonly string[];
  /** Client operations in the run. Default 30. */
  readonly operations?: number;
  /** Share of puts among them. Default 0.4. */
  readonly putShare?: number;
  /** Ticks over which operations are spread. Default 200. */
  readonly spread?: number;
  /** Ticks run in all (after the last operation, time for timeouts). Default spread + 4 * timeoutTicks. */
  readonly ticks?: number;
  readonly latency?: { readonly min: number; readonly max: number };
  readonly dropRate?: number;
  readonly duplicateRate?: number;
  /** Crash one node (chosen by the seed) at a random tick, and restart it later. Default false. */
  readonly crashOne?: boolean;
  /** Nodes the clients may send to. Default every node. */
  readonly entryNodes?: readonly string[];
  /** Extra faults, as given. */
  readonly faults?: readonly FaultEvent[];
}

/** A seeded random run of the store: random gets and puts from a few clients, optional crash. */
export function randomRun(seed: number, options: WorkloadOptions): SeededRun<KvMessage> {
  const { config } = options;
  const prng = new Prng(seed).fork('workload');
  const keys = options.keys ?? ['a', 'b'];
  const clients = options.clients ?? ['c1', 'c2', 'c3'];
  const count = options.operations ?? 30;
  const putShare = options.putShare ?? 0.4;
  const spread = options.spread ?? 200;
  const ticks = options.ticks ?? spread + 4 * config.timeoutTicks;
  const entry = options.entryNodes ?? config.nodes;
  const factory = quorumNode(config);
  const nodes = Object.fromEntries(config.nodes.map((id) => [id, factory]));
  const sent = new Map<string, number>();
  const operations: ClientOperation<KvMessage>[] = [];
  const ats = Array.from({ length: count }, () => prng.int(1, spread)).sort((a, b) => a - b);
  for (const at of ats) {
    const client = prng.pick(clients);
    const number = (sent.get(client) ?? 0) + 1;
    sent.set(client, number);
    const id = `${client}-${number}`;
    const key = prng.pick(keys);
    const node = prng.pick(entry);
    const msg: KvMessage = prng.chance(putShare)
      ? { type: 'put', id, key, value: id }
      : { type: 'get', id, key };
    operations.push({ at, client, node, msg });
  }
  const faults: FaultEvent[] = [...(options.faults ?? [])];
  if (options.crashOne) {
    const node = prng.pick(config.nodes);
    const at = prng.int(1, spread);
    faults.push({ at, kind: 'crash', node }, { at: at + prng.int(5, 60), kind: 'restart', node });
  }
  const scenario: Scenario<KvMessage> = {
    nodes,
    network: {
      latency: options.latency ?? { min: 1, max: 4 },
      dropRate: options.dropRate ?? 0,
      duplicateRate: options.duplicateRate ?? 0,
    },
    faults,
    operations,
  };
  return { scenario, ticks };
}
