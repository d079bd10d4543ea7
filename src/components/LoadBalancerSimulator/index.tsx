/**
 * `<LoadBalancerSimulator strategy="least-connections" seed={7} />`: send a seeded stream of requests
 * of varied cost through a load balancing strategy to four backends of different speeds; watch queues,
 * kill and revive backends, and compare what each strategy does to the latency tail. Pure client-side
 * state; the first render is deterministic, so it is safe to server-render.
 */

import useIsBrowser from '@docusaurus/useIsBrowser';
import { type ReactNode, useCallback, useId, useRef, useState } from 'react';
import { KitButton, PlayButton, SeedInput, wholeSeed } from '../SimulatorKit/Controls';
import { useRerender, useTicker } from '../SimulatorKit/hooks';
import {
  compareStrategies,
  createSim,
  percentile,
  type SimState,
  STRATEGIES,
  type Strategy,
  type Summary,
  send,
  setAlive,
  step,
} from './model';
import styles from './styles.module.css';

const LOADS = [
  { rate: 1, label: 'Light (~40% busy)' },
  { rate: 2, label: 'Busy (~80% busy)' },
  { rate: 2.4, label: 'Near capacity (~100%)' },
] as const;

const QUEUE_CELLS = 24;
const TICK_MS = 300;

export interface LoadBalancerSimulatorProps {
  strategy?: Strategy;
  seed?: number;
}

