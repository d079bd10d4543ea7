/**
 * The hooks the course's simulators share: a re-render trigger for a model mutated in place, a
 * ticker that drives Play, the reader's reduced-motion setting, and a seed field that may hold a
 * half-typed value.
 */

import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * A counter and a function that bumps it: call `rerender()` after mutating a model held in a ref, and
 * list `version` in a `useMemo`'s dependencies to recompute what is derived from it.
 */
export function useRerender(): [version: number, rerender: () => void] {
  const [version, setVersion] = useState(0);
  const rerender = useCallback(() => setVersion((v) => v + 1), []);
  return [version, rerender];
}

/**
 * Calls `onTick` every `intervalMs` milliseconds while `active` is true (Play), and stops when it turns
 * false, when `intervalMs` changes (restarted at the new pace) or when the component unmounts. The
 * latest `onTick` is always the one called, so it may read fresh state without restarting the timer.
 */
export function useTicker(active: boolean, intervalMs: number, onTick: () => void): void {
  const latest = useRef(onTick);
  latest.current = onTick;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => latest.current(), intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs]);
}

/**
 * True when the reader's system asks for reduced motion (`prefers-reduced-motion: reduce`), following
 * changes. True on the server and the first render, so a server-rendered page starts without motion.
 */
export function useReducedMotion(): boolean {
  const [reduced, setReduced] = useState(true);
  useEffect(() => {
    const query = window.matchMedia('(prefers-reduced-motion: reduce)');
    setReduced(query.matches);
    const onChange = () => setReduced(query.matches);
    query.addEventListener('change', onChange);
    return () => query.removeEventListener('change', onChange);
  }, []);
  return reduced;
}

/** The largest seed a simulator built on the `Prng` of `src/testing/sim` takes: 2^32 - 1. */
export const MAX_SEED = 2 ** 32 - 1;

/** A seed text field: what the reader typed, the number it stands for, and whether that is a valid seed. */
export interface SeedField {
  /** The text in the field, as typed. */
  field: string;
  /** Replaces the text (the input's `onChange`). */
  setField: (text: string) => void;
  /** `Number(field)`; use it only when `ok`. */
  value: number;
  /** True when `field` is a whole number from 0 to `max`. */
  ok: boolean;
}

/**
 * `initial` when it is a whole number from 0 to `max`, else `fallback`: the seed a simulator starts
 * from whatever a page passes.
 */
export function startingSeed(initial: number, fallback: number, max = MAX_SEED): number {
  return Number.isInteger(initial) && initial >= 0 && initial <= max ? initial : fallback;
}

/**
 * A seed field that keeps what the reader typed, even when it is not (yet) a valid seed, and says
 * whether it is one (a whole number from 0 to `max`). Starts at `start`.
 */
export function useSeedField(start: number, max = MAX_SEED): SeedField {
  const [field, setField] = useState(String(start));
  const value = Number(field);
  const ok = field.trim() !== '' && Number.isInteger(value) && value >= 0 && value <= max;
  return { field, setField, value, ok };
}
