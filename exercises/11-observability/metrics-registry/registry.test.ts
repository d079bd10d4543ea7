import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManualClock, startHttpServer } from '../../../src/testing/index.js';
import { DEFAULT_BUCKETS, metricsHandler, Registry } from './registry.js';

const golden = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

/** The sample lines of an exposition (no comments). */
const samples = (text: string) => text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

/** A histogram with bounds 1, 2, 5 and no labels, in its own registry. */
function smallHistogram(buckets: readonly number[] = [1, 2, 5]) {
  const registry = new Registry();
  const histogram = registry.histogram({ name: 'h', help: 'h.', buckets });
  return { registry, histogram };
}

describe('metrics-registry: counters', () => {
  it('a counter without labels shows 0 before anything happened, and adds 1 or `by` on inc', () => {
    const registry = new Registry();
    const jobs = registry.counter({ name: 'jobs_total', help: 'Jobs done.' });
    expect(registry.expose(), 'a counter without labels is exposed as 0 from the start').toBe(
      '# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 0\n',
    );
    jobs.inc();
    jobs.inc(2.5);
    jobs.inc(0);
    expect(jobs.get(), 'inc() adds 1, inc(2.5) adds 2.5, inc(0) adds nothing').toBe(3.5);
    expect(samples(registry.expose())).toEqual(['jobs_total 3.5']);
  });

  it('keeps the name it was given: no _total is appended in the 0.0.4 format', () => {
    const registry = new Registry();
    registry.counter({ name: 'retries', help: 'Retries.' }).inc();
    expect(samples(registry.expose()), 'the contract keeps counter names as given').toEqual(['retries 1']);
    expect(registry.expose()).toContain('# TYPE retries counter\n');
  });

  it.each([-1, -0.001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'inc(%s) throws a RangeError naming the value and changes nothing (counters only go up)',
    (by) => {
      const registry = new Registry();
      const c = registry.counter({ name: 'c', help: 'c.', labelNames: ['k'] });
      c.inc({ k: 'a' }, 2);
      const before = registry.expose();
      const error = thrown(() => c.inc({ k: 'a' }, by));
      expect(error, `a counter must refuse to change by ${by}`).toBeInstanceOf(RangeError);
      expect(error.message).toContain(String(by));
      expect(() => c.inc({ k: 'b' }, by)).toThrow(RangeError);
      expect(registry.expose(), 'a refused inc creates no series and changes no value').toBe(before);
      const plain = registry.counter({ name: 'plain', help: 'p.' });
      expect(() => plain.inc(by), 'inc(by) without labels is checked the same way').toThrow(RangeError);
      expect(plain.get()).toBe(0);
    },
  );

  it('get reads a series, 0 for one never touched, without creating it', () => {
    const registry = new Registry();
    const c = registry.counter({ name: 'c', help: 'c.', labelNames: ['k'] });
    c.inc({ k: 'a' }, 4);
    expect(c.get({ k: 'a' })).toBe(4);
    expect(c.get({ k: 'zzz' }), 'a series never touched reads 0').toBe(0);
    expect(samples(registry.expose()), 'get must not create a series').toEqual(['c{k="a"} 4']);
  });
});

describe('metrics-registry: gauges', () => {
  it('set, inc and dec move the value both ways; get reads it', () => {
    const registry = new Registry();
    const g = registry.gauge({ name: 'queue_length', help: 'Jobs waiting.', labelNames: ['queue'] });
    g.set({ queue: 'mail' }, 10);
    g.inc({ queue: 'mail' });
    g.inc({ queue: 'mail' }, 4);
    g.dec({ queue: 'mail' });
    g.dec({ queue: 'mail' }, 20);
    expect(g.get({ queue: 'mail' }), '10 + 1 + 4 - 1 - 20').toBe(-6);
    const plain = registry.gauge({ name: 'temperature', help: 'Degrees.' });
    plain.set(21.5);
    plain.inc();
    plain.dec(0.5);
    expect(plain.get()).toBe(22);
    expect(samples(registry.expose())).toEqual(['queue_length{queue="mail"} -6', 'temperature 22']);
  });

  it('writes NaN, +Inf and -Inf as the format spells them', () => {
    const registry = new Registry();
    const g = registry.gauge({ name: 'g', help: 'g.', labelNames: ['v'] });
    g.set({ v: 'nan' }, Number.NaN);
    g.set({ v: 'pinf' }, Number.POSITIVE_INFINITY);
    g.set({ v: 'ninf' }, Number.NEGATIVE_INFINITY);
    expect(samples(registry.expose()), 'NaN, +Inf, -Inf (not nan, null, Infinity)').toEqual([
      'g{v="nan"} NaN',
      'g{v="pinf"} +Inf',
      'g{v="ninf"} -Inf',
    ]);
  });

  it("writes other numbers as JavaScript's String(n): integers without .0, 1e+21, and -0 as 0", () => {
    const registry = new Registry();
    const g = registry.gauge({ name: 'g', help: 'g.', labelNames: ['v'] });
    const values = [3, 1e21, -0, 0.1 + 0.2, 1234567.5, -42, 5e-324, 1e-7];
    for (const [i, v] of values.entries()) g.set({ v: i }, v);
    expect(samples(registry.expose()).map((line) => line.split(' ')[1])).toEqual([
      '3',
      '1e+21',
      '0',
      '0.30000000000000004',
      '1234567.5',
      '-42',
      '5e-324',
      '1e-7',
    ]);
  });
});

describe('metrics-registry: names and registration', () => {
  it.each(['1abc', 'a-b', '', 'a b', 'é', 'a.b'])(
    'rejects the metric name %j with a TypeError naming it',
    (name) => {
      const error = thrown(() => new Registry().counter({ name, help: 'x.' }));
      expect(error, `${JSON.stringify(name)} does not match [a-zA-Z_:][a-zA-Z0-9_:]*`).toBeInstanceOf(
        TypeError,
      );
      expect(error.message).toContain(JSON.stringify(name));
    },
  );

  it('accepts names with colons, underscores and digits after the first character', () => {
    const registry = new Registry();
    registry.gauge({ name: 'job:rate_5m', help: 'x.' });
    registry.counter({ name: '_private9', help: 'x.' });
    registry.histogram({ name: ':h', help: 'x.', buckets: [1] });
    expect(registry.expose()).toContain('# TYPE job:rate_5m gauge\n');
  });

  it.each(['1a', 'a-b', '__reserved', 'a:b', ''])(
    'rejects the label name %j with a TypeError naming it',
    (label) => {
      for (const make of ['counter', 'gauge', 'histogram'] as const) {
        const error = thrown(() => new Registry()[make]({ name: 'm', help: 'x.', labelNames: [label] }));
        expect(error, `${make}: ${JSON.stringify(label)} is not a valid label name`).toBeInstanceOf(
          TypeError,
        );
        expect(error.message).toContain(JSON.stringify(label));
      }
    },
  );

  it('rejects a label name listed twice and an empty help, naming what is wrong', () => {
    expect(() => new Registry().counter({ name: 'm', help: 'x.', labelNames: ['a', 'a'] })).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('"a"') }),
    );
    expect(() => new Registry().gauge({ name: 'm', help: '' }), 'help must not be empty').toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('help') }),
    );
  });

  it('rejects values that are not strings where names and help are expected (calls from plain JavaScript)', () => {
    const notAString = undefined as unknown as string;
    expect(() => new Registry().counter({ name: notAString, help: 'x.' }), 'a missing name').toThrow(
      TypeError,
    );
    expect(() => new Registry().counter({ name: 'm', help: notAString }), 'a missing help').toThrow(
      TypeError,
    );
    expect(() => new Registry().counter({ name: 'm', help: 'x.', labelNames: [notAString] })).toThrow(
      TypeError,
    );
    const notANumber = '5' as unknown as number;
    expect(() => new Registry().histogram({ name: 'h', help: 'x.', buckets: [1, notANumber] })).toThrow(
      RangeError,
    );
  });

  it('throws when a name is registered twice, whatever the type, and keeps the first metric', () => {
    const registry = new Registry();
    const first = registry.counter({ name: 'requests_total', help: 'First.' });
    first.inc(5);
    const again = thrown(() => registry.counter({ name: 'requests_total', help: 'Second.' }));
    expect(again.message, 'the error names the metric').toContain('requests_total');
    expect(() => registry.gauge({ name: 'requests_total', help: 'Other type.' })).toThrow(Error);
    expect(() => registry.histogram({ name: 'requests_total', help: 'Other type.' })).toThrow(Error);
    first.inc();
    expect(registry.expose(), 'the first metric stays registered and working').toBe(
      '# HELP requests_total First.\n# TYPE requests_total counter\nrequests_total 6\n',
    );
  });

  it('two registries are independent', () => {
    const a = new Registry();
    const b = new Registry();
    a.counter({ name: 'x', help: 'x.' }).inc();
    b.counter({ name: 'x', help: 'x.' });
    expect(samples(b.expose())).toEqual(['x 0']);
  });
});

