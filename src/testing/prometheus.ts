/**
 * A real Prometheus for suites: `promtool check metrics` on a text exposition, and a Prometheus
 * server on 127.0.0.1 that scrapes a target and answers PromQL.
 *
 * The binaries are found on PATH (`prometheus`, `promtool`; Debian's package installs both). When
 * they are missing a suite skips its Prometheus tests with {@link prometheusAvailability}'s reason,
 * except when `LAB_WITH_PROMETHEUS=1` is set (CI): then {@link prometheusAvailability} throws, so a
 * machine meant to run them can never skip them silently.
 *
 * Every server runs in a temporary folder (config + TSDB) that `stop()` removes; a watchdog kills
 * the server and removes the folder if the test process dies first, so none outlives the run.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, watchdog, which } from './redis-server.js';

export type PrometheusAvailability =
  | { readonly ok: true; readonly prometheus: string; readonly promtool: string }
  | { readonly ok: false; readonly reason: string };

const HOW_TO_GET_IT =
  'Install the binaries (Debian/Ubuntu: `sudo apt-get install prometheus`, which brings promtool; ' +
  'or the release tarball from https://prometheus.io/download/ with both on PATH). In CI, ' +
  '`LAB_WITH_PROMETHEUS=1` provisions them. To look at the metrics by hand instead, ' +
  '`docker compose --profile observability up` starts Prometheus and Grafana.';

/** Finds `prometheus` and `promtool` in `LAB_PROMETHEUS_DIR` or on PATH. Throws instead of returning `ok: false` under `LAB_WITH_PROMETHEUS=1`. */
export function prometheusAvailability(env: NodeJS.ProcessEnv = process.env): PrometheusAvailability {
  const prometheus = onPath('prometheus', env);
  const promtool = onPath('promtool', env);
  if (prometheus && promtool) return { ok: true, prometheus, promtool };
  const missing = [prometheus ? '' : 'prometheus', promtool ? '' : 'promtool'].filter(Boolean).join(' and ');
  const reason = `${missing} not found on PATH, so the tests against a real Prometheus are skipped. ${HOW_TO_GET_IT}`;
  if (env.LAB_WITH_PROMETHEUS === '1') {
    throw new Error(
      `LAB_WITH_PROMETHEUS=1 but ${reason.replace(', so the tests against a real Prometheus are skipped', '')}`,
    );
  }
  return { ok: false, reason };
}

/**
 * Where the grader's sandbox mounts this machine's binaries (see `src/lab/grade/container.ts`): a
 * folder searched before PATH.
 */
export const PROMETHEUS_DIR_VARIABLE = 'LAB_PROMETHEUS_DIR';

function onPath(binary: string, env: NodeJS.ProcessEnv): string | undefined {
  return which(binary, [env[PROMETHEUS_DIR_VARIABLE] ?? '', env.PATH ?? ''].join(path.delimiter));
}

function requireBinaries(): { prometheus: string; promtool: string } {
  const found = prometheusAvailability();
  if (!found.ok) throw new Error(found.reason);
  return found;
}

export interface PromtoolResult {
  /** The text parses: promtool exited 0, or 3 (lint findings only, such as a counter without `_total`). */
  readonly ok: boolean;
  /** promtool exited 0: it parses and promtool's naming lint found nothing. */
  readonly lintClean: boolean;
  /** promtool's stdout and stderr, for the assertion message. */
  readonly output: string;
}

/** promtool's exit code when the text parses but its lint has findings (promtool's `lintErrExitCode`). */
const LINT_ONLY_EXIT_CODE = 3;

