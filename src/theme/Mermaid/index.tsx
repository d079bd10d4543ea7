/**
 * Replaces theme-mermaid 3.10.2's Mermaid component to fix a race that leaves diagrams blank.
 *
 * The stock hook gives each diagram one fixed id and calls mermaid.initialize() and mermaid.render()
 * from concurrent effects. When a page loads in dark mode (or the mode changes) a diagram is rendered
 * twice with the same id; mermaid.render() starts by removing any element with that id — the SVG
 * already on screen — and if the second SVG string is identical to the first (both rendered after
 * the dark config was set), React sees no change and never puts it back: an empty box. Found by the
 * browser checks (src/site-checks) on a page with three diagrams.
 *
 * Here every render is queued (initialize + render run together, one at a time), gets a fresh id,
 * and a stale render (unmounted, or superseded by a newer colour mode) is ignored.
 */
import ErrorBoundary from '@docusaurus/ErrorBoundary';
import { ErrorBoundaryErrorMessageFallback } from '@docusaurus/theme-common';
import { MermaidContainerClassName, useMermaidConfig } from '@docusaurus/theme-mermaid/client';
import { loadMermaid } from '@docusaurus/theme-mermaid/lib/client/loadMermaid.js';
import { type ReactNode, useEffect, useRef, useState } from 'react';
import styles from './styles.module.css';

interface RenderResult {
  svg: string;
  bindFunctions?: (element: Element) => void;
}

let queue: Promise<unknown> = Promise.resolve();
let renders = 0;

function renderSerially(text: string, config: Record<string, unknown>): Promise<RenderResult> {
  const job = queue.then(async () => {
    const mermaid = await loadMermaid();
    const id = `mermaid-svg-${++renders}`;
    mermaid.initialize(config);
    try {
      return (await mermaid.render(id, text)) as RenderResult;
    } catch (error) {
      // Mermaid leaves an error SVG in the DOM on failure.
      document.querySelector(`#d${id}`)?.remove();
      throw error;
    }
  });
  queue = job.catch(() => undefined);
  return job;
}

function MermaidRenderer({ value }: { value: string }): ReactNode {
  const config = useMermaidConfig() as unknown as Record<string, unknown>;
  const [result, setResult] = useState<RenderResult | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let current = true;
    renderSerially(value, config).then(
      (rendered) => current && setResult(rendered),
      (failure: unknown) =>
        current && setError(failure instanceof Error ? failure : new Error(String(failure))),
    );
    return () => {
      current = false;
    };
  }, [value, config]);

  useEffect(() => {
    if (result && ref.current) result.bindFunctions?.(ref.current);
  }, [result]);

  if (error) throw error;
  if (!result) return null;
  return (
    <div
      ref={ref}
      className={`${MermaidContainerClassName} ${styles.container}`}
      // biome-ignore lint/security/noDangerouslySetInnerHtml: mermaid's own sanitized SVG output
      dangerouslySetInnerHTML={{ __html: result.svg }}
    />
  );
}

export default function Mermaid(props: { value: string }): ReactNode {
  return (
    <ErrorBoundary fallback={(params) => <ErrorBoundaryErrorMessageFallback {...params} />}>
      <MermaidRenderer {...props} />
    </ErrorBoundary>
  );
}
