/**
 * W3C Trace Context, Level 1 (https://www.w3.org/TR/trace-context/): the `traceparent` and
 * `tracestate` HTTP headers that carry a trace from one service to the next.
 *
 * ```
 * traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 *              │  │                                │                └ trace-flags: 8 bits, 01 = sampled
 *              │  │                                └ parent-id: the caller's span, 16 lower-case hex
 *              │  └ trace-id: the whole trace, 32 lower-case hex
 *              └ version: 2 lower-case hex; ff is invalid
 * ```
 *
 * Parsing follows the spec's "traceparent Header" section and its "Versioning of traceparent"
 * (https://www.w3.org/TR/trace-context/#versioning-of-traceparent). Where the spec and OpenTelemetry JS
 * (`@opentelemetry/core`'s `W3CTraceContextPropagator`) differ, this module follows the spec:
 *
 * - **OWS.** HTTP allows optional whitespace (any run of spaces and tabs, RFC 9110 §5.6.3) around a
 *   field value; OTel's regex tolerates one whitespace character of any kind (`\s?`). Here any run
 *   of SP and HTAB is tolerated, and nothing else (a newline or a no-break space is not OWS).
 * - **Several `traceparent` headers.** The W3C conformance suite (`test/test.py`,
 *   `test_traceparent_duplicated`) expects a new trace for a request with two `traceparent` headers;
 *   OTel takes the first. Here an array of more than one
 *   value is invalid.
 *
 * Both agree on the rest: upper-case hex is invalid (the spec: "lowercase hex"), so are version
 * `ff`, all-zero ids, bad lengths and a version `00` header with anything after the flags; a higher
 * version is parsed for its first four fields when what follows the flags is nothing or starts with
 * a dash.
 */

/** The part of a span that crosses process boundaries. */
export interface SpanContext {
  /** 32 lower-case hex digits, not all zero. */
  traceId: string;
  /** 16 lower-case hex digits, not all zero. */
  spanId: string;
  /** 0 to 255; bit 0 (`0x01`) is "sampled". */
  traceFlags: number;
  /** The `tracestate` list to pass on, as {@link parseTracestate} returns it; absent when none. */
  traceState?: string;
}

/** The length of a version 00 `traceparent`: 2 + 1 + 32 + 1 + 16 + 1 + 2. */
const TRACEPARENT_LENGTH = 55;
/** The most list members a `tracestate` may have (the spec's tracestate "list"). */
const MAX_TRACESTATE_MEMBERS = 32;

const HEX = /^[0-9a-f]+$/;
const OWS = /^[ \t]+|[ \t]+$/g;
/** `key = simple-key / multi-tenant-key` (the spec's tracestate "key" grammar). */
const TRACESTATE_KEY =
  /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
/** `value = 0*255(chr) nblk-chr`, where `chr` is printable ASCII but `,` and `=` (the spec's tracestate "value" grammar). */
const TRACESTATE_VALUE = /^[ !-+\--<>-~]{0,255}[!-+\--<>-~]$/;

const isHex = (text: string, length: number) => text.length === length && HEX.test(text);
const isAllZero = (text: string) => /^0+$/.test(text);

/**
 * Parses one `traceparent` value per W3C Trace Context Level 1 §3.2 (https://www.w3.org/TR/trace-context/).
 *
 * Returns `null` (start a new trace) when the value is absent or invalid:
 * - not exactly one value (`undefined`, an empty array, or an array of two or more: several
 *   `traceparent` headers are invalid);
 * - a version that is not 2 lower-case hex digits, or is `ff`;
 * - a trace id that is not 32 lower-case hex digits, or is all zeros;
 * - a parent id that is not 16 lower-case hex digits, or is all zeros;
 * - flags that are not 2 lower-case hex digits; a field separator that is not `-`;
 * - version `00` with anything after the flags;
 * - a higher version whose flags are followed by something that does not start with `-`.
 *
 * A higher version (`01` to `fe`) with fields after the flags is accepted and its first four fields
 * parsed (the spec's "Versioning of traceparent": forward compatibility). Upper-case hex digits are invalid (the spec says lower-case).
 * Optional whitespace (spaces and tabs, any number) around the value is ignored.
 *
 * @returns `{ traceId, spanId, traceFlags }` where `spanId` is the header's parent id (the caller's
 *   span) and `traceFlags` a number (`0x01` sampled); no `traceState`.
 */
