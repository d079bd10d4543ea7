/**
 * Maelstrom's counter rule: final reads lie in the sum of the ok adds plus any subset of the
 * indeterminate ones, exactly as its TreeRangeSet computes it, for grow-only and for negative deltas.
 */
import { describe, expect, it } from 'vitest';
import { acceptableSums, checkCounter } from '../counter.js';
import { type HistoryEvent, pairOperations } from '../history.js';

type Event = Omit<HistoryEvent, 'line'>;
const add = (p: number, delta: number, type: 'ok' | 'fail' | 'info' = 'ok'): Event[] => [
  { process: p, type: 'invoke', f: 'add', value: delta },
  { process: p, type, f: 'add' },
];
const read = (p: number, value: number): Event[] => [
  { process: p, type: 'invoke', f: 'read' },
  { process: p, type: 'ok', f: 'read', value },
];
const opsOf = (...events: Event[][]) =>
  pairOperations(events.flat().map((event, i) => ({ ...event, line: i + 1 })));

describe('acceptableSums', () => {
  it('is okSum plus every subset sum of the info deltas, as merged integer ranges', () => {
    expect(acceptableSums(10, [])).toEqual([[10, 10]]);
    expect(acceptableSums(10, [1, 1, 1])).toEqual([[10, 13]]);
    expect(acceptableSums(0, [5, 10])).toEqual([
      [0, 0],
      [5, 5],
      [10, 10],
      [15, 15],
    ]);
    // Negative deltas: the bounds are taken separately, and the set has holes.
    expect(acceptableSums(0, [-5, 5])).toEqual([
      [-5, -5],
      [0, 0],
      [5, 5],
    ]);
    expect(() => acceptableSums(0, [0.5])).toThrow('integers');
  });
});

describe('checkCounter', () => {
  it('accepts final reads between the ok sum and the ok sum plus the info adds (g-counter)', () => {
    const ops = opsOf(add(0, 2), add(1, 3), add(2, 1, 'info'), add(3, 7, 'fail'), read(0, 5), read(1, 6));
    const verdict = checkCounter(ops);
    expect(verdict).toMatchObject({ valid: true, okSum: 5, bounds: [5, 6], acceptable: [[5, 6]] });
    expect(verdict.finalReads.map((op) => op.output)).toEqual([5, 6]);
  });

  it('rejects a read below the ok sum, or above it plus every info add, or that counted a failed add', () => {
    for (const value of [4, 7, 12]) {
      const ops = opsOf(add(0, 2), add(1, 3), add(2, 1, 'info'), add(3, 7, 'fail'), read(0, value));
      const verdict = checkCounter(ops);
      expect(verdict.valid, `read ${value}`).toBe(false);
      expect(verdict.errors.map((op) => op.output)).toEqual([value]);
    }
  });

  it('with negative deltas (pn-counter) accepts only sums of subsets of the info adds', () => {
    const base = [add(0, 10), add(1, -5, 'info'), add(2, 5, 'info')];
    expect(checkCounter(opsOf(...base, read(0, 5))).valid).toBe(true);
    expect(checkCounter(opsOf(...base, read(0, 15))).valid).toBe(true);
    const hole = checkCounter(opsOf(...base, read(0, 11)));
    expect(hole).toMatchObject({ valid: false, bounds: [5, 15] });
  });

  it('judges only final reads: by default those invoked after every ok add completed', () => {
    const events = [
      { process: 0, type: 'invoke', f: 'add', value: 3 },
      { process: 1, type: 'invoke', f: 'read' },
      { process: 1, type: 'ok', f: 'read', value: 0 },
      { process: 0, type: 'ok', f: 'add' },
      ...read(1, 3),
    ] as Event[];
    const verdict = checkCounter(opsOf(events));
    expect(verdict.valid).toBe(true);
    expect(verdict.finalReads.map((op) => op.output)).toEqual([3]);
    // A caller's rule instead: every read is final.
    expect(checkCounter(opsOf(events), { isFinal: () => true }).valid).toBe(false);
  });

  it('names the line of an add without an integer delta', () => {
    expect(() => checkCounter(opsOf([{ process: 0, type: 'invoke', f: 'add', value: 'x' }]))).toThrow(
      /line 1: an add's value/,
    );
  });
});