function StrategyTable({ rows, current }: { rows: Summary[]; current: Strategy }): ReactNode {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (axe scrollable-region-focusable)
    <div className={styles.tableWrap} tabIndex={0}>
      <table className={styles.table}>
        <caption>Same requests through each strategy (latency in ticks)</caption>
        <thead>
          <tr>
            <th scope="col">Strategy</th>
            <th scope="col">p50</th>
            <th scope="col">p95</th>
            <th scope="col">p99</th>
            <th scope="col">max</th>
            <th scope="col">longest queue</th>
            <th scope="col">failed</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.strategy} data-current={row.strategy === current || undefined}>
              <th scope="row">{STRATEGIES.find((s) => s.id === row.strategy)?.label}</th>
              <td>{row.p50}</td>
              <td>{row.p95}</td>
              <td>{row.p99}</td>
              <td>{row.max}</td>
              <td>{row.maxQueue}</td>
              <td>{row.failed}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function LoadBalancerSimulator({
  strategy: initialStrategy = 'round-robin',
  seed: initialSeed = 42,
}: LoadBalancerSimulatorProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const id = useId();
  const [strategy, setStrategy] = useState<Strategy>(initialStrategy);
  const [seed, setSeed] = useState(initialSeed);
  const [loadIndex, setLoadIndex] = useState(1);
  const [running, setRunning] = useState(false);
  const [comparison, setComparison] = useState<{ rows: Summary[]; withKill: boolean } | null>(null);
  const [killInCompare, setKillInCompare] = useState(false);
  const sim = useRef<SimState>(createSim(initialStrategy, initialSeed));
  const [, rerender] = useRerender();
  const rate = LOADS[loadIndex]!.rate;

  const reset = useCallback(
    (nextStrategy: Strategy, nextSeed: number) => {
      sim.current = createSim(nextStrategy, nextSeed);
      setComparison(null);
      rerender();
    },
    [rerender],
  );

  const tick = useCallback(() => {
    step(sim.current, rate);
    rerender();
  }, [rate, rerender]);

  useTicker(running, TICK_MS, tick);

  const s = sim.current;
  const strategyInfo = STRATEGIES.find((x) => x.id === strategy)!;
  const busiest = Math.max(1, ...s.backends.map((b) => b.queue.length));

  return (
    <section
      className={styles.sim}
      aria-label="Load balancing simulator"
      data-simulator="load-balancer"
      data-hydrated={hydrated || undefined}
      data-sent={s.sent}
      data-tick={s.tick}
      data-strategy={strategy}
    >
      <div className={styles.controls}>
        <label htmlFor={`${id}-strategy`}>
          Strategy
          <select
            id={`${id}-strategy`}
            value={strategy}
            onChange={(e) => {
              const next = e.target.value as Strategy;
              setStrategy(next);
              reset(next, seed);
            }}
          >
            {STRATEGIES.map((x) => (
              <option key={x.id} value={x.id}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
        <label htmlFor={`${id}-load`}>
          Load
          <select
            id={`${id}-load`}
            value={loadIndex}
            onChange={(e) => {
              setLoadIndex(Number(e.target.value));
              reset(strategy, seed);
            }}
          >
            {LOADS.map((load, i) => (
              <option key={load.label} value={i}>
                {load.label}
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
            reset(strategy, next);
          }}
        />
      </div>
      <p className={styles.summary}>{strategyInfo.summary}</p>
      <div className={styles.buttons}>
        <PlayButton primary playing={running} onToggle={() => setRunning((r) => !r)} />
        <KitButton onClick={tick} disabled={running}>
          Step 1 tick
        </KitButton>
        <KitButton
          onClick={() => {
            send(sim.current, 20);
            rerender();
          }}
        >
          Send 20 requests at once
        </KitButton>
        <KitButton
          onClick={() => {
            setRunning(false);
            reset(strategy, seed);
          }}
        >
          Reset
        </KitButton>
      </div>

      <ul className={styles.backends} aria-label="Backends">
        {s.backends.map((b, i) => {
          const util = s.tick === 0 ? 0 : Math.round((100 * b.busyTicks) / s.tick);
          return (
            <li key={b.config.name} className={styles.backend} data-alive={b.alive}>
              <div className={styles.backendName}>
                <strong>{b.config.name}</strong>
                <span className={styles.speed}>speed {b.config.speed}</span>
              </div>
              <div className={styles.queue}>
                <span
                  aria-hidden="true"
                  className={styles.queueBar}
                  style={{
                    width: `${Math.min(100, (100 * b.queue.length) / Math.max(QUEUE_CELLS, busiest))}%`,
                  }}
                />
                <span className={styles.queueText}>{b.alive ? `${b.queue.length} in queue` : 'down'}</span>
              </div>
              <div className={styles.backendStats}>
                {b.served} served · {util}% busy
              </div>
              <button
                type="button"
                className={`button button--sm ${b.alive ? 'button--secondary' : 'button--primary'}`}
                aria-pressed={!b.alive}
                aria-label={`${b.alive ? 'Kill' : 'Revive'} backend ${b.config.name}`}
                onClick={() => {
                  setAlive(sim.current, i, !b.alive);
                  rerender();
                }}
              >
                {b.alive ? 'Kill' : 'Revive'}
              </button>
            </li>
          );
        })}
      </ul>

      <dl className={styles.stats} aria-live="off">
        <div>
          <dt>Tick</dt>
          <dd>{s.tick}</dd>
        </div>
        <div>
          <dt>Sent</dt>
          <dd>{s.sent}</dd>
        </div>
        <div>
          <dt>Completed</dt>
          <dd>{s.completed}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd>{s.failed}</dd>
        </div>
        <div>
          <dt>p50 / p95 / p99 latency</dt>
          <dd>
            {percentile(s.latencies, 50)} / {percentile(s.latencies, 95)} / {percentile(s.latencies, 99)}{' '}
            ticks
          </dd>
        </div>
      </dl>

      <div className={styles.compare}>
        <button
          type="button"
          className="button button--outline button--primary button--sm"
          onClick={() =>
            setComparison({
              rows: compareStrategies(seed, rate, 200, killInCompare ? 100 : undefined),
              withKill: killInCompare,
            })
          }
        >
          Compare all strategies (200 ticks)
        </button>
        <label className={styles.checkbox} htmlFor={`${id}-kill`}>
          <input
            id={`${id}-kill`}
            type="checkbox"
            checked={killInCompare}
            onChange={(e) => setKillInCompare(e.target.checked)}
          />
          kill backend A at tick 100
        </label>
      </div>
      {comparison && <StrategyTable rows={comparison.rows} current={strategy} />}
    </section>
  );
}
