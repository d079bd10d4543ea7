import { describe, expect, it } from 'vitest';
import { compareStrategies, createSim, pick, send, setAlive, step } from './model';

describe('load balancing simulator model', () => {
  it('is deterministic: the same seed gives the same run', () => {
    expect(compareStrategies(7, 2), 'two runs with seed 7 must match exactly').toEqual(
      compareStrategies(7, 2),
    );
    expect(compareStrategies(7, 2), 'a different seed must give a different run').not.toEqual(
      compareStrategies(8, 2),
    );
  });

  it('shows the lesson: round robin has the worst tail on unequal backends', () => {
    const byStrategy = Object.fromEntries(compareStrategies(42, 2).map((s) => [s.strategy, s]));
    expect(
      byStrategy['least-connections']!.p95,
      'least connections must beat round robin at p95',
    ).toBeLessThan(byStrategy['round-robin']!.p95);
    expect(byStrategy['weighted-round-robin']!.p95, 'weights must help round robin').toBeLessThan(
      byStrategy['round-robin']!.p95,
    );
  });

  it('weighted round robin sends work in proportion to the weights (4:2:2:1)', () => {
    const sim = createSim('weighted-round-robin', 1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 900; i++) counts[pick(sim, 'k')]!++;
    expect(counts, 'smooth WRR over 900 picks').toEqual([400, 200, 200, 100]);
  });

  it('consistent hashing is sticky, and a dead backend only moves its own keys', () => {
    const sim = createSim('consistent-hashing', 1);
    const keys = Array.from({ length: 200 }, (_, i) => `client-${i}`);
    const before = keys.map((k) => pick(sim, k));
    expect(
      keys.map((k) => pick(sim, k)),
      'the same key must always go to the same backend',
    ).toEqual(before);
    setAlive(sim, 0, false);
    const after = keys.map((k) => pick(sim, k));
    keys.forEach((_, i) => {
      if (before[i] !== 0) expect(after[i], 'keys of live backends must not move').toBe(before[i]);
      else expect(after[i], 'keys of the dead backend must move elsewhere').not.toBe(0);
    });
  });

  it('killing a backend fails its queued requests and routes around it', () => {
    const sim = createSim('round-robin', 3);
    send(sim, 40);
    const queuedOnA = sim.backends[0]!.queue.length;
    setAlive(sim, 0, false);
    expect(sim.failed, 'queued requests on a killed backend fail').toBe(queuedOnA);
    send(sim, 40);
    expect(sim.backends[0]!.queue.length, 'nothing is sent to a dead backend').toBe(0);
    for (let t = 0; t < 500; t++) step(sim, 0);
    expect(sim.completed + sim.failed, 'every request completes or fails').toBe(sim.sent);
  });
});
