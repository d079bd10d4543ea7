/**
 * A replicated register for the explorer's tests, in two builds: `primary` (every request is forwarded
 * to node n1, which alone holds the value and answers: linearizable) and `ack-early` (a node applies a
 * write locally, acknowledges it at once and only then replicates it to its peers, and answers reads
 * from its own copy: a read elsewhere can miss an acknowledged write). Plus a seeded scenario builder
 * with random client operations, a partition and a crash.
 */

import type { ClientProtocol } from '../client-history.js';
import { Prng } from '../prng.js';
import type { ClientOperation, FaultEvent, NodeFactory, Scenario } from '../simulation.js';

/** The register's messages: client requests and replies, forwarding and replication between nodes. */
export type RegisterMsg =
  | { readonly type: 'write'; readonly id: number; readonly value: number }
  | { readonly type: 'read'; readonly id: number }
  | { readonly type: 'write_ok'; readonly id: number }
  | { readonly type: 'read_ok'; readonly id: number; readonly value: number | null }
  | { readonly type: 'forward'; readonly client: string; readonly request: RegisterMsg }
  | { readonly type: 'replicate'; readonly value: number };

/** How the register behaves (see the module's comment). */
export type RegisterBuild = 'primary' | 'ack-early';

/** A register node of the given build; it persists its value, so a restart keeps it. */
export function registerNode(build: RegisterBuild): NodeFactory<RegisterMsg> {
  return (context) => {
    let value = context.recover<number | null>() ?? null;
    const store = (next: number): void => {
      value = next;
      context.persist(value);
    };
    // A duplicated write must not be applied again later, over a newer one.
    const applied = new Set<number>();
    const serve = (client: string, request: RegisterMsg): void => {
      if (request.type === 'write') {
        const fresh = !applied.has(request.id);
        context.send(client, { type: 'write_ok', id: request.id });
        if (!fresh) return;
        applied.add(request.id);
        store(request.value);
        if (build === 'ack-early') {
          for (const peer of context.peers) context.send(peer, { type: 'replicate', value: request.value });
        }
      } else if (request.type === 'read') {
        context.send(client, { type: 'read_ok', id: request.id, value });
      }
    };
    return {
      onMessage(from, msg) {
        if (msg.type === 'forward') serve(msg.client, msg.request);
        else if (msg.type === 'replicate') store(msg.value);
        else if (build === 'primary' && context.id !== 'n1')
          context.send('n1', { type: 'forward', client: from, request: msg });
        else serve(from, msg);
      },
    };
  };
}

/** What the register's client messages mean, for `historyOf`. */
export const registerProtocol: ClientProtocol<RegisterMsg> = {
  request: (msg) =>
    msg.type === 'write'
      ? { id: msg.id, f: 'write', value: msg.value }
      : msg.type === 'read'
        ? { id: msg.id, f: 'read' }
        : undefined,
  reply: (msg) =>
    msg.type === 'write_ok'
      ? { id: msg.id, type: 'ok' }
      : msg.type === 'read_ok'
        ? { id: msg.id, type: 'ok', value: msg.value }
        : undefined,
};

/** What {@link registerScenario} builds. */
export interface RegisterScenarioOptions {
  readonly build: RegisterBuild;
  readonly nodes?: number;
  readonly ticks?: number;
  readonly operations?: number;
  readonly dropRate?: number;
  readonly duplicateRate?: number;
}

/**
 * Seed `seed`'s scenario: `operations` client operations (reads and writes of unique values, by three
 * clients, to random nodes, at random ticks), a partition that cuts a random minority off for a while,
 * and a crash and restart of a random node other than n1.
 */
export function registerScenario(
  seed: number,
  options: RegisterScenarioOptions,
): { scenario: Scenario<RegisterMsg>; ticks: number } {
  const { build, nodes: count = 5, ticks = 1000, operations: opCount = 60 } = options;
  const prng = new Prng(seed).fork('scenario');
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const nodes = Object.fromEntries(ids.map((id) => [id, registerNode(build)]));
  const operations: ClientOperation<RegisterMsg>[] = [];
  for (let id = 0; id < opCount; id++) {
    const at = prng.int(0, ticks - 1);
    const msg: RegisterMsg = prng.chance(0.5) ? { type: 'write', id, value: id } : { type: 'read', id };
    operations.push({ at, client: prng.pick(['c1', 'c2', 'c3']), node: prng.pick(ids), msg });
  }
  operations.sort((a, b) => a.at - b.at);
  const start = prng.int(0, ticks >>> 1);
  const cut = ids.slice(0, Math.max(1, count >>> 1)).filter((id) => id !== 'n1');
  const crashed = prng.pick(ids.slice(1));
  const crashAt = prng.int(0, ticks - 50);
  const faults: FaultEvent[] = [
    { at: start, kind: 'partition', name: 'p', groups: [cut.length > 0 ? cut : [ids.at(-1)!]] },
    { at: start + prng.int(20, 200), kind: 'heal', name: 'p' },
    { at: crashAt, kind: 'crash', node: crashed },
    { at: crashAt + prng.int(5, 40), kind: 'restart', node: crashed },
  ];
  return {
    scenario: {
      nodes,
      network: {
        latency: { min: 1, max: 5 },
        dropRate: options.dropRate ?? 0.02,
        duplicateRate: options.duplicateRate ?? 0.02,
      },
      faults,
      operations,
    },
    ticks,
  };
}
