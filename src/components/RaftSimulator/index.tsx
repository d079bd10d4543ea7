/**
 * `<RaftSimulator seed={42} preVote />`: Raft's leader election, in the spirit of RaftScope
 * (raft.github.io) but seeded, tick-driven and honest: five nodes run the course's reference solution
 * of the `raft-election` exercise on the course's deterministic simulator (`src/testing/sim/`), in the
 * browser. The reader plays or steps the clock, crashes and restarts nodes, isolates one, heals the
 * network and turns pre-vote on or off, and sees each node's role, term, vote and draining election
 * timer, the messages in flight, an event log in words and the Election Safety check. The first render
 * is deterministic, so it is safe to server-render.
 */

import useIsBrowser from '@docusaurus/useIsBrowser';
import { type ReactNode, useCallback, useId, useMemo, useRef, useState } from 'react';
import { KitButton, PlayButton, SeedInput } from '../SimulatorKit/Controls';
import {
  MAX_SEED,
  startingSeed,
  useReducedMotion,
  useRerender,
  useSeedField,
  useTicker,
} from '../SimulatorKit/hooks';
import {
  ELECTION_TIMEOUT,
  HEARTBEAT_INTERVAL,
  MAJORITY,
  type MessageKind,
  type MessageView,
  NODES,
  type NodeId,
  type NodeView,
  RaftRun,
} from './model';
import styles from './styles.module.css';

export interface RaftSimulatorProps {
  /** Seed of the election timeouts and the wire's delays (an integer in [0, 2^32)); default 42. */
  seed?: number;
  /** Start with pre-vote on; default false. */
  preVote?: boolean;
}

/** Ticks per second when playing. */
const SPEEDS = [1, 2, 4, 8] as const;
/** Events shown (the model keeps more). */
const LOG_SHOWN = 12;

const SIZE = 320;
const CENTER = SIZE / 2;
const RADIUS = 118;
const NODE_R = 28;
const RING_R = 34;
const RING = 2 * Math.PI * RING_R;
const round = (n: number) => Math.round(n * 10) / 10;

function position(id: NodeId): [number, number] {
  const angle = (NODES.indexOf(id) / NODES.length) * 2 * Math.PI;
  return [round(CENTER + RADIUS * Math.sin(angle)), round(CENTER - RADIUS * Math.cos(angle))];
}

const ROLE_WORD: Record<NodeView['role'] | 'down', string> = {
  follower: 'follower',
  'pre-candidate': 'pre-candidate',
  candidate: 'candidate',
  leader: 'leader',
  down: 'down',
};
/** Short role words that fit inside a node's circle. */
const ROLE_SHORT: Record<NodeView['role'] | 'down', string> = {
  follower: 'follower',
  'pre-candidate': 'pre-cand.',
  candidate: 'candidate',
  leader: 'LEADER',
  down: 'down',
};

const KIND_WORD: Record<MessageKind, string> = {
  'vote-request': 'RequestVote',
  'vote-granted': 'vote granted',
  'vote-refused': 'vote refused',
  'pre-vote-request': 'PreVote request',
  'pre-vote-granted': 'pre-vote granted',
  'pre-vote-refused': 'pre-vote refused',
  heartbeat: 'heartbeat (AppendEntries)',
  'heartbeat-reply': 'heartbeat reply',
  other: 'message',
};

const ROLE_CLASS: Record<NodeView['role'] | 'down', string | undefined> = {
  follower: styles.follower,
  'pre-candidate': styles.preCandidate,
  candidate: styles.candidate,
  leader: styles.leader,
  down: styles.down,
};

function roleOf(node: NodeView): NodeView['role'] | 'down' {
  return node.up ? node.role : 'down';
}

