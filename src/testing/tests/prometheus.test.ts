import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startHttpServer, waitFor } from '../net.js';
import { prometheusAvailability, promtoolCheckMetrics, startPrometheus } from '../prometheus.js';

const available = prometheusAvailability();
if (!available.ok) console.warn(`prometheus kit: ${available.reason}`);

describe('prometheusAvailability', () => {
  it('without the binaries, says why and how to get them', () => {
    const found = prometheusAvailability({ PATH: '/nonexistent' });
    expect(found.ok).toBe(false);
    if (found.ok) return;
    expect(found.reason).toContain('prometheus and promtool not found on PATH');
    expect(found.reason).toContain('LAB_WITH_PROMETHEUS=1');
    expect(found.reason).toContain('docker compose --profile observability up');
  });

  it('under LAB_WITH_PROMETHEUS=1, a missing binary throws instead of skipping', () => {
    expect(() => prometheusAvailability({ PATH: '/nonexistent', LAB_WITH_PROMETHEUS: '1' })).toThrow(
      /LAB_WITH_PROMETHEUS=1 but prometheus and promtool not found on PATH/,
    );
  });
});

describe.skipIf(!available.ok)('promtool and a Prometheus server', () => {
  it('promtool check metrics accepts a valid exposition and rejects a broken one with its reason', async () => {
    const good = await promtoolCheckMetrics('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n');
    expect(good.ok, good.output).toBe(true);
    expect(good.lintClean, good.output).toBe(true);
    const linted = await promtoolCheckMetrics('# HELP a A.\n# TYPE a counter\na 3\n');
    expect(linted.ok, 'a counter without _total parses').toBe(true);
    expect(linted.lintClean, 'but promtool advises the _total suffix').toBe(false);
    expect(linted.output).toContain('_total');
    const bad = await promtoolCheckMetrics('# HELP a A.\n# TYPE a counter\na{x="1} 3\n');
    expect(bad.ok).toBe(false);
    expect(bad.output).not.toBe('');
  });

  it('scrapes a target, answers queries, and stop() ends it and removes its folder', async () => {
    const target = await startHttpServer((req, res) => {
      res.writeHead(req.url === '/custom' ? 200 : 404, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# HELP kit_value A value.\n# TYPE kit_value gauge\nkit_value 42\n');
    });
    const prometheus = await startPrometheus({
      targets: [new URL(target.url).host],
      scrapeIntervalMs: 200,
      metricsPath: '/custom',
    });
    try {
      await prometheus.waitForSamples('kit_value', 2);
      // Stale after a scrape that timed out on a loaded machine: ask again until it answers.
      const value = await waitFor('kit_value', async () => (await prometheus.query('kit_value'))[0]?.value, {
        timeoutMs: 30_000,
      });
      expect(value).toBe('42');
      expect((await prometheus.query('up'))[0]?.metric.job).toBe('lab');
      await expect(prometheus.query('sum(')).rejects.toThrow(/query sum\( failed/);
      await expect(prometheus.waitForSamples('kit_absent', 1, 300)).rejects.toThrow(
        /scraped 0 samples of kit_absent/,
      );
    } finally {
      await prometheus.stop();
      await target.close();
    }
    expect(existsSync(prometheus.dir), 'stop() removes the temporary folder').toBe(false);
    const after = await fetch(`${prometheus.url}/-/ready`).then(
      () => 'answered',
      () => 'refused',
    );
    expect(after, 'stop() ends the server').toBe('refused');
    await prometheus.stop(); // idempotent
  }, 60_000);
});

describe.skipIf(!available.ok)('a Prometheus whose test process dies', () => {
  it('is killed and its folder removed by the watchdog', async () => {
    const kit = new URL('../prometheus.ts', import.meta.url).pathname;
    const script = `import { startPrometheus } from ${JSON.stringify(kit)};
      const p = await startPrometheus({ targets: ['127.0.0.1:9'], scrapeIntervalMs: 1000 });
      console.log(JSON.stringify({ url: p.url, dir: p.dir }));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
        });
        child.once('exit', (code) =>
          reject(new Error(`the child exited (${code}) before starting Prometheus`)),
        );
      });
      const { url, dir } = JSON.parse(line) as { url: string; dir: string };
      expect((await fetch(`${url}/-/ready`)).ok, 'the child started a Prometheus').toBe(true);
      child.kill('SIGKILL');
      await waitFor(
        'the orphaned Prometheus to be gone and its folder removed',
        async () =>
          !existsSync(dir) &&
          (await fetch(`${url}/-/ready`).then(
            () => false,
            () => true,
          )),
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
