import { describe, expect, it } from 'vitest';
import { BREAKER, createSim, RATE_PER_SECOND, run, type SimConfig, step, TIMEOUT_MS } from './model';

const healthy: SimConfig = { failurePercent: 0, latencyMs: 50, breaker: true };
const down: SimConfig = { failurePercent: 100, latencyMs: 50, breaker: true };

describe('circuit breaker simulator model', () => {
  it('is deterministic: the same seed gives the same run', () => {
    const a = createSim(7);
    const b = createSim(7);
    run(a, { ...down, failurePercent: 60 }, 30);
    run(b, { ...down, failurePercent: 60 }, 30);
    expect(a).toEqual(b);
    const c = createSim(8);
    run(c, { ...down, failurePercent: 60 }, 30);
    expect(c.totals, 'a different seed must give a different run').not.toEqual(a.totals);
  });

  it('sends about the configured rate', () => {
    const sim = createSim(1);
    run(sim, healthy, 60);
    expect(sim.totals.sent / 60).toBeGreaterThan(RATE_PER_SECOND * 0.8);
    expect(sim.totals.sent / 60).toBeLessThan(RATE_PER_SECOND * 1.2);
  });

  it('stays closed and rejects nothing while the dependency is healthy', () => {
    const sim = createSim(3);
    run(sim, healthy, 60);
    expect(sim.state).toBe('closed');
    expect(sim.totals.rejected).toBe(0);
    expect(sim.transitions).toEqual([]);
  });

  it('opens when failures pass the threshold, then probes after the cool-down', () => {
    const sim = createSim(4);
    run(sim, down, 2);
    expect(sim.state, 'a dependency that fails every call must open the breaker within 2 s').toBe('open');
    const openedAt = sim.openedAt;
    run(sim, down, 3);
    expect(sim.totals.rejected).toBeGreaterThan(0);
    while (sim.state === 'open') step(sim, down);
    expect(sim.now - openedAt).toBeGreaterThanOrEqual(BREAKER.openMs);
    expect(sim.state).toBe('half-open');
    expect(sim.probesAdmitted).toBeLessThanOrEqual(BREAKER.probes);
    while (sim.state === 'half-open') step(sim, down);
    expect(sim.state, 'a failed probe re-opens the breaker').toBe('open');
  });

  it('closes again once the dependency recovers', () => {
    const sim = createSim(5);
    run(sim, down, 10);
    run(sim, healthy, 10);
    expect(sim.state).toBe('closed');
    expect(sim.transitions.map((t) => t.to)).toContain('half-open');
  });

  it('never admits more than the configured probes in half-open', () => {
    const sim = createSim(6);
    const slowAndDown: SimConfig = { failurePercent: 100, latencyMs: 1500, breaker: true };
    let most = 0;
    for (let i = 0; i < 600; i++) {
      step(sim, slowAndDown);
      if (sim.state === 'half-open') most = Math.max(most, sim.probesAdmitted);
    }
    expect(most).toBe(BREAKER.probes);
  });

  it('shows the lesson: a hanging dependency piles calls up in flight, unless a breaker sheds them', () => {
    const hanging = { failurePercent: 0, latencyMs: 10_000 };
    const without = createSim(9);
    run(without, { ...hanging, breaker: false }, 30);
    const withBreaker = createSim(9);
    run(withBreaker, { ...hanging, breaker: true }, 30);
    // Little's law: 40 calls/s x 2 s timeout = about 80 in flight.
    expect(without.maxInFlight).toBeGreaterThan(RATE_PER_SECOND * (TIMEOUT_MS / 1000) * 0.7);
    expect(withBreaker.totals.rejected).toBeGreaterThan(without.totals.sent / 2);
    expect(withBreaker.totals.timedOut).toBeLessThan(without.totals.timedOut / 3);
  });
});
