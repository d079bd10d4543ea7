/**
 * Measuring throughput and latency for `npm run bench`: an HTTP load phase (autocannon, on
 * 127.0.0.1 only, bounded in time) and an in-process loop for operations that are not HTTP; and a
 * comparison table that prints the ratio against a baseline measured in the same run.
 */
import type autocannon from 'autocannon';

/** One measured phase. */
export interface Measurement {
  readonly label: string;
  /** Completed operations (requests) in the phase. */
  readonly operations: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Failed operations: connection errors, timeouts, or responses with an unexpected status. */
  readonly errors: number;
}

export interface HttpLoadOptions {
  readonly label: string;
  /** Must be on 127.0.0.1 / localhost: load is never sent elsewhere. */
  readonly url: string;
  readonly connections?: number;
  readonly durationSeconds?: number;
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Responses with another status count as errors (default: any 2xx or 3xx is fine). */
  readonly expectStatus?: number;
  /** Requests to keep in flight per connection (HTTP pipelining; default 1). */
  readonly pipelining?: number;
  /**
   * Send the load from a worker thread (default false). For a server that lives in this process
   * (a proxy under test), so autocannon does not share its event loop.
   */
  readonly inWorker?: boolean;
}

function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) {
    throw new Error(`Refusing to send load to ${host}: benchmarks only target this machine (127.0.0.1).`);
  }
}

/** Runs autocannon against `url` for the given time and returns what it measured. */
export async function httpLoad(options: HttpLoadOptions): Promise<Measurement> {
  assertLoopback(options.url);
  // Loaded on first use: every suite imports the test kit, and only benchmarks need autocannon.
  const { default: run } = await import('autocannon');
  const result = await run({
    url: options.url,
    connections: options.connections ?? 50,
    duration: options.durationSeconds ?? 5,
    pipelining: options.pipelining ?? 1,
    method: options.method ?? 'GET',
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.body ? { body: options.body } : {}),
    ...(options.inWorker ? { workers: 1 } : {}),
  });
  const unexpected =
    options.expectStatus === undefined
      ? result.non2xx - (result['3xx'] ?? 0)
      : result.requests.total - countStatus(result, options.expectStatus);
  return {
    label: options.label,
    operations: result.requests.total,
    perSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + Math.max(0, unexpected),
  };
}

function countStatus(result: autocannon.Result, status: number): number {
  const bucket = `${Math.floor(status / 100)}xx` as '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
  return result[bucket] ?? 0;
}

/**
 * Calls `operation` from `concurrency` loops for `durationSeconds` and measures it: for work that
 * is not an HTTP request (a Redis script, a function). Latency is per call, in milliseconds.
 */
export async function loopLoad(
  label: string,
  operation: () => Promise<unknown>,
  { concurrency = 50, durationSeconds = 5 } = {},
): Promise<Measurement> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + durationSeconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await operation();
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  return measurementOf(label, latencies, (performance.now() - started) / 1000, errors);
}

/**
 * A {@link Measurement} from raw per-operation latencies (ms) over `elapsedSeconds`: for benches that
 * time their own operations (a message from send to delivery, say). Percentiles are nearest-rank.
 */
export function measurementOf(
  label: string,
  latenciesMs: readonly number[],
  elapsedSeconds: number,
  errors = 0,
): Measurement {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p * sorted.length) / 100) - 1)] ?? 0;
  return {
    label,
    operations: sorted.length,
    perSecond: sorted.length / elapsedSeconds,
    p50Ms: round(at(50)),
    p99Ms: round(at(99)),
    errors,
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

/**
 * Formats measurements as a table with each row's throughput relative to the baseline (the first
 * row unless named), and returns the lines (print them with the bench context's `log`).
 */
export function comparisonTable(rows: readonly Measurement[], baselineLabel = rows[0]?.label): string[] {
  const baseline = rows.find((r) => r.label === baselineLabel);
  const header = ['', 'ops/s', 'p50 ms', 'p99 ms', 'errors', `vs ${baselineLabel}`];
  const body = rows.map((r) => [
    r.label,
    Math.round(r.perSecond).toLocaleString('en-US'),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    String(r.errors),
    baseline && baseline.perSecond > 0 ? `${(r.perSecond / baseline.perSecond).toFixed(2)}×` : '–',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), ...body.map(line)];
}
