/**
 * The Raft simulator's model: five nodes `n1`..`n5` running the course's REFERENCE solution of the
 * `raft-election` exercise (`solutions/12-distributed/raft-election/raft.ts`) on the course's
 * deterministic simulator (`src/testing/sim/`), in the browser. Nothing here decides who wins an
 * election: the model only runs the solution, watches every node's `status()` after each of its
 * handler calls, and says in words what happened (timeouts, wins, split votes, step-downs).
 *
 * It also checks Election Safety (Raft paper, Fig. 3: at most one leader can be elected in a given
 * term) after every handler call, over the whole run, and exposes the verdict as {@link RaftRun.safety}.
 *
 * A run is a pure function of (seed, preVote, the reader's actions and the ticks between them): no
 * wall clock, no `Math.random`; every random choice comes from the kit's seeded PRNG.
 */

import {
  type RaftConfig,
  type RaftMessage,
  type RaftNode,
  type RaftStatus,
  type Role,
  raftNode,
} from '../../../solutions/12-distributed/raft-election/raft';
import type { NodeFactory } from '../../testing/sim/simulation';
import { Simulation } from '../../testing/sim/simulation';
import { traceHash } from '../../testing/sim/trace';

/** The nodes, in scenario order (n1 at the top of the circle, clockwise). */
export const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;
/** A node's name. */
export type NodeId = (typeof NODES)[number];
/** Votes a candidate needs: a majority of the five, counted over the cluster, not over live nodes. */
export const MAJORITY = 3;
/** Election timeout `et` in ticks: each timeout is drawn from [et, 2et). */
export const ELECTION_TIMEOUT = 10;
/** Ticks between a leader's heartbeats. */
export const HEARTBEAT_INTERVAL = 3;
/** A message takes 1 to 3 ticks on the wire. */
export const LATENCY = { min: 1, max: 3 } as const;
/** The name of the reader's partition in the trace (one at a time). */
const PARTITION = 'split';
/** Events kept (the oldest are dropped first). */
export const EVENT_CAP = 500;

/** What a message in flight is, for drawing it. */
export type MessageKind =
  | 'vote-request'
  | 'vote-granted'
  | 'vote-refused'
  | 'pre-vote-request'
  | 'pre-vote-granted'
  | 'pre-vote-refused'
  | 'heartbeat'
  | 'heartbeat-reply'
  | 'other';

/** Classifies a Raft message by its `type` (and `granted` for replies). */
export function messageKind(msg: RaftMessage): MessageKind {
  const fields = msg as unknown as Record<string, unknown>;
  const type = String(fields.type)
    .toLowerCase()
    .replace(/[^a-z]/g, '');
  const isReply = /reply|response|resp|ack|ok$/.test(type);
  const granted = fields.granted ?? fields.voteGranted ?? fields.vote;
  if (type.includes('append') || type.includes('heartbeat')) return isReply ? 'heartbeat-reply' : 'heartbeat';
  if (type.includes('vote')) {
    const pre = type.includes('pre');
    if (!isReply) return pre ? 'pre-vote-request' : 'vote-request';
    if (pre) return granted === true ? 'pre-vote-granted' : 'pre-vote-refused';
    return granted === true ? 'vote-granted' : 'vote-refused';
  }
  return 'other';
}

/** One line of the event log. */
export interface RaftEvent {
  /** Its number in the run, from 0 (a stable key). */
  readonly seq: number;
  /** The tick it happened at (for a reader's action: the next tick to run). */
  readonly tick: number;
  readonly kind: 'timeout' | 'pre-vote' | 'win' | 'split' | 'no-majority' | 'step-down' | 'action' | 'safety';
  readonly text: string;
}

/** A node as the picture draws it. */
export interface NodeView {
  readonly id: NodeId;
  readonly up: boolean;
  /** Its role, or the last one seen before it crashed. */
  readonly role: Role;
  readonly term: number;
  readonly votedFor: string | null;
  readonly leader: string | null;
  readonly electionDeadline: number | null;
  /** The election timer's share left, in [0, 1]; null for a leader or a node that is down. */
  readonly timerLeft: number | null;
  /** Ticks until the election timer fires; null for a leader or a node that is down. */
  readonly ticksLeft: number | null;
}

/** A message in flight, for drawing it as a dot on its edge. */
export interface MessageView {
  /** Stable while it flies (the network's send id and copy). */
  readonly key: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly kind: MessageKind;
  readonly term: number;
  readonly sentAt: number;
  readonly deliverAt: number;
  /** How far along its edge it is at the current tick, in [0, 1]: (tick - sentAt) / (deliverAt - sentAt). */
  readonly progress: number;
}

