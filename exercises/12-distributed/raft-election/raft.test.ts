/**
 * One Raft node at a time, against scripted peers ("puppets" that record what they receive and send
 * what the test tells them) on a wire with a fixed 1-tick delay: the timer, votes, terms, stale
 * messages, winning, heartbeats, persistence across a crash, pre-vote and check-quorum, each rule of
 * the contract on its own. Then the timeouts themselves, over many draws (talent-plan tinykv's
 * `TestElectionTimeoutRandomized` and `TestElectionTimeoutNonconflict`).
 */
import { describe, expect, it } from 'vitest';
import { exploreInVitest } from '../../../src/testing/sim/explore-report.js';
import { type NodeContext, type SimNode, Simulation } from '../../../src/testing/sim/simulation.js';
import { Observer, observed } from './harness.js';
import { type RaftConfig, type RaftMessage, type RaftNode, type RaftStatus, raftNode } from './raft.js';

const ET = 10;
const HB = 3;
const PLAIN: RaftConfig = { electionTimeout: ET, heartbeatInterval: HB, preVote: false, checkQuorum: false };

interface Received {
  readonly tick: number;
  readonly from: string;
  readonly msg: RaftMessage;
}

/**
 * `n1` runs the learner's node; the other nodes are puppets. `say(puppet, msg)` sends from a puppet
 * now (it arrives at the next tick), `inbox(puppet)` is what it received.
 */
function bench(config: RaftConfig = PLAIN, puppets: readonly string[] = ['n2', 'n3'], seed = 1) {
  const contexts = new Map<string, NodeContext<RaftMessage>>();
  const inboxes = new Map<string, Received[]>();
  const puppet = (ctx: NodeContext<RaftMessage>): SimNode<RaftMessage> => {
    contexts.set(ctx.id, ctx);
    const inbox = inboxes.get(ctx.id) ?? [];
    inboxes.set(ctx.id, inbox);
    return { onMessage: (from, msg) => inbox.push({ tick: ctx.now(), from, msg }) };
  };
  const observer = new Observer();
  const sim = new Simulation<RaftMessage>(seed, {
    nodes: {
      n1: observed(raftNode(config), observer),
      ...Object.fromEntries(puppets.map((id) => [id, puppet])),
    },
    network: { latency: { min: 1, max: 1 } },
  });
  const status = (): RaftStatus => {
    const node = sim.node<RaftNode>('n1');
    if (!node) throw new Error('n1 is down');
    return node.status();
  };
  const say = (from: string, msg: RaftMessage): void => contexts.get(from)!.send('n1', msg);
  const inbox = (id: string, type?: RaftMessage['type']): Received[] =>
    (inboxes.get(id) ?? []).filter((r) => type === undefined || r.msg.type === type);
  /** Sends `msg` from `from` and runs until n1's reply is back (3 ticks); returns that reply, if any. */
  const exchange = (from: string, msg: RaftMessage): RaftMessage | undefined => {
    const before = inbox(from).length;
    say(from, msg);
    sim.run(3);
    return inbox(from)
      .slice(before)
      .find((r) => r.msg.type !== 'AppendEntries' && r.msg.type !== 'RequestVote' && r.msg.type !== 'PreVote')
      ?.msg;
  };
  /** Runs ticks until n1's role is `role` (at most `limit` ticks); returns the tick it was seen at. */
  const until = (role: RaftStatus['role'], limit = 4 * ET): number => {
    for (let i = 0; i < limit; i++) {
      if (status().role === role) return sim.tick - 1;
      sim.step();
    }
    throw new Error(`n1 did not become ${role} within ${limit} ticks (it is ${JSON.stringify(status())})`);
  };
  /** Makes n1 a leader of its next term with the puppets' votes; returns that term. */
  const elect = (): number => {
    if (config.preVote) {
      until('pre-candidate');
      for (const p of puppets) say(p, { type: 'PreVoteReply', term: status().term + 1, granted: true });
      sim.run(2);
    }
    until('candidate');
    const { term } = status();
    for (const p of puppets) say(p, { type: 'VoteReply', term, granted: true });
    sim.run(2);
    expect(status().role, 'a candidate with votes from every peer becomes leader').toBe('leader');
    return term;
  };
  return { sim, observer, status, say, inbox, exchange, until, elect };
}

