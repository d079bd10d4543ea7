import { type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type Listening, startHttpServer } from '../../../src/testing/index.js';
import { type CacheableOptions, cacheable, matchesIfNoneMatch, strongETag } from './cache-headers.js';

// ---------------------------------------------------------------------------------------------
// A page whose validator and render calls are counted, served by `cacheable` on a real server.

interface Page {
  url: string;
  /** The version the validator reports; change it to "edit" the page. */
  version: number;
  validatorCalls: number;
  renderCalls: number;
}

const servers: Listening[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function startPage(options: Partial<CacheableOptions> = {}): Promise<Page> {
  const page: Page = { url: '', version: 1, validatorCalls: 0, renderCalls: 0 };
  const server = await startHttpServer(
    cacheable({
      validator: () => {
        page.validatorCalls++;
        return `report-v${page.version}`;
      },
      render: async () => {
        page.renderCalls++;
        return { body: `<h1>Report, version ${page.version}</h1>`, contentType: 'text/html; charset=utf-8' };
      },
      cacheControl: 'public, max-age=60',
      ...options,
    }),
  );
  servers.push(server);
  page.url = `${server.url}/report`;
  return page;
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const res = await fetch(url, { method, headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** A request through node:http, which can send a header on several lines (fetch joins them). */
function rawRequest(
  url: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text. */
const STRONG_ENTITY_TAG = /^"[\x21\x23-\x7e\x80-\xff]*"$/;

// ---------------------------------------------------------------------------------------------

describe('strongETag', () => {
  it('is a quoted, strong entity-tag that depends only on the validator', () => {
    const tag = strongETag('v42');
    expect(tag, 'a strong ETag is a quoted opaque-tag, without W/').toMatch(STRONG_ENTITY_TAG);
    expect(strongETag('v42'), 'the same validator must always give the same ETag').toBe(tag);
    const others = ['v43', 'v42 ', 'V42', '42', ''].map(strongETag);
    expect(new Set([tag, ...others]).size, 'different validators must give different ETags').toBe(6);
  });

  it('stays a valid entity-tag whatever characters the validator holds', () => {
    const validators = [
      'say "cheese"',
      '2026-01-15 10:30:45.123 +05:30',
      'line one\nline two',
      'Ünïcödé ✓ 缓存',
      'x'.repeat(5000),
    ];
    const tags = validators.map(strongETag);
    for (const [i, tag] of tags.entries()) {
      expect(
        tag,
        `the ETag of ${JSON.stringify(validators[i]).slice(0, 40)} must be a valid entity-tag`,
      ).toMatch(STRONG_ENTITY_TAG);
    }
    expect(new Set(tags).size, 'different validators must give different ETags').toBe(validators.length);
  });
});

describe('matchesIfNoneMatch', () => {
  const tag = '"abc123"';

  it('matches the same tag and *', () => {
    expect(matchesIfNoneMatch(tag, tag), 'the current tag itself').toBe(true);
    expect(matchesIfNoneMatch('*', tag), '* matches any current representation').toBe(true);
    expect(matchesIfNoneMatch(' * ', tag), '* with spaces around it').toBe(true);
    expect(matchesIfNoneMatch(undefined, tag), 'no header matches nothing').toBe(false);
  });

  it('uses the weak comparison: W/ on either side does not matter', () => {
    expect(
      matchesIfNoneMatch('W/"abc123"', tag),
      'a weakened copy of our tag (a gzipping proxy does that)',
    ).toBe(true);
    expect(matchesIfNoneMatch(tag, 'W/"abc123"'), 'our tag weak, the header strong').toBe(true);
    expect(matchesIfNoneMatch('W/"abc123"', 'W/"abc123"'), 'both weak').toBe(true);
  });

  it('finds the tag anywhere in a list, with spaces, tabs and empty elements', () => {
    expect(matchesIfNoneMatch('"abc123", "zzz"', tag), 'first of two').toBe(true);
    expect(matchesIfNoneMatch('"old", "abc123", "zzz"', tag), 'second of three').toBe(true);
    expect(matchesIfNoneMatch('"a", "b", "c", W/"abc123"', tag), 'last, and weak').toBe(true);
    expect(
      matchesIfNoneMatch(', "x",,\t"abc123" ,', tag),
      'RFC 9110 §5.6.1: empty list elements are ignored',
    ).toBe(true);
    expect(matchesIfNoneMatch('"x","abc123"', tag), 'no space after the comma').toBe(true);
  });

  it('reads a comma inside a tag as part of the tag', () => {
    expect(matchesIfNoneMatch('"a,b"', '"a,b"'), 'a comma is an etagc character').toBe(true);
    expect(matchesIfNoneMatch('"x", "a,b"', '"a,b"'), 'in second place').toBe(true);
  });

  it('does not match other tags', () => {
    expect(matchesIfNoneMatch('"abc12"', tag), 'a prefix of our tag').toBe(false);
    expect(matchesIfNoneMatch('"abc1234"', tag), 'our tag with more after it').toBe(false);
    expect(matchesIfNoneMatch('"ABC123"', tag), 'opaque-tags compare case-sensitively').toBe(false);
    expect(matchesIfNoneMatch('"x", "y"', tag), 'a list without ours').toBe(false);
  });

  it.each([
    ['an unquoted tag', 'abc123'],
    ['an unquoted tag in a list', '"x", abc123'],
    ['our tag with text after the closing quote', '"abc123"junk'],
    ['two tags without a comma', '"abc123" "abc123"'],
    ['* inside a list', '"x", *'],
    ['* after our tag', '"abc123", *'],
    ['a lowercase w/', 'w/"abc123"'],
    ['a space after W/', 'W/ "abc123"'],
    ['a space inside the quotes of another tag', '"a b", "abc123"'],
    ['a missing closing quote', '"abc123'],
    ['a missing opening quote', 'abc123"'],
    ['W/ alone', 'W/'],
    ['an empty value', ''],
  ])('a malformed value matches nothing, even when it holds the tag: %s', (_label, header) => {
    expect(
      matchesIfNoneMatch(header, tag),
      `${JSON.stringify(header)} is not "*" nor a list of entity-tags`,
    ).toBe(false);
  });
});

describe('cacheable: 200, ETag and 304', () => {
  it('answers a GET with 200, the body, and Content-Type, Content-Length, Cache-Control, ETag and Vary', async () => {
    const page = await startPage({ vary: ['Accept-Language', 'X-Tenant'] });
    const res = await get(page.url);
    expect(res.status).toBe(200);
    expect(res.body).toBe('<h1>Report, version 1</h1>');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-length'), 'Content-Length is the body in bytes').toBe(
      String(Buffer.byteLength(res.body)),
    );
    expect(res.headers.get('cache-control'), 'Cache-Control exactly as given').toBe('public, max-age=60');
    expect(res.headers.get('etag'), 'the ETag is strongETag(validator)').toBe(strongETag('report-v1'));
    expect(res.headers.get('vary'), 'Vary lists the vary option, joined with ", "').toBe(
      'Accept-Language, X-Tenant',
    );
    expect([page.validatorCalls, page.renderCalls]).toEqual([1, 1]);
  });

  it('sends no Vary when none is given', async () => {
    const page = await startPage();
    const res = await get(page.url);
    expect(res.headers.get('vary')).toBeNull();
  });

  it('counts Content-Length in bytes, not characters, and sends binary bodies as they are', async () => {
    const text = await startPage({ render: async () => ({ body: 'Grüße ✓', contentType: 'text/plain' }) });
    const res = await get(text.url);
    expect(res.headers.get('content-length'), '"Grüße ✓" is 7 characters but 11 bytes in UTF-8').toBe('11');
    expect(res.body).toBe('Grüße ✓');
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const binary = await startPage({
      render: async () => ({ body: bytes, contentType: 'application/octet-stream' }),
    });
    const answer = await fetch(binary.url);
    expect(new Uint8Array(await answer.arrayBuffer())).toEqual(bytes);
  });

  it('answers a matching If-None-Match with 304, the cache headers and no body, without calling render', async () => {
    const page = await startPage({ vary: ['Accept-Language'] });
    const first = await get(page.url);
    const etag = first.headers.get('etag')!;
    const again = await get(page.url, { 'if-none-match': etag });
    expect(again.status, 'the client has the current version: 304 Not Modified').toBe(304);
    expect(again.body, 'a 304 has no body').toBe('');
    expect(page.renderCalls, 'render is the expensive part: a 304 must not call it').toBe(1);
    expect(page.validatorCalls, 'the validator is what decides: it runs for every request').toBe(2);
    expect(again.headers.get('etag'), 'a 304 carries the ETag (RFC 9110 §15.4.5)').toBe(etag);
    expect(again.headers.get('cache-control'), 'a 304 carries Cache-Control, so caches can refresh').toBe(
      'public, max-age=60',
    );
    expect(again.headers.get('vary'), 'a 304 carries Vary').toBe('Accept-Language');
  });

  it('gives a new ETag and a 200 once the validator changes', async () => {
    const page = await startPage();
    const old = (await get(page.url)).headers.get('etag')!;
    page.version = 2;
    const res = await get(page.url, { 'if-none-match': old });
    expect(res.status, 'the client holds version 1, the page is at version 2: send it').toBe(200);
    expect(res.body).toBe('<h1>Report, version 2</h1>');
    expect(res.headers.get('etag')).toBe(strongETag('report-v2'));
    expect(res.headers.get('etag')).not.toBe(old);
  });

  it('answers 304 to a weak copy of the tag, to the tag anywhere in a list, and to *', async () => {
    const page = await startPage({ validator: async () => 'report-v1' });
    const etag = strongETag('report-v1');
    for (const header of [`W/${etag}`, `"v0", ${etag}, "v9"`, '*']) {
      const res = await get(page.url, { 'if-none-match': header });
      expect(res.status, `If-None-Match: ${header}`).toBe(304);
    }
    expect(page.renderCalls, 'none of the three renders').toBe(0);
  });

  it('reads If-None-Match sent on several header lines as one list', async () => {
    const page = await startPage();
    const res = await rawRequest(page.url, { 'if-none-match': ['"v0"', strongETag('report-v1')] });
    expect(res.status, 'the matching tag is on the second If-None-Match line').toBe(304);
  });

  it('answers a long If-None-Match list with the tag in last place', async () => {
    const page = await startPage();
    const tags = Array.from({ length: 250 }, (_, i) => strongETag(`report-v${-i}`));
    const res = await get(page.url, { 'if-none-match': [...tags, strongETag('report-v1')].join(', ') });
    expect(res.status, 'a cache holding many versions sends them all; ours is the 251st').toBe(304);
  });

  it('ignores a malformed If-None-Match: 200 with the body, even when it holds the tag', async () => {
    const page = await startPage();
    const etag = strongETag('report-v1');
    const malformed = [
      `${etag}junk`,
      `${etag} ${etag}`,
      `${etag}, *`,
      `w/${etag}`,
      etag.slice(1, -1),
      `"${'x'.repeat(40)}`,
    ];
    for (const header of malformed) {
      const res = await get(page.url, { 'if-none-match': header });
      expect(res.status, `If-None-Match: ${header.slice(0, 60)} is malformed, so it matches nothing`).toBe(
        200,
      );
      expect(res.body).toBe('<h1>Report, version 1</h1>');
    }
  });

  it('answers HEAD with the status and headers of GET and no body', async () => {
    const page = await startPage({ vary: ['Accept-Language'] });
    const viaGet = await get(page.url);
    const head = await get(page.url, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body, 'HEAD has no body').toBe('');
    for (const name of ['content-type', 'content-length', 'etag', 'cache-control', 'vary']) {
      expect(head.headers.get(name), `HEAD must send the ${name} GET sends`).toBe(viaGet.headers.get(name));
    }
    const conditional = await get(page.url, { 'if-none-match': viaGet.headers.get('etag')! }, 'HEAD');
    expect(conditional.status, 'a matching HEAD is a 304 like a GET').toBe(304);
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])(
    'answers %s with 405 and Allow: GET, HEAD, calling neither callback',
    async (method) => {
      const page = await startPage();
      const res = await get(page.url, {}, method);
      expect(res.status).toBe(405);
      expect(res.headers.get('allow'), 'a 405 must say which methods are allowed').toBe('GET, HEAD');
      expect([page.validatorCalls, page.renderCalls], 'nothing is looked up for a method we refuse').toEqual([
        0, 0,
      ]);
    },
  );

  it.each([
    ['render rejects', { render: async () => Promise.reject(new Error('database down')) }],
    [
      'render throws',
      {
        render: () => {
          throw new Error('bug');
        },
      },
    ],
    ['the validator rejects', { validator: async () => Promise.reject(new Error('database down')) }],
    [
      'the validator throws',
      {
        validator: () => {
          throw new Error('bug');
        },
      },
    ],
  ] as [string, Partial<CacheableOptions>][])(
    'answers 500 with Cache-Control: no-store and no ETag or Vary when %s, and keeps serving',
    async (_label, failing) => {
      let fail = true;
      const ok = await startPage();
      const page = await startPage({
        vary: ['Accept-Language'],
        validator: (req) => (fail && failing.validator ? failing.validator(req) : 'v1'),
        render: (req) =>
          fail && failing.render
            ? failing.render(req)
            : Promise.resolve({ body: 'fine', contentType: 'text/plain' }),
      });
      const res = await get(page.url);
      expect(res.status).toBe(500);
      expect(res.headers.get('cache-control'), 'no cache may keep an error page: no-store').toBe('no-store');
      expect(res.headers.get('etag'), 'an error page must not carry the success ETag').toBeNull();
      expect(res.headers.get('vary'), 'nor the success Vary').toBeNull();
      fail = false;
      expect((await get(page.url)).status, 'the next request works again').toBe(200);
      expect((await get(ok.url)).status).toBe(200);
    },
  );

  it('throws TypeError naming the option for bad options', () => {
    const good: CacheableOptions = {
      validator: () => 'v',
      render: async () => ({ body: '', contentType: 'text/plain' }),
      cacheControl: 'no-cache',
    };
    const bad: [string, Partial<Record<keyof CacheableOptions, unknown>>][] = [
      ['validator', { validator: undefined }],
      ['render', { render: 'render' }],
      ['cacheControl', { cacheControl: '' }],
      ['cacheControl', { cacheControl: 60 }],
      ['lastModified', { lastModified: new Date() }],
      ['vary', { vary: ['Accept Language'] }],
      ['vary', { vary: [''] }],
    ];
    for (const [option, change] of bad) {
      expect(
        () => cacheable({ ...good, ...change } as CacheableOptions),
        `${option}: ${String(Object.values(change)[0])}`,
      ).toThrowError(new RegExp(option));
      expect(() => cacheable({ ...good, ...change } as CacheableOptions)).toThrow(TypeError);
    }
  });
});

describe('cacheable: Last-Modified and If-Modified-Since', () => {
  /** 10:30:45.700 UTC on Thursday 15 January 2026: not on a whole second, on purpose. */
  const modified = new Date(Date.UTC(2026, 0, 15, 10, 30, 45, 700));
  const withDate = () => startPage({ lastModified: () => modified });

  it('sends Last-Modified as an IMF-fixdate in GMT', async () => {
    const page = await withDate();
    const res = await get(page.url);
    expect(res.headers.get('last-modified'), 'an HTTP date is always in GMT, whatever the server zone').toBe(
      'Thu, 15 Jan 2026 10:30:45 GMT',
    );
  });

  it('answers 304 without render when If-Modified-Since is the Last-Modified it sent', async () => {
    const page = await startPage({ lastModified: async () => modified });
    const lastModified = (await get(page.url)).headers.get('last-modified')!;
    const res = await get(page.url, { 'if-modified-since': lastModified });
    expect(res.status, 'HTTP dates have no milliseconds: compare whole seconds').toBe(304);
    expect(res.headers.get('last-modified')).toBe(lastModified);
    expect(res.headers.get('etag'), 'the 304 still carries the ETag').toBe(strongETag('report-v1'));
    expect(page.renderCalls).toBe(1);
  });

  it('answers 304 to a later date and 200 to an earlier one or to one that is not a date', async () => {
    const page = await withDate();
    expect((await get(page.url, { 'if-modified-since': 'Fri, 16 Jan 2026 00:00:00 GMT' })).status).toBe(304);
    expect((await get(page.url, { 'if-modified-since': 'Thu, 15 Jan 2026 10:30:44 GMT' })).status).toBe(200);
    expect(
      (await get(page.url, { 'if-modified-since': 'yesterday-ish' })).status,
      'not a date: ignored',
    ).toBe(200);
  });

  it('ignores If-Modified-Since whenever If-None-Match is present', async () => {
    const page = await withDate();
    const later = 'Fri, 16 Jan 2026 00:00:00 GMT';
    const stale = await get(page.url, { 'if-none-match': '"some-old-version"', 'if-modified-since': later });
    expect(stale.status, 'the ETag says the client copy is old; the date must not overrule it').toBe(200);
    const malformed = await get(page.url, { 'if-none-match': 'garbage', 'if-modified-since': later });
    expect(malformed.status, 'a present If-None-Match, even malformed, rules If-Modified-Since out').toBe(
      200,
    );
    const current = await get(page.url, {
      'if-none-match': strongETag('report-v1'),
      'if-modified-since': 'Mon, 01 Jan 2001 00:00:00 GMT',
    });
    expect(current.status, 'the ETag matches: 304, whatever the date says').toBe(304);
  });

  it('without a lastModified option, sends no Last-Modified and ignores If-Modified-Since', async () => {
    const page = await startPage();
    const res = await get(page.url, { 'if-modified-since': 'Fri, 01 Jan 2100 00:00:00 GMT' });
    expect(res.status).toBe(200);
    expect(res.headers.get('last-modified')).toBeNull();
  });
});
