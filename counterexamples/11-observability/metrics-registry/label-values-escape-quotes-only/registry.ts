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

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

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

  readonly #metrics = new Map<string, Metric>();
  readonly #clock: { now(): number };

  constructor(options: RegistryOptions = {}) {
    this.#clock = options.clock ?? performance;
  }

  counter(options: MetricOptions): Counter {
    const metric = this.#register(options, 'counter');
    return {
      name: metric.name,
      inc: (a?: Labels | number, b?: number) => {
        const [labels, by] = split(a, b, 1);
        if (!Number.isFinite(by) || by < 0) {
          throw new RangeError(
            `counter ${metric.name}: cannot increase by ${by}; a counter only goes up (use a gauge)`,
          );
        }
        const series = metric.series(labels);
        series.value += by;
      },
      get: (labels = {}) => metric.peek(labels)?.value ?? 0,
    } as Counter;
  }

  gauge(options: MetricOptions): Gauge {
    const metric = this.#register(options, 'gauge');
    const add = (sign: 1 | -1) => (a?: Labels | number, b?: number) => {
      const [labels, by] = split(a, b, 1);
      metric.series(labels).value += sign * by;
    };
    return {
      name: metric.name,
      set: (a: Labels | number, b?: number) => {
        const [labels, value] = split(a, b, Number.NaN);
        metric.series(labels).value = value;
      },
      inc: add(1),
      dec: add(-1),
      get: (labels = {}) => metric.peek(labels)?.value ?? 0,
    } as Gauge;
  }

  histogram(options: HistogramOptions): Histogram {
    if (options.labelNames?.includes('le')) {
      throw new TypeError(
        `histogram ${options.name}: "le" is reserved for the bucket bounds and cannot be a label name`,
      );
    }
    const bounds = normaliseBuckets(options.name, options.buckets ?? DEFAULT_BUCKETS);
    const metric = this.#register(options, 'histogram', bounds);
    const observe = (labels: Labels, value: number) => {
      if (Number.isNaN(value)) throw new RangeError(`histogram ${metric.name}: cannot observe NaN`);
      const series = metric.series(labels);
      const counts = series.buckets as number[];
      // Stored per bucket (not cumulative): one increment per observation; expose() accumulates.
      // A value above every bound is in no finite bucket, only in count (the +Inf bucket).
      const i = bounds.findIndex((bound) => value <= bound);
      if (i >= 0) counts[i] = (counts[i] as number) + 1;
      series.count += 1;
      series.value += value;
    };
    return {
      name: metric.name,
      observe: (a: Labels | number, b?: number) => {
        const [labels, value] = split(a, b, Number.NaN);
        observe(labels, value);
      },
      startTimer: (labels: Labels = {}) => {
        metric.check(labels);
        const start = this.#clock.now();
        return () => {
          const seconds = (this.#clock.now() - start) / 1000;
          observe(labels, seconds);
          return seconds;
        };
      },
    };
  }

  /** The text format 0.0.4, every metric, as the header of this file says, byte for byte. */
  expose(): string {
    let out = '';
    for (const metric of this.#metrics.values()) out += metric.expose();
    return out;
  }

  #register(options: MetricOptions, type: MetricType, bounds?: readonly number[]): Metric {
    const { name, help, labelNames = [] } = options;
    if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
      throw new TypeError(
        `invalid metric name ${JSON.stringify(name)}: it must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
      );
    }
    if (typeof help !== 'string' || help === '')
      throw new TypeError(`metric ${name}: help must be a non-empty string`);
    const seen = new Set<string>();
    for (const label of labelNames) {
      if (typeof label !== 'string' || !LABEL_NAME.test(label) || label.startsWith('__')) {
        throw new TypeError(
          `metric ${name}: invalid label name ${JSON.stringify(label)}: it must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __`,
        );
      }
      if (seen.has(label))
        throw new TypeError(`metric ${name}: label name ${JSON.stringify(label)} is listed twice`);
      seen.add(label);
    }
    if (this.#metrics.has(name)) throw new Error(`a metric named ${name} is already registered`);
    const metric = new Metric(name, help, type, [...labelNames], bounds);
    this.#metrics.set(name, metric);
    return metric;
  }
}

type MetricType = 'counter' | 'gauge' | 'histogram';

interface Series {
  /** Label pairs, already escaped and joined: `a="x",b="y"` (empty without labels). */
  readonly labelText: string;
  /** Counter and gauge: the value. Histogram: the sum. */
  value: number;
  /** Histogram only: observations per bucket (not cumulative), one per bound. */
  readonly buckets?: number[];
  count: number;
}

class Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** Histogram only: the finite bucket bounds, increasing. */
  readonly bounds: readonly number[] | undefined;
  readonly #series = new Map<string, Series>();

  constructor(
    name: string,
    help: string,
    type: MetricType,
    labelNames: readonly string[],
    bounds?: readonly number[],
  ) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.labelNames = labelNames;
    this.bounds = bounds;
    // Without labels there is exactly one series, and it exists from the start.
    if (labelNames.length === 0) this.series({});
  }

  /** Throws unless `labels` names exactly `labelNames`; returns the values in `labelNames` order. */
  check(labels: Labels): string[] {
    for (const key of Object.keys(labels)) {
      if (!this.labelNames.includes(key)) {
        throw new TypeError(
          `metric ${this.name}: unknown label ${JSON.stringify(key)} (its labels are ${JSON.stringify(this.labelNames)})`,
        );
      }
    }
    return this.labelNames.map((label) => {
      const value = labels[label];
      if (value === undefined) {
        throw new TypeError(
          `metric ${this.name}: missing label ${JSON.stringify(label)} (its labels are ${JSON.stringify(this.labelNames)})`,
        );
      }
      return String(value);
    });
  }

  /** The series of `labels`, created (and placed last) on first use. */
  series(labels: Labels): Series {
    const values = this.check(labels);
    const key = JSON.stringify(values);
    let series = this.#series.get(key);
    if (!series) {
      series = {
        labelText: values.map((v, i) => `${this.labelNames[i]}="${escapeLabelValue(v)}"`).join(','),
        value: 0,
        count: 0,
        ...(this.bounds ? { buckets: this.bounds.map(() => 0) } : {}),
      };
      this.#series.set(key, series);
    }
    return series;
  }

  /** The series of `labels` if it exists; checks the labels but creates nothing. */
  peek(labels: Labels): Series | undefined {
    return this.#series.get(JSON.stringify(this.check(labels)));
  }

  expose(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    for (const s of this.#series.values()) {
      if (!this.bounds) {
        out += `${this.name}${braces(s.labelText)} ${formatNumber(s.value)}\n`;
        continue;
      }
      const prefix = s.labelText === '' ? '' : `${s.labelText},`;
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += s.buckets?.[i] ?? 0;
        out += `${this.name}_bucket{${prefix}le="${formatNumber(bound)}"} ${cumulative}\n`;
      });
      out += `${this.name}_bucket{${prefix}le="+Inf"} ${s.count}\n`;
      out += `${this.name}_sum${braces(s.labelText)} ${formatNumber(s.value)}\n`;
      out += `${this.name}_count${braces(s.labelText)} ${s.count}\n`;
    }
    return out;
  }
}

/** `(labels, x)` or `(x)`: the two call shapes every method takes. */
function split(a: Labels | number | undefined, b: number | undefined, fallback: number): [Labels, number] {
  if (typeof a === 'object' && a !== null) return [a, b ?? fallback];
  return [{}, a ?? fallback];
}

function normaliseBuckets(name: string, buckets: readonly number[]): number[] {
  for (const bound of buckets) {
    if (typeof bound !== 'number' || Number.isNaN(bound) || bound === Number.NEGATIVE_INFINITY) {
      throw new RangeError(`histogram ${name}: invalid bucket bound ${String(bound)}`);
    }
  }
  const finite = buckets.filter((bound) => bound !== Number.POSITIVE_INFINITY);
  return [...new Set(finite)].sort((x, y) => x - y);
}

function braces(labelText: string): string {
  return labelText === '' ? '' : `{${labelText}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/"/g, '\\"');
}

/** `NaN`, `+Inf`, `-Inf`, else JavaScript's shortest round-trip form (`-0` becomes `0`). */
function formatNumber(n: number): string {
  // String(NaN) is already 'NaN'; only the infinities are spelled differently.
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

/**
 * The `/metrics` endpoint. `GET` or `HEAD` on `/metrics` (a query string is ignored): 200 with
 * {@link Registry.contentType} and `registry.expose()` (no body for `HEAD`). Any other method on
 * `/metrics`: 405 with `Allow: GET, HEAD`. Any other path: 404. If `expose()` throws: 500.
 */
export function metricsHandler(registry: Registry): RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end(`method ${req.method} not allowed on /metrics: use GET\n`);
      return;
    }
    let body: string;
    try {
      body = registry.expose();
    } catch (error) {
      res
        .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`exposition failed: ${String(error)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': Registry.contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body); // for HEAD, Node sends the headers and drops the body
  };
}
