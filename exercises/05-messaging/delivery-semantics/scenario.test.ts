/**
 * The chapter's experiment, the same for all three tools: m1-m3 are published; sms crashes while
 * handling m3; m4-m6 are published while it is down; it starts again; m7-m9 are published; then
 * everything stops. What did each tool lose, and what did it deliver twice?
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useRedis, waitFor } from '../../../src/testing/index.js';
import {
  type ConsumerReport,
  type Delivery,
  type DeliveryRecord,
  report,
  type TransportKind,
} from './delivery.js';
import {
  CONSUMERS,
  connection,
  entered,
  handledByAll,
  handledRecord,
  ids,
  KINDS,
  keeps,
  keysOf,
  payload,
  pendingOf,
  publishAll,
  scriptedHandler,
  transportOn,
  WAIT,
} from './harness.js';

const redis = useRedis();
const PUBLISHED = ids(1, 9);

interface Outcome {
  readonly deliveries: DeliveryRecord[];
  readonly calls: Delivery[];
  /** Redis while sms's handler was stuck on m3, just before the crash. */
  readonly atCrash: { processing: string[]; queue: string[]; pending: [string, string, number, number][] };
  /** XPENDING for sms while its handler ran the redelivered m3 (stream). */
  readonly pendingDuringRedelivery: [string, string, number, number][] | undefined;
  /** Redis after everything stopped. */
  readonly afterStop: { processing: string[][]; queues: number[]; pending: number[] };
}

const opened: Redis[] = [];
afterAll(() => {
  for (const client of opened.splice(0)) client.disconnect();
});

/** Runs the experiment for `kind`: every test of the kind looks at the same run (in `beforeAll`). */
async function runScenario(kind: TransportKind): Promise<Outcome> {
  const namespace = `t05-ds-scenario-${kind}-${process.pid}-${Date.now()}`;
  const keys = keysOf(namespace);
  const admin = await connection(redis.url);
  opened.push(admin);
  const { transport, redis: producer } = await transportOn(redis.url, {
    namespace,
    kind,
    consumers: [...CONSUMERS],
  });
  opened.push(producer);
  const script = scriptedHandler();
  try {
    const m3 = script.hold('sms', 'm3');
    const running = {
      email: await transport.consumer('email').start(script.handler),
      sms: await transport.consumer('sms').start(script.handler),
      audit: await transport.consumer('audit').start(script.handler),
    };
    await publishAll(transport, ids(1, 3));
    await entered(m3, 'sms to be handed m3 (every consumer must get every message)');
    const atCrash = {
      processing: await admin.lrange(keys.processing('sms'), 0, -1),
      queue: await admin.lrange(keys.queue('sms'), 0, -1),
      pending: await pendingOf(admin, keys.stream, 'sms'),
    };
    running.sms.crash();
    m3.release(); // the crashed run's handler finishes now: too late, its outcome is discarded
    await publishAll(transport, ids(4, 6));
    await Promise.all(['email', 'audit'].map((c) => handledOrTimeout(transport, c, ids(1, 6))));

    let pendingDuringRedelivery: Outcome['pendingDuringRedelivery'];
    script.during('sms', 'm3', async (delivery) => {
      if (delivery.redelivery) pendingDuringRedelivery = await pendingOf(admin, keys.stream, 'sms');
    });
    running.sms = await transport.consumer('sms').start(script.handler);
    await publishAll(transport, ids(7, 9));
    await handledByAll(transport, ['m9']);
    await transport.close();
    const afterStop = {
      processing: await Promise.all(CONSUMERS.map((c) => admin.lrange(keys.processing(c), 0, -1))),
      queues: await Promise.all(CONSUMERS.map((c) => admin.llen(keys.queue(c)))),
      pending: await Promise.all(CONSUMERS.map(async (c) => (await pendingOf(admin, keys.stream, c)).length)),
    };
    return {
      deliveries: transport.deliveries(),
      calls: script.calls,
      atCrash,
      pendingDuringRedelivery,
      afterStop,
    };
  } finally {
    await transport.close().catch(() => {});
  }
}

function handledOrTimeout(transport: { deliveries(): DeliveryRecord[] }, consumer: string, wanted: string[]) {
  return waitFor(
    `${consumer} to handle ${wanted.join(', ')} while sms is down (one consumer's crash must not touch the others)`,
    () =>
      wanted.every((id) =>
        transport
          .deliveries()
          .some((r) => r.consumer === consumer && r.messageId === id && r.outcome === 'handled'),
      ),
    WAIT,
  );
}

const CLEAN: ConsumerReport = { lost: [], redelivered: [], duplicates: 0 };

/** What Redis really does to sms, per tool. */
const SMS: Record<TransportKind, ConsumerReport> = {
  pubsub: { lost: ['m3', 'm4', 'm5', 'm6'], redelivered: [], duplicates: 0 },
  list: { lost: [], redelivered: ['m3'], duplicates: 0 },
  stream: { lost: [], redelivered: ['m3'], duplicates: 0 },
};

