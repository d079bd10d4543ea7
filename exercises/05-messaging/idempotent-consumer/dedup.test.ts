import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deferred, sleep, useRedis, waitFor } from '../../../src/testing/index.js';
import { keysUnder, message, reached, settle, tap, useConsumers } from './harness.js';
import {
  ConsumerClosedError,
  createIdempotentConsumer,
  EffectCommandError,
  type Handler,
  IdempotencyKeyReusedError,
  type IdempotentConsumerOptions,
  MAX_ID_LENGTH,
  type Message,
} from './idempotent-consumer.js';

const redis = useRedis();
const consumers = useConsumers(redis);

const sha256 = (body: string) => createHash('sha256').update(body, 'utf8').digest('hex');

/** The counting effect, plus a tally of handler calls per message id. */
function countedHandler(): { handler: Handler; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  return {
    calls,
    handler: (m, tx) => {
      calls.set(m.id, (calls.get(m.id) ?? 0) + 1);
      return consumers.effects.handler(m, tx);
    },
  };
}

describe('one effect per message id', () => {
  it('the first delivery is applied; a redelivery is a duplicate that neither calls the handler nor writes', async () => {
    const { handler, calls } = countedHandler();
    const { consumer } = await consumers.member({ handler });
    const m = message('order-1');
    expect(await consumer.process(m), 'the first delivery of an id is applied').toBe('applied');
    expect(await consumer.process(m), 'a second delivery of the same message is a duplicate').toBe(
      'duplicate',
    );
    expect(await consumer.process({ ...m }), 'and a third (an equal copy of the message)').toBe('duplicate');
    expect(await consumers.effects.count('order-1'), 'the effect happened once').toBe(1);
    expect(calls.get('order-1'), 'the handler ran for the first delivery only').toBe(1);
    expect(await consumers.admin.lrange(consumers.effects.logKey, 0, -1)).toEqual([`order-1=${m.body}`]);
  });

  it('different ids are different messages, even with the same body', async () => {
    const { consumer } = await consumers.member();
    expect(await consumer.process(message('a', 'same'))).toBe('applied');
    expect(
      await consumer.process(message('b', 'same')),
      'another id with an equal body is another message',
    ).toBe('applied');
    expect([await consumers.effects.count('a'), await consumers.effects.count('b')]).toEqual([1, 1]);
  });

  it('the record is <ns>:seen:<id>, holding the SHA-256 of the body (UTF-8, hex) and expiring within windowMs; nothing else is written under the namespace', async () => {
    const windowMs = 60_000;
    const { consumer } = await consumers.member({ windowMs });
    const body = '{"note":"café ☕","amount":1250}';
    await consumer.process({ id: 'order-7', body });
    const key = `${consumers.namespace}:seen:order-7`;
    expect(await keysUnder(consumers.admin, consumers.namespace), 'the only key under the namespace').toEqual(
      [key],
    );
    expect(await consumers.admin.get(key), "the record's value is the body's fingerprint").toBe(sha256(body));
    const ttl = await consumers.admin.pttl(key);
    expect(ttl, `the record must expire (PX windowMs): PTTL ${ttl}`).toBeGreaterThan(0);
    expect(ttl, `the record must live windowMs = ${windowMs} ms at most (PX, in ms)`).toBeLessThanOrEqual(
      windowMs,
    );
    expect(ttl, 'and close to windowMs right after the apply').toBeGreaterThan(windowMs - 10_000);
  });

  it('two services (two namespaces) that consume the same message each apply it once', async () => {
    const billing = await consumers.member({ namespace: `${consumers.namespace}-billing` });
    const email = await consumers.member({ namespace: `${consumers.namespace}-email` });
    const m = message('order-9');
    expect(await billing.consumer.process(m)).toBe('applied');
    expect(
      await email.consumer.process(m),
      "another namespace has records of its own: billing's record must not make email's first delivery a duplicate",
    ).toBe('applied');
    expect(await billing.consumer.process(m)).toBe('duplicate');
    expect(await email.consumer.process(m)).toBe('duplicate');
  });

  it('a consumer made later on the same namespace (a restarted process) sees the records: a crash between the effect and the ack is safe', async () => {
    const before = await consumers.member();
    const m = message('order-3');
    expect(await before.consumer.process(m)).toBe('applied');
    // The process dies here, before it acks the message to its source; the source delivers it again.
    await before.consumer.close();
    const after = await consumers.member();
    expect(await after.consumer.process(m), 'the redelivery after the crash is a duplicate').toBe(
      'duplicate',
    );
    expect(await consumers.effects.count('order-3')).toBe(1);
  });
});

