/**
 * A deterministic, tick-driven simulation of a small cluster: nodes are plain objects with message and
 * tick handlers, a seeded {@link Network} carries their messages, and a scenario schedules faults
 * (partitions, heals, crashes, restarts) and client operations at given ticks. A run is a pure
 * function of (seed, scenario): the same seed gives the same trace, record for record.
 *
 * One tick, in order: the faults due at it, then the client operations due at it, then the messages
 * due at it (in the order the network drew), then every live node's `onTick`, in scenario order.
 */

import { Network, type NetworkOptions } from './network.js';
import { Prng } from './prng.js';
import type { TraceRecord } from './trace.js';

/** A node's handlers. The simulation calls them; a node never runs on its own. */
export interface SimNode<M> {
  /** A message from another node or a client. Reply with the context's `send`. */
  onMessage(from: string, msg: M): void;
  /** Called once per tick while the node is up, after that tick's messages: timers live here. */
  onTick?(): void;
}

/**
 * Which run a node belongs to. `id` is unique per {@link Simulation} in this process (1, 2, 3, ... in
 * the order simulations are built), `seed` is the run's seed. Every node of one run gets the same
 * object. Nothing in a run depends on it: it is for wrappers that watch nodes across runs of one
 * scenario (`exploreSeeds` builds the same scenario's nodes again for each seed and while shrinking).
 */
export interface SimulationRun {
  readonly id: number;
  readonly seed: number;
}

/** What a node is given: its name, its peers, the wire, its clock, its dice and its disk. */
export interface NodeContext<M> {
  /** This node's name. */
  readonly id: string;
  /** The other nodes' names, in scenario order. */
  readonly peers: readonly string[];
  /**
   * The simulation that built this node (see {@link SimulationRun}). For test-side wrappers: a node's
   * behaviour must not depend on it, and a learner's own `NodeContext` type need not declare it.
   */
  readonly run: SimulationRun;
  /** Hands `msg` to the network for `to` (a node or a client). A message is a plain JSON value. */
  send(to: string, msg: M): void;
  /** This node's clock: the tick as it reads it, with its skew (see {@link ClockSkew}). */
  now(): number;
  /** A stream of this node's own (for randomised timeouts); a restarted node gets a fresh stream. */
  readonly random: Prng;
  /** Stores `state` (a deep copy) so that it survives a crash; replaces what was stored before. */
  persist(state: unknown): void;
  /** A deep copy of what this node last persisted, or `undefined` if it never did. */
  recover<S>(): S | undefined;
}

/** Builds a node; called at the start and again at each restart, with a new context. */
export type NodeFactory<M> = (context: NodeContext<M>) => SimNode<M>;

/**
 * How a node's clock reads tick `t`: `Math.floor(offset + rate * t)`. Default offset 0, rate 1; an
 * offset of 5 runs 5 ticks ahead, a rate of 1.01 drifts 1% fast.
 */
export interface ClockSkew {
  readonly offset?: number;
  readonly rate?: number;
}

/** A fault at tick `at`. */
export type FaultEvent =
  | {
      readonly at: number;
      readonly kind: 'partition';
      readonly name: string;
      readonly groups: readonly (readonly string[])[];
    }
  | { readonly at: number; readonly kind: 'heal'; readonly name: string }
  | { readonly at: number; readonly kind: 'crash'; readonly node: string }
  | { readonly at: number; readonly kind: 'restart'; readonly node: string };

/**
 * A client operation: at tick `at`, client `client` sends `msg` to node `node` over the network (so
 * faults apply). The node's replies to `client` are delivered like any message and kept in
 * {@link Simulation.replies}.
 */
export interface ClientOperation<M> {
  readonly at: number;
  readonly client: string;
  readonly node: string;
  readonly msg: M;
}

/** A run's inputs besides the seed. */
export interface Scenario<M> {
  /** The nodes by name, each with its factory; their order is the order of `onTick` calls. */
  readonly nodes: Readonly<Record<string, NodeFactory<M>>>;
  readonly network?: NetworkOptions;
  /** Skewed clocks by node name; a node not named reads the tick itself. */
  readonly clocks?: Readonly<Record<string, ClockSkew>>;
  readonly faults?: readonly FaultEvent[];
  readonly operations?: readonly ClientOperation<M>[];
}

/** A message a node sent to a client, as the client received it. */
export interface Reply<M> {
  readonly tick: number;
  readonly client: string;
  readonly from: string;
  readonly msg: M;
}

