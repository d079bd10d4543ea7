/**
 * `<HashRingSimulator seed={42} keys={1000} initialNodes={4} virtualNodes={100} />`: keys spread over
 * nodes by consistent hashing (a ring with virtual nodes) or by `hash(key) % N`. Add and remove nodes,
 * change the virtual nodes per node or the scheme, and see which keys moved (drawn larger and outlined),
 * where they went and how even the load is. Pure client-side state, seeded: the first render is
 * deterministic, so it is safe to server-render.
 */

import useIsBrowser from '@docusaurus/useIsBrowser';
import { type ReactNode, useId, useMemo, useState } from 'react';
import { KitButton, SeedInput, wholeSeed } from '../SimulatorKit/Controls';
import {
  addNode,
  createRing,
  DEFAULTS,
  describeChange,
  describeSpread,
  fmix32,
  loads,
  MAX_NODES,
  NODE_NAMES,
  nextNodeName,
  type Ring,
  removeNode,
  SCHEMES,
  setScheme,
  setVirtualNodes,
  spread,
  VIRTUAL_NODE_OPTIONS,
} from './model';
import styles from './styles.module.css';

export interface HashRingSimulatorProps {
  /** Seed of the keys (any non-negative integer); default 42. */
  seed?: number;
  /** How many keys (1 to 200,000; a few thousand at most keeps the picture readable); default 1,000. */
  keys?: number;
  /** How many nodes to start with, named A, B, C, ... (1 to 10); default 4. */
  initialNodes?: number;
  /** Virtual nodes per node to start with: 1, 10, 100 or 200 (another value falls back to 100). */
  virtualNodes?: number;
}

const SIZE = 320;
const CENTER = SIZE / 2;
const RING_R = 128;
const KEY_R = { inner: 70, outer: 114 };
const round = (n: number) => Math.round(n * 10) / 10;

/** Where a ring position (0 to 2^32) is drawn: 0 at the top, clockwise. */
function polar(at: number, radius: number): [number, number] {
  const angle = (at / 2 ** 32) * 2 * Math.PI;
  return [round(CENTER + radius * Math.sin(angle)), round(CENTER - radius * Math.cos(angle))];
}

/** A key's distance from the centre: spread by a second hash so the dots do not sit on one line. */
function keyRadius(h: number): number {
  return KEY_R.inner + ((fmix32(h ^ 0x9e3779b9) % 1000) / 1000) * (KEY_R.outer - KEY_R.inner);
}

/** Many circles as one path: far fewer DOM nodes than a <circle> per key. */
function dots(centres: [number, number][], r: number): string {
  return centres
    .map(([x, y]) => `M${round(x - r)} ${y}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`)
    .join('');
}

const colour = (node: string) => styles[`node${NODE_NAMES.indexOf(node as (typeof NODE_NAMES)[number])}`];

