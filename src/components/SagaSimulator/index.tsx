/**
 * `<SagaSimulator seed={42} failAt="payment" />`: chapter 14's order saga (reserve stock → charge
 * payment → create shipment; release stock and refund as compensations) run step by step in the
 * browser on the `order-saga` reference solution's state machine. The reader picks the failing step,
 * a timeout instead of a refusal, killing the orchestrator after a step (then Resume), a retried
 * compensation and whether charges are idempotent, and watches the services' lanes, the persisted saga
 * log grow, the balances return to zero on compensation, and what the customer sees, in words.
 * Seeded and deterministic: the first render is the same everywhere, so it is safe to server-render.
 */

import useIsBrowser from '@docusaurus/useIsBrowser';
import { type CSSProperties, type ReactNode, useCallback, useEffect, useId, useState } from 'react';
import { KitButton, PlayButton, SeedInput } from '../SimulatorKit/Controls';
import { MAX_SEED, startingSeed, useReducedMotion, useSeedField } from '../SimulatorKit/hooks';
import {
  advance,
  balanced,
  CALL_TIMEOUT_MS,
  canAdvance,
  customerSees,
  ended,
  FAIL_AT,
  type FailAt,
  type FailMode,
  kill,
  type LaneNote,
  laneSays,
  type Message,
  money,
  outcome,
  resume,
  runToEnd,
  type SagaOptions,
  type SagaWorld,
  SERVICES,
  type Service,
  start,
} from './model';
import styles from './styles.module.css';

export interface SagaSimulatorProps {
  /** Seed of the order and the wire's delays (an integer in [0, 2^32)); default 42. */
  seed?: number;
  /** The step to fail at the start: `none` (default), `stock`, `payment` or `shipment`. */
  failAt?: FailAt;
  /** `fail` (the service refuses; default) or `timeout` (its reply is lost). */
  failMode?: FailMode;
}

/** Play takes one step this often, in ms. */
const PLAY_MS = 900;
const FAIL_WORDS: Record<FailAt, string> = {
  none: 'none',
  stock: 'stock',
  payment: 'payment',
  shipment: 'shipment',
};
/** "After step k": right after step k's first call reaches its service, before its outcome is recorded. */
const KILL_WORDS = [
  'never',
  'after step 1 (reserve stock)',
  'after step 2 (charge payment)',
  'after step 3 (create shipment)',
] as const;
const LANES: ('orchestrator' | Service)[] = ['orchestrator', ...SERVICES];
const LANE_TITLE: Record<'orchestrator' | Service, string> = {
  orchestrator: 'Orches\u00adtrator',
  stock: 'Stock',
  payment: 'Payment',
  shipping: 'Shipping',
};

const STATUS_WORDS: Record<Message['status'], string> = {
  flying: 'on the wire',
  delivered: '',
  lost: 'lost',
  ignored: 'no one waits for it: dropped',
};

/** One message as an arrow between the orchestrator's lane and its service's lane. */
function MessageRow({ m }: { m: Message }): ReactNode {
  const lane = SERVICES.indexOf(m.service) + 2; // grid column of the service (the orchestrator is 1)
  const request = m.kind === 'request';
  const status = STATUS_WORDS[m.status];
  const style = { gridColumn: `1 / ${lane + 1}`, '--cols': lane } as CSSProperties;
  const className = [
    styles.arrow,
    request ? styles.right : styles.left,
    m.status === 'lost' ? styles.lost : '',
    m.status === 'flying' ? styles.flying : '',
    m.status === 'ignored' ? styles.ignored : '',
    m.reply?.duplicate ? styles.duplicate : '',
    m.reply && !m.reply.ok ? styles.refused : '',
  ].join(' ');
  return (
    <li className={className} style={style} data-message={m.kind} data-call={m.action} data-status={m.status}>
      <span className={styles.arrowLabel}>
        <span className={styles.time}>{m.sentAt} ms</span> {request ? '→' : '←'} {m.label}
        {request ? (
          <span className={styles.key}>
            {' '}
            key {m.key}
            {m.attempt > 1 ? `, attempt ${m.attempt}` : ''}
          </span>
        ) : null}
        {status ? <strong className={styles.statusWord}> ({status})</strong> : null}
      </span>
    </li>
  );
}

