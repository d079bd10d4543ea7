import { describe, expect, it } from 'vitest';
import {
  appendForwardedFor,
  forwardedHeader,
  HOP_BY_HOP_HEADERS,
  retryAfterMs,
  stripHopByHop,
} from './proxy-headers.js';

describe('stripHopByHop', () => {
  it('drops every fixed hop-by-hop header and keeps the end-to-end ones as they were', () => {
    const headers = {
      connection: 'close',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      trailer: 'expires',
      'proxy-authenticate': 'Basic',
      'proxy-authorization': 'Basic abc',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
      'content-length': 12,
    };
    expect(stripHopByHop(headers), 'only the end-to-end headers are left, values untouched').toEqual({
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
      'content-length': 12,
    });
    expect(HOP_BY_HOP_HEADERS).toHaveLength(9);
  });

  it('also drops every header the Connection header names: comma lists, any case, any whitespace', () => {
    const headers = {
      connection: ' Keep-Alive ,X-Trace,,  x-Session-Hop ',
      'x-trace': '1',
      'x-session-hop': '2',
      'x-end-to-end': '3',
    };
    expect(stripHopByHop(headers), 'x-trace and x-session-hop were declared hop-by-hop').toEqual({
      'x-end-to-end': '3',
    });
    const notConnection = { 'x-list': 'x-other, x-third', 'x-other': '1', vary: 'x-third', 'x-third': '2' };
    expect(
      stripHopByHop(notConnection),
      'only Connection names hop-by-hop headers, no other list header',
    ).toEqual(notConnection);
  });

  it('reads every Connection header line (an array), and matches keys in any case', () => {
    const headers = { Connection: ['close', 'x-a, X-B'], 'X-A': '1', 'x-b': '2', 'X-Keep': '3', TE: 'gzip' };
    expect(stripHopByHop(headers), 'names listed in the second line count too; keys keep their case').toEqual(
      {
        'X-Keep': '3',
      },
    );
  });

  it('returns a new object and leaves its input unchanged', () => {
    const headers = { connection: 'x-a', 'x-a': '1', 'x-b': '2' };
    const copy = structuredClone(headers);
    const result = stripHopByHop(headers);
    expect(result).not.toBe(headers);
    expect(headers, 'the input must not be mutated').toEqual(copy);
    expect(stripHopByHop({ 'x-b': '2' }), 'nothing to strip: an equal copy').toEqual({ 'x-b': '2' });
  });
});

describe('appendForwardedFor', () => {
  it('appends the client address after every earlier entry, never replacing one', () => {
    expect(appendForwardedFor(undefined, '10.0.0.2'), 'no earlier value: the client alone').toBe('10.0.0.2');
    expect(appendForwardedFor('', '10.0.0.2'), 'an empty value counts as none').toBe('10.0.0.2');
    expect(appendForwardedFor('   ', '10.0.0.2'), 'whitespace counts as none').toBe('10.0.0.2');
    expect(appendForwardedFor('203.0.113.7', '10.0.0.2')).toBe('203.0.113.7, 10.0.0.2');
    expect(appendForwardedFor('198.51.100.4, 203.0.113.7', '::1')).toBe('198.51.100.4, 203.0.113.7, ::1');
  });

  it('joins several earlier header lines in order', () => {
    const lines = ['198.51.100.4', '203.0.113.7, 192.0.2.1'];
    expect(appendForwardedFor(lines, '10.0.0.2'), 'every line, in order, then the client').toBe(
      '198.51.100.4, 203.0.113.7, 192.0.2.1, 10.0.0.2',
    );
    expect(appendForwardedFor(['', '203.0.113.7'], '10.0.0.2'), 'empty lines are skipped').toBe(
      '203.0.113.7, 10.0.0.2',
    );
    expect(lines, 'the input array is not mutated').toEqual(['198.51.100.4', '203.0.113.7, 192.0.2.1']);
  });
});

