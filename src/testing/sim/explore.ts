/**
 * A scenario over many seeds: run each, check a property of the finished run, and on the first
 * failure shrink it and explain it: the seed, the shrunk scenario, the property's message, a mermaid
 * picture of the last moments before the failure, and the one command that replays it.
 *
 * Shrinking, in three passes, each re-running the scenario from its seed (a run is a pure function of
 * seed and scenario, so every candidate is judged by a fresh run):
 * 1. **Ticks**: the smallest tick count after which the property already fails, by binary search over
 *    prefixes of the run. This assumes the property is monotone: once it fails after `t` ticks it fails
 *    after every later tick too, which holds for safety properties read from what has happened (a
 *    violation in a history stays one). The run of `t` ticks is a prefix of the original run, record
 *    for record, so `SIM_SEED` and `SIM_TICKS` replay it exactly.
 * 2. **Events** (delta debugging, one at a time): each fault (a partition with its heal, a crash with
 *    its restart), each network fault rate (set to 0) and each client operation is left out in turn,
 *    and stays out if the run (of the original tick count) still fails. Leaving an event out changes what the dice decide later, so
 *    this pass is a search, not a slice: bounded by `budget` runs in all.
 * 3. **Ticks again**, on the smaller scenario.
 *
 * Replay: `exploreSeeds` reads `SIM_SEED` from its environment (`options.env`) and then runs that seed
 * only, with `SIM_TICKS` ticks if set. The shrinking is deterministic, so a replay finds the same
 * shrunk run, with the same trace hash. This module is browser-safe; `explore-report.ts` (Node) fills
 * in the environment, the test's name and file, and saves the diagram.
 */

import { toMermaid } from './mermaid.js';
import { type ClientOperation, type FaultEvent, type Scenario, Simulation } from './simulation.js';
import { type TraceRecord, traceHash } from './trace.js';

/** One seed's run: a scenario and how many ticks to run it. */
export interface SeededRun<M> {
  readonly scenario: Scenario<M>;
  readonly ticks: number;
}

/** What {@link exploreSeeds} runs. */
export interface ExploreOptions<M> {
  /** The scenario's name, used in the message and the diagram's file name. */
  readonly name: string;
  /** The seeds to run, in order. Give this or `count`. */
  readonly seeds?: readonly number[];
  /** Run seeds 1 to `count`. */
  readonly count?: number;
  /** Builds seed `seed`'s run (the scenario may itself depend on the seed: random operations, faults). */
  readonly build: (seed: number) => SeededRun<M>;
  /** Checks a finished run: a message saying what is wrong, or `undefined` if all is well. */
  readonly property: (sim: Simulation<M>) => string | undefined;
  /** Where `SIM_SEED` and `SIM_TICKS` are read. Default: none (every seed runs). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The replay command for a seed and a tick count. Default: see {@link replayCommand}. */
  readonly command?: (seed: number, ticks: number) => string;
  /** At most this many runs spent shrinking. Default 300. */
  readonly budget?: number;
  /** How many trace records the diagram shows, the last before the failure. Default 40. */
  readonly window?: number;
  /** Saves a failure's diagram and returns where (a path), or nothing. Called before the throw. */
  readonly save?: (failure: ExploreFailure<M>) => string | undefined;
}

/** A failed seed, shrunk. */
export interface ExploreFailure<M> {
  readonly name: string;
  readonly seed: number;
  /** The tick count the seed's run was built with, and that of its shortest failing prefix. */
  readonly originalTicks: number;
  readonly prefixTicks: number;
  /** The trace hash of that prefix run (what `SIM_SEED` + `SIM_TICKS` replays). */
  readonly prefixHash: string;
  /** The shrunk run: fewer events, fewer ticks; still failing. */
  readonly shrunk: SeededRun<M>;
  readonly shrunkHash: string;
  /** The property's message on the shrunk run. */
  readonly problem: string;
  /** One line each: the original and the shrunk scenario's sizes and events. */
  readonly summary: string;
  /** The mermaid diagram of the shrunk run's last records before the failure. */
  readonly diagram: string;
  /** The command that replays this failure. */
  readonly command: string;
  /** Runs spent shrinking. */
  readonly shrinkRuns: number;
}

/** What a passing exploration did. */
export interface ExploreResult {
  readonly seeds: readonly number[];
  readonly ticks: number;
}

/** The error {@link exploreSeeds} throws on a failing seed: its message explains it all. */
export class SimulationFailure<M = unknown> extends Error {
  readonly failure: ExploreFailure<M>;
  constructor(failure: ExploreFailure<M>, savedTo: string | undefined) {
    super(failureMessage(failure, savedTo));
    this.name = 'SimulationFailure';
    this.failure = failure;
  }
}