function RingPicture({ ring, operations }: { ring: Ring; operations: number }): ReactNode {
  const moved = ring.change?.movedKeys;
  const groups = useMemo(() => {
    const out = new Map<string, { still: [number, number][]; moved: [number, number][] }>();
    for (const node of ring.nodes) out.set(node, { still: [], moved: [] });
    ring.keyHashes.forEach((h, i) => {
      const group = out.get(ring.owners[i]!)!;
      (moved?.[i] ? group.moved : group.still).push(polar(h, keyRadius(h)));
    });
    return out;
  }, [ring, moved]);
  const ticks = useMemo(() => {
    const out = new Map<string, string>();
    if (ring.scheme !== 'consistent') return out;
    for (const p of ring.points) {
      const [x1, y1] = polar(p.at, RING_R - 7);
      const [x2, y2] = polar(p.at, RING_R + 7);
      out.set(p.node, `${out.get(p.node) ?? ''}M${x1} ${y1}L${x2} ${y2}`);
    }
    return out;
  }, [ring]);
  const movedCount = ring.change?.moved ?? 0;
  const label =
    `${ring.keys.length.toLocaleString('en')} keys as dots, coloured by the node that holds them, over nodes ${ring.nodes.join(', ')}` +
    (ring.scheme === 'consistent'
      ? `; each node has ${ring.virtualNodes} virtual node${ring.virtualNodes === 1 ? '' : 's'}, drawn as marks on the ring`
      : '; modulo N ignores the ring: a key goes to node number hash(key) % N') +
    (ring.change
      ? `. ${movedCount} key${movedCount === 1 ? '' : 's'} moved in the last operation and are drawn larger, outlined.`
      : '.');
  return (
    <svg
      className={`${styles.ring} ${ring.change ? styles.changed : ''}`}
      viewBox={`0 0 ${SIZE} ${SIZE}`}
      role="img"
      aria-label={label}
    >
      <circle className={styles.track} cx={CENTER} cy={CENTER} r={RING_R} />
      <path className={styles.zero} d={`M${CENTER} ${CENTER - RING_R - 16}V${CENTER - RING_R + 10}`} />
      <text className={styles.axis} x={CENTER + 5} y={CENTER - RING_R - 8}>
        0
      </text>
      {ring.nodes.map((node) => (
        <path key={`t${node}`} className={`${styles.tick} ${colour(node)}`} d={ticks.get(node) ?? ''} />
      ))}
      {ring.scheme === 'consistent' && ring.virtualNodes === 1
        ? ring.points.map((p) => {
            const [x, y] = polar(p.at, RING_R + 18);
            return (
              <text key={`l${p.node}`} className={styles.pointLabel} x={x} y={y + 4} textAnchor="middle">
                {p.node}
              </text>
            );
          })
        : null}
      {ring.nodes.map((node) => (
        <path
          key={`k${node}`}
          className={`${styles.key} ${colour(node)}`}
          d={dots(groups.get(node)!.still, 1.8)}
        />
      ))}
      {ring.nodes.map((node) => (
        <path
          key={`m${node}-${operations}`}
          className={`${styles.movedKey} ${colour(node)}`}
          d={dots(groups.get(node)!.moved, 3)}
          data-moved-dots={groups.get(node)!.moved.length}
        />
      ))}
      <text className={styles.centre} x={CENTER} y={CENTER - 4} textAnchor="middle">
        {ring.scheme === 'consistent' ? 'consistent hashing' : 'hash(key) % N'}
      </text>
      <text className={styles.centreSmall} x={CENTER} y={CENTER + 14} textAnchor="middle">
        {ring.scheme === 'consistent'
          ? `${ring.nodes.length} × ${ring.virtualNodes} virtual`
          : `N = ${ring.nodes.length}`}
      </text>
    </svg>
  );
}

const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
const signed = (n: number) => (n > 0 ? `+${n}` : n < 0 ? `−${-n}` : '0');