describe('Raft node: the election timer', () => {
  it('a follower that hears nothing becomes a candidate on the first tick at or after its deadline, in [et, 2et)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { sim, status, until, inbox } = bench(PLAIN, ['n2', 'n3'], seed);
      const first = status();
      expect(
        first,
        'a new node is a follower of term 0 that knows no leader and voted for nobody',
      ).toMatchObject({
        role: 'follower',
        term: 0,
        votedFor: null,
        leader: null,
      });
      const deadline = first.electionDeadline!;
      expect(deadline, 'the first deadline is drawn from [et, 2et) after tick 0').toBeGreaterThanOrEqual(ET);
      expect(deadline).toBeLessThan(2 * ET);
      const at = until('candidate');
      expect(at, 'the timer fires on the tick of its deadline').toBe(deadline);
      expect(status(), 'a new candidate has incremented its term and voted for itself').toMatchObject({
        role: 'candidate',
        term: 1,
        votedFor: 'n1',
      });
      sim.run(2);
      for (const peer of ['n2', 'n3']) {
        expect(
          inbox(peer, 'RequestVote').map((r) => r.msg),
          `the candidate asks ${peer} for its vote`,
        ).toEqual([{ type: 'RequestVote', term: 1, candidate: 'n1' }]);
      }
    }
  });

  it('a candidate that wins no vote starts a new election (term + 1) when its timer fires again', () => {
    const { sim, status, until } = bench();
    until('candidate');
    const { electionDeadline } = status();
    expect(
      electionDeadline! - (sim.tick - 1),
      'a new election resets the timer to [et, 2et)',
    ).toBeGreaterThanOrEqual(ET);
    while (sim.tick <= electionDeadline!) sim.step();
    expect(status(), 'the second election is in term 2').toMatchObject({
      role: 'candidate',
      term: 2,
      votedFor: 'n1',
    });
  });

  it('persists its new term and its vote for itself: a crash right after it became candidate loses neither', () => {
    const { sim, status, until } = bench();
    until('candidate');
    sim.crash('n1');
    sim.restart('n1');
    expect(status(), 'after a restart it is a follower that remembers term 1 and its vote').toMatchObject({
      role: 'follower',
      term: 1,
      votedFor: 'n1',
      leader: null,
    });
  });

  it('a follower whose leader falls silent stands for election and forgets that leader', () => {
    for (const config of [PLAIN, { ...PLAIN, preVote: true }]) {
      const { sim, status, say, until } = bench(config);
      say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
      sim.run(2);
      expect(status().leader).toBe('n2');
      const role = config.preVote ? 'pre-candidate' : 'candidate';
      until(role, 3 * ET);
      expect(status(), `as a ${role} it knows no leader`).toMatchObject({ role, leader: null });
    }
  });

  it('a cluster of one elects itself when its timer first fires, with or without pre-vote', () => {
    for (const preVote of [false, true]) {
      const observer = new Observer();
      const sim = new Simulation<RaftMessage>(1, {
        nodes: { solo: observed(raftNode({ ...PLAIN, preVote }), observer) },
      });
      const deadline = sim.node<RaftNode>('solo')!.status().electionDeadline!;
      sim.run(deadline + 1);
      expect(
        sim.node<RaftNode>('solo')!.status(),
        `preVote ${preVote}: its own vote is a majority of one`,
      ).toMatchObject({
        role: 'leader',
        term: 1,
        votedFor: 'solo',
      });
    }
  });

  it("a leader's heartbeats keep resetting a follower's timer: no election under a healthy leader", () => {
    const { sim, status, say } = bench();
    say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
    for (let i = 0; i < 10 * ET; i++) {
      if (i % HB === 0) say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
      sim.step();
      expect(status().role, `tick ${sim.tick - 1}: a follower that hears heartbeats stays a follower`).toBe(
        'follower',
      );
    }
    expect(status(), 'it follows n2 in term 1').toMatchObject({ term: 1, leader: 'n2' });
    const deadline = status().electionDeadline!;
    expect(
      deadline - (sim.tick - 1),
      'its deadline stays at least et ahead of the last heartbeat',
    ).toBeGreaterThan(ET - HB - 1);
  });

  it('granting a vote resets the election timer to a fresh [et, 2et) from that tick', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { sim, status, say } = bench(PLAIN, ['n2', 'n3'], seed);
      const deadline = status().electionDeadline!;
      sim.run(deadline - 3);
      say('n2', { type: 'RequestVote', term: 1, candidate: 'n2' });
      sim.run(2);
      const at = sim.tick - 1;
      expect(status().votedFor, 'it voted for n2').toBe('n2');
      const next = status().electionDeadline!;
      expect(
        next - at,
        `granted at tick ${at}: the new deadline is at least et later`,
      ).toBeGreaterThanOrEqual(ET);
      expect(next - at).toBeLessThan(2 * ET);
      sim.run(ET - 1);
      expect(status().role, 'it does not stand for election right after voting').toBe('follower');
    }
  });
});

