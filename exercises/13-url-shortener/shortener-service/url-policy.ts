/**
 * Which URLs the shortener agrees to point at.
 *
 * A short link hides its target, so whoever makes one can trick whoever clicks it. The policy:
 *
 * - only `http:` and `https:` (no `javascript:` that runs in the clicker's page, no `data:` that
 *   renders attacker HTML under a trusted-looking link, no `file:`, `ftp:`, ...);
 * - an absolute URL with a host, at most {@link MAX_URL_LENGTH} characters;
 * - no credentials (`https://user:pass@host` is a classic phishing disguise);
 * - no literal private, loopback or link-local addresses and no `localhost` names: a link to
 *   `http://169.254.169.254/` (the cloud metadata service) or `http://10.0.0.5/admin` is an attack
 *   on whatever follows it from inside a network (link-preview bots, crawlers, the clicker's router).
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
 * Checks `input` (any JSON value) against the policy. On success `url` is the WHATWG-normalised
 * form (`new URL(input).href`: lower-case scheme and host, a `/` path at least).
 */
export function checkTargetUrl(input: unknown): UrlCheck {
  throw new Error(
    'checkTargetUrl() is not implemented yet: open exercises/13-url-shortener/shortener-service/url-policy.ts',
  );
}
