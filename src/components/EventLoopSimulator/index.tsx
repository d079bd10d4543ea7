/**
 * `<EventLoopSimulator snippet="nexttick-vs-promise" />`: step through a snippet's work moving
 * between the call stack, the nextTick queue, the microtask queue and the phases of Node's event loop,
 * with the output growing as it goes. Snippets live in ./snippets.ts; the steps are computed by
 * ./engine.ts, deterministically, so the component is safe to server-render.
 */

import useIsBrowser from '@docusaurus/useIsBrowser';
import { type KeyboardEvent, type ReactNode, useMemo, useState } from 'react';
import { KitButton } from '../SimulatorKit/Controls';
import { PHASES, type Snapshot, simulate } from './engine';
import { findSnippet } from './snippets';
import styles from './styles.module.css';

export interface EventLoopSimulatorProps {
  /** A snippet id from src/components/EventLoopSimulator/snippets.ts. */
  snippet: string;
  /** Index of the variant to start with (e.g. 0 = ES module). */
  variant?: number;
}

const EMPTY: Snapshot = {
  note: 'Nothing has run yet. Press Step to start the script.',
  phase: 'script',
  clock: 0,
  stack: [],
  nextTick: [],
  microtask: [],
  timers: [],
  poll: [],
  check: [],
  close: [],
  output: [],
};

function Queue({
  title,
  items,
  active,
  hint,
}: {
  title: string;
  items: string[];
  active?: boolean;
  hint?: string;
}): ReactNode {
  return (
    <div className={styles.queue} data-active={active || undefined}>
      <h4 className={styles.queueTitle}>
        {title}
        {hint && <span className={styles.hint}> {hint}</span>}
      </h4>
      {items.length === 0 ? (
        <span className={styles.emptyQueue}>empty</span>
      ) : (
        <ol className={styles.items}>
          {items.map((item, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: queue entries may repeat
            <li key={i}>{item}</li>
          ))}
        </ol>
      )}
    </div>
  );
}

export default function EventLoopSimulator({
  snippet: snippetId,
  variant: initialVariant = 0,
}: EventLoopSimulatorProps): ReactNode {
  /** True once React has hydrated the page: the browser checks wait for it before they interact. */
  const hydrated = useIsBrowser();
  const snippet = findSnippet(snippetId);
  const [variantIndex, setVariantIndex] = useState(Math.min(initialVariant, snippet.variants.length - 1));
  const variant = snippet.variants[variantIndex]!;
  const steps = useMemo(() => simulate(snippet.script, variant), [snippet, variant]);
  const [position, setPosition] = useState(0);
  const current = position === 0 ? EMPTY : steps[position - 1]!;
  const finished = position === steps.length;
  const lines = snippet.code.split('\n');

  const go = (next: number) => setPosition(Math.max(0, Math.min(steps.length, next)));
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.target instanceof HTMLSelectElement) return;
    if (e.key === 'ArrowRight') {
      e.preventDefault();
      go(position + 1);
    } else if (e.key === 'ArrowLeft') {
      e.preventDefault();
      go(position - 1);
    }
  };

  return (
    <section
      className={styles.sim}
      aria-label={`Event loop simulator: ${snippet.title}`}
      data-simulator="event-loop"
      data-hydrated={hydrated || undefined}
      data-snippet={snippet.id}
      data-step={position}
      data-steps={steps.length}
      onKeyDown={onKeyDown}
    >
      <h4 className={styles.title}>{snippet.title}</h4>
      {snippet.variants.length > 1 && (
        <fieldset className={styles.variants}>
          <legend>Run it as</legend>
          {snippet.variants.map((v, i) => (
            <button
              key={v.label}
              type="button"
              className={`button button--sm ${i === variantIndex ? 'button--primary' : 'button--secondary'}`}
              aria-pressed={i === variantIndex}
              onClick={() => {
                setVariantIndex(i);
                setPosition(0);
              }}
            >
              {v.label}
            </button>
          ))}
        </fieldset>
      )}
      <div className={styles.layout}>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (axe scrollable-region-focusable) */}
        <pre className={styles.code} tabIndex={0}>
          {lines.map((text, i) => (
            <span
              // biome-ignore lint/suspicious/noArrayIndexKey: lines of a fixed snippet
              key={i}
              className={styles.codeLine}
              data-current={current.line === i + 1 || undefined}
            >
              <span className={styles.lineNumber} aria-hidden="true">
                {i + 1}
              </span>
              {text || ' '}
              {'\n'}
            </span>
          ))}
        </pre>
        <div className={styles.state}>
          <Queue
            title="Call stack"
            items={[...current.stack].reverse()}
            active={current.stack.length > 0}
            hint="(top first)"
          />
          <Queue
            title="process.nextTick queue"
            items={current.nextTick}
            active={current.draining === 'nextTick'}
          />
          <Queue
            title="Microtask queue (promises)"
            items={current.microtask}
            active={current.draining === 'microtask'}
          />
          <div className={styles.phases}>
            <h4 className={styles.queueTitle}>
              Event loop phases <span className={styles.hint}>(clock {current.clock} ms)</span>
            </h4>
            <div className={styles.phaseGrid}>
              {PHASES.map((phase) => (
                <Queue key={phase} title={phase} items={current[phase]} active={current.phase === phase} />
              ))}
            </div>
          </div>
        </div>
      </div>
      <p className={styles.note} aria-live="polite">
        <strong>
          Step {position} of {steps.length}.
        </strong>{' '}
        {current.note}
      </p>
      <div className={styles.controls}>
        <KitButton onClick={() => go(0)} disabled={position === 0}>
          Reset
        </KitButton>
        <KitButton onClick={() => go(position - 1)} disabled={position === 0}>
          Back
        </KitButton>
        <KitButton primary onClick={() => go(position + 1)} disabled={finished}>
          Step
        </KitButton>
        <KitButton onClick={() => go(steps.length)} disabled={finished}>
          Run to the end
        </KitButton>
        <span className={styles.keys}>or ← / → keys</span>
      </div>
      <div className={styles.output}>
        <h4 className={styles.queueTitle}>Output</h4>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (axe scrollable-region-focusable) */}
        <pre className={styles.outputText} data-output="" tabIndex={0}>
          {current.output.length ? current.output.join('\n') : ' '}
        </pre>
      </div>
      {finished && <p className={styles.explanation}>{variant.explanation}</p>}
    </section>
  );
}