describe('Raft node: votes and terms', () => {
  it('grants one vote per term: to the first candidate, again to the same one, never to another', () => {
    const { exchange, status } = bench();
    expect(
      exchange('n2', { type: 'RequestVote', term: 1, candidate: 'n2' }),
      'the first candidate of term 1 gets the vote',
    ).toEqual({
      type: 'VoteReply',
      term: 1,
      granted: true,
    });
    expect(status(), 'the vote is recorded in term 1').toMatchObject({
      term: 1,
      votedFor: 'n2',
      role: 'follower',
    });
    expect(
      exchange('n3', { type: 'RequestVote', term: 1, candidate: 'n3' }),
      'a second candidate of term 1 is refused',
    ).toEqual({
      type: 'VoteReply',
      term: 1,
      granted: false,
    });
    expect(
      exchange('n2', { type: 'RequestVote', term: 1, candidate: 'n2' }),
      'the same candidate asking again gets the same answer',
    ).toEqual({
      type: 'VoteReply',
      term: 1,
      granted: true,
    });
    expect(status().votedFor).toBe('n2');
  });

  it('a higher term clears the vote: a candidate of term 2 gets it even after a vote in term 1', () => {
    const { exchange, status } = bench();
    exchange('n2', { type: 'RequestVote', term: 1, candidate: 'n2' });
    expect(exchange('n3', { type: 'RequestVote', term: 2, candidate: 'n3' })).toEqual({
      type: 'VoteReply',
      term: 2,
      granted: true,
    });
    expect(status()).toMatchObject({ term: 2, votedFor: 'n3', role: 'follower' });
  });

  it('a heartbeat of a higher term clears the vote and makes the node follow its sender', () => {
    const { exchange, status } = bench();
    exchange('n2', { type: 'RequestVote', term: 1, candidate: 'n2' });
    expect(exchange('n3', { type: 'AppendEntries', term: 4, leader: 'n3' })).toEqual({
      type: 'AppendReply',
      term: 4,
      success: true,
    });
    expect(status(), 'term 4, no vote in it yet, n3 as leader').toMatchObject({
      term: 4,
      votedFor: null,
      leader: 'n3',
      role: 'follower',
    });
  });

  it('a crash right after voting: the restarted node remembers its vote and refuses another candidate of that term', () => {
    const { sim, exchange, status, observer } = bench();
    exchange('n2', { type: 'RequestVote', term: 3, candidate: 'n2' });
    sim.crash('n1');
    sim.restart('n1');
    expect(status(), 'recovered: term 3, voted for n2').toMatchObject({
      term: 3,
      votedFor: 'n2',
      role: 'follower',
    });
    expect(
      exchange('n3', { type: 'RequestVote', term: 3, candidate: 'n3' }),
      'no second vote in term 3',
    ).toEqual({
      type: 'VoteReply',
      term: 3,
      granted: false,
    });
    expect(observer.violation).toBeUndefined();
  });

  it('a crash right after adopting a term: the restarted node keeps that term', () => {
    const { sim, exchange, status } = bench();
    exchange('n2', { type: 'AppendEntries', term: 5, leader: 'n2' });
    sim.crash('n1');
    sim.restart('n1');
    expect(status(), 'term 5 survives the crash; the leader it knew does not need to').toMatchObject({
      term: 5,
      role: 'follower',
    });
    expect(
      exchange('n3', { type: 'RequestVote', term: 4, candidate: 'n3' }),
      'a candidate of term 4 is now stale',
    ).toEqual({
      type: 'VoteReply',
      term: 5,
      granted: false,
    });
  });

  it('rejects a stale term: no vote for a lower-term candidate, a failed reply to a lower-term heartbeat', () => {
    const { exchange, status } = bench();
    exchange('n3', { type: 'AppendEntries', term: 2, leader: 'n3' });
    expect(
      exchange('n2', { type: 'RequestVote', term: 1, candidate: 'n2' }),
      'a RequestVote of term 1 in term 2 is refused, with term 2',
    ).toEqual({
      type: 'VoteReply',
      term: 2,
      granted: false,
    });
    expect(
      exchange('n2', { type: 'AppendEntries', term: 1, leader: 'n2' }),
      'a heartbeat of term 1 fails, and says term 2',
    ).toEqual({
      type: 'AppendReply',
      term: 2,
      success: false,
    });
    expect(status(), 'nothing changed: term 2, following n3, no vote').toMatchObject({
      term: 2,
      leader: 'n3',
      votedFor: null,
    });
  });

  it('a candidate refuses other candidates of its own term (it voted for itself)', () => {
    const { exchange, until, status } = bench();
    until('candidate');
    expect(exchange('n2', { type: 'RequestVote', term: 1, candidate: 'n2' })).toEqual({
      type: 'VoteReply',
      term: 1,
      granted: false,
    });
    expect(status()).toMatchObject({ role: 'candidate', votedFor: 'n1' });
  });

  it('a candidate that hears a heartbeat of its own term becomes a follower of its sender', () => {
    const { say, sim, until, status } = bench();
    until('candidate');
    say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
    sim.run(2);
    expect(status()).toMatchObject({ role: 'follower', term: 1, leader: 'n2', votedFor: 'n1' });
  });

  it('a candidate that yielded to a leader of its term ignores a late vote for it', () => {
    const { say, sim, until, status } = bench();
    until('candidate');
    say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
    sim.run(2);
    say('n3', { type: 'VoteReply', term: 1, granted: true });
    sim.run(2);
    expect(status(), 'n2 leads term 1: n1 stays its follower').toMatchObject({
      role: 'follower',
      term: 1,
      leader: 'n2',
    });
  });

  it('a candidate or a leader that sees a higher term becomes a follower in it', () => {
    const candidate = bench();
    candidate.until('candidate');
    candidate.exchange('n2', { type: 'RequestVote', term: 2, candidate: 'n2' });
    expect(candidate.status(), 'the candidate of term 1 votes for n2 in term 2').toMatchObject({
      role: 'follower',
      term: 2,
      votedFor: 'n2',
    });

    const leader = bench();
    const term = leader.elect();
    leader.sim.run(2 * ET);
    leader.exchange('n3', { type: 'VoteReply', term: term + 1, granted: false });
    expect(leader.status(), 'a reply of a higher term deposes the leader').toMatchObject({
      role: 'follower',
      term: term + 1,
      votedFor: null,
    });
    const deadline = leader.status().electionDeadline;
    const now = leader.sim.tick - 1;
    expect(
      deadline,
      'a follower again, it starts its election timer afresh: [et, 2et) from now',
    ).not.toBeNull();
    expect(deadline! - now).toBeGreaterThanOrEqual(ET);
    expect(deadline! - now).toBeLessThan(2 * ET);

    const stale = bench();
    const t = stale.elect();
    expect(stale.exchange('n2', { type: 'AppendEntries', term: t + 3, leader: 'n2' })).toEqual({
      type: 'AppendReply',
      term: t + 3,
      success: true,
    });
    expect(stale.status(), 'a heartbeat of a newer leader makes the stale leader its follower').toMatchObject(
      {
        role: 'follower',
        term: t + 3,
        leader: 'n2',
      },
    );
  });
});