const NOTE_LOOK: Record<LaneNote['kind'], { className: string | undefined; mark: string }> = {
  timeout: { className: styles.timedOut, mark: '⏱' },
  killed: { className: styles.killed, mark: '✖' },
  resumed: { className: styles.resumed, mark: '▶' },
};

function NoteRow({ note }: { note: LaneNote }): ReactNode {
  const look = NOTE_LOOK[note.kind];
  return (
    <li className={`${styles.note} ${look.className ?? ''}`} data-note={note.kind}>
      <span className={styles.time}>{note.at} ms</span> <span aria-hidden="true">{look.mark}</span>{' '}
      {note.text}
    </li>
  );
}

function Lanes({ world }: { world: SagaWorld }): ReactNode {
  const says = laneSays(world);
  const rows: ReactNode[] = [];
  const notes = [...world.notes];
  const flushNotes = (afterMessage: number) => {
    while (notes.length > 0 && (notes[0] as LaneNote).afterMessage === afterMessage) {
      const note = notes.shift() as LaneNote;
      rows.push(<NoteRow key={`note-${rows.length}`} note={note} />);
    }
  };
  flushNotes(-1);
  for (const m of world.messages) {
    rows.push(<MessageRow key={`m-${m.id}`} m={m} />);
    flushNotes(m.id);
  }
  for (const note of notes) rows.push(<NoteRow key={`note-${rows.length}`} note={note} />);
  return (
    <div className={styles.lanesBox}>
      <ul className={styles.laneHeads} aria-label="The lanes and what each holds now">
        {LANES.map((lane) => (
          <li key={lane} data-lane={lane}>
            <strong>{LANE_TITLE[lane]}</strong>
            <span>{says[lane]}</span>
          </li>
        ))}
      </ul>
      <ol
        className={styles.lanes}
        aria-label="Calls and replies between the orchestrator and the services, oldest first"
      >
        {rows.length === 0 ? <li className={styles.quiet}>No calls yet: press Step or Play.</li> : rows}
      </ol>
    </div>
  );
}

function Balances({ world }: { world: SagaWorld }): ReactNode {
  const b = world.balances;
  const net = b.chargedCents - b.refundedCents;
  const verdict = balanced(world);
  const status = world.record.state.status;
  return (
    <div className={styles.balances}>
      <table>
        <caption>Balances for order {world.order.id}</caption>
        <tbody>
          <tr>
            <th scope="row">Stock held</th>
            <td data-balance="stock-held">
              {b.stockHeld} unit{b.stockHeld === 1 ? '' : 's'}
            </td>
          </tr>
          <tr>
            <th scope="row">Charged</th>
            <td>{money(b.chargedCents)}</td>
          </tr>
          <tr>
            <th scope="row">Refunded</th>
            <td>{money(b.refundedCents)}</td>
          </tr>
          <tr>
            <th scope="row">Net charged</th>
            <td data-balance="net">{money(net)}</td>
          </tr>
          <tr>
            <th scope="row">Shipments</th>
            <td>{b.shipments}</td>
          </tr>
        </tbody>
      </table>
      <p
        className={`${styles.verdict} ${verdict === 'no' ? styles.bad : verdict === 'yes' ? styles.good : ''}`}
        data-verdict-text
      >
        {verdict === 'pending'
          ? `Saga ${status}: the balances are settled only when it ends (completed: the order's ${world.order.units} unit${world.order.units === 1 ? '' : 's'} held and ${money(world.order.amountCents)} charged; compensated: all back to zero).`
          : verdict === 'yes'
            ? status === 'completed'
              ? `✓ Completed and balanced: ${world.order.units} unit${world.order.units === 1 ? '' : 's'} held, ${money(world.order.amountCents)} charged, one shipment.`
              : '✓ Compensated and balanced: stock held 0, net charged 0.00, no shipment.'
            : '✗ The saga ended but the balances do not match it.'}
      </p>
    </div>
  );
}