describe('metrics-registry: labels', () => {
  it('throws a TypeError naming a missing or an extra label, and records nothing', () => {
    const registry = new Registry();
    const c = registry.counter({ name: 'c', help: 'c.', labelNames: ['route', 'status'] });
    const g = registry.gauge({ name: 'g', help: 'g.', labelNames: ['route'] });
    const h = registry.histogram({ name: 'h', help: 'h.', labelNames: ['route'], buckets: [1] });
    const before = registry.expose();
    const missing = thrown(() => c.inc({ route: '/' }));
    expect(missing, 'a label set without "status" does not match labelNames').toBeInstanceOf(TypeError);
    expect(missing.message).toContain('status');
    const extra = thrown(() => c.inc({ route: '/', status: 200, method: 'GET' }));
    expect(extra, 'a label set with "method" does not match labelNames').toBeInstanceOf(TypeError);
    expect(extra.message).toContain('method');
    expect(() => c.inc(), 'a labelled counter needs its labels').toThrow(TypeError);
    expect(() => g.set({ path: '/' }, 1)).toThrow(TypeError);
    expect(() => g.inc({}), 'an empty label set is missing "route"').toThrow(TypeError);
    expect(() => g.dec({ route: '/', x: '1' })).toThrow(TypeError);
    expect(() => h.observe({ routes: '/' }, 1)).toThrow(TypeError);
    expect(() => h.observe(1)).toThrow(TypeError);
    expect(() => h.startTimer({}), 'startTimer checks the labels when it starts').toThrow(TypeError);
    expect(() => c.get({ route: '/' })).toThrow(TypeError);
    const plain = registry.counter({ name: 'plain', help: 'p.' });
    expect(() => plain.inc({ route: '/' }), 'a metric without labels takes none').toThrow(TypeError);
    expect(samples(registry.expose()), 'no series was created by a refused call').toEqual(
      samples(before).concat(['plain 0']),
    );
  });

  it('a series is its label values: key order does not matter, 200 and "200" are one series', () => {
    const registry = new Registry();
    const c = registry.counter({ name: 'c', help: 'c.', labelNames: ['route', 'status'] });
    c.inc({ route: '/', status: 200 });
    c.inc({ status: '200', route: '/' });
    expect(samples(registry.expose()), 'labels are written in labelNames order').toEqual([
      'c{route="/",status="200"} 2',
    ]);
    expect(c.get({ status: 200, route: '/' })).toBe(2);
  });

  it('series appear in the order they were first touched; labels in labelNames order', () => {
    const registry = new Registry();
    const c = registry.counter({ name: 'c', help: 'c.', labelNames: ['b', 'a'] });
    c.inc({ a: 'z', b: '2' });
    c.inc({ a: 'y', b: '1' });
    c.inc({ a: 'z', b: '2' });
    c.inc({ a: 'x', b: '3' }, 0);
    expect(samples(registry.expose())).toEqual(['c{b="2",a="z"} 2', 'c{b="1",a="y"} 1', 'c{b="3",a="x"} 0']);
  });

  it('a metric with labels and no series yet shows only its HELP and TYPE lines', () => {
    const registry = new Registry();
    registry.counter({ name: 'c', help: 'c.', labelNames: ['k'] });
    registry.histogram({ name: 'h', help: 'h.', labelNames: ['k'] });
    expect(registry.expose()).toBe('# HELP c c.\n# TYPE c counter\n# HELP h h.\n# TYPE h histogram\n');
  });

  it('escapes \\, " and newlines in label values', () => {
    const registry = new Registry();
    const c = registry.counter({ name: 'c', help: 'c.', labelNames: ['path'] });
    c.inc({ path: 'C:\\dir\\"quoted"\nnext' });
    expect(samples(registry.expose())).toEqual(['c{path="C:\\\\dir\\\\\\"quoted\\"\\nnext"} 1']);
  });

  it('escapes \\ and newlines in HELP, and leaves " alone there', () => {
    const registry = new Registry();
    registry.gauge({ name: 'g', help: 'a "quoted" C:\\path\nsecond line' });
    expect(registry.expose().split('\n')[0]).toBe('# HELP g a "quoted" C:\\\\path\\nsecond line');
  });
});

