/**
 * What the suites and the bench of this exercise share (not part of what you write):
 *
 * - {@link operationsOf}: a history's operations as the kit's `pairOperations` pairs them, with the
 *   failed ones kept (status `fail`), which your checker must ignore;
 * - {@link orderProblem}: an independent check of a linearization a checker returns, so a checker that
 *   says "linearizable" with a bogus order is caught;
 * - {@link scriptedHistory}: a small concurrent register history played from a script of numbers
 *   (fast-check draws the script, and shrinks it), from a correct register that sometimes lies;
 * - {@link registerScenario}: runs of the kit's example register (`src/testing/sim/examples/register.ts`,
 *   `primary`: linearizable, or `ack-early`: answers at once, replicates afterwards, so stale reads).
 *   The kit's own tests run the same register on bigger scenarios (five nodes, 1,000 ticks, a crash);
 *   these are small on purpose (three nodes, 200 ticks), so that your checker gets through a dozen
 *   seeds in a test.
 */
import {
  type RegisterBuild,
  type RegisterMsg,
  registerNode,
} from '../../../src/testing/sim/examples/register.js';
import { type HistoryEvent, type Operation, pairOperations } from '../../../src/testing/sim/history.js';
import { Prng } from '../../../src/testing/sim/prng.js';
import type { ClientOperation, FaultEvent, Scenario } from '../../../src/testing/sim/simulation.js';

/** Events without line numbers, numbered from 1 in the order given. */
export function numbered(events: readonly Omit<HistoryEvent, 'line'>[]): HistoryEvent[] {
  return events.map((event, index) => ({ ...event, line: index + 1 }));
}

/** An operation of a history: one the kit's `pairOperations` gives, or a failed one. */
export type HistoryOperation = Omit<Operation, 'status'> & { readonly status: Operation['status'] | 'fail' };

/**
 * The operations of `events`: `pairOperations`'s (`ok` and `info`), and the failed ones it drops, as
 * operations of status `fail` whose `ret` is the position of their `fail` event; in invoke order.
 */
export function operationsOf(events: readonly HistoryEvent[]): HistoryOperation[] {
  const failed: Omit<HistoryOperation, 'id'>[] = [];
  const open = new Map<unknown, { readonly invoke: HistoryEvent; readonly call: number }>();
  events.forEach((event, position) => {
    if (event.type === 'invoke') open.set(event.process, { invoke: event, call: position });
    else {
      const pending = open.get(event.process);
      open.delete(event.process);
      if (event.type !== 'fail' || !pending) return;
      const { invoke, call } = pending;
      failed.push({
        process: event.process,
        f: event.f,
        value: invoke.value,
        output: undefined,
        result: undefined,
        status: 'fail',
        call,
        ret: position,
        callLine: invoke.line,
        retLine: event.line,
      });
    }
  });
  return [...pairOperations(events), ...failed]
    .sort((a, b) => a.call - b.call)
    .map((op, id) => ({ ...op, id }));
}

const json = (value: unknown): string => JSON.stringify(value) ?? 'undefined';

/**
 * Why `order` is not a linearization of `operations` (a history's, as {@link operationsOf} gives
 * them), or `undefined` if it is one. Operations are matched by the line of
 * their invoke, so a checker may return copies. A linearization holds every `ok` operation exactly
 * once, each `info` one at most once and nothing else, respects real-time order (an operation that
 * completed before another was invoked comes first, and an operation comes after whatever completed
 * before it was invoked), and is a legal run of a register starting at `null`.
 */
export function orderProblem(
  operations: readonly HistoryOperation[],
  order: readonly HistoryOperation[],
): string | undefined {
  const byLine = new Map(operations.filter((op) => op.status !== 'fail').map((op) => [op.callLine, op]));
  const used = new Set<number>();
  const placed: HistoryOperation[] = [];
  for (const entry of order) {
    const op = byLine.get(entry.callLine);
    if (!op)
      return `the order holds an operation invoked at line ${entry.callLine}, which is not an ok or info operation of the history (a failed one?)`;
    if (used.has(op.callLine)) return `the order holds the operation invoked at line ${op.callLine} twice`;
    used.add(op.callLine);
    placed.push(op);
  }
  for (const op of operations) {
    if (op.status === 'ok' && !used.has(op.callLine)) {
      return `the order leaves out the ok ${op.f} invoked at line ${op.callLine}`;
    }
  }
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      if (placed[j]!.ret < placed[i]!.call) {
        return `the order puts ${placed[i]!.f} (line ${placed[i]!.callLine}) before ${placed[j]!.f} (line ${placed[j]!.callLine}), which completed before it was invoked`;
      }
    }
  }
  let state: unknown = null;
  for (const op of placed) {
    if (op.f === 'write') state = op.value;
    else if (op.f === 'read') {
      if (op.status === 'ok' && json(op.output) !== json(state)) {
        return `in the order, the read invoked at line ${op.callLine} returns ${json(op.output)} but the register holds ${json(state)}`;
      }
    } else if (op.f === 'cas') {
      const [from, to] = op.value as [unknown, unknown];
      const matches = json(from) === json(state);
      if (op.status === 'ok' && op.result !== matches) {
        return `in the order, the cas invoked at line ${op.callLine} reports ${json(op.result)} but the register holds ${json(state)}`;
      }
      if (matches) state = to;
    }
  }
  return undefined;
}

