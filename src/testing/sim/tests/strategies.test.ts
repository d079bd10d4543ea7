/**
 * The checker's two search strategies give the same verdicts: `greedy` (invoke order, exact memo) and
 * `info-last` (info operations last, dominance memo), on generated register histories with many
 * indeterminate operations, with and without stale reads, and on the Jepsen etcd fixtures.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pairOperations, parseHistory } from '../history.js';
import { check } from '../linearizable.js';
import { register } from '../models.js';
import { registerHistory } from './register-histories.js';

const SEEDS = 120;

describe('search strategies', () => {
  it(`agree on ${SEEDS} generated histories with 20% indeterminate operations`, { timeout: 120_000 }, () => {
    const verdicts = new Set<string>();
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { jsonl } = registerHistory({
        seed,
        operations: 60,
        processes: 2 + (seed % 5),
        indeterminate: 0.2,
        staleReads: seed % 2 === 0 ? 0.2 : 0,
      });
      const ops = pairOperations(parseHistory(jsonl));
      const greedy = check(ops, register, { strategy: 'greedy' });
      const infoLast = check(ops, register, { strategy: 'info-last' });
      expect(infoLast.verdict, `seed ${seed}`).toBe(greedy.verdict);
      verdicts.add(greedy.verdict);
    }
    expect([...verdicts].sort()).toEqual(['linearizable', 'not linearizable']);
  });

  it('agree on the Jepsen etcd fixtures', { timeout: 120_000 }, () => {
    for (const name of ['etcd_000', 'etcd_001', 'etcd_005']) {
      const text = readFileSync(new URL(`./fixtures/jepsen-etcd/${name}.jsonl`, import.meta.url), 'utf8');
      const ops = pairOperations(parseHistory(text));
      expect(check(ops, register, { strategy: 'info-last' }).verdict, name).toBe(
        check(ops, register, { strategy: 'greedy' }).verdict,
      );
    }
  });
});
