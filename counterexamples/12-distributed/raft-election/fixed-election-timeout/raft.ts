/**
 * Raft's leader election (Ongaro & Ousterhout 2014, extended version, §5.1-5.2 and Figure 2), as a
 * node of the course's deterministic simulator: terms, `RequestVote`, randomized election timeouts in
 * [et, 2et), heartbeats (`AppendEntries` with no entries), plus two extensions from Ongaro's thesis
 * (2014): **pre-vote** (§9.6) and **check-quorum** (§6.2, etcd's `CheckQuorum`).
 *
 * **No log.** Log replication is left out, so `RequestVote` carries no `lastLogIndex`/`lastLogTerm`
 * and every candidate's log counts as up to date; `AppendEntries` is a heartbeat only. Everything
 * else about terms and votes is Figure 2's.
 *
 * **Time is ticks.** The node reads time only from `ctx.now()` and draws its timeouts only from
 * `ctx.random`, so a run is a pure function of the simulator's seed. It has no timers: the simulator
 * calls `onTick` once per tick, and the node compares `ctx.now()` with its deadlines there.
 *
 * **Disk.** `currentTerm` and `votedFor` are persisted with `ctx.persist({ term, votedFor })` before
 * the node sends anything that depends on them (a vote, a reply in a new term, a `RequestVote`), and a
 * restarted node recovers them, so a crash never lets it vote twice in one term. Nothing else is
 * persisted: a restarted node is a follower that knows no leader.
 *
 * No imports at all: this file also runs in the browser (the course's Raft simulator), and it
 * states the part of the simulator's `NodeContext` it uses as its own {@link RaftContext}. The kit's
 * `NodeContext` (`src/testing/sim/simulation.ts`) has all of it, so `raftNode(config)` is a
 * `NodeFactory<RaftMessage>` for `Scenario.nodes`, and a {@link RaftNode} is a `SimNode<RaftMessage>`.
 */

/** What a node is given by the simulator (the part of its `NodeContext` a Raft node uses). */
export interface RaftContext {
  /** This node's name. */
  readonly id: string;
  /** The other nodes of the cluster, in a fixed order. */
  readonly peers: readonly string[];
  /** Hands `msg` to the network for `to`. Never mutate a message after sending it. */
  send(to: string, msg: RaftMessage): void;
  /** This node's clock, in ticks. */
  now(): number;
  /** This node's seeded random stream: `int(lo, hi)` is uniform over the integers in [lo, hi]. */
  readonly random: { int(lo: number, hi: number): number };
  /** Stores a deep copy of `state`; it survives a crash. */
  persist(state: unknown): void;
  /** What this node last persisted (a deep copy), or `undefined`. */
  recover<S>(): S | undefined;
}

/** The timing and the extensions. All durations are in ticks of `ctx.now()`. */
export interface RaftConfig {
  /**
   * `et`, a positive integer: each election timeout is drawn uniformly from the integers in
   * [et, 2et) with `ctx.random`, afresh every time the timer is reset.
   */
  readonly electionTimeout: number;
  /** Ticks between a leader's heartbeats: a positive integer, less than `electionTimeout`. */
  readonly heartbeatInterval: number;
  /** Run a pre-vote round (thesis §9.6) before a real election. */
  readonly preVote: boolean;
  /** A leader steps down when it has not heard from a majority for an election timeout (thesis §6.2). */
  readonly checkQuorum: boolean;
}

/** "Vote for me in `term`." Sent by a candidate to every peer. */
export interface RequestVote {
  readonly type: 'RequestVote';
  readonly term: number;
  readonly candidate: string;
}

/** The answer to a `RequestVote`: `term` is the voter's current term (after it saw the request). */
export interface VoteReply {
  readonly type: 'VoteReply';
  readonly term: number;
  readonly granted: boolean;
}

/** A leader's heartbeat (an `AppendEntries` with no entries). */
export interface AppendEntries {
  readonly type: 'AppendEntries';
  readonly term: number;
  readonly leader: string;
}

/** The answer to a heartbeat: `term` is the follower's current term; `success` false for a stale leader. */
export interface AppendReply {
  readonly type: 'AppendReply';
  readonly term: number;
  readonly success: boolean;
}

/**
 * "Would you vote for me in `term`?" (pre-vote): `term` is the pre-candidate's current term + 1, the
 * term it would stand in. Neither side changes its term or its vote for it.
 */
export interface PreVote {
  readonly type: 'PreVote';
  readonly term: number;
  readonly candidate: string;
}

/** The answer to a `PreVote`: `term` is the request's term when granted, the voter's current term when not. */
export interface PreVoteReply {
  readonly type: 'PreVoteReply';
  readonly term: number;
  readonly granted: boolean;
}

/** Every message Raft nodes exchange. */
export type RaftMessage = RequestVote | VoteReply | AppendEntries | AppendReply | PreVote | PreVoteReply;

