/**
 * The check-history command: its three verdicts as exit codes 0, 1 and 2 with what it prints, 3 for
 * a wrong command or a malformed file (the line named), and the real process's exit code.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliIo, EXIT, runCheckHistory } from '../check-history.js';
import { registerHistory } from './register-histories.js';

const jsonl = (...events: object[]): string => events.map((event) => JSON.stringify(event)).join('\n');

const STALE = jsonl(
  { process: 0, type: 'invoke', f: 'write', value: 1 },
  { process: 0, type: 'ok', f: 'write', value: 1 },
  { process: 1, type: 'invoke', f: 'write', value: 2 },
  { process: 1, type: 'ok', f: 'write', value: 2 },
  { process: 2, type: 'invoke', f: 'read', value: null },
  { process: 2, type: 'ok', f: 'read', value: 1 },
);

/** Runs the command on in-memory files; returns the exit code and what it printed. */
function run(args: string[], files: Record<string, string>, now: () => number = () => 0) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    readFile: (file) => {
      const text = files[file];
      if (text === undefined) throw new Error('no such file');
      return text;
    },
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    now,
  };
  const code = runCheckHistory(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('check-history', () => {
  it('exits 0 on a linearizable history', () => {
    const { code, out } = run(['h.jsonl', '--model', 'register'], {
      'h.jsonl': STALE.split('\n').slice(0, 4).join('\n'),
    });
    expect(code).toBe(EXIT.linearizable);
    expect(code).toBe(0);
    expect(out).toMatch(/^linearizable \(2 operations, 0\.00 s\)/);
  });

  it('exits 1 on a violation and draws the witness with its lines', () => {
    const { code, out } = run(['h.jsonl', '--model', 'register'], { 'h.jsonl': STALE });
    expect(code).toBe(1);
    expect(out).toContain('not linearizable (3 operations');
    expect(out).toContain('These 3 operations cannot be ordered:');
    expect(out).toMatch(/process 2 +\[ read → 1 -*\]/);
    expect(out).toContain('process 2: read → 1  (lines 5-6)');
  });

  it('names the key of a kv violation', () => {
    const history = jsonl(
      { process: 0, type: 'invoke', f: 'put', key: 'x', value: 'a' },
      { process: 0, type: 'ok', f: 'put', key: 'x', value: 'a' },
      { process: 0, type: 'invoke', f: 'get', key: 'x' },
      { process: 0, type: 'ok', f: 'get', key: 'x', value: '' },
    );
    const { code, out } = run(['h.jsonl', '--model', 'kv'], { 'h.jsonl': history });
    expect(code).toBe(1);
    expect(out).toContain('These 2 operations on key "x" cannot be ordered');
  });

  it('exits 2 with unknown when --timeout passes', () => {
    const { jsonl: big } = registerHistory({ seed: 3, operations: 3000, processes: 8 });
    let now = 0;
    const { code, out } = run(
      ['h.jsonl', '--model', 'register', '--timeout', '0.05'],
      { 'h.jsonl': big },
      () => (now += 10),
    );
    expect(code).toBe(2);
    expect(out).toMatch(/^unknown/);
  });

  it.each([
    [[], 'no history file given'],
    [['h.jsonl'], 'no --model given'],
    [['h.jsonl', '--model', 'queue'], 'unknown model "queue"'],
    [
      ['h.jsonl', '--model', 'kv', '--timeout', 'soon'],
      '--timeout must be a positive number of seconds, got soon',
    ],
    [['h.jsonl', '--verbose'], 'unknown option --verbose'],
    [['missing.jsonl', '--model', 'kv'], 'cannot read missing.jsonl'],
  ])('exits 3 on a wrong command: %j', (args, message) => {
    const { code, err } = run(args, { 'h.jsonl': STALE });
    expect(code).toBe(3);
    expect(err).toContain(message);
  });

  it('exits 3 on a malformed file, naming the line', () => {
    const broken = `${STALE}\n{"process":3,"type":"ok","f":"read","value":1}`;
    expect(run(['h.jsonl', '--model', 'register'], { 'h.jsonl': broken })).toMatchObject({
      code: 3,
      err: 'check-history: h.jsonl: line 7: ok read by process 3, which has no invoke pending',
    });
    expect(run(['h.jsonl', '--model', 'kv'], { 'h.jsonl': STALE }).err).toContain(
      'line 1: a write with no string "key"',
    );
  });
});

describe('check-history as a process', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'check-history-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const cli = fileURLToPath(new URL('../check-history.ts', import.meta.url));

  it('sets the exit code', { timeout: 30_000 }, async () => {
    const file = path.join(work, 'stale.jsonl');
    writeFileSync(file, STALE);
    const failure = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      cli,
      file,
      '--model',
      'register',
    ]).catch((error: { code: number; stdout: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stdout: string }).stdout).toContain('not linearizable');
  });
});