/** A message's glyph, drawn around (0, 0): circles for heartbeats, squares and diamonds for votes, triangles for pre-votes. */
function Glyph({ kind }: { kind: MessageKind }): ReactNode {
  switch (kind) {
    case 'heartbeat':
      return <circle r={4} className={styles.gHeartbeat} />;
    case 'heartbeat-reply':
      return <circle r={3.5} className={styles.gHollow} />;
    case 'vote-request':
      return <rect x={-4.5} y={-4.5} width={9} height={9} className={styles.gVote} />;
    case 'vote-granted':
      return <path d="M0 -6 L6 0 L0 6 L-6 0 Z" className={styles.gGranted} />;
    case 'vote-refused':
      return <path d="M0 -6 L6 0 L0 6 L-6 0 Z" className={styles.gRefused} />;
    case 'pre-vote-request':
      return <path d="M0 -6 L6 5 L-6 5 Z" className={styles.gPre} />;
    case 'pre-vote-granted':
      return <path d="M0 6 L6 -5 L-6 -5 Z" className={styles.gGranted} />;
    case 'pre-vote-refused':
      return <path d="M0 6 L6 -5 L-6 -5 Z" className={styles.gRefused} />;
    default:
      return <circle r={3} className={styles.gHollow} />;
  }
}

const LEGEND: MessageKind[] = [
  'heartbeat',
  'heartbeat-reply',
  'vote-request',
  'vote-granted',
  'vote-refused',
  'pre-vote-request',
  'pre-vote-granted',
  'pre-vote-refused',
];

