/**
 * The header rules of a proxy, as pure functions: what a gateway must drop (hop-by-hop headers,
 * RFC 9110 §7.6.1) and what it must add (`X-Forwarded-For`, RFC 7239 `Forwarded`). No I/O, and
 * no input is ever mutated: each function returns a new value.
 */
import { isIPv6 } from 'node:net';

/** Header values as `node:http` gives them (`IncomingHttpHeaders`) or takes them (`OutgoingHttpHeaders`). */
export type HeaderValue = string | number | readonly string[] | undefined;

/** A header object: names to values. */
export type Headers = Readonly<Record<string, HeaderValue>>;

/**
 * The headers that describe one connection rather than the message (RFC 9110 §7.6.1 lists
 * Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade; Trailer belongs to the
 * transfer coding; Proxy-Authenticate and Proxy-Authorization are meant for the proxy itself), in
 * lower case. A proxy never forwards them.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
];

/**
 * A copy of `headers` without the hop-by-hop headers: every name in {@link HOP_BY_HOP_HEADERS}, and
 * every header named in any `Connection` value (RFC 9110 §7.6.1: `Connection: keep-alive, X-Trace`
 * makes `X-Trace` hop-by-hop too). Connection values are comma-separated lists, possibly several
 * (an array), with any whitespace around the names. Header names match case-insensitively, both the
 * object's keys and the names listed in Connection. Every other header is kept with its key and
 * value exactly as given. `headers` is not changed.
 */
export function stripHopByHop(headers: Headers): Record<string, HeaderValue> {
  const drop = new Set(HOP_BY_HOP_HEADERS);
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'connection' || value === undefined) continue;
    for (const listed of listValues(value)) drop.add(listed.toLowerCase());
  }
  const kept: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!drop.has(name.toLowerCase())) kept[name] = value;
  }
  return kept;
}

/**
 * The `X-Forwarded-For` value a proxy sends on: every earlier entry kept, in order, and `clientIp`
 * (the address of the peer this proxy received the request from) appended last:
 * `appendForwardedFor('203.0.113.7', '10.0.0.2')` is `'203.0.113.7, 10.0.0.2'`. Several earlier
 * header lines (an array) are joined in order. With no earlier value (undefined, empty, or only
 * whitespace) the result is `clientIp` alone. Never replaces or drops an earlier entry: which entries
 * to trust is the reader's decision (count hops from the right), not the proxy's.
 */
export function appendForwardedFor(
  existing: string | readonly string[] | undefined,
  clientIp: string,
): string {
  const earlier = (typeof existing === 'string' ? [existing] : (existing ?? [])).filter(
    (value) => value.trim() !== '',
  );
  return [...earlier, clientIp].join(', ');
}

/** The parameters of one RFC 7239 `Forwarded` element (§5); only those given are written. */
export interface ForwardedElement {
  /** The client's address, as this proxy saw it (`for`, §5.2). */
  readonly for: string;
  /** The proxy's own address (`by`, §5.1). */
  readonly by?: string;
  /** The Host the client asked for (`host`, §5.3). */
  readonly host?: string;
  /** The protocol the client used, `http` or `https` (`proto`, §5.4). */
  readonly proto?: string;
}

/**
 * The `Forwarded` value a proxy sends on (RFC 7239): any earlier value kept, then `, ` and one new
 * element with the given parameters in the order `for`, `by`, `host`, `proto`, joined by `;`:
 * `for=192.0.2.60;host=example.com;proto=http`.
 *
 * - A value that is an RFC 9110 token (letters, digits and ``!#$%&'*+-.^_`|~``) is written bare.
 * - Any other value is a quoted string, with `"` and `\` escaped by a backslash: a Host with a
 *   port, `host="example.com:8080"`.
 * - An IPv6 address in `for` or `by` is put in brackets and quoted (§6): `for="[2001:db8::1]"`.
 *
 * An earlier value (several header lines: an array) is kept as it was, in order; with none (undefined,
 * empty, or only whitespace) the result is the new element alone.
 */
export function forwardedHeader(
  existing: string | readonly string[] | undefined,
  element: ForwardedElement,
): string {
  const pairs: string[] = [`for=${nodeValue(element.for)}`];
  if (element.by !== undefined) pairs.push(`by=${nodeValue(element.by)}`);
  if (element.host !== undefined) pairs.push(`host=${paramValue(element.host)}`);
  if (element.proto !== undefined) pairs.push(`proto=${paramValue(element.proto)}`);
  const earlier = (typeof existing === 'string' ? [existing] : (existing ?? [])).filter(
    (value) => value.trim() !== '',
  );
  return [...earlier, pairs.join(';')].join(', ');
}

/** RFC 9110 §5.6.2: `token = 1*tchar`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A node (§6): an IPv6 address goes in brackets, which makes it a quoted string. */
function nodeValue(value: string): string {
  return paramValue(isIPv6(value) ? `[${value}]` : value);
}

/** A parameter value (§4): a token as it is, anything else as a quoted string. */
function paramValue(value: string): string {
  return TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The names in a comma-separated list header (one value or several lines), trimmed, empties dropped. */
function listValues(value: string | number | readonly string[]): string[] {
  const lines = typeof value === 'object' ? value : [String(value)];
  return lines.flatMap((line) => line.split(',').map((name) => name.trim())).filter((name) => name !== '');
}

/**
 * How long a `Retry-After` value (RFC 9110 §10.2.3) asks the client to wait, in ms, measured from
 * `nowMs`, or `undefined` when there is no usable value.
 *
 * - delta-seconds: one or more ASCII digits, nothing else (`"120"` is 120 000 ms; surrounding
 *   whitespace is ignored). `"1.5"`, `"-1"`, `"+1"` and `"1e3"` are not delta-seconds.
 * - HTTP-date in the preferred IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`, always GMT): the
 *   time from `nowMs` to that date, 0 when the date has passed.
 * - anything else, or several values (an array), is `undefined`.
 */
export function retryAfterMs(
  value: string | readonly string[] | undefined,
  nowMs: number,
): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const seconds = Number(text);
  if (text !== '' && Number.isFinite(seconds)) return seconds * 1000;
  if (!IMF_FIXDATE.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** RFC 9110 §5.6.7: `day-name, DD Mon YYYY HH:MM:SS GMT`. */
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
