/**
 * `npm run bench -- 12-distributed/quorum-kv`: your store on the simulator, N = 3, for (R, W) =
 * (1, 1), (2, 2) and (3, 3), with blocking read repair, on the same fixed seeds for each setting:
 * 20 runs of 2,000 ticks, 3 clients sending 240 random gets and puts over 3 keys, a network that
 * delays 1 to 6 ticks and drops 2% of messages, and one node crashed and restarted in every run.
 *
 * Per setting it prints what a client sees (operations answered ok per 1,000 ticks, p50 and p99
 * latency in ticks of those, errors and unanswered operations), what the checker finds (histories
 * and keys that are not linearizable: stale reads), and the wall-clock cost of the simulation
 * itself (client operations simulated per second, checking excluded). There is no library to compare
 * with here: the comparison is between the three settings, the chapter's trade-off in numbers.
 *
 * Then it writes the largest linearizable history of the runs (the checker's hardest case: it must
 * prove every key in full) as JSON lines to `<tmp>/ch12-quorum-kv/`, times the kit's `check` on it in
 * this process, then runs and times `npm run check-history -- <file> --model kv` (the command's
 * script, from the course's folder) and prints the command.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchContext } from '../../../src/testing/index.js';
import type { HistoryEvent } from '../../../src/testing/sim/history.js';
import { pairOperations } from '../../../src/testing/sim/history.js';
import { check } from '../../../src/testing/sim/linearizable.js';
import { kv } from '../../../src/testing/sim/models.js';
import { Simulation } from '../../../src/testing/sim/simulation.js';
import { historyFor, randomRun } from './harness.js';
import type { KvMessage, QuorumConfig } from './quorum-kv.js';

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);
const TICKS = 2_000;
const NODES = ['n1', 'n2', 'n3'];
const KEYS = ['a', 'b', 'c'];
/** The checker's limit per history, so that one hard history cannot stall the bench. */
const CHECK_LIMIT_MS = 20_000;

interface Row {
  readonly label: string;
  readonly ok: number;
  readonly errors: number;
  readonly unanswered: number;
  readonly latencies: number[];
  readonly staleHistories: number;
  readonly staleKeys: number;
  readonly undecided: number;
  readonly operations: number;
  readonly simSeconds: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Each client operation's latency in ticks (request sent to reply delivered) and how it ended. */
function outcomes(sim: Simulation<KvMessage>) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  for (const record of sim.trace) {
    const msg = (record as { msg?: KvMessage }).msg;
    if (!msg || !('id' in msg)) continue;
    if (record.kind === 'send' && !NODES.includes(record.from)) sentAt.set(msg.id, record.tick);
    if (record.kind === 'deliver' && !NODES.includes(record.to) && sentAt.has(msg.id)) {
      const took = record.tick - sentAt.get(msg.id)!;
      sentAt.delete(msg.id);
      if (msg.type === 'error') errors++;
      else {
        ok++;
        latencies.push(took);
      }
    }
  }
  return { ok, errors, unanswered: sentAt.size, latencies };
}

