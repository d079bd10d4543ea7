/**
 * Our checker against an independent one on histories from a real database: five Jepsen etcd
 * histories from Porcupine's test data, with Porcupine's verdicts (see fixtures/jepsen-etcd/README.md).
 * Times are printed, not asserted: before the checker tried `info` operations last with a dominance
 * memo, etcd_002 took 1.36 million steps (about 6 s) and etcd_007 about 4 s.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pairOperations, parseHistory } from '../history.js';
import { check } from '../linearizable.js';
import { register } from '../models.js';

/** Porcupine's verdicts, from `porcupine_test.go` (`checkJepsen(t, n, correct)`). */
const PORCUPINE: Record<string, boolean> = {
  etcd_000: false,
  etcd_001: false,
  etcd_002: true,
  etcd_005: true,
  etcd_007: true,
};

describe('Jepsen etcd histories: our verdict is Porcupine’s', () => {
  for (const [name, linearizable] of Object.entries(PORCUPINE)) {
    it(`${name}: ${linearizable ? 'linearizable' : 'not linearizable'}`, { timeout: 60_000 }, () => {
      const text = readFileSync(new URL(`./fixtures/jepsen-etcd/${name}.jsonl`, import.meta.url), 'utf8');
      const ops = pairOperations(parseHistory(text));
      const started = performance.now();
      const verdict = check(ops, register, { timeoutMs: 20_000, now: () => performance.now() });
      const info = ops.filter((op) => op.status === 'info').length;
      console.log(
        `${name}: ${ops.length} operations (${info} info): ${verdict.verdict} in ${(performance.now() - started).toFixed(0)} ms`,
      );
      expect(verdict.verdict).toBe(linearizable ? 'linearizable' : 'not linearizable');
    });
  }
});
