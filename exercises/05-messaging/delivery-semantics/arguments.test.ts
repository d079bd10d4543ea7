/** The arguments every call checks, and what the transport hands out. */
import { describe, expect, it } from 'vitest';
import { sleep, useRedis, waitFor } from '../../../src/testing/index.js';
import { createTransport, type Message, type TransportOptions } from './delivery.js';
import {
  handled,
  handledRecord,
  KINDS,
  onCleanup,
  publishAll,
  SETTLE_MS,
  scriptedHandler,
  useTransports,
} from './harness.js';

const redis = useRedis();
const t = useTransports(redis, 'args');

describe('arguments', () => {
  it('createTransport() names the bad option and its value: TypeError for the wrong type, RangeError for a bad value', async () => {
    const { redis: connection } = await t.open('list');
    const ok = { redis: connection, namespace: t.namespace, kind: 'list' as const, consumers: ['sms'] };
    const cases: [Partial<TransportOptions> & Record<string, unknown>, ErrorConstructor, RegExp][] = [
      [{ redis: undefined }, TypeError, /redis/],
      [{ namespace: '' }, TypeError, /namespace.*""/],
      [{ namespace: 42 as never }, TypeError, /namespace.*42/],
      [{ kind: 'queue' as never }, RangeError, /kind.*"queue"/],
      [{ kind: undefined }, RangeError, /kind.*undefined/],
      [{ consumers: 'sms' as never }, TypeError, /consumers.*"sms"/],
      [{ consumers: ['sms', ''] }, TypeError, /consumers/],
      [{ consumers: ['sms', 7] as never }, TypeError, /consumers.*7/],
      [{ consumers: [] }, RangeError, /consumers/],
      [{ consumers: ['sms', 'email', 'sms'] }, RangeError, /consumers.*"sms"/],
      [{ blockMs: 0 }, RangeError, /blockMs.*0/],
      [{ blockMs: -5 }, RangeError, /blockMs.*-5/],
      [{ blockMs: 2.5 }, RangeError, /blockMs.*2\.5/],
      [{ blockMs: Number.NaN }, RangeError, /blockMs.*NaN/],
      [{ blockMs: Number.POSITIVE_INFINITY }, RangeError, /blockMs.*Infinity/],
    ];
    for (const [change, type, message] of cases) {
      const options = { ...ok, ...change } as TransportOptions;
      expect(() => createTransport(options), `createTransport(${JSON.stringify(change)})`).toThrow(type);
      expect(() => createTransport(options), `the error names the option and the value`).toThrow(message);
    }
    expect(() => createTransport({ ...ok, blockMs: 1 }), 'blockMs 1 is a positive integer').not.toThrow();
  });
});

describe.each(KINDS)('%s: arguments', (kind) => {
  it('publish() rejects a bad message with a TypeError naming the field, and sends nothing', async () => {
    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    await transport.consumer('sms').start(script.handler);
    const bad: [unknown, RegExp][] = [
      [{ id: '', body: 'x' }, /message\.id.*""/],
      [{ id: 5, body: 'x' }, /message\.id.*5/],
      [{ body: 'x' }, /message\.id.*undefined/],
      [null, /message\.id/],
      [{ id: 'm1', body: 5 }, /message\.body.*5/],
      [{ id: 'm1' }, /message\.body.*undefined/],
      [{ id: 'm1', body: { text: 'hi' } }, /message\.body/],
    ];
    for (const [message, pattern] of bad) {
      const publishing = transport.publish(message as Message);
      await expect(publishing, `publish(${JSON.stringify(message)})`).rejects.toThrow(TypeError);
      await expect(transport.publish(message as Message)).rejects.toThrow(pattern);
    }
    await transport.publish({ id: 'ok', body: '' }); // an empty body is a string
    await handled(transport, 'sms', ['ok']);
    await sleep(SETTLE_MS);
    expect(script.idsOf('sms'), 'none of the bad messages was sent').toEqual(['ok']);
  });

  it('consumer() throws a RangeError naming an unknown consumer; start() rejects a handler that is not a function', async () => {
    const { transport } = await t.open(kind);
    expect(() => transport.consumer('push')).toThrow(RangeError);
    expect(() => transport.consumer('push'), 'the error names the consumer').toThrow(/"push"/);
    expect(transport.consumer('sms').name).toBe('sms');
    await expect(transport.consumer('sms').start('handler' as never)).rejects.toThrow(TypeError);
    await expect(transport.consumer('sms').start(undefined as never)).rejects.toThrow(/handler/);
    const script = scriptedHandler();
    const sms = await transport.consumer('sms').start(script.handler); // the bad starts did not leave it running
    await sms.stop();
  });

  it('deliveries() returns fresh copies: changing them changes nothing in the transport', async () => {
    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ['m1']);
    await handled(transport, 'sms', ['m1']);
    const first = transport.deliveries();
    (first[0] as { outcome: string }).outcome = 'crashed';
    first.push({ consumer: 'sms', messageId: 'm9', redelivery: true, outcome: 'failed' });
    expect(transport.deliveries()).toEqual([{ consumer: 'sms', ...handledRecord(kind, 'm1') }]);
  });

  it('kind says which tool the transport uses', async () => {
    const { transport } = await t.open(kind);
    expect(transport.kind).toBe(kind);
  });
});