interface NodeSlot<M> {
  readonly factory: NodeFactory<M>;
  readonly clock: Required<ClockSkew>;
  /** The live node, or undefined while crashed. */
  node: SimNode<M> | undefined;
  /** Bumped at each crash: a context of an earlier incarnation can no longer send or persist. */
  incarnation: number;
  /** What the node persisted, as a deep copy; survives crashes. */
  stored: unknown;
}

/** Groups `items` by their `at`, keeping their order within a tick. */
function byTick<T extends { readonly at: number }>(items: readonly T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    if (!(Number.isInteger(item.at) && item.at >= 0)) {
      throw new RangeError(`scenario events need an integer tick at >= 0, got at: ${item.at}`);
    }
    const group = groups.get(item.at);
    if (group) group.push(item);
    else groups.set(item.at, [item]);
  }
  return groups;
}

/** How many simulations this process has built: the last {@link SimulationRun.id} handed out. */
let simulationsBuilt = 0;

/**
 * One run of a scenario. Drive it with {@link Simulation.step} or {@link Simulation.run}; the fault
 * methods (`partition`, `heal`, `crash`, `restart`) act at once, between ticks, for tests and for an
 * interactive picture.
 */
export class Simulation<M> {
  /** Every event so far, in order (see {@link TraceRecord}); hash it with `traceHash`. */
  readonly trace: TraceRecord[] = [];
  /** What the nodes sent to clients, in order of arrival. */
  readonly replies: Reply<M>[] = [];
  /** The seeded wire; read `inFlight()` and `connected()` from it. */
  readonly network: Network;
  /** This run's id and seed, the object every node's `ctx.run` holds. */
  readonly runInfo: SimulationRun;
  readonly #prng: Prng;
  readonly #slots = new Map<string, NodeSlot<M>>();
  readonly #clients = new Set<string>();
  readonly #faults: Map<number, FaultEvent[]>;
  readonly #operations: Map<number, ClientOperation<M>[]>;
  #tick = 0;

