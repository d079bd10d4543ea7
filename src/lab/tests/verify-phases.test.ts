/**
 * How verify orders its phases: each starts once the phases it comes after have finished, phases with
 * finished predecessors run side by side, a phase left out of the run hands on its own predecessors,
 * and LAB_VERIFY_SERIAL's mode runs one at a time. Phases here are promises the test settles.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Phase, type PhaseOutcome, runPhases } from '../commands/verify.js';

interface Gate {
  readonly started: boolean;
  finish(ok?: boolean): void;
}

/** A phase the test finishes by hand; `gates[name].started` says whether it has begun. */
function controlled(specs: Record<string, string[]>) {
  const gates: Record<string, Gate> = {};
  const phases: Phase<null>[] = Object.entries(specs).map(([name, after]) => {
    let resolve: (o: PhaseOutcome) => void = () => {};
    const gate = {
      started: false,
      finish: (ok = true) => resolve({ ok, summary: ok ? 'fine' : 'broken' }),
    };
    gates[name] = gate;
    return {
      name,
      after,
      run: () => {
        gate.started = true;
        return new Promise<PhaseOutcome>((r) => {
          resolve = r;
        });
      },
    };
  });
  return { phases, gates };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const started = (gates: Record<string, Gate>) =>
  Object.entries(gates)
    .filter(([, g]) => g.started)
    .map(([n]) => n);

describe('verify runs its phases in order, and side by side where they may', () => {
  beforeEach(() => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const graph = { a: [], b: ['a'], c: ['b'], d: ['b'], e: ['d'] };

  it('starts a phase only after its predecessors, and siblings together', async () => {
    const { phases, gates } = controlled(graph);
    const run = runPhases(phases, phases, null, false);
    await settle();
    expect(started(gates)).toEqual(['a']);
    gates.a?.finish();
    await settle();
    expect(started(gates)).toEqual(['a', 'b']);
    gates.b?.finish();
    await settle();
    expect(started(gates), 'c and d both come after b: they start together').toEqual(['a', 'b', 'c', 'd']);
    gates.d?.finish();
    await settle();
    expect(started(gates), 'e waits for d only').toEqual(['a', 'b', 'c', 'd', 'e']);
    gates.e?.finish(false);
    gates.c?.finish();
    const rows = await run;
    expect(
      rows.map((r) => r.name),
      'rows in the phases’ order, not the finishing order',
    ).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(rows.map((r) => r.outcome.ok)).toEqual([true, true, true, true, false]);
  });

  it('a phase left out hands on its predecessors: d still waits for a', async () => {
    const { phases, gates } = controlled(graph);
    const selected = phases.filter((p) => p.name === 'a' || p.name === 'd');
    const run = runPhases(phases, selected, null, false);
    await settle();
    expect(started(gates)).toEqual(['a']);
    gates.a?.finish();
    await settle();
    expect(started(gates)).toEqual(['a', 'd']);
    gates.d?.finish();
    expect((await run).map((r) => r.name)).toEqual(['a', 'd']);
  });

  it('a failed phase does not stop the ones after it', async () => {
    const { phases, gates } = controlled({ a: [], b: ['a'] });
    const run = runPhases(phases, phases, null, false);
    await settle();
    gates.a?.finish(false);
    await settle();
    expect(gates.b?.started).toBe(true);
    gates.b?.finish();
    expect((await run).map((r) => r.outcome.ok)).toEqual([false, true]);
  });

  it('in serial mode, one phase at a time in the listed order', async () => {
    const { phases, gates } = controlled(graph);
    const run = runPhases(phases, phases, null, true);
    const order = ['a', 'b', 'c', 'd', 'e'];
    for (const [i, name] of order.entries()) {
      await settle();
      expect(started(gates), `${name} runs alone, after the ones before it`).toEqual(order.slice(0, i + 1));
      gates[name]?.finish();
    }
    await run;
  });

  it('a phase that throws fails with "crashed" and the run goes on', async () => {
    const phases: Phase<null>[] = [
      {
        name: 'boom',
        after: [],
        run: async () => {
          throw new Error('kaput');
        },
      },
      { name: 'next', after: ['boom'], run: async () => ({ ok: true, summary: 'fine' }) },
    ];
    const rows = await runPhases(phases, phases, null, false);
    expect(rows.map((r) => [r.name, r.outcome.summary])).toEqual([
      ['boom', 'crashed'],
      ['next', 'fine'],
    ]);
  });
});