describe('Raft node: winning and leading', () => {
  it('a candidate with votes from a majority becomes leader and sends heartbeats at once and then every heartbeatInterval ticks', () => {
    const { sim, say, until, status, inbox } = bench();
    until('candidate');
    say('n2', { type: 'VoteReply', term: 1, granted: true });
    sim.step();
    sim.step();
    const elected = sim.tick - 1;
    expect(status(), 'its vote and n2 are 2 of 3: leader, with no election deadline').toMatchObject({
      role: 'leader',
      term: 1,
      leader: 'n1',
      electionDeadline: null,
    });
    sim.run(6 * HB);
    for (const peer of ['n2', 'n3']) {
      const ticks = inbox(peer, 'AppendEntries').map((r) => r.tick);
      expect(ticks[0], `the first heartbeat to ${peer} leaves on the tick of the win`).toBe(elected + 1);
      const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!);
      expect(gaps.length).toBeGreaterThanOrEqual(5);
      expect(gaps, `heartbeats to ${peer} every ${HB} ticks`).toEqual(gaps.map(() => HB));
      expect(inbox(peer, 'AppendEntries')[0]!.msg).toEqual({ type: 'AppendEntries', term: 1, leader: 'n1' });
    }
  });

  it('a majority is of the whole cluster, counting its own vote once and each peer once: 3 of 5', () => {
    const { sim, say, until, status } = bench(PLAIN, ['n2', 'n3', 'n4', 'n5']);
    until('candidate');
    say('n2', { type: 'VoteReply', term: 1, granted: true });
    say('n2', { type: 'VoteReply', term: 1, granted: true });
    say('n3', { type: 'VoteReply', term: 1, granted: false });
    sim.run(2);
    expect(status().role, 'its own vote and n2 (twice) are 2 of 5: not yet').toBe('candidate');
    say('n4', { type: 'VoteReply', term: 1, granted: true });
    sim.run(2);
    expect(status().role, 'with n4: 3 of 5').toBe('leader');
  });

  it('votes of an earlier term do not count', () => {
    const { sim, say, until, status } = bench();
    until('candidate');
    sim.run(status().electionDeadline! - sim.tick + 1);
    expect(status().term, 'a second election').toBe(2);
    say('n2', { type: 'VoteReply', term: 1, granted: true });
    sim.run(2);
    expect(status().role, 'a vote of term 1 does not elect a candidate of term 2').toBe('candidate');
  });
});

