/**
 * Which URLs the shortener agrees to point at.
 *
 * A short link hides its target, so whoever makes one can trick whoever clicks it. The policy:
 *
 * - only `http:` and `https:` (no `javascript:` that runs in the clicker's page, no `data:` that
 *   renders attacker HTML under a trusted-looking link, no `file:`, `ftp:`, ...);
 * - an absolute URL with a host, at most {@link MAX_URL_LENGTH} characters both as given and once
 *   normalised (percent-encoding makes a URL longer: `é` becomes `%C3%A9`);
 * - no credentials, neither a user name nor a password (`https://user:pass@host`, and
 *   `https://paypal.com@evil.example/`, whose host is `evil.example`, are classic phishing disguises);
 * - no literal private, loopback, link-local or otherwise non-public addresses and no `localhost`
 *   names: a link to `http://169.254.169.254/` (the cloud metadata service) or
 *   `http://10.0.0.5/admin` is an attack on whatever follows it from inside a network (link-preview
 *   bots, crawlers, the clicker's router). Refused, after the WHATWG parser has normalised the host:
 *   `localhost` and `*.localhost` (a trailing dot changes nothing); the IPv4 ranges 0.0.0.0/8,
 *   10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.0.0.0/24,
 *   192.168.0.0/16, 198.18.0.0/15, 224.0.0.0/4 and 240.0.0.0/4 (broadcast included); the IPv6
 *   addresses `::` and `::1` and ranges fc00::/7, fe80::/10 and ff00::/8; and an IPv6 address that
 *   carries an IPv4 one (`::ffff:a.b.c.d`, `::ffff:0:a.b.c.d`, `64:ff9b::a.b.c.d`), judged by that
 *   IPv4 address. Every other address, such as `172.32.0.1`, is public and allowed.
 *
 * The check is on the text only. A public name can still resolve to a private address (DNS
 * rebinding); code that *fetches* a target must check the resolved address at connect time.
 */

/** The longest URL accepted, in characters (what browsers and CDNs reliably handle). */
export const MAX_URL_LENGTH = 2048;

/** The verdict on a candidate URL: the normalised URL to store, or why it was refused. */
export type UrlCheck =
  | { readonly ok: true; readonly url: string }
  | { readonly ok: false; readonly error: string };

/**
 * Checks `input` (any JSON value: a number, `null` or an object is refused, never thrown on) against
 * the policy. On success `url` is the WHATWG-normalised form (`new URL(input).href`: lower-case
 * scheme and host, a `/` path at least). On refusal `error` starts with `url` and names the rule:
 * the allowed schemes (`http`, `https`), `credentials`, a `private` address, or the limit (`2048`).
 */
export function checkTargetUrl(input: unknown): UrlCheck {
  if (typeof input !== 'string' || input.trim() === '') return refuse('url must be a non-empty string');
  if (input.length > MAX_URL_LENGTH) return refuse(`url must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return refuse('url must be an absolute URL such as https://example.com/page');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return refuse(`url must use http or https, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.hostname === '') return refuse('url must have a host');
  if (url.username !== '' || url.password !== '') return refuse('url must not contain credentials');
  if (isPrivateHost(url.hostname)) {
    return refuse(`url must not point to a private, loopback or link-local address (${url.hostname})`);
  }
  if (url.href.length > MAX_URL_LENGTH) return refuse(`url must be at most ${MAX_URL_LENGTH} characters`);
  return { ok: true, url: url.href };
}

const refuse = (error: string): UrlCheck => ({ ok: false, error });

/**
 * True for `localhost` names and for IP literals that are not on the public internet. `hostname` is
 * a WHATWG URL's hostname: IPv4 already in dotted decimal (`http://0x7f.1` becomes `127.0.0.1`), IPv6
 * in brackets and compressed.
 */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host.startsWith('[')) return isPrivateIPv6(host.slice(1, -1));
  const ipv4 = parseIPv4(host);
  return ipv4 !== undefined && isPrivateIPv4(ipv4);
}

/** IPv4 ranges that are not public (RFC 1918, RFC 6598, RFC 1122, RFC 3927, RFC 5737...). */
const PRIVATE_IPV4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata at 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255
];

function parseIPv4(host: string): number | undefined {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function isPrivateIPv4(address: number): boolean {
  return PRIVATE_IPV4.some(([base, bits]) => {
    const size = 2 ** (32 - bits);
    return Math.floor(address / size) === Math.floor((parseIPv4(base) as number) / size);
  });
}

function isPrivateIPv6(address: string): boolean {
  if (address === '::' || address === '::1') return true;
  // IPv4-mapped (::ffff:7f00:1), IPv4-translated (::ffff:0:…) and NAT64 (64:ff9b::…) addresses carry
  // an IPv4 address in their last 32 bits: judge that one.
  const mapped = /^(?:::ffff:(?:0:)?|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (mapped) return isPrivateIPv4(Number.parseInt(mapped[1]!, 16) * 65536 + Number.parseInt(mapped[2]!, 16));
  const first = Number.parseInt(address.split(':')[0] || '0', 16);
  return (
    (first & 0xff00) === 0xfc00 || // unique local fc00::/8
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 // multicast ff00::/8
  );
}
