/**
 * The four CRDTs on the course's simulator (`src/testing/sim`), the way Yjs tests its documents with
 * its `TestConnector`: three replicas, each holding a G-Counter, a PN-Counter, an LWW-Register and an
 * OR-Set, apply local operations that the seed schedules, and every few ticks each sends its whole
 * state to a random peer; a replica that receives a state merges it into its own. The network drops
 * and duplicates a quarter of the messages, delays each by 1 to 10 ticks (so they arrive out of
 * order) and is cut by partitions that heal. After a final flush (every partition healed, gossip
 * until the replicas agree), checked over 500 seeds:
 *
 * - the replicas hold equal states (canonical JSON);
 * - that state equals the merge of every state any replica produced by a local update (nothing lost,
 *   nothing invented: Yjs's `compare()` rebuilds a document from all updates the same way);
 * - the counters read exactly the sum of the operations applied (Maelstrom's counter rule, with
 *   nothing indeterminate), the register holds the write with the greatest stamp, and the set holds
 *   exactly the elements with an add that no remove observed (add-wins), all computed by the suite
 *   from the operations, without the code under test.
 *
 * A failing seed is shrunk and printed with a sequence diagram of its last moments and the command
 * that replays it (`SIM_SEED=… SIM_TICKS=… npx vitest run …`).
 */
import { describe, expect, it } from 'vitest';
import { checkConvergence, finalFlush, replicaStates } from '../../../src/testing/sim/convergence.js';
import { exploreInVitest } from '../../../src/testing/sim/explore-report.js';
import { Prng } from '../../../src/testing/sim/prng.js';
import {
  type FaultEvent,
  type NodeContext,
  type Scenario,
  type SimNode,
  Simulation,
} from '../../../src/testing/sim/simulation.js';
import { canonicalJson, traceHash } from '../../../src/testing/sim/trace.js';
import {
  type GCounterState,
  gcounter,
  type LWWState,
  lww,
  type ORSetState,
  orset,
  type PNCounterState,
  pncounter,
} from './crdts.js';

const SEEDS = 500;
const REPLICAS = ['n1', 'n2', 'n3'] as const;
/** Local operations are scheduled in ticks [0, OPERATIONS_END). */
const OPERATIONS_END = 150;
/** The run before the final flush. */
const TICKS = 180;
/** A replica gossips its state every GOSSIP_EVERY ticks. */
const GOSSIP_EVERY = 4;
const FLUSH_TICKS = 400;
const ELEMENTS = ['ant', 'bee', 'cat', 'dog', 'eel'];

/** What each replica holds: one of each type. */
interface Replicated {
  readonly g: GCounterState;
  readonly pn: PNCounterState;
  readonly reg: LWWState<string>;
  readonly set: ORSetState<string>;
}

type Operation =
  | { readonly type: 'increment'; readonly by: number }
  | { readonly type: 'add'; readonly delta: number }
  | { readonly type: 'write'; readonly value: string }
  | { readonly type: 'insert'; readonly element: string }
  | { readonly type: 'delete'; readonly element: string };

/**
 * A replica's whole state, and beside it, for the checks only, the suite's own record of the OR-Set
 * adds that state has seen (by operation id, `<replica>@<tick>`, with the element): it travels and
 * merges with the state, so a remove observes exactly the adds in it.
 */
type Msg = {
  readonly type: 'state';
  readonly state: Replicated;
  readonly seen: Readonly<Record<string, string>>;
};

/** Every type at its start. */
function zero(): Replicated {
  return { g: gcounter.zero(), pn: pncounter.zero(), reg: lww.zero(), set: orset.zero() };
}

function mergeAll(a: Replicated, b: Replicated): Replicated {
  return {
    g: gcounter.merge(a.g, b.g),
    pn: pncounter.merge(a.pn, b.pn),
    reg: lww.merge(a.reg, b.reg),
    set: orset.merge(a.set, b.set),
  };
}

/** Applies `op` as `replica` at `timestamp` (the replica's clock: one operation a tick at most). */
function apply(state: Replicated, replica: string, op: Operation, timestamp: number): Replicated {
  switch (op.type) {
    case 'increment':
      return { ...state, g: gcounter.increment(state.g, replica, op.by) };
    case 'add':
      return {
        ...state,
        pn:
          op.delta > 0
            ? pncounter.increment(state.pn, replica, op.delta)
            : pncounter.decrement(state.pn, replica, -op.delta),
      };
    case 'write':
      return { ...state, reg: lww.set(state.reg, replica, op.value, timestamp) };
    case 'insert':
      return { ...state, set: orset.add(state.set, replica, op.element) };
    case 'delete':
      return { ...state, set: orset.remove(state.set, op.element) };
  }
}