describe('metrics-registry: histograms', () => {
  it('buckets are cumulative, le is "less or equal", +Inf equals _count, and _sum adds every value', () => {
    const { registry, histogram } = smallHistogram();
    for (const v of [0.5, 1, 1.5, 2, 4, 7, 100]) histogram.observe(v);
    expect(samples(registry.expose())).toEqual([
      'h_bucket{le="1"} 2',
      'h_bucket{le="2"} 4',
      'h_bucket{le="5"} 5',
      'h_bucket{le="+Inf"} 7',
      'h_sum 116',
      'h_count 7',
    ]);
  });

  it('a value above every bound counts only in +Inf, _sum and _count', () => {
    const { registry, histogram } = smallHistogram();
    histogram.observe(9);
    expect(samples(registry.expose()), '9 > 5: no finite bucket holds it, +Inf does').toEqual([
      'h_bucket{le="1"} 0',
      'h_bucket{le="2"} 0',
      'h_bucket{le="5"} 0',
      'h_bucket{le="+Inf"} 1',
      'h_sum 9',
      'h_count 1',
    ]);
  });

  it('negative values and infinities land where they belong; NaN throws a RangeError', () => {
    const { registry, histogram } = smallHistogram([-1, 0, 1]);
    histogram.observe(-5);
    histogram.observe(-1);
    histogram.observe(0.5);
    histogram.observe(Number.NEGATIVE_INFINITY);
    expect(() => histogram.observe(Number.NaN), 'NaN cannot be bucketed').toThrow(
      expect.objectContaining({ name: 'RangeError', message: expect.stringContaining('NaN') }),
    );
    expect(samples(registry.expose())).toEqual([
      'h_bucket{le="-1"} 3',
      'h_bucket{le="0"} 3',
      'h_bucket{le="1"} 4',
      'h_bucket{le="+Inf"} 4',
      'h_sum -Inf',
      'h_count 4',
    ]);
  });

  it('sorts the bounds it is given, merges duplicates, and never writes +Inf twice', () => {
    const { registry, histogram } = smallHistogram([5, 1, Number.POSITIVE_INFINITY, 2, 1]);
    histogram.observe(3);
    expect(samples(registry.expose())).toEqual([
      'h_bucket{le="1"} 0',
      'h_bucket{le="2"} 0',
      'h_bucket{le="5"} 1',
      'h_bucket{le="+Inf"} 1',
      'h_sum 3',
      'h_count 1',
    ]);
  });

  it.each([Number.NaN, Number.NEGATIVE_INFINITY])(
    'rejects the bucket bound %s with a RangeError naming it',
    (bound) => {
      expect(() => new Registry().histogram({ name: 'h', help: 'h.', buckets: [1, bound] })).toThrow(
        expect.objectContaining({ name: 'RangeError', message: expect.stringContaining(String(bound)) }),
      );
    },
  );

  it('refuses le as a label name (it is the bucket bound)', () => {
    const error = thrown(() =>
      new Registry().histogram({ name: 'h', help: 'h.', labelNames: ['route', 'le'] }),
    );
    expect(error, 'le is reserved in a histogram').toBeInstanceOf(TypeError);
    expect(error.message).toContain('le');
    const registry = new Registry();
    registry.counter({ name: 'c', help: 'c.', labelNames: ['le'] }).inc({ le: 'x' });
    expect(samples(registry.expose()), 'le is an ordinary label for a counter').toEqual(['c{le="x"} 1']);
  });

  it('uses the default buckets of prom-client and the Go client, 5 ms to 10 s', () => {
    expect(DEFAULT_BUCKETS).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    const registry = new Registry();
    const h = registry.histogram({ name: 'd', help: 'd.', labelNames: ['route'] });
    h.observe({ route: '/' }, 0.3);
    const les = samples(registry.expose())
      .filter((l) => l.startsWith('d_bucket'))
      .map((l) => /le="([^"]+)"/.exec(l)?.[1]);
    expect(les).toEqual([
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '+Inf',
    ]);
  });

  it('writes le last among the labels, and each label set as its own series', () => {
    const registry = new Registry();
    const h = registry.histogram({ name: 'h', help: 'h.', labelNames: ['route'], buckets: [0.1] });
    h.observe({ route: '/b' }, 0.05);
    h.observe({ route: '/a' }, 0.2);
    h.observe({ route: '/b' }, 0.2);
    expect(samples(registry.expose())).toEqual([
      'h_bucket{route="/b",le="0.1"} 1',
      'h_bucket{route="/b",le="+Inf"} 2',
      'h_sum{route="/b"} 0.25',
      'h_count{route="/b"} 2',
      'h_bucket{route="/a",le="0.1"} 0',
      'h_bucket{route="/a",le="+Inf"} 1',
      'h_sum{route="/a"} 0.2',
      'h_count{route="/a"} 1',
    ]);
  });

  it('startTimer observes the seconds elapsed on the registry clock and returns them', () => {
    const clock = new ManualClock(1_000);
    const registry = new Registry({ clock });
    const h = registry.histogram({ name: 'h', help: 'h.', labelNames: ['route'], buckets: [0.1, 1] });
    const end = h.startTimer({ route: '/' });
    clock.advance(250);
    expect(end(), '250 ms is 0.25 s').toBe(0.25);
    const plain = registry.histogram({ name: 'p', help: 'p.', buckets: [1] });
    const stop = plain.startTimer();
    clock.advance(1500);
    stop();
    expect(samples(registry.expose())).toEqual([
      'h_bucket{route="/",le="0.1"} 0',
      'h_bucket{route="/",le="1"} 1',
      'h_bucket{route="/",le="+Inf"} 1',
      'h_sum{route="/"} 0.25',
      'h_count{route="/"} 1',
      'p_bucket{le="1"} 0',
      'p_bucket{le="+Inf"} 1',
      'p_sum 1.5',
      'p_count 1',
    ]);
  });
});

