/**
 * A metrics registry that speaks the Prometheus text exposition format 0.0.4: counters, gauges and
 * histograms with labels, and the `/metrics` endpoint a Prometheus server scrapes.
 *
 * **The model.** A *metric* has a name, a help text, a type and a fixed list of label names. Each
 * combination of label values is a *series*: `http_requests_total{route="/",status="200"}` and
 * `http_requests_total{route="/",status="500"}` are two series of one metric. Prometheus stores a
 * time series per series and per scrape target, which is why label values must come from small sets
 * (a route template, a status code), never from user IDs or raw URLs: a cardinality explosion.
 *
 * **The format** (Prometheus docs, "Exposition formats", text format 0.0.4). For every metric, in
 * the order the metrics were registered:
 *
 * ```text
 * # HELP <name> <help, with \ written \\ and a newline written \n>
 * # TYPE <name> counter|gauge|histogram
 * <name>{<label>="<value>",...} <number>
 * ```
 *
 * - Series appear in the order they were first touched (the first `inc`, `set`, `dec` or `observe`
 *   that named their label values); their labels in the order of `labelNames`.
 * - Label values are written with `\` as `\\`, `"` as `\"` and a newline as `\n`.
 * - Numbers: `NaN`, `+Inf` and `-Inf` for the special values; any other number as JavaScript's
 *   `String(n)` writes it (its shortest round-trip form: `3`, not `3.0`; `0.1`; `1e+21`; `5e-324`;
 *   `-0` is written `0`). Prometheus parses all of these (Go's `strconv.ParseFloat`).
 * - A histogram's series is `<name>_bucket{...,le="<bound>"}` per bound in increasing order (the
 *   count of observations `<=` that bound: cumulative), then `le="+Inf"` (every observation, so it
 *   always equals `_count`), then `<name>_sum{...}` and `<name>_count{...}`. `le` comes last.
 * - No timestamps, no blank lines, and the text ends with a newline (an empty registry exposes `""`).
 * - A metric without label names has its one series from the start (a counter shows `name 0`
 *   before anything happened, a histogram zero in every bucket). A metric with label names shows
 *   only its `# HELP` and `# TYPE` lines until its first series is touched: there is no way to
 *   know which label values will come (prom-client does the same).
 *
 * The differences from prom-client 15's `register.metrics()`: prom-client writes `NaN` as `Nan`,
 * puts a blank line between metrics, and puts `le` first among a bucket's labels. Prometheus
 * accepts both; the output here is what the Go client (the format's reference) writes.
 *
 * **Counter names.** A counter keeps the name it was given: the 0.0.4 format does not require the
 * `_total` suffix (OpenMetrics does, and adds it itself), and a registry that renamed metrics would
 * surprise whoever greps the code for the name a dashboard shows. Name counters `..._total` by
 * convention (as prom-client and the Go client leave it to you too).
 */
import type { RequestListener } from 'node:http';

/** Label values of one series, by label name. Numbers are written with `String(n)`: `200` and `'200'` are the same series. */
export type Labels = Readonly<Record<string, string | number>>;

export interface MetricOptions {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`, unique in the registry. */
  readonly name: string;
  /** A non-empty sentence: what is measured, in which unit. */
  readonly help: string;
  /** Each `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved by Prometheus), no duplicates. Default: none. */
  readonly labelNames?: readonly string[];
}

export interface HistogramOptions extends MetricOptions {
  /**
   * Upper bounds of the buckets. Given in any order: they are sorted, and duplicates merged. `+Inf`
   * may be listed but need not be (the `+Inf` bucket is always there). `NaN` and `-Inf` throw a
   * `RangeError`. Default: {@link DEFAULT_BUCKETS}.
   */
  readonly buckets?: readonly number[];
}

/** A value that only goes up (requests served, bytes sent). Restarts at 0 when the process does; `rate()` copes. */
export interface Counter {
  readonly name: string;
  /** Adds `by` (default 1) to the series without labels. */
  inc(by?: number): void;
  /**
   * Adds `by` (default 1) to the series of `labels`. `by` must be a finite number `>= 0`: a negative,
   * `NaN` or infinite `by` throws a `RangeError` naming it, and changes nothing.
   */
  inc(labels: Labels, by?: number): void;
  /** The series' value; 0 for a series never touched. Labels are checked as for `inc`; reading creates no series. */
  get(labels?: Labels): number;
}

/** A value that goes up and down (queue length, connections open, temperature). */
export interface Gauge {
  readonly name: string;
  /** Sets the series to `value`: any number, `NaN` and `±Infinity` included. */
  set(value: number): void;
  set(labels: Labels, value: number): void;
  /** Adds `by` (default 1). */
  inc(by?: number): void;
  inc(labels: Labels, by?: number): void;
  /** Subtracts `by` (default 1). */
  dec(by?: number): void;
  dec(labels: Labels, by?: number): void;
  /** The series' value; 0 for a series never touched. Labels are checked as for `inc`; reading creates no series. */
  get(labels?: Labels): number;
}

/** Counts observations (durations, sizes) into buckets, so quantiles can be estimated and summed across instances. */
export interface Histogram {
  readonly name: string;
  /** Records one observation: any number but `NaN` (a `RangeError`). A value above every bound counts only in `+Inf`. */
  observe(value: number): void;
  observe(labels: Labels, value: number): void;
  /**
   * Starts timing with the registry's clock; the returned function observes the seconds elapsed
   * (into the series of `labels`) and returns them. Labels are checked when the timer starts.
   */
  startTimer(labels?: Labels): () => number;
}

export interface RegistryOptions {
  /** What `startTimer` reads: milliseconds. Default: `performance.now()`. */
  readonly clock?: { now(): number };
}

/** prom-client's and the Go client's default buckets, in seconds: 5 ms to 10 s, for request durations. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/**
 * Holds metrics and writes them in the text format.
 *
 * Every error is thrown at the call that is wrong, with a message naming the bad value:
 * - a metric name or label name that does not match its pattern, a label name starting with `__`,
 *   `le` as a histogram's label name, a repeated label name, an empty help: `TypeError`;
 * - registering a name that is already registered (whatever its type): `Error`; the registry
 *   keeps the first metric and returns nothing new (a second module silently sharing, or silently
 *   replacing, a metric hides a bug);
 * - labels that do not match `labelNames` exactly (one missing, or one extra): `TypeError`, and no
 *   series changes;
 * - a bad number (see each method): `RangeError`, and no series changes.
 */
export class Registry {
  /** The `Content-Type` of the text format 0.0.4. */
  static readonly contentType = 'text/plain; version=0.0.4; charset=utf-8' as const;

  constructor(_options: RegistryOptions = {}) {}

  counter(_options: MetricOptions): Counter {
    throw new Error('not implemented: Registry.counter');
  }

  gauge(_options: MetricOptions): Gauge {
    throw new Error('not implemented: Registry.gauge');
  }

  histogram(_options: HistogramOptions): Histogram {
    throw new Error('not implemented: Registry.histogram');
  }

  /** The text format 0.0.4, every metric, as the header of this file says, byte for byte. */
  expose(): string {
    throw new Error('not implemented: Registry.expose');
  }
}

/**
 * The `/metrics` endpoint. `GET` or `HEAD` on `/metrics` (a query string is ignored): 200 with
 * {@link Registry.contentType} and `registry.expose()` (no body for `HEAD`). Any other method on
 * `/metrics`: 405 with `Allow: GET, HEAD`. Any other path: 404. If `expose()` throws: 500.
 */
export function metricsHandler(_registry: Registry): RequestListener {
  throw new Error('not implemented: metricsHandler');
}
