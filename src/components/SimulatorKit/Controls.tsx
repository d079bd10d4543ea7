/**
 * The controls the course's simulators share: the Play/Pause toggle, the small Infima buttons, and the
 * seed input. Each keeps the markup, text and `id`s the browser checks in `src/site-checks/` look for.
 */

import type { ButtonHTMLAttributes, ReactNode } from 'react';

/** Props of {@link KitButton}: a native button's, plus whether it is the bar's main action. */
export interface KitButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type' | 'className'> {
  /** The bar's main action: Infima's primary colour instead of the secondary grey. */
  primary?: boolean;
  /** `data-action`, the name the browser checks click the button by (`play`, `step`, `reset`, ...). */
  'data-action'?: string;
}

/** A small Infima button (`button button--sm`, primary or secondary) of type `button`. */
export function KitButton({ primary = false, children, ...rest }: KitButtonProps): ReactNode {
  return (
    <button
      type="button"
      className={`button ${primary ? 'button--primary' : 'button--secondary'} button--sm`}
      {...rest}
    >
      {children}
    </button>
  );
}

/** Props of {@link PlayButton}. */
export interface PlayButtonProps extends Omit<KitButtonProps, 'children' | 'onClick'> {
  /** True while the simulation plays: the button then reads "Pause". */
  playing: boolean;
  /** Called on click; usually flips `playing`. */
  onToggle: () => void;
}

/** The Play/Pause toggle: reads "Play" when stopped and "Pause" while playing. */
export function PlayButton({ playing, onToggle, ...rest }: PlayButtonProps): ReactNode {
  return (
    <KitButton {...rest} onClick={onToggle}>
      {playing ? 'Pause' : 'Play'}
    </KitButton>
  );
}

/**
 * What a seed input's text stands for when any number is accepted: the whole part, at least 0 (an
 * empty or non-numeric field gives 0).
 */
export function wholeSeed(text: string): number {
  return Math.max(0, Math.floor(Number(text) || 0));
}

/** Props of {@link SeedInput}. */
export interface SeedInputProps {
  /** The input's `id`; the label points at it, and `${id}-error` is the error message's id. */
  id: string;
  /** What the input shows: a number, or the text typed so far. */
  value: number | string;
  /** Called with the input's text on every change. */
  onChange: (text: string) => void;
  /** The label's text; "Seed" unless given. */
  label?: ReactNode;
  /** The largest seed the input offers (its `max`). */
  max?: number;
  /**
   * Whether the typed text is a valid seed. Given, the input carries `aria-invalid` and, when invalid,
   * `aria-describedby` pointing at `${id}-error` (the component renders that message). Left out, neither.
   */
  ok?: boolean;
  /** A class for the label, when the component styles its fields one by one. */
  className?: string;
}

/** A labelled number input for the seed (`min` 0), the label wrapping the input as in every simulator. */
export function SeedInput({
  id,
  value,
  onChange,
  label = 'Seed',
  max,
  ok,
  className,
}: SeedInputProps): ReactNode {
  return (
    <label className={className} htmlFor={id}>
      {label}
      <input
        id={id}
        type="number"
        min={0}
        max={max}
        value={value}
        aria-invalid={ok === undefined ? undefined : !ok}
        aria-describedby={ok === false ? `${id}-error` : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}
