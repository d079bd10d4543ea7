import { describe, expect, it } from 'vitest';
import { toMermaid } from '../mermaid.js';
import { type NodeFactory, simulate } from '../simulation.js';
import type { TraceRecord } from '../trace.js';

type PingMsg = { readonly type: 'ping' | 'pong'; readonly n: number };

/** Pings `b` every 3 ticks before tick 12. */
const pinger: NodeFactory<PingMsg> = (context) => ({
  onMessage() {},
  onTick() {
    const t = context.now();
    if (t % 3 === 0 && t < 12) context.send('b', { type: 'ping', n: t / 3 });
  },
});

/** Answers each ping with a pong of the same number. */
const echo: NodeFactory<PingMsg> = (context) => ({
  onMessage(from, msg) {
    if (msg.type === 'ping') context.send(from, { type: 'pong', n: msg.n });
  },
});

const pingPong = () =>
  simulate(
    1,
    {
      nodes: { a: pinger, b: echo },
      network: { latency: { min: 2, max: 2 } },
      faults: [
        { at: 4, kind: 'partition', name: 'cut', groups: [['a'], ['b']] },
        { at: 7, kind: 'heal', name: 'cut' },
        { at: 10, kind: 'crash', node: 'b' },
        { at: 13, kind: 'restart', node: 'b' },
      ],
    },
    16,
  ).trace;

describe('toMermaid', () => {
  it('draws a small run: arrows for deliveries, crosses for losses, notes for partitions and crashes', () => {
    expect(toMermaid(pingPong())).toBe(
      [
        'sequenceDiagram',
        '  participant a',
        '  participant b',
        '  a->>b: ping [t0→t2]',
        '  Note over a,b: t4 partition cut: a / b',
        '  b-xa: pong [t2→t4, lost: partition]',
        '  a-xb: ping [t3→t5, lost: partition]',
        '  a-xb: ping [t6, lost: partition]',
        '  Note over a,b: t7 heal cut',
        '  Note over b: t10 crash, 1 in flight lost',
        '  a-xb: ping [t9→t10, lost: crash]',
        '  Note over b: t13 restart',
        '',
      ].join('\n'),
    );
  });

  it('trims to a tick range', () => {
    const text = toMermaid(pingPong(), { from: 7, to: 11 });
    expect(text).toContain('Note over a,b: t7 heal cut');
    expect(text).not.toContain('t4 partition');
    expect(text).not.toContain('[t0→t2]');
  });

  it('escapes ; and #, aliases names mermaid would misread, and takes a custom label', () => {
    const trace: TraceRecord[] = [
      { kind: 'deliver', tick: 3, id: 0, from: 'node-1', to: 'c1', msg: { v: 'a;b#c' }, sentAt: 1, copy: 1 },
      { kind: 'crash', tick: 4, node: 'node-1', lost: 2 },
      { kind: 'restart', tick: 6, node: 'node-1' },
    ];
    expect(toMermaid(trace)).toBe(
      [
        'sequenceDiagram',
        '  participant p0 as node-1',
        '  participant c1',
        '  p0->>c1: {"v":"a#59;b#35;c"} [t1→t3, dup]',
        '  Note over p0: t4 crash, 2 in flight lost',
        '  Note over p0: t6 restart',
        '',
      ].join('\n'),
    );
    expect(toMermaid(trace, { label: () => 'value', participants: ['c1', 'node-1'] })).toContain(
      '  p1->>c1: value [t1→t3, dup]',
    );
  });
});