  /**
   * Builds every node (tick 0, nothing sent yet).
   * @param seed an integer in [0, 2^32): every random decision of the run derives from it
   * @throws {RangeError} on a bad seed, rate, latency or event tick
   * @throws {Error} when an operation, a clock, a crash or a restart names an unknown node, or a client
   *   has a node's name
   */
  constructor(seed: number, scenario: Scenario<M>) {
    this.#prng = new Prng(seed);
    simulationsBuilt++;
    this.runInfo = Object.freeze({ id: simulationsBuilt, seed });
    this.network = new Network(this.#prng.fork('network'), scenario.network ?? {}, (record) => {
      this.trace.push(record);
    });
    for (const [id, factory] of Object.entries(scenario.nodes)) {
      const { offset = 0, rate = 1 } = scenario.clocks?.[id] ?? {};
      this.#slots.set(id, {
        factory,
        clock: { offset, rate },
        node: undefined,
        incarnation: 0,
        stored: undefined,
      });
    }
    for (const id of Object.keys(scenario.clocks ?? {})) this.#slot(id);
    for (const { client, node } of scenario.operations ?? []) {
      this.#slot(node);
      if (this.#slots.has(client)) throw new Error(`client "${client}" has the name of a node`);
      this.#clients.add(client);
    }
    for (const fault of scenario.faults ?? []) {
      if (fault.kind === 'crash' || fault.kind === 'restart') this.#slot(fault.node);
    }
    this.#faults = byTick(scenario.faults ?? []);
    this.#operations = byTick(scenario.operations ?? []);
    for (const id of this.#slots.keys()) this.#start(id);
  }

  /** The next tick to run (the number of ticks run so far). */
  get tick(): number {
    return this.#tick;
  }

  /** The node names, in scenario order. */
  get nodeIds(): string[] {
    return [...this.#slots.keys()];
  }

  /** The live node `id` (to inspect its state in a test), or undefined while it is crashed. */
  node<N extends SimNode<M> = SimNode<M>>(id: string): N | undefined {
    return this.#slot(id).node as N | undefined;
  }

  /** Whether node `id` is up. */
  isUp(id: string): boolean {
    return this.#slot(id).node !== undefined;
  }

  /** Runs one tick: its faults, its client operations, its messages, then every live node's `onTick`. */
  step(): void {
    const tick = this.#tick;
    for (const fault of this.#faults.get(tick) ?? []) this.#apply(fault);
    for (const { client, node, msg } of this.#operations.get(tick) ?? []) {
      this.network.send(tick, client, node, msg);
    }
    this.network.deliverDue(
      tick,
      (to) => this.#clients.has(to) || this.isUp(to),
      ({ from, to, msg }) => {
        const node = this.#slots.get(to)?.node;
        if (node) node.onMessage(from, msg as M);
        else this.replies.push({ tick, client: to, from, msg: msg as M });
      },
    );
    for (const slot of this.#slots.values()) slot.node?.onTick?.();
    this.#tick = tick + 1;
  }

  /** Runs `ticks` ticks; returns this simulation, to chain. */
  run(ticks: number): this {
    for (let i = 0; i < ticks; i++) this.step();
    return this;
  }

  /**
   * Runs until no message is in flight or `maxTicks` more ticks have run; returns whether the wire went
   * quiet. Nodes that send on every tick (heartbeats) never let it: flush those with their timers off.
   */
  settle(maxTicks: number): boolean {
    for (let i = 0; i < maxTicks && this.network.inFlight().length > 0; i++) this.step();
    return this.network.inFlight().length === 0;
  }

  /** Starts partition `name` now (see {@link Network.partition}). */
  partition(name: string, groups: readonly (readonly string[])[]): void {
    this.network.partition(this.#tick, name, groups);
  }

  /** Heals partition `name` now. */
  heal(name: string): void {
    this.network.heal(this.#tick, name);
  }

  /**
   * Crashes node `id` now: its memory is gone, the messages in flight to it are lost, and messages
   * that reach it while it is down are dropped. What it persisted survives.
   * @throws {Error} when the node is already down
   */
  crash(id: string): void {
    const slot = this.#slot(id);
    if (!slot.node) throw new Error(`node "${id}" is already down`);
    slot.node = undefined;
    slot.incarnation++;
    const lost = this.network.inFlight().filter((envelope) => envelope.to === id).length;
    this.trace.push({ kind: 'crash', tick: this.#tick, node: id, lost });
    this.network.loseInFlightTo(this.#tick, id);
  }

  /**
   * Restarts node `id` now: its factory runs again with a new context, whose `recover()` gives what
   * the node persisted before it crashed.
   * @throws {Error} when the node is up
   */
  restart(id: string): void {
    const slot = this.#slot(id);
    if (slot.node) throw new Error(`node "${id}" is up; crash it before restarting it`);
    this.trace.push({ kind: 'restart', tick: this.#tick, node: id });
    this.#start(id);
  }

  #apply(fault: FaultEvent): void {
    switch (fault.kind) {
      case 'partition':
        this.partition(fault.name, fault.groups);
        break;
      case 'heal':
        this.heal(fault.name);
        break;
      case 'crash':
        this.crash(fault.node);
        break;
      case 'restart':
        this.restart(fault.node);
        break;
    }
  }

  #start(id: string): void {
    const slot = this.#slot(id);
    const incarnation = slot.incarnation;
    const peers = this.nodeIds.filter((other) => other !== id);
    const context: NodeContext<M> = {
      id,
      peers,
      run: this.runInfo,
      send: (to, msg) => {
        if (slot.incarnation !== incarnation) return;
        if (!this.#slots.has(to) && !this.#clients.has(to)) {
          throw new Error(`node "${id}" sent to "${to}", which is neither a node nor a client`);
        }
        this.network.send(this.#tick, id, to, msg);
      },
      now: () => Math.floor(slot.clock.offset + slot.clock.rate * this.#tick),
      random: this.#prng.fork(`node:${id}#${incarnation}`),
      persist: (state) => {
        if (slot.incarnation === incarnation) slot.stored = structuredClone(state);
      },
      recover: <S>() => structuredClone(slot.stored) as S | undefined,
    };
    slot.node = slot.factory(context);
  }

  #slot(id: string): NodeSlot<M> {
    const slot = this.#slots.get(id);
    if (!slot) throw new Error(`no node named "${id}" (nodes: ${this.nodeIds.join(', ')})`);
    return slot;
  }
}

/** Runs `scenario` for `ticks` ticks from `seed` and returns the simulation (its trace, its nodes). */
export function simulate<M>(seed: number, scenario: Scenario<M>, ticks: number): Simulation<M> {
  return new Simulation(seed, scenario).run(ticks);
}
