/**
 * Your exposition read by the real thing: `promtool check metrics`, and a Prometheus server that
 * scrapes the demo app of `npm run serve -- 11-observability/metrics-registry` and answers PromQL.
 * Skipped (with the reason printed) when `prometheus` and `promtool` are not on PATH, except under
 * `LAB_WITH_PROMETHEUS=1`, where a missing binary fails the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../src/testing/index.js';
import {
  prometheusAvailability,
  promtoolCheckMetrics,
  type RunningPrometheus,
  startPrometheus,
} from '../../../src/testing/prometheus.js';
import { Registry } from './registry.js';
import { type Demo, startDemo } from './serve.js';

const availability = prometheusAvailability();
if (!availability.ok) console.warn(`metrics-registry: ${availability.reason}`);

describe.skipIf(!availability.ok)('metrics-registry: a real Prometheus', () => {
  it('promtool check metrics accepts every kind of metric, escapes and special values included', async () => {
    const registry = new Registry();
    const c = registry.counter({
      name: 'lab_events_total',
      help: 'Events with "odd" \\ help\nlines.',
      labelNames: ['v'],
    });
    c.inc({ v: 'a "quoted"\\ value\nwith a newline' }, 3);
    const g = registry.gauge({ name: 'lab_level', help: 'Special values.', labelNames: ['kind'] });
    g.set({ kind: 'nan' }, Number.NaN);
    g.set({ kind: 'inf' }, Number.POSITIVE_INFINITY);
    g.set({ kind: 'ninf' }, Number.NEGATIVE_INFINITY);
    g.set({ kind: 'big' }, 1e21);
    const h = registry.histogram({ name: 'lab_latency_seconds', help: 'Latency.', labelNames: ['route'] });
    h.observe({ route: '/' }, 0.2);
    h.observe({ route: '/' }, 42);
    registry.counter({ name: 'lab_unused_total', help: 'Labels but no series yet.', labelNames: ['x'] });
    const result = await promtoolCheckMetrics(registry.expose());
    expect(result.ok, `promtool check metrics must parse the exposition; it said:\n${result.output}`).toBe(
      true,
    );
  });

  describe('scraping the demo app', () => {
    let demo: Demo | undefined;
    let prometheus: RunningPrometheus | undefined;
    // A failed start fails every test below (with its reason) instead of skipping them.
    let failedStart: unknown;
    const scraped = (): RunningPrometheus => {
      if (failedStart !== undefined || !prometheus)
        throw failedStart ?? new Error('prometheus did not start');
      return prometheus;
    };

    /**
     * The query's result once it has one. On a loaded machine a scrape can time out; Prometheus then
     * marks the target's series stale and an instant query answers nothing until the next good scrape.
     */
    const answered = async (promql: string, accept: (values: string[]) => boolean = () => true) => {
      const prometheus = scraped(); // fails at once when Prometheus did not start
      return waitFor(
        `Prometheus to answer ${promql}`,
        async () => {
          const result = await prometheus.query(promql);
          return result.length > 0 && accept(result.map((s) => s.value)) ? result : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    };

    beforeAll(async () => {
      try {
        await start();
      } catch (error) {
        failedStart = error;
      }
    }, 60_000);

    async function start() {
      demo = await startDemo({ port: 0 });
      const h = demo.registry.histogram({
        name: 'lab_known_seconds',
        help: 'Known observations, to check histogram_quantile by hand.',
        buckets: [0.1, 0.2, 0.4, 0.8],
      });
      // Buckets: le=0.1: 2, le=0.2: 5, le=0.4: 8, le=0.8: 10, +Inf: 10.
      for (const v of [0.05, 0.05, 0.15, 0.15, 0.15, 0.3, 0.3, 0.3, 0.5, 0.5]) h.observe(v);
      await fetch(`${demo.url}/`).then((r) => r.text());
      prometheus = await startPrometheus({ targets: [new URL(demo.url).host], scrapeIntervalMs: 500 });
      await prometheus.waitForSamples('lab_known_seconds_count', 2);
    }

    afterAll(async () => {
      await prometheus?.stop();
      await demo?.close();
    });

    it('the target is up: Prometheus parsed the scrape', async () => {
      const up = await answered('up', (values) => values[0] === '1');
      expect(
        up.map((s) => s.value),
        'up == 1 means the last scrape succeeded',
      ).toEqual(['1']);
    });

    it('histogram_quantile(0.9, ...) gives the value computed by hand from the buckets', async () => {
      // rank = 0.9 × 10 = 9: the first bucket whose cumulative count reaches 9 is le=0.8 (10); the one
      // before it holds 8. Linear interpolation inside (0.4, 0.8]: 0.4 + 0.4 × (9 − 8) / (10 − 8) = 0.6.
      const result = await answered('histogram_quantile(0.9, sum by (le) (lab_known_seconds_bucket))');
      expect(result.length, 'one series in the result').toBe(1);
      expect(
        Number(result[0]?.value),
        'the 0.9 quantile interpolated within the (0.4, 0.8] bucket',
      ).toBeCloseTo(0.6, 9);
      const count = await answered('lab_known_seconds_count');
      expect(count[0]?.value).toBe('10');
    });

    it("the demo app's own request counter arrives with its labels", async () => {
      const result = await answered('http_requests_total{route="/",status="200"}');
      expect(
        result.map((s) => s.value),
        'the request made before the scrape',
      ).toEqual(['1']);
    });
  });
});