function Picture({
  nodes,
  messages,
  groups,
  moveMs,
}: {
  nodes: readonly NodeView[];
  messages: readonly MessageView[];
  groups: readonly (readonly NodeId[])[] | null;
  moveMs: number;
}): ReactNode {
  const groupOf = (id: NodeId) => (groups ? groups.findIndex((g) => g.includes(id)) : 0);
  const edges: [NodeId, NodeId][] = [];
  NODES.forEach((a, i) => {
    for (const b of NODES.slice(i + 1)) edges.push([a, b]);
  });
  const transition = moveMs > 0 ? `transform ${moveMs}ms linear` : 'none';
  const ringTransition = moveMs > 0 ? `stroke-dasharray ${moveMs}ms linear` : 'none';
  const leader = nodes.find((n) => n.up && n.role === 'leader');
  return (
    <svg
      className={styles.picture}
      viewBox={`0 0 ${SIZE} ${SIZE}`}
      role="img"
      aria-label={`Five Raft nodes on a circle. ${nodes
        .map((n) => `${n.id}: ${n.up ? `${n.role}, term ${n.term}` : 'down'}`)
        .join(
          '; ',
        )}. ${leader ? `Leader ${leader.id}.` : 'No leader.'} ${messages.length} message${messages.length === 1 ? '' : 's'} in flight.`}
    >
      {edges.map(([a, b]) => {
        const [x1, y1] = position(a);
        const [x2, y2] = position(b);
        const cut = groupOf(a) !== groupOf(b);
        return (
          <line
            key={`${a}-${b}`}
            x1={x1}
            y1={y1}
            x2={x2}
            y2={y2}
            className={cut ? styles.edgeCut : styles.edge}
          />
        );
      })}
      {messages.map((m) => {
        const [ax, ay] = position(m.from);
        const [bx, by] = position(m.to);
        // Along the edge between the two timer rings, so a dot never hides a node's words.
        const length = Math.hypot(bx - ax, by - ay);
        const gap = (RING_R + 4) / length;
        const at = gap + (1 - 2 * gap) * m.progress;
        return (
          <g
            key={m.key}
            data-msg={m.kind}
            style={{
              transform: `translate(${round(ax + (bx - ax) * at)}px, ${round(ay + (by - ay) * at)}px)`,
              transition,
            }}
          >
            <title>{`${KIND_WORD[m.kind]}, term ${m.term}, ${m.from} → ${m.to}`}</title>
            <Glyph kind={m.kind} />
          </g>
        );
      })}
      {nodes.map((n) => {
        const [x, y] = position(n.id);
        const role = roleOf(n);
        return (
          <g key={n.id} data-node={n.id} data-role={role}>
            {n.timerLeft !== null ? <circle cx={x} cy={y} r={RING_R} className={styles.ringTrack} /> : null}
            {n.timerLeft !== null ? (
              <circle
                cx={x}
                cy={y}
                r={RING_R}
                className={styles.ring}
                transform={`rotate(-90 ${x} ${y})`}
                style={{
                  strokeDasharray: `${round(RING * n.timerLeft)} ${round(RING)}`,
                  transition: ringTransition,
                }}
              />
            ) : null}
            <circle cx={x} cy={y} r={NODE_R} className={`${styles.node} ${ROLE_CLASS[role] ?? ''}`} />
            <text x={x} y={y - 9} className={styles.nodeId}>
              {n.id}
            </text>
            <text x={x} y={y + 3} className={styles.nodeRole}>
              {ROLE_SHORT[role]}
            </text>
            <text x={x} y={y + 14} className={styles.nodeSub}>
              {`T${n.term}${n.votedFor ? ` ✓${n.votedFor}` : ''}`}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

export default function RaftSimulator({
  seed: initialSeed = 42,
  preVote = false,
}: RaftSimulatorProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const reducedMotion = useReducedMotion();
  const id = useId();
  const startSeed = startingSeed(initialSeed, 42);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState<number>(4);
  const runRef = useRef<RaftRun | null>(null);
  if (runRef.current === null) runRef.current = new RaftRun({ seed: startSeed, preVote });
  const [version, rerender] = useRerender();
  const run = runRef.current;

  const { field: seedField, setField: setSeedField, value: seedValue, ok: seedOk } = useSeedField(startSeed);

  const step = useCallback(() => {
    runRef.current?.step();
    rerender();
  }, [rerender]);

  useTicker(playing, 1000 / speed, step);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the run mutates in place; `version` marks each change
  const snap = useMemo(() => run.snapshot(), [run, version]);
  const events = run.events.slice(-LOG_SHOWN);

  const act = (done: boolean) => {
    if (done) rerender();
  };
  const fresh = (seed: number, pre: boolean) => {
    setPlaying(false);
    runRef.current = new RaftRun({ seed, preVote: pre });
    rerender();
  };
  const moveMs = playing && !reducedMotion ? Math.round(1000 / speed) : 0;

  return (
    <section
      className={styles.sim}
      aria-label="Raft leader election simulator"
      data-simulator="raft"
      data-hydrated={hydrated || undefined}
      data-seed={run.seed}
      data-prevote={run.preVote}
      data-tick={snap.tick}
      data-leader={snap.leader ?? ''}
      data-term={snap.term}
      data-safety={snap.safety}
      data-in-flight={snap.messages.length}
      data-playing={playing || undefined}
    >
      <div className={styles.controls}>
        <PlayButton primary data-action="play" playing={playing} onToggle={() => setPlaying((p) => !p)} />
        <KitButton data-action="step" disabled={playing} onClick={step}>
          Step 1 tick
        </KitButton>
        <label htmlFor={`${id}-speed`}>
          Speed
          <select id={`${id}-speed`} value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s} tick{s === 1 ? '' : 's'}/s
              </option>
            ))}
          </select>
        </label>
        <span className={styles.clock}>tick {snap.tick}</span>
      </div>
      <div className={styles.controls}>
        <SeedInput id={`${id}-seed`} max={MAX_SEED} value={seedField} ok={seedOk} onChange={setSeedField} />
        <KitButton data-action="reset" disabled={!seedOk} onClick={() => fresh(seedValue, run.preVote)}>
          New run
        </KitButton>
        <label className={styles.checkbox} htmlFor={`${id}-prevote`}>
          <input
            id={`${id}-prevote`}
            type="checkbox"
            checked={run.preVote}
            onChange={(e) => {
              setPlaying(false);
              act(run.setPreVote(e.target.checked));
            }}
          />
          pre-vote (starts a fresh run)
        </label>
        <KitButton data-action="heal" disabled={snap.groups === null} onClick={() => act(run.heal())}>
          Heal the network
        </KitButton>
      </div>
      {seedOk ? null : (
        <p id={`${id}-seed-error`} className={styles.error}>
          The seed must be a whole number from 0 to {MAX_SEED}.
        </p>
      )}

      <div className={styles.layout}>
        <Picture nodes={snap.nodes} messages={snap.messages} groups={snap.groups} moveMs={moveMs} />
        <ul className={styles.nodes} aria-label="The nodes">
          {snap.nodes.map((n) => {
            const role = roleOf(n);
            const isolated = snap.groups?.some((g) => g.length === 1 && g[0] === n.id) ?? false;
            return (
              <li
                key={n.id}
                className={styles.card}
                data-node={n.id}
                data-role={role}
                data-term={n.term}
                data-up={n.up}
              >
                <span>
                  <strong>{n.id}</strong> {ROLE_WORD[role]}
                  {n.up ? (
                    <>
                      , term {n.term}, voted {n.votedFor ?? 'for no one'}
                      {n.role !== 'leader' && n.leader ? `, follows ${n.leader}` : ''}
                      {n.ticksLeft !== null ? `, times out in ${n.ticksLeft}` : ''}
                    </>
                  ) : (
                    `; on disk: term ${n.term}, vote ${n.votedFor ?? 'none'}`
                  )}
                  {isolated ? ' (isolated)' : ''}
                </span>
                <span className={styles.cardButtons}>
                  <KitButton
                    data-crash={n.id}
                    onClick={() => act(n.up ? run.crash(n.id) : run.restart(n.id))}
                  >
                    {n.up ? 'Crash' : 'Restart'}
                    <span className={styles.srOnly}> {n.id}</span>
                  </KitButton>
                  <KitButton data-isolate={n.id} disabled={isolated} onClick={() => act(run.isolate(n.id))}>
                    Isolate<span className={styles.srOnly}> {n.id}</span>
                  </KitButton>
                </span>
              </li>
            );
          })}
        </ul>
      </div>

      <ul className={styles.legend} aria-label="Message shapes">
        {LEGEND.map((kind) => (
          <li key={kind}>
            <svg width={14} height={14} viewBox="-7 -7 14 14" aria-hidden="true">
              <Glyph kind={kind} />
            </svg>{' '}
            {KIND_WORD[kind]}
          </li>
        ))}
      </ul>
      <p className={styles.note}>
        Inside each node: its role in words, its term (T) and whom it voted for (✓). The ring around a
        follower or candidate is its election timer draining; a leader has none. Lines drawn dashed and red
        are cut by a partition. Election timeout {ELECTION_TIMEOUT} to {2 * ELECTION_TIMEOUT - 1} ticks,
        heartbeats every {HEARTBEAT_INTERVAL}, messages take 1 to 3 ticks; a candidate needs {MAJORITY} of 5
        votes. CheckQuorum is on: a leader that hears from no majority for an election timeout steps down.
      </p>

      <p className={`${styles.safety} ${snap.safety === 'ok' ? '' : styles.bad}`} data-safety-text>
        {snap.safety === 'ok'
          ? `Election Safety holds: never two leaders in one term (${run.leaders.size} term${run.leaders.size === 1 ? '' : 's'} with a leader so far; checked after every message).`
          : 'Election Safety VIOLATED: two leaders in one term (see the log).'}
      </p>

      <p className={styles.title} id={`${id}-log`}>
        What happened (the last {LOG_SHOWN} events)
      </p>
      <div role="log" aria-live="polite" aria-labelledby={`${id}-log`}>
        <ol className={styles.log}>
          {events.length === 0 ? (
            <li className={styles.logQuiet}>Nothing yet: press Play or Step.</li>
          ) : (
            events.map((e) => (
              <li key={e.seq} data-event={e.kind}>
                <span className={styles.logTick}>t{e.tick}</span> {e.text}
              </li>
            ))
          )}
        </ol>
      </div>
      <p className={styles.note}>
        Seed {run.seed}, pre-vote {run.preVote ? 'on' : 'off'}. The nodes run the reference solution of the
        raft-election exercise; the same seed and the same clicks at the same ticks give the same run.
        {reducedMotion ? ' Your system asks for reduced motion, so messages jump from tick to tick.' : ''}
      </p>
    </section>
  );
}
