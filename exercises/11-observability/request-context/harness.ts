/**
 * Helpers the suites share: deterministic ids and a seeded generator. Not part of the exercise.
 */
import { seededRandom } from '../../../src/testing/sim/prng.js';
import type { IdSource } from './context.js';

/**
 * A seeded generator in [0, 1) (the simulation kit's `seededRandom`), so every run sees the same
 * delays and the bench the same headers.
 */
export const seeded: (seed: number) => () => number = seededRandom;

/**
 * An {@link IdSource} that counts: trace ids `aaaa…0001`, `aaaa…0002`, span ids `bbbb…0001`, request
 * ids `rid-1`, ... so that an id says which source minted it and in what order. `minted` records them.
 */
export function countingIds(): IdSource & {
  minted: { traceIds: string[]; spanIds: string[]; requestIds: string[] };
} {
  const minted = { traceIds: [] as string[], spanIds: [] as string[], requestIds: [] as string[] };
  let n = 0;
  return {
    minted,
    traceId() {
      const id = `aaaa${(++n).toString(16).padStart(28, '0')}`;
      minted.traceIds.push(id);
      return id;
    },
    spanId() {
      const id = `bbbb${(++n).toString(16).padStart(12, '0')}`;
      minted.spanIds.push(id);
      return id;
    },
    requestId() {
      const id = `rid-${++n}`;
      minted.requestIds.push(id);
      return id;
    },
  };
}

/** A valid traceparent for the i-th test trace: trace id `cafe…i`, parent id `dddd…i`, sampled or not. */
export function incomingTraceparent(
  i: number,
  sampled = true,
): { header: string; traceId: string; spanId: string } {
  const traceId = `cafe${i.toString(16).padStart(28, '0')}`;
  const spanId = `dddd${i.toString(16).padStart(12, '0')}`;
  return { header: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`, traceId, spanId };
}
