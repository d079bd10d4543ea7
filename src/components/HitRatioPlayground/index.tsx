/**
 * `<HitRatioPlayground />`: pick how skewed the key popularity is (Zipf exponent), how big the cache
 * is and which eviction policy it uses, and see the hit ratio, the load left for the origin, and the
 * hit-ratio curve of every policy over every cache size. The workload is seeded, so the first render
 * is deterministic and safe to server-render.
 */

import useIsBrowser from '@docusaurus/useIsBrowser';
import { type ReactNode, useId, useMemo, useState } from 'react';
import {
  KEYS,
  originCallsPerThousand,
  POLICIES,
  type Policy,
  REQUESTS,
  replay,
  SIZES,
  zipfTrace,
} from './model';
import styles from './styles.module.css';

const SKEWS = [0, 0.4, 0.6, 0.8, 0.9, 1, 1.1, 1.2, 1.4] as const;
const COLORS: Record<Policy, string> = {
  lru: styles.lru ?? '',
  lfu: styles.lfu ?? '',
  fifo: styles.fifo ?? '',
};

export interface HitRatioPlaygroundProps {
  /** Zipf exponent to start with (one of 0, 0.4, 0.6, 0.8, 0.9, 1, 1.1, 1.2, 1.4); default 1. */
  skew?: number;
  seed?: number;
}

type Curves = Record<Policy, number[]>;

function Chart({ curves, sizeIndex }: { curves: Curves; sizeIndex: number }): ReactNode {
  const width = 600;
  const height = 220;
  const left = 44;
  const bottom = 30;
  const x = (i: number) => left + ((width - left - 12) * i) / (SIZES.length - 1);
  const y = (ratio: number) => 8 + (height - bottom - 8) * (1 - ratio);
  const summary = POLICIES.map(
    (p) => `${p.id.toUpperCase()}: ${curves[p.id].map((r) => `${Math.round(r * 100)}%`).join(', ')}`,
  ).join('; ');
  return (
    <svg
      className={styles.chart}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`Hit ratio by cache size (${SIZES.join(', ')} entries). ${summary}`}
    >
      {[0, 0.25, 0.5, 0.75, 1].map((r) => (
        <g key={r}>
          <line className={styles.grid} x1={left} x2={width - 12} y1={y(r)} y2={y(r)} />
          <text className={styles.axis} x={left - 6} y={y(r) + 4} textAnchor="end">
            {r * 100}%
          </text>
        </g>
      ))}
      {SIZES.map((size, i) => (
        <text key={size} className={styles.axis} x={x(i)} y={height - 10} textAnchor="middle">
          {size >= 1000 ? `${size / 1000}k` : size}
        </text>
      ))}
      <line className={styles.marker} x1={x(sizeIndex)} x2={x(sizeIndex)} y1={8} y2={height - bottom} />
      {POLICIES.map((p) => (
        <polyline
          key={p.id}
          className={COLORS[p.id]}
          fill="none"
          points={curves[p.id].map((r, i) => `${x(i)},${y(r)}`).join(' ')}
        />
      ))}
    </svg>
  );
}

export default function HitRatioPlayground({
  skew: initialSkew = 1,
  seed = 42,
}: HitRatioPlaygroundProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const id = useId();
  const [skewIndex, setSkewIndex] = useState(() => {
    const i = SKEWS.indexOf(initialSkew as (typeof SKEWS)[number]);
    return i >= 0 ? i : SKEWS.indexOf(1);
  });
  const [sizeIndex, setSizeIndex] = useState(SIZES.indexOf(500));
  const [policy, setPolicy] = useState<Policy>('lru');
  const skew = SKEWS[skewIndex] ?? 1;
  const size = SIZES[sizeIndex] ?? 500;

  const trace = useMemo(() => zipfTrace({ skew, seed }), [skew, seed]);
  const curves = useMemo(() => {
    const out = {} as Curves;
    for (const p of POLICIES) out[p.id] = SIZES.map((s) => replay(trace, s, p.id).hitRatio);
    return out;
  }, [trace]);
  const hitRatio = curves[policy][sizeIndex] ?? 0;
  const origin = originCallsPerThousand(hitRatio);

  return (
    <section
      className={styles.sim}
      aria-label="Hit ratio playground"
      data-simulator="hit-ratio"
      data-hydrated={hydrated || undefined}
      data-hit-ratio={hitRatio.toFixed(4)}
    >
      <div className={styles.controls}>
        <label htmlFor={`${id}-skew`}>
          Key popularity (Zipf exponent): {skew === 0 ? '0, uniform' : skew}
          <input
            id={`${id}-skew`}
            type="range"
            min={0}
            max={SKEWS.length - 1}
            step={1}
            value={skewIndex}
            aria-valuetext={`Zipf exponent ${skew}`}
            onChange={(e) => setSkewIndex(Number(e.target.value))}
          />
        </label>
        <label htmlFor={`${id}-size`}>
          Cache size: {size.toLocaleString('en')} of {KEYS.toLocaleString('en')} keys ({(size / KEYS) * 100}%)
          <input
            id={`${id}-size`}
            type="range"
            min={0}
            max={SIZES.length - 1}
            step={1}
            value={sizeIndex}
            aria-valuetext={`${size} entries`}
            onChange={(e) => setSizeIndex(Number(e.target.value))}
          />
        </label>
        <label htmlFor={`${id}-policy`}>
          Eviction policy
          <select id={`${id}-policy`} value={policy} onChange={(e) => setPolicy(e.target.value as Policy)}>
            {POLICIES.map((p) => (
              <option key={p.id} value={p.id}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
      </div>

      <dl className={styles.stats}>
        <div>
          <dt>Hit ratio</dt>
          <dd>{(hitRatio * 100).toFixed(1)}%</dd>
        </div>
        <div>
          <dt>Origin calls per 1,000 requests</dt>
          <dd>{origin}</dd>
        </div>
        <div>
          <dt>Origin load vs no cache</dt>
          <dd>{origin === 0 ? '< 0.1%' : `${(origin / 10).toFixed(1)}%`}</dd>
        </div>
      </dl>

      <Chart curves={curves} sizeIndex={sizeIndex} />
      <p className={styles.legend}>
        Hit ratio by cache size (entries, log scale): <span className={styles.keyLru}>LRU</span>{' '}
        <span className={styles.keyLfu}>LFU</span> <span className={styles.keyFifo}>FIFO</span> · the vertical
        line is the size you picked.
      </p>
      <p className={styles.note}>
        {REQUESTS.toLocaleString('en')} requests over {KEYS.toLocaleString('en')} keys, seed {seed}; the first
        half warms the cache and only the second half is counted. Computed in your browser on every change.
      </p>
    </section>
  );
}
