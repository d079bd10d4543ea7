/**
 * The cluster for real: a primary in a child process (YOUR cluster.ts) forks worker processes
 * (YOUR app.ts) that share one port, and the suite talks to them over HTTP, kills one with SIGKILL,
 * and closes the cluster. Every request opens its own connection, which the primary hands to the
 * next worker in turn.
 */
import { describe, expect, it } from 'vitest';
import { sleep, useChildProcesses, useRedis, waitFor } from '../../../src/testing/index.js';
import { get, isRunning, steadyLoad, useClusters } from './harness.js';

const redis = useRedis();
const clusters = useClusters(useChildProcesses());
let sequence = 0;
const counterKey = () => `t09cl-hits-${process.pid}-${sequence++}`;

describe('cluster: two workers on one port', () => {
  it('spreads requests over both workers, and /hits counts every request whichever worker served it', async () => {
    const key = counterKey();
    const c = await clusters.start({ workers: 2, env: { HITS_KEY: key } }, redis.url);
    const workers = await c.workers();
    expect(workers, 'workers() lists the two worker pids').toHaveLength(2);
    expect(new Set(workers)).toEqual(new Set(c.forks()));

    const counts: number[] = [];
    const pids = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const reply = await get(`${c.url}/hits`);
      expect(reply.status, 'GET /hits answers 200').toBe(200);
      counts.push(Number(reply.body.hits));
      pids.add(Number(reply.body.pid));
    }
    expect(pids, 'new connections go to both workers in turn').toEqual(new Set(workers));
    expect(
      counts,
      'the count is shared by every worker (INCR in Redis): 30 requests count 1..30 with no repeat',
    ).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await redis.client().get(key)).toBe('30');
  });

  it('replaces a worker killed with SIGKILL under load; the other worker’s requests do not fail', async () => {
    const c = await clusters.start({ workers: 2, backoffMs: 50 }, redis.url);
    const [victim, survivor] = (await c.workers()) as [number, number];
    const load = steadyLoad(c.url, { concurrency: 4, maxMs: 15_000 });
    await waitFor('both workers to serve the load', () =>
      [victim, survivor].every((pid) => load.served.filter((p) => p === pid).length >= 5),
    );
    process.kill(victim, 'SIGKILL');
    const heir = await waitFor(
      'a new worker to replace the killed one and serve requests',
      () => load.served.find((pid) => pid !== victim && pid !== survivor),
      { timeoutMs: 8000 },
    );
    await waitFor(
      'the new worker to serve a few more requests',
      () => load.served.filter((p) => p === heir).length >= 5,
    );
    const report = await load.stop();
    expect(new Set(await c.workers()), 'workers() lists the survivor and the replacement').toEqual(
      new Set([survivor, heir]),
    );
    expect(c.exits(), 'the killed worker’s exit is seen').toContainEqual(
      expect.objectContaining({ pid: victim, signal: 'SIGKILL' }),
    );
    expect(
      report.failures.length,
      `only requests in flight on the killed worker may fail (at most one per client loop); failures: ${report.failures.join('; ')}`,
    ).toBeLessThanOrEqual(4);
    expect(report.served.filter((p) => p === survivor).length, 'the survivor kept serving').toBeGreaterThan(
      10,
    );
    expect(c.forks(), 'one replacement, no more').toHaveLength(3);
  }, 25_000);

  it('close() stops every worker, cancels a replacement still waiting for its backoff, and leaves no process behind', async () => {
    const c = await clusters.start({ workers: 2, backoffMs: 400 }, redis.url);
    const [victim, ...others] = c.forks() as [number, ...number[]];
    expect((await get(`${c.url}/whoami`)).status).toBe(200);
    process.kill(victim, 'SIGKILL');
    await waitFor('the primary to see the killed worker exit', () => c.exits().some((e) => e.pid === victim));
    const closed = await c.close(); // the replacement is still waiting for its 400 ms backoff
    expect(closed.status, `close() resolves (${JSON.stringify(closed.body)})`).toBe(200);
    expect(c.forks().filter(isRunning), 'once close() has resolved, no worker process is running').toEqual(
      [],
    );
    expect(
      c.exits().map((e) => [e.pid, e.code]),
      'each worker was disconnected and exited by itself with code 0',
    ).toEqual(expect.arrayContaining(others.map((pid) => [pid, 0])));
    const exit = await Promise.race([c.child.exited, sleep(5000).then(() => 'still running')]);
    expect(exit, 'with the cluster closed the primary has nothing left to run, and exits').toEqual({
      code: 0,
      signal: null,
    });
    expect(c.forks(), 'nothing was forked after close(): the pending replacement was cancelled').toHaveLength(
      2,
    );
    await expect(get(`${c.url}/whoami`, 1000), 'nothing listens on the port any more').rejects.toThrow();
  }, 20_000);
});
