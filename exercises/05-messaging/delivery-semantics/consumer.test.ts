/**
 * A consumer on each tool: what start() waits for, fan-out and where messages wait, one message at a
 * time in publish order, and the arguments every call checks.
 */
import { describe, expect, it } from 'vitest';
import { sleep, useRedis } from '../../../src/testing/index.js';
import { ConsumerRunningError } from './delivery.js';
import {
  bodyOf,
  entered,
  handled,
  handledByAll,
  ids,
  KINDS,
  keeps,
  payload,
  pendingOf,
  publishAll,
  SETTLE_MS,
  scriptedHandler,
  useTransports,
} from './harness.js';

const redis = useRedis();
const t = useTransports(redis, 'consumer');

describe.each(KINDS)('%s: starting', (kind) => {
  it('start() resolves once the consumer gets every message published from then on', async () => {
    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    await transport.consumer('sms').start(script.handler);
    await transport.publish({ id: 'm1', body: bodyOf('m1') }); // right after start() resolved
    await handled(transport, 'sms', ['m1']);
    expect(script.calls[0], 'the handler receives the message and who it is for').toEqual({
      id: 'm1',
      body: bodyOf('m1'),
      consumer: 'sms',
      redelivery: false,
      ...(kind === 'stream' ? { attempt: 1 } : {}),
    });
  });

  it(
    keeps(kind)
      ? 'messages published before a consumer ever started wait for it'
      : 'messages published before a consumer subscribed are gone for it',
    async () => {
      const { transport } = await t.open(kind);
      const script = scriptedHandler();
      await publishAll(transport, ids(1, 2));
      for (const c of ['email', 'sms', 'audit']) await transport.consumer(c).start(script.handler);
      await publishAll(transport, ['m3']);
      await handledByAll(transport, ['m3']);
      await sleep(SETTLE_MS);
      const got = keeps(kind) ? ['m1', 'm2', 'm3'] : ['m3'];
      for (const c of ['email', 'sms', 'audit']) {
        expect(
          script.idsOf(c),
          keeps(kind)
            ? `${kind}: every consumer named in consumers has its messages kept from the first publish on (a group created from id 0)`
            : 'pub/sub delivers only to whoever is subscribed at that instant',
        ).toEqual(got);
      }
    },
  );

  it('a second start() of a running consumer rejects with ConsumerRunningError; after stop() or crash() it starts again', async () => {
    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    const first = await transport.consumer('sms').start(script.handler);
    const second = transport.consumer('sms').start(script.handler);
    await expect(second, 'one run of a consumer at a time').rejects.toThrow(ConsumerRunningError);
    await expect(transport.consumer('sms').start(script.handler)).rejects.toMatchObject({
      name: 'ConsumerRunningError',
      code: 'ECONSUMERRUNNING',
      consumer: 'sms',
      message: expect.stringContaining('"sms"'),
    });
    const other = await transport.consumer('email').start(script.handler); // another consumer may run meanwhile
    await first.stop();
    const again = await transport.consumer('sms').start(script.handler);
    again.crash();
    const third = await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ['m1']);
    await handled(transport, 'sms', ['m1']);
    await handled(transport, 'email', ['m1']);
    expect(script.idsOf('sms'), 'the third run gets m1, once').toEqual(['m1']);
    await third.stop();
    await other.stop();
  });

  it('a run that ends twice (crashed while its stop() waits) does not end the run started after it', async () => {
    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    const m1 = script.hold('sms', 'm1');
    const first = await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ['m1']);
    await entered(m1, 'sms to be handed m1');
    const stopping = first.stop(); // waits for m1's handler
    first.crash(); // ... but the process dies first
    const second = await transport.consumer('sms').start(script.handler);
    m1.release(); // the first run's stop() now completes
    await stopping;
    first.crash(); // and a late crash() of the first run changes nothing either
    await expect(
      transport.consumer('sms').start(script.handler),
      'the second run is still running: the first run ending (again) must not unregister it',
    ).rejects.toThrow(ConsumerRunningError);
    await second.stop();
  });

  it('producer and consumers on different transports (processes) on one namespace; other namespaces see nothing', async () => {
    const consumerSide = await t.open(kind);
    const producerSide = await t.open(kind);
    const elsewhere = await t.open(kind, { namespace: `${t.namespace}-other` });
    const script = scriptedHandler();
    for (const c of ['email', 'sms', 'audit']) await consumerSide.transport.consumer(c).start(script.handler);
    const stranger = await elsewhere.transport.consumer('sms').start(script.handler);
    await publishAll(producerSide.transport, ids(1, 2));
    await handledByAll(consumerSide.transport, ids(1, 2));
    await sleep(SETTLE_MS);
    expect(producerSide.transport.deliveries(), "the producer's transport recorded no deliveries").toEqual(
      [],
    );
    expect(elsewhere.transport.deliveries(), 'a transport on another namespace got nothing').toEqual([]);
    expect(script.calls.length, 'each of the three consumers got m1 and m2 once').toBe(6);
    await stranger.stop();
  });
});

describe.each(KINDS)('%s: one message at a time, in publish order', (kind) => {
  it('the next handler call waits until the previous one has returned', async () => {
    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    const m1 = script.hold('email', 'm1');
    await transport.consumer('email').start(script.handler);
    await publishAll(transport, ids(1, 4));
    await entered(m1, 'email to be handed m1');
    await sleep(SETTLE_MS);
    expect(script.idsOf('email'), 'while m1 is in the handler, m2 must not start').toEqual(['m1']);
    m1.release();
    await handled(transport, 'email', ids(1, 4));
    expect(script.idsOf('email'), 'then the rest, in publish order').toEqual(ids(1, 4));
    expect(script.mostAtOnce, 'never two calls at once').toBe(1);
  });

  if (keeps(kind)) {
    it('a consumer holds one message at a time: the others stay in Redis until it is done', async () => {
      const { transport } = await t.open(kind);
      const admin = await t.admin();
      const keys = t.keys();
      const script = scriptedHandler();
      const m1 = script.hold('email', 'm1');
      await publishAll(transport, ids(1, 3)); // all three are waiting when the consumer first reads
      await transport.consumer('email').start(script.handler);
      await entered(m1, 'email to be handed m1');
      await sleep(SETTLE_MS);
      if (kind === 'list') {
        expect(
          await admin.lrange(keys.processing('email'), 0, -1),
          'only m1 is in the processing list',
        ).toEqual([payload('m1', bodyOf('m1'))]);
        expect(await admin.llen(keys.queue('email')), 'm2 and m3 are still in the queue').toBe(2);
      } else {
        const pending = await pendingOf(admin, keys.stream, 'email');
        expect(pending.length, 'only m1 has been delivered (is pending): read with COUNT 1').toBe(1);
      }
      m1.release();
      await handled(transport, 'email', ids(1, 3));
    });
  }
});