describe.each(['list', 'stream'] as const)('%s: when Redis refuses a command', (kind) => {
  it("start() rejects with Redis's error, closes the connection, and leaves the consumer not running", async () => {
    const { transport, duplicates } = await t.open(kind);
    const admin = await t.admin();
    const keys = t.keys();
    const blocker = kind === 'list' ? keys.processing('sms') : keys.stream;
    await admin.set(blocker, 'a string where the consumer expects a list or a stream');
    const script = scriptedHandler();
    await expect(
      transport.consumer('sms').start(script.handler),
      'the first command fails: WRONGTYPE',
    ).rejects.toThrow(/WRONGTYPE/);
    await waitFor(
      "the failed start's connection to be closed",
      () => duplicates.every((c) => c.status === 'end'),
      {
        timeoutMs: 4000,
      },
    );
    await admin.del(blocker);
    await transport.consumer('sms').start(script.handler); // not left "running"
    await publishAll(transport, ['m1']);
    await handled(transport, 'sms', ['m1']);
  });

  it("publish() rejects with Redis's error", async () => {
    const { transport } = await t.open(kind);
    const admin = await t.admin();
    const keys = t.keys();
    await admin.set(kind === 'list' ? keys.queue('sms') : keys.stream, 'a string');
    await expect(transport.publish({ id: 'm1', body: 'x' })).rejects.toThrow(/WRONGTYPE/);
    if (kind === 'list') {
      expect(
        await admin.llen(keys.queue('email')),
        "inside MULTI/EXEC the other pushes still happen (Redis does not roll back): email's queue has m1",
      ).toBe(1);
    }
  });
});

describe.each(KINDS)('%s: what publish() writes', (kind) => {
  it('the keys, channel and payloads the contract names', async () => {
    const { transport, redis: producer } = await t.open(kind);
    const admin = await t.admin();
    const keys = t.keys();
    const heard: [string, string][] = [];
    const listener = producer.duplicate();
    onCleanup(() => listener.disconnect());
    listener.on('message', (channel: string, message: string) => heard.push([channel, message]));
    if (kind === 'pubsub') await listener.subscribe(keys.channel);
    await transport.publish({ id: 'm1', body: '{"to":"+1 555 0100"}' });
    const payload = JSON.stringify({ id: 'm1', body: '{"to":"+1 555 0100"}' });
    if (kind === 'pubsub') {
      await waitFor('the message on <ns>:channel', () => heard.length > 0, { timeoutMs: 4000 });
      expect(heard, 'one PUBLISH on <ns>:channel of JSON.stringify({ id, body })').toEqual([
        [keys.channel, payload],
      ]);
    }
    if (kind === 'list') {
      for (const consumer of ['email', 'sms', 'audit']) {
        expect(await admin.lrange(keys.queue(consumer), 0, -1), `<ns>:queue:${consumer}`).toEqual([payload]);
      }
    }
    if (kind === 'stream') {
      const entries = await admin.xrange(keys.stream, '-', '+');
      expect(
        entries.map(([, fields]) => fields),
        '<ns>:stream: one entry with the fields id and body',
      ).toEqual([['id', 'm1', 'body', '{"to":"+1 555 0100"}']]);
    }
  });
});
