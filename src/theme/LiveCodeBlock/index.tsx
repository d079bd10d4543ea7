/**
 * Wraps theme-live-codeblock's LiveCodeBlock:
 *  - ```ts live / ```typescript live  -> a TypeScript PROGRAM with its own console panel (TsPlayground);
 *  - any other ```<lang> live           -> the original react-live JSX playground.
 * Both are loaded lazily on the client, so react-live and sucrase are only downloaded by pages that
 * have a live block; the server render (and the search index) shows the code as a plain block.
 */
import { type ComponentType, type ReactNode, useEffect, useState } from 'react';
import styles from './styles.module.css';

interface Props {
  children?: string;
  className?: string;
  metastring?: string;
  live?: boolean;
}

const TS_LANGUAGES = new Set(['ts', 'typescript']);

function languageOf(props: Props): string | undefined {
  const fromClass = /language-(\S+)/.exec(props.className ?? '')?.[1];
  return (props as { language?: string }).language ?? fromClass;
}

function titleOf(metastring: string | undefined): string | undefined {
  return /title=(["'])(.*?)\1/.exec(metastring ?? '')?.[2];
}

function StaticCode({ code }: { code: string }): ReactNode {
  return (
    <pre className={styles.static} data-live-placeholder="">
      <code>{code}</code>
    </pre>
  );
}

export default function LiveCodeBlock(props: Props): ReactNode {
  const code = String(props.children ?? '').replace(/\n$/, '');
  const isTs = TS_LANGUAGES.has(languageOf(props) ?? '');
  const [Loaded, setLoaded] = useState<ComponentType<Record<string, unknown>> | null>(null);

  useEffect(() => {
    let alive = true;
    const load = isTs
      ? import('../../components/LiveCode/TsPlayground')
      : import('@theme-original/LiveCodeBlock');
    load.then((module) => {
      if (alive) setLoaded(() => module.default as ComponentType<Record<string, unknown>>);
    });
    return () => {
      alive = false;
    };
  }, [isTs]);

  if (!Loaded) return <StaticCode code={code} />;
  return isTs ? <Loaded code={code} title={titleOf(props.metastring)} /> : <Loaded {...props} />;
}