/** An operation applied, with the replica's clock when it was. */
interface Applied {
  readonly op: Operation;
  readonly replica: string;
  readonly timestamp: number;
  /** For a delete: the ids of the adds of its element the replica had seen (what the remove observed). */
  readonly observed?: readonly string[];
}

/**
 * A gossiping replica: at each tick it applies the operation the plan schedules for that tick, if
 * any, and every {@link GOSSIP_EVERY} ticks sends its whole state to a random peer; on receiving a
 * state it merges. It keeps every state a local operation produced (`updates`) and what it applied.
 */
class GossipReplica implements SimNode<Msg> {
  state: Replicated = zero();
  /** The OR-Set adds this replica has seen, by operation id (see {@link Msg}). */
  seen: Readonly<Record<string, string>> = {};
  readonly updates: Replicated[] = [];
  readonly applied: Applied[] = [];
  readonly #context: NodeContext<Msg>;
  readonly #plan: ReadonlyMap<number, Operation>;
  readonly #phase: number;

  constructor(context: NodeContext<Msg>, plan: ReadonlyMap<number, Operation>, phase: number) {
    this.#context = context;
    this.#plan = plan;
    this.#phase = phase;
  }

  onMessage(_from: string, msg: Msg): void {
    this.state = mergeAll(this.state, msg.state);
    this.seen = { ...this.seen, ...msg.seen };
  }

  onTick(): void {
    const now = this.#context.now();
    const op = this.#plan.get(now);
    if (op) {
      const { id } = this.#context;
      this.state = apply(this.state, id, op, now);
      this.updates.push(this.state);
      if (op.type === 'insert') this.seen = { ...this.seen, [`${id}@${now}`]: op.element };
      const observed =
        op.type === 'delete'
          ? Object.entries(this.seen)
              .filter(([, element]) => element === op.element)
              .map(([addId]) => addId)
          : undefined;
      this.applied.push({ op, replica: id, timestamp: now, observed });
    }
    if (now % GOSSIP_EVERY === this.#phase) {
      const peer = this.#context.random.pick(this.#context.peers);
      this.#context.send(peer, { type: 'state', state: this.state, seen: this.seen });
    }
  }
}

/** Seed `seed`'s operation for one replica and tick, or none (about one tick in five). */
function drawOperation(prng: Prng): Operation | undefined {
  if (!prng.chance(0.2)) return undefined;
  switch (prng.int(0, 4)) {
    case 0:
      return { type: 'increment', by: prng.int(1, 3) };
    case 1:
      return { type: 'add', delta: prng.pick([-3, -2, -1, 1, 2, 3]) };
    case 2:
      return { type: 'write', value: `v${prng.int(0, 99)}` };
    case 3:
      return { type: 'insert', element: prng.pick(ELEMENTS) };
    default:
      return { type: 'delete', element: prng.pick(ELEMENTS) };
  }
}

/** Seed `seed`'s scenario: the plans, the lossy network, one or two partitions that heal. */
function buildRun(seed: number): { scenario: Scenario<Msg>; ticks: number } {
  const prng = new Prng(seed).fork('crdts');
  const plans = REPLICAS.map(() => new Map<number, Operation>());
  for (let tick = 0; tick < OPERATIONS_END; tick++) {
    for (const plan of plans) {
      const op = drawOperation(prng);
      if (op) plan.set(tick, op);
    }
  }
  const faults: FaultEvent[] = [];
  let start = prng.int(5, 40);
  for (let i = 0; i < prng.int(1, 2); i++) {
    const isolated = prng.pick(REPLICAS);
    const name = `cut${i + 1}`;
    faults.push({
      at: start,
      kind: 'partition',
      name,
      groups: [[isolated], REPLICAS.filter((id) => id !== isolated)],
    });
    const end = start + prng.int(20, 60);
    faults.push({ at: end, kind: 'heal', name });
    start = end + prng.int(1, 20);
  }
  const nodes = Object.fromEntries(
    REPLICAS.map((id, i) => [
      id,
      (context: NodeContext<Msg>) => new GossipReplica(context, plans[i] as Map<number, Operation>, i),
    ]),
  );
  return {
    scenario: {
      nodes,
      network: { latency: { min: 1, max: 10 }, dropRate: 0.25, duplicateRate: 0.25 },
      faults,
    },
    ticks: TICKS,
  };
}

const replicas = (sim: Simulation<Msg>) => REPLICAS.map((id) => sim.node<GossipReplica>(id) as GossipReplica);
const states = (sim: Simulation<Msg>) => replicaStates(sim, (node) => (node as GossipReplica).state);