describe('Raft node: pre-vote', () => {
  const PRE: RaftConfig = { ...PLAIN, preVote: true };

  it('on timeout it becomes a pre-candidate: same term, same vote, PreVote for term + 1 to every peer', () => {
    const { sim, until, status, inbox } = bench(PRE);
    until('pre-candidate');
    expect(status(), 'a pre-candidate has not changed its term or vote').toMatchObject({
      role: 'pre-candidate',
      term: 0,
      votedFor: null,
    });
    sim.run(2);
    for (const peer of ['n2', 'n3']) {
      expect(inbox(peer, 'PreVote').map((r) => r.msg)).toEqual([
        { type: 'PreVote', term: 1, candidate: 'n1' },
      ]);
      expect(inbox(peer, 'RequestVote'), 'no RequestVote before the pre-vote is won').toEqual([]);
    }
  });

  it('with pre-votes from a majority it becomes a candidate of term + 1', () => {
    const { sim, say, until, status, inbox } = bench(PRE);
    until('pre-candidate');
    say('n2', { type: 'PreVoteReply', term: 1, granted: true });
    sim.run(3);
    expect(status()).toMatchObject({ role: 'candidate', term: 1, votedFor: 'n1' });
    expect(inbox('n3', 'RequestVote').map((r) => r.msg)).toEqual([
      { type: 'RequestVote', term: 1, candidate: 'n1' },
    ]);
  });

  it('counts pre-votes like votes: granted ones, of this round, from a majority of the cluster', () => {
    const { sim, say, until, status } = bench(PRE, ['n2', 'n3', 'n4', 'n5']);
    until('pre-candidate');
    say('n2', { type: 'PreVoteReply', term: 1, granted: true });
    say('n3', { type: 'PreVoteReply', term: 0, granted: false });
    sim.run(2);
    expect(status().role, 'itself and n2 are 2 of 5; a refusal is not a pre-vote').toBe('pre-candidate');
    sim.run(status().electionDeadline! - sim.tick + 1);
    expect(status(), 'its timer fired again: a new pre-vote round, same term').toMatchObject({
      role: 'pre-candidate',
      term: 0,
    });
    say('n3', { type: 'PreVoteReply', term: 1, granted: true });
    sim.run(2);
    expect(status().role, "n2's pre-vote was for the last round: itself and n3 are 2 of 5").toBe(
      'pre-candidate',
    );
    say('n4', { type: 'PreVoteReply', term: 1, granted: true });
    sim.run(2);
    expect(status(), 'itself, n3 and n4: 3 of 5').toMatchObject({ role: 'candidate', term: 1 });
    say('n5', { type: 'PreVoteReply', term: 1, granted: true });
    sim.run(2);
    expect(status(), 'a late pre-vote does not start another election').toMatchObject({
      role: 'candidate',
      term: 1,
    });
  });

  it('ignores a pre-vote granted for another term than the one it stands for', () => {
    const { sim, say, until, status } = bench(PRE);
    say('n2', { type: 'AppendEntries', term: 2, leader: 'n2' });
    sim.run(2);
    until('pre-candidate', 4 * ET);
    say('n3', { type: 'PreVoteReply', term: 1, granted: true });
    sim.run(2);
    expect(status(), 'a pre-vote for term 1 does not count for term 3').toMatchObject({
      role: 'pre-candidate',
      term: 2,
    });
  });

  it('a pre-candidate grants a real vote in its term when it has not voted in it', () => {
    const { sim, say, until, exchange, status } = bench(PRE);
    say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
    sim.run(2);
    until('pre-candidate');
    expect(exchange('n3', { type: 'RequestVote', term: 1, candidate: 'n3' })).toEqual({
      type: 'VoteReply',
      term: 1,
      granted: true,
    });
    expect(status()).toMatchObject({ term: 1, votedFor: 'n3' });
  });

  it('a pre-candidate that yielded to a leader ignores a late pre-vote', () => {
    const { sim, say, until, status } = bench(PRE);
    say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
    sim.run(2);
    until('pre-candidate');
    say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
    sim.run(2);
    expect(status()).toMatchObject({ role: 'follower', leader: 'n2' });
    say('n3', { type: 'PreVoteReply', term: 2, granted: true });
    sim.run(2);
    expect(status(), 'n2 leads term 1: no election').toMatchObject({
      role: 'follower',
      term: 1,
      leader: 'n2',
    });
  });

  it('grants a pre-vote for a higher term without changing its own term or vote, and refuses one for its own term', () => {
    const { exchange, status } = bench(PRE);
    exchange('n2', { type: 'RequestVote', term: 2, candidate: 'n2' });
    expect(exchange('n3', { type: 'PreVote', term: 3, candidate: 'n3' })).toEqual({
      type: 'PreVoteReply',
      term: 3,
      granted: true,
    });
    expect(status(), 'a pre-vote changes nothing').toMatchObject({
      term: 2,
      votedFor: 'n2',
      role: 'follower',
    });
    expect(
      exchange('n3', { type: 'PreVote', term: 2, candidate: 'n3' }),
      'term 2 is not newer than its own',
    ).toEqual({
      type: 'PreVoteReply',
      term: 2,
      granted: false,
    });
  });

  it('refuses a pre-vote until et ticks have passed since the last heartbeat, and grants it from then on', () => {
    const { sim, say, inbox } = bench(PRE);
    say('n2', { type: 'AppendEntries', term: 1, leader: 'n2' });
    sim.run(2);
    const heard = sim.tick - 1;
    // What a puppet says at tick t arrives at t + 1: n3's PreVote arrives et - 1 ticks after the
    // heartbeat, n2's et ticks after it.
    sim.run(heard + ET - 2 - sim.tick);
    say('n3', { type: 'PreVote', term: 2, candidate: 'n3' });
    sim.step();
    say('n2', { type: 'PreVote', term: 2, candidate: 'n2' });
    sim.run(3);
    expect(
      inbox('n3', 'PreVoteReply').map((r) => r.msg),
      'heard from n2 et - 1 ticks before: refused',
    ).toEqual([{ type: 'PreVoteReply', term: 1, granted: false }]);
    expect(
      inbox('n2', 'PreVoteReply').map((r) => r.msg),
      'et ticks without a heartbeat: granted',
    ).toEqual([{ type: 'PreVoteReply', term: 2, granted: true }]);
  });

  it('a leader refuses pre-votes', () => {
    const { exchange, elect } = bench(PRE);
    const term = elect();
    expect(exchange('n2', { type: 'PreVote', term: term + 1, candidate: 'n2' })).toEqual({
      type: 'PreVoteReply',
      term,
      granted: false,
    });
  });
});