export function parseTraceparent(value: string | readonly string[] | undefined): SpanContext | null {
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (Array.isArray(value)) text = value[0];
  if (typeof text !== 'string') return null;
  text = text.replace(OWS, '');
  if (text.length < TRACEPARENT_LENGTH) return null;

  const version = text.slice(0, 2);
  const traceId = text.slice(3, 35);
  const spanId = text.slice(36, 52);
  const flags = text.slice(53, 55);
  if (!isHex(version, 2) || version === 'ff') return null;
  if (text[2] !== '-' || text[35] !== '-' || text[52] !== '-') return null;
  if (!isHex(traceId, 32) || isAllZero(traceId)) return null;
  if (!isHex(spanId, 16) || isAllZero(spanId)) return null;
  if (!isHex(flags, 2)) return null;
  if (text.length > TRACEPARENT_LENGTH && (version === '00' || text[TRACEPARENT_LENGTH] !== '-')) return null;

  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
}

/**
 * Formats a span context as a version `00` `traceparent`: `00-{traceId}-{spanId}-{flags}`, the
 * flags as 2 lower-case hex digits (`01` when sampled). `traceState` is not part of it.
 *
 * @throws {RangeError} naming the field and its value when `traceId` is not 32 lower-case hex
 *   digits or is all zeros, `spanId` is not 16 lower-case hex digits or is all zeros, or
 *   `traceFlags` is not an integer from 0 to 255: an invalid context is never sent.
 */
export function formatTraceparent(ctx: SpanContext): string {
  const { traceId, spanId, traceFlags } = ctx;
  if (typeof traceId !== 'string' || !isHex(traceId, 32) || isAllZero(traceId)) {
    throw new RangeError(
      `traceId must be 32 lower-case hex digits, not all zero; got ${JSON.stringify(traceId)}`,
    );
  }
  if (typeof spanId !== 'string' || !isHex(spanId, 16) || isAllZero(spanId)) {
    throw new RangeError(
      `spanId must be 16 lower-case hex digits, not all zero; got ${JSON.stringify(spanId)}`,
    );
  }
  if (!Number.isInteger(traceFlags) || traceFlags < 0 || traceFlags > 0xff) {
    throw new RangeError(`traceFlags must be an integer from 0 to 255; got ${String(traceFlags)}`);
  }
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/**
 * Parses `tracestate` (the spec's "tracestate Header"): a comma-separated list of `key=value` members, vendor data to pass on
 * unchanged.
 *
 * - Several headers (an array) are one list: their values joined with `,`, in order.
 * - Optional whitespace (spaces, tabs) around each member is dropped, and so are empty members.
 * - Keys and values must follow the spec's grammar (a key: lower-case letter first, then up to 255 of
 *   `a-z 0-9 _ - * /`, or the `tenant@system` form; a value: up to 256 printable ASCII characters
 *   without `,` or `=`, not ending in a space).
 * - The whole `tracestate` is discarded (`undefined`) when any member is invalid, a key repeats, or
 *   there are more than 32 members (the spec limits a list to 32 members, and the W3C conformance
 *   suite's `test_tracestate_member_count_limit` expects a list of 33 to be discarded).
 *
 * @returns the members joined with `,` (no spaces), or `undefined` when there are none or the list
 *   was discarded.
 */
export function parseTracestate(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const combined = typeof value === 'string' ? value : value.join(',');
  const members: string[] = [];
  const keys = new Set<string>();
  for (const raw of combined.split(',')) {
    const member = raw.replace(OWS, '');
    if (member === '') continue;
    const equals = member.indexOf('=');
    if (equals < 0) return undefined;
    const key = member.slice(0, equals);
    const val = member.slice(equals + 1);
    if (!TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(val) || keys.has(key)) return undefined;
    keys.add(key);
    members.push(member);
    if (members.length > MAX_TRACESTATE_MEMBERS) return undefined;
  }
  return members.length > 0 ? members.join(',') : undefined;
}

/** Whether the sampled flag (bit 0 of `traceFlags`) is set. */
export function isSampled(ctx: SpanContext): boolean {
  return (ctx.traceFlags & 0x01) === 0x01;
}