/** Checks each key's history on its own, so that every stale key counts. */
function staleKeys(history: readonly HistoryEvent[]): { stale: number; undecided: number } {
  let stale = 0;
  let undecided = 0;
  for (const key of KEYS) {
    const ops = pairOperations(history.filter((event) => event.key === key));
    const verdict = check(ops, kv, { timeoutMs: CHECK_LIMIT_MS, now: () => performance.now() });
    if (verdict.verdict === 'not linearizable') stale++;
    if (verdict.verdict === 'unknown') undecided++;
  }
  return { stale, undecided };
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const rows: Row[] = [];
  let largest: { events: HistoryEvent[]; label: string; seed: number } | undefined;
  for (const [r, w] of [
    [1, 1],
    [2, 2],
    [3, 3],
  ] as const) {
    const config: QuorumConfig = {
      nodes: NODES,
      n: 3,
      r,
      w,
      readRepair: 'blocking',
      sloppy: false,
      timeoutTicks: 20,
    };
    const label = `R = ${r}, W = ${w}`;
    const row: Row = {
      label,
      ok: 0,
      errors: 0,
      unanswered: 0,
      latencies: [],
      staleHistories: 0,
      staleKeys: 0,
      undecided: 0,
      operations: 0,
      simSeconds: 0,
    };
    const totals = {
      ok: 0,
      errors: 0,
      unanswered: 0,
      staleHistories: 0,
      staleKeys: 0,
      undecided: 0,
      operations: 0,
    };
    let simSeconds = 0;
    for (const seed of SEEDS) {
      const run = randomRun(seed, {
        config,
        keys: KEYS,
        operations: 240,
        putShare: 0.4,
        spread: TICKS - 100,
        ticks: TICKS,
        latency: { min: 1, max: 6 },
        dropRate: 0.02,
        crashOne: true,
      });
      const started = performance.now();
      const sim = new Simulation(seed, run.scenario).run(run.ticks);
      simSeconds += (performance.now() - started) / 1000;
      const seen = outcomes(sim);
      totals.ok += seen.ok;
      totals.errors += seen.errors;
      totals.unanswered += seen.unanswered;
      totals.operations += run.scenario.operations?.length ?? 0;
      row.latencies.push(...seen.latencies);
      const history = historyFor(sim);
      const { stale, undecided } = staleKeys(history);
      totals.staleKeys += stale;
      totals.undecided += undecided;
      if (stale > 0) totals.staleHistories++;
      // The hardest history for the checker: the longest one it must prove linearizable in full.
      if (stale === 0 && (!largest || history.length >= largest.events.length)) {
        largest = { events: history, label, seed };
      }
    }
    row.latencies.sort((a, b) => a - b);
    rows.push({ ...row, ...totals, simSeconds });
  }

  const runTicks = SEEDS.length * TICKS;
  ctx.log(
    `N = 3 on the simulator: ${SEEDS.length} seeds x ${TICKS} ticks per setting, 240 operations per run, drop 2%, one crash + restart per run, blocking read repair`,
  );
  ctx.log('');
  ctx.log(
    'setting      ok/1,000 ticks   p50   p99   errors   unanswered   stale histories   stale keys   sim ops/s',
  );
  for (const row of rows) {
    ctx.log(
      [
        row.label.padEnd(12),
        ((row.ok / runTicks) * 1000).toFixed(1).padStart(14),
        String(percentile(row.latencies, 50)).padStart(5),
        String(percentile(row.latencies, 99)).padStart(5),
        String(row.errors).padStart(8),
        String(row.unanswered).padStart(12),
        `${row.staleHistories} of ${SEEDS.length}`.padStart(17),
        `${row.staleKeys} of ${SEEDS.length * KEYS.length}`.padStart(12),
        Math.round(row.operations / row.simSeconds)
          .toLocaleString('en-US')
          .padStart(11),
      ].join(' '),
    );
    if (row.undecided > 0)
      ctx.log(`  (${row.undecided} keys undecided: the checker hit its ${CHECK_LIMIT_MS} ms limit)`);
  }
  ctx.log('');
  ctx.log('Latency in ticks, request sent to reply received, of operations answered ok. Unanswered: the');
  ctx.log(
    'request or its reply was lost, or went to the crashed node. Stale: the checker found the key not linearizable.',
  );

  if (!largest) return;
  const dir = path.join(os.tmpdir(), 'ch12-quorum-kv');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'largest-history.jsonl');
  writeFileSync(
    file,
    `${largest.events.map(({ line: _line, ...event }) => JSON.stringify(event)).join('\n')}\n`,
  );
  const ops = pairOperations(largest.events);
  const started = performance.now();
  const verdict = check(ops, kv, { timeoutMs: 60_000, now: () => performance.now() });
  const ms = performance.now() - started;
  ctx.log('');
  ctx.log(
    `The largest history (${largest.label}, seed ${largest.seed}): ${largest.events.length} events, ${ops.length} operations, written to ${file}`,
  );
  ctx.log(`The kit's check(..., kv) in this process: ${verdict.verdict} in ${ms.toFixed(1)} ms.`);
  const command = `npm run check-history -- ${file} --model kv`;
  const cliStarted = performance.now();
  const cli = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/testing/sim/check-history.ts', file, '--model', 'kv'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const cliSeconds = (performance.now() - cliStarted) / 1000;
  ctx.log(`${command}`);
  ctx.log(
    `  exit ${cli.status} in ${cliSeconds.toFixed(2)} s wall clock (Node and tsx start-up included): ${cli.stdout.split('\n')[0] ?? ''}`,
  );
}
