/**
 * A Dynamo-style replicated key-value store, written as a node of the course's simulator
 * (`src/testing/sim`). Every node is both a storage replica and a coordinator: a client sends `get` or
 * `put` to any node, and that node runs the operation against the key's replicas and replies.
 *
 * Sources: DeCandia et al., "Dynamo: Amazon's Highly Available Key-value Store" (SOSP 2007): §4.2-4.3
 * (partitioning, the preference list), §4.5 (N, R, W quorums), §4.6 (sloppy quorum and hinted handoff), §4.7
 * (anti-entropy with Merkle trees: left out here, so read repair and hinted handoff are this store's
 * only ways to bring a replica up to date); Attiya, Bar-Noy & Dolev, "Sharing Memory Robustly in
 * Message-Passing Systems" (JACM 1995): the read phase before a write and the write-back before a
 * read returns, which make R + W > N linearizable for reads AND writes (Dynamo alone is not).
 *
 * **Placement.** A key's home replicas are `preferenceList(key, nodes, n)`: the cluster list rotated
 * to start at `fnv1a32(key) % nodes.length`, its first `n` entries.
 *
 * **Versions.** Each stored value carries a version `{ counter, node }`, ordered by `counter`, then by
 * `node` (string order) to break ties between two coordinators that picked the same counter. A key
 * never written reads as `""` with version `null`, older than every version.
 *
 * **Replica.** On `read` it answers with what it holds for the key. On `write` it keeps the message's
 * value only if its version is newer than the one it holds (an older or equal write changes nothing),
 * persists its whole state with `ctx.persist` BEFORE it acknowledges (an ack promises the value
 * survives a crash), and acknowledges either way ("I hold this version or a newer one").
 *
 * **Coordinator, `put`** (two phases, each sent to the key's `n` home replicas):
 * 1. read: wait for `r` distinct replicas' answers and take the highest version seen. Why: any earlier
 *    completed put reached `w` replicas, and `r + w > n` means one of the `r` holds it, so the new
 *    version is higher than every put that finished before this one began (no lost update).
 * 2. write `{ counter, node: <this node> }` with the value, where `counter` is one more than the
 *    highest of the counter read and the last counter this node issued for the key (kept and
 *    persisted per key, so a node never issues the same version twice, even to two puts it
 *    coordinates at once or across a restart: two values under one version would let replicas
 *    disagree forever); wait for `w` distinct acknowledgements, then reply `put_ok`.
 *
 * **Coordinator, `get`**: read phase as above (`r` answers, highest version wins), then
 * - `readRepair: 'blocking'`: write the winner back to every home replica that did not answer with it
 *   and wait until `w` replicas hold it (those that answered with the winner count at once), and only
 *   then reply. Why: a get that returned a value must leave it on a write quorum, or a later get
 *   whose `r` replicas miss the only copy returns an older value (a new-then-old read: not
 *   linearizable). This is ABD's second phase.
 * - `'async'`: reply at once, and send the winner to the replicas that answered with an older
 *   version without waiting (Dynamo's read repair: replicas converge, reads are not linearizable).
 * - `'off'`: reply at once, repair nothing.
 *
 * **Timeouts.** A phase that has not gathered its quorum `timeoutTicks` ticks (of `ctx.now()`) after
 * it began ends the operation with `{ type: 'error', id, reason }`: never an `ok`, never a guess.
 * A put that timed out may still have reached some replicas: its outcome is unknown (a history
 * records it as `info`).
 *
 * **Sloppy quorum (`sloppy: true`)**: when a phase is still short of its quorum `ceil(timeoutTicks/2)`
 * ticks after it began, the coordinator also sends it, once, to one stand-in per home replica that
 * has not answered yet, and counts their answers toward `r` or `w`. The stand-ins are the nodes after
 * the homes in `preferenceList(key, nodes, nodes.length)`, taken in that order; a write sent to a
 * stand-in names the silent home it stands in for (`hint`: the first stand-in names the first silent
 * home, and so on). A stand-in stores the value and remembers the hint, persisted with the rest of its
 * state (a crash loses neither); every `timeoutTicks` ticks it sends a `write` of that key's value to
 * the home, and forgets the hint (persisted too) once the home acknowledges (hinted handoff).
 *
 * **Client requests** carry an operation id chosen by the client; a node runs each id once (a
 * duplicated request is ignored), and remembers the ids across restarts.
 *
 * Determinism: time only from `ctx.now()`, no randomness, iteration in preference-list order.
 */

/**
 * The simulator's contract for a node, as this file needs it: the same shapes as the kit's
 * `SimNode`, `NodeContext` and `NodeFactory` (`src/testing/sim/simulation.ts`), declared here so that
 * this file imports nothing (the kit's context also has `peers` and `random`; this store needs
 * neither). The kit's nodes and contexts fit these types, and these fit the kit's.
 */
