/**
 * `<CircuitBreakerSimulator seed={3} />`: a client calls a dependency 40 times a second, through a
 * circuit breaker or not. Drag the dependency's failure rate and latency and watch calls succeed,
 * fail, time out or be rejected at once, the breaker's state, and how many calls pile up in flight.
 * Pure client-side state, seeded; the first render is deterministic, so it is safe to server-render.
 */

import useIsBrowser from '@docusaurus/useIsBrowser';
import { type ReactNode, useCallback, useId, useRef, useState } from 'react';
import { KitButton, PlayButton, SeedInput, wholeSeed } from '../SimulatorKit/Controls';
import { useRerender, useTicker } from '../SimulatorKit/hooks';
import {
  BREAKER,
  type BreakerState,
  type Column,
  createSim,
  HISTORY_SECONDS,
  RATE_PER_SECOND,
  run,
  type SimConfig,
  type SimState,
  step,
  TICK_MS,
  TIMEOUT_MS,
  windowCounts,
} from './model';
import styles from './styles.module.css';

const LATENCIES = [
  { ms: 50, label: '50 ms (healthy)' },
  { ms: 400, label: '400 ms (slow)' },
  { ms: 1500, label: '1.5 s (very slow)' },
  { ms: 10_000, label: '10 s (hangs: every call times out)' },
] as const;

const STATE_LABEL: Record<BreakerState, string> = {
  closed: 'Closed: calls go through',
  open: 'Open: calls rejected at once',
  'half-open': `Half-open: ${BREAKER.probes} probes allowed`,
};

/** Plays the simulation four times faster than real time, so a cool-down is over in a second or two. */
const PLAY_SPEED = 4;

export interface CircuitBreakerSimulatorProps {
  seed?: number;
}

function Chart({ history }: { history: readonly Column[] }): ReactNode {
  const width = 600;
  const height = 150;
  const band = 14;
  const column = width / HISTORY_SECONDS;
  const most = Math.max(RATE_PER_SECOND * 1.6, ...history.map((c) => c.ok + c.failed + c.rejected));
  const scale = (n: number) => ((height - band - 4) * n) / most;
  const last = history.at(-1);
  const summary = last
    ? `Last ${history.length} seconds. In the latest second: ${last.ok} succeeded, ${last.failed} failed, ${last.rejected} rejected; the breaker was ${last.state}.`
    : 'No calls yet.';
  return (
    <svg
      className={styles.chart}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={summary}
      preserveAspectRatio="none"
    >
      {history.map((c, i) => {
        const x = (HISTORY_SECONDS - history.length + i) * column;
        const ok = scale(c.ok);
        const failed = scale(c.failed);
        const rejected = scale(c.rejected);
        const base = height - band - 2;
        return (
          <g key={c.second}>
            <rect className={styles.ok} x={x} width={column - 1} y={base - ok} height={ok} />
            <rect className={styles.failed} x={x} width={column - 1} y={base - ok - failed} height={failed} />
            <rect
              className={styles.rejected}
              x={x}
              width={column - 1}
              y={base - ok - failed - rejected}
              height={rejected}
            />
            <rect
              className={styles[`state-${c.state}`]}
              x={x}
              width={column}
              y={height - band}
              height={band}
            />
          </g>
        );
      })}
    </svg>
  );
}

export default function CircuitBreakerSimulator({
  seed: initialSeed = 3,
}: CircuitBreakerSimulatorProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const id = useId();
  const [seed, setSeed] = useState(initialSeed);
  const [failurePercent, setFailurePercent] = useState(0);
  const [latencyIndex, setLatencyIndex] = useState(0);
  const [breaker, setBreaker] = useState(true);
  const [running, setRunning] = useState(false);
  const sim = useRef<SimState>(createSim(initialSeed));
  const [, rerender] = useRerender();
  const config: SimConfig = { failurePercent, latencyMs: LATENCIES[latencyIndex]!.ms, breaker };
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
  const { calls, failed } = windowCounts(s);
  const t = s.totals;

  return (
    <section
      className={styles.sim}
      aria-label="Circuit breaker simulator"
      data-simulator="circuit-breaker"
      data-hydrated={hydrated || undefined}
      data-state={breaker ? s.state : 'none'}
      data-now={s.now}
      data-rejected={t.rejected}
    >
      <div className={styles.controls}>
        <label htmlFor={`${id}-failures`}>
          Dependency fails {failurePercent}% of calls
          <input
            id={`${id}-failures`}
            type="range"
            min={0}
            max={100}
            step={5}
            value={failurePercent}
            onChange={(e) => setFailurePercent(Number(e.target.value))}
          />
        </label>
        <label htmlFor={`${id}-latency`}>
          Dependency answers in
          <select
            id={`${id}-latency`}
            value={latencyIndex}
            onChange={(e) => setLatencyIndex(Number(e.target.value))}
          >
            {LATENCIES.map((l, i) => (
              <option key={l.ms} value={i}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <SeedInput
          id={`${id}-seed`}
          value={seed}
          onChange={(text) => {
            const next = wholeSeed(text);
            setSeed(next);
            reset(next);
          }}
        />
        <label className={styles.checkbox} htmlFor={`${id}-breaker`}>
          <input
            id={`${id}-breaker`}
            type="checkbox"
            checked={breaker}
            onChange={(e) => {
              setBreaker(e.target.checked);
              reset(seed);
            }}
          />
          calls go through a circuit breaker
        </label>
      </div>

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
        <output className={styles.state} data-breaker-state={breaker ? s.state : 'none'} aria-live="polite">
          {breaker ? STATE_LABEL[s.state] : 'No breaker: every call goes to the dependency'}
        </output>
      </div>

      <Chart history={s.history} />
      <p className={styles.legend}>
        <span className={styles.keyOk}>succeeded</span>{' '}
        <span className={styles.keyFailed}>failed or timed out</span>{' '}
        <span className={styles.keyRejected}>rejected by the breaker</span> · the band below: breaker{' '}
        <span className={styles.keyClosed}>closed</span> <span className={styles.keyOpen}>open</span>{' '}
        <span className={styles.keyHalf}>half-open</span>
      </p>

      <dl className={styles.stats}>
        <div>
          <dt>Time</dt>
          <dd>{(s.now / 1000).toFixed(1)} s</dd>
        </div>
        <div>
          <dt>Calls made</dt>
          <dd>{t.sent}</dd>
        </div>
        <div>
          <dt>Succeeded</dt>
          <dd>{t.ok}</dd>
        </div>
        <div>
          <dt>Failed (timed out)</dt>
          <dd>
            {t.failed} ({t.timedOut})
          </dd>
        </div>
        <div>
          <dt>Rejected at once</dt>
          <dd>{t.rejected}</dd>
        </div>
        <div>
          <dt>In flight now (most)</dt>
          <dd>
            {s.inFlight.length} ({s.maxInFlight})
          </dd>
        </div>
        <div>
          <dt>Failure rate in window</dt>
          <dd>{breaker && calls > 0 ? `${Math.round((100 * failed) / calls)}% of ${calls}` : '-'}</dd>
        </div>
      </dl>
      <p className={styles.note}>
        {RATE_PER_SECOND} calls/s; timeout {TIMEOUT_MS / 1000} s; breaker opens at {BREAKER.threshold * 100}%
        failures over {BREAKER.windowMs / 1000} s (at least {BREAKER.minimumCalls} calls), stays open{' '}
        {BREAKER.openMs / 1000} s, then lets {BREAKER.probes} probes through. Play runs {PLAY_SPEED}× real
        time.
      </p>
    </section>
  );
}
