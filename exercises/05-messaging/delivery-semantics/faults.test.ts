/**
 * Faults on the wire: a producer that dies in the middle of a publish, a consumer whose connection
 * drops (ioredis reconnects by itself), and an acknowledgement that never reaches Redis.
 */
import { describe, expect, it } from 'vitest';
import { sleep, startFaultProxy, useRedis, waitFor } from '../../../src/testing/index.js';
import { report } from './delivery.js';
import {
  CONSUMERS,
  clientsNamed,
  closeAfterTest,
  entered,
  handled,
  handledByAll,
  ids,
  KINDS,
  keeps,
  publishAll,
  recordsOf,
  scriptedHandler,
  startCuttingProxy,
  subscribers,
  transportOn,
  urlVia,
  useTransports,
  WAIT,
} from './harness.js';

const redis = useRedis();
const t = useTransports(redis, 'faults');

describe.each(['list', 'stream'] as const)('%s: a producer that dies in the middle of publish()', (kind) => {
  it('has notified every consumer or none', async () => {
    const proxy = closeAfterTest(await startCuttingProxy({ host: redis.host, port: redis.port }));
    const options = { namespace: t.namespace, kind, consumers: [...CONSUMERS], blockMs: 25 };
    // No reconnect: a dead producer does not come back to finish what it was sending.
    const { transport: producer } = await transportOn(urlVia(redis, proxy.port), options, {
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    await publishAll(producer, ['m0']); // the first publish may load a script
    const before = proxy.sent;
    await publishAll(producer, ['m1']);
    const bytesPerPublish = proxy.sent - before;
    proxy.cutAfter(bytesPerPublish - 3); // the connection dies 3 bytes before the end of publish's commands
    await producer.publish({ id: 'm2', body: 'notification m2' }).catch(() => {});

    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    for (const c of CONSUMERS) await transport.consumer(c).start(script.handler);
    await publishAll(transport, ['m3']);
    await handledByAll(transport, ['m3']);
    const notified = CONSUMERS.filter((c) => script.idsOf(c).includes('m2'));
    expect(
      notified.length === 0 || notified.length === CONSUMERS.length,
      `m2 reached ${notified.length ? notified.join(', ') : 'nobody'}: the pushes for one message must be one step (MULTI/EXEC), all or nothing`,
    ).toBe(true);
  });
});

describe.each(KINDS)("%s: a consumer's connection drops and ioredis reconnects it", (kind) => {
  it(
    keeps(kind)
      ? 'loses nothing: what was published meanwhile waits in Redis'
      : 'misses what was published while it was disconnected, even though ioredis resubscribes by itself',
    async () => {
      const proxy = closeAfterTest(await startFaultProxy({ host: redis.host, port: redis.port }));
      const admin = await t.admin();
      const options = { namespace: t.namespace, kind, consumers: [...CONSUMERS], blockMs: 25 };
      const name = `t05-drop-${kind}-${process.pid}`; // CLIENT SETNAME, inherited by redis.duplicate()
      const { transport: consumers } = await transportOn(urlVia(redis, proxy.port), options, {
        connectionName: name,
      });
      const { transport: producer } = await t.open(kind);
      const script = scriptedHandler();
      for (const c of CONSUMERS) await consumers.consumer(c).start(script.handler);
      await publishAll(producer, ['m1']);
      await handledByAll(consumers, ['m1']);
      proxy.refuse(true);
      proxy.cut();
      // Publish only once Redis has dropped them: a blocked read that Redis serves in the instant its
      // connection dies hands its message to nobody (it waits in processing or pending for the next start).
      await waitFor(
        "Redis to drop the consumers' connections",
        async () => (await clientsNamed(admin, name)) === 0,
        WAIT,
      );
      await publishAll(producer, ['m2']);
      proxy.refuse(false);
      if (kind === 'pubsub') {
        await waitFor(
          'ioredis to reconnect and resubscribe',
          async () => (await subscribers(admin, t.keys().channel)) === 3,
          WAIT,
        );
      }
      await publishAll(producer, ['m3']);
      await handledByAll(consumers, ['m3']);
      expect(
        report(ids(1, 3), consumers.deliveries(), [...CONSUMERS]),
        keeps(kind)
          ? 'the consumers carry on after the reconnect and get m2 from Redis'
          : 'pub/sub: a reconnect is not durability; m2 went to nobody',
      ).toEqual(
        Object.fromEntries(
          CONSUMERS.map((c) => [c, { lost: keeps(kind) ? [] : ['m2'], redelivered: [], duplicates: 0 }]),
        ),
      );
    },
  );
});

describe.each(KINDS)('%s: an acknowledgement that never reaches Redis', (kind) => {
  it(
    keeps(kind)
      ? 'means a redelivery of a message that was handled: processed twice (at least once is not exactly once)'
      : 'does not exist: pub/sub has no acknowledgement, and handles the message once',
    async () => {
      const proxy = closeAfterTest(await startFaultProxy({ host: redis.host, port: redis.port }));
      const options = { namespace: t.namespace, kind, consumers: [...CONSUMERS], blockMs: 25 };
      const { transport } = await transportOn(urlVia(redis, proxy.port), options);
      const { transport: producer } = await t.open(kind);
      const script = scriptedHandler();
      let first = true;
      script.during('sms', 'm1', () => {
        if (first) proxy.pause(); // from here on, nothing sms sends reaches Redis: not even the ack
        first = false;
      });
      const sms = await transport.consumer('sms').start(script.handler);
      await publishAll(producer, ['m1']);
      await handled(transport, 'sms', ['m1']);
      sms.crash();
      proxy.cut();
      proxy.resume();
      await transport.consumer('sms').start(script.handler);
      await publishAll(producer, ['m2']);
      await handled(transport, 'sms', ['m2']);
      expect(
        recordsOf(transport, 'sms').map((r) => [r.messageId, r.outcome, r.redelivery]),
        keeps(kind)
          ? 'm1 was handled, but Redis never heard: the next start delivers it again'
          : 'pub/sub delivers m1 once, ack or not',
      ).toEqual([
        ['m1', 'handled', false],
        ...(keeps(kind) ? [['m1', 'handled', true]] : []),
        ['m2', 'handled', false],
      ]);
      expect(report(ids(1, 2), transport.deliveries(), ['sms']).sms).toEqual(
        keeps(kind)
          ? { lost: [], redelivered: ['m1'], duplicates: 1 }
          : { lost: [], redelivered: [], duplicates: 0 },
      );
    },
  );
});

describe.each(['list', 'stream'] as const)('%s: commands that fail while the connection is down', (kind) => {
  it('do not end the consumer: it reads again and carries on; the message whose ack failed comes back at the next start', async () => {
    const proxy = closeAfterTest(await startFaultProxy({ host: redis.host, port: redis.port }));
    const name = `t05-fail-${kind}-${process.pid}`;
    const options = { namespace: t.namespace, kind, consumers: [...CONSUMERS], blockMs: 25 };
    // maxRetriesPerRequest 0: ioredis fails a command at once when its connection is down, instead of holding it.
    const { transport, duplicates } = await transportOn(urlVia(redis, proxy.port), options, {
      connectionName: name,
      maxRetriesPerRequest: 0,
    });
    const { transport: producer } = await t.open(kind);
    const admin = await t.admin();
    const script = scriptedHandler();
    const m1 = script.hold('sms', 'm1');
    const sms = await transport.consumer('sms').start(script.handler);
    let failedAttempts = 0; // each failed reconnect attempt fails the commands ioredis holds
    duplicates.at(-1)?.on('reconnecting', () => failedAttempts++);
    await publishAll(producer, ['m1']);
    await entered(m1, 'sms to be handed m1');
    proxy.refuse(true);
    proxy.cut();
    await waitFor(
      "Redis to drop the consumer's connection",
      async () => (await clientsNamed(admin, name)) === 0,
      WAIT,
    );
    m1.release(); // handled while the connection is down: its ack fails, and so do the next reads
    await handled(transport, 'sms', ['m1']);
    const before = failedAttempts;
    await waitFor(
      'two more failed reconnect attempts (the ack fails, then a read)',
      () => failedAttempts >= before + 2,
      WAIT,
    );
    await publishAll(producer, ['m2']);
    proxy.refuse(false);
    await handled(transport, 'sms', ['m2']);
    await sms.stop();
    await transport.consumer('sms').start(script.handler);
    await publishAll(producer, ['m3']);
    await handled(transport, 'sms', ['m3']);
    expect(
      recordsOf(transport, 'sms').map((r) => [r.messageId, r.outcome, r.redelivery]),
      'the consumer survived the failed commands (m2); m1 was handled but never acknowledged, so it came back',
    ).toEqual([
      ['m1', 'handled', false],
      ['m2', 'handled', false],
      ['m1', 'handled', true],
      ['m3', 'handled', false],
    ]);
    expect(
      report(ids(1, 3), transport.deliveries(), ['sms']).sms,
      'nothing lost; m1 redelivered, and handled twice: a failed acknowledgement is a duplicate',
    ).toEqual({ lost: [], redelivered: ['m1'], duplicates: 1 });
  });
});

describe.each(['list', 'stream'] as const)(
  '%s: reads that fail at once while the connection is down',
  (kind) => {
    it('are tried again every blockMs, not in a busy loop, and the consumer carries on once Redis is back', async () => {
      const proxy = closeAfterTest(await startFaultProxy({ host: redis.host, port: redis.port }));
      const blockMs = 50;
      const options = { namespace: t.namespace, kind, consumers: [...CONSUMERS], blockMs };
      // maxRetriesPerRequest 0: the read in flight when the connection drops fails at once.
      const { transport, duplicates } = await transportOn(urlVia(redis, proxy.port), options, {
        maxRetriesPerRequest: 0,
      });
      const { transport: producer } = await t.open(kind);
      const script = scriptedHandler();
      await transport.consumer('sms').start(script.handler);
      let reads = 0;
      const CAP = 500;
      for (const own of duplicates) {
        // From now on a command sent while the connection is down fails at once instead of waiting in
        // ioredis's offline queue for the next reconnect attempt.
        own.options.enableOfflineQueue = false;
        const send = own.sendCommand.bind(own);
        own.sendCommand = ((command, ...rest) => {
          if (command.name === 'blmove' || command.name === 'xreadgroup') {
            reads++;
            // A consumer that reads again at once never yields to the event loop: hold it here so the
            // test can say so instead of hanging.
            if (reads > CAP) return new Promise(() => {});
          }
          return send(command, ...rest);
        }) as typeof own.sendCommand;
      }
      const readsBefore = reads;
      const cutAt = performance.now();
      proxy.refuse(true);
      proxy.cut();
      await sleep(8 * blockMs);
      const readsWhileDown = reads - readsBefore;
      const downMs = performance.now() - cutAt;
      proxy.refuse(false);
      expect(
        readsWhileDown,
        `while the connection was down (${Math.round(downMs)} ms) each failed read must be followed by a pause of blockMs (${blockMs} ms) before the next`,
      ).toBeLessThanOrEqual(Math.floor(downMs / blockMs) + 3);
      await publishAll(producer, ['m1']);
      await handled(transport, 'sms', ['m1']);
      expect(recordsOf(transport, 'sms').map((r) => [r.messageId, r.outcome])).toEqual([['m1', 'handled']]);
    });
  },
);