describe('a redelivery from a Redis stream (the at-least-once source)', () => {
  it('applied, not acked (crash), reclaimed with delivery count 2: a duplicate, which can then be acked', async () => {
    const { admin, effects } = consumers;
    const stream = `${effects.fx}:orders`;
    await admin.xgroup('CREATE', stream, 'billing', '0', 'MKSTREAM');
    const id = await admin.xadd(stream, '*', 'body', '{"order":42,"amount":1250}');
    const first = await consumers.member();
    const read = (await admin.xreadgroup(
      'GROUP',
      'billing',
      'worker-1',
      'COUNT',
      1,
      'STREAMS',
      stream,
      '>',
    )) as [string, [string, string[]][]][];
    const [entryId, fields] = read[0]![1][0]!;
    expect(await first.consumer.process({ id: entryId, body: fields[1]! })).toBe('applied');
    // worker-1 crashes before XACK; worker-2 reclaims the entry (min-idle 0 here: the test decides).
    const claimed = (await admin.xautoclaim(stream, 'billing', 'worker-2', 0, '0-0', 'COUNT', 10)) as [
      string,
      [string, string[]][],
    ];
    const [claimedId, claimedFields] = claimed[1][0]!;
    const pending = (await admin.xpending(stream, 'billing', '-', '+', 10)) as [
      string,
      string,
      number,
      number,
    ][];
    expect(pending[0]?.[3], 'the reclaimed entry carries delivery count 2').toBe(2);
    const second = await consumers.member();
    expect(
      await second.consumer.process({ id: claimedId, body: claimedFields[1]! }),
      'the redelivered entry is a duplicate: its effect is not repeated',
    ).toBe('duplicate');
    await admin.xack(stream, 'billing', claimedId);
    expect(claimedId).toBe(id);
    expect(await effects.count(id!), 'one effect for two deliveries').toBe(1);
    const [stillPending] = (await admin.xpending(stream, 'billing')) as [number];
    expect(stillPending, 'nothing left pending').toBe(0);
  });
});

