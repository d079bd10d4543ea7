/**
 * The partition simulator's model: five replicas (`n1`..`n5`) of one register, run on the course's
 * deterministic simulator (`src/testing/sim/`), with one client next to each replica (`c1` talks to
 * `n1`, and so on). Two replication modes:
 *
 * - `quorum`: a majority-quorum register (ABD, Attiya, Bar-Noy & Dolev 1995). A read or a write asks
 *   every replica for its timestamped value, waits for 3 of 5 answers, then stores the newest value
 *   (a write: its own, with a higher timestamp) on 3 of 5 before it answers. On the minority side of a
 *   partition no operation gets 3 answers, so it times out as `info`; histories stay linearizable.
 * - `async`: "write locally, replicate async". A replica answers at once from its own copy and pushes
 *   writes to its peers afterwards (and gossips its value every few ticks). Across a partition a read
 *   returns a value a finished write has replaced, and the checker says not linearizable.
 *
 * A run is a pure function of (seed, mode, actions): the reader's actions are logged with the tick
 * they happened at, and {@link replay} rebuilds the identical run from the log. No wall clock, no
 * `Math.random`: every random choice comes from the kit's seeded {@link Prng}.
 */

import { type HistoryEvent, type Operation, pairOperations } from '../../testing/sim/history';
import { type CheckOptions, check, type Verdict } from '../../testing/sim/linearizable';
import { register } from '../../testing/sim/models';
import { Prng } from '../../testing/sim/prng';
import { type NodeContext, type SimNode, Simulation } from '../../testing/sim/simulation';
import { traceHash } from '../../testing/sim/trace';

/** The replicas, in scenario order. */
export const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;
/** A replica's name. */
export type NodeId = (typeof NODES)[number];
/** The clients, `c1` next to `n1` and so on. */
export const CLIENTS = ['c1', 'c2', 'c3', 'c4', 'c5'] as const;
/** A client's name. */
export type ClientId = (typeof CLIENTS)[number];
/** How the replicas keep the register. */
export type Mode = 'quorum' | 'async';
/** The two sides a partition cuts the cluster into. */
export type Side = 'A' | 'B';
/** Which side each replica is on. */
export type Sides = Readonly<Record<NodeId, Side>>;

/** Answers a quorum operation waits for: a majority of five. */
export const QUORUM = 3;
/** Ticks a client waits for an answer before it records its operation as `info` (outcome unknown). */
export const TIMEOUT = 24;
/** An async replica gossips its value to its peers every this many ticks (anti-entropy). */
export const GOSSIP_EVERY = 8;
/** The chance that an idle client starts an operation on a tick while the workload is on. */
export const WORKLOAD_RATE = 0.25;
/** The name of the reader's partition in the trace. */
export const PARTITION = 'split';
/** The preset partition: {n1, n2} | {n3, n4, n5}. */
export const PRESET: Sides = { n1: 'A', n2: 'A', n3: 'B', n4: 'B', n5: 'B' };
/** Every replica on side A: no partition drawn. */
export const ALL_A: Sides = { n1: 'A', n2: 'A', n3: 'A', n4: 'A', n5: 'A' };

/** A register's timestamp: a counter, ties broken by the writer's name. */
export type Stamp = readonly [number, string];

/** What travels on the wire. `type` names the message in traces and diagrams. */
export type Msg =
  | { readonly type: 'read'; readonly op: number }
  | { readonly type: 'write'; readonly op: number; readonly value: number }
  | { readonly type: 'ok'; readonly op: number; readonly value?: number | null }
  | { readonly type: 'get'; readonly op: string }
  | { readonly type: 'got'; readonly op: string; readonly ts: Stamp; readonly value: number | null }
  | { readonly type: 'set'; readonly op: string; readonly ts: Stamp; readonly value: number | null }
  | { readonly type: 'set-ok'; readonly op: string }
  | { readonly type: 'repl'; readonly ts: Stamp; readonly value: number | null };

/** One line of the client history, with the tick it happened at (for the timeline). */
export interface ClientEvent {
  readonly process: ClientId;
  readonly type: 'invoke' | 'ok' | 'info';
  readonly f: 'read' | 'write';
  readonly value?: number | null;
  readonly tick: number;
}

/** A reader's action, logged with the tick (the next tick to run) it was taken at. */
export type Action =
  | { readonly at: number; readonly kind: 'partition'; readonly sides: Sides }
  | { readonly at: number; readonly kind: 'heal' }
  | { readonly at: number; readonly kind: 'crash'; readonly node: NodeId }
  | { readonly at: number; readonly kind: 'restart'; readonly node: NodeId }
  | { readonly at: number; readonly kind: 'op'; readonly node: NodeId; readonly f: 'read' | 'write' }
  | { readonly at: number; readonly kind: 'workload'; readonly on: boolean };