export default function HashRingSimulator({
  seed: initialSeed = DEFAULTS.seed,
  keys = DEFAULTS.keys,
  initialNodes = DEFAULTS.nodes,
  virtualNodes: initialVirtualNodes = DEFAULTS.virtualNodes,
}: HashRingSimulatorProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const id = useId();
  const startV = VIRTUAL_NODE_OPTIONS.find((v) => v === initialVirtualNodes) ?? DEFAULTS.virtualNodes;
  const fresh = (seed: number) => createRing({ seed, keys, nodes: initialNodes, virtualNodes: startV });
  const [seed, setSeed] = useState(initialSeed);
  const [state, setState] = useState(() => ({ ring: fresh(initialSeed), operations: 0 }));
  const { ring, operations } = state;
  const apply = (next: Ring) => {
    if (next !== ring) setState({ ring: next, operations: operations + 1 });
  };
  const reset = (nextSeed: number) => setState({ ring: fresh(nextSeed), operations: 0 });

  const rows = loads(ring);
  const s = spread(ring);
  const c = ring.change;
  const upcoming = nextNodeName(ring);
  const dataset: Record<string, string | number | undefined> = {
    'data-simulator': 'hash-ring',
    'data-hydrated': hydrated ? 'true' : undefined,
    'data-scheme': ring.scheme,
    'data-virtual-nodes': ring.virtualNodes,
    'data-nodes': ring.nodes.join(','),
    'data-keys': ring.keys.length,
    'data-loads': rows.map((r) => `${r.node}:${r.keys}`).join(','),
    'data-max-min': Number.isFinite(s.maxMin) ? s.maxMin.toFixed(3) : 'Infinity',
    'data-max-mean': s.maxMean.toFixed(3),
    'data-operations': operations,
    'data-last-op': c?.kind,
    'data-last-node': c?.node,
    'data-moved': c?.moved,
    'data-moved-share': c?.movedShare.toFixed(4),
    'data-ideal-share': c?.ideal?.share.toFixed(4),
    'data-moved-onto-new': c?.kind === 'add' ? c.newNodeKeys : undefined,
    'data-moved-between-old': c?.kind === 'add' ? c.betweenOld : undefined,
  };

  return (
    <section className={styles.sim} aria-label="Hash ring simulator" {...dataset}>
      <div className={styles.controls}>
        <fieldset className={styles.scheme}>
          <legend>Scheme</legend>
          {SCHEMES.map((x) => (
            <label key={x.id} htmlFor={`${id}-${x.id}`}>
              <input
                id={`${id}-${x.id}`}
                type="radio"
                name={`${id}-scheme`}
                value={x.id}
                checked={ring.scheme === x.id}
                onChange={() => apply(setScheme(ring, x.id))}
              />
              {x.label}
            </label>
          ))}
        </fieldset>
        <label htmlFor={`${id}-vnodes`}>
          Virtual nodes per node
          <select
            id={`${id}-vnodes`}
            value={ring.virtualNodes}
            onChange={(e) => apply(setVirtualNodes(ring, Number(e.target.value)))}
          >
            {VIRTUAL_NODE_OPTIONS.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <SeedInput
          id={`${id}-seed`}
          label="Seed of the keys"
          value={seed}
          onChange={(text) => {
            const next = wholeSeed(text);
            setSeed(next);
            reset(next);
          }}
        />
      </div>
      <div className={styles.buttons}>
        <KitButton primary disabled={!upcoming} onClick={() => apply(addNode(ring))}>
          {upcoming ? `Add node ${upcoming}` : `Add node (${MAX_NODES} at most)`}
        </KitButton>
        <KitButton onClick={() => reset(seed)}>Reset</KitButton>
        <span className={styles.hint}>
          {ring.keys.length.toLocaleString('en')} keys, {ring.nodes.length} node
          {ring.nodes.length === 1 ? '' : 's'}
        </span>
      </div>
      <fieldset className={styles.removeGroup}>
        <legend className={styles.groupLabel}>Remove a node</legend>
        <div className={styles.buttons}>
          {ring.nodes.map((node) => (
            <button
              key={node}
              type="button"
              className={`button button--outline button--secondary button--sm ${styles.remove}`}
              disabled={ring.nodes.length <= 1}
              onClick={() => apply(removeNode(ring, node))}
            >
              <span className={`${styles.swatch} ${colour(node)}`} aria-hidden="true" />
              Remove <span className={styles.srOnly}>node </span>
              {node}
            </button>
          ))}
        </div>
      </fieldset>
      <p className={styles.change} aria-live="polite">
        {describeChange(ring)}
      </p>

      <div className={styles.layout}>
        <div className={styles.picture}>
          <RingPicture ring={ring} operations={operations} />
          <p className={styles.legend}>
            Dots are keys at their hash (0 at the top, clockwise), coloured by their node
            {ring.scheme === 'consistent' ? '; marks on the ring are virtual nodes' : ''}. Larger outlined
            dots moved in the last operation.
          </p>
        </div>
        <div className={styles.side}>
          <p className={styles.title} id={`${id}-loads`}>
            Keys per node
          </p>
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (axe scrollable-region-focusable) */}
          <section className={styles.tableWrap} aria-labelledby={`${id}-loads`} tabIndex={0}>
            <table className={styles.table}>
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">Keys</th>
                  <th scope="col">Share</th>
                  {ring.scheme === 'consistent' ? <th scope="col">Of the ring</th> : null}
                  <th scope="col">Last change</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.node} data-node={r.node} data-keys={r.keys}>
                    <th scope="row">
                      <span className={`${styles.swatch} ${colour(r.node)}`} aria-hidden="true" />
                      {r.node}
                    </th>
                    <td>{r.keys.toLocaleString('en')}</td>
                    <td>{pct(r.share)}</td>
                    {ring.scheme === 'consistent' ? <td>{pct(r.arc)}</td> : null}
                    <td>{c ? signed(r.delta) : '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <p className={styles.spread}>{describeSpread(ring)}</p>
          <p className={styles.note}>
            Ideal share per node: 1/{ring.nodes.length} = {pct(1 / ring.nodes.length)}. Hash: 32-bit FNV-1a
            with murmur3’s finaliser.
          </p>
        </div>
      </div>
    </section>
  );
}
