import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeEvent,
  errorEvent,
  historyEvent,
  joinedEvent,
  messageEvent,
  type ParseResult,
  parseClientMessage,
  presenceEvent,
} from './protocol.js';

/** fast-check's first run in a process warms up for a second or more; a loaded machine needs room. */
const PROPERTY_TIMEOUT = 30_000;

const parse = (value: unknown) =>
  parseClientMessage(typeof value === 'string' ? value : JSON.stringify(value));

function expectBadRequest(result: ParseResult, why: string) {
  expect(result.ok, `${why}: must be rejected`).toBe(false);
  if (result.ok) return;
  expect(result.error.type, 'a rejection is an error event').toBe('error');
  expect(result.error.code, `${why}: the code must be bad-request`).toBe('bad-request');
  expect(typeof result.error.message, 'the error must say what was wrong').toBe('string');
  expect(result.error.message.length, 'the error message must not be empty').toBeGreaterThan(0);
}

function expectValue(result: ParseResult, why: string) {
  expect(result.ok, `${why}: must be accepted, got ${JSON.stringify(result)}`).toBe(true);
  return result.ok ? result.value : undefined;
}

describe('parsing client messages', () => {
  it('accepts the four request types and returns exactly their fields', () => {
    expect(expectValue(parse({ type: 'join', room: 'general', name: 'Ada' }), 'a join')).toEqual({
      type: 'join',
      room: 'general',
      name: 'Ada',
    });
    expect(expectValue(parse({ type: 'leave', room: 'general' }), 'a leave')).toEqual({
      type: 'leave',
      room: 'general',
    });
    expect(
      expectValue(parse({ type: 'message', room: 'general', text: 'hi', clientId: 'c-1' }), 'a message'),
    ).toEqual({ type: 'message', room: 'general', text: 'hi', clientId: 'c-1' });
    expect(
      expectValue(
        parse({ type: 'history', room: 'general', before: '1700000000000-3', limit: 10 }),
        'a history request',
      ),
    ).toEqual({ type: 'history', room: 'general', before: '1700000000000-3', limit: 10 });
  });

  it('leaves optional fields out when they were not sent, and drops unknown fields', () => {
    const message = expectValue(parse({ type: 'message', room: 'r', text: 'x', extra: 1 }), 'a message');
    expect(message, 'unknown fields are dropped, and no clientId key appears when none was sent').toEqual({
      type: 'message',
      room: 'r',
      text: 'x',
    });
    expect(Object.keys(message ?? {}).sort()).toEqual(['room', 'text', 'type']);
    const history = expectValue(parse({ type: 'history', room: 'r' }), 'a bare history request');
    expect(Object.keys(history ?? {}).sort(), 'no before/limit keys when they were not sent').toEqual([
      'room',
      'type',
    ]);
    const extras = { v: 2, admin: true, note: 'x'.repeat(100) };
    const withExtras: [string, object][] = [
      ['join', { type: 'join', room: 'r', name: 'n' }],
      ['leave', { type: 'leave', room: 'r' }],
      ['message', { type: 'message', room: 'r', text: 'x', clientId: 'c-1' }],
      ['history', { type: 'history', room: 'r', before: '1-0', limit: 5 }],
      ['history', { type: 'history', room: 'r' }],
    ];
    for (const [type, request] of withExtras)
      expect(
        expectValue(parse({ ...extras, ...request }), `a ${type} with extra fields`),
        `a ${type} request with unknown fields: the result holds only its own fields`,
      ).toEqual(request);
  });

  it('rejects malformed JSON and values that are not objects with bad-request', () => {
    for (const raw of ['', '{', 'hello', '{"type":"join",}', 'undefined', "{'type':'join'}"])
      expectBadRequest(parseClientMessage(raw), `the frame ${JSON.stringify(raw)}`);
    for (const value of [null, 42, 'join', true, [], [{ type: 'join', room: 'r', name: 'n' }]])
      expectBadRequest(parse(JSON.stringify(value)), `the JSON value ${JSON.stringify(value)}`);
  });

  it('rejects a missing or unknown type, including names that exist on Object.prototype', () => {
    for (const type of [
      undefined,
      'JOIN',
      'joined',
      'presence',
      'error',
      'toString',
      'constructor',
      '__proto__',
      'hasOwnProperty',
      7,
      null,
    ])
      expectBadRequest(parse({ type, room: 'r', name: 'n', text: 't' }), `type ${String(type)}`);
  });

  it('enforces the room rule: 1-32 of a-z, 0-9 and -', () => {
    for (const room of ['a', 'general', 'room-42', '-', '0', 'a'.repeat(32)])
      for (const type of ['join', 'leave', 'message', 'history'])
        expectValue(parse({ type, room, name: 'n', text: 't' }), `${type} with room ${room}`);
    for (const room of [
      '',
      'a'.repeat(33),
      'General',
      'a b',
      'a_b',
      'é',
      'a/b',
      'a\n',
      42,
      null,
      undefined,
      ['a'],
    ])
      for (const type of ['join', 'leave', 'message', 'history'])
        expectBadRequest(
          parse({ type, room, name: 'n', text: 't' }),
          `${type} with room ${JSON.stringify(room)}`,
        );
  });

  it('enforces the name rule: 1-32 printable characters, counted as a person counts them', () => {
    for (const name of ['A', 'Ada Lovelace', 'x'.repeat(32), '😀'.repeat(32), 'Zoë', '李雷', '<b>hi</b>'])
      expectValue(parse({ type: 'join', room: 'r', name }), `the name ${JSON.stringify(name)}`);
    for (const name of [
      '',
      'x'.repeat(33),
      '😀'.repeat(33),
      'a\nb',
      'tab\there',
      '\u0000',
      'bell\u0007',
      'del\u007f',
      'c1\u0085',
      7,
      null,
      undefined,
      {},
    ])
      expectBadRequest(parse({ type: 'join', room: 'r', name }), `the name ${JSON.stringify(name)}`);
  });

  it('enforces the text rule: 1-2000 characters (newlines are fine)', () => {
    for (const text of ['x', 'line 1\nline 2', 'x'.repeat(2000), '😀'.repeat(2000)])
      expectValue(parse({ type: 'message', room: 'r', text }), `a text of ${[...text].length} characters`);
    for (const text of ['', 'x'.repeat(2001), '😀'.repeat(2001), 5, null, undefined, ['x']])
      expectBadRequest(
        parse({ type: 'message', room: 'r', text }),
        `text ${typeof text === 'string' ? `of ${[...text].length} characters` : JSON.stringify(text)}`,
      );
  });

  it('checks clientId when it is present: a string of 1-64 characters', () => {
    expectValue(
      parse({ type: 'message', room: 'r', text: 't', clientId: 'x'.repeat(64) }),
      'a 64-char clientId',
    );
    expectValue(parse({ type: 'message', room: 'r', text: 't', clientId: '😀'.repeat(64) }), '64 emoji');
    expectValue(parse({ type: 'message', room: 'r', text: 't', clientId: 'x' }), 'a 1-char clientId');
    for (const clientId of ['', 'x'.repeat(65), '😀'.repeat(65), 17, 0, false, null, {}, ['c-1']])
      expectBadRequest(
        parse({ type: 'message', room: 'r', text: 't', clientId }),
        `clientId ${JSON.stringify(clientId)}`,
      );
  });

  it('checks before (a message id) and limit (an integer from 1 to 50) when present', () => {
    for (const before of ['0-0', '1700000000000-0', '1700000000000-12'])
      expectValue(parse({ type: 'history', room: 'r', before }), `before ${before}`);
    for (const limit of [1, 25, 50])
      expectValue(parse({ type: 'history', room: 'r', limit }), `limit ${limit}`);
    for (const before of ['', 'abc', '17', '-1', '1-', '1-2-3', ' 1-2', '1-2 ', 12, null, ['1-2']])
      expectBadRequest(parse({ type: 'history', room: 'r', before }), `before ${JSON.stringify(before)}`);
    for (const limit of [0, 51, -1, 1.5, 50.5, 1e3, '10', false, true, null, Number.NaN, [10]])
      expectBadRequest(parse({ type: 'history', room: 'r', limit }), `limit ${JSON.stringify(limit)}`);
  });

  it(
    'never throws on arbitrary strings, and junk is always bad-request',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ maxLength: 200 }),
            fc.string({ unit: 'binary-ascii', maxLength: 200 }),
            fc.string({ unit: 'binary', maxLength: 20 }), // any code point, lone surrogates too
          ),
          (raw) => {
            const result = parseClientMessage(raw);
            if (result.ok || result.error.code !== 'bad-request') {
              expect.fail(
                `the junk ${JSON.stringify(raw)} must give bad-request, got ${JSON.stringify(result)}`,
              );
            }
          },
        ),
        { numRuns: 500 },
      );
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'never throws on arbitrary JSON values, and anything without a valid request shape is bad-request',
    () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const result = parse(JSON.stringify(value));
          expect(result.ok, `the value ${JSON.stringify(value)} was accepted`).toBe(false);
          if (!result.ok) expect(result.error.code).toBe('bad-request');
        }),
        { numRuns: 500 },
      );
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'never throws on requests with a known type and junk fields, and accepts exactly the valid ones',
    () => {
      const junk = fc.oneof(fc.jsonValue(), fc.string({ maxLength: 40 }), fc.integer());
      const fieldsOf: Record<string, string[]> = {
        join: ['room', 'name'],
        leave: ['room'],
        message: ['room', 'text', 'clientId'],
        history: ['room', 'before', 'limit'],
      };
      fc.assert(
        fc.property(
          fc.constantFrom('join', 'leave', 'message', 'history'),
          fc.record(
            { room: junk, name: junk, text: junk, clientId: junk, before: junk, limit: junk, extra: junk },
            { requiredKeys: [] },
          ),
          (type, fields) => {
            const sent: Record<string, unknown> = { type, ...fields };
            const result = parse(sent);
            if (!result.ok) {
              expect(result.error.code).toBe('bad-request');
              return;
            }
            expect(result.value.type, 'an accepted request keeps its type').toBe(type);
            for (const [key, value] of Object.entries(result.value)) {
              if (key === 'type') continue;
              expect(fieldsOf[type], `a ${type} request carries no "${key}" field`).toContain(key);
              expect(value, `${key} is passed on exactly as it was sent`).toEqual(sent[key]);
            }
          },
        ),
        { numRuns: 500 },
      );
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'accepts every well-formed request it could be sent (property)',
    () => {
      const room = fc.stringMatching(/^[a-z0-9-]{1,32}$/);
      const printable = fc
        .string({ minLength: 1, maxLength: 32, unit: 'grapheme-ascii' })
        .filter((s) => !/\p{Cc}/u.test(s));
      fc.assert(
        fc.property(room, printable, fc.string({ minLength: 1, maxLength: 300 }), (r, name, text) => {
          expect(parse({ type: 'join', room: r, name }).ok, `join ${r} as ${JSON.stringify(name)}`).toBe(
            true,
          );
          expect(parse({ type: 'message', room: r, text }).ok, `message ${JSON.stringify(text)}`).toBe(true);
        }),
        { numRuns: 300 },
      );
    },
    PROPERTY_TIMEOUT,
  );
});

