/**
 * The editor + console panel for a ```ts live block. Loaded lazily (see src/theme/LiveCodeBlock), so
 * pages without live blocks never download the editor or the TypeScript stripper.
 */
import { usePrismTheme } from '@docusaurus/theme-common';
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { Editor } from 'react-live';
import { type ConsoleLine, type RunHandle, runProgram } from './run';
import styles from './styles.module.css';

type Status = { state: 'running' } | { state: 'done'; ok: boolean; ms: number };

const EDIT_DELAY_MS = 600;

export default function TsPlayground({
  code: initialCode,
  title,
}: {
  code: string;
  title?: string;
}): ReactNode {
  const prismTheme = usePrismTheme();
  const [code, setCode] = useState(initialCode);
  const [editorKey, setEditorKey] = useState(0);
  const [lines, setLines] = useState<ConsoleLine[]>([]);
  const [status, setStatus] = useState<Status>({ state: 'running' });
  const [runs, setRuns] = useState(0);
  const handle = useRef<RunHandle | null>(null);

  const run = useCallback((source: string) => {
    handle.current?.cancel();
    setLines([]);
    setStatus({ state: 'running' });
    const buffer: ConsoleLine[] = [];
    let scheduled = false;
    const current = runProgram(source, (line) => {
      buffer.push(line);
      if (scheduled) return;
      scheduled = true;
      // Batch bursts of output into one render.
      queueMicrotask(() => {
        scheduled = false;
        const batch = buffer.splice(0);
        if (handle.current === current) setLines((prev) => [...prev, ...batch]);
      });
    });
    handle.current = current;
    setRuns((n) => n + 1);
    current.done.then((result) => {
      if (handle.current === current) setStatus({ state: 'done', ...result });
    });
  }, []);

  // Run once when the block appears, then again a moment after each edit.
  useEffect(() => {
    const timer = setTimeout(() => run(code), code === initialCode ? 0 : EDIT_DELAY_MS);
    return () => clearTimeout(timer);
  }, [code, initialCode, run]);

  useEffect(() => () => handle.current?.cancel(), []);

  const label = title ?? 'TypeScript';
  return (
    <div className={styles.playground} data-live-ts="" data-runs={runs} data-status={status.state}>
      <div className={styles.header}>
        <span>{label} · live (edit me)</span>
        <span className={styles.buttons}>
          <button type="button" className={styles.button} onClick={() => run(code)}>
            Run
          </button>
          <button
            type="button"
            className={styles.button}
            onClick={() => {
              setCode(initialCode);
              setEditorKey((k) => k + 1);
              run(initialCode);
            }}
          >
            Reset
          </button>
        </span>
      </div>
      {/* The editor scrolls sideways on a phone. react-live's contentEditable pre is switched off
          and on while it re-renders, so axe (and a keyboard user, at that moment) can find no
          focusable element inside: the scrolling region is reachable by itself (WCAG 2.1.1). */}
      <section
        className={styles.editor}
        data-live-editor=""
        aria-label="Code (editable)"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be keyboard-reachable
        tabIndex={0}
      >
        <Editor
          key={editorKey}
          code={code}
          language="typescript"
          theme={prismTheme}
          tabMode="focus"
          onChange={setCode}
        />
      </section>
      <div className={styles.consoleHeader}>
        <span>Console</span>
        <span className={styles.status} data-ok={status.state === 'done' ? String(status.ok) : undefined}>
          {status.state === 'running'
            ? 'running…'
            : status.ok
              ? `finished in ${status.ms.toFixed(0)} ms`
              : 'stopped with an error'}
        </span>
      </div>
      <output
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (axe scrollable-region-focusable)
        tabIndex={0}
        className={styles.console}
        aria-live="polite"
        aria-label={`${label} console output`}
        data-live-console=""
      >
        {lines.length === 0 && status.state === 'done' ? (
          <span className={styles.empty}>(no output)</span>
        ) : (
          lines.map((line, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: lines only ever append
            <div key={i} className={styles.line} data-kind={line.kind}>
              {line.text}
            </div>
          ))
        )}
      </output>
    </div>
  );
}
