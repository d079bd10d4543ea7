/**
 * `npm run check-history -- <file.jsonl> --model register|kv [--timeout s]`: checks a recorded
 * history for linearizability and prints `linearizable`, `not linearizable` with the witness drawn
 * as a timeline, or `unknown` (the time limit was hit). Exit code 0, 1 or 2 for the three verdicts,
 * 3 when the command or the file is wrong (the message names the line).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { drawTimeline, HistoryError, pairOperations, parseHistory } from './history.js';
import { check } from './linearizable.js';
import { models } from './models.js';

/** Exit codes, one per verdict, and one for input the command cannot check. */
export const EXIT = { linearizable: 0, 'not linearizable': 1, unknown: 2, usage: 3 } as const;

const USAGE = 'usage: npm run check-history -- <file.jsonl> --model register|kv [--timeout seconds]';

/** Where the command reads and writes; the real process's by default, a test's in tests. */
export interface CliIo {
  readonly readFile: (file: string) => string;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly now: () => number;
}

const processIo: CliIo = {
  readFile: (file) => readFileSync(file, 'utf8'),
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  now: () => performance.now(),
};

interface Arguments {
  readonly file: string;
  readonly model: keyof typeof models;
  readonly timeoutMs?: number;
}

/** The arguments, or a message saying what is wrong with them. */
function parseArguments(args: readonly string[]): Arguments | string {
  let file: string | undefined;
  let model: string | undefined;
  let timeout: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--model') model = args[++i];
    else if (arg === '--timeout') timeout = args[++i];
    else if (arg.startsWith('--')) return `unknown option ${arg}`;
    else if (file === undefined) file = arg;
    else return `one history file at a time (got ${file} and ${arg})`;
  }
  if (file === undefined) return 'no history file given';
  if (model === undefined) return 'no --model given (register or kv)';
  if (!Object.hasOwn(models, model)) return `unknown model "${model}" (register or kv)`;
  if (timeout === undefined) return { file, model: model as Arguments['model'] };
  const seconds = Number(timeout);
  if (!(Number.isFinite(seconds) && seconds > 0))
    return `--timeout must be a positive number of seconds, got ${timeout}`;
  return { file, model: model as Arguments['model'], timeoutMs: seconds * 1000 };
}

/** Runs the command on `args` (what follows `--`) and returns its exit code. */
export function runCheckHistory(args: readonly string[], io: CliIo = processIo): number {
  const parsed = parseArguments(args);
  if (typeof parsed === 'string') {
    io.err(`check-history: ${parsed}\n${USAGE}`);
    return EXIT.usage;
  }
  const model = models[parsed.model];
  let text: string;
  try {
    text = io.readFile(parsed.file);
  } catch (error) {
    io.err(`check-history: cannot read ${parsed.file}: ${(error as Error).message}`);
    return EXIT.usage;
  }
  const started = io.now();
  let verdict: ReturnType<typeof check>;
  let count: number;
  try {
    const ops = pairOperations(parseHistory(text));
    count = ops.length;
    verdict = check(ops, model, { timeoutMs: parsed.timeoutMs, now: io.now });
  } catch (error) {
    if (!(error instanceof HistoryError || error instanceof TypeError)) throw error;
    io.err(`check-history: ${parsed.file}: ${error.message}`);
    return EXIT.usage;
  }
  const seconds = ((io.now() - started) / 1000).toFixed(2);
  io.out(`${verdict.verdict} (${count} operations, ${seconds} s)`);
  if (verdict.verdict === 'not linearizable') {
    const where = verdict.part === '' ? '' : ` on key ${JSON.stringify(verdict.part)}`;
    const size = `${verdict.witness.length} operation${verdict.witness.length === 1 ? '' : 's'}`;
    io.out(
      `\nThese ${size}${where} cannot be ordered${verdict.minimal ? '' : ' (not shrunk to the smallest: out of time)'}:\n`,
    );
    io.out(drawTimeline(verdict.witness, model.describe));
    io.out('');
    for (const op of verdict.witness) {
      const lines =
        op.retLine === undefined
          ? `line ${op.callLine}, never completed`
          : `lines ${op.callLine}-${op.retLine}`;
      io.out(
        `  process ${op.process}: ${model.describe(op)}${op.status === 'info' ? ' (info)' : ''}  (${lines})`,
      );
    }
  }
  return EXIT[verdict.verdict];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = runCheckHistory(process.argv.slice(2));
}