/** Runs `promtool check metrics` with `text` on stdin (bounded: 20 s). */
export function promtoolCheckMetrics(text: string): Promise<PromtoolResult> {
  const { promtool } = requireBinaries();
  return new Promise((resolve, reject) => {
    const child = execFile(promtool, ['check', 'metrics'], { timeout: 20_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      const code = error ? error.code : 0;
      if (typeof code !== 'number')
        reject(new Error(`promtool check metrics did not finish: ${error?.message}`));
      else resolve({ ok: code === 0 || code === LINT_ONLY_EXIT_CODE, lintClean: code === 0, output });
    });
    child.stdin?.on('error', () => {}); // promtool may exit before reading everything
    child.stdin?.end(text);
  });
}

export interface StartPrometheusOptions {
  /** `host:port` of each target, e.g. `127.0.0.1:9464`. */
  readonly targets: readonly string[];
  /** Scrape interval (and timeout) in ms. Default 250. */
  readonly scrapeIntervalMs?: number;
  /** Default `/metrics`. */
  readonly metricsPath?: string;
  /** Job name (the `job` label). Default `lab`. */
  readonly job?: string;
  /** How long to wait for `/-/ready`. Default 30 s. */
  readonly readyTimeoutMs?: number;
}

/** One sample of an instant vector: its labels and its value as Prometheus returns it (a string: "0.6", "NaN", "+Inf"). */
export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: string;
}

export interface RunningPrometheus {
  /** e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The temporary folder (config + TSDB) that `stop()` removes. */
  readonly dir: string;
  /** An instant query (`/api/v1/query`); throws with Prometheus's error for a bad query. */
  query(promql: string): Promise<PromSample[]>;
  /** Waits until `count_over_time(metric[1h])` has at least `n` samples for some series (default timeout 30 s). */
  waitForSamples(metric: string, n: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s; removes the temp folder. Idempotent. */
  stop(): Promise<void>;
}

/** Starts a Prometheus that scrapes `targets`, on a free port of 127.0.0.1, and waits until it is ready. */
export async function startPrometheus(options: StartPrometheusOptions): Promise<RunningPrometheus> {
  const { prometheus } = requireBinaries();
  const interval = `${Math.max(1, Math.round(options.scrapeIntervalMs ?? 250))}ms`;
  const dir = await mkdtemp(path.join(tmpdir(), 'lab-prometheus-'));
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(options.job ?? 'lab')}`,
    `    metrics_path: ${JSON.stringify(options.metricsPath ?? '/metrics')}`,
    '    static_configs:',
    `      - targets: ${JSON.stringify(options.targets)}`,
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    prometheus,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  child.once('exit', () => {
    running = false;
  });
  child.once('error', () => {
    running = false;
  });
  // SIGKILL is asynchronous: wait (bounded: 5 s) for the process to be gone before removing its folder,
  // or the TSDB it is still writing can make `rm -rf` fail.
  const pid = child.pid ?? 0;
  const guard = watchdog(
    `kill -KILL ${pid} 2>/dev/null; i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; rm -rf '${dir}'`,
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (running) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
      guard.disarm();
    })());

  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (!running) {
      await stop();
      throw new Error(`prometheus exited before it was ready:\n${log}`);
    }
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within ${readyTimeoutMs} ms at ${url}:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const query = async (promql: string): Promise<PromSample[]> => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success')
      throw new Error(`query ${promql} failed: ${body.error ?? response.status}`);
    if (body.data?.resultType !== 'vector')
      throw new Error(`query ${promql} returned a ${body.data?.resultType}, not a vector`);
    return body.data.result.map((r) => ({ metric: r.metric, value: r.value[1] }));
  };

  const waitForSamples = async (metric: string, n: number, timeoutMs = 30_000): Promise<void> => {
    const end = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      const result = await query(`max(count_over_time(${metric}[1h]))`).catch(() => []);
      seen = Number(result[0]?.value ?? 0);
      if (seen >= n) return;
      if (Date.now() > end) {
        throw new Error(
          `prometheus scraped ${seen} samples of ${metric} in ${timeoutMs} ms, expected at least ${n}: ` +
            `is the target up and serving it? (targets: ${options.targets.join(', ')})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  return { url, dir, query, waitForSamples, stop };
}
