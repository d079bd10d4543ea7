/**
 * Histories: JSON lines parsed with the line of every mistake named, invokes paired with their
 * completions (fail dropped, info and never-completed invokes open-ended, the nemesis skipped), and
 * the timeline a witness is drawn as.
 */
import { describe, expect, it } from 'vitest';
import { drawTimeline, HistoryError, pairOperations, parseHistory } from '../history.js';
import { register } from '../models.js';

/** JSON lines from objects. */
const jsonl = (...events: object[]): string => events.map((event) => JSON.stringify(event)).join('\n');

describe('parseHistory', () => {
  it('reads one event a line, skipping blank lines, and remembers each line', () => {
    const events = parseHistory(
      `${jsonl({ process: 0, type: 'invoke', f: 'write', value: 3 })}\n\n${jsonl({ process: 0, type: 'ok', f: 'write', value: 3 })}\n`,
    );
    expect(events).toEqual([
      { process: 0, type: 'invoke', f: 'write', value: 3, key: undefined, result: undefined, line: 1 },
      { process: 0, type: 'ok', f: 'write', value: 3, key: undefined, result: undefined, line: 3 },
    ]);
  });

  it.each([
    ['{"process":0,"type":"invoke","f":"read"', /^line 2: not JSON/],
    ['[1, 2]', /^line 2: expected a JSON object/],
    ['{"type":"invoke","f":"read"}', /^line 2: "process" must be a number or a string, got nothing/],
    [
      '{"process":0,"type":"start","f":"read"}',
      /^line 2: "type" must be "invoke", "ok", "fail" or "info", got "start"/,
    ],
    ['{"process":0,"type":"invoke","f":3}', /^line 2: "f" must be a string, got 3/],
  ])('names the line of a malformed event: %s', (bad, message) => {
    const text = `${jsonl({ process: 1, type: 'invoke', f: 'read' })}\n${bad}`;
    expect(() => parseHistory(text)).toThrow(message);
    expect(() => parseHistory(text)).toThrow(HistoryError);
  });
});

describe('pairOperations', () => {
  it('pairs invokes with completions; fail is dropped, info and a missing completion are open-ended', () => {
    const ops = pairOperations(
      parseHistory(
        jsonl(
          { process: 0, type: 'invoke', f: 'write', value: 1 },
          { process: 1, type: 'invoke', f: 'read', value: null },
          { process: 'nemesis', type: 'info', f: 'start', value: 'partition' },
          { process: 0, type: 'ok', f: 'write', value: 1 },
          { process: 1, type: 'ok', f: 'read', value: 1 },
          { process: 2, type: 'invoke', f: 'write', value: 2 },
          { process: 2, type: 'fail', f: 'write', value: 2 },
          { process: 2, type: 'invoke', f: 'cas', value: [1, 3] },
          { process: 2, type: 'info', f: 'cas', value: [1, 3] },
          { process: 3, type: 'invoke', f: 'write', value: 4 },
        ),
      ),
    );
    expect(ops.map((op) => [op.process, op.f, op.status, op.call, op.ret, op.output])).toEqual([
      [0, 'write', 'ok', 0, 3, 1],
      [1, 'read', 'ok', 1, 4, 1],
      [2, 'cas', 'info', 7, Number.POSITIVE_INFINITY, undefined],
      [3, 'write', 'info', 9, Number.POSITIVE_INFINITY, undefined],
    ]);
    expect(ops.map((op) => op.id)).toEqual([0, 1, 2, 3]);
    expect(ops[0]).toMatchObject({ callLine: 1, retLine: 4 });
    expect(ops[3]!.retLine).toBeUndefined();
  });

  it.each([
    [
      [{ process: 0, type: 'ok', f: 'read', value: 1 }],
      /^line 1: ok read by process 0, which has no invoke pending/,
    ],
    [
      [
        { process: 0, type: 'invoke', f: 'read' },
        { process: 0, type: 'invoke', f: 'write', value: 1 },
      ],
      /^line 2: process 0 invokes write while its read invoked at line 1 has not completed/,
    ],
    [
      [
        { process: 0, type: 'invoke', f: 'read' },
        { process: 0, type: 'ok', f: 'write', value: 1 },
      ],
      /^line 2: process 0 completes write, but its invoke at line 1 was read/,
    ],
  ])('refuses events that do not pair (%#)', (events, message) => {
    expect(() => pairOperations(parseHistory(jsonl(...events)))).toThrow(message);
  });
});

describe('drawTimeline', () => {
  it('draws one row per process, a bar that ends before another starts left of it, info running off', () => {
    const ops = pairOperations(
      parseHistory(
        jsonl(
          { process: 0, type: 'invoke', f: 'write', value: 1 },
          { process: 0, type: 'ok', f: 'write', value: 1 },
          { process: 1, type: 'invoke', f: 'read' },
          { process: 2, type: 'invoke', f: 'write', value: 2 },
          { process: 1, type: 'ok', f: 'read', value: 2 },
        ),
      ),
    );
    const picture = drawTimeline(ops, register.describe);
    const [first, second, third] = picture.split('\n');
    expect(first).toMatch(/^process 0 {2}\[ write 1 -*\]$/);
    expect(second).toMatch(/^process 1 +\[ read → 2 -*\]$/);
    expect(third).toMatch(/^process 2 +\[ write 2 \? -*\.\.\.$/);
    expect(second!.indexOf('[')).toBeGreaterThan(first!.indexOf(']'));
    expect(drawTimeline([], register.describe)).toBe('');
  });
});
