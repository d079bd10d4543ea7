/** How a consumer ends on each tool: a graceful stop() and an abrupt crash(). */
import { describe, expect, it } from 'vitest';
import { settlesWithin, sleep, useRedis, waitFor } from '../../../src/testing/index.js';
import { report } from './delivery.js';
import {
  bodyOf,
  entered,
  handled,
  handledByAll,
  handledRecord,
  ids,
  KINDS,
  keeps,
  payload,
  pendingOf,
  publishAll,
  recordsOf,
  SETTLE_MS,
  scriptedHandler,
  subscribers,
  useTransports,
  WAIT,
} from './harness.js';

const redis = useRedis();
const t = useTransports(redis, 'stop');

describe.each(KINDS)('%s: stop() is graceful', (kind) => {
  it('waits for the handler in hand, acknowledges it, and loses nothing', async () => {
    const { transport } = await t.open(kind);
    const admin = await t.admin();
    const keys = t.keys();
    const script = scriptedHandler();
    const m1 = script.hold('sms', 'm1');
    const sms = await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ['m1']);
    await entered(m1, 'sms to be handed m1');
    expect(recordsOf(transport, 'sms'), 'the call in hand is recorded as running').toEqual([
      { ...handledRecord(kind, 'm1'), outcome: 'running' },
    ]);
    const stopping = sms.stop();
    expect(
      await settlesWithin(stopping, SETTLE_MS),
      'stop() must wait while the handler still works on m1',
    ).toBe('pending');
    m1.release();
    expect(await settlesWithin(stopping, WAIT.timeoutMs), 'and resolve once it is done').toBe('settled');
    expect(recordsOf(transport, 'sms'), 'm1 was handled').toEqual([handledRecord(kind, 'm1')]);
    if (kind === 'list') {
      expect(await admin.lrange(keys.processing('sms'), 0, -1), 'acknowledged: LREM from processing').toEqual(
        [],
      );
    }
    if (kind === 'stream') {
      expect(await pendingOf(admin, keys.stream, 'sms'), 'acknowledged: XACK, nothing pending').toEqual([]);
    }
    await publishAll(transport, ['m2']); // while sms is stopped
    await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ['m3']);
    await handled(transport, 'sms', ['m3']);
    await sleep(SETTLE_MS);
    expect(
      report(ids(1, 3), transport.deliveries(), ['sms']).sms,
      keeps(kind)
        ? 'a graceful stop loses nothing and causes no redelivery: m2 waited for the restart'
        : 'pub/sub: m2 was published while sms was stopped, so it is lost; nothing is redelivered',
    ).toEqual({ lost: keeps(kind) ? [] : ['m2'], redelivered: [], duplicates: 0 });
  });

  it(
    keeps(kind)
      ? 'takes no new message once stop() is called: the rest wait in Redis for the next start'
      : 'also handles the messages that arrived while the handler worked (they wait in memory)',
    async () => {
      const { transport } = await t.open(kind);
      const script = scriptedHandler();
      const m1 = script.hold('sms', 'm1');
      const sms = await transport.consumer('sms').start(script.handler);
      await publishAll(transport, ids(1, 3));
      await entered(m1, 'sms to be handed m1');
      const stopping = sms.stop();
      m1.release();
      await stopping;
      expect(
        script.idsOf('sms'),
        keeps(kind)
          ? 'only m1, the message in hand: m2 and m3 were never taken'
          : 'm2 and m3 reached the subscriber before it unsubscribed: dropping them would lose them',
      ).toEqual(keeps(kind) ? ['m1'] : ids(1, 3));
      if (keeps(kind)) {
        await transport.consumer('sms').start(script.handler);
        await handled(transport, 'sms', ids(2, 3));
        expect(recordsOf(transport, 'sms'), 'm2 and m3 come at the next start, as first deliveries').toEqual(
          ids(1, 3).map((id) => handledRecord(kind, id)),
        );
      }
    },
  );

  it('close() stops every running consumer gracefully', async () => {
    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    for (const c of ['email', 'sms', 'audit']) await transport.consumer(c).start(script.handler);
    await publishAll(transport, ['m1']);
    await handledByAll(transport, ['m1']);
    const m2 = script.hold('audit', 'm2');
    await publishAll(transport, ['m2']);
    await entered(m2, 'audit to be handed m2');
    const closing = transport.close();
    expect(await settlesWithin(closing, SETTLE_MS), 'close() waits for the handler in hand').toBe('pending');
    m2.release();
    await closing;
    const seen = script.calls.length;
    await publishAll(transport, ['m3']);
    await sleep(SETTLE_MS);
    expect(script.calls.length, 'after close() no consumer is called').toBe(seen);
    expect(recordsOf(transport, 'audit').at(-1), "audit's m2 was handled, not cut off").toEqual(
      handledRecord(kind, 'm2'),
    );
  });
});

