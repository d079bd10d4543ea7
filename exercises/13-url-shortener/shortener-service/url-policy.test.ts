import { describe, expect, it } from 'vitest';
import { checkTargetUrl, MAX_URL_LENGTH } from './url-policy.js';

/** [input, why it must be refused] */
const HOSTILE: [unknown, string][] = [
  ['javascript:alert(document.cookie)', 'javascript: runs code in the page of whoever clicks'],
  [' JavaScript:alert(1)', 'the scheme is case-insensitive and leading spaces are ignored by browsers'],
  ['data:text/html,<script>alert(1)</script>', 'data: renders attacker-made pages'],
  ['file:///etc/passwd', 'file: is not a web address'],
  ['ftp://example.com/file', 'only http and https'],
  ['mailto:someone@example.com', 'only http and https'],
  ['//example.com/page', 'a relative URL has no scheme'],
  ['example.com', 'no scheme at all'],
  ['http://', 'no host'],
  ['https://exa mple.com/', 'a space is not allowed in a host'],
  ['https://user:secret@example.com/', 'credentials in a URL are a phishing disguise'],
  ['https://paypal.com@evil.example/', 'a user name that looks like a host'],
  ['http://127.0.0.1/', 'loopback'],
  ['http://127.1/', 'loopback, short form'],
  ['http://2130706433/', 'loopback written as one decimal number'],
  ['http://0x7f.0.0.1/', 'loopback in hexadecimal'],
  ['http://localhost:6379/', 'localhost'],
  ['http://admin.localhost/', 'a subdomain of localhost'],
  ['http://0.0.0.0/', 'the unspecified address'],
  ['http://10.1.2.3/admin', 'private (10/8)'],
  ['http://172.16.0.1/', 'private (172.16/12)'],
  ['http://172.31.255.255/', 'private (172.16/12), top end'],
  ['http://192.168.1.1/', 'private (192.168/16): your router'],
  ['http://169.254.169.254/latest/meta-data/', 'link-local: the cloud metadata service'],
  ['http://100.64.0.1/', 'carrier-grade NAT (100.64/10)'],
  ['http://[::1]/', 'IPv6 loopback'],
  ['http://[::]/', 'IPv6 unspecified'],
  ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped loopback'],
  ['http://[::ffff:a9fe:a9fe]/', 'IPv4-mapped metadata address'],
  ['http://[fd12:3456::1]/', 'IPv6 unique local (fc00::/7)'],
  ['http://[fe80::1]/', 'IPv6 link-local'],
  ['http://[ff02::1]/', 'IPv6 multicast'],
  ['http://[::ffff:0:7f00:1]/', 'IPv4-translated loopback'],
  ['http://[64:ff9b::a9fe:a9fe]/', 'NAT64 form of the metadata address'],
  ['http://localhost./', 'localhost with a trailing dot'],
  ['http://127.0.0.1./', 'loopback with a trailing dot'],
  ['http://192.0.0.8/', 'IETF protocol assignments (192.0.0.0/24)'],
  ['http://198.18.0.1/', 'benchmarking (198.18.0.0/15)'],
  ['http://224.0.0.1/', 'multicast'],
  ['http://255.255.255.255/', 'broadcast'],
  [`https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`, 'longer than 2048 characters'],
  [`https://example.com/${'é'.repeat(700)}`, 'short as typed, but over 2048 characters once percent-encoded'],
  ['', 'empty'],
  ['   ', 'blank'],
  [42, 'not a string'],
  [null, 'not a string'],
  [{ href: 'https://example.com' }, 'not a string'],
];

/** [input, the URL to store] */
const ACCEPTED: [string, string][] = [
  ['https://example.com', 'https://example.com/'],
  ['http://example.com:8080/a/b?c=d&e=f#g', 'http://example.com:8080/a/b?c=d&e=f#g'],
  ['HTTPS://Example.COM/Path', 'https://example.com/Path'],
  ['https://例え.jp/', 'https://xn--r8jz45g.jp/'],
  ['https://8.8.8.8/', 'https://8.8.8.8/'],
  ['https://172.32.0.1/', 'https://172.32.0.1/'],
  ['https://192.169.0.1/', 'https://192.169.0.1/'],
  ['http://[2001:db8::1]/', 'http://[2001:db8::1]/'],
  ['http://[::ffff:8.8.8.8]/', 'http://[::ffff:808:808]/'],
  ['https://100.128.0.1/', 'https://100.128.0.1/'],
  ['https://198.20.0.1/', 'https://198.20.0.1/'],
  ['https://11.0.0.1/', 'https://11.0.0.1/'],
  ['https://localhost.example.com/', 'https://localhost.example.com/'],
];

describe('the URL policy', () => {
  it.each(HOSTILE)('refuses %j (%s)', (input, why) => {
    const verdict = checkTargetUrl(input);
    expect(verdict.ok, `must refuse: ${why}`).toBe(false);
    if (!verdict.ok) expect(verdict.error, 'the error explains the refusal').toMatch(/\S{3}/);
  });

  it.each(ACCEPTED)('accepts %s and stores it as %s', (input, normalised) => {
    expect(checkTargetUrl(input)).toEqual({ ok: true, url: normalised });
  });

  it('accepts exactly 2048 characters and refuses 2049', () => {
    const base = 'https://example.com/';
    const longest = base + 'a'.repeat(MAX_URL_LENGTH - base.length);
    expect(MAX_URL_LENGTH).toBe(2048);
    expect(checkTargetUrl(longest), '2048 characters is the limit, inclusive').toEqual({
      ok: true,
      url: longest,
    });
    expect(checkTargetUrl(`${longest}a`).ok, '2049 characters is too long').toBe(false);
  });

  it('names the problem in the error', () => {
    const error = (input: unknown) => {
      const verdict = checkTargetUrl(input);
      return verdict.ok ? '' : verdict.error;
    };
    expect(error('javascript:alert(1)'), 'a refused scheme is named').toMatch(/http/);
    expect(error('https://u:p@example.com/'), 'credentials are named').toMatch(/credential/i);
    expect(error('http://10.0.0.1/'), 'private addresses are named').toMatch(/private/i);
    expect(error(`https://example.com/${'a'.repeat(3000)}`), 'the limit is named').toMatch(/2048/);
  });
});
