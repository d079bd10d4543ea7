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
  throw new Error(
    'checkTargetUrl() is not implemented yet: open exercises/13-url-shortener/shortener-service/url-policy.ts',
  );
}
