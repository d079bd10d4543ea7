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

const todo = (fn: string) =>
  new Error(`${fn}() is not implemented yet: open exercises/11-observability/request-context/traceparent.ts`);

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
  throw todo('parseTraceparent');
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
  throw todo('formatTraceparent');
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
  throw todo('parseTracestate');
}

/** Whether the sampled flag (bit 0 of `traceFlags`) is set. */
export function isSampled(ctx: SpanContext): boolean {
  throw todo('isSampled');
}
