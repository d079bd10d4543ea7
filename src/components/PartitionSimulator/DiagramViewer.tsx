/**
 * `<DiagramViewer />`: the course site's diagram viewer (`/diagram`). A learner pastes the mermaid
 * `sequenceDiagram` a failing simulation wrote (`toMermaid` in `src/testing/sim/mermaid.ts`) and sees
 * it drawn with the site's own Mermaid component; text mermaid cannot parse gets its error in words
 * instead of a picture. An example is filled in. Mermaid loads only in the browser, after hydration.
 */

import { loadMermaid } from '@docusaurus/theme-mermaid/lib/client/loadMermaid.js';
import useIsBrowser from '@docusaurus/useIsBrowser';
import Mermaid from '@theme/Mermaid';
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import styles from './styles.module.css';

/** What the viewer shows first: a stale read across a partition, as the kit draws it. */
export const EXAMPLE = `sequenceDiagram
  participant c1
  participant n1
  participant n3
  participant c3
  Note over c1,c3: t0 partition split: n1,n2,c1,c2 / n3,n4,n5,c3,c4,c5
  c1->>n1: write [t0→t2]
  n1-xn3: repl [t2, lost: partition]
  n1->>c1: ok [t2→t3]
  c3->>n3: read [t5→t6]
  n3->>c3: ok [t6→t8]
  Note over c3: read → null after write 1 finished: stale
`;

/** Waits this long after the last keystroke before drawing, in ms. */
const DEBOUNCE_MS = 400;

type Parsed =
  | { readonly state: 'ok'; readonly text: string }
  | { readonly state: 'error'; readonly message: string };

/** Mermaid's parse error, in words a learner can act on (its first lines: where and what it expected). */
function describeError(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const lines = raw.split('\n').filter((line) => line.trim() !== '');
  return lines.slice(0, 4).join('\n') || 'mermaid could not read this text';
}

export default function DiagramViewer(): ReactNode {
  const hydrated = useIsBrowser();
  const id = useId();
  const [text, setText] = useState(EXAMPLE);
  const [parsed, setParsed] = useState<Parsed | undefined>();
  /** The first draw (the example, or what the page loaded with) does not wait for typing to stop. */
  const first = useRef(true);

  useEffect(() => {
    if (!hydrated) return;
    let current = true;
    const source = text;
    const timer = setTimeout(
      () => {
        if (source.trim() === '') {
          setParsed({ state: 'error', message: 'Paste a diagram: the box is empty.' });
          return;
        }
        loadMermaid()
          .then((mermaid) => mermaid.parse(source))
          .then(
            () => current && setParsed({ state: 'ok', text: source }),
            (error: unknown) => current && setParsed({ state: 'error', message: describeError(error) }),
          );
      },
      first.current ? 0 : DEBOUNCE_MS,
    );
    first.current = false;
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [text, hydrated]);

  return (
    <div
      className={styles.viewer}
      data-simulator="diagram"
      data-hydrated={hydrated || undefined}
      data-state={parsed?.state}
    >
      <label htmlFor={`${id}-text`} className={styles.title}>
        Mermaid text (a <code>sequenceDiagram</code> from a failing run, or any mermaid diagram)
      </label>
      <textarea
        id={`${id}-text`}
        className={styles.textarea}
        value={text}
        spellCheck={false}
        rows={12}
        aria-describedby={parsed?.state === 'error' ? `${id}-error` : undefined}
        aria-invalid={parsed?.state === 'error' || undefined}
        onChange={(e) => setText(e.target.value)}
      />
      <div className={styles.buttons}>
        <button
          type="button"
          className="button button--secondary button--sm"
          onClick={() => setText(EXAMPLE)}
        >
          Show the example
        </button>
        <button type="button" className="button button--secondary button--sm" onClick={() => setText('')}>
          Clear
        </button>
      </div>
      {parsed?.state === 'error' ? (
        <div id={`${id}-error`} role="alert" className={styles.diagramError} data-diagram-error>
          <p>This is not a diagram mermaid can draw:</p>
          <pre>{parsed.message}</pre>
        </div>
      ) : null}
      {parsed?.state === 'ok' ? (
        <div className={styles.drawing} data-diagram-drawing>
          <Mermaid key={parsed.text} value={parsed.text} />
        </div>
      ) : null}
      {parsed === undefined ? (
        <p className={styles.note}>The drawing appears here once the page has loaded.</p>
      ) : null}
    </div>
  );
}
