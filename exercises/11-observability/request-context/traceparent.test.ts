import { type Context, ROOT_CONTEXT, type TextMapGetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatTraceparent,
  isSampled,
  parseTraceparent,
  parseTracestate,
  type SpanContext,
} from './traceparent.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;

/**
 * OpenTelemetry JS's table of invalid headers (`W3CTraceContextPropagator.test.ts`, "should fail to
 * extract ... invalid traceparent"), plus the spec's rules it implies.
 */
const INVALID: Record<string, string> = {
  'too few parts': '00-ffffffffffffffffffffffffffffffff-ffffffffffffffff',
  'version 00 with an extra field': '00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00-01',
  'version 00 with anything after the flags': `${VALID}-what-the-future-will-be-like`,
  'version not hex': '0x-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00',
  'version too short': '0-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00',
  'version too long': '000-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00',
  'version ff (forbidden)': 'ff-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01',
  'trace id empty': '00--ffffffffffffffff-01',
  'trace id not hex': '00-fffffffffffffffffffffffffffffffx-ffffffffffffffff-01',
  'trace id all zeros': '00-00000000000000000000000000000000-ffffffffffffffff-01',
  'trace id too short': '00-ffffffff-ffffffffffffffff-01',
  'trace id too long': '00-ffffffffffffffffffffffffffffffff00-ffffffffffffffff-01',
  'span id empty': '00-ffffffffffffffffffffffffffffffff--01',
  'span id not hex': '00-ffffffffffffffffffffffffffffffff-fffffffffffffffx-01',
  'span id all zeros': '00-ffffffffffffffffffffffffffffffff-0000000000000000-01',
  'span id too short': '00-ffffffffffffffffffffffffffffffff-ffffffff-01',
  'span id too long': '00-ffffffffffffffffffffffffffffffff-ffffffffffffffff0000-01',
  'flags not hex': `00-${TRACE_ID}-${SPAN_ID}-0g`,
  'flags one digit': `00-${TRACE_ID}-${SPAN_ID}-1`,
  'future version, flags followed by something other than a dash':
    'cc-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01.what-the-future-will-not-be-like',
  'upper-case trace id': `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
  'upper-case span id': `00-${TRACE_ID}-${SPAN_ID.toUpperCase()}-01`,
  'upper-case version': `0A-${TRACE_ID}-${SPAN_ID}-01`,
  'upper-case flags': `00-${TRACE_ID}-${SPAN_ID}-0A`,
  'underscores instead of dashes': `00_${TRACE_ID}_${SPAN_ID}_01`,
  'empty string': '',
  'whitespace only': '   ',
};

describe('parseTraceparent: valid headers', () => {
  it('parses the spec example into trace id, parent id and flags', () => {
    expect(parseTraceparent(VALID), 'the fields of a version 00 header').toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
    });
  });

  it('reads the flags as a number: 00 is 0, ff is 255', () => {
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.traceFlags, 'flags 00').toBe(0);
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-ff`)?.traceFlags, 'flags ff').toBe(255);
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-09`)?.traceFlags, 'flags 09').toBe(9);
  });

  it('accepts a future version with extra fields, parsing its first four fields', () => {
    const header = `cc-${TRACE_ID}-${SPAN_ID}-01-what-the-future-will-be-like`;
    expect(parseTraceparent(header), 'version cc may carry fields after the flags').toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
    });
    expect(parseTraceparent(`01-${TRACE_ID}-${SPAN_ID}-00`), 'version 01 without extra fields').toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 0,
    });
    expect(
      parseTraceparent(`fe-${TRACE_ID}-${SPAN_ID}-01-`),
      'version fe, a dash then nothing',
    ).not.toBeNull();
  });

  it.each([
    ['a space before and after', ` ${VALID} `],
    ['a tab before and after', `\t${VALID}\t`],
    ['several spaces and tabs', `  \t ${VALID} \t  `],
  ])('tolerates optional whitespace around the value (%s)', (_, header) => {
    expect(parseTraceparent(header), 'OWS around a header value is not part of it').toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
    });
  });

  it('accepts an array holding exactly one value', () => {
    expect(parseTraceparent([VALID]), 'one traceparent header given as an array').toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
    });
  });
});

describe('parseTraceparent: invalid headers give null', () => {
  it.each(Object.entries(INVALID))('%s', (_, header) => {
    expect(parseTraceparent(header), `"${header}" is not a valid traceparent`).toBeNull();
  });

  it('absent, an empty array, or several traceparent headers', () => {
    expect(parseTraceparent(undefined), 'no header').toBeNull();
    expect(parseTraceparent([]), 'an empty array').toBeNull();
    expect(parseTraceparent([VALID, VALID]), 'two traceparent headers are invalid, even if equal').toBeNull();
  });

  it('whitespace that is not OWS (a newline, a no-break space) is not tolerated', () => {
    expect(parseTraceparent(`\n${VALID}`), 'a newline before the value').toBeNull();
    expect(parseTraceparent(`${VALID}\u00a0`), 'a no-break space after the value').toBeNull();
  });
});

describe('formatTraceparent and isSampled', () => {
  it('formats version 00 with flags as two lower-case hex digits', () => {
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 })).toBe(VALID);
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 })).toBe(
      `00-${TRACE_ID}-${SPAN_ID}-00`,
    );
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0xab })).toBe(
      `00-${TRACE_ID}-${SPAN_ID}-ab`,
    );
  });

  it('formats flags ff (the largest) as ff', () => {
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0xff })).toBe(
      `00-${TRACE_ID}-${SPAN_ID}-ff`,
    );
  });

  it('round-trips with parseTraceparent, and leaves traceState out', () => {
    const ctx = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, traceState: 'a=1' };
    expect(parseTraceparent(formatTraceparent(ctx)), 'format then parse gives the fields back').toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
    });
  });

  it.each([
    ['traceId', { traceId: '0'.repeat(32), spanId: SPAN_ID, traceFlags: 1 }, '0'.repeat(32)],
    ['traceId', { traceId: TRACE_ID.toUpperCase(), spanId: SPAN_ID, traceFlags: 1 }, TRACE_ID.toUpperCase()],
    ['traceId', { traceId: 'abc', spanId: SPAN_ID, traceFlags: 1 }, 'abc'],
    ['spanId', { traceId: TRACE_ID, spanId: '0'.repeat(16), traceFlags: 1 }, '0'.repeat(16)],
    ['spanId', { traceId: TRACE_ID, spanId: `${SPAN_ID}00`, traceFlags: 1 }, `${SPAN_ID}00`],
    ['traceId', { spanId: SPAN_ID, traceFlags: 1 } as unknown as SpanContext, 'undefined'],
    ['spanId', { traceId: TRACE_ID, traceFlags: 1 } as unknown as SpanContext, 'undefined'],
    ['traceFlags', { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 256 }, '256'],
    ['traceFlags', { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: -1 }, '-1'],
    ['traceFlags', { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1.5 }, '1.5'],
  ])('refuses an invalid %s with a RangeError naming the field and the value', (field, ctx, shown) => {
    let error: unknown;
    try {
      formatTraceparent(ctx);
    } catch (e) {
      error = e;
    }
    expect(error, 'an invalid span context must never be sent').toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain(field);
    expect((error as Error).message).toContain(shown);
  });

  it('isSampled reads bit 0 of the flags', () => {
    const at = (traceFlags: number) => isSampled({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags });
    expect([at(0), at(1), at(2), at(3), at(0xff), at(0xfe)], 'flags 00, 01, 02, 03, ff, fe').toEqual([
      false,
      true,
      false,
      true,
      true,
      false,
    ]);
  });
});

describe('parseTracestate', () => {
  it('keeps a valid list, dropping OWS around members and empty members', () => {
    expect(parseTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')).toBe(
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    expect(parseTracestate(' rojo=1 ,\tcongo=2 ,, ')).toBe('rojo=1,congo=2');
  });

  it('combines several tracestate headers with a comma, in order', () => {
    expect(parseTracestate(['foo=bar,baz=qux', 'quux=quuz']), 'two headers are one list').toBe(
      'foo=bar,baz=qux,quux=quuz',
    );
  });

  it('accepts the tenant@system key form and values with spaces inside', () => {
    expect(parseTracestate('fw529a3039@dt=b1 c2,0x@a=z')).toBe('fw529a3039@dt=b1 c2,0x@a=z');
  });

  it('is undefined when absent or empty', () => {
    expect(parseTracestate(undefined)).toBeUndefined();
    expect(parseTracestate('')).toBeUndefined();
    expect(parseTracestate([])).toBeUndefined();
    expect(parseTracestate(' , ')).toBeUndefined();
  });

  it('accepts 32 members and discards a list of 33', () => {
    const members = Array.from({ length: 33 }, (_, i) => `k${i}=v${i}`);
    expect(parseTracestate(members.slice(0, 32).join(',')), '32 members are the limit').toBe(
      members.slice(0, 32).join(','),
    );
    expect(
      parseTracestate(members.join(',')),
      'a list of more than 32 members is discarded whole',
    ).toBeUndefined();
    expect(
      parseTracestate([members.slice(0, 20).join(','), members.slice(20).join(',')]),
      '33 members over two headers',
    ).toBeUndefined();
  });

  it.each([
    ['a member without =', 'rojo=1,congo'],
    ['an upper-case key', 'Rojo=1'],
    ['a key with a character keys may not hold', 'ro.jo=1'],
    ['a tenant@system key with an invalid character after it', 'ro@jo!=1'],
    ['a key starting with a digit (not tenant@system)', '1rojo=1'],
    ['an empty value', 'rojo='],
    ['a value ending in a space inside the member', 'rojo=a =,x=1'],
    ['a value with =', 'rojo=a=b'],
    ['a duplicated key', 'rojo=1,congo=2,rojo=3'],
    ['a duplicated key across two headers', ['rojo=1', 'rojo=2']],
  ])('discards the whole list for %s', (_, value) => {
    expect(parseTracestate(value), `${JSON.stringify(value)} must be discarded`).toBeUndefined();
  });
});

describe('parseTraceparent against OpenTelemetry JS (differential)', () => {
  const propagator = new W3CTraceContextPropagator();
  const getter: TextMapGetter<Record<string, string>> = {
    get: (carrier, key) => carrier[key],
    keys: (carrier) => Object.keys(carrier),
  };
  const otel = (header: string) => {
    const ctx: Context = propagator.extract(ROOT_CONTEXT, { traceparent: header }, getter);
    const span = trace.getSpanContext(ctx);
    return span ? { traceId: span.traceId, spanId: span.spanId, traceFlags: span.traceFlags } : null;
  };

  const hex = (length: number) =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
  /** A field of `length` hex digits, valid most of the time, else nearly valid. */
  const field = (length: number) =>
    fc.oneof(
      { weight: 6, arbitrary: hex(length) },
      { weight: 1, arbitrary: fc.constant('0'.repeat(length)) },
      { weight: 1, arbitrary: hex(length).map((h) => h.toUpperCase()) },
      { weight: 1, arbitrary: hex(length - 1) },
      { weight: 1, arbitrary: hex(length + 1) },
      { weight: 1, arbitrary: hex(length).map((h) => `${h.slice(0, -1)}g`) },
    );
  const version = fc.oneof(
    { weight: 4, arbitrary: fc.constant('00') },
    { weight: 3, arbitrary: hex(2) },
    { weight: 1, arbitrary: fc.constantFrom('ff', 'FF', 'Cc', '0', '000', 'zz') },
  );
  const separator = fc.oneof(
    { weight: 12, arbitrary: fc.constant('-') },
    { weight: 1, arbitrary: fc.constantFrom('_', '.', ' ') },
  );
  const suffix = fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    {
      weight: 2,
      arbitrary: fc
        .string({
          unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
          maxLength: 12,
        })
        .map((s) => `-${s}`),
    },
    {
      weight: 1,
      arbitrary: fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 12,
      }),
    },
  );
  /** One character of OWS at most: OTel's regex allows one, the spec any number (a documented difference). */
  const ows = fc.constantFrom('', ' ', '\t');
  const header = fc
    .tuple(ows, version, separator, field(32), separator, field(16), separator, field(2), suffix, ows)
    .map((parts) => parts.join(''));

  it('accepts and rejects exactly what OTel does, with the same fields', () => {
    fc.assert(
      fc.property(header, (value) => {
        expect(
          parseTraceparent(value),
          `parseTraceparent(${JSON.stringify(value)}) must agree with OpenTelemetry`,
        ).toEqual(otel(value));
      }),
      { numRuns: 3000, seed: 20261203 },
    );
  });

  it('differs from OTel only where the spec says otherwise (documented in traceparent.ts)', () => {
    expect(otel(`  ${VALID}`), 'OTel rejects two spaces of OWS').toBeNull();
    expect(parseTraceparent(`  ${VALID}`), 'the spec allows any run of OWS').not.toBeNull();
    expect(otel(`\n${VALID}`), 'OTel accepts any one whitespace character').not.toBeNull();
    expect(parseTraceparent(`\n${VALID}`), 'a newline is not OWS').toBeNull();
  });
});