/** An action without its tick: what the reader asks for. */
export type Command = Action extends infer A ? (A extends Action ? Omit<A, 'at'> : never) : never;

/** Whether stamp `a` is newer than stamp `b`. */
export function newer(a: Stamp, b: Stamp): boolean {
  return a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1];
}

const ZERO: Stamp = [0, ''];

/** What a replica persists and shows. */
export interface Copy {
  readonly ts: Stamp;
  readonly value: number | null;
}

/** A replica: its copy of the register, and what it does with messages. */
export interface Replica extends SimNode<Msg> {
  readonly copy: Copy;
}

function clientOf(node: string): ClientId {
  return `c${node.slice(1)}` as ClientId;
}

/** The replica's copy, recovered after a restart; stores a newer stamp and persists it. */
class Store {
  copy: Copy;
  readonly #context: NodeContext<Msg>;
  constructor(context: NodeContext<Msg>) {
    this.#context = context;
    this.copy = context.recover<Copy>() ?? { ts: ZERO, value: null };
  }
  /** Keeps `copy` if it is newer than what the replica has. */
  offer(copy: Copy): void {
    if (!newer(copy.ts, this.copy.ts)) return;
    this.copy = copy;
    this.#context.persist(copy);
  }
}

interface QuorumOp {
  readonly client: string;
  readonly clientOp: number;
  readonly f: 'read' | 'write';
  readonly value?: number;
  phase: 'get' | 'set';
  readonly from: Set<string>;
  best: Copy;
}

/** A majority-quorum (ABD) replica: reads and writes each wait for {@link QUORUM} answers twice. */
function quorumReplica(context: NodeContext<Msg>): Replica {
  const store = new Store(context);
  const ops = new Map<string, QuorumOp>();
  let next = 0;
  const everyone = [context.id, ...context.peers.filter((peer) => peer.startsWith('n'))];

  /** An answer from `from` (the replica itself included) in `op`'s current phase. */
  function answer(key: string, from: string, phase: QuorumOp['phase'], copy?: Copy): void {
    const op = ops.get(key);
    if (!op || op.phase !== phase || op.from.has(from)) return;
    op.from.add(from);
    if (copy && newer(copy.ts, op.best.ts)) op.best = copy;
    if (op.from.size < QUORUM) return;
    if (op.phase === 'get') {
      op.phase = 'set';
      op.from.clear();
      if (op.f === 'write') op.best = { ts: [op.best.ts[0] + 1, context.id], value: op.value ?? null };
      for (const to of everyone) {
        if (to === context.id) {
          store.offer(op.best);
          answer(key, to, 'set');
        } else context.send(to, { type: 'set', op: key, ...op.best });
      }
      return;
    }
    ops.delete(key);
    context.send(op.client, {
      type: 'ok',
      op: op.clientOp,
      ...(op.f === 'read' ? { value: op.best.value } : {}),
    });
  }

  return {
    get copy() {
      return store.copy;
    },
    onMessage(from, msg) {
      switch (msg.type) {
        case 'read':
        case 'write': {
          const key = `${context.id}.${next++}`;
          ops.set(key, {
            client: from,
            clientOp: msg.op,
            f: msg.type,
            ...(msg.type === 'write' ? { value: msg.value } : {}),
            phase: 'get',
            from: new Set(),
            best: { ts: ZERO, value: null },
          });
          for (const to of everyone) {
            if (to === context.id) answer(key, to, 'get', store.copy);
            else context.send(to, { type: 'get', op: key });
          }
          return;
        }
        case 'get':
          context.send(from, { type: 'got', op: msg.op, ...store.copy });
          return;
        case 'got':
          answer(msg.op, from, 'get', { ts: msg.ts, value: msg.value });
          return;
        case 'set':
          store.offer({ ts: msg.ts, value: msg.value });
          context.send(from, { type: 'set-ok', op: msg.op });
          return;
        case 'set-ok':
          answer(msg.op, from, 'set');
          return;
        default:
          return;
      }
    },
  };
}