/** Every kind of metric and every rule of the format, in one registry. */
function goldenRegistry(): Registry {
  const registry = new Registry();
  const requests = registry.counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route and status code.',
    labelNames: ['route', 'status'],
  });
  requests.inc({ route: '/', status: 200 }, 41);
  requests.inc({ route: '/login', status: 500 });
  requests.inc({ status: 200, route: '/' });
  registry.counter({ name: 'jobs_retried', help: 'Counter never touched, without labels.' });
  registry.counter({
    name: 'logins_total',
    help: 'Counter with labels, never touched.',
    labelNames: ['outcome'],
  });
  const weird = registry.gauge({
    name: 'escaping_demo',
    help: 'Help with a backslash \\ and\na newline; "quotes" stay.',
    labelNames: ['value'],
  });
  weird.set({ value: 'back\\slash' }, 1);
  weird.set({ value: 'say "hi"' }, 2);
  weird.set({ value: 'two\nlines' }, 3);
  const special = registry.gauge({
    name: 'special_values',
    help: 'NaN and infinities.',
    labelNames: ['kind'],
  });
  special.set({ kind: 'nan' }, Number.NaN);
  special.set({ kind: 'plus_inf' }, Number.POSITIVE_INFINITY);
  special.set({ kind: 'minus_inf' }, Number.NEGATIVE_INFINITY);
  special.set({ kind: 'big' }, 1e21);
  special.set({ kind: 'negative_zero' }, -0);
  special.set({ kind: 'fraction' }, 0.1 + 0.2);
  const duration = registry.histogram({
    name: 'http_request_duration_seconds',
    help: 'Request duration in seconds.',
    labelNames: ['route'],
    buckets: [0.25, 0.05, 0.1, 1],
  });
  for (const v of [0.01, 0.05, 0.07, 0.2, 0.3, 3]) duration.observe({ route: '/' }, v);
  duration.observe({ route: '/login' }, 0.5);
  registry.histogram({
    name: 'payload_bytes',
    help: 'Histogram without labels, empty.',
    buckets: [100, 1000],
  });
  return registry;
}

