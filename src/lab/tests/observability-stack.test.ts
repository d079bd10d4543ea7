/**
 * The `observability` profile of docker-compose.yml (Prometheus and Grafana for learners who want
 * to look at chapter 11's metrics) cannot start here: no image registry is reachable. What can be
 * checked without it is checked: the Prometheus config and every query of the provisioned dashboard
 * parse with the same promtool the suites use, the dashboard uses the provisioned data source, its
 * metrics are the ones `npm run serve -- 11-observability/metrics-registry` exposes, and no port is
 * published beyond 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prometheusAvailability } from '../../testing/prometheus.js';
import { courseRoot } from '../course.js';

const read = (rel: string) => readFileSync(path.join(courseRoot, rel), 'utf8');

interface Panel {
  readonly title: string;
  readonly datasource?: { readonly uid?: string };
  readonly targets?: readonly { readonly expr: string; readonly datasource?: { readonly uid?: string } }[];
}
const dashboard = JSON.parse(read('docker/grafana/dashboards/system-design-lab.json')) as {
  readonly panels: readonly Panel[];
};
const queries = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({
    panel: panel.title,
    expr: target.expr,
    uid: target.datasource?.uid,
  })),
);

describe('the observability profile of docker-compose.yml', () => {
  const compose = read('docker-compose.yml');

  it('publishes Prometheus and Grafana on 127.0.0.1 only, behind the observability profile', () => {
    for (const service of ['prometheus', 'grafana']) {
      const block = compose.split(/\n {2}(?=\w)/).find((b) => b.startsWith(`${service}:`));
      expect(block, `docker-compose.yml has no ${service} service`).toBeDefined();
      expect(block, `${service} must start only with --profile observability`).toMatch(
        /profiles: \["observability"\]/,
      );
      const published = [...(block ?? '').matchAll(/^\s+- "([^"]+:\d+)"$/gm)].map((m) => m[1] ?? '');
      expect(published.length, `${service} publishes no port`).toBeGreaterThan(0);
      for (const port of published)
        expect(port, `${service} publishes ${port} beyond loopback`).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('gives the dashboard the data source the provisioning file defines', () => {
    const uid = /uid: (\S+)/.exec(read('docker/grafana/provisioning/datasources/prometheus.yml'))?.[1];
    expect(uid).toBeTruthy();
    expect(queries.length).toBeGreaterThan(0);
    for (const q of queries) expect(q.uid, `panel "${q.panel}" uses another data source`).toBe(uid);
  });

  it('queries only metrics that the metrics-registry server exposes, or that Prometheus makes itself', () => {
    const serve = read('exercises/11-observability/metrics-registry/serve.ts');
    const builtIn = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
    for (const q of queries) {
      const names = [...q.expr.matchAll(/\b([a-z_:][a-z0-9_:]*)\s*(?=[{[)])/g)]
        .map((m) => m[1] ?? '')
        .filter((name) => !/^(sum|rate|by|histogram_quantile|le|route|status)$/.test(name));
      for (const name of names) {
        const base = name.replace(/_(bucket|sum|count)$/, '');
        expect(
          builtIn.has(name) || serve.includes(`'${base}'`),
          `panel "${q.panel}" queries ${name}, which serve.ts does not register`,
        ).toBe(true);
      }
    }
  });
});

const tools = prometheusAvailability();
describe.skipIf(!tools.ok)('the observability profile, parsed by promtool', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'lab-observability-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const promtool = tools.ok ? tools.promtool : 'promtool';

  it('accepts docker/prometheus.yml', () => {
    execFileSync(promtool, ['check', 'config', path.join(courseRoot, 'docker/prometheus.yml')], {
      stdio: 'pipe',
    });
  });

  it('parses every query of the dashboard', () => {
    // promtool has no "check this expression" command; a recording rule per query is parsed the same way.
    const rules = [
      'groups:',
      '  - name: dashboard',
      '    rules:',
      ...queries.flatMap((q, i) => [
        `      - record: lab:dashboard_query:${i}`,
        `        expr: ${JSON.stringify(q.expr)}`,
      ]),
      '',
    ].join('\n');
    const file = path.join(work, 'dashboard-rules.yml');
    writeFileSync(file, rules);
    const result = (() => {
      try {
        return execFileSync(promtool, ['check', 'rules', file], { encoding: 'utf8', stdio: 'pipe' });
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string };
        throw new Error(`promtool rejects a dashboard query:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
    })();
    expect(result).toMatch(new RegExp(`SUCCESS: ${queries.length} rules found`));
  });
});

if (!tools.ok) console.warn(`observability-stack: ${tools.reason}`);
