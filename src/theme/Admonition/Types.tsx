/**
 * Adds the course's two callouts to the admonition types (keywords registered in docusaurus.config.ts):
 *   :::production[In production] … :::   what this looks like in a real system
 *   :::mistake[Common mistake] … :::     a trap working developers fall into
 */
import type { Props } from '@theme/Admonition';
import AdmonitionLayout from '@theme/Admonition/Layout';
import DefaultAdmonitionTypes from '@theme-original/Admonition/Types';
import clsx from 'clsx';
import type { ReactNode } from 'react';

function ProductionIcon(): ReactNode {
  // A server rack.
  return (
    <svg viewBox="0 0 24 24" aria-hidden="true">
      <path
        fill="currentColor"
        d="M4 3h16a1 1 0 0 1 1 1v4a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zm0 8h16a1 1 0 0 1 1 1v4a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-4a1 1 0 0 1 1-1zm2-6v2h2V5H6zm0 8v2h2v-2H6zM3 19h18v2H3v-2z"
      />
    </svg>
  );
}

function MistakeIcon(): ReactNode {
  // A warning triangle.
  return (
    <svg viewBox="0 0 24 24" aria-hidden="true">
      <path
        fill="currentColor"
        d="M12 2 1 21h22L12 2zm0 5.5L19.5 19h-15L12 7.5zM11 10v5h2v-5h-2zm0 6v2h2v-2h-2z"
      />
    </svg>
  );
}

function Production(props: Props): ReactNode {
  return (
    <AdmonitionLayout
      icon={<ProductionIcon />}
      title="In production"
      {...props}
      className={clsx('alert alert--info', 'admonition-production', props.className)}
    >
      {props.children}
    </AdmonitionLayout>
  );
}

function Mistake(props: Props): ReactNode {
  return (
    <AdmonitionLayout
      icon={<MistakeIcon />}
      title="Common mistake"
      {...props}
      className={clsx('alert alert--danger', 'admonition-mistake', props.className)}
    >
      {props.children}
    </AdmonitionLayout>
  );
}

const AdmonitionTypes = {
  ...DefaultAdmonitionTypes,
  production: Production,
  mistake: Mistake,
};

export default AdmonitionTypes;
