/**
 * `<PartitionSimulator seed={42} mode="async" />`: five replicas of a register on the course's
 * deterministic network simulator (`src/testing/sim/`), run in the browser. The reader draws a
 * partition (each replica on side A or B), heals it, crashes and restarts replicas, has the clients
 * read and write (by hand or at random), steps the clock, and sees the messages in flight, the client
 * history as a timeline and the linearizability checker's verdict, with its witness highlighted. Two
 * replication modes: a majority quorum (linearizable; the minority side times out) and "write locally,
 * replicate async" (stale reads across a partition). Seeded and replayable: the first render is
 * deterministic, so it is safe to server-render.
 */

import Link from '@docusaurus/Link';
import useIsBrowser from '@docusaurus/useIsBrowser';
import { type ReactNode, useCallback, useId, useMemo, useRef, useState } from 'react';
import type { Verdict } from '../../testing/sim/linearizable';
import { toMermaid } from '../../testing/sim/mermaid';
import { register } from '../../testing/sim/models';
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
  ALL_A,
  CLIENTS,
  type Command,
  type Mode,
  NODES,
  type NodeId,
  PartitionRun,
  PRESET,
  QUORUM,
  replay,
  type Side,
  type Sides,
  TIMEOUT,
  timedOperations,
  verdict,
  witnessIds,
} from './model';
import styles from './styles.module.css';

export interface PartitionSimulatorProps {
  /** Seed of the network's delays and the random clients' choices (an integer in [0, 2^32)); default 42. */
  seed?: number;
  /** Replication mode to start in: `quorum` (default) or `async`. */
  mode?: Mode;
}

const MODE_LABEL: Record<Mode, string> = {
  quorum: `majority quorum (${QUORUM} of 5 acks)`,
  async: 'write locally, replicate async',
};
const PRESETS: { value: string; label: string; sides: Sides }[] = [
  { value: 'n1n2', label: '{n1, n2} | {n3, n4, n5}', sides: PRESET },
  { value: 'n1', label: '{n1} | {n2, n3, n4, n5}', sides: { ...ALL_A, n2: 'B', n3: 'B', n4: 'B', n5: 'B' } },
  { value: 'none', label: 'everyone on side A (draw your own)', sides: ALL_A },
];
/** Play steps one tick this often, in ms (only when the reader's system allows motion). */
const PLAY_MS = 450;
/** Checker time limit, in ms of `performance.now()`: past it the verdict is "unknown". */
const CHECK_MS = 1500;

const SIZE = 300;
const CENTER = SIZE / 2;
const round = (n: number) => Math.round(n * 10) / 10;

/** Replica `i`'s position on a pentagon (n1 at the top, clockwise), or its client's, further out. */
function position(index: number, radius: number): [number, number] {
  const angle = (index / NODES.length) * 2 * Math.PI;
  return [round(CENTER + radius * Math.sin(angle)), round(CENTER - radius * Math.cos(angle))];
}

function endpoint(name: string): [number, number] {
  const index = Number(name.slice(1)) - 1;
  return position(index, name.startsWith('n') ? 88 : 132);
}

function verdictText(result: Verdict, operations: number): string {
  if (operations === 0) return 'No operations yet: have a client read or write, or turn on random clients.';
  switch (result.verdict) {
    case 'linearizable':
      return `Linearizable: the ${operations} operations fit one order of a single register.`;
    case 'not linearizable':
      return `Not linearizable: the ${result.witness.length} highlighted operations cannot be put in any order a single register explains.`;
    case 'unknown':
      return 'Unknown: the checker hit its time limit.';
  }
}

