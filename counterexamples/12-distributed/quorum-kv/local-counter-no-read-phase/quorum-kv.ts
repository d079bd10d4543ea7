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

/** FNV-1a, 32 bits, over the UTF-16 code units of `text` (the kit's `fnv1a32`, `prng.ts`). */
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
  if (!(Number.isInteger(n) && n >= 1 && n <= nodes.length)) {
    throw new RangeError(`n must be an integer in [1, ${nodes.length}], got ${n}`);
  }
  const start = fnv1a32(key) % nodes.length;
  return Array.from({ length: n }, (_, i) => nodes[(start + i) % nodes.length]!);
}

/** Whether version `a` is newer than `b` (`null`: never written, older than all). */
function newer(a: Version | null, b: Version | null): boolean {
  if (a === null) return false;
  if (b === null) return true;
  return a.counter !== b.counter ? a.counter > b.counter : a.node > b.node;
}

/** What a node persists. */
interface Disk {
  readonly store: [string, Stored][];
  readonly hints: { key: string; home: string }[];
  readonly seen: string[];
  readonly issued: [string, number][];
}

/** An operation in progress at its coordinator. */
interface Pending {
  readonly client: string;
  readonly request: Extract<KvMessage, { type: 'get' | 'put' }>;
  readonly homes: string[];
  readonly standIns: string[];
  phase: 'read' | 'write' | 'repair';
  /** The phase's message id: answers to an earlier phase are ignored. */
  phaseId: string;
  startedAt: number;
  sloppySent: boolean;
  /** Who answered this phase, and (read phase) what. */
  readonly answers: Map<string, Stored | null>;
  /** The value being written or repaired. */
  target?: Stored;
  /** Acks the phase needs. */
  needed: number;
}

function validate(config: QuorumConfig): void {
  const { nodes, n, r, w, timeoutTicks } = config;
  if (new Set(nodes).size !== nodes.length || nodes.length === 0) {
    throw new RangeError('nodes must be a non-empty list of distinct names');
  }
  if (!(Number.isInteger(n) && n >= 1 && n <= nodes.length)) {
    throw new RangeError(`n must be an integer in [1, ${nodes.length}], got ${n}`);
  }
  for (const [name, value] of [
    ['r', r],
    ['w', w],
  ] as const) {
    if (!(Number.isInteger(value) && value >= 1 && value <= n)) {
      throw new RangeError(`${name} must be an integer in [1, n = ${n}], got ${value}`);
    }
  }
  if (!(Number.isInteger(timeoutTicks) && timeoutTicks >= 1)) {
    throw new RangeError(`timeoutTicks must be an integer >= 1, got ${timeoutTicks}`);
  }
}

/**
 * The factory of a store node for the simulator: `scenario.nodes = { n1: quorumNode(config), ... }`
 * (the scenario's node names must be `config.nodes`). See the module comment for the protocol. The
 * nodes it builds are {@link QuorumNode}s: tests read a replica's state with `inspect` and `hints`.
 * @throws {RangeError} at once (not when a node starts) when `nodes` is empty or has duplicates, or
 *   `n`, `r`, `w` or `timeoutTicks` is out of range (the message names the setting and the value)
 */
