import { AsyncLocalStorage } from 'node:async_hooks';
import os from 'node:os';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  CIRCULAR,
  createLogger,
  LEVELS,
  type Level,
  type LoggerOptions,
  MAX_CAUSE_DEPTH,
  REDACTED,
  TRUNCATED,
} from './logger.js';

const T0 = 1_700_000_000_000;

/** A destination that accepts every write at once and keeps what it was given. */
function collector() {
  const chunks: string[] = [];
  const destination = new Writable({
    decodeStrings: false,
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return {
    destination,
    /** Everything written, as text. */
    text: () => chunks.join(''),
    /** The lines written, parsed. */
    records: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

function setup(options: Partial<LoggerOptions> = {}) {
  const out = collector();
  const logger = createLogger({ destination: out.destination, clock: () => T0, ...options });
  return { ...out, logger };
}

const LEVEL_NAMES: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

describe('structured logs: levels and the line', () => {
  it("uses pino's level numbers", () => {
    expect(LEVELS, 'trace..fatal must be 10, 20, 30, 40, 50, 60 as in pino').toEqual({
      trace: 10,
      debug: 20,
      info: 30,
      warn: 40,
      error: 50,
      fatal: 60,
    });
    for (const name of LEVEL_NAMES)
      expect(LEVELS[name], `${name} must have pino's number`).toBe(pino.levels.values[name]);
    const { logger, records } = setup({ level: 'trace' });
    for (const name of LEVEL_NAMES) logger[name]('x');
    expect(
      records().map((r) => r.level),
      'each method writes its level number',
    ).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('writes one JSON line per call, ending in a newline, with level, time, pid, hostname, then msg', () => {
    const { logger, text } = setup();
    logger.info('hello');
    expect(text(), 'one line, newline-terminated, fields in the stated order').toBe(
      `{"level":30,"time":${T0},"pid":${process.pid},"hostname":${JSON.stringify(os.hostname())},"msg":"hello"}\n`,
    );
  });

  it("writes only the levels at or above the logger's level (default info)", () => {
    const { logger, records } = setup();
    for (const name of LEVEL_NAMES) logger[name](`at ${name}`);
    expect(
      records().map((r) => [r.level, r.msg]),
      'with the default level, trace and debug write nothing and the others write their own number',
    ).toEqual([
      [30, 'at info'],
      [40, 'at warn'],
      [50, 'at error'],
      [60, 'at fatal'],
    ]);
    const warn = setup({ level: 'warn' });
    for (const name of LEVEL_NAMES) warn.logger[name](`at ${name}`);
    expect(
      warn.records().map((r) => r.level),
      "level 'warn' writes warn, error and fatal",
    ).toEqual([40, 50, 60]);
    const trace = setup({ level: 'trace' });
    for (const name of LEVEL_NAMES) trace.logger[name](`at ${name}`);
    expect(
      trace.records().map((r) => r.level),
      "level 'trace' writes everything",
    ).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('isLevelEnabled says which levels are written', () => {
    const { logger } = setup({ level: 'warn' });
    expect(
      LEVEL_NAMES.map((name) => logger.isLevelEnabled(name)),
      "with level 'warn', only warn, error and fatal are enabled",
    ).toEqual([false, false, false, true, true, true]);
    const child = logger.child({ a: 1 });
    expect(child.isLevelEnabled('info'), 'a child has the level of its parent').toBe(false);
    expect(child.isLevelEnabled('error')).toBe(true);
  });

  it('below the level, neither the object nor context() is read', () => {
    let reads = 0;
    let contextCalls = 0;
    const { logger, text } = setup({
      level: 'warn',
      context: () => {
        contextCalls++;
        return { requestId: 'r1' };
      },
    });
    const object = {
      get expensive() {
        reads++;
        return 'computed';
      },
    };
    logger.info(object, 'not written');
    logger.debug(object);
    logger.child({ a: 1 }).info(object);
    expect(reads, 'a disabled level must return before serializing the object (the getter ran)').toBe(0);
    expect(contextCalls, 'a disabled level must not call context()').toBe(0);
    expect(text(), 'nothing is written below the level').toBe('');
    logger.warn(object);
    expect(reads, 'an enabled level reads the object once').toBe(1);
    expect(contextCalls, 'an enabled level calls context() once').toBe(1);
  });

  it.each(['verbose', 'INFO', ''])('rejects level %j with a RangeError that names it', (level) => {
    const { destination } = collector();
    expect(
      () => createLogger({ destination, level: level as Level }),
      `level ${level} is not a level`,
    ).toThrow(RangeError);
    expect(() => createLogger({ destination, level: level as Level })).toThrow(JSON.stringify(level));
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects maxBufferedBytes %s with a RangeError that names the option',
    (maxBufferedBytes) => {
      const { destination } = collector();
      expect(() => createLogger({ destination, maxBufferedBytes }), 'not a positive integer').toThrow(
        RangeError,
      );
      expect(() => createLogger({ destination, maxBufferedBytes })).toThrow('maxBufferedBytes');
    },
  );

  it('writes the fields in order: core, context, bindings, object, msg; the latest source wins a shared key', () => {
    const { logger, text } = setup({ context: () => ({ requestId: 'r1', shared: 'context' }) });
    logger
      .child({ service: 'api', shared: 'parent' })
      .child({ shared: 'child', version: 2 })
      .info({ userId: 7, shared: 'object' }, 'done');
    const core = `"level":30,"time":${T0},"pid":${process.pid},"hostname":${JSON.stringify(os.hostname())}`;
    expect(
      text(),
      'context, then bindings (parent first), then the object, then msg; a repeated key keeps its first place and its last value',
    ).toBe(
      `{${core},"requestId":"r1","shared":"object","service":"api","version":2,"userId":7,"msg":"done"}\n`,
    );
  });

  it('ignores level, time, pid, hostname and msg given in the context, bindings or object', () => {
    const { logger, records } = setup({ context: () => ({ time: 1, pid: 2 }) });
    logger.child({ hostname: 'fake', level: 99 }).warn({ msg: 'sneaky', level: 10, ok: true }, 'real');
    const [record] = records();
    expect(record, 'the logger owns the core fields and msg').toEqual({
      level: 40,
      time: T0,
      pid: process.pid,
      hostname: os.hostname(),
      ok: true,
      msg: 'real',
    });
    logger.info({ msg: 'not a message', ok: false });
    expect(
      records()[1]?.msg,
      "an object's msg is ignored even when the call gives no message",
    ).toBeUndefined();
  });

  it('a null first argument (from untyped code) adds no fields and does not throw', () => {
    const { logger, records } = setup();
    expect(() => logger.info(null as unknown as object, 'still logged')).not.toThrow();
    expect(records()[0]?.msg).toBe('still logged');
  });

  it('writes byte for byte what pino 10 writes for plain values', () => {
    const ours = setup({ level: 'trace' });
    const theirs: string[] = [];
    const pinoLogger = pino(
      { level: 'trace', timestamp: () => `,"time":${T0}` },
      new Writable({
        decodeStrings: false,
        write(chunk, _e, cb) {
          theirs.push(String(chunk));
          cb();
        },
      }),
    );
    const script = (log: {
      info(o: object | string, m?: string): void;
      warn(o: object | string, m?: string): void;
      child(b: Record<string, unknown>): { debug(o: object | string, m?: string): void };
    }) => {
      log.info('plain message');
      log.info({ a: 1, b: 'two', c: [1, 'x', null], d: { e: true, f: { g: 1.5 } } }, 'with fields');
      log.warn({ quote: 'say "hi"\\', unicode: 'café ☕', empty: {} });
      log.child({ service: 'billing', shard: 3 }).debug({ invoice: 'A-1' }, 'from a child');
    };
    script(ours.logger);
    script(pinoLogger);
    expect(ours.text().split('\n'), 'the same lines as pino').toEqual(theirs.join('').split('\n'));
  });
});

describe('structured logs: messages and values', () => {
  it('escapes newlines in messages and fields so a message can never forge a second line', () => {
    const { logger, text, records } = setup();
    const forged = `login failed\n{"level":60,"msg":"admin logged in"}\r\n`;
    logger.info({ user: 'eve\nroot', note: 'a\\b "c"\t' }, forged);
    expect(text().split('\n'), 'exactly one line, then the final empty piece').toHaveLength(2);
    expect(text(), 'no raw carriage return either').not.toContain('\r');
    const [record] = records();
    expect(record?.msg, 'the message reads back unchanged').toBe(forged);
    expect(record?.user).toBe('eve\nroot');
    expect(record?.note).toBe('a\\b "c"\t');
  });

  it('serializes an Error passed as the object as err, with type, message, stack and its own fields', () => {
    const { logger, records } = setup();
    class HttpError extends Error {
      constructor(
        message: string,
        readonly statusCode: number,
      ) {
        super(message);
      }
    }
    const error = Object.assign(new HttpError('upstream timed out', 504), { code: 'ETIMEDOUT' });
    logger.error(error);
    logger.error(error, 'payment failed');
    const [first, second] = records();
    expect(first?.err, 'type is the constructor name; own enumerable fields are kept').toEqual({
      type: 'HttpError',
      message: 'upstream timed out',
      stack: error.stack,
      statusCode: 504,
      code: 'ETIMEDOUT',
    });
    expect(first?.msg, "without a message, msg is the error's message").toBe('upstream timed out');
    expect(second?.msg, 'with a message, msg is that message').toBe('payment failed');
    expect(second?.err).toEqual(first?.err);
  });

  it('writes an error as type, message, stack, its own fields, then cause; type falls back to name', () => {
    const { logger, records } = setup();
    const root = new Error('root');
    const error = Object.assign(new Error('outer'), { cause: root, code: 'E_OUTER' });
    const anonymous = new (class extends Error {})('nameless');
    anonymous.name = 'ValidationError';
    logger.error({ err: error, other: anonymous });
    const [record] = records() as [Record<string, any>];
    expect(Object.keys(record.err), 'the stated order, cause last').toEqual([
      'type',
      'message',
      'stack',
      'code',
      'cause',
    ]);
    expect(record.other.type, "an anonymous class has no constructor name: the error's name is used").toBe(
      'ValidationError',
    );
  });

  it('serializes Errors nested anywhere: as err, deeper in an object, in an array', () => {
    const { logger, records } = setup();
    const err = new TypeError('bad input');
    logger.warn({ err, job: { id: 1, failure: new RangeError('too big') }, all: [new Error('x')] });
    const [record] = records() as [Record<string, any>];
    expect(record.err, 'a nested err field is an error, not {}').toEqual({
      type: 'TypeError',
      message: 'bad input',
      stack: err.stack,
    });
    expect(record.job.failure.type, 'an Error deeper in the object is serialized too').toBe('RangeError');
    expect(record.job.failure.message).toBe('too big');
    expect(record.all[0].message, 'an Error inside an array is serialized too').toBe('x');
  });

  it('follows cause chains, and stops after MAX_CAUSE_DEPTH causes', () => {
    const { logger, records } = setup();
    const root = new Error('connection reset');
    const middle = new Error('query failed', { cause: root });
    const top = new Error('order not saved', { cause: middle });
    logger.error(top);
    let chain = top;
    for (let i = 0; i < 50; i++) chain = new Error(`wrap ${i}`, { cause: chain });
    logger.error(chain);
    const selfCaused = new Error('loop');
    selfCaused.cause = selfCaused;
    logger.error(selfCaused);
    const [first, long, loop] = records() as [Record<string, any>, Record<string, any>, Record<string, any>];
    expect(first.err.cause.message, 'the cause is serialized as an error').toBe('query failed');
    expect(first.err.cause.cause.message, 'and its cause too').toBe('connection reset');
    expect(first.err.cause.cause.type).toBe('Error');
    expect(first.err.cause.cause.cause, 'the chain ends where the causes end').toBeUndefined();
    let node = long.err;
    for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
      expect(typeof node.cause, `cause ${depth + 1} of ${MAX_CAUSE_DEPTH} is written in full`).toBe('object');
      node = node.cause;
    }
    expect(node.cause, `after ${MAX_CAUSE_DEPTH} causes the next one is the truncation marker`).toBe(
      '[Truncated]',
    );
    expect(TRUNCATED).toBe('[Truncated]');
    expect(loop.err.cause, 'an error that is its own cause is a cycle').toBe(CIRCULAR);
    let exact = new Error('deepest');
    for (let i = 0; i < MAX_CAUSE_DEPTH; i++) exact = new Error(`level ${i}`, { cause: exact });
    logger.error(exact);
    let cursor = records()[3]?.err as Record<string, any>;
    for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) cursor = cursor.cause;
    expect(cursor.message, `a chain of exactly ${MAX_CAUSE_DEPTH} causes is written whole`).toBe('deepest');
    expect('cause' in cursor, 'and its last error, which has no cause, gets no marker').toBe(false);
  });

  it('replaces a cycle with the circular marker instead of throwing; repeated siblings are written twice', () => {
    const { logger, records } = setup();
    const order: Record<string, unknown> = { id: 'o1' };
    order.self = order;
    const items: unknown[] = [order];
    order.items = items;
    const shared = { sku: 'A' };
    expect(
      () => logger.info({ order, pair: [shared, shared] }, 'cyclic'),
      'a cycle must not throw',
    ).not.toThrow();
    const [record] = records() as [Record<string, any>];
    expect(record.order, 'each way back into an object being written is the marker').toEqual({
      id: 'o1',
      self: '[Circular]',
      items: [CIRCULAR],
    });
    const top: Record<string, unknown> = { name: 'top' };
    top.self = top;
    logger.info(top);
    expect(records()[1]?.self, 'a field pointing back at the logged object itself is a cycle').toBe(CIRCULAR);
    expect(record.pair, 'an object seen twice side by side is not a cycle').toEqual([
      { sku: 'A' },
      { sku: 'A' },
    ]);
    expect(record.msg).toBe('cyclic');
  });

  it('writes BigInt as a decimal string, symbols as strings, leaves out undefined and functions', () => {
    const { logger, text } = setup();
    logger.info({
      big: 12345678901234567890n,
      sym: Symbol('id'),
      gone: undefined,
      fn: () => 1,
      list: [undefined, 2n, () => 1],
      when: new Date(T0),
    });
    expect(
      text(),
      'BigInt → "digits", symbol → "Symbol(desc)", undefined and functions omitted (null in arrays), Date as ISO',
    ).toContain(
      `"big":"12345678901234567890","sym":"Symbol(id)","list":[null,"2",null],"when":"${new Date(T0).toISOString()}"}`,
    );
  });
});

describe('structured logs: redaction', () => {
  it('redacts top-level and nested paths of any depth, without touching siblings', () => {
    const { logger, records } = setup({
      redact: ['password', 'req.headers.authorization', 'a.b.c.d', 'card', 'req.headers.cookie'],
    });
    logger.info({
      user: 'ann',
      password: 'hunter2',
      req: { method: 'GET', headers: { authorization: 'Bearer secret', accept: 'json', cookie: 'sid=1' } },
      a: { b: { c: { d: 'deep secret', e: 'kept' } } },
      card: { number: '4111', cvc: '123' },
    });
    expect(
      records()[0],
      'each listed path holds the marker; whole subtrees too; the rest is unchanged',
    ).toEqual({
      level: 30,
      time: T0,
      pid: process.pid,
      hostname: os.hostname(),
      user: 'ann',
      password: '[Redacted]',
      req: { method: 'GET', headers: { authorization: REDACTED, accept: 'json', cookie: REDACTED } },
      a: { b: { c: { d: REDACTED, e: 'kept' } } },
      card: REDACTED,
    });
  });

  it("never modifies the caller's object", () => {
    const { logger } = setup({ redact: ['password', 'req.headers.authorization'] });
    const input = { password: 'hunter2', req: { headers: { authorization: 'Bearer secret' } } };
    const before = structuredClone(input);
    logger.info(input, 'login');
    expect(input, "redaction works on the copy being written, not on the caller's object").toEqual(before);
  });

  it('adds nothing for a path that is not there, and redacts context fields, bindings and error fields', () => {
    const { logger, records } = setup({
      redact: ['password', 'token', 'err.secret', 'session.id'],
      context: () => ({ token: 'ctx-token', requestId: 'r1' }),
    });
    const err = Object.assign(new Error('denied'), { secret: 's3', code: 'E' });
    logger.child({ session: { id: 'sess-1', user: 'ann' } }).warn({ err });
    const [record] = records() as [Record<string, any>];
    expect(record.password, 'a missing path adds no field').toBeUndefined();
    expect('password' in record).toBe(false);
    expect(record.token, 'context fields are redacted').toBe(REDACTED);
    expect(record.requestId).toBe('r1');
    expect(record.session, 'bindings are redacted').toEqual({ id: REDACTED, user: 'ann' });
    expect(record.err.secret, "an error's own fields are redacted").toBe(REDACTED);
    expect(record.err.code).toBe('E');
  });

  it.each([[''], ['a..b'], ['.a'], ['a.'], [42]])(
    'rejects the redact path %j with a TypeError naming it',
    (p) => {
      const path = p as string;
      const { destination } = collector();
      expect(
        () => createLogger({ destination, redact: [path] }),
        `${JSON.stringify(path)} is not a path`,
      ).toThrow(TypeError);
      expect(() => createLogger({ destination, redact: [path] })).toThrow(JSON.stringify(path));
    },
  );
});

describe('structured logs: children and the request context', () => {
  it("child loggers add bindings, a child's win, and the parent is unchanged", () => {
    const { logger, records } = setup();
    const child = logger.child({ service: 'api', region: 'eu' });
    const grandchild = child.child({ region: 'us', worker: 3 });
    grandchild.info('from the grandchild');
    child.info('from the child');
    logger.info('from the parent');
    const [g, c, p] = records();
    expect(g, 'the grandchild carries both bindings, its own region winning').toMatchObject({
      service: 'api',
      region: 'us',
      worker: 3,
    });
    expect(c, 'the child keeps its own region').toMatchObject({ service: 'api', region: 'eu' });
    expect(c?.worker, 'a child never sees its own child’s bindings').toBeUndefined();
    expect(p?.service, 'the parent never sees its child’s bindings').toBeUndefined();
  });

  it('every line of a child carries the context fields', () => {
    const als = new AsyncLocalStorage<{ requestId: string; traceId: string }>();
    const { logger, records } = setup({ context: () => als.getStore() });
    const child = logger.child({ component: 'db' });
    als.run({ requestId: 'req-1', traceId: 'trace-1' }, () => {
      child.info('query');
      child.child({ table: 'users' }).warn('slow');
    });
    child.info('outside');
    const [a, b, c] = records();
    expect(a, 'a child reads the same context as its parent').toMatchObject({
      requestId: 'req-1',
      traceId: 'trace-1',
      component: 'db',
    });
    expect(b, 'a grandchild too').toMatchObject({ requestId: 'req-1', traceId: 'trace-1', table: 'users' });
    expect(c?.requestId, 'outside a context, no context fields').toBeUndefined();
  });

  it('100 concurrent requests: every line carries its own requestId and traceId, none bleeds', async () => {
    const als = new AsyncLocalStorage<{ requestId: string; traceId: string }>();
    const { logger, records } = setup({ context: () => als.getStore() });
    const handle = async (i: number) => {
      const log = i % 2 === 0 ? logger : logger.child({ handler: 'even-odd' });
      log.info({ i }, 'start');
      await sleep(i % 7);
      log.info({ i }, 'after a timer');
      await nextTurn();
      await Promise.all([sleep(i % 3).then(() => log.info({ i }, 'in Promise.all')), Promise.resolve()]);
      log.info({ i }, 'end');
    };
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        als.run({ requestId: `req-${i}`, traceId: `trace-${i}` }, () => handle(i)),
      ),
    );
    const lines = records();
    expect(lines, '4 lines per request').toHaveLength(400);
    for (const line of lines) {
      expect(
        [line.requestId, line.traceId],
        `the line of request ${line.i} ("${line.msg}") must carry that request's ids`,
      ).toEqual([`req-${line.i}`, `trace-${line.i}`]);
    }
  });
});