describe('Raft node: check-quorum', () => {
  const CQ: RaftConfig = { ...PLAIN, checkQuorum: true };

  it('a leader that hears no heartbeat replies steps down within 2·et ticks, in the same term', () => {
    const { sim, elect, status } = bench(CQ);
    const term = elect();
    const at = sim.tick;
    while (status().role === 'leader' && sim.tick - at <= 2 * ET) sim.step();
    expect(status(), 'no replies from n2 or n3: the leader steps down').toMatchObject({
      role: 'follower',
      term,
      leader: null,
    });
    const deadline = status().electionDeadline;
    expect(deadline, 'with its election timer started afresh: [et, 2et) from the step-down').not.toBeNull();
    expect(deadline! - (sim.tick - 1)).toBeGreaterThanOrEqual(ET);
    expect(deadline! - (sim.tick - 1)).toBeLessThan(2 * ET);
  });

  it('a leader whose heartbeats are answered by a majority stays leader', () => {
    const { sim, elect, status, say } = bench(CQ);
    const term = elect();
    for (let i = 0; i < 10 * ET; i++) {
      if (i % HB === 0) say('n2', { type: 'AppendReply', term, success: true });
      sim.step();
    }
    expect(status(), 'n2 answers: with the leader, 2 of 3').toMatchObject({ role: 'leader', term });
  });

  it('without checkQuorum a leader stays leader however silent its peers', () => {
    const { sim, elect, status } = bench();
    const term = elect();
    sim.run(10 * ET);
    expect(status()).toMatchObject({ role: 'leader', term });
  });
});

