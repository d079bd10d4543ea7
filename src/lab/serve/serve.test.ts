/**
 * `serve` and `bench` load an exercise's entry through the tests' target resolver: a fixture course
 * with one tiny server exercise, started against its stub and against its solution.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchHeader } from '../commands/bench.js';
import { loadCourse } from '../course.js';
import { parseEntryArgs } from './cli-args.js';
import { loadEntry } from './load-entry.js';

const root = path.join(import.meta.dirname, 'fixtures/course');
const course = loadCourse(root);
const echo = course.exercises.find((e) => e.id === '08-traffic/echo');

interface Served {
  url: string;
  tryIt?: string[];
  close(): Promise<void>;
}
type Serve = (ctx: {
  port: number;
  host: string;
  args: readonly string[];
  log(line: string): void;
}) => Promise<Served>;

async function get(target: string, query = '') {
  if (!echo) throw new Error('fixture missing');
  const entry = await loadEntry<Serve>(course, echo, 'serve.ts', { dir: path.join(root, target) });
  const lines: string[] = [];
  const served = await entry.run({ port: 0, host: '127.0.0.1', args: ['a', 'b'], log: (l) => lines.push(l) });
  try {
    const response = await fetch(`${served.url}/${query}`);
    return { status: response.status, body: await response.text(), lines, served };
  } finally {
    await served.close();
    await entry.close();
  }
}

describe('serve and bench entries', () => {
  it('--target solutions serves the reference implementation', async () => {
    const { status, body, lines, served } = await get('solutions', '?name=you');
    expect(status).toBe(200);
    expect(body).toBe('hello, you');
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines).toEqual(['args: a b']);
  }, 30_000);

  it('the default target serves the learner’s file (the stub here)', async () => {
    const { status, body } = await get('exercises');
    expect(status).toBe(500);
    expect(body).toMatch(/not implemented yet/);
  }, 30_000);

  it('runs a bench entry the same way', async () => {
    if (!echo) throw new Error('fixture missing');
    const entry = await loadEntry<(ctx: object) => Promise<void>>(course, echo, 'bench.ts', {
      dir: path.join(root, 'solutions'),
    });
    const lines: string[] = [];
    await entry.run({ durationSeconds: 1, connections: 2, args: [], log: (l: string) => lines.push(l) });
    await entry.close();
    expect(lines).toEqual(['hello, bench 1 s 2 connections']);
  }, 30_000);

  it('parses flags and passes what follows -- to the entry', () => {
    const parsed = parseEntryArgs(
      ['08/echo', '--port', '3000', '--target=solutions', '--', '--x', 'y'],
      ['--port', '--target'],
      '',
    );
    expect(parsed.exercise).toBe('08/echo');
    expect(Object.fromEntries(parsed.flags)).toEqual({ '--port': '3000', '--target': 'solutions' });
    expect(parsed.extra).toEqual(['--x', 'y']);
    expect(() => parseEntryArgs(['08/echo', '--nope'], ['--port'], 'help')).toThrow(/Unknown option --nope/);
  });

  it('the bench header names --duration as given, not "per phase" (each bench says how it spends it)', () => {
    if (!echo) throw new Error('fixture missing');
    const header = benchHeader(echo, '/x/solutions', 2, 50);
    expect(header).toMatch(/--duration 2 s, --connections 50/);
    expect(header).not.toMatch(/per phase/);
  });
});