/** The default replay command: `SIM_SEED=<seed> SIM_TICKS=<ticks> npx vitest run -t "<name>"`. */
export function replayCommand(name: string, seed: number, ticks: number, file?: string): string {
  const test = name.replace(/["\\$`]/g, '\\$&');
  return `SIM_SEED=${seed} SIM_TICKS=${ticks} npx vitest run${file ? ` ${file}` : ''} -t "${test}"`;
}

/** Reads an integer from the environment, or undefined; throws on anything else. */
function envInteger(env: ExploreOptions<unknown>['env'], name: string): number | undefined {
  const text = env?.[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!(Number.isInteger(value) && value >= 0))
    throw new RangeError(`${name} must be an integer >= 0, got "${text}"`);
  return value;
}

/**
 * Runs `options.build(seed)` for each seed and checks `options.property` on each finished run.
 * With `SIM_SEED` in `options.env`, runs that seed only (with `SIM_TICKS` ticks if given).
 * @returns the seeds run, when all passed
 * @throws {SimulationFailure} on the first failing seed, shrunk (see the module's comment)
 */
export function exploreSeeds<M>(options: ExploreOptions<M>): ExploreResult {
  const replaySeed = envInteger(options.env, 'SIM_SEED');
  const replayTicks = envInteger(options.env, 'SIM_TICKS');
  const seeds =
    replaySeed !== undefined
      ? [replaySeed]
      : (options.seeds ?? Array.from({ length: options.count ?? 100 }, (_, i) => i + 1));
  let ticksRun = 0;
  for (const seed of seeds) {
    const built = options.build(seed);
    const run = replayTicks !== undefined ? { ...built, ticks: Math.min(replayTicks, built.ticks) } : built;
    const sim = simulate(seed, run);
    ticksRun += run.ticks;
    if (options.property(sim) === undefined) continue;
    const failure = shrinkFailure(seed, run, built.ticks, options);
    throw new SimulationFailure(failure, options.save?.(failure));
  }
  return { seeds, ticks: ticksRun };
}

function simulate<M>(seed: number, run: SeededRun<M>): Simulation<M> {
  return new Simulation(seed, run.scenario).run(run.ticks);
}

/** A unit of the scenario that shrinking leaves out whole. */
type Part<M> =
  | { readonly kind: 'faults'; readonly events: readonly FaultEvent[] }
  | { readonly kind: 'rate'; readonly rate: 'dropRate' | 'duplicateRate' }
  | { readonly kind: 'operation'; readonly operation: ClientOperation<M> };

/** The faults in units: a partition with the heal of its name after it, a crash with the next restart. */
function faultUnits(faults: readonly FaultEvent[]): FaultEvent[][] {
  const sorted = [...faults].sort((a, b) => a.at - b.at);
  const units: FaultEvent[][] = [];
  const taken = new Set<FaultEvent>();
  for (const [index, fault] of sorted.entries()) {
    if (taken.has(fault)) continue;
    taken.add(fault);
    const closes = (other: FaultEvent): boolean =>
      fault.kind === 'partition'
        ? other.kind === 'heal' && other.name === fault.name
        : fault.kind === 'crash' && other.kind === 'restart' && other.node === fault.node;
    const close = sorted.slice(index + 1).find((other) => !taken.has(other) && closes(other));
    if (close) taken.add(close);
    units.push(close ? [fault, close] : [fault]);
  }
  return units;
}

/** The scenario without `part`. */
function without<M>(scenario: Scenario<M>, part: Part<M>): Scenario<M> {
  switch (part.kind) {
    case 'faults':
      return { ...scenario, faults: scenario.faults?.filter((fault) => !part.events.includes(fault)) };
    case 'rate':
      return { ...scenario, network: { ...scenario.network, [part.rate]: 0 } };
    case 'operation':
      return { ...scenario, operations: scenario.operations?.filter((op) => op !== part.operation) };
  }
}

/** The scenario's events before tick `ticks`: the later ones never happen in a run that short. */
function truncate<M>(scenario: Scenario<M>, ticks: number): Scenario<M> {
  return {
    ...scenario,
    faults: scenario.faults?.filter((fault) => fault.at < ticks),
    operations: scenario.operations?.filter((op) => op.at < ticks),
  };
}

function describeScenario<M>(run: SeededRun<M>): string {
  const { scenario, ticks } = run;
  const nodes = Object.keys(scenario.nodes).length;
  const { dropRate = 0, duplicateRate = 0 } = scenario.network ?? {};
  const faults = (scenario.faults ?? []).map((fault) => {
    switch (fault.kind) {
      case 'partition':
        return `t${fault.at} partition ${fault.groups.map((group) => group.join(',')).join(' / ')}`;
      case 'heal':
        return `t${fault.at} heal ${fault.name}`;
      default:
        return `t${fault.at} ${fault.kind} ${fault.node}`;
    }
  });
  const operations = scenario.operations?.length ?? 0;
  return (
    `${nodes} nodes, ${ticks} ticks, drop ${dropRate}, duplicate ${duplicateRate}, ` +
    `${operations} client operations, faults: ${faults.length > 0 ? faults.join('; ') : 'none'}`
  );
}

/**
 * Shrinks seed `seed`'s failing run (see the module's comment) and explains it. `horizon` is the tick
 * count the seed's scenario was built with (a replay with `SIM_TICKS` runs fewer, and must shrink alike).
 */
function shrinkFailure<M>(
  seed: number,
  original: SeededRun<M>,
  horizon: number,
  options: ExploreOptions<M>,
): ExploreFailure<M> {
  const budget = options.budget ?? 300;
  let runs = 0;
  /** The property's message if `run` fails; an invalid candidate (it throws) counts as passing. */
  const failsWith = (run: SeededRun<M>): string | undefined => {
    runs++;
    try {
      return options.property(simulate(seed, run));
    } catch {
      return undefined;
    }
  };
  /** The fewest ticks after which `run` still fails, by binary search (the property is monotone). */
  const shortest = (run: SeededRun<M>): SeededRun<M> => {
    let low = 0; // passes (nothing has happened after 0 ticks)
    let high = run.ticks; // fails
    while (low + 1 < high && runs < budget) {
      const middle = (low + high) >>> 1;
      if (failsWith({ ...run, ticks: middle }) !== undefined) high = middle;
      else low = middle;
    }
    return { scenario: truncate(run.scenario, high), ticks: high };
  };

  const prefix = shortest(original);
  // Events are left out with the original tick count: a left-out event shifts what the dice decide
  // later, and the failure may then come a little later than in the prefix.
  let current: SeededRun<M> = { scenario: prefix.scenario, ticks: horizon };
  const parts: Part<M>[] = [
    ...faultUnits(current.scenario.faults ?? []).map((events) => ({ kind: 'faults', events }) as const),
    ...(['dropRate', 'duplicateRate'] as const)
      .filter((rate) => (current.scenario.network?.[rate] ?? 0) > 0)
      .map((rate) => ({ kind: 'rate', rate }) as const),
    // Latest first: leaving out a late operation leaves every earlier draw of the dice as it was.
    ...(current.scenario.operations ?? [])
      .map((operation) => ({ kind: 'operation', operation }) as const)
      .reverse(),
  ];
  for (const part of parts) {
    if (runs >= budget) break;
    const candidate = { ...current, scenario: without(current.scenario, part) };
    if (failsWith(candidate) !== undefined) current = candidate;
  }
  current = shortest(current);

  const sim = simulate(seed, current);
  const problem =
    options.property(sim) ?? '(the shrunk run passed on its last run: is the property deterministic?)';
  const prefixHash = traceHash(simulate(seed, prefix).trace);
  const diagram = toMermaid(lastRecords(sim.trace, options.window ?? 40));
  const command =
    options.command?.(seed, prefix.ticks) ?? replayCommand(options.name, seed, prefix.ticks, undefined);
  return {
    name: options.name,
    seed,
    originalTicks: horizon,
    prefixTicks: prefix.ticks,
    prefixHash,
    shrunk: current,
    shrunkHash: traceHash(sim.trace),
    problem,
    summary: `original: ${describeScenario({ ...original, ticks: horizon })}\nshrunk:   ${describeScenario(current)}`,
    diagram,
    command,
    shrinkRuns: runs,
  };
}

/**
 * The last `count` records that the diagram draws (deliveries, drops, faults; not sends), from the
 * end of the trace: the moments just before the property failed. The diagram's participants are the
 * endpoints those records mention, so nodes not involved in the window are left out.
 */
export function lastRecords(trace: readonly TraceRecord[], count: number): TraceRecord[] {
  const kept: TraceRecord[] = [];
  for (let i = trace.length - 1; i >= 0 && kept.length < count; i--) {
    const record = trace[i]!;
    if (record.kind !== 'send' && record.kind !== 'duplicate') kept.push(record);
  }
  return kept.reverse();
}

function failureMessage<M>(failure: ExploreFailure<M>, savedTo: string | undefined): string {
  return [
    `${failure.name}: seed ${failure.seed} fails after ${failure.prefixTicks} of ${failure.originalTicks} ticks`,
    `(shrunk in ${failure.shrinkRuns} runs; prefix trace ${failure.prefixHash}, shrunk trace ${failure.shrunkHash})`,
    failure.summary,
    '',
    failure.problem,
    '',
    `The last records before the failure (shrunk run)${savedTo ? `, saved to ${savedTo}` : ''}:`,
    failure.diagram,
    `Replay: ${failure.command}`,
  ].join('\n');
}