/** The write with the greatest stamp (timestamp, then replica id in string order), computed here. */
function lastWrite(applied: readonly Applied[]): string | undefined {
  let best: Applied | undefined;
  for (const entry of applied) {
    if (entry.op.type !== 'write') continue;
    const wins =
      best === undefined ||
      entry.timestamp > best.timestamp ||
      (entry.timestamp === best.timestamp && entry.replica > best.replica);
    if (wins) best = entry;
  }
  return best?.op.type === 'write' ? best.op.value : undefined;
}

/**
 * Add-wins, computed here from the operations alone: an element is in the set when one of its adds
 * was observed by no remove (a remove observes the adds its replica had seen).
 */
function addWins(applied: readonly Applied[]): string[] {
  const observed = new Set(applied.flatMap((entry) => entry.observed ?? []));
  const present = new Set<string>();
  for (const { op, replica, timestamp } of applied) {
    if (op.type === 'insert' && !observed.has(`${replica}@${timestamp}`)) present.add(op.element);
  }
  return [...present].sort();
}

/** What is wrong with a finished run once flushed, or undefined. */
function convergenceProblem(sim: Simulation<Msg>): string | undefined {
  const flush = finalFlush(sim, {
    maxTicks: FLUSH_TICKS,
    until: (run) => checkConvergence(states(run)).converged,
  });
  const convergence = checkConvergence(states(sim));
  if (!convergence.converged) {
    return `after a final flush of ${FLUSH_TICKS} ticks the replicas still differ:\n${convergence.diff}`;
  }
  const nodes = replicas(sim);
  const state = (nodes[0] as GossipReplica).state;
  const everyUpdate = nodes.flatMap((node) => node.updates).reduce(mergeAll, zero());
  if (canonicalJson(everyUpdate) !== canonicalJson(state)) {
    return [
      'the replicas agree, but not on the merge of every update they made:',
      `  replicas: ${canonicalJson(state)}`,
      `  merge of all updates: ${canonicalJson(everyUpdate)}`,
    ].join('\n');
  }
  const applied = nodes.flatMap((node) => node.applied);
  const increments = applied.reduce((sum, { op }) => sum + (op.type === 'increment' ? op.by : 0), 0);
  if (gcounter.value(state.g) !== increments) {
    return `the G-Counter reads ${gcounter.value(state.g)}, but the increments applied add up to ${increments}`;
  }
  const net = applied.reduce((sum, { op }) => sum + (op.type === 'add' ? op.delta : 0), 0);
  if (pncounter.value(state.pn) !== net) {
    return `the PN-Counter reads ${pncounter.value(state.pn)}, but the operations applied add up to ${net}`;
  }
  const last = lastWrite(applied);
  if (lww.value(state.reg) !== last) {
    return `the register holds ${JSON.stringify(lww.value(state.reg))}, but the write with the greatest stamp was ${JSON.stringify(last)}`;
  }
  const present = addWins(applied);
  const listed = [...orset.value(state.set)].sort();
  if (canonicalJson(listed) !== canonicalJson(present)) {
    return `the OR-Set holds ${JSON.stringify(listed)}, but the elements with an add that no remove observed are ${JSON.stringify(present)}`;
  }
  return flush.done ? undefined : 'the final flush did not end';
}

describe('three gossiping replicas on a lossy, partitioned network', () => {
  it(`converge after a final flush to the merge of every update, over ${SEEDS} seeds`, {
    timeout: 60_000,
  }, () => {
    const result = exploreInVitest({
      name: 'crdts-gossip',
      count: SEEDS,
      build: buildRun,
      property: convergenceProblem,
      budget: 60,
    });
    expect(result.seeds.length).toBeGreaterThan(0);
  });

  it('do real work in each run: operations of every kind, drops, duplicates and partitions', () => {
    const sim = new Simulation(1, buildRun(1).scenario).run(TICKS);
    const kinds = new Set(replicas(sim).flatMap((node) => node.applied.map(({ op }) => op.type)));
    expect([...kinds].sort(), 'seed 1 applies every kind of operation').toEqual([
      'add',
      'delete',
      'increment',
      'insert',
      'write',
    ]);
    const recordKinds = new Set(sim.trace.map((record) => record.kind));
    expect(recordKinds.has('drop') && recordKinds.has('duplicate') && recordKinds.has('partition')).toBe(
      true,
    );
    expect(convergenceProblem(sim)).toBeUndefined();
  });

  it('replay exactly: the same seed gives the same trace and the same final state', () => {
    const run = () => {
      const sim = new Simulation(7, buildRun(7).scenario).run(TICKS);
      finalFlush(sim, { maxTicks: 50 });
      return { hash: traceHash(sim.trace), state: canonicalJson(Object.fromEntries(states(sim))) };
    };
    expect(run()).toEqual(run());
  });
});