describe('forwardedHeader', () => {
  it('builds one RFC 7239 element with the given parameters in the order for, by, host, proto', () => {
    expect(forwardedHeader(undefined, { for: '192.0.2.60' })).toBe('for=192.0.2.60');
    expect(
      forwardedHeader(undefined, {
        proto: 'http',
        host: 'example.com',
        by: '203.0.113.43',
        for: '192.0.2.60',
      }),
    ).toBe('for=192.0.2.60;by=203.0.113.43;host=example.com;proto=http');
    expect(forwardedHeader(undefined, { for: 'unknown', proto: 'https' }), 'tokens stay bare').toBe(
      'for=unknown;proto=https',
    );
  });

  it('quotes a value that is not a token: IPv6 in brackets, a Host with a port, quotes and backslashes escaped', () => {
    expect(forwardedHeader(undefined, { for: '2001:db8::1' }), 'RFC 7239 §6: brackets and quotes').toBe(
      'for="[2001:db8::1]"',
    );
    expect(forwardedHeader(undefined, { for: '10.0.0.1', by: '::1' }), 'by is a node too').toBe(
      'for=10.0.0.1;by="[::1]"',
    );
    expect(forwardedHeader(undefined, { for: '10.0.0.1', host: 'example.com:8080' })).toBe(
      'for=10.0.0.1;host="example.com:8080"',
    );
    expect(forwardedHeader(undefined, { for: '_hidden', host: 'a"b\\c' }), 'escape " and \\').toBe(
      'for=_hidden;host="a\\"b\\\\c"',
    );
  });

  it('appends to an earlier value (one line or several) with a comma, keeping it as it was', () => {
    expect(forwardedHeader('for=198.51.100.4;proto=https', { for: '10.0.0.2' })).toBe(
      'for=198.51.100.4;proto=https, for=10.0.0.2',
    );
    expect(forwardedHeader(['for=a', 'for=b, for=c'], { for: '10.0.0.2' })).toBe(
      'for=a, for=b, for=c, for=10.0.0.2',
    );
    expect(forwardedHeader(' ', { for: '10.0.0.2' }), 'whitespace counts as none').toBe('for=10.0.0.2');
    expect(forwardedHeader(['', 'for=b'], { for: '10.0.0.2' }), 'empty lines are skipped').toBe(
      'for=b, for=10.0.0.2',
    );
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2024, 0, 15, 12, 0, 0);

  it('reads delta-seconds as a wait in ms', () => {
    expect(retryAfterMs('0', now)).toBe(0);
    expect(retryAfterMs('1', now)).toBe(1000);
    expect(retryAfterMs(' 120 ', now), 'surrounding whitespace is ignored').toBe(120_000);
  });

  it('reads an IMF-fixdate as the time from now to that date (in GMT, whatever the local zone)', () => {
    expect(retryAfterMs('Mon, 15 Jan 2024 12:00:02 GMT', now), 'two seconds from now').toBe(2000);
    expect(retryAfterMs('Mon, 15 Jan 2024 13:30:00 GMT', now), 'an hour and a half from now').toBe(5_400_000);
    expect(retryAfterMs('Mon, 15 Jan 2024 11:59:00 GMT', now), 'a date in the past: no wait').toBe(0);
  });

  it('gives undefined for anything that is neither delta-seconds nor an IMF-fixdate', () => {
    for (const value of [
      '1.5',
      '-1',
      '+1',
      '1e3',
      '',
      'soon',
      '0x10',
      '15 Jan 2024',
      '2024-01-15T12:00:02Z',
      'x Mon, 15 Jan 2024 12:00:02 GMT',
      'Mon, 15 Jan 2024 12:00:02 GMT+0530',
    ]) {
      expect(retryAfterMs(value, now), `${JSON.stringify(value)} is not a Retry-After value`).toBeUndefined();
    }
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs(['1', '2'], now), 'several values: ambiguous').toBeUndefined();
  });
});