describe.each(KINDS)('%s: sms crashes with m3 in its hands', (kind) => {
  let outcome: Outcome | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      outcome = await runScenario(kind);
    } catch (error) {
      failure = error; // every test of the kind fails with it (a failing beforeAll would skip them)
    }
  });
  const result = (): Outcome => {
    if (!outcome) throw failure;
    return outcome;
  };

  it('report(): what each consumer lost and got twice, from the record of deliveries', async () => {
    const { deliveries } = result();
    const why =
      kind === 'pubsub'
        ? 'pub/sub keeps nothing: sms loses m3 (its handler never finished) and m4-m6 (published while it was down)'
        : `${kind === 'list' ? 'a list with a processing list' : 'a stream with a consumer group'} loses nothing: the m3 sms crashed on is delivered again when it starts`;
    expect(report(PUBLISHED, deliveries, [...CONSUMERS]), why).toEqual({
      email: CLEAN,
      sms: SMS[kind],
      audit: CLEAN,
    });
  });

  it("sms's deliveries, in order: m3 crashed, then (list, stream) redelivered before m4", async () => {
    const { deliveries } = result();
    const sms = deliveries.filter((r) => r.consumer === 'sms').map(({ consumer: _, ...rest }) => rest);
    const crashed = {
      messageId: 'm3',
      redelivery: false,
      ...(kind === 'stream' ? { attempt: 1 } : {}),
      outcome: 'crashed',
    };
    const expected = keeps(kind)
      ? [
          handledRecord(kind, 'm1'),
          handledRecord(kind, 'm2'),
          crashed,
          handledRecord(kind, 'm3', true, 2),
          ...ids(4, 9).map((id) => handledRecord(kind, id)),
        ]
      : [
          handledRecord(kind, 'm1'),
          handledRecord(kind, 'm2'),
          crashed,
          ...ids(7, 9).map((id) => handledRecord(kind, id)),
        ];
    expect(
      sms,
      'the crashed call is recorded as crashed even though its handler returned after the crash; ' +
        (keeps(kind)
          ? 'the redelivery comes first after the restart, marked redelivery: true'
          : 'nothing published while sms was down reaches it'),
    ).toStrictEqual(expected); // strict: no `attempt` property at all for pubsub and list
  });

  it('email and audit are not touched by the crash: m1-m9 once each, handled, in publish order', async () => {
    const { deliveries } = result();
    for (const consumer of ['email', 'audit']) {
      expect(
        deliveries.filter((r) => r.consumer === consumer).map(({ consumer: _, ...rest }) => rest),
        `${consumer} must get every message exactly once`,
      ).toStrictEqual(PUBLISHED.map((id) => handledRecord(kind, id)));
    }
  });

  it('the record of deliveries matches the handler calls one for one', async () => {
    const { deliveries, calls } = result();
    expect(
      deliveries.map(({ consumer, messageId, redelivery, attempt }) => ({
        consumer,
        id: messageId,
        redelivery,
        attempt,
      })),
      'one record per handler call, in the order the calls started',
    ).toEqual(calls.map(({ consumer, id, redelivery, attempt }) => ({ consumer, id, redelivery, attempt })));
    expect(
      calls.every((c) => c.body === `notification ${c.id}`),
      'the handler gets the body that was published',
    ).toBe(true);
  });

  it('after a graceful stop of everything, nothing is left unacknowledged', async () => {
    const { afterStop } = result();
    expect(afterStop.processing, 'every processing list is empty').toEqual([[], [], []]);
    expect(afterStop.queues, 'every queue is empty').toEqual([0, 0, 0]);
    expect(afterStop.pending, 'no consumer has pending entries').toEqual([0, 0, 0]);
  });

  if (kind === 'list') {
    it("at the crash, m3 sat in sms's processing list and nothing else had been taken", async () => {
      const { atCrash } = result();
      expect(
        atCrash.processing,
        `<ns>:processing:sms holds m3's payload, ${payload('m3', 'notification m3')}`,
      ).toEqual([payload('m3', 'notification m3')]);
      expect(atCrash.queue, 'the queue is empty: m1 and m2 were taken and handled').toEqual([]);
    });
  }

  if (kind === 'stream') {
    it('at the crash m3 was pending on sms (delivered once); while redelivered XPENDING counts 2', async () => {
      const { atCrash, pendingDuringRedelivery, deliveries } = result();
      expect(
        atCrash.pending.map(([, consumer, , count]) => [consumer, count]),
        'one pending entry, on consumer sms of group sms, delivered once',
      ).toEqual([['sms', 1]]);
      expect(
        pendingDuringRedelivery?.map(([id, consumer, , count]) => [id, consumer, count]),
        'the redelivered m3 is the same entry, still pending on sms, its delivery count now 2',
      ).toEqual([[atCrash.pending[0]?.[0], 'sms', 2]]);
      expect(
        deliveries.find((r) => r.consumer === 'sms' && r.redelivery)?.attempt,
        'attempt is that count',
      ).toBe(2);
    });
  }
});
