import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../../solutions/12-distributed/raft-election/raft';
import { Prng } from '../../testing/sim/prng';
import type { NodeFactory } from '../../testing/sim/simulation';
import { ELECTION_TIMEOUT, messageKind, NODES, type NodeId, RaftRun } from './model';

/** Runs until a live leader exists (at most `limit` ticks); returns it, or null. */
function untilLeader(run: RaftRun, limit = 20 * ELECTION_TIMEOUT): NodeId | null {
  for (let i = 0; i < limit && run.snapshot().leader === null; i++) run.step();
  return run.snapshot().leader;
}

/** A term's leader once every live node agrees on it. */
function agreed(run: RaftRun): boolean {
  const { nodes, leader, term } = run.snapshot();
  return (
    leader !== null &&
    nodes.every((n) => !n.up || (n.term === term && (n.id === leader || n.leader === leader)))
  );
}

describe('RaftRun', () => {
  it('is deterministic per seed: same seed and actions, same trace and log', () => {
    const play = (seed: number) => {
      const run = new RaftRun({ seed });
      run.run(40);
      const leader = run.snapshot().leader ?? 'n1';
      run.crash(leader);
      run.run(40);
      run.isolate('n2');
      run.run(30);
      run.heal();
      run.restart(leader);
      run.run(30);
      return { hash: run.hash(), events: run.events.map((e) => `t${e.tick} ${e.text}`) };
    };
    expect(play(42)).toEqual(play(42));
    expect(play(42).hash).not.toBe(play(43).hash);
  });

  it('elects one leader that every node follows, within 10 election timeouts, over 50 seeds', () => {
    for (let seed = 0; seed < 50; seed++) {
      const run = new RaftRun({ seed });
      const leader = untilLeader(run, 10 * ELECTION_TIMEOUT);
      expect(leader, `seed ${seed}`).not.toBeNull();
      run.run(2 * ELECTION_TIMEOUT);
      expect(agreed(run), `seed ${seed}: the cluster agrees on one leader`).toBe(true);
      expect(
        run.events.some((e) => e.kind === 'win' && e.text.startsWith(`${run.snapshot().leader} wins term`)),
      ).toBe(true);
      expect(run.safety).toBe('ok');
    }
  });

  it('says who won with which votes, and who timed out first', () => {
    const run = new RaftRun({ seed: 42 });
    untilLeader(run);
    const win = run.events.find((e) => e.kind === 'win')!;
    expect(win.text).toMatch(/^n\d wins term \d+ with votes (n\d ){2,4}n\d$/);
    const votes = win.text.split('with votes ')[1]!.split(' ');
    expect(votes.length).toBeGreaterThanOrEqual(3);
    expect(run.events.find((e) => e.kind === 'timeout')!.text).toMatch(
      /^n\d times out, term \d+, asks for votes$/,
    );
  });

  it('after the leader crashes, elects a new leader in a higher term', () => {
    for (let seed = 0; seed < 30; seed++) {
      const run = new RaftRun({ seed });
      const first = untilLeader(run)!;
      run.run(ELECTION_TIMEOUT);
      const { term } = run.snapshot();
      expect(run.crash(first)).toBe(true);
      expect(run.crash(first), 'a node that is down cannot crash again').toBe(false);
      const second = untilLeader(run);
      expect(second, `seed ${seed}`).not.toBeNull();
      expect(second).not.toBe(first);
      expect(run.snapshot().term).toBeGreaterThan(term);
      // The old leader comes back as a follower of the new term.
      expect(run.restart(first)).toBe(true);
      run.run(3 * ELECTION_TIMEOUT);
      expect(run.status(first)?.role).toBe('follower');
      expect(run.safety).toBe('ok');
    }
  });

  /** Isolates a follower for 30 election timeouts, heals, and reports the terms around it. */
  function isolateFollower(seed: number, preVote: boolean) {
    const run = new RaftRun({ seed, preVote });
    const leader = untilLeader(run)!;
    run.run(2 * ELECTION_TIMEOUT);
    const before = run.snapshot().term;
    const follower = NODES.find((id) => id !== leader)!;
    run.isolate(follower);
    run.run(30 * ELECTION_TIMEOUT);
    const isolatedTerm = run.status(follower)!.term;
    const leaderBeforeHeal = run.snapshot().leader;
    const stepDownsBefore = run.events.filter((e) => e.kind === 'step-down').length;
    run.heal();
    run.run(10 * ELECTION_TIMEOUT);
    return {
      leader,
      before,
      isolatedTerm,
      leaderBeforeHeal,
      after: run.snapshot(),
      stepDowns: run.events.filter((e) => e.kind === 'step-down').length - stepDownsBefore,
      run,
    };
  }

  it('with pre-vote, an isolated follower keeps its term and its rejoin does not depose the leader', () => {
    for (let seed = 0; seed < 20; seed++) {
      const r = isolateFollower(seed, true);
      expect(r.isolatedTerm, `seed ${seed}: the isolated node's term`).toBe(r.before);
      expect(r.leaderBeforeHeal).toBe(r.leader);
      expect(r.stepDowns, `seed ${seed}: step-downs after the heal`).toBe(0);
      expect(r.after.leader).toBe(r.leader);
      expect(r.after.term).toBe(r.before);
      expect(r.run.events.some((e) => e.kind === 'pre-vote')).toBe(true);
      expect(r.run.safety).toBe('ok');
    }
  });

  it('without pre-vote, the isolated follower’s term runs away and its rejoin deposes the leader (the lesson)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const r = isolateFollower(seed, false);
      expect(r.isolatedTerm, `seed ${seed}: the isolated node's term`).toBeGreaterThan(r.before + 5);
      expect(r.leaderBeforeHeal).toBe(r.leader);
      expect(r.stepDowns, `seed ${seed}: the leader steps down on the higher term`).toBeGreaterThan(0);
      expect(r.after.leader).not.toBeNull();
      expect(r.after.term).toBeGreaterThanOrEqual(r.isolatedTerm);
      expect(r.run.safety).toBe('ok');
    }
  });

  it.each([false, true])(
    'reports split votes in words when two candidates share a term (pre-vote %s)',
    (preVote) => {
      const split = [];
      for (let seed = 0; seed < 200 && split.length === 0; seed++) {
        const run = new RaftRun({ seed, preVote });
        run.run(100);
        split.push(...run.events.filter((e) => e.kind === 'split'));
      }
      expect(split.length).toBeGreaterThan(0);
      expect(split[0]!.text).toMatch(
        /^(two|three|four|five) candidates \((n\d, )+n\d\) split the vote in term \d+: none got 3 of 5$/,
      );
    },
  );

  it('turning pre-vote on starts a fresh run from the same seed, and says so', () => {
    const run = new RaftRun({ seed: 7 });
    run.run(50);
    expect(run.setPreVote(true)).toBe(true);
    expect(run.tick).toBe(0);
    expect(run.preVote).toBe(true);
    expect(run.events.map((e) => e.text)).toEqual([
      "pre-vote on: a fresh run from seed 7 at tick 0 (the nodes' configuration changed)",
    ]);
    expect(run.setPreVote(true)).toBe(false);
  });

  it('refuses actions that cannot be done, and draws messages in flight', () => {
    const run = new RaftRun({ seed: 3 });
    expect(run.heal()).toBe(false);
    expect(run.restart('n1')).toBe(false);
    expect(run.partition([['n1'], ['n1', 'n2']])).toBe(false);
    expect(run.partition([NODES.slice()])).toBe(false);
    expect(run.partition([['n1', 'n2']])).toBe(true);
    expect(run.snapshot().groups).toEqual([
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ]);
    untilLeader(run);
    run.step();
    const kinds = new Set<string>();
    for (let i = 0; i < 30; i++, run.step()) for (const m of run.snapshot().messages) kinds.add(m.kind);
    expect(kinds).toContain('heartbeat');
    expect(kinds).toContain('heartbeat-reply');
    expect(kinds).not.toContain('other');
  });

  it('shows each election timer draining towards its deadline, and none for a leader or a node that is down', () => {
    const run = new RaftRun({ seed: 5 });
    const leader = untilLeader(run)!;
    run.crash(NODES.find((id) => id !== leader)!);
    for (let i = 0; i < 40; i++, run.step()) {
      for (const n of run.snapshot().nodes) {
        if (!n.up || n.role === 'leader') {
          expect(n.timerLeft).toBeNull();
          continue;
        }
        expect(n.ticksLeft).toBe(Math.max(0, n.electionDeadline! - run.tick));
        expect(n.timerLeft).toBeGreaterThanOrEqual(0);
        expect(n.timerLeft).toBeLessThanOrEqual(1);
      }
    }
  });

  it('classifies every message type of the solution', () => {
    const kinds = new Set<string>();
    for (const preVote of [false, true]) {
      const run = new RaftRun({ seed: 11, preVote });
      for (let i = 0; i < 300; i++) {
        if (i === 50) run.crash(run.snapshot().leader ?? 'n1');
        run.step();
        for (const m of run.snapshot().messages) kinds.add(m.kind);
      }
    }
    for (const kind of [
      'vote-request',
      'vote-granted',
      'pre-vote-request',
      'pre-vote-granted',
      'heartbeat',
      'heartbeat-reply',
    ])
      expect(kinds).toContain(kind);
    expect(kinds).not.toContain('other');
    expect(messageKind({ type: 'Nonsense', term: 1 } as unknown as RaftMessage)).toBe('other');
  });

  it('never sees two leaders in one term over 200 seeds of random clicks', () => {
    let leaders = 0;
    for (let seed = 0; seed < 200; seed++) {
      const clicks = new Prng(seed).fork('clicks');
      const run = new RaftRun({ seed, preVote: clicks.chance(0.5) });
      for (let round = 0; round < 12; round++) {
        const id = clicks.pick(NODES);
        switch (clicks.int(0, 5)) {
          case 0:
            run.crash(run.snapshot().leader ?? id);
            break;
          case 1:
            run.restart(id);
            break;
          case 2:
            run.isolate(id);
            break;
          case 3:
            run.partition([NODES.filter(() => clicks.chance(0.5))]);
            break;
          case 4:
            run.heal();
            break;
          default:
            run.crash(id);
        }
        run.run(clicks.int(1, 40));
        expect(run.safety, `seed ${seed}, round ${round}`).toBe('ok');
      }
      leaders += run.leaders.size;
    }
    expect(leaders).toBeGreaterThan(200);
  });

  it('trips the safety flag when an implementation lets two leaders share a term', () => {
    // Every node declares itself leader of term 1 at its first tick: the check must notice.
    const usurper = (): NodeFactory<RaftMessage> => () => {
      let role: 'follower' | 'leader' = 'follower';
      return {
        onMessage() {},
        onTick() {
          role = 'leader';
        },
        status: () => ({ role, term: 1, votedFor: null, leader: null, electionDeadline: null }),
      };
    };
    const run = new RaftRun({ seed: 1, factory: usurper });
    expect(run.safety).toBe('ok');
    run.step();
    expect(run.safety).toBe('violated');
    expect(run.snapshot().safety).toBe('violated');
    expect(run.events.find((e) => e.kind === 'safety')?.text).toBe(
      'ELECTION SAFETY VIOLATED: n1 and n2 are both leaders of term 1',
    );
  });
});