describe('the fingerprint: one id, one body', () => {
  it('the same id with a different body is refused with IdempotencyKeyReusedError, and nothing runs or changes', async () => {
    const { handler, calls } = countedHandler();
    const { consumer } = await consumers.member({ handler });
    const original = message('order-5', '{"amount":1250}');
    await consumer.process(original);
    const reused = await settle(consumer.process({ id: 'order-5', body: '{"amount":9999}' }));
    expect(reused.ok, 'a different body under an applied id must be refused').toBe(false);
    const error = (reused as { error: unknown }).error;
    expect(error, 'refused with IdempotencyKeyReusedError, not taken for a duplicate').toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
    expect((error as IdempotencyKeyReusedError).code).toBe('EKEYREUSED');
    expect((error as IdempotencyKeyReusedError).name).toBe('IdempotencyKeyReusedError');
    expect((error as IdempotencyKeyReusedError).messageId).toBe('order-5');
    expect((error as Error).message, 'the message names the id').toContain('order-5');
    expect(calls.get('order-5'), 'the handler is not called for the reused id').toBe(1);
    expect(await consumers.effects.count('order-5')).toBe(1);
    expect(
      await consumers.admin.get(`${consumers.namespace}:seen:order-5`),
      'the record still holds the fingerprint of the body that was applied',
    ).toBe(sha256(original.body));
    expect(await consumer.process(original), 'the original body is still a duplicate').toBe('duplicate');
  });

  it('the fingerprint is of the exact body: a body that differs by one space is another body', async () => {
    const { consumer } = await consumers.member();
    await consumer.process({ id: 'm', body: '{"a":1}' });
    await expect(consumer.process({ id: 'm', body: '{"a": 1}' })).rejects.toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
    await expect(consumer.process({ id: 'm', body: '' })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it('an empty body is a body like any other', async () => {
    const { consumer } = await consumers.member();
    expect(await consumer.process({ id: 'empty', body: '' })).toBe('applied');
    expect(await consumer.process({ id: 'empty', body: '' })).toBe('duplicate');
    expect(await consumers.admin.get(`${consumers.namespace}:seen:empty`)).toBe(sha256(''));
  });
});

describe('the window', () => {
  it('a record expires after windowMs; a delivery after that is applied again (so the window must outlast every redelivery)', async () => {
    const windowMs = 300;
    const { consumer } = await consumers.member({ windowMs });
    const m = message('late-1');
    expect(await consumer.process(m)).toBe('applied');
    expect(await consumer.process(m), 'within the window: a duplicate').toBe('duplicate');
    const key = `${consumers.namespace}:seen:late-1`;
    await waitFor(`the record to expire ${windowMs} ms after the apply`, async () => {
      return (await consumers.admin.exists(key)) === 0;
    });
    expect(
      await consumer.process(m),
      'after the window the record is gone, and the message is applied again',
    ).toBe('applied');
    expect(await consumers.effects.count('late-1'), 'a delivery after the window repeats the effect').toBe(2);
  });

  it('a duplicate does not extend the window: the record expires windowMs after the apply', async () => {
    const windowMs = 10_000;
    const { consumer } = await consumers.member({ windowMs });
    const m = message('hot-1');
    await consumer.process(m);
    await sleep(300);
    expect(await consumer.process(m)).toBe('duplicate');
    const ttl = await consumers.admin.pttl(`${consumers.namespace}:seen:hot-1`);
    expect(
      ttl,
      `300 ms after the apply the record has at most ${windowMs - 300} ms left, whatever duplicates came: PTTL ${ttl}`,
    ).toBeLessThanOrEqual(windowMs - 200);
  });
});

describe('a handler that fails', () => {
  const failures: [string, (error: Error) => Handler][] = [
    [
      'throws',
      (error) => (m, tx) => {
        consumers.effects.handler(m, tx);
        throw error;
      },
    ],
    [
      'rejects',
      (error) => async (m, tx) => {
        consumers.effects.handler(m, tx);
        await sleep(5);
        throw error;
      },
    ],
  ];

  it.each(failures)(
    'that %s after queuing writes: process rejects with its error, nothing is written, and a redelivery is applied',
    async (_, failing) => {
      const boom = new Error('payment service said no');
      let attempts = 0;
      const { consumer } = await consumers.member({
        handler: (m, tx) => (++attempts === 1 ? failing(boom)(m, tx) : consumers.effects.handler(m, tx)),
      });
      const m = message('flaky-1');
      const first = await settle(consumer.process(m));
      expect(first.ok, 'the delivery whose handler failed must reject').toBe(false);
      expect((first as { error: unknown }).error, "process rejects with the handler's own error").toBe(boom);
      expect(
        await consumers.effects.count('flaky-1'),
        'the writes it queued before failing are not sent',
      ).toBe(0);
      expect(
        await keysUnder(consumers.admin, consumers.namespace),
        'no record: the message must stay deliverable',
      ).toEqual([]);
      expect(await consumer.process(m), 'the redelivery is applied').toBe('applied');
      expect(await consumers.effects.count('flaky-1')).toBe(1);
    },
  );
});

describe('Redis refusing commands (a transaction has no rollback)', () => {
  it('a command queued with the wrong arguments makes Redis refuse the whole EXEC (EXECABORT): rejects, nothing is written', async () => {
    let attempts = 0;
    const { consumer, duplicates } = await consumers.member({
      handler: (m, tx) => {
        consumers.effects.handler(m, tx);
        if (++attempts === 1) tx.call('set', `${consumers.effects.fx}:only-a-key`);
      },
    });
    const m = message('bad-1');
    const first = await settle(consumer.process(m));
    expect(first.ok, 'a transaction Redis refused must reject the delivery').toBe(false);
    expect(String((first as { error: unknown }).error), "the rejection is Redis's EXECABORT").toContain(
      'EXECABORT',
    );
    expect(await consumers.effects.count('bad-1'), 'nothing of the refused transaction is applied').toBe(0);
    expect(await keysUnder(consumers.admin, consumers.namespace), 'no record').toEqual([]);
    expect(await consumer.process(m), 'a redelivery (the handler fixed) is applied').toBe('applied');
    expect(
      duplicates.made,
      'a refusal is a reply from Redis, not a broken connection: the redelivery reuses the connection',
    ).toHaveLength(1);
  });

  it('a command that fails inside EXEC (WRONGTYPE) leaves the others and the record applied; EffectCommandError names it', async () => {
    const { fx } = consumers.effects;
    await consumers.admin.set(`${fx}:a-string`, 'not a list');
    const { consumer } = await consumers.member({
      handler: (m, tx) => {
        tx.incr(consumers.effects.countKey(m.id));
        tx.lpush(`${fx}:a-string`, 'x');
        tx.set(`${fx}:after`, 'written');
      },
    });
    const m = message('half-1');
    const result = await settle(consumer.process(m));
    expect(result.ok, 'a command that failed inside EXEC must not be reported as a clean apply').toBe(false);
    const error = (result as { error: unknown }).error as EffectCommandError;
    expect(error).toBeInstanceOf(EffectCommandError);
    expect(error.code).toBe('EEFFECTCOMMAND');
    expect(error.name).toBe('EffectCommandError');
    expect(error.message, "the message names the message id and Redis's error").toContain('half-1');
    expect(error.message).toContain('WRONGTYPE');
    expect(error.messageId).toBe('half-1');
    expect(error.failures, 'one failure: the handler’s second command (index 1)').toHaveLength(1);
    expect(error.failures[0]!.index).toBe(1);
    expect(error.failures[0]!.error.message).toContain('WRONGTYPE');
    expect(
      [await consumers.effects.count('half-1'), await consumers.admin.get(`${fx}:after`)],
      'Redis has no rollback: the commands around the failed one were applied',
    ).toEqual([1, 'written']);
    expect(await consumer.process(m), 'the record was committed too: a redelivery is a duplicate').toBe(
      'duplicate',
    );
  });
});

describe('connections', () => {
  it('the redis passed in sends nothing itself; deliveries one after another use one connection of the consumer', async () => {
    const { consumer, redis: caller, duplicates } = await consumers.member();
    const commands = tap(caller);
    for (let i = 1; i <= 5; i++) await consumer.process(message(`seq-${i}`));
    await consumer.process(message('seq-1'));
    commands.stop();
    expect(
      commands.commands,
      'every command goes over connections the consumer made with redis.duplicate(), none over redis',
    ).toEqual([]);
    expect(duplicates.made, 'six deliveries one after another reuse one connection').toHaveLength(1);
    expect(
      duplicates.made[0]!.listenerCount('error'),
      "the consumer's connection has an 'error' listener (or ioredis prints every connection error as unhandled)",
    ).toBeGreaterThan(0);
  });

  it('deliveries at the same time each hold a connection; afterwards the connections are reused', async () => {
    const gate = deferred();
    const { consumer, duplicates } = await consumers.member({
      handler: async (m, tx) => {
        await gate.promise;
        consumers.effects.handler(m, tx);
      },
    });
    const first = settle(Promise.all([1, 2, 3].map((i) => consumer.process(message(`par-${i}`)))));
    await sleep(50);
    gate.resolve();
    expect(await first).toEqual({ ok: true, value: ['applied', 'applied', 'applied'] });
    expect(duplicates.made, 'three deliveries at once: three connections').toHaveLength(3);
    expect(await Promise.all([4, 5, 6].map((i) => consumer.process(message(`par-${i}`))))).toEqual([
      'applied',
      'applied',
      'applied',
    ]);
    expect(duplicates.made, 'the next three reuse them').toHaveLength(3);
  });

  it('close() waits for a delivery in flight, then disconnects every connection it made; redis stays open; process then rejects', async () => {
    const entered = deferred();
    const gate = deferred();
    const {
      consumer,
      redis: caller,
      duplicates,
    } = await consumers.member({
      handler: async (m, tx) => {
        if (m.id === 'in-flight') {
          entered.resolve();
          await gate.promise;
        }
        consumers.effects.handler(m, tx);
      },
    });
    // Two at once: two connections, one of which is idle while the next delivery is in flight.
    await Promise.all([consumer.process(message('warm-1')), consumer.process(message('warm-2'))]);
    const inFlight = settle(consumer.process(message('in-flight')));
    await reached(entered.promise, inFlight, 'the delivery must call its handler');
    let closed = false;
    const closing = consumer.close().then(() => {
      closed = true;
    });
    await sleep(50);
    expect(closed, 'close() must wait for the delivery in flight').toBe(false);
    gate.resolve();
    expect(await inFlight, 'the delivery in flight completes normally').toEqual({
      ok: true,
      value: 'applied',
    });
    await closing;
    expect(await consumers.effects.count('in-flight')).toBe(1);
    expect(duplicates.made, 'two connections were made').toHaveLength(2);
    await waitFor(
      'every connection the consumer made (the idle one too) to be disconnected by close()',
      () => duplicates.made.every((made) => made.status === 'end'),
      { timeoutMs: 2000 },
    );
    expect(await caller.ping(), 'the caller’s redis stays open').toBe('PONG');
    const after = await settle(consumer.process(message('after-close')));
    expect((after as { error: unknown }).error, 'after close, process rejects').toBeInstanceOf(
      ConsumerClosedError,
    );
    expect(((after as { error: unknown }).error as ConsumerClosedError).code).toBe('ECONSUMERCLOSED');
    expect(((after as { error: unknown }).error as ConsumerClosedError).name).toBe('ConsumerClosedError');
    await consumer.close(); // a second close resolves too
  });

  it('close() on a consumer that never processed anything resolves', async () => {
    const { consumer, duplicates } = await consumers.member();
    await consumer.close();
    expect(duplicates.made).toHaveLength(0);
  });
});

describe('validation', () => {
  const good = () =>
    ({
      redis: consumers.admin,
      namespace: 'ns',
      windowMs: 1000,
      handler: () => {},
    }) satisfies IdempotentConsumerOptions;
  const badOptions: [
    string,
    Partial<Record<keyof IdempotentConsumerOptions, unknown>>,
    ErrorConstructor,
    string[],
  ][] = [
    ['redis missing', { redis: undefined }, TypeError, ['redis']],
    ['redis that is not a client', { redis: { url: 'redis://x' } }, TypeError, ['redis']],
    ['an empty namespace', { namespace: '' }, TypeError, ['namespace']],
    ['a namespace that is not a string', { namespace: 7 }, TypeError, ['namespace', '7']],
    ['windowMs 0', { windowMs: 0 }, RangeError, ['windowMs', '0']],
    ['windowMs -1', { windowMs: -1 }, RangeError, ['windowMs', '-1']],
    ['windowMs 1.5', { windowMs: 1.5 }, RangeError, ['windowMs', '1.5']],
    ['windowMs NaN', { windowMs: Number.NaN }, RangeError, ['windowMs', 'NaN']],
    ['windowMs Infinity', { windowMs: Number.POSITIVE_INFINITY }, RangeError, ['windowMs', 'Infinity']],
    ['windowMs 2 ** 53', { windowMs: 2 ** 53 }, RangeError, ['windowMs', '9007199254740992']],
    ["windowMs '1000'", { windowMs: '1000' }, RangeError, ['windowMs', '1000']],
    ['a handler that is not a function', { handler: 'apply' }, TypeError, ['handler']],
  ];

  it.each(badOptions)('createIdempotentConsumer with %s throws', (_, patch, type, named) => {
    let error: unknown;
    try {
      createIdempotentConsumer({ ...good(), ...patch } as IdempotentConsumerOptions);
    } catch (e) {
      error = e;
    }
    expect(error, `must throw a ${type.name}`).toBeInstanceOf(type);
    for (const name of named)
      expect((error as Error).message, `the message must name ${name}`).toContain(name);
  });

  const long = 'x'.repeat(MAX_ID_LENGTH + 1);
  const badMessages: [string, unknown, string[]][] = [
    ['null', null, ['message']],
    ['a string', 'order-1', ['message', 'order-1']],
    ['an empty id', { id: '', body: 'b' }, ['message.id']],
    ['an id that is a number', { id: 7, body: 'b' }, ['message.id', '7']],
    ['no id', { body: 'b' }, ['message.id']],
    [
      `an id of ${MAX_ID_LENGTH + 1} characters`,
      { id: long, body: 'b' },
      ['message.id', String(MAX_ID_LENGTH + 1)],
    ],
    ['a body that is an object', { id: 'm', body: { amount: 1 } }, ['message.body']],
    ['no body', { id: 'm' }, ['message.body']],
    ['a body that is a number', { id: 'm', body: 42 }, ['message.body', '42']],
  ];

  it.each(badMessages)(
    'process(%s) rejects with a TypeError, calls nothing and writes nothing',
    async (_, bad, named) => {
      let called = false;
      const { consumer } = await consumers.member({
        handler: (m, tx) => {
          called = true;
          consumers.effects.handler(m, tx);
        },
      });
      const result = await settle(consumer.process(bad as Message));
      expect(result.ok, 'a malformed message must be rejected').toBe(false);
      const error = (result as { error: unknown }).error;
      expect(error, 'with a TypeError').toBeInstanceOf(TypeError);
      for (const name of named)
        expect((error as Error).message, `the message must name ${name}`).toContain(name);
      expect(called, 'the handler must not run').toBe(false);
      expect(await keysUnder(consumers.admin, consumers.namespace)).toEqual([]);
    },
  );

  it(`an id of exactly ${MAX_ID_LENGTH} characters, with any characters in it, is accepted`, async () => {
    const { consumer } = await consumers.member();
    const id = `order:42/é ${'y'.repeat(MAX_ID_LENGTH - 11)}`;
    expect(id).toHaveLength(MAX_ID_LENGTH);
    expect(await consumer.process({ id, body: 'b' })).toBe('applied');
    expect(await consumers.admin.exists(`${consumers.namespace}:seen:${id}`)).toBe(1);
  });
});