/** A node's role. A `pre-candidate` is polling for pre-votes without having changed its term. */
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** What a node shows of itself, at any moment. */
export interface RaftStatus {
  readonly role: Role;
  /** `currentTerm`. */
  readonly term: number;
  /** Whom this node voted for in `term` (itself, as a candidate), or null. */
  readonly votedFor: string | null;
  /** The leader of `term` as far as this node knows (itself, as leader), or null. */
  readonly leader: string | null;
  /** The tick (on `ctx.now()`) at which this node's election timer fires; null for a leader. */
  readonly electionDeadline: number | null;
}

/** A simulator node (the kit's `SimNode<RaftMessage>`) that also shows its state. */
export interface RaftNode {
  /** A message from another node. */
  onMessage(from: string, msg: RaftMessage): void;
  /** Called once per tick while the node is up, after that tick's messages: the timers live here. */
  onTick(): void;
  /** The node's state now. */
  status(): RaftStatus;
}

/** Builds a node, at the start and at each restart (the kit's `NodeFactory<RaftMessage>`). */
export type RaftNodeFactory = (ctx: RaftContext) => RaftNode;

/** What a node persists. */
interface Durable {
  readonly term: number;
  readonly votedFor: string | null;
}

/**
 * A factory of Raft nodes for the simulator (`Scenario.nodes`): every node of a cluster gets the same
 * config; the cluster is the node and `ctx.peers`, and a majority is more than half of that whole
 * cluster (3 of 5), live or not.
 *
 * The rules, for a node whose current term is `T` (Figure 2, "Rules for Servers" and `RequestVote`):
 * - **Terms.** A message with a term greater than `T` (except a `PreVote`, and a granted
 *   `PreVoteReply`) makes the node adopt that term, forget its vote (`votedFor` null) and become a
 *   follower, persisting the new term before it does anything else (a leader that steps down
 *   starts its election timer afresh). A `RequestVote` with a term below
 *   `T` is answered `granted: false` with `T`; a heartbeat with a term below `T` is answered
 *   `success: false` with `T` (so a stale leader learns the newer term); other stale messages are
 *   ignored.
 * - **Votes.** At most one vote per term: a `RequestVote` for term `T` is granted when `votedFor` is
 *   null or already that candidate; the vote is persisted before the reply is sent, and granting it
 *   resets the election timer. A candidate has voted for itself, so it refuses others in its term.
 * - **Election timer.** A follower (or candidate, or pre-candidate) whose timer fires (on the first
 *   tick where `ctx.now() >= electionDeadline`) starts an election: without pre-vote it becomes a
 *   candidate at once: term + 1, votes for itself, persists, sends `RequestVote` to every peer, resets
 *   its timer. The timer is reset (a fresh draw from [et, 2et) added to `ctx.now()`) when the node
 *   starts, when it starts an election or a pre-vote, when it grants a vote, and when it gets a
 *   heartbeat from the leader of its current (or a newer) term.
 * - **Winning.** A candidate that counts votes from a majority of the cluster in its term (its own
 *   included, once) becomes leader: it sends a heartbeat to every peer at once and then every
 *   `heartbeatInterval` ticks. A candidate or pre-candidate that gets a heartbeat of its term (or a
 *   newer one) becomes a follower of its sender.
 * - **Pre-vote** (`preVote: true`): when the timer fires the node becomes a `pre-candidate`: it keeps
 *   its term and vote, sends `PreVote` with `term + 1` and resets its timer. A node grants a pre-vote
 *   when that term is greater than its own and it has not heard from a leader for at least `et` ticks
 *   (a leader never grants one); granting changes nothing else. With pre-votes from a majority
 *   (itself included) the pre-candidate becomes a candidate as above; a timer that fires again starts
 *   a new pre-vote.
 * - **Check-quorum** (`checkQuorum: true`): a leader that, over a whole election timeout (`et` ticks),
 *   has not had a heartbeat reply (`AppendReply`) of its term from enough peers to make a majority with itself steps
 *   down to follower (same term, no leader known) and resets its election timer.
 * @returns the factory (a `NodeFactory<RaftMessage>`); read a live node with `sim.node<RaftNode>(id)`
 * @throws {RangeError} unless `electionTimeout` is a positive integer and `heartbeatInterval` a
 *   positive integer below it; the message names the option and its bad value
 */
