/**
 * Your registry against prom-client 15 on the same random operations: the same metrics, the same
 * label values (escapes included), the same numbers, and the two expositions compared after
 * normalising only the differences the contract names (registry.ts header): prom-client writes
 * `Nan`, puts a blank line between metrics, and writes `le` first among a bucket's labels.
 */
import fc from 'fast-check';
import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Registry } from './registry.js';

type Kind = 'counter' | 'gauge' | 'histogram';

interface Spec {
  readonly kind: Kind;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
}

interface Op {
  readonly metric: number;
  readonly values: readonly string[];
  readonly action: 'inc' | 'dec' | 'set';
  readonly amount: number;
  readonly omitAmount: boolean;
}

const tricky = fc.constantFrom('a', 'B', '0', ' ', '\\', '"', '\n', 'é', '{', ',', '=');
const labelValue = fc.oneof(
  fc.constantFrom('', 'GET', '/users/:id', 'say "hi"', 'C:\\dir', 'two\nlines', '\\"\n'),
  fc.string({ unit: tricky, maxLength: 6 }),
);
const spec: fc.Arbitrary<Omit<Spec, 'name'> & { stem: string }> = fc.record({
  kind: fc.constantFrom<Kind>('counter', 'gauge', 'histogram'),
  stem: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,10}$/),
  help: fc.string({ unit: tricky, minLength: 1, maxLength: 12 }),
  labelNames: fc.shuffledSubarray(['route', 'status', 'code_2', '_x'], { minLength: 0 }),
  // Not -1: prom-client 15 uses -1 as its "above every bound" marker (findBound in lib/histogram.js),
  // so with a bound of -1 it counts every value above the top bound in the le="-1" bucket too.
  buckets: fc
    .uniqueArray(
      fc.oneof(
        fc.integer({ min: -5, max: 1000 }).filter((bound) => bound !== -1),
        fc.constantFrom(0.005, 0.1, 0.25, 2.5),
      ),
      {
        minLength: 1,
        maxLength: 6,
      },
    )
    .map((b) => [...b].sort((x, y) => x - y)),
});
const amount = fc.oneof(
  fc.integer({ min: 0, max: 1000 }),
  fc.double({ min: 0, max: 1e6, noNaN: true }),
  fc.constantFrom(0, 0.1, 1e21, 2.5e-7),
);
const scenario = fc
  .uniqueArray(spec, { minLength: 1, maxLength: 4, selector: (s) => s.stem })
  .chain((stems) => {
    const specs: Spec[] = stems.map(({ stem, ...rest }, i) => ({ ...rest, name: `${stem}_${i}` }));
    const op: fc.Arbitrary<Op> = fc.record({
      metric: fc.integer({ min: 0, max: specs.length - 1 }),
      values: fc.array(labelValue, { minLength: 4, maxLength: 4 }),
      action: fc.constantFrom<Op['action']>('inc', 'dec', 'set'),
      amount: fc.oneof(amount, fc.double({ min: -1e3, max: 1e3, noNaN: true })),
      omitAmount: fc.boolean(),
    });
    return fc.tuple(fc.constant(specs), fc.array(op, { maxLength: 30 }));
  });

/** Applies one operation to both registries, in the form each metric type takes. */
function apply(spec: Spec, op: Op, mine: Record<string, any>, theirs: Record<string, any>): void {
  const labels = Object.fromEntries(spec.labelNames.map((name, i) => [name, op.values[i] ?? '']));
  const hasLabels = spec.labelNames.length > 0;
  const call = (target: any, method: string, value?: number) => {
    if (value === undefined) return hasLabels ? target[method](labels) : target[method]();
    return hasLabels ? target[method](labels, value) : target[method](value);
  };
  if (spec.kind === 'counter') {
    const by = Math.abs(op.amount);
    for (const target of [mine, theirs]) call(target, 'inc', op.omitAmount ? undefined : by);
  } else if (spec.kind === 'gauge') {
    const method = op.action;
    const value = op.omitAmount && method !== 'set' ? undefined : op.amount;
    for (const target of [mine, theirs]) call(target, method, value);
  } else {
    for (const target of [mine, theirs]) call(target, 'observe', op.amount);
  }
}

/** prom-client's output, with only the documented differences undone. */
function normalise(promText: string): string {
  return promText
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/ Nan$/, ' NaN'))
    .map((line) => {
      const bucket = /^(\S+_bucket)\{le="([^"]*)"(?:,(.*))?\} (\S+)$/.exec(line);
      if (!bucket) return line;
      const [, name, le, rest, value] = bucket;
      return `${name}{${rest ? `${rest},` : ''}le="${le}"} ${value}`;
    })
    .join('\n')
    .concat(promText === '' ? '' : '\n');
}

describe('metrics-registry: the same output as prom-client 15', () => {
  it('on random metrics, labels (with escapes) and values, expose() equals register.metrics() up to the documented differences', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ([specs, ops]) => {
        const mine = new Registry();
        const theirs = new client.Registry();
        const pairs = specs.map((s) => {
          const common = { name: s.name, help: s.help, labelNames: [...s.labelNames] };
          if (s.kind === 'counter') {
            return [mine.counter(common), new client.Counter({ ...common, registers: [theirs] })];
          }
          if (s.kind === 'gauge')
            return [mine.gauge(common), new client.Gauge({ ...common, registers: [theirs] })];
          return [
            mine.histogram({ ...common, buckets: s.buckets }),
            new client.Histogram({ ...common, buckets: [...s.buckets], registers: [theirs] }),
          ];
        });
        for (const op of ops) {
          const [m, t] = pairs[op.metric] as unknown as [Record<string, any>, Record<string, any>];
          apply(specs[op.metric] as Spec, op, m, t);
        }
        const expected = normalise(await theirs.metrics());
        expect(mine.expose(), `metrics ${JSON.stringify(specs)}\noperations ${JSON.stringify(ops)}`).toBe(
          expected,
        );
      }),
      { numRuns: 150 },
    );
  });
});
