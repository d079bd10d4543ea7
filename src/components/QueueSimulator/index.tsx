/**
 * `<QueueSimulator seed={42} crashMeansSlow={false} poisonPercent={10} />`: a job queue on a Redis
 * stream with a consumer group of three workers. Producers add jobs, workers take them with
 * XREADGROUP and XACK them; the reader crashes workers, sets a poison-job rate, attempts, backoff and
 * XAUTOCLAIM's min-idle time, and watches the stream, the pending entries list, the retry set and the
 * dead-letter stream. Pure client-side state, seeded: the first render is deterministic, so it is safe
 * to server-render.
 */

import useIsBrowser from '@docusaurus/useIsBrowser';
import { type ReactNode, useCallback, useId, useRef, useState } from 'react';
import { KitButton, PlayButton, SeedInput, wholeSeed } from '../SimulatorKit/Controls';
import { useRerender, useTicker } from '../SimulatorKit/hooks';
import {
  type BackoffType,
  crash,
  createSim,
  DEFAULT_CONFIG,
  entryState,
  idleMs,
  MAX_DELIVERIES,
  type PendingEntry,
  restart,
  run,
  type SimConfig,
  type SimState,
  STALL_MS,
  seconds,
  step,
  TICK_MS,
  WORK_MS,
  type Worker,
  type WorkerState,
  waiting,
} from './model';
import styles from './styles.module.css';

const RATES = [
  { value: 0, label: 'off' },
  { value: 0.5, label: '0.5 jobs/s' },
  { value: 1, label: '1 job/s' },
  { value: 1.5, label: '1.5 jobs/s (what 3 workers finish)' },
  { value: 3, label: '3 jobs/s (more than they finish)' },
] as const;
const POISON = [0, 5, 10, 25, 50] as const;
const FLAKY = [0, 10, 30, 50] as const;
const ATTEMPTS = [1, 2, 3, 5] as const;
const DELAYS = [1_000, 2_000, 5_000] as const;
const MIN_IDLE = [5_000, 10_000, 30_000] as const;
/** Play runs the clock twice as fast as real time. */
const PLAY_SPEED = 2;
const STREAM_SHOWN = 12;
const DEAD_SHOWN = 6;

const STATE_LABEL: Record<WorkerState, string> = {
  idle: 'idle: waiting for a job',
  busy: 'working',
  crashed: 'dead',
  frozen: 'frozen (looks dead)',
};

export interface QueueSimulatorProps {
  /** Seed of the arrivals, work times and failures (any non-negative integer); default 42. */
  seed?: number;
  /** Start with "crash means slow, not dead" ticked; default false. */
  crashMeansSlow?: boolean;
  /** Starting share of poison jobs, one of 0, 5, 10, 25, 50 (percent); default 10. */
  poisonPercent?: number;
}

function pick<T extends number>(options: readonly T[], value: number | undefined, fallback: T): T {
  return options.find((o) => o === value) ?? fallback;
}

function WorkerCard({
  worker,
  sim,
  onCrash,
  onRestart,
}: {
  worker: Worker;
  sim: SimState;
  onCrash: () => void;
  onRestart: () => void;
}): ReactNode {
  const t = worker.task;
  const down = worker.state === 'crashed' || worker.state === 'frozen';
  return (
    <li className={styles.worker} data-worker={worker.name} data-worker-state={worker.state}>
      <div className={styles.workerHead}>
        <strong>{worker.name}</strong> <span className={styles.badge}>{STATE_LABEL[worker.state]}</span>
      </div>
      <p className={styles.workerJob}>
        {t
          ? `job ${t.jobId}, attempt ${t.attempt}${t.claimed ? ' (reclaimed)' : ''}, ${seconds(Math.max(0, t.workLeftMs))} of work left`
          : worker.state === 'crashed'
            ? 'holds nothing: its job, if any, is still pending under its name'
            : 'no job in hand'}
        {worker.state === 'frozen' && worker.frozenUntil !== undefined
          ? `; carries on in ${seconds(worker.frozenUntil - sim.now)}`
          : ''}
      </p>
      <button
        type="button"
        className={`button button--sm ${down ? 'button--primary' : 'button--secondary'}`}
        onClick={down ? onRestart : onCrash}
      >
        {worker.state === 'crashed'
          ? `Restart ${worker.name}`
          : worker.state === 'frozen'
            ? `Wake ${worker.name} now`
            : `Crash ${worker.name}`}
      </button>
    </li>
  );
}