describe('Raft node: config', () => {
  it('throws a RangeError for a timeout that is not a positive integer or a heartbeat interval not below it', () => {
    const bad: RaftConfig[] = [
      { ...PLAIN, electionTimeout: 0 },
      { ...PLAIN, electionTimeout: 2.5 },
      { ...PLAIN, electionTimeout: Number.NaN },
      { ...PLAIN, heartbeatInterval: ET },
      { ...PLAIN, heartbeatInterval: 0 },
    ];
    for (const config of bad) {
      expect(() => raftNode(config)(undefined as never), JSON.stringify(config)).toThrow(RangeError);
    }
    for (const electionTimeout of [0, 2.5, Number.NaN]) {
      expect(() => raftNode({ ...PLAIN, electionTimeout }), `electionTimeout ${electionTimeout}`).toThrow(
        new RegExp(`electionTimeout.*${electionTimeout}`),
      );
    }
    expect(
      () => raftNode({ ...PLAIN, electionTimeout: -4 }),
      'the message names the option and the value',
    ).toThrow(/electionTimeout.*-4/);
    expect(() => raftNode({ ...PLAIN, heartbeatInterval: 12 })).toThrow(/heartbeatInterval.*12/);
  });
});

describe('Raft node: randomized timeouts', () => {
  /** The ticks at which a lone node (its peers silent) starts its elections, over `ticks` ticks. */
  function electionTicks(seed: number, et: number, ticks: number): { starts: number[] } {
    const { sim, status } = bench(
      { ...PLAIN, electionTimeout: et, heartbeatInterval: 1 },
      ['n2', 'n3'],
      seed,
    );
    const starts: number[] = [];
    let term = 0;
    for (let i = 0; i < ticks; i++) {
      sim.step();
      if (status().term !== term) {
        term = status().term;
        starts.push(sim.tick - 1);
      }
    }
    return { starts };
  }

  it('timeouts fall in [et, 2et) and spread over it (tinykv TestElectionTimeoutRandomized)', () => {
    const et = 10;
    const seen = new Map<number, number>();
    for (let seed = 1; seed <= 40; seed++) {
      const { starts } = electionTicks(seed, et, 50 * et);
      const gaps = starts.map((t, i) => t - (i === 0 ? 0 : starts[i - 1]!));
      for (const gap of gaps) {
        expect(
          gap,
          `seed ${seed}: a timeout of ${gap} ticks is outside [${et}, ${2 * et})`,
        ).toBeGreaterThanOrEqual(et);
        expect(gap).toBeLessThan(2 * et);
        seen.set(gap, (seen.get(gap) ?? 0) + 1);
      }
    }
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(1000);
    for (let timeout = et; timeout < 2 * et; timeout++) {
      const share = (seen.get(timeout) ?? 0) / total;
      expect(
        share,
        `timeout ${timeout}: drawn ${(share * 100) | 0}% of the time; uniform over ${et} values is 10%`,
      ).toBeGreaterThan(0.05);
      expect(share).toBeLessThan(0.15);
    }
  });

  it('two nodes rarely draw the same timeout: at most 0.3 of 1,000 rounds conflict (tinykv TestElectionTimeoutNonconflict)', () => {
    const et = 10;
    let conflicts = 0;
    const observer = new Observer();
    exploreInVitest<RaftMessage>({
      name: 'raft-timeouts-nonconflict',
      count: 1000,
      build: () => ({
        scenario: {
          nodes: {
            a: observed(raftNode({ ...PLAIN, electionTimeout: et }), observer),
            b: observed(raftNode({ ...PLAIN, electionTimeout: et }), observer),
          },
          faults: [{ at: 1, kind: 'partition', name: 'apart', groups: [['a'], ['b']] }],
        },
        ticks: 2 * et,
      }),
      property: (sim) => {
        const a = sim.node<RaftNode>('a')!.status();
        const b = sim.node<RaftNode>('b')!.status();
        if (a.term !== 1 || b.term !== 1)
          return `both nodes should have stood for election once within 2·et ticks: ${JSON.stringify({ a, b })}`;
        if (a.electionDeadline === b.electionDeadline) conflicts++;
        return undefined;
      },
    });
    console.log(`timeouts: ${conflicts} conflicts in 1,000 rounds`);
    expect(
      conflicts / 1000,
      'the second timeouts of two nodes coincide about 1 time in et',
    ).toBeLessThanOrEqual(0.3);
  });
});