describe('building server events', () => {
  const sample = () => messageEvent({ room: 'r', id: '1-0', from: 'Ada', text: 'hi', ts: 1700000000000 });

  it('builds message events, with clientId only when there is one', () => {
    const message = sample();
    expect(message).toEqual({
      type: 'message',
      room: 'r',
      id: '1-0',
      from: 'Ada',
      text: 'hi',
      ts: 1700000000000,
    });
    expect('clientId' in message, 'no clientId key when there is none').toBe(false);
    const undefinedId = messageEvent({
      room: 'r',
      id: '1-0',
      from: 'Ada',
      text: 'hi',
      ts: 1,
      clientId: undefined,
    });
    expect('clientId' in undefinedId, 'clientId: undefined is "none" too: no key').toBe(false);
    expect(messageEvent({ room: 'r', id: '2-0', from: 'Bob', text: 'yo', ts: 5, clientId: 'c-9' })).toEqual({
      type: 'message',
      room: 'r',
      id: '2-0',
      from: 'Bob',
      text: 'yo',
      ts: 5,
      clientId: 'c-9',
    });
  });

  it('lists members once each, sorted', () => {
    const message = sample();
    expect(presenceEvent('r', ['zoe', 'Ada', 'bob', 'zoe'])).toEqual({
      type: 'presence',
      room: 'r',
      members: ['Ada', 'bob', 'zoe'],
    });
    expect(joinedEvent('r', new Set(['b', 'a']), [message])).toEqual({
      type: 'joined',
      room: 'r',
      members: ['a', 'b'],
      history: [message],
    });
    expect(joinedEvent('r', ['x', 'x'], []).members, 'duplicates appear once in joined too').toEqual(['x']);
  });

  it('builds history and error events', () => {
    const message = sample();
    expect(historyEvent('r', [message])).toEqual({ type: 'history', room: 'r', messages: [message] });
    expect(errorEvent('not-in-room', 'join r first')).toEqual({
      type: 'error',
      code: 'not-in-room',
      message: 'join r first',
    });
  });

  it('encodes an event as the JSON text of one frame', () => {
    const event = presenceEvent('r', ['a']);
    expect(JSON.parse(encodeEvent(event)), 'the frame must be the JSON of the event').toEqual(event);
    expect(JSON.parse(encodeEvent(sample()))).toEqual(sample());
  });
});
