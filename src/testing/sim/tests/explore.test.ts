/**
 * Many seeds, shrinking and replay: a register that acknowledges writes before replicating them is
 * caught within a few seeds, its failure shrinks to a shorter run with fewer events that still fails,
 * and replaying the printed seed gives the identical trace; a correct register passes 500 seeds of a
 * 5-node, 1,000-tick scenario (time printed, not asserted).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { historyOf } from '../client-history.js';
import { type RegisterBuild, type RegisterMsg, registerProtocol } from '../examples/register.js';
import { exploreSeeds, lastRecords, replayCommand, type SeededRun, SimulationFailure } from '../explore.js';
import { exploreInVitest } from '../explore-report.js';
import { drawTimeline, pairOperations } from '../history.js';
import { check } from '../linearizable.js';
import { register } from '../models.js';
import { Simulation } from '../simulation.js';
import { traceHash } from '../trace.js';
import { registerScenario } from './register-scenario.js';

/** The property: the clients' history is linearizable; else the witness as a timeline. */
function linearizable(sim: Simulation<RegisterMsg>): string | undefined {
  const verdict = check(pairOperations(historyOf(sim, registerProtocol)), register);
  if (verdict.verdict !== 'not linearizable') return undefined;
  return `not linearizable:\n${drawTimeline(verdict.witness, register.describe)}`;
}

const build = (kind: RegisterBuild) => (seed: number) => registerScenario(seed, { build: kind });

/** Runs `explore` and returns the failure it throws. */
function failureOf(explore: () => unknown): SimulationFailure<RegisterMsg> {
  try {
    explore();
  } catch (error) {
    if (error instanceof SimulationFailure) return error as SimulationFailure<RegisterMsg>;
    throw error;
  }
  throw new Error('expected a SimulationFailure');
}

const size = (run: SeededRun<RegisterMsg>) =>
  (run.scenario.operations?.length ?? 0) + (run.scenario.faults?.length ?? 0);

describe('exploreSeeds', () => {
  it('passes a correct register over 500 seeds of 5 nodes x 1,000 ticks (time printed)', {
    timeout: 120_000,
  }, () => {
    const started = performance.now();
    const result = exploreInVitest({
      name: 'primary register',
      count: 500,
      build: build('primary'),
      property: linearizable,
    });
    const seconds = (performance.now() - started) / 1000;
    expect(result.seeds).toHaveLength(500);
    console.log(
      `exploreSeeds: 500 seeds x 1,000 ticks, 5 nodes, 60 operations, linearizability checked: ${seconds.toFixed(2)} s`,
    );
  });

  it('catches a register that acks before replicating, shrinks it and saves the diagram', {
    timeout: 60_000,
  }, () => {
    const failure = failureOf(() =>
      exploreInVitest({
        name: 'ack-early register',
        count: 20,
        build: build('ack-early'),
        property: linearizable,
      }),
    );
    const { seed, shrunk, prefixTicks, originalTicks } = failure.failure;
    const original = registerScenario(seed, { build: 'ack-early' });
    // Shorter and smaller, and it still fails on a fresh run.
    expect(prefixTicks).toBeLessThan(originalTicks);
    expect(shrunk.ticks).toBeLessThanOrEqual(prefixTicks);
    expect(size(shrunk)).toBeLessThan(size(original));
    expect(linearizable(new Simulation(seed, shrunk.scenario).run(shrunk.ticks))).toMatch(/not linearizable/);
    // The message has it all, and the diagram is on disk.
    const message = failure.message;
    expect(message).toContain(`seed ${seed} fails after ${prefixTicks} of 1000 ticks`);
    expect(message).toContain('shrunk:');
    expect(message).toContain('sequenceDiagram');
    expect(message).toMatch(
      /Replay: SIM_SEED=\d+ SIM_TICKS=\d+ npx vitest run src\/testing\/sim\/tests\/explore.test.ts -t "catches/,
    );
    const saved = /saved to (\S+):/.exec(message)?.[1];
    expect(saved).toBe(`reports/sim/ack-early-register-seed${seed}.mmd`);
    expect(existsSync(saved!) && readFileSync(saved!, 'utf8')).toBe(failure.failure.diagram);
  });

  it('replays the printed seed and tick count to the identical trace and the same shrunk run', {
    timeout: 60_000,
  }, () => {
    const options = {
      name: 'ack-early register',
      count: 20,
      build: build('ack-early'),
      property: linearizable,
    };
    const first = failureOf(() => exploreSeeds(options)).failure;
    const env = { SIM_SEED: String(first.seed), SIM_TICKS: String(first.prefixTicks) };
    expect(first.command).toBe(replayCommand('ack-early register', first.seed, first.prefixTicks));
    const replayed = failureOf(() => exploreSeeds({ ...options, env })).failure;
    expect(replayed.prefixHash).toBe(first.prefixHash);
    expect(replayed.shrunkHash).toBe(first.shrunkHash);
    expect([replayed.summary, replayed.problem]).toEqual([first.summary, first.problem]);
    // The prefix is the original run cut short: the same seed gives the same trace, record for record.
    const run = registerScenario(first.seed, { build: 'ack-early' });
    expect(traceHash(new Simulation(first.seed, run.scenario).run(first.prefixTicks).trace)).toBe(
      first.prefixHash,
    );
  });

  it('with SIM_SEED runs that seed only', () => {
    const seen: number[] = [];
    const result = exploreSeeds({
      name: 'only',
      count: 50,
      env: { SIM_SEED: '7' },
      build: (seed) => {
        seen.push(seed);
        return registerScenario(seed, { build: 'primary', ticks: 50, operations: 5 });
      },
      property: () => undefined,
    });
    expect(seen).toEqual([7]);
    expect(result.seeds).toEqual([7]);
    expect(() =>
      exploreSeeds({
        name: 'bad',
        env: { SIM_SEED: 'x' },
        build: build('primary'),
        property: () => undefined,
      }),
    ).toThrow('SIM_SEED must be an integer');
  });

  it('draws the last records before the failure, sends left out', () => {
    const sim = new Simulation(3, registerScenario(3, { build: 'primary', ticks: 200 }).scenario).run(200);
    const last = lastRecords(sim.trace, 10);
    expect(last).toHaveLength(10);
    expect(last.every((record) => record.kind !== 'send' && record.kind !== 'duplicate')).toBe(true);
    expect(last.at(-1)).toBe(
      sim.trace.findLast((record) => record.kind !== 'send' && record.kind !== 'duplicate'),
    );
  });
});