/** One step of a {@link scriptedHistory} script: which process acts, how, and a die for values and lies. */
export type ScriptStep = readonly [process: number, action: number, die: number];

const VALUES = [null, 1, 2, 3] as const;

/**
 * A history of `processes` clients on a register, played from `script`. A process that is idle invokes
 * a read, a write of 1-3 or a cas between `null` and 1-3; a pending one takes effect on the true
 * register, or completes: `ok` after taking effect, `fail` or `info` before, `info` after. An `ok`
 * sometimes lies, unless `lies` is false (a read returns another value, a cas reports the other
 * outcome), which may or may not make the history non-linearizable. At most `maxOperations` operations are invoked; those still
 * pending at the end never complete.
 */
export function scriptedHistory(
  processes: number,
  script: readonly ScriptStep[],
  maxOperations = 12,
  lies = true,
): HistoryEvent[] {
  interface Pending {
    readonly f: 'read' | 'write' | 'cas';
    readonly value: unknown;
    applied: boolean;
    output?: unknown;
    result?: boolean;
  }
  const events: Omit<HistoryEvent, 'line'>[] = [];
  const pending = new Map<number, Pending>();
  let register: unknown = null;
  let invoked = 0;
  for (const [who, action, die] of script) {
    const process = who % processes;
    const op = pending.get(process);
    if (!op) {
      if (invoked === maxOperations) continue;
      invoked++;
      const f = (['read', 'write', 'cas'] as const)[action % 3]!;
      const value =
        f === 'read'
          ? undefined
          : f === 'write'
            ? 1 + (die % 3)
            : [VALUES[die % 4], VALUES[1 + (action % 3)]];
      pending.set(process, { f, value, applied: false });
      events.push({ process, type: 'invoke', f, value });
    } else if (!op.applied) {
      const roll = action % 20;
      if (roll === 0 || roll === 1) {
        pending.delete(process);
        events.push({ process, type: roll === 0 ? 'fail' : 'info', f: op.f, value: op.value });
      } else if (roll < 12) {
        op.applied = true;
        if (op.f === 'read') op.output = register;
        else if (op.f === 'write') register = op.value;
        else {
          const [from, to] = op.value as [unknown, unknown];
          op.result = json(from) === json(register);
          if (op.result) register = to;
        }
      }
    } else if (action % 2 === 0) {
      pending.delete(process);
      if (action % 20 === 2) {
        events.push({ process, type: 'info', f: op.f, value: op.value });
        continue;
      }
      const lie = lies && die % 3 === 0;
      if (op.f === 'read') {
        events.push({ process, type: 'ok', f: 'read', value: lie ? VALUES[(action >> 2) % 4] : op.output });
      } else if (op.f === 'cas') {
        events.push({ process, type: 'ok', f: 'cas', value: op.value, result: lie ? !op.result : op.result });
      } else events.push({ process, type: 'ok', f: 'write', value: op.value });
    }
  }
  return numbered(events);
}

/**
 * Seed `seed`'s run: three replicas, `operations` reads and writes (of unique values) by two clients
 * to random replicas at random ticks, a partition cutting n3 off for a while, and lossy links.
 */
export function registerScenario(
  seed: number,
  build: RegisterBuild,
  operations = 16,
  ticks = 200,
): { scenario: Scenario<RegisterMsg>; ticks: number } {
  const prng = new Prng(seed).fork('scenario');
  const ids = ['n1', 'n2', 'n3'];
  const ops: ClientOperation<RegisterMsg>[] = [];
  for (let id = 0; id < operations; id++) {
    const msg: RegisterMsg = prng.chance(0.5) ? { type: 'write', id, value: id } : { type: 'read', id };
    ops.push({ at: prng.int(0, ticks - 40), client: prng.pick(['c1', 'c2']), node: prng.pick(ids), msg });
  }
  ops.sort((a, b) => a.at - b.at);
  const start = prng.int(0, ticks >>> 1);
  const faults: FaultEvent[] = [
    { at: start, kind: 'partition', name: 'p', groups: [['n3']] },
    { at: start + prng.int(10, 60), kind: 'heal', name: 'p' },
  ];
  return {
    scenario: {
      nodes: Object.fromEntries(ids.map((id) => [id, registerNode(build)])),
      network: { latency: { min: 1, max: 5 }, dropRate: 0.05 },
      faults,
      operations: ops,
    },
    ticks,
  };
}

/**
 * A long history of a correct register for the bench: `processes` clients, `operations` operations
 * (reads, writes of 1-3, cas), every operation taking effect between its invoke and its
 * completion, a few completing `info`; seeded, so every run sees the same history.
 */
export function longHistory(seed: number, processes: number, operations: number): HistoryEvent[] {
  const prng = new Prng(seed);
  const script: ScriptStep[] = [];
  for (let i = 0; i < operations * 8; i++) {
    // Fails and infos rarer than in the suites' histories (a tenth of the actions that would end one).
    const action = prng.int(0, 1_000_000);
    const rare = action % 20 < 3 && !prng.chance(0.1) ? action + 3 : action;
    script.push([prng.int(0, processes - 1), rare, prng.int(0, 1000)]);
  }
  return scriptedHistory(processes, script, operations, false);
}