describe('metrics-registry: the exposition, byte for byte', () => {
  it('matches exposition.golden.txt (HELP/TYPE, order, escaping, NaN, ±Inf, buckets)', () => {
    expect(goldenRegistry().expose(), 'see the header of registry.ts for each rule').toBe(
      golden('./exposition.golden.txt'),
    );
  });

  it('an empty registry exposes nothing; any other ends with one newline and has no blank lines', () => {
    expect(new Registry().expose()).toBe('');
    const text = goldenRegistry().expose();
    expect(text.endsWith('\n') && !text.endsWith('\n\n'), 'the text ends with exactly one newline').toBe(
      true,
    );
    expect(text.split('\n').slice(0, -1), 'no empty lines between metrics').not.toContain('');
  });

  it('has no timestamps: every sample line is a name, optional labels, and one value', () => {
    for (const line of samples(goldenRegistry().expose())) {
      expect(line, `${line} has no timestamp`).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$/);
      expect(line.endsWith('}'), `${line} has a value`).toBe(false);
    }
  });
});

describe('metrics-registry: metricsHandler', () => {
  async function serving() {
    const registry = new Registry();
    registry.counter({ name: 'hits_total', help: 'Hits.' }).inc(3);
    return { registry, server: await startHttpServer(metricsHandler(registry)) };
  }

  it('GET /metrics answers 200 with the 0.0.4 content type and the exposition', async () => {
    const { registry, server } = await serving();
    try {
      const response = await fetch(`${server.url}/metrics?debug=1`);
      expect(response.status, 'GET /metrics (a query string is ignored)').toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(Registry.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await response.text()).toBe(registry.expose());
      const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
      expect(head.status, 'HEAD /metrics').toBe(200);
      expect(await head.text()).toBe('');
    } finally {
      await server.close();
    }
  });

  it('answers 405 with Allow for POST /metrics, and 404 for another path', async () => {
    const { server } = await serving();
    try {
      const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
      expect(post.status, 'POST /metrics is not allowed').toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
      await post.text();
      const other = await fetch(`${server.url}/other`);
      expect(other.status, 'only /metrics is served').toBe(404);
      await other.text();
      const prefix = await fetch(`${server.url}/metrics/x`);
      expect(prefix.status, '/metrics/x is another path').toBe(404);
      await prefix.text();
    } finally {
      await server.close();
    }
  });

  it('answers 500 when the exposition throws, and keeps serving', async () => {
    let fail = true;
    const flaky = {
      expose: () => {
        if (fail) throw new Error('a collector broke');
        return 'ok_total 1\n';
      },
    } as unknown as Registry;
    const server = await startHttpServer(metricsHandler(flaky));
    try {
      const broken = await fetch(`${server.url}/metrics`);
      expect(broken.status, 'an exposition that throws is a 500, not a crash').toBe(500);
      await broken.text();
      fail = false;
      const fine = await fetch(`${server.url}/metrics`);
      expect(fine.status).toBe(200);
      expect(await fine.text()).toBe('ok_total 1\n');
    } finally {
      await server.close();
    }
  });
});