/** A write-locally replica: answers at once, pushes writes to its peers, gossips now and then. */
function asyncReplica(context: NodeContext<Msg>): Replica {
  const store = new Store(context);
  const peers = context.peers.filter((peer) => peer.startsWith('n'));
  const push = () => {
    for (const to of peers) context.send(to, { type: 'repl', ...store.copy });
  };
  return {
    get copy() {
      return store.copy;
    },
    onMessage(from, msg) {
      switch (msg.type) {
        case 'read':
          context.send(from, { type: 'ok', op: msg.op, value: store.copy.value });
          return;
        case 'write':
          store.offer({ ts: [store.copy.ts[0] + 1, context.id], value: msg.value });
          context.send(from, { type: 'ok', op: msg.op });
          push();
          return;
        case 'repl':
          store.offer({ ts: msg.ts, value: msg.value });
          return;
        default:
          return;
      }
    },
    onTick() {
      if (context.now() % GOSSIP_EVERY === 0 && store.copy.ts[0] > 0) push();
    },
  };
}

/** A client's operation in progress. */
export interface Pending {
  readonly op: number;
  readonly f: 'read' | 'write';
  readonly value?: number;
  readonly since: number;
}

/** A client: one operation at a time to its replica; records the history; gives up after {@link TIMEOUT}. */
export interface Client extends SimNode<Msg> {
  readonly pending: Pending | undefined;
  /** Starts an operation (a write writes `value`); returns false if one is still in progress. */
  invoke(f: 'read' | 'write', value?: number): boolean;
}

function client(context: NodeContext<Msg>, record: (event: ClientEvent) => void): Client {
  const node = `n${context.id.slice(1)}`;
  const process = context.id as ClientId;
  let pending: Pending | undefined;
  let next = 0;
  return {
    get pending() {
      return pending;
    },
    invoke(f, value) {
      if (pending) return false;
      const tick = context.now();
      pending = { op: next++, f, ...(f === 'write' ? { value } : {}), since: tick };
      record({ process, type: 'invoke', f, ...(f === 'write' ? { value } : {}), tick });
      context.send(
        node,
        f === 'write'
          ? { type: 'write', op: pending.op, value: value ?? 0 }
          : { type: 'read', op: pending.op },
      );
      return true;
    },
    onMessage(_from, msg) {
      if (msg.type !== 'ok' || !pending || msg.op !== pending.op) return;
      const { f } = pending;
      record({
        process,
        type: 'ok',
        f,
        ...(f === 'read' ? { value: msg.value ?? null } : {}),
        tick: context.now(),
      });
      pending = undefined;
    },
    onTick() {
      if (!pending || context.now() - pending.since < TIMEOUT) return;
      record({ process, type: 'info', f: pending.f, tick: context.now() });
      pending = undefined;
    },
  };
}

/** What a run starts from. */
export interface RunConfig {
  /** An integer in [0, 2^32): the wire's delays and the workload's choices derive from it. */
  readonly seed: number;
  readonly mode: Mode;
}

/**
 * One run: the simulation, the history its clients record and the reader's actions so far. Act on
 * it with {@link PartitionRun.apply} and {@link PartitionRun.step}; {@link replay} redoes a log.
 */
export class PartitionRun {
  readonly config: RunConfig;
  readonly sim: Simulation<Msg>;
  /** The client history, in the order it happened. */
  readonly history: ClientEvent[] = [];
  /** The reader's actions so far, each with its tick. */
  readonly actions: Action[] = [];
  readonly #workload: Prng;
  #workloadOn = false;
  #nextValue = 1;
  #sides: Sides | undefined;

  /** @throws {RangeError} when the seed is not an integer in [0, 2^32) */
  constructor(config: RunConfig) {
    this.config = config;
    this.#workload = new Prng(config.seed).fork('workload');
    const replica = config.mode === 'quorum' ? quorumReplica : asyncReplica;
    const nodes: Record<string, (context: NodeContext<Msg>) => SimNode<Msg>> = {};
    for (const id of NODES) nodes[id] = replica;
    for (const id of CLIENTS) nodes[id] = (context) => client(context, (event) => this.history.push(event));
    this.sim = new Simulation<Msg>(config.seed, { nodes, network: { latency: { min: 1, max: 3 } } });
  }

  /** The next tick to run. */
  get tick(): number {
    return this.sim.tick;
  }

  /** The sides of the active partition, or undefined when the network is whole. */
  get sides(): Sides | undefined {
    return this.#sides;
  }

  /** Whether idle clients start random operations on each tick. */
  get workload(): boolean {
    return this.#workloadOn;
  }

  /** Replica `id`'s copy, or undefined while it is down. */
  replica(id: NodeId): Replica | undefined {
    return this.sim.node<Replica>(id);
  }

  /** Client `id` (clients never crash). */
  client(id: ClientId): Client {
    return this.sim.node<Client>(id)!;
  }

