/**
 * A grow-only counter (G-Counter) for the convergence and counter tests: each node counts its own
 * increments, gossips its whole vector to a random peer every tick, and merges what it receives, with
 * `max` per entry (correct: idempotent, commutative, associative) or `sum` (broken: a duplicate or a
 * repeated gossip counts twice).
 */

import type { ClientProtocol } from '../client-history.js';
import { Prng } from '../prng.js';
import type { ClientOperation, NodeContext, Scenario, SimNode } from '../simulation.js';

/** The counter's messages. */
export type CounterMsg =
  | { readonly type: 'add'; readonly id: number; readonly delta: number }
  | { readonly type: 'add_ok'; readonly id: number }
  | { readonly type: 'read'; readonly id: number }
  | { readonly type: 'read_ok'; readonly id: number; readonly value: number }
  | { readonly type: 'gossip'; readonly counts: Readonly<Record<string, number>> };

/** How a replica merges a peer's vector. */
export type Merge = 'max' | 'sum';

/** A G-Counter replica. */
export class GCounter implements SimNode<CounterMsg> {
  readonly counts: Record<string, number>;
  readonly #context: NodeContext<CounterMsg>;
  readonly #merge: Merge;
  readonly #applied = new Set<number>();
  constructor(context: NodeContext<CounterMsg>, merge: Merge) {
    this.#context = context;
    this.#merge = merge;
    this.counts = context.recover<Record<string, number>>() ?? {};
  }
  get value(): number {
    return Object.values(this.counts).reduce((sum, count) => sum + count, 0);
  }
  onMessage(from: string, msg: CounterMsg): void {
    const { id } = this.#context;
    if (msg.type === 'add') {
      // The network duplicates client requests too: an add is applied once per operation id.
      if (!this.#applied.has(msg.id)) {
        this.#applied.add(msg.id);
        this.counts[id] = (this.counts[id] ?? 0) + msg.delta;
        this.#context.persist(this.counts);
      }
      this.#context.send(from, { type: 'add_ok', id: msg.id });
    } else if (msg.type === 'read') {
      this.#context.send(from, { type: 'read_ok', id: msg.id, value: this.value });
    } else if (msg.type === 'gossip') {
      for (const [replica, count] of Object.entries(msg.counts)) {
        const mine = this.counts[replica] ?? 0;
        this.counts[replica] = this.#merge === 'max' ? Math.max(mine, count) : mine + count;
      }
      this.#context.persist(this.counts);
    }
  }
  onTick(): void {
    if (Object.keys(this.counts).length === 0) return;
    this.#context.send(this.#context.random.pick(this.#context.peers), {
      type: 'gossip',
      counts: { ...this.counts },
    });
  }
}

/** The counter's client messages, for `historyOf`: `add` with its delta, `read` with its value. */
export const counterProtocol: ClientProtocol<CounterMsg> = {
  request: (msg) =>
    msg.type === 'add'
      ? { id: msg.id, f: 'add', value: msg.delta }
      : msg.type === 'read'
        ? { id: msg.id, f: 'read' }
        : undefined,
  reply: (msg) =>
    msg.type === 'add_ok'
      ? { id: msg.id, type: 'ok' }
      : msg.type === 'read_ok'
        ? { id: msg.id, type: 'ok', value: msg.value }
        : undefined,
};

/** The tick at which the client `final` reads every node. */
export const FINAL_READ_AT = 600;

/**
 * Seed `seed`'s G-Counter scenario: 5 replicas on a network that drops and duplicates 20% and delays
 * 1 to 5 ticks; 30 adds at random ticks before 200; a partition from tick 50 to 120; and a final read
 * of every replica by client `final` at {@link FINAL_READ_AT}.
 */
export function counterScenario(seed: number, merge: Merge): Scenario<CounterMsg> {
  const prng = new Prng(seed).fork('counter');
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const operations: ClientOperation<CounterMsg>[] = [];
  for (let id = 0; id < 30; id++) {
    const msg: CounterMsg = { type: 'add', id, delta: prng.int(1, 5) };
    operations.push({ at: prng.int(0, 199), client: prng.pick(['c1', 'c2']), node: prng.pick(ids), msg });
  }
  operations.sort((a, b) => a.at - b.at);
  ids.forEach((node, i) => {
    operations.push({ at: FINAL_READ_AT, client: 'final', node, msg: { type: 'read', id: 1000 + i } });
  });
  return {
    nodes: Object.fromEntries(
      ids.map((id) => [id, (context: NodeContext<CounterMsg>) => new GCounter(context, merge)]),
    ),
    network: { latency: { min: 1, max: 5 }, dropRate: 0.2, duplicateRate: 0.2 },
    faults: [
      {
        at: 50,
        kind: 'partition',
        name: 'split',
        groups: [
          ['n1', 'n2'],
          ['n3', 'n4', 'n5'],
        ],
      },
      { at: 120, kind: 'heal', name: 'split' },
    ],
    operations,
  };
}
