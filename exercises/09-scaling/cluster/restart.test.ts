/**
 * Rolling restarts under load: every worker replaced, one at a time, with zero failed requests.
 * The primary and the workers run in child processes (YOUR cluster.ts and app.ts).
 */
import { describe, expect, it } from 'vitest';
import { sleep, useChildProcesses, useRedis, waitFor } from '../../../src/testing/index.js';
import { get, steadyLoad, useClusters } from './harness.js';

const redis = useRedis();
const clusters = useClusters(useChildProcesses());

/** The connections named app:<pid> that Redis still has. */
async function appConnections(pids: number[]): Promise<number[]> {
  const list = (await redis.client().client('LIST')) as string;
  return pids.filter((pid) => list.includes(` name=app:${pid} `));
}

describe('cluster: restart()', () => {
  it('replaces every worker under load with zero failed requests, forking one replacement each', async () => {
    const c = await clusters.start({ workers: 2 }, redis.url);
    const before = await c.workers();
    const load = steadyLoad(c.url, { concurrency: 4, maxMs: 20_000 });
    await waitFor('the load to reach both workers', () => before.every((pid) => load.served.includes(pid)));
    const restarted = await c.restart();
    expect(restarted.status, `restart() resolves (${JSON.stringify(restarted.body)})`).toBe(200);
    const after = await c.workers();
    await waitFor('the new workers to serve', () => after.every((pid) => load.served.includes(pid)));
    const report = await load.stop();

    expect(report.failures, 'a rolling restart fails no request').toEqual([]);
    expect(after, 'two workers serve after the restart').toHaveLength(2);
    expect(
      after.filter((pid) => before.includes(pid)),
      'every worker was replaced',
    ).toEqual([]);
    expect(
      c.exits().map((e) => ({ pid: e.pid, code: e.code, afterDisconnect: e.afterDisconnect })),
      'each old worker was disconnected and exited by itself with code 0',
    ).toEqual(expect.arrayContaining(before.map((pid) => ({ pid, code: 0, afterDisconnect: true }))));
    await sleep(300);
    expect(
      c.forks(),
      'two workers at start and one replacement each: an exit after disconnect is not a crash',
    ).toHaveLength(4);
  }, 30_000);

  it('with a single worker: a replacement listens before the old one stops, so the port never closes', async () => {
    const c = await clusters.start({ workers: 1 }, redis.url);
    const [before] = await c.workers();
    const load = steadyLoad(c.url, { concurrency: 4, maxMs: 20_000 });
    await waitFor('the load to reach the worker', () => load.served.length >= 5);
    const restarted = await c.restart();
    expect(restarted.status, `restart() resolves (${JSON.stringify(restarted.body)})`).toBe(200);
    const [after] = await c.workers();
    await waitFor('the new worker to serve', () => load.served.includes(after as number));
    const report = await load.stop();
    expect(
      report.failures,
      'with one worker, stopping it before its replacement listens leaves nobody on the port: no request may fail',
    ).toEqual([]);
    expect(after).not.toBe(before);
  }, 30_000);

  it('finishes a request in flight on an old worker; the old worker closes Redis and exits with code 0', async () => {
    const c = await clusters.start({ workers: 2, shutdownTimeoutMs: 4000 }, redis.url);
    const before = await c.workers();
    for (let i = 0; i < 4; i++) await get(`${c.url}/hits`); // each worker opens its Redis connection
    expect(await appConnections(before), 'each worker holds a Redis connection named app:<pid>').toEqual(
      before,
    );
    const slow = get(`${c.url}/slow?ms=1500`, 10_000);
    await sleep(300);
    const restarted = await c.restart();
    expect(restarted.status, `restart() resolves (${JSON.stringify(restarted.body)})`).toBe(200);
    const reply = await slow;
    expect(reply.status, 'the /slow request in flight on an old worker is answered, not cut').toBe(200);
    expect(before, 'it was served by an old worker').toContain(reply.body.pid);
    expect(
      c
        .exits()
        .filter((e) => before.includes(e.pid))
        .map((e) => [e.code, e.signal]),
      'old workers exit by themselves (code 0) once their requests are answered, without being killed',
    ).toEqual([
      [0, null],
      [0, null],
    ]);
    expect(await appConnections(before), 'the old workers closed their Redis connections').toEqual([]);
  }, 30_000);
});