describe.each(KINDS)('%s: crash()', (kind) => {
  it('discards the call in hand (recorded crashed even if it returns later), sends nothing more, calls nothing more', async () => {
    const { transport, duplicates } = await t.open(kind);
    const admin = await t.admin();
    const keys = t.keys();
    const script = scriptedHandler();
    const m1 = script.hold('sms', 'm1');
    const sms = await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ids(1, 2));
    await entered(m1, 'sms to be handed m1');
    const sentAfterCrash: string[] = [];
    for (const own of duplicates) {
      const send = own.sendCommand.bind(own);
      own.sendCommand = ((command, ...rest) => {
        sentAfterCrash.push(String(command.name));
        return send(command, ...rest);
      }) as typeof own.sendCommand;
    }
    sms.crash();
    expect(
      await settlesWithin(sms.stop(), SETTLE_MS),
      'stop() after crash() does nothing: it does not wait for the handler',
    ).toBe('settled');
    m1.release(); // the handler returns after the crash
    await publishAll(transport, ['m3']);
    await sleep(SETTLE_MS);
    expect(recordsOf(transport, 'sms'), 'one record, crashed, whatever the handler did afterwards').toEqual([
      {
        messageId: 'm1',
        redelivery: false,
        ...(kind === 'stream' ? { attempt: 1 } : {}),
        outcome: 'crashed',
      },
    ]);
    expect(script.idsOf('sms'), 'no handler call after the crash (not m2, not m3)').toEqual(['m1']);
    expect(
      sentAfterCrash,
      'a crashed run sends nothing more: no acknowledgement, no read, no UNSUBSCRIBE',
    ).toEqual([]);
    if (kind === 'list') {
      expect(await admin.lrange(keys.processing('sms'), 0, -1), 'm1 is still in the processing list').toEqual(
        [payload('m1', bodyOf('m1'))],
      );
    }
    if (kind === 'stream') {
      const pending = await pendingOf(admin, keys.stream, 'sms');
      expect(
        pending.map(([, consumer, , count]) => [consumer, count]),
        'm1 is still pending on sms',
      ).toEqual([['sms', 1]]);
    }
  });

  it("crash() closes the consumer's own connections at once, stop() once it is done", async () => {
    const { transport, duplicates } = await t.open(kind);
    const script = scriptedHandler();
    const first = await transport.consumer('sms').start(script.handler);
    const ofFirst = [...duplicates];
    expect(ofFirst.length, 'a consumer opens its connection with redis.duplicate()').toBeGreaterThanOrEqual(
      1,
    );
    let crashed = false;
    const issuedAfterCrash: string[] = [];
    for (const own of ofFirst) {
      const send = own.sendCommand.bind(own);
      own.sendCommand = ((command, ...rest) => {
        if (crashed) issuedAfterCrash.push(String(command.name));
        return send(command, ...rest);
      }) as typeof own.sendCommand;
    }
    // While it waits for a message: the read it is blocked in fails when the connection closes.
    await sleep(SETTLE_MS);
    first.crash();
    crashed = true;
    await waitFor(
      "the crashed run's connections to be closed",
      () => ofFirst.every((c) => c.status === 'end'),
      WAIT,
    );
    await sleep(SETTLE_MS);
    expect(
      issuedAfterCrash,
      'a crashed run issues no command: the read that failed because crash() closed the connection is not tried again',
    ).toEqual([]);
    const second = await transport.consumer('sms').start(script.handler);
    const ofSecond = duplicates.slice(ofFirst.length);
    expect(ofSecond.length, 'a new run opens a new connection').toBeGreaterThanOrEqual(1);
    await second.stop();
    await waitFor(
      "the stopped run's connections to be closed",
      () => ofSecond.every((c) => c.status === 'end'),
      WAIT,
    );
  });

  if (kind === 'pubsub') {
    it('a crashed subscriber is gone from Redis: PUBSUB NUMSUB drops', async () => {
      const { transport } = await t.open(kind);
      const admin = await t.admin();
      const channel = t.keys().channel;
      const script = scriptedHandler();
      const running = [];
      for (const c of ['email', 'sms', 'audit'])
        running.push(await transport.consumer(c).start(script.handler));
      await waitFor('3 subscribers', async () => (await subscribers(admin, channel)) === 3, WAIT);
      running[1]?.crash();
      await waitFor(
        "sms's subscription to end (a crash closes its connection: Redis keeps no subscription for a dead process)",
        async () => (await subscribers(admin, channel)) === 2,
        WAIT,
      );
      await transport.consumer('sms').start(script.handler);
      await publishAll(transport, ['m1']);
      await handledByAll(transport, ['m1']);
      expect(script.idsOf('sms'), 'the new run gets m1 once').toEqual(['m1']);
    });
  }
});