  /**
   * Does what the reader asked, now (before the next tick), and logs it. A request that cannot be
   * done (crash a node that is down, an operation from a busy client, a one-sided partition) is
   * ignored and not logged; returns whether it was done.
   */
  apply(command: Command): boolean {
    const done = this.#do(command);
    if (done) this.actions.push({ ...command, at: this.tick } as Action);
    return done;
  }

  #do(command: Command): boolean {
    switch (command.kind) {
      case 'partition': {
        const a = NODES.filter((id) => command.sides[id] === 'A');
        const b = NODES.filter((id) => command.sides[id] === 'B');
        if (a.length === 0 || b.length === 0) return false;
        if (this.#sides) this.sim.heal(PARTITION);
        const withClients = (side: NodeId[]) => [...side, ...side.map(clientOf)];
        this.sim.partition(PARTITION, [withClients(a), withClients(b)]);
        this.#sides = { ...command.sides };
        return true;
      }
      case 'heal':
        if (!this.#sides) return false;
        this.sim.heal(PARTITION);
        this.#sides = undefined;
        return true;
      case 'crash':
        if (!this.sim.isUp(command.node)) return false;
        this.sim.crash(command.node);
        return true;
      case 'restart':
        if (this.sim.isUp(command.node)) return false;
        this.sim.restart(command.node);
        return true;
      case 'op': {
        const c = this.client(clientOf(command.node));
        if (c.pending) return false;
        return c.invoke(command.f, command.f === 'write' ? this.#nextValue++ : undefined);
      }
      case 'workload':
        if (this.#workloadOn === command.on) return false;
        this.#workloadOn = command.on;
        return true;
    }
  }

  /** Runs one tick: first the workload's new operations (if it is on), then the simulation's tick. */
  step(): void {
    if (this.#workloadOn) {
      for (const id of CLIENTS) {
        const c = this.client(id);
        if (c.pending || !this.#workload.chance(WORKLOAD_RATE)) continue;
        const f = this.#workload.chance(0.5) ? 'read' : 'write';
        c.invoke(f, f === 'write' ? this.#nextValue++ : undefined);
      }
    }
    this.sim.step();
  }

  /** Runs `ticks` ticks. */
  run(ticks: number): this {
    for (let i = 0; i < ticks; i++) this.step();
    return this;
  }

  /** The trace's hash: equal for equal runs. */
  hash(): string {
    return traceHash(this.sim.trace);
  }
}

/**
 * Rebuilds a run from its config and action log, up to tick `until` (default: the last action's
 * tick): the same inputs give the same trace, record for record.
 */
export function replay(config: RunConfig, actions: readonly Action[], until?: number): PartitionRun {
  const run = new PartitionRun(config);
  for (const action of actions) {
    while (run.tick < action.at) run.step();
    const { at: _at, ...command } = action;
    run.apply(command as Command);
  }
  const end = until ?? run.tick;
  while (run.tick < end) run.step();
  return run;
}

/** The history as Jepsen events (what `check-history` reads), one per line of a JSONL file. */
export function historyEvents(history: readonly ClientEvent[]): HistoryEvent[] {
  return history.map(({ tick: _tick, ...event }, index) => ({ ...event, line: index + 1 }));
}

/** The history paired into operations, with each operation's invoke and completion ticks. */
export interface Timed {
  readonly operations: Operation[];
  /** The tick each operation was invoked at, by operation id. */
  readonly start: number[];
  /** The tick each completed at (undefined while in flight or for `info`). */
  readonly end: (number | undefined)[];
}

/** Pairs the history into operations, keeping the ticks for the timeline. */
export function timedOperations(history: readonly ClientEvent[]): Timed {
  const operations = pairOperations(historyEvents(history));
  const start = operations.map((op) => history[op.call]!.tick);
  const end = operations.map((op) =>
    op.ret === Number.POSITIVE_INFINITY ? undefined : history[op.ret]!.tick,
  );
  return { operations, start, end };
}

/**
 * Checks the history against the `register` model (`linearizable.ts`). Operations still in progress
 * count as `info`. Pass a time limit with a clock (`performance.now`) to get `unknown` on a long search.
 */
export function verdict(history: readonly ClientEvent[], options: CheckOptions = {}): Verdict {
  return check(pairOperations(historyEvents(history)), register, options);
}

/** The ids (in {@link timedOperations}' numbering) of a verdict's witness, for highlighting. */
export function witnessIds(result: Verdict): Set<number> {
  return new Set(result.verdict === 'not linearizable' ? result.witness.map((op) => op.id) : []);
}