/** The picture: replicas on a pentagon, their clients outside, messages in flight as dots. */
function Network({ run }: { run: PartitionRun }): ReactNode {
  const { sim } = run;
  const sides = run.sides;
  const flying = sim.network.inFlight();
  const now = sim.tick;
  return (
    <svg
      className={styles.picture}
      viewBox={`0 0 ${SIZE} ${SIZE}`}
      role="img"
      aria-label={`Five replicas; ${sides ? `partitioned into side A (${NODES.filter((n) => sides[n] === 'A').join(', ')}) and side B (${NODES.filter((n) => sides[n] === 'B').join(', ')})` : 'no partition'}; ${flying.length} message${flying.length === 1 ? '' : 's'} in flight.`}
    >
      {NODES.map((id, index) => {
        const [x1, y1] = position(index, 88);
        const [x2, y2] = position(index, 132);
        return <line key={`link-${id}`} x1={x1} y1={y1} x2={x2} y2={y2} className={styles.link} />;
      })}
      {flying.map((envelope) => {
        const [x1, y1] = endpoint(envelope.from);
        const [x2, y2] = endpoint(envelope.to);
        const span = Math.max(1, envelope.deliverAt - envelope.sentAt);
        const p = Math.min(0.85, Math.max(0.15, (now - envelope.sentAt) / span));
        const toClient = envelope.to.startsWith('c') || envelope.from.startsWith('c');
        return (
          <circle
            key={`${envelope.id}-${envelope.copy}`}
            className={toClient ? styles.msgClient : styles.msg}
            r={4}
            cx={0}
            cy={0}
            style={{ transform: `translate(${round(x1 + (x2 - x1) * p)}px, ${round(y1 + (y2 - y1) * p)}px)` }}
            data-msg={(envelope.msg as { type: string }).type}
          />
        );
      })}
      {NODES.map((id, index) => {
        const [x, y] = position(index, 88);
        const up = sim.isUp(id);
        const side = sides?.[id];
        return (
          <g key={id} data-node={id} data-side={side} data-up={up}>
            <circle
              cx={x}
              cy={y}
              r={22}
              className={`${styles.node} ${side === 'B' ? styles.sideB : side === 'A' ? styles.sideA : ''} ${up ? '' : styles.down}`}
            />
            <text x={x} y={y - 3} className={styles.nodeLabel}>
              {id}
            </text>
            <text x={x} y={y + 11} className={styles.nodeSub}>
              {up ? `= ${JSON.stringify(run.replica(id)?.copy.value ?? null)}` : 'down'}
            </text>
            {side ? (
              <text x={position(index, 54)[0]} y={position(index, 54)[1] + 4} className={styles.sideLabel}>
                {side}
              </text>
            ) : null}
          </g>
        );
      })}
      {CLIENTS.map((id) => {
        const [x, y] = endpoint(id);
        const busy = run.client(id).pending !== undefined;
        return (
          <g key={id}>
            <rect
              x={x - 13}
              y={y - 9}
              width={26}
              height={18}
              rx={3}
              className={busy ? styles.clientBusy : styles.client}
            />
            <text x={x} y={y + 4} className={styles.clientLabel}>
              {id}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** The client history as bars on a tick axis, one row per client; witness bars highlighted. */
function Timeline({ run, witness }: { run: PartitionRun; witness: Set<number> }): ReactNode {
  const { operations, start, end } = timedOperations(run.history);
  const width = 600;
  const row = 22;
  const left = 28;
  const last = Math.max(40, run.tick);
  const x = (tick: number) => round(left + ((width - left - 6) * tick) / last);
  return (
    <svg
      className={styles.timeline}
      viewBox={`0 0 ${width} ${row * CLIENTS.length + 16}`}
      role="img"
      aria-label={`Timeline of ${operations.length} operations over ${run.tick} ticks${witness.size > 0 ? `, ${witness.size} highlighted as the witness` : ''}.`}
    >
      {CLIENTS.map((id, index) => (
        <text key={id} x={2} y={index * row + 15} className={styles.rowLabel}>
          {id}
        </text>
      ))}
      {operations.map((op) => {
        const rowIndex = CLIENTS.indexOf(op.process as (typeof CLIENTS)[number]);
        const x1 = x(start[op.id]!);
        const done = end[op.id];
        const x2 = Math.max(x1 + 4, done === undefined ? x(run.tick) : x(done));
        const label = register.describe(op);
        return (
          <g key={op.id} data-op={op.id} data-witness={witness.has(op.id) || undefined}>
            <title>{`${op.process}: ${label}${op.status === 'info' ? ' (outcome unknown)' : ''}, ticks ${start[op.id]}–${done ?? '…'}`}</title>
            <rect
              x={x1}
              y={rowIndex * row + 3}
              width={round(x2 - x1)}
              height={row - 6}
              rx={2}
              className={`${styles.bar} ${op.status === 'info' ? styles.barInfo : ''} ${witness.has(op.id) ? styles.barWitness : ''}`}
            />
            {x2 - x1 > label.length * 5.5 + 6 ? (
              <text x={x1 + 3} y={rowIndex * row + 15} className={styles.barLabel}>
                {label}
              </text>
            ) : null}
          </g>
        );
      })}
      <text x={left} y={row * CLIENTS.length + 13} className={styles.rowLabel}>
        tick 0
      </text>
      <text x={width - 4} y={row * CLIENTS.length + 13} className={styles.rowLabelEnd}>
        tick {last}
      </text>
    </svg>
  );
}

export default function PartitionSimulator({
  seed: initialSeed = 42,
  mode: initialMode = 'quorum',
}: PartitionSimulatorProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const reducedMotion = useReducedMotion();
  const id = useId();
  const startSeed = startingSeed(initialSeed, 42);
  const [mode, setMode] = useState<Mode>(initialMode === 'async' ? 'async' : 'quorum');
  const [draft, setDraft] = useState<Sides>(ALL_A);
  const [preset, setPreset] = useState('none');
  const [playing, setPlaying] = useState(false);
  const [message, setMessage] = useState('');
  const runRef = useRef<PartitionRun>(new PartitionRun({ seed: startSeed, mode }));
  const [version, rerender] = useRerender();
  const run = runRef.current;

  const { field: seedField, setField: setSeedField, value: seedValue, ok: seedOk } = useSeedField(startSeed);

  const act = (command: Command, done: string, refused: string) => {
    setMessage(run.apply(command) ? done : refused);
    rerender();
  };

  const step = useCallback(
    (ticks: number) => {
      runRef.current.run(ticks);
      rerender();
    },
    [rerender],
  );

  useTicker(playing && !reducedMotion, PLAY_MS, () => step(1));

  // biome-ignore lint/correctness/useExhaustiveDependencies: the run mutates in place; `version` marks each change
  const checked = useMemo(() => {
    const timed = timedOperations(run.history);
    const result =
      typeof performance === 'undefined'
        ? verdict(run.history)
        : verdict(run.history, { timeoutMs: CHECK_MS, now: () => performance.now() });
    return { timed, result, witness: witnessIds(result) };
  }, [run, version]);
  const { timed, result, witness } = checked;
  const ops = timed.operations;

  const rebuild = (seed: number, nextMode: Mode, keep: boolean, text: string) => {
    setPlaying(false);
    runRef.current = keep
      ? replay({ seed, mode: nextMode }, run.actions, run.tick)
      : new PartitionRun({ seed, mode: nextMode });
    setMessage(text);
    rerender();
  };

  // A diagram of the witness's window (or the last 20 ticks), for the diagram viewer.
  const diagram = useMemo(() => {
    const witnessOps = ops.filter((op) => witness.has(op.id));
    const from =
      witnessOps.length > 0
        ? Math.min(...witnessOps.map((op) => timed.start[op.id]!))
        : Math.max(0, run.tick - 20);
    const ends = witnessOps.map((op) => timed.end[op.id] ?? run.tick);
    const to = witnessOps.length > 0 ? Math.max(...ends) : run.tick;
    return toMermaid(run.sim.trace, { from, to, participants: [...CLIENTS, ...NODES] });
  }, [ops, witness, timed, run]);

  const sideOf = (node: NodeId): Side => draft[node];
  const partitioned = run.sides !== undefined;

  return (
    <section
      className={styles.sim}
      aria-label="Partition simulator"
      data-simulator="partition"
      data-hydrated={hydrated || undefined}
      data-mode={mode}
      data-seed={run.config.seed}
      data-tick={run.tick}
      data-history={run.history.length}
      data-operations={ops.length}
      data-verdict={result.verdict}
      data-witness={witness.size}
      data-partitioned={partitioned || undefined}
      data-in-flight={run.sim.network.inFlight().length}
      data-trace-hash={hydrated && !playing ? run.hash() : undefined}
    >
      <div className={styles.controls}>
        <label htmlFor={`${id}-mode`}>
          Replication
          <select
            id={`${id}-mode`}
            value={mode}
            onChange={(e) => {
              const next = e.target.value as Mode;
              setMode(next);
              rebuild(
                run.config.seed,
                next,
                true,
                `Replayed the same ${run.actions.length} actions in ${MODE_LABEL[next]} mode.`,
              );
            }}
          >
            <option value="quorum">{MODE_LABEL.quorum}</option>
            <option value="async">{MODE_LABEL.async}</option>
          </select>
        </label>
        <SeedInput id={`${id}-seed`} max={MAX_SEED} value={seedField} ok={seedOk} onChange={setSeedField} />
        <KitButton
          disabled={!seedOk}
          onClick={() =>
            rebuild(
              seedValue,
              mode,
              true,
              `Replayed ${run.actions.length} actions to tick ${run.tick} with seed ${seedValue}.`,
            )
          }
        >
          Replay
        </KitButton>
        <KitButton
          disabled={!seedOk}
          onClick={() => rebuild(seedValue, mode, false, `New run with seed ${seedValue}.`)}
        >
          Reset
        </KitButton>
      </div>
      {seedOk ? null : (
        <p id={`${id}-seed-error`} className={styles.error}>
          The seed must be a whole number from 0 to {MAX_SEED}.
        </p>
      )}

      <fieldset className={styles.fieldset}>
        <legend>Partition</legend>
        <div className={styles.controls}>
          <label htmlFor={`${id}-preset`}>
            Preset
            <select
              id={`${id}-preset`}
              value={preset}
              onChange={(e) => {
                setPreset(e.target.value);
                setDraft(PRESETS.find((p) => p.value === e.target.value)?.sides ?? ALL_A);
              }}
            >
              {PRESETS.map((p) => (
                <option key={p.value} value={p.value}>
                  {p.label}
                </option>
              ))}
              <option value="custom" disabled>
                custom
              </option>
            </select>
          </label>
          <div className={styles.sides}>
            <span className={styles.sidesLabel}>Press a replica to move it to the other side:</span>
            {NODES.map((node) => (
              <button
                key={node}
                type="button"
                className={`button button--sm ${sideOf(node) === 'B' ? 'button--primary' : 'button--secondary'}`}
                aria-pressed={sideOf(node) === 'B'}
                data-side-toggle={node}
                onClick={() => {
                  setDraft({ ...draft, [node]: sideOf(node) === 'A' ? 'B' : 'A' });
                  setPreset('custom');
                }}
              >
                {node} on side {sideOf(node)}
              </button>
            ))}
          </div>
        </div>
        <div className={styles.buttons}>
          <KitButton
            primary
            data-action="partition"
            onClick={() =>
              act(
                { kind: 'partition', sides: draft },
                `Partitioned at tick ${run.tick}: messages between side A and side B are lost.`,
                'Put at least one replica on each side first.',
              )
            }
          >
            Cut the network
          </KitButton>
          <KitButton
            data-action="heal"
            disabled={!partitioned}
            onClick={() =>
              act({ kind: 'heal' }, `Healed at tick ${run.tick}.`, 'There is no partition to heal.')
            }
          >
            Heal
          </KitButton>
        </div>
      </fieldset>

      <div className={styles.buttons}>
        <KitButton data-action="step" disabled={playing} onClick={() => step(1)}>
          Step 1 tick
        </KitButton>
        <KitButton data-action="run" disabled={playing} onClick={() => step(10)}>
          Run 10 ticks
        </KitButton>
        {reducedMotion ? null : <PlayButton playing={playing} onToggle={() => setPlaying((p) => !p)} />}
        <label className={styles.checkbox} htmlFor={`${id}-workload`}>
          <input
            id={`${id}-workload`}
            type="checkbox"
            checked={run.workload}
            onChange={(e) =>
              act(
                { kind: 'workload', on: e.target.checked },
                e.target.checked
                  ? 'Random clients on: idle clients read or write on some ticks.'
                  : 'Random clients off.',
                '',
              )
            }
          />
          random clients
        </label>
        <span className={styles.clock}>tick {run.tick}</span>
      </div>

      <div className={styles.layout}>
        <Network run={run} />
        <ul className={styles.nodes} aria-label="Replicas and their clients">
          {NODES.map((node, index) => {
            const replica = run.replica(node);
            const client = run.client(CLIENTS[index]!);
            return (
              <li key={node} className={styles.nodeCard} data-node={node} data-up={replica !== undefined}>
                <span>
                  <strong>{node}</strong>{' '}
                  {replica ? `holds ${JSON.stringify(replica.copy.value)}` : 'is down'}
                  {run.sides ? `, side ${run.sides[node]}` : ''}; {CLIENTS[index]}{' '}
                  {client.pending ? `waits for its ${client.pending.f}` : 'is idle'}
                </span>
                <span className={styles.cardButtons}>
                  <KitButton
                    disabled={client.pending !== undefined}
                    onClick={() =>
                      act(
                        { kind: 'op', node, f: 'read' },
                        `${CLIENTS[index]} reads from ${node}.`,
                        'That client is busy.',
                      )
                    }
                  >
                    Read<span className={styles.srOnly}> via {node}</span>
                  </KitButton>
                  <KitButton
                    disabled={client.pending !== undefined}
                    onClick={() =>
                      act(
                        { kind: 'op', node, f: 'write' },
                        `${CLIENTS[index]} writes via ${node}.`,
                        'That client is busy.',
                      )
                    }
                  >
                    Write<span className={styles.srOnly}> via {node}</span>
                  </KitButton>
                  <KitButton
                    onClick={() =>
                      replica
                        ? act(
                            { kind: 'crash', node },
                            `${node} crashed: its memory is gone, its disk is not.`,
                            '',
                          )
                        : act({ kind: 'restart', node }, `${node} restarted from what it persisted.`, '')
                    }
                  >
                    {replica ? 'Crash' : 'Restart'}
                    <span className={styles.srOnly}> {node}</span>
                  </KitButton>
                </span>
              </li>
            );
          })}
        </ul>
      </div>
      <p className={styles.note}>
        Solid blue ring: side A; dashed orange ring: side B; grey dotted: down. Green dots are messages
        between replicas, dark dots messages to and from clients; a green client box is waiting for an answer.
      </p>
      <p className={styles.srOnly} aria-live={playing ? 'off' : 'polite'}>
        {message}
      </p>

      <p className={styles.title} id={`${id}-history`}>
        Client history ({ops.length} operations; a client gives up after {TIMEOUT} ticks and records "info")
      </p>
      <Timeline run={run} witness={witness} />
      <p
        role="status"
        className={`${styles.verdict} ${result.verdict === 'not linearizable' ? styles.bad : ''}`}
        data-verdict-text
      >
        {verdictText(result, ops.length)}
      </p>
      {result.verdict === 'not linearizable' ? (
        <ul className={styles.witness} aria-label="The witness">
          {result.witness.map((op) => (
            <li key={op.id}>
              {op.process}: {register.describe(op)}
              {op.status === 'info' ? ' (outcome unknown)' : ''}, ticks {timed.start[op.id]}–
              {timed.end[op.id] ?? '…'}
            </li>
          ))}
        </ul>
      ) : null}
      <details className={styles.details}>
        <summary>The run as a sequence diagram</summary>
        <p className={styles.note}>
          {witness.size > 0 ? "The witness's ticks" : 'The last 20 ticks'} as mermaid text; paste it into the{' '}
          <Link to="/diagram">diagram viewer</Link>.
        </p>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (axe scrollable-region-focusable) */}
        <pre className={styles.pre} tabIndex={0}>
          {diagram}
        </pre>
      </details>
      <p className={styles.note}>
        Seed {run.config.seed}, {run.actions.length} actions: Replay rebuilds this run tick for tick. Messages
        take 1 to 3 ticks; clients c1 to c5 each talk to their own replica.
        {reducedMotion
          ? ' Your system asks for reduced motion, so the picture moves one step at a time.'
          : ''}
      </p>
    </section>
  );
}