/** Everything the picture needs at one tick. */
export interface Snapshot {
  /** The next tick to run. */
  readonly tick: number;
  readonly nodes: readonly NodeView[];
  readonly messages: readonly MessageView[];
  /** The live leader with the highest term, or null. */
  readonly leader: NodeId | null;
  /** The leader's term, or else the highest term of a live node. */
  readonly term: number;
  readonly safety: 'ok' | 'violated';
  /** The groups of the reader's partition, or null when the network is whole. */
  readonly groups: readonly (readonly NodeId[])[] | null;
}

/** What a run starts from. */
export interface RaftRunOptions {
  /** An integer in [0, 2^32): timeouts and the wire's delays derive from it. */
  readonly seed: number;
  /** Pre-vote (Ongaro's thesis §9.6); default false. */
  readonly preVote?: boolean;
  /** CheckQuorum (a leader that has not heard from a majority for an election timeout steps down); default true. */
  readonly checkQuorum?: boolean;
  /** For tests of the model itself: another node implementation (a broken one trips the safety flag). */
  readonly factory?: (config: RaftConfig) => NodeFactory<RaftMessage>;
}

/** What the model remembers of a node between observations. */
interface Seen {
  status: RaftStatus;
  /** The tick its current election timer was set at. */
  timerSetAt: number;
}

const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five'];

function list(ids: readonly string[]): string {
  return [...ids].sort().join(' ');
}

/**
 * One run of five Raft nodes. Drive it with {@link RaftRun.step} / {@link RaftRun.run}; the reader's
 * actions ({@link RaftRun.crash}, `restart`, `isolate`, `partition`, `heal`) act at once, between
 * ticks, and return false (changing nothing) when they cannot be done.
 */
export class RaftRun {
  readonly seed: number;
  readonly checkQuorum: boolean;
  readonly #factory: (config: RaftConfig) => NodeFactory<RaftMessage>;
  #preVote: boolean;
  #sim!: Simulation<RaftMessage>;
  #seen = new Map<string, Seen>();
  /** Election Safety's memory: the leader of each term so far. */
  #leaders = new Map<number, string>();
  /** The candidates of each term (for the split-vote sentence). */
  #candidates = new Map<number, Set<string>>();
  /** Terms already reported as split or lost. */
  #reported = new Set<number>();
  #groups: NodeId[][] | null = null;
  #violated = false;
  #events: RaftEvent[] = [];
  #seq = 0;

  /** @throws {RangeError} when the seed is not an integer in [0, 2^32) */
  constructor(options: RaftRunOptions) {
    this.seed = options.seed;
    this.checkQuorum = options.checkQuorum ?? true;
    this.#preVote = options.preVote ?? false;
    this.#factory = options.factory ?? raftNode;
    this.#start();
  }

  /** The node configuration every node runs with. */
  get config(): RaftConfig {
    return {
      electionTimeout: ELECTION_TIMEOUT,
      heartbeatInterval: HEARTBEAT_INTERVAL,
      preVote: this.#preVote,
      checkQuorum: this.checkQuorum,
    };
  }

  get preVote(): boolean {
    return this.#preVote;
  }

  /** The simulation (its trace, its network), for tests and the picture. */
  get sim(): Simulation<RaftMessage> {
    return this.#sim;
  }

  /** The next tick to run. */
  get tick(): number {
    return this.#sim.tick;
  }

  /** 'violated' as soon as two nodes have been leaders of one term, at any moment of the run. */
  get safety(): 'ok' | 'violated' {
    return this.#violated ? 'violated' : 'ok';
  }

  /** The event log, oldest first (the last {@link EVENT_CAP}). */
  get events(): readonly RaftEvent[] {
    return this.#events;
  }

  /** The leader of each term so far, by term. */
  get leaders(): ReadonlyMap<number, string> {
    return this.#leaders;
  }

  /** Node `id`'s status, or undefined while it is down. */
  status(id: NodeId): RaftStatus | undefined {
    return this.#sim.node<RaftNode>(id)?.status();
  }

  /** Runs one tick. */
  step(): void {
    this.#sim.step();
  }

  /** Runs `ticks` ticks. */
  run(ticks: number): this {
    for (let i = 0; i < ticks; i++) this.#sim.step();
    return this;
  }