function PendingTable({
  sim,
  minIdleMs,
  labelId,
}: {
  sim: SimState;
  minIdleMs: number;
  labelId: string;
}): ReactNode {
  if (sim.pending.length === 0) return <p className={styles.empty}>empty: every delivered entry is acked</p>;
  const owner = (p: PendingEntry) => sim.workers.find((w) => w.name === p.consumer)?.state;
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (axe scrollable-region-focusable)
    <section className={styles.tableWrap} aria-labelledby={labelId} tabIndex={0}>
      <table className={styles.table}>
        <thead>
          <tr>
            <th scope="col">Entry</th>
            <th scope="col">Job</th>
            <th scope="col">Consumer</th>
            <th scope="col">Idle</th>
            <th scope="col">Deliveries</th>
          </tr>
        </thead>
        <tbody>
          {sim.pending.map((p) => {
            const idle = idleMs(sim, p);
            const state = owner(p);
            return (
              <tr key={p.seq} data-claimable={idle >= minIdleMs || undefined}>
                <td className={styles.mono}>{p.id}</td>
                <td>{p.jobId}</td>
                <td>
                  {p.consumer}
                  {state === 'crashed' || state === 'frozen'
                    ? ` (${state === 'crashed' ? 'dead' : 'frozen'})`
                    : ''}
                </td>
                <td>
                  {seconds(idle)}
                  {idle >= minIdleMs ? ' (claimable)' : ''}
                </td>
                <td>{p.deliveries}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

const ENTRY_MARK = { waiting: '○', pending: '◐', acked: '✓' } as const;
const ENTRY_WORD = { waiting: 'waiting', pending: 'pending', acked: 'acked' } as const;

export default function QueueSimulator({
  seed: initialSeed = 42,
  crashMeansSlow: initialSlow = false,
  poisonPercent: initialPoison = DEFAULT_CONFIG.poisonPercent,
}: QueueSimulatorProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const id = useId();
  const [seed, setSeed] = useState(initialSeed);
  const [rate, setRate] = useState<number>(DEFAULT_CONFIG.ratePerSecond);
  const [poison, setPoison] = useState<number>(() => pick(POISON, initialPoison, 10));
  const [flaky, setFlaky] = useState<number>(DEFAULT_CONFIG.flakyPercent);
  const [attempts, setAttempts] = useState<number>(DEFAULT_CONFIG.attempts);
  const [backoffType, setBackoffType] = useState<BackoffType>(DEFAULT_CONFIG.backoff.type);
  const [delayMs, setDelayMs] = useState<number>(DEFAULT_CONFIG.backoff.delayMs);
  const [minIdleMs, setMinIdleMs] = useState<number>(DEFAULT_CONFIG.minIdleMs);
  const [slow, setSlow] = useState(initialSlow);
  const [running, setRunning] = useState(false);
  const sim = useRef<SimState>(createSim(initialSeed));
  const [, rerender] = useRerender();
  const config: SimConfig = {
    ratePerSecond: rate,
    poisonPercent: poison,
    flakyPercent: flaky,
    attempts,
    backoff: { type: backoffType, delayMs },
    minIdleMs,
    crashMeansSlow: slow,
  };
  const configRef = useRef(config);
  configRef.current = config;

  const reset = useCallback(
    (nextSeed: number) => {
      sim.current = createSim(nextSeed);
      rerender();
    },
    [rerender],
  );

  useTicker(running, TICK_MS / PLAY_SPEED, () => {
    step(sim.current, configRef.current);
    rerender();
  });

  const s = sim.current;
  const t = s.totals;
  const shown = s.stream.slice(-STREAM_SHOWN);
  const latest = s.events.at(-1);
  const numberSelect = (
    key: string,
    label: string,
    value: number,
    set: (n: number) => void,
    options: readonly { value: number; label: string }[],
  ) => (
    <label htmlFor={`${id}-${key}`}>
      {label}
      <select id={`${id}-${key}`} value={value} onChange={(e) => set(Number(e.target.value))}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <section
      className={styles.sim}
      aria-label="Queue simulator"
      data-simulator="queue"
      data-hydrated={hydrated || undefined}
      data-now={s.now}
      data-added={t.added}
      data-completed={t.completed}
      data-retried={t.retried}
      data-reclaimed={t.reclaimed}
      data-dead={t.dead}
      data-duplicates={t.duplicates}
      data-pending={s.pending.length}
    >
      <div className={styles.controls}>
        {numberSelect(
          'rate',
          'Producers add',
          rate,
          setRate,
          RATES.map((r) => ({ value: r.value, label: r.label })),
        )}
        {numberSelect(
          'poison',
          'Poison jobs',
          poison,
          setPoison,
          POISON.map((p) => ({ value: p, label: `${p}%` })),
        )}
        {numberSelect(
          'flaky',
          'Other attempts fail',
          flaky,
          setFlaky,
          FLAKY.map((p) => ({ value: p, label: `${p}%` })),
        )}
        {numberSelect(
          'attempts',
          'Attempts per job',
          attempts,
          setAttempts,
          ATTEMPTS.map((a) => ({ value: a, label: a === 1 ? '1 (no retry)' : String(a) })),
        )}
        <label htmlFor={`${id}-backoff`}>
          Backoff
          <select
            id={`${id}-backoff`}
            value={backoffType}
            onChange={(e) => setBackoffType(e.target.value as BackoffType)}
          >
            <option value="fixed">fixed</option>
            <option value="exponential">exponential</option>
          </select>
        </label>
        {numberSelect(
          'delay',
          backoffType === 'fixed' ? 'Wait before each retry' : 'First retry after (then ×2)',
          delayMs,
          setDelayMs,
          DELAYS.map((d) => ({ value: d, label: seconds(d) })),
        )}
        {numberSelect(
          'idle',
          'Reclaim after idle (min-idle)',
          minIdleMs,
          setMinIdleMs,
          MIN_IDLE.map((d) => ({ value: d, label: seconds(d) })),
        )}
        <SeedInput
          id={`${id}-seed`}
          value={seed}
          onChange={(text) => {
            const next = wholeSeed(text);
            setSeed(next);
            setRunning(false);
            reset(next);
          }}
        />
        <label className={styles.checkbox} htmlFor={`${id}-slow`}>
          <input
            id={`${id}-slow`}
            type="checkbox"
            checked={slow}
            onChange={(e) => setSlow(e.target.checked)}
          />
          crash means slow, not dead (frozen {seconds(STALL_MS)}, then carries on)
        </label>
      </div>
      <p className={styles.note}>
        Attempts and backoff go with each job when it is added (as in{' '}
        <code>queue.add(data, {'{ attempts }'})</code>); the other settings act at once.
      </p>

      <div className={styles.buttons}>
        <PlayButton primary playing={running} onToggle={() => setRunning((r) => !r)} />
        <KitButton
          disabled={running}
          onClick={() => {
            run(sim.current, config, 1);
            rerender();
          }}
        >
          Step 1 s
        </KitButton>
        <KitButton
          onClick={() => {
            setRunning(false);
            reset(seed);
          }}
        >
          Reset
        </KitButton>
        <span className={styles.clock}>t = {seconds(s.now)}</span>
      </div>

      <p className={styles.title} id={`${id}-workers`}>
        Consumer group <code>workers</code>: three workers, one job at a time each
      </p>
      <ul className={styles.workers} aria-labelledby={`${id}-workers`}>
        {s.workers.map((w) => (
          <WorkerCard
            key={w.name}
            worker={w}
            sim={s}
            onCrash={() => {
              crash(sim.current, w.name, config);
              rerender();
            }}
            onRestart={() => {
              restart(sim.current, w.name);
              rerender();
            }}
          />
        ))}
      </ul>

      <div className={styles.panels}>
        <div className={styles.panel}>
          <p className={styles.title} id={`${id}-stream`}>
            Stream <code>jobs</code>: {waiting(s)} waiting, latest {shown.length} entries
          </p>
          {shown.length === 0 ? (
            <p className={styles.empty}>empty: press Step or Play</p>
          ) : (
            <ol className={styles.entries} aria-labelledby={`${id}-stream`}>
              {shown.map((e) => {
                const state = entryState(s, e);
                return (
                  <li key={e.seq} className={styles.entry} data-entry-state={state}>
                    <span aria-hidden="true">{ENTRY_MARK[state]}</span> job {e.jobId}
                    {e.attemptsMade > 0 ? ` (retry ${e.attemptsMade})` : ''}{' '}
                    <span className={styles.srOnly}>{ENTRY_WORD[state]}</span>
                  </li>
                );
              })}
            </ol>
          )}
          <p className={styles.legend}>○ waiting · ◐ pending (delivered, not acked) · ✓ acked</p>
        </div>

        <div className={styles.panel}>
          <p className={styles.title} id={`${id}-pel`}>
            Pending entries list (XPENDING): {s.pending.length}
          </p>
          <PendingTable sim={s} minIdleMs={minIdleMs} labelId={`${id}-pel`} />
        </div>

        <div className={styles.panel}>
          <p className={styles.title} id={`${id}-delayed`}>
            Retry set (delayed, by due time): {s.delayed.length}
          </p>
          {s.delayed.length === 0 ? (
            <p className={styles.empty}>empty</p>
          ) : (
            <ul className={styles.list} aria-labelledby={`${id}-delayed`}>
              {s.delayed.slice(0, 8).map((d) => (
                <li key={`${d.jobId}-${d.attemptsMade}`}>
                  job {d.jobId}, attempt {d.attemptsMade + 1} due in {seconds(d.dueAt - s.now)}
                </li>
              ))}
              {s.delayed.length > 8 ? <li>and {s.delayed.length - 8} more</li> : null}
            </ul>
          )}
        </div>

        <div className={styles.panel}>
          <p className={styles.title} id={`${id}-dead`}>
            Dead-letter stream <code>jobs:dead</code>: {t.dead}
          </p>
          {s.dead.length === 0 ? (
            <p className={styles.empty}>empty</p>
          ) : (
            <ol className={styles.list} aria-labelledby={`${id}-dead`}>
              {s.dead
                .slice(-DEAD_SHOWN)
                .reverse()
                .map((d) => (
                  <li key={d.id}>
                    job {d.jobId} after {d.attemptsMade} attempt{d.attemptsMade === 1 ? '' : 's'}: {d.error}
                  </li>
                ))}
            </ol>
          )}
        </div>
      </div>

      <dl className={styles.stats}>
        <div>
          <dt>Added</dt>
          <dd>{t.added}</dd>
        </div>
        <div>
          <dt>Completed</dt>
          <dd>{t.completed}</dd>
        </div>
        <div>
          <dt>Retried</dt>
          <dd>{t.retried}</dd>
        </div>
        <div>
          <dt>Reclaimed</dt>
          <dd>{t.reclaimed}</dd>
        </div>
        <div>
          <dt>Dead-lettered</dt>
          <dd>{t.dead}</dd>
        </div>
        <div>
          <dt>Duplicates (completed twice)</dt>
          <dd>{t.duplicates}</dd>
        </div>
      </dl>

      <p className={styles.title} id={`${id}-log`}>
        What happened
      </p>
      <p className={styles.srOnly} aria-live={running ? 'off' : 'polite'}>
        {latest ? `At ${seconds(latest.at)}: ${latest.text}` : ''}
      </p>
      {s.events.length === 0 ? (
        <p className={styles.empty}>nothing yet</p>
      ) : (
        <ul className={styles.log} aria-labelledby={`${id}-log`}>
          {[...s.events].reverse().map((e) => (
            <li key={e.n} data-event={e.kind}>
              <span className={styles.time}>{seconds(e.at)}:</span> {e.text}
            </li>
          ))}
        </ul>
      )}
      <p className={styles.note}>
        Each attempt takes {seconds(WORK_MS.min)} to {seconds(WORK_MS.max)}. A free worker first runs
        XAUTOCLAIM (entries idle at least min-idle), then XREADGROUP <code>&gt;</code>; a claim past{' '}
        {MAX_DELIVERIES} deliveries dead-letters the job. Play runs {PLAY_SPEED}× real time.
      </p>
    </section>
  );
}