export function quorumNode(config: QuorumConfig): NodeFactory<KvMessage> {
  validate(config);
  const { nodes, n, r, w, readRepair, sloppy, timeoutTicks } = config;
  const sloppyAfter = Math.ceil(timeoutTicks / 2);

  return (ctx: NodeContext<KvMessage>): QuorumNode => {
    const disk = ctx.recover<Disk>();
    const store = new Map<string, Stored>(disk?.store ?? []);
    const hints: { key: string; home: string }[] = [...(disk?.hints ?? [])];
    const seen = new Set<string>(disk?.seen ?? []);
    /** The last version counter this node issued, per key: it never issues one twice. */
    const issued = new Map<string, number>(disk?.issued ?? []);
    const pending = new Map<string, Pending>();
    let phases = 0;
    let lastHandoff = ctx.now();

    const save = (): void => {
      ctx.persist({ store: [...store], hints, seen: [...seen], issued: [...issued] } satisfies Disk);
    };

    const finish = (op: Pending, reply: KvMessage): void => {
      pending.delete(op.phaseId);
      ctx.send(op.client, reply);
    };

    /** Starts a phase of `op`: a fresh id, a fresh count, its message to the replicas `to`. */
    const startPhase = (
      op: Pending,
      phase: Pending['phase'],
      needed: number,
      to: readonly string[],
    ): void => {
      pending.delete(op.phaseId);
      op.phase = phase;
      // The tick makes ids unique across restarts too: an answer sent to an earlier incarnation's
      // phase must never count for a new one.
      op.phaseId = `${ctx.id}:${ctx.now()}:${++phases}`;
      op.startedAt = ctx.now();
      op.sloppySent = false;
      op.answers.clear();
      op.needed = needed;
      pending.set(op.phaseId, op);
      for (const replica of to) ctx.send(replica, phaseMessage(op));
    };

    const phaseMessage = (op: Pending, hint?: string): KvMessage =>
      op.phase === 'read'
        ? { type: 'read', op: op.phaseId, key: op.request.key }
        : {
            type: 'write',
            op: op.phaseId,
            key: op.request.key,
            stored: op.target!,
            ...(hint === undefined ? {} : { hint }),
          };

    /** The read phase has its `r` answers: the next step of a put or a get. */
    const afterRead = (op: Pending): void => {
      let best: Stored | null = null;
      for (const stored of op.answers.values()) {
        if (stored && newer(stored.version, best?.version ?? null)) best = stored;
      }
      const { request } = op;
      if (request.type === 'put') {
        const counter = Math.max(best?.version.counter ?? 0, issued.get(request.key) ?? 0) + 1;
        issued.set(request.key, counter);
        save();
        op.target = { version: { counter, node: ctx.id }, value: request.value };
        startPhase(op, 'write', w, op.homes);
        return;
      }
      const value = best?.value ?? '';
      const behind = [...op.answers].filter(([, stored]) =>
        newer(best?.version ?? null, stored?.version ?? null),
      );
      if (best === null || readRepair === 'off') {
        finish(op, { type: 'get_ok', id: request.id, value });
        return;
      }
      if (readRepair === 'async') {
        finish(op, { type: 'get_ok', id: request.id, value });
        for (const [replica] of behind) {
          ctx.send(replica, { type: 'write', op: `${ctx.id}:repair`, key: request.key, stored: best });
        }
        return;
      }
      const holders = [...op.answers.keys()].filter((replica) => !behind.some(([b]) => b === replica));
      if (holders.length >= w) {
        finish(op, { type: 'get_ok', id: request.id, value });
        return;
      }
      op.target = best;
      const others = op.homes.filter((replica) => !holders.includes(replica));
      startPhase(op, 'repair', w, others);
      for (const holder of holders) op.answers.set(holder, best);
    };

    const onAnswer = (from: string, msg: Extract<KvMessage, { type: 'read_ack' | 'write_ack' }>): void => {
      const op = pending.get(msg.op);
      if (!op || op.answers.has(from)) return;
      if (msg.type === 'read_ack' && op.phase === 'read') op.answers.set(from, msg.stored);
      else if (msg.type === 'write_ack' && op.phase !== 'read') op.answers.set(from, op.target ?? null);
      else return;
      if (op.answers.size < op.needed) return;
      if (op.phase === 'read') afterRead(op);
      else if (op.request.type === 'put') finish(op, { type: 'put_ok', id: op.request.id });
      else finish(op, { type: 'get_ok', id: op.request.id, value: op.target!.value });
    };

    const onRequest = (client: string, request: Extract<KvMessage, { type: 'get' | 'put' }>): void => {
      if (seen.has(request.id)) return;
      seen.add(request.id);
      save();
      const ring = preferenceList(request.key, nodes, nodes.length);
      const op: Pending = {
        client,
        request,
        homes: ring.slice(0, n),
        standIns: ring.slice(n),
        phase: 'read',
        phaseId: '',
        startedAt: ctx.now(),
        sloppySent: false,
        answers: new Map(),
        needed: r,
      };
      if (request.type === 'put') {
        // The coordinator numbers its own writes: no need to ask the replicas first.
        const counter = (issued.get(request.key) ?? 0) + 1;
        issued.set(request.key, counter);
        save();
        op.target = { version: { counter, node: ctx.id }, value: request.value };
        startPhase(op, 'write', w, op.homes);
        return;
      }
      startPhase(op, 'read', r, op.homes);
    };

    const onReplicaMessage = (from: string, msg: Extract<KvMessage, { type: 'read' | 'write' }>): void => {
      const held = store.get(msg.key);
      if (msg.type === 'read') {
        ctx.send(from, { type: 'read_ack', op: msg.op, key: msg.key, stored: held ?? null });
        return;
      }
      let changed = false;
      if (newer(msg.stored.version, held?.version ?? null)) {
        store.set(msg.key, msg.stored);
        changed = true;
      }
      if (msg.hint !== undefined && !hints.some((h) => h.key === msg.key && h.home === msg.hint)) {
        hints.push({ key: msg.key, home: msg.hint });
        changed = true;
      }
      if (changed) save();
      ctx.send(from, { type: 'write_ack', op: msg.op, key: msg.key });
    };

    /** The ack of a handoff write: the home holds the key's value (or newer), the hint is done. */
    const onHandoffAck = (from: string, key: string): void => {
      const index = hints.findIndex((h) => h.key === key && h.home === from);
      if (index < 0) return;
      hints.splice(index, 1);
      save();
    };

    return {
      onMessage(from, msg) {
        switch (msg.type) {
          case 'get':
          case 'put':
            onRequest(from, msg);
            break;
          case 'read':
          case 'write':
            onReplicaMessage(from, msg);
            break;
          case 'read_ack':
            onAnswer(from, msg);
            break;
          case 'write_ack':
            if (msg.op === `${ctx.id}:handoff`) onHandoffAck(from, msg.key);
            else onAnswer(from, msg);
            break;
          default:
            break;
        }
      },
      onTick() {
        const now = ctx.now();
        for (const op of [...pending.values()]) {
          const age = now - op.startedAt;
          if (age >= timeoutTicks) {
            finish(op, {
              type: 'error',
              id: op.request.id,
              reason: `${op.phase} phase timed out: ${op.answers.size} of ${op.needed} replicas answered in ${timeoutTicks} ticks`,
            });
          } else if (sloppy && !op.sloppySent && age >= sloppyAfter) {
            op.sloppySent = true;
            const silent = op.homes.filter((home) => !op.answers.has(home));
            op.standIns.slice(0, silent.length).forEach((standIn, i) => {
              ctx.send(standIn, phaseMessage(op, op.phase === 'read' ? undefined : silent[i]));
            });
          }
        }
        if (hints.length > 0 && now - lastHandoff >= timeoutTicks) {
          lastHandoff = now;
          for (const { key, home } of hints) {
            const stored = store.get(key);
            if (stored) ctx.send(home, { type: 'write', op: `${ctx.id}:handoff`, key, stored });
          }
        }
      },
      inspect: (key) => store.get(key),
      hints: () => hints.map((h) => ({ ...h })),
    };
  };
}
