/**
 * Small nodes for the simulator's own tests: a sender that numbers its messages, a sink that records
 * what arrives, and a gossip node that spreads rumours and persists what it knows.
 */

import type { NodeContext, NodeFactory, SimNode } from '../simulation.js';

/** A numbered message on a link. */
export interface Numbered {
  readonly type: 'n';
  readonly seq: number;
}

/** Records every arrival, with the tick its own clock read. */
export class Sink<M> implements SimNode<M> {
  readonly received: { from: string; msg: M; at: number }[] = [];
  readonly #context: NodeContext<M>;
  constructor(context: NodeContext<M>) {
    this.#context = context;
  }
  onMessage(from: string, msg: M): void {
    this.received.push({ from, msg, at: this.#context.now() });
  }
}

/** Sends `perTick` numbered messages to `to` on each tick while `until` has not passed. */
export function sender(to: string, perTick = 1, until = Number.POSITIVE_INFINITY): NodeFactory<Numbered> {
  return (context) => {
    let seq = 0;
    return {
      onMessage() {},
      onTick() {
        if (context.now() >= until) return;
        for (let i = 0; i < perTick; i++) context.send(to, { type: 'n', seq: seq++ });
      },
    };
  };
}

/** Gossip: a node pushes the rumours it knows to one random peer each tick (when it knows any). */
export type GossipMsg =
  | { readonly type: 'rumours'; readonly rumours: readonly string[] }
  | { readonly type: 'tell'; readonly rumour: string }
  | { readonly type: 'told' };

/**
 * A gossip node: learns a rumour from a client (`tell`, acknowledged with `told` once persisted), merges
 * rumours from peers, persists what it knows, and pushes everything it knows to a random peer every
 * `period` ticks. After a restart it knows what it persisted.
 */
export class Gossip implements SimNode<GossipMsg> {
  readonly known: Set<string>;
  readonly #context: NodeContext<GossipMsg>;
  readonly #period: number;
  constructor(context: NodeContext<GossipMsg>, period = 1) {
    this.#context = context;
    this.#period = period;
    this.known = new Set(context.recover<string[]>() ?? []);
  }
  onMessage(from: string, msg: GossipMsg): void {
    if (msg.type === 'tell') {
      this.#learn([msg.rumour]);
      this.#context.send(from, { type: 'told' });
    } else if (msg.type === 'rumours') this.#learn(msg.rumours);
  }
  onTick(): void {
    if (this.known.size === 0 || this.#context.now() % this.#period !== 0) return;
    const peer = this.#context.random.pick(this.#context.peers);
    this.#context.send(peer, { type: 'rumours', rumours: [...this.known].sort() });
  }
  #learn(rumours: readonly string[]): void {
    const before = this.known.size;
    for (const rumour of rumours) this.known.add(rumour);
    if (this.known.size > before) this.#context.persist([...this.known].sort());
  }
}