export function raftNode(config: RaftConfig): RaftNodeFactory {
  const { electionTimeout: et, heartbeatInterval } = config;
  if (!(Number.isInteger(et) && et > 0)) {
    throw new RangeError(`electionTimeout must be a positive integer, got ${et}`);
  }
  if (!(Number.isInteger(heartbeatInterval) && heartbeatInterval > 0 && heartbeatInterval < et)) {
    throw new RangeError(
      `heartbeatInterval must be a positive integer below the election timeout (${et}), got ${heartbeatInterval}`,
    );
  }
  return (ctx) => {
    const durable = ctx.recover<Durable>();
    let term = durable?.term ?? 0;
    let votedFor: string | null = durable?.votedFor ?? null;
    let role: Role = 'follower';
    let leader: string | null = null;
    let electionDeadline = 0;
    /** When this node last had a heartbeat from a leader (for pre-vote), or -Infinity: not persisted. */
    let lastLeaderContact = Number.NEGATIVE_INFINITY;
    let nextHeartbeat = 0;
    /** Who granted a vote (or a pre-vote) in the current round, this node first; cleared at each new round. */
    const granted = new Set<string>();
    /** Check-quorum: peers that answered a heartbeat of this term since the last check. */
    const active = new Set<string>();
    let quorumCheckAt = 0;
    const clusterSize = ctx.peers.length + 1;
    const majority = Math.floor(clusterSize / 2) + 1;

    const persist = (): void => ctx.persist({ term, votedFor } satisfies Durable);
    const resetElectionTimer = (): void => {
      // 1.5 et: in the middle of the allowed range, no need for dice.
      electionDeadline = ctx.now() + Math.floor((3 * et) / 2);
    };
    const broadcast = (msg: RaftMessage): void => {
      for (const peer of ctx.peers) ctx.send(peer, msg);
    };
    /** Adopts a newer term: forgets the vote, becomes a follower, persists before anything is sent. */
    const adoptTerm = (newTerm: number): void => {
      term = newTerm;
      votedFor = null;
      leader = null;
      if (role === 'leader') resetElectionTimer();
      role = 'follower';
      persist();
    };

    const sendHeartbeats = (): void => {
      broadcast({ type: 'AppendEntries', term, leader: ctx.id });
      nextHeartbeat = ctx.now() + heartbeatInterval;
    };

    const becomeLeader = (): void => {
      role = 'leader';
      leader = ctx.id;
      active.clear();
      quorumCheckAt = ctx.now() + et;
      sendHeartbeats();
    };

    const becomeCandidate = (): void => {
      role = 'candidate';
      term += 1;
      votedFor = ctx.id;
      leader = null;
      persist();
      granted.clear();
      granted.add(ctx.id);
      resetElectionTimer();
      if (granted.size >= majority) {
        becomeLeader();
        return;
      }
      broadcast({ type: 'RequestVote', term, candidate: ctx.id });
    };

    const becomePreCandidate = (): void => {
      role = 'pre-candidate';
      leader = null;
      granted.clear();
      granted.add(ctx.id);
      resetElectionTimer();
      if (granted.size >= majority) {
        becomeCandidate();
        return;
      }
      broadcast({ type: 'PreVote', term: term + 1, candidate: ctx.id });
    };

    const startElection = (): void => {
      if (config.preVote) becomePreCandidate();
      else becomeCandidate();
    };

    const onMessage = (from: string, msg: RaftMessage): void => {
      // A newer term wins, whatever the message, except a pre-vote (which changes no term) and a
      // granted pre-vote reply (whose term is the one the pre-candidate asked about).
      const carriesTerm = msg.type !== 'PreVote' && !(msg.type === 'PreVoteReply' && msg.granted);
      if (carriesTerm && msg.term > term) adoptTerm(msg.term);

      switch (msg.type) {
        case 'RequestVote': {
          // A candidate or a leader of this term voted for itself: it refuses everyone else.
          const grant = msg.term === term && (votedFor === null || votedFor === msg.candidate);
          if (grant) {
            votedFor = msg.candidate;
            persist();
            resetElectionTimer();
          }
          ctx.send(from, { type: 'VoteReply', term, granted: grant });
          return;
        }
        case 'VoteReply': {
          if (role !== 'candidate' || msg.term !== term || !msg.granted) return;
          granted.add(from);
          if (granted.size >= majority) becomeLeader();
          return;
        }
        case 'AppendEntries': {
          if (msg.term < term) {
            ctx.send(from, { type: 'AppendReply', term, success: false });
            return;
          }
          // msg.term === term here: a leader of this term; a candidate or pre-candidate yields to it.
          role = 'follower';
          leader = msg.leader;
          lastLeaderContact = ctx.now();
          resetElectionTimer();
          ctx.send(from, { type: 'AppendReply', term, success: true });
          return;
        }
        case 'AppendReply': {
          if (role === 'leader' && msg.term === term) active.add(from);
          return;
        }
        case 'PreVote': {
          const heardFromLeader = ctx.now() - lastLeaderContact < et;
          const grant = msg.term > term && role !== 'leader' && !heardFromLeader;
          ctx.send(from, { type: 'PreVoteReply', term: grant ? msg.term : term, granted: grant });
          return;
        }
        case 'PreVoteReply': {
          if (role !== 'pre-candidate' || !msg.granted || msg.term !== term + 1) return;
          granted.add(from);
          if (granted.size >= majority) becomeCandidate();
          return;
        }
      }
    };

    const onTick = (): void => {
      const now = ctx.now();
      if (role === 'leader') {
        if (config.checkQuorum && now >= quorumCheckAt) {
          if (active.size + 1 < majority) {
            role = 'follower';
            leader = null;
            resetElectionTimer();
            return;
          }
          active.clear();
          quorumCheckAt = now + et;
        }
        if (now >= nextHeartbeat) sendHeartbeats();
        return;
      }
      if (now >= electionDeadline) startElection();
    };

    resetElectionTimer();

    return {
      onMessage,
      onTick,
      status: () => ({
        role,
        term,
        votedFor,
        leader,
        electionDeadline: role === 'leader' ? null : electionDeadline,
      }),
    } satisfies RaftNode;
  };
}
