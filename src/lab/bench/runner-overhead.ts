/**
 * How much `npm test -- 00` costs beyond Vitest itself, split into its parts:
 *
 *   tsx src/lab/bench/runner-overhead.ts [--runs N]
 *
 * 1. a bare `vitest run` of one trivial test, in an empty folder with no config (the floor);
 * 2. `npm test -- 00/lab-check` (a chapter part without Redis) through the lab runner;
 * 3. starting and stopping the run's Redis alone (Testcontainers, or redis-server);
 * 4. `npm test -- 00` (with Redis) through the lab runner.
 *
 * Each is run N times (default 5) against the reference solutions; the median is reported, with the
 * ratios the skeleton issue sets as targets: (2) within 2x of (1), and (4) within (1) + 1 s.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedis } from '../../testing/redis-server.js';
import { courseRoot } from '../course.js';
import { vitestBin } from '../suite-runner.js';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function timeCommand(argv: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): number {
  const t0 = performance.now();
  const result = spawnSync(process.execPath, argv, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: 'ignore',
  });
  const ms = performance.now() - t0;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited with ${result.status}`);
  return ms;
}

async function main() {
  const bare = mkdtempSync(path.join(os.tmpdir(), 'lab-bare-vitest-'));
  writeFileSync(
    path.join(bare, 'trivial.test.mjs'),
    "import { it, expect } from 'vitest';\nit('adds', () => expect(1 + 1).toBe(2));\n",
  );
  writeFileSync(path.join(bare, 'package.json'), '{"type":"module"}');
  const cli = ['--import', 'tsx', 'src/lab/cli.ts', 'test'];
  const solutions = { LAB_TARGET: 'solutions' };

  const samples = {
    bare: [] as number[],
    noRedis: [] as number[],
    redisStart: [] as number[],
    withRedis: [] as number[],
  };
  for (let i = 0; i < runs; i++) {
    samples.bare.push(
      timeCommand([vitestBin, 'run', '--root', bare], {
        cwd: bare,
        env: { NODE_PATH: path.join(courseRoot, 'node_modules') },
      }),
    );
    samples.noRedis.push(timeCommand([...cli, '00/lab-check'], { cwd: courseRoot, env: solutions }));
    const t0 = performance.now();
    const redis = await startRedis();
    await redis.stop();
    samples.redisStart.push(performance.now() - t0);
    samples.withRedis.push(timeCommand([...cli, '00'], { cwd: courseRoot, env: solutions }));
  }
  rmSync(bare, { recursive: true, force: true });

  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<
    keyof typeof samples,
    number
  >;
  const redis = await startRedis();
  const source = redis.source;
  await redis.stop();
  const row = (label: string, ms: number, note = '') =>
    console.log(`${label.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(6)} s  ${note}`);
  console.log(
    `median of ${runs} runs on ${os.cpus().length} cores, Node ${process.versions.node}, Redis from ${source}\n`,
  );
  row('bare `vitest run`, one trivial test', m.bare);
  row(
    'npm test -- 00/lab-check (no Redis)',
    m.noRedis,
    `${(m.noRedis / m.bare).toFixed(2)}× bare (target ≤ 2×)`,
  );
  row('Redis start + stop alone', m.redisStart);
  row(
    'npm test -- 00 (with Redis)',
    m.withRedis,
    `bare + ${((m.withRedis - m.bare) / 1000).toFixed(2)} s (target ≤ bare + 1 s)`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
