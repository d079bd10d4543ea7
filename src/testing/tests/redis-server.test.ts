import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { vitestBin } from '../../lab/suite-runner.js';
import { waitFor } from '../net.js';
import { NoRedisError, startRedis } from '../redis-server.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-redis-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A PATH with node, sh and docker, but no redis-server. */
function pathWithoutRedis(): string {
  const bin = path.join(scratch, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['sh', 'docker']) {
    const found = execFileSync('sh', ['-c', `command -v ${tool} || true`])
      .toString()
      .trim();
    if (found) symlinkSync(found, path.join(bin, tool));
  }
  symlinkSync(process.execPath, path.join(bin, 'node'));
  return bin;
}

const dockerUp = (() => {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
})();

describe('finding Redis', () => {
  it('fails within 5 s, naming the three ways to get Redis, when there is no Docker and no redis-server', async () => {
    const started = Date.now();
    const env = { PATH: pathWithoutRedis(), DOCKER_HOST: `unix://${scratch}/no-docker.sock`, HOME: scratch };
    const error = await startRedis({ env }).catch((e: unknown) => e);
    expect(Date.now() - started, 'the learner must not wait for a hang').toBeLessThan(5000);
    expect(error).toBeInstanceOf(NoRedisError);
    const message = (error as Error).message;
    expect(message).toMatch(/Start Docker/);
    expect(message).toMatch(/REDIS_URL=redis:\/\/127\.0\.0\.1:6379/);
    expect(message).toMatch(/redis-server/);
  });

  it('uses REDIS_URL as it is when set', async () => {
    const handle = await startRedis({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    expect(handle).toMatchObject({ url: 'redis://127.0.0.1:1', source: 'REDIS_URL' });
  });

  it('starts a redis-server from PATH on a free port and stops it', async () => {
    const handle = await startRedis({ env: { ...process.env, LAB_REDIS_NO_DOCKER: '1' } });
    expect(handle.source).toMatch(/^redis-server/);
    const client = new Redis(handle.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    await handle.stop();
    const after = new Redis(handle.url, {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    after.on('error', () => {});
    await expect(after.connect(), 'the server must be gone after stop()').rejects.toThrow();
    after.disconnect();
  });

  it.runIf(dockerUp)(
    'leaves no container behind when a test run is interrupted with Ctrl-C',
    async () => {
      // A run that needs Redis and then hangs, interrupted the way a learner would.
      const dir = path.join(scratch, 'hang');
      mkdirSync(dir, { recursive: true });
      const child = spawn(process.execPath, [vitestBin, 'run', 'src/testing/tests/fixtures/hangs.test.ts'], {
        cwd: path.resolve(import.meta.dirname, '../../..'),
        env: {
          ...process.env,
          LAB_NEEDS_REDIS: '1',
          LAB_REDIS_HANDOFF: '',
          LAB_FIXTURES: '1',
          REDIS_URL: '',
          LAB_REDIS_NO_DOCKER: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const containers = () =>
        execFileSync('docker', ['ps', '-q', '--filter', `label=org.system-design-lab.pid=${child.pid}`])
          .toString()
          .trim();
      await waitFor('the run’s Redis container', containers, { timeoutMs: 30_000, intervalMs: 200 });
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
      await waitFor('the container to be removed', () => containers() === '', {
        timeoutMs: 15_000,
        intervalMs: 200,
      });
    },
    60_000,
  );
});
