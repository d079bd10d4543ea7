/**
 * A window of a trace as a mermaid `sequenceDiagram`, the picture of a run a learner pastes into the
 * course site's diagram viewer: each delivered message an arrow drawn at the tick it arrived, each
 * lost one an arrow ending in a cross (`-x`) at the tick it was lost, and partitions, heals, crashes
 * and restarts as notes. Sends and duplicate decisions are not drawn: a message's arrow carries its
 * send tick, and a duplicate is a second arrow marked `dup`.
 */

import { canonicalJson, type TraceRecord } from './trace.js';

/** Which part of the trace to draw, and how. */
export interface MermaidOptions {
  /** The first tick drawn (inclusive). Default: the start. */
  readonly from?: number;
  /** The last tick drawn (inclusive). Default: the end. */
  readonly to?: number;
  /**
   * The participants, left to right. Default: every endpoint the window mentions, in the order the
   * whole trace first mentions them (so that two windows of one run keep the same columns).
   */
  readonly participants?: readonly string[];
  /** A message's text on its arrow. Default: its `type` if it has a string one, else its JSON, cut short. */
  readonly label?: (msg: unknown) => string;
}

/** The longest default label, in characters; longer JSON is cut and ends in an ellipsis. */
const MAX_LABEL = 40;

/** A name mermaid takes as a participant id as it is; other names get an alias (`participant p0 as x`). */
const PLAIN_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

function defaultLabel(msg: unknown): string {
  if (typeof msg === 'object' && msg !== null && typeof (msg as { type?: unknown }).type === 'string') {
    return (msg as { type: string }).type;
  }
  const json = canonicalJson(msg) ?? String(msg);
  return json.length > MAX_LABEL ? `${json.slice(0, MAX_LABEL - 1)}…` : json;
}

/** Text mermaid shows as written: `;` would end the statement and `#` start an entity, so both are escaped. */
function escapeText(text: string): string {
  return text.replace(/[#;]/g, (char) => `#${char.charCodeAt(0)};`).replace(/\s+/g, ' ');
}

/** The endpoints a record mentions. */
function endpoints(record: TraceRecord): string[] {
  switch (record.kind) {
    case 'partition':
      return record.groups.flat();
    case 'heal':
      return [];
    case 'crash':
    case 'restart':
      return [record.node];
    default:
      return [record.from, record.to];
  }
}

/**
 * The records of `trace` from tick `from` to tick `to` (both included) as a mermaid
 * `sequenceDiagram`, one statement a line, ending in a newline.
 */
export function toMermaid(trace: readonly TraceRecord[], options: MermaidOptions = {}): string {
  const { from = 0, to = Number.POSITIVE_INFINITY, label = defaultLabel } = options;
  const window = trace.filter((record) => record.tick >= from && record.tick <= to);
  const mentioned = new Set(window.flatMap(endpoints));
  const order =
    options.participants ?? [...new Set(trace.flatMap(endpoints))].filter((id) => mentioned.has(id));
  const alias = new Map(order.map((id, index) => [id, PLAIN_ID.test(id) ? id : `p${index}`]));
  const name = (id: string): string => alias.get(id) ?? id;
  const span = order.length > 1 ? `${name(order[0]!)},${name(order.at(-1)!)}` : name(order[0] ?? 'nobody');

  const lines = ['sequenceDiagram'];
  for (const id of order)
    lines.push(name(id) === id ? `  participant ${id}` : `  participant ${name(id)} as ${id}`);
  for (const record of window) {
    const t = `t${record.tick}`;
    switch (record.kind) {
      case 'deliver': {
        const dup = record.copy === 1 ? ', dup' : '';
        const text = `${label(record.msg)} [t${record.sentAt}→${t}${dup}]`;
        lines.push(`  ${name(record.from)}->>${name(record.to)}: ${escapeText(text)}`);
        break;
      }
      case 'drop': {
        const dup = record.copy === 1 ? ', dup' : '';
        const when = record.sentAt === record.tick ? t : `t${record.sentAt}→${t}`;
        const text = `${label(record.msg)} [${when}${dup}, lost: ${record.reason}]`;
        lines.push(`  ${name(record.from)}-x${name(record.to)}: ${escapeText(text)}`);
        break;
      }
      case 'partition': {
        const groups = record.groups.map((group) => group.join(',')).join(' / ');
        lines.push(`  Note over ${span}: ${escapeText(`${t} partition ${record.name}: ${groups}`)}`);
        break;
      }
      case 'heal':
        lines.push(`  Note over ${span}: ${escapeText(`${t} heal ${record.name}`)}`);
        break;
      case 'crash':
        lines.push(
          `  Note over ${name(record.node)}: ${escapeText(`${t} crash, ${record.lost} in flight lost`)}`,
        );
        break;
      case 'restart':
        lines.push(`  Note over ${name(record.node)}: ${escapeText(`${t} restart`)}`);
        break;
      case 'send':
      case 'duplicate':
        break;
    }
  }
  return `${lines.join('\n')}\n`;
}