export default function SagaSimulator({
  seed: initialSeed = 42,
  failAt: initialFailAt = 'none',
  failMode: initialFailMode = 'fail',
}: SagaSimulatorProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const reducedMotion = useReducedMotion();
  const id = useId();
  const startSeed = startingSeed(initialSeed, 42);
  const [options, setOptions] = useState<Required<SagaOptions>>(() => ({
    seed: startSeed,
    failAt: FAIL_AT.includes(initialFailAt) ? initialFailAt : 'none',
    failMode: initialFailMode === 'timeout' ? 'timeout' : 'fail',
    killAfter: 0,
    retryCompensation: false,
    chargeIdempotent: false,
  }));
  /** Every world so far: the last is shown; Back pops one. */
  const [history, setHistory] = useState<SagaWorld[]>(() => [start(options)]);
  const [playing, setPlaying] = useState(false);
  const world = history[history.length - 1] as SagaWorld;

  const { field: seedField, setField: setSeedField, value: seedValue, ok: seedOk } = useSeedField(startSeed);

  const push = useCallback((next: (w: SagaWorld) => SagaWorld) => {
    setHistory((h) => {
      const last = h[h.length - 1] as SagaWorld;
      const w = next(last);
      return w === last ? h : [...h, w];
    });
  }, []);

  const restartWith = (change: Partial<SagaOptions>) => {
    const next = { ...options, ...change } as Required<SagaOptions>;
    setOptions(next);
    setPlaying(false);
    setHistory([start(next)]);
  };

  const more = canAdvance(world);
  const down = !world.orchestrator.alive;
  useEffect(() => {
    if (!playing) return;
    if (!more) {
      setPlaying(false);
      return;
    }
    const timer = setTimeout(() => push(advance), PLAY_MS);
    return () => clearTimeout(timer);
  }, [playing, more, push]);

  const state = world.record.state;
  const result = outcome(world);
  const verdict = balanced(world);
  const b = world.balances;

  return (
    <section
      className={`${styles.sim} ${reducedMotion ? styles.still : ''}`}
      aria-label="Order saga simulator"
      data-simulator="saga"
      data-hydrated={hydrated || undefined}
      data-seed={options.seed}
      data-fail-at={options.failAt}
      data-fail-mode={options.failMode}
      data-kill-after={options.killAfter}
      data-step={world.step}
      data-now={world.now}
      data-status={state.status}
      data-outcome={result}
      data-orchestrator={down ? 'down' : 'up'}
      data-balanced={verdict}
      data-stock-held={b.stockHeld}
      data-charged={b.chargedCents}
      data-refunded={b.refundedCents}
      data-net-cents={b.chargedCents - b.refundedCents}
      data-shipments={b.shipments}
      data-log-length={world.log.length}
      data-playing={playing || undefined}
    >
      <div className={styles.options}>
        <fieldset className={styles.group}>
          <legend>Failing step</legend>
          {FAIL_AT.map((f) => (
            <label key={f}>
              <input
                type="radio"
                name={`${id}-fail`}
                value={f}
                checked={options.failAt === f}
                onChange={() => restartWith({ failAt: f })}
              />
              {FAIL_WORDS[f]}
            </label>
          ))}
        </fieldset>
        <fieldset className={styles.group} disabled={options.failAt === 'none'}>
          <legend>How it fails</legend>
          <label>
            <input
              type="radio"
              name={`${id}-mode`}
              value="fail"
              checked={options.failMode === 'fail'}
              onChange={() => restartWith({ failMode: 'fail' })}
            />
            refused
          </label>
          <label>
            <input
              type="radio"
              name={`${id}-mode`}
              value="timeout"
              checked={options.failMode === 'timeout'}
              onChange={() => restartWith({ failMode: 'timeout' })}
            />
            timeout (its reply is lost)
          </label>
        </fieldset>
        <label className={styles.field} htmlFor={`${id}-kill`}>
          Kill the orchestrator
          <select
            id={`${id}-kill`}
            value={options.killAfter}
            onChange={(e) => restartWith({ killAfter: Number(e.target.value) as 0 | 1 | 2 | 3 })}
          >
            {KILL_WORDS.map((words, k) => (
              <option key={words} value={k}>
                {words}
              </option>
            ))}
          </select>
        </label>
        <label className={styles.check}>
          <input
            type="checkbox"
            checked={options.retryCompensation}
            onChange={(e) => restartWith({ retryCompensation: e.target.checked })}
          />
          Lose the first compensation's reply (it is retried)
        </label>
        <label className={styles.check}>
          <input
            type="checkbox"
            checked={options.chargeIdempotent}
            onChange={(e) => restartWith({ chargeIdempotent: e.target.checked })}
          />
          Payment dedupes charges by key (a charge may be called again)
        </label>
        <SeedInput
          className={styles.field}
          id={`${id}-seed`}
          max={MAX_SEED}
          value={seedField}
          ok={seedOk}
          onChange={setSeedField}
        />
        <KitButton data-action="reset" disabled={!seedOk} onClick={() => restartWith({ seed: seedValue })}>
          New run
        </KitButton>
      </div>
      {seedOk ? null : (
        <p id={`${id}-seed-error`} className={styles.error}>
          The seed must be a whole number from 0 to {MAX_SEED}.
        </p>
      )}
      <p className={styles.hint}>
        Changing any choice starts a fresh run of the same seed. Killing after step k kills the orchestrator
        right after that step's call reaches its service, before its outcome is recorded.
      </p>

      <div className={styles.controls}>
        <KitButton primary data-action="step" disabled={playing || !more} onClick={() => push(advance)}>
          Step
        </KitButton>
        <PlayButton
          data-action="play"
          disabled={!more && !playing}
          playing={playing}
          onToggle={() => setPlaying((p) => !p)}
        />
        <KitButton data-action="run" disabled={playing || !more} onClick={() => push(runToEnd)}>
          Run to the end
        </KitButton>
        <KitButton
          data-action="back"
          disabled={playing || history.length < 2}
          onClick={() => setHistory((h) => (h.length > 1 ? h.slice(0, -1) : h))}
        >
          Back
        </KitButton>
        {down ? (
          <KitButton
            data-action="resume"
            disabled={playing || world.orchestrator.restarting}
            onClick={() => push(resume)}
          >
            {world.orchestrator.restarting ? 'Restarting…' : 'Resume (new orchestrator)'}
          </KitButton>
        ) : (
          <KitButton data-action="kill" disabled={playing || ended(world)} onClick={() => push(kill)}>
            Kill the orchestrator now
          </KitButton>
        )}
        <span className={styles.clock}>
          step {world.step} · {world.now} ms
        </span>
      </div>

      <div className={styles.customer} data-customer>
        <span className={styles.customerLabel}>The customer sees</span>
        <strong>{customerSees(world)}</strong>
        <span className={styles.sagaState}>
          saga: {state.status}
          {down ? ' · orchestrator down' : ''}
        </span>
      </div>
      <p className={styles.said} aria-live="polite" data-said>
        {world.said}
      </p>

      <div className={styles.layout}>
        <Lanes world={world} />
        <div className={styles.side}>
          <Balances world={world} />
          <p className={styles.title} id={`${id}-log`}>
            Saga log (persisted, append-only)
          </p>
          <ol className={styles.log} aria-labelledby={`${id}-log`} data-saga-log>
            {world.log.length === 0 ? (
              <li className={styles.quiet}>Empty: nothing recorded yet.</li>
            ) : (
              world.log.map((e) => (
                <li key={e.seq} data-event={e.event.type} data-event-step={e.event.step}>
                  <span className={styles.logSeq}>v{e.seq}</span>{' '}
                  <span className={styles.time}>{e.at} ms</span> {e.text}
                </li>
              ))
            )}
          </ol>
        </div>
      </div>
      <p className={styles.fine}>
        Order {world.order.id}: {world.order.units} × {money(world.order.unitCents)}. Steps are recorded in
        the log before their call and after their answer; a call with no answer in {CALL_TIMEOUT_MS} ms times
        out. Shipment is the pivot (no compensation). The state machine is the order-saga exercise's reference
        solution; the wire, the clock and Redis are simulated, seed {options.seed}.
        {reducedMotion ? ' Your system asks for reduced motion, so nothing animates.' : ''}
      </p>
    </section>
  );
}