  /** Crashes node `id`: its memory is gone, what it persisted (term, vote) survives. */
  crash(id: NodeId): boolean {
    if (!this.#sim.isUp(id)) return false;
    const was = this.#seen.get(id)?.status;
    this.#sim.crash(id);
    const what = was?.role === 'leader' ? ` (the leader of term ${was.term})` : '';
    this.#log('action', `you crash ${id}${what}: its memory is gone, its term and vote are on disk`);
    return true;
  }

  /** Restarts node `id` from what it persisted. */
  restart(id: NodeId): boolean {
    if (this.#sim.isUp(id)) return false;
    this.#sim.restart(id);
    const status = this.#sim.node<RaftNode>(id)!.status();
    this.#log(
      'action',
      `${id} restarts as a ${status.role} in term ${status.term}${status.votedFor ? `, remembering its vote for ${status.votedFor}` : ''}`,
    );
    this.#seen.set(id, { status, timerSetAt: this.tick });
    return true;
  }

  /**
   * Cuts the network into `groups` (nodes named in no group form one more group), replacing the
   * reader's earlier partition. Refused when a node is named twice or it would cut nothing.
   */
  partition(groups: readonly (readonly NodeId[])[]): boolean {
    const named = groups.flat();
    if (new Set(named).size !== named.length || named.some((id) => !NODES.includes(id))) return false;
    const rest = NODES.filter((id) => !named.includes(id));
    const all = [
      ...groups.filter((g) => g.length > 0).map((g) => [...g]),
      ...(rest.length > 0 ? [rest] : []),
    ];
    if (all.length < 2) return false;
    if (this.#groups) this.#sim.heal(PARTITION);
    this.#sim.partition(PARTITION, all);
    this.#groups = all;
    this.#log('action', `you partition the network: ${all.map((g) => `{${g.join(', ')}}`).join(' | ')}`);
    return true;
  }

  /** Cuts node `id` off from the other four. */
  isolate(id: NodeId): boolean {
    return this.partition([[id]]);
  }

  /** Heals the reader's partition. */
  heal(): boolean {
    if (!this.#groups) return false;
    this.#sim.heal(PARTITION);
    this.#groups = null;
    this.#log('action', 'you heal the network: every node reaches every other again');
    return true;
  }

  /** The groups of the reader's partition, or null. */
  get groups(): readonly (readonly NodeId[])[] | null {
    return this.#groups;
  }

  /**
   * Turns pre-vote on or off. The nodes' configuration changes, so this starts a FRESH run from the
   * same seed at tick 0 (the log says so); returns false if it was already so.
   */
  setPreVote(on: boolean): boolean {
    if (on === this.#preVote) return false;
    this.#preVote = on;
    this.#start();
    this.#log(
      'action',
      `pre-vote ${on ? 'on' : 'off'}: a fresh run from seed ${this.seed} at tick 0 (the nodes' configuration changed)`,
    );
    return true;
  }

  /** The trace's hash: equal for equal runs. */
  hash(): string {
    return traceHash(this.#sim.trace);
  }

  /** The picture at the current tick. */
  snapshot(): Snapshot {
    const now = this.tick;
    const nodes = NODES.map((id): NodeView => {
      const up = this.#sim.isUp(id);
      const seen = this.#seen.get(id)!;
      const status = up ? this.#sim.node<RaftNode>(id)!.status() : seen.status;
      const deadline = status.electionDeadline;
      const timed = up && deadline !== null;
      const total = timed ? Math.max(1, deadline - seen.timerSetAt) : 1;
      const ticksLeft = timed ? Math.max(0, deadline - now) : null;
      return {
        id,
        up,
        role: status.role,
        term: status.term,
        votedFor: status.votedFor,
        leader: status.leader,
        electionDeadline: deadline,
        timerLeft: ticksLeft === null ? null : Math.min(1, ticksLeft / total),
        ticksLeft,
      };
    });
    const messages = this.#sim.network.inFlight().map((envelope): MessageView => {
      const msg = envelope.msg as RaftMessage;
      const span = Math.max(1, envelope.deliverAt - envelope.sentAt);
      return {
        key: `${envelope.id}.${envelope.copy}`,
        from: envelope.from as NodeId,
        to: envelope.to as NodeId,
        kind: messageKind(msg),
        term: msg.term,
        sentAt: envelope.sentAt,
        deliverAt: envelope.deliverAt,
        progress: Math.min(1, Math.max(0, (now - envelope.sentAt) / span)),
      };
    });
    const leaders = nodes.filter((n) => n.up && n.role === 'leader').sort((a, b) => b.term - a.term);
    const top = leaders[0];
    const term = top ? top.term : Math.max(0, ...nodes.filter((n) => n.up).map((n) => n.term));
    return {
      tick: now,
      nodes,
      messages,
      leader: top ? top.id : null,
      term,
      safety: this.safety,
      groups: this.#groups,
    };
  }

  #start(): void {
    this.#seen = new Map();
    this.#leaders = new Map();
    this.#candidates = new Map();
    this.#reported = new Set();
    this.#groups = null;
    this.#violated = false;
    this.#events = [];
    this.#seq = 0;
    const factory = this.#factory(this.config);
    // Every node is wrapped so that the model sees its status after every handler call: Election
    // Safety is checked at every moment of the run, not only between ticks.
    const watched: NodeFactory<RaftMessage> = (context) => {
      const node = factory(context) as RaftNode;
      const look = (from: string | undefined) => this.#observe(context.id, node.status(), from);
      return {
        onMessage(from, msg) {
          node.onMessage(from, msg);
          look(from);
        },
        onTick() {
          node.onTick?.();
          look(undefined);
        },
        status: () => node.status(),
      } satisfies RaftNode;
    };
    const nodes: Record<string, NodeFactory<RaftMessage>> = {};
    for (const id of NODES) nodes[id] = watched;
    this.#sim = new Simulation<RaftMessage>(this.seed, { nodes, network: { latency: LATENCY } });
    for (const id of NODES) this.#observe(id, this.#sim.node<RaftNode>(id)!.status(), undefined);
  }

  #log(kind: RaftEvent['kind'], text: string): void {
    this.#events.push({ seq: this.#seq++, tick: this.tick, kind, text });
    if (this.#events.length > EVENT_CAP) this.#events.splice(0, this.#events.length - EVENT_CAP);
  }

  /** Compares node `id`'s status with the last one seen, checks safety and logs what changed. */
  #observe(id: string, status: RaftStatus, from: string | undefined): void {
    const seen = this.#seen.get(id);
    const before = seen?.status;
    const now = this.tick;
    if (!seen) {
      this.#seen.set(id, { status, timerSetAt: now });
      return;
    }
    if (status.electionDeadline !== before?.electionDeadline) seen.timerSetAt = now;
    seen.status = status;
    if (!before) return;

    if (status.role === 'leader') {
      const other = this.#leaders.get(status.term);
      if (other === undefined) this.#leaders.set(status.term, id);
      else if (other !== id && !this.#violated) {
        this.#violated = true;
        this.#log(
          'safety',
          `ELECTION SAFETY VIOLATED: ${other} and ${id} are both leaders of term ${status.term}`,
        );
      }
    }

