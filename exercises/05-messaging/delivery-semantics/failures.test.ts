/** A handler that throws: what each tool does with the message, then and at the next start. */
import { describe, expect, it } from 'vitest';
import { sleep, useRedis, waitFor } from '../../../src/testing/index.js';
import { report } from './delivery.js';
import {
  handled,
  handledRecord,
  ids,
  KINDS,
  keeps,
  pendingOf,
  publishAll,
  recordsOf,
  SETTLE_MS,
  scriptedHandler,
  useTransports,
  WAIT,
} from './harness.js';

const redis = useRedis();
const t = useTransports(redis, 'fail');

describe.each(KINDS)('%s: a handler that fails', (kind) => {
  it(
    keeps(kind)
      ? 'is not acknowledged; the consumer goes on; the next start delivers the failed ones again, oldest first'
      : 'loses its message: pub/sub has nothing to deliver again',
    async () => {
      const { transport } = await t.open(kind);
      const script = scriptedHandler();
      script.fail('sms', 'm2');
      script.fail('sms', 'm4');
      script.fail('sms', 'm5');
      const sms = await transport.consumer('sms').start(script.handler);
      await publishAll(transport, ids(1, 5));
      await waitFor('five deliveries to sms', () => recordsOf(transport, 'sms').length >= 5, WAIT);
      const failed = (id: string) => ({
        messageId: id,
        redelivery: false,
        ...(kind === 'stream' ? { attempt: 1 } : {}),
        outcome: 'failed',
      });
      expect(recordsOf(transport, 'sms'), 'm2, m4 and m5 failed; the consumer went on after each').toEqual([
        handledRecord(kind, 'm1'),
        failed('m2'),
        handledRecord(kind, 'm3'),
        failed('m4'),
        failed('m5'),
      ]);
      await sms.stop();
      await transport.consumer('sms').start(script.handler);
      await publishAll(transport, ['m6']);
      await handled(transport, 'sms', ['m6']);
      await sleep(SETTLE_MS);
      expect(
        recordsOf(transport, 'sms').slice(5),
        keeps(kind)
          ? 'after the restart: m2, m4, m5 (oldest first), marked as redeliveries, then m6'
          : 'after the restart: only m6',
      ).toEqual(
        keeps(kind)
          ? [...['m2', 'm4', 'm5'].map((id) => handledRecord(kind, id, true, 2)), handledRecord(kind, 'm6')]
          : [handledRecord(kind, 'm6')],
      );
      expect(report(ids(1, 6), transport.deliveries(), ['sms']).sms).toEqual(
        keeps(kind)
          ? { lost: [], redelivered: ['m2', 'm4', 'm5'], duplicates: 0 }
          : { lost: ['m2', 'm4', 'm5'], redelivered: [], duplicates: 0 },
      );
    },
  );

  it('the same message published twice (a producer that retried) is two deliveries: one failing is not erased by the other', async () => {
    const { transport } = await t.open(kind);
    const script = scriptedHandler();
    script.fail('sms', 'm1'); // the first copy fails, the second is handled
    const sms = await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ['m1', 'm1']);
    await waitFor('two deliveries of m1', () => script.idsOf('sms').length >= 2, WAIT);
    await sms.stop();
    await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ['m2']);
    await handled(transport, 'sms', ['m2']);
    await sleep(SETTLE_MS);
    expect(
      recordsOf(transport, 'sms').map((r) => [r.messageId, r.outcome, r.redelivery]),
      keeps(kind)
        ? 'the failed copy is still unacknowledged after the other copy was handled: it comes back at the next start'
        : 'pub/sub: the failed copy is gone',
    ).toEqual([
      ['m1', 'failed', false],
      ['m1', 'handled', false],
      ...(keeps(kind) ? [['m1', 'handled', true]] : []),
      ['m2', 'handled', false],
    ]);
  });

  if (keeps(kind)) {
    it('a redelivery that fails again waits for the following start; the consumer goes on with new messages', async () => {
      const { transport } = await t.open(kind);
      const admin = await t.admin();
      const keys = t.keys();
      const script = scriptedHandler();
      script.fail('sms', 'm1', 2);
      const counts: number[] = [];
      script.during('sms', 'm1', async () => {
        if (kind === 'stream') counts.push((await pendingOf(admin, keys.stream, 'sms'))[0]?.[3] ?? -1);
      });
      let sms = await transport.consumer('sms').start(script.handler);
      await publishAll(transport, ['m1']);
      await waitFor('the first delivery of m1', () => script.idsOf('sms').length >= 1, WAIT);
      await sms.stop();
      sms = await transport.consumer('sms').start(script.handler); // m1 again: fails again
      await publishAll(transport, ['m2']);
      await handled(transport, 'sms', ['m2']);
      await sleep(SETTLE_MS);
      expect(script.idsOf('sms'), 'm1 is delivered once per start, not in a loop; m2 is not held up').toEqual(
        ['m1', 'm1', 'm2'],
      );
      await sms.stop();
      await transport.consumer('sms').start(script.handler); // third time lucky
      await handled(transport, 'sms', ['m1']);
      const m1 = recordsOf(transport, 'sms').filter((r) => r.messageId === 'm1');
      expect(
        m1.map((r) => [r.outcome, r.redelivery, r.attempt]),
        kind === 'stream'
          ? "attempt is Redis's delivery count: 1, 2, 3"
          : 'a list does not count deliveries: no attempt',
      ).toEqual([
        ['failed', false, kind === 'stream' ? 1 : undefined],
        ['failed', true, kind === 'stream' ? 2 : undefined],
        ['handled', true, kind === 'stream' ? 3 : undefined],
      ]);
      if (kind === 'stream') expect(counts, 'what XPENDING showed during each call').toEqual([1, 2, 3]);
    });
  }
});

describe('stream: a pending entry deleted from the stream', () => {
  it('is acknowledged and skipped at the next start: there is nothing left to deliver', async () => {
    const { transport } = await t.open('stream');
    const admin = await t.admin();
    const keys = t.keys();
    const script = scriptedHandler();
    script.fail('sms', 'm1');
    script.fail('sms', 'm2');
    const sms = await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ids(1, 2));
    await waitFor('two failed deliveries', () => recordsOf(transport, 'sms').length >= 2, WAIT);
    await sms.stop();
    const [first] = await pendingOf(admin, keys.stream, 'sms');
    await admin.xdel(keys.stream, first![0]); // m1's entry is gone (XDEL, or a trim), m2's is not
    await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ['m3']);
    await handled(transport, 'sms', ['m2', 'm3']);
    expect(script.idsOf('sms'), 'm1 is not delivered again; m2 is, then m3').toEqual([
      'm1',
      'm2',
      'm2',
      'm3',
    ]);
    expect(
      await pendingOf(admin, keys.stream, 'sms'),
      'nothing left pending: the deleted entry was acknowledged',
    ).toEqual([]);
  });
});