export interface SimNode<M> {
  /** A message from another node or a client. */
  onMessage(from: string, msg: M): void;
  /** Called once per tick while the node is up, after that tick's messages: timers live here. */
  onTick?(): void;
}

/** What the simulator gives a node: its name, the wire, its clock and its disk. */
export interface NodeContext<M> {
  /** This node's name. */
  readonly id: string;
  /** Sends `msg` (plain JSON, never mutated afterwards) to a node or a client. */
  send(to: string, msg: M): void;
  /** This node's clock, in ticks. */
  now(): number;
  /** Stores `state` (a deep copy) so that it survives a crash; replaces what was stored before. */
  persist(state: unknown): void;
  /** A deep copy of what this node last persisted, or `undefined` if it never did. */
  recover<S>(): S | undefined;
}

/** Builds a node; the simulator calls it at the start and again at each restart. */
export type NodeFactory<M> = (context: NodeContext<M>) => SimNode<M>;

/** A value's version: `counter` first, then `node` (string order) to break ties. */
export interface Version {
  readonly counter: number;
  readonly node: string;
}

/** What a replica holds for a key. */
export interface Stored {
  readonly version: Version;
  readonly value: string;
}

/** The cluster's settings, the same on every node. */
export interface QuorumConfig {
  /** Every node of the cluster, in a fixed order (the ring). */
  readonly nodes: readonly string[];
  /** Replicas per key (1 <= n <= nodes.length). */
  readonly n: number;
  /** Answers a read phase waits for (1 <= r <= n). */
  readonly r: number;
  /** Acknowledgements a write phase waits for (1 <= w <= n). */
  readonly w: number;
  /** What a get does with replicas that answered with an older version (see the module comment). */
  readonly readRepair: 'blocking' | 'async' | 'off';
  /** Whether a phase short of its quorum also asks the stand-ins (hinted handoff). */
  readonly sloppy: boolean;
  /** Ticks a phase may take before the operation ends with an `error` reply (an integer >= 1). */
  readonly timeoutTicks: number;
}

/** The messages of the store: client requests and replies, and replica messages. Plain JSON. */
export type KvMessage =
  // client -> any node
  | { readonly type: 'get'; readonly id: string; readonly key: string }
  | { readonly type: 'put'; readonly id: string; readonly key: string; readonly value: string }
  // node -> client
  | { readonly type: 'get_ok'; readonly id: string; readonly value: string }
  | { readonly type: 'put_ok'; readonly id: string }
  | { readonly type: 'error'; readonly id: string; readonly reason: string }
  // coordinator <-> replica; `op` names the coordinator's phase the answer belongs to
  | { readonly type: 'read'; readonly op: string; readonly key: string }
  | {
      readonly type: 'read_ack';
      readonly op: string;
      readonly key: string;
      readonly stored: Stored | null;
    }
  | {
      readonly type: 'write';
      readonly op: string;
      readonly key: string;
      readonly stored: Stored;
      /** Set on a sloppy write to a stand-in: the home replica it holds the value for. */
      readonly hint?: string;
    }
  | { readonly type: 'write_ack'; readonly op: string; readonly key: string };

/** A node of the store: a simulator node plus read-only views for tests. */
export interface QuorumNode extends SimNode<KvMessage> {
  /** What this replica holds for `key`, or `undefined` if nothing. */
  inspect(key: string): Stored | undefined;
  /**
   * The hints this node keeps as a stand-in, `{ key, home }`, in the order it took them; each pair
   * once, however many writes for it arrived (the network duplicates).
   */
  hints(): { key: string; home: string }[];
}

/** FNV-1a, 32 bits, over the UTF-16 code units of `text` (the kit's `fnv1a32`, `prng.ts`). Given: use it. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The nodes that hold `key`, in order: `nodes` rotated to start at index `fnv1a32(key) %
 * nodes.length`, its first `n` entries (Dynamo §4.2-4.3, with one position per node instead of a ring of
 * tokens). Deterministic: the same arguments give the same list on every node, every run.
 * @throws {RangeError} when `n` is not an integer in [1, nodes.length]
 */
export function preferenceList(key: string, nodes: readonly string[], n: number): string[] {
  throw notImplemented('preferenceList');
}

/**
 * The factory of a store node for the simulator: `scenario.nodes = { n1: quorumNode(config), ... }`
 * (the scenario's node names must be `config.nodes`). See the module comment for the protocol. The
 * nodes it builds are {@link QuorumNode}s: tests read a replica's state with `inspect` and `hints`.
 * @throws {RangeError} at once (not when a node starts) when `nodes` is empty or has duplicates, or
 *   `n`, `r`, `w` or `timeoutTicks` is out of range (the message names the setting and the value)
 */
export function quorumNode(config: QuorumConfig): NodeFactory<KvMessage> {
  throw notImplemented('quorumNode');
}

function notImplemented(fn: string): Error {
  return new Error(`${fn}() is not implemented yet: open exercises/12-distributed/quorum-kv/quorum-kv.ts`);
}
