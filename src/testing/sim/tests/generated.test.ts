/**
 * Generated histories over many seeds: a correct register's are always linearizable, a register
 * with stale reads is flagged whenever a stale read completed, and the checker's time on a
 * 10,000-operation history (printed, not asserted: machines differ).
 */
import { describe, expect, it } from 'vitest';
import { pairOperations, parseHistory } from '../history.js';
import { check } from '../linearizable.js';
import { register } from '../models.js';
import { registerHistory } from './register-histories.js';

const SEEDS = 300;

const verdictOf = (jsonl: string) => check(pairOperations(parseHistory(jsonl)), register).verdict;

describe('generated register histories', () => {
  it(`a correct register is linearizable, over ${SEEDS} seeds (with fail, info and unfinished operations)`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { jsonl } = registerHistory({
        seed,
        operations: 80,
        processes: 2 + (seed % 6),
        indeterminate: 0.1,
      });
      expect(verdictOf(jsonl), `seed ${seed}`).toBe('linearizable');
    }
  });

  it(`a register with stale reads is flagged whenever one completed, over ${SEEDS} seeds`, () => {
    let flagged = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { jsonl, staleReads } = registerHistory({
        seed,
        operations: 80,
        processes: 2 + (seed % 6),
        staleReads: 0.2,
      });
      expect(verdictOf(jsonl), `seed ${seed}, ${staleReads} stale reads`).toBe(
        staleReads > 0 ? 'not linearizable' : 'linearizable',
      );
      if (staleReads > 0) flagged++;
    }
    // The generator does inject violations: most seeds have one.
    expect(flagged).toBeGreaterThan(SEEDS * 0.8);
  });

  it('the same seed gives the same history', () => {
    const options = { seed: 42, operations: 200, processes: 5, staleReads: 0.1 };
    expect(registerHistory(options)).toEqual(registerHistory(options));
  });

  it('checks 10,000 operations over 10 processes (time printed)', { timeout: 60_000 }, () => {
    for (const staleReads of [0, 0.002]) {
      const generated = registerHistory({ seed: 2026, operations: 10_000, processes: 10, staleReads });
      const ops = pairOperations(parseHistory(generated.jsonl));
      const started = performance.now();
      // A violation deep in a long history makes the search exhaust every order before it (about
      // operations x 2^processes configurations): it comes back unknown at the bound, as Porcupine's
      // and Knossos's searches can. Only the linearizable history needs the longer bound.
      const timeoutMs = staleReads === 0 ? 30_000 : 3_000;
      const verdict = check(ops, register, { timeoutMs, now: () => performance.now() });
      const ms = performance.now() - started;
      console.log(
        `check: ${ops.length} operations, 10 processes, ${generated.staleReads} stale reads: ${verdict.verdict} in ${ms.toFixed(0)} ms` +
          (verdict.verdict === 'not linearizable' ? ` (witness of ${verdict.witness.length})` : ''),
      );
      if (generated.staleReads === 0) expect(verdict.verdict).toBe('linearizable');
      else expect(verdict.verdict).not.toBe('linearizable');
    }
  });
});