    const timedOut = status.electionDeadline !== before.electionDeadline;
    // A candidate that starts over (a new election, or a new pre-vote round) lost its term.
    const startsOver =
      (status.role === 'candidate' && status.term > before.term) ||
      (status.role === 'pre-candidate' && before.role !== 'pre-candidate');
    if (before.role === 'candidate' && startsOver) this.#reportLost(before.term, id);
    if (status.role === 'candidate' && status.term > before.term) {
      const candidates = this.#candidates.get(status.term) ?? new Set<string>();
      candidates.add(id);
      this.#candidates.set(status.term, candidates);
      this.#log(
        'timeout',
        `${id} ${before.role === 'pre-candidate' ? 'wins its pre-vote' : 'times out'}, term ${status.term}, asks for votes`,
      );
    } else if (status.role === 'pre-candidate' && (before.role !== 'pre-candidate' || timedOut)) {
      this.#log(
        'pre-vote',
        `${id} times out${before.role === 'pre-candidate' ? ' again' : ''}, asks for pre-votes for term ${status.term + 1} (its term stays ${status.term})`,
      );
    }
    if (status.role === 'leader' && before.role !== 'leader') {
      this.#log('win', `${id} wins term ${status.term} with votes ${list(this.#voters(id, status.term))}`);
    }
    if (before.role === 'leader' && status.role !== 'leader') {
      const why =
        status.term > before.term
          ? `${from ? `${from} has` : 'it hears'} term ${status.term}`
          : 'it has not heard from a majority for an election timeout';
      this.#log('step-down', `${id} (leader of term ${before.term}) steps down: ${why}`);
    }
  }

  /** Who voted for `candidate` in `term`: the nodes whose status says so (the candidate included). */
  #voters(candidate: string, term: number): string[] {
    return NODES.filter((id) => {
      const status = id === candidate ? undefined : this.#sim.node<RaftNode>(id)?.status();
      return id === candidate || (status?.term === term && status.votedFor === candidate);
    });
  }

  /** A candidate of `term` starts another election: say why `term` elected no one. */
  #reportLost(term: number, by: string): void {
    if (this.#leaders.has(term) || this.#reported.has(term)) return;
    this.#reported.add(term);
    const candidates = [...(this.#candidates.get(term) ?? [by])].sort();
    if (candidates.length >= 2) {
      this.#log(
        'split',
        `${NUMBER_WORDS[candidates.length]} candidates (${candidates.join(', ')}) split the vote in term ${term}: none got ${MAJORITY} of 5`,
      );
    } else {
      this.#log('no-majority', `${by} got no majority in term ${term}: too few nodes answered`);
    }
  }
}
