/**
 * A worker that crashes at startup, every time: the primary replaces it within its restart budget,
 * then gives up instead of forking forever.
 */
import { describe, expect, it } from 'vitest';
import { sleep, useChildProcesses, useRedis, waitFor } from '../../../src/testing/index.js';
import { entries, isRunning, useClusters } from './harness.js';

const redis = useRedis();
const clusters = useClusters(useChildProcesses());

describe('startCluster: bad options', () => {
  it('throws a TypeError naming `workers` or `exec` before forking anything', async () => {
    for (const [options, name] of [
      [{ workers: 0 }, 'workers'],
      [{ workers: 1.5 }, 'workers'],
      [{ workers: 1, exec: 'worker.ts' }, 'exec'],
    ] as const) {
      const child = clusters.launch(options, redis.url);
      const line = await child.waitForLine('startCluster() to settle', (l) =>
        /"event":"(failed|ready)"/.test(l),
      );
      const settled = JSON.parse(line) as { event: string; name?: string; message?: string };
      expect(settled, `startCluster(${JSON.stringify(options)}) rejects`).toMatchObject({
        event: 'failed',
        name: 'TypeError',
      });
      expect(settled.message, `the error names ${name}`).toMatch(new RegExp(`\\b${name}\\b`));
      expect(
        child.lines.filter((l) => l.includes('"event":"fork"')),
        'nothing was forked',
      ).toEqual([]);
      await child.kill();
    }
  }, 20_000);
});

describe('cluster: a crash loop', () => {
  it('forks at most workers + maxRestarts times, then startCluster rejects and nothing is left running', async () => {
    const child = clusters.launch(
      { workers: 2, exec: entries.crashWorker, maxRestarts: 3, restartWindowMs: 60_000, backoffMs: 20 },
      redis.url,
    );
    const events = () => child.lines.map((l) => JSON.parse(l) as { event: string; pid?: number });
    const forks = () => events().filter((e) => e.event === 'fork');
    const verdict = await waitFor(
      'startCluster to give up, or more forks than the budget allows',
      () =>
        events().some((e) => e.event === 'failed') ? 'gave up' : forks().length > 5 ? 'too many forks' : '',
      { timeoutMs: 12_000 },
    );
    expect(
      verdict,
      'a worker that always crashes is replaced maxRestarts (3) times, then the cluster gives up',
    ).toBe('gave up');
    const failed = events().find((e) => e.event === 'failed') as { message?: string };
    expect(failed.message, 'the rejection says the workers keep crashing').toMatch(/crash/i);
    const forked = forks().length;
    expect(forked, 'crashed workers are replaced (2 workers, then at least one replacement)').toBeGreaterThan(
      2,
    );
    expect(forked, 'at most 2 workers + 3 replacements').toBeLessThanOrEqual(5);
    await sleep(500);
    expect(forks().length, 'nothing is forked after giving up').toBe(forked);
    expect(
      forks().filter((f) => isRunning(f.pid as number)),
      'no worker is left running',
    ).toEqual([]);
  }, 20_000);
});
