import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import { createEventStore, EventStoreClosedError } from './event-store.js';
import { connection, events, ManualClock, useStores } from './harness.js';

const redis = useRedis();
const stores = useStores(redis);

describe('readStream and streamVersion', () => {
  it('returns the recorded events with every field, in version order', async () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 31, 20, 0, 0));
    const { store } = await stores.member({ clock });
    await store.appendToStream('other', events(1));
    clock.advance(1500);
    await store.appendToStream('account-1', [
      { type: 'Opened', data: { owner: 'Zoë', limit: 0 }, metadata: { commandId: 'c-1' }, eventId: 'e-1' },
      { type: 'Deposited', data: { amount: 1250 } },
    ]);
    const [opened, deposited] = await store.readStream('account-1');
    expect(opened).toEqual({
      streamName: 'account-1',
      streamVersion: 1,
      position: 2,
      type: 'Opened',
      data: { owner: 'Zoë', limit: 0 },
      metadata: { commandId: 'c-1' },
      eventId: 'e-1',
      recordedAt: '2024-01-31T20:00:01.500Z',
    });
    expect(deposited).toMatchObject({
      streamVersion: 2,
      position: 3,
      type: 'Deposited',
      data: { amount: 1250 },
    });
    expect(deposited!.recordedAt, 'every event of one append has the same recordedAt').toBe(
      opened!.recordedAt,
    );
  });

  it('recordedAt is the injected clock’s time in UTC (ISO 8601), not the wall clock, not local time', async () => {
    for (const at of [Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2030, 5, 1, 0, 0, 0, 7)]) {
      const { store } = await stores.member({ clock: new ManualClock(at) });
      await store.appendToStream(`s-${at}`, events(1));
      const [event] = await store.readStream(`s-${at}`);
      expect(event!.recordedAt, 'run with TZ=Asia/Kolkata, a local-time string is 5 h 30 min off').toBe(
        new Date(at).toISOString(),
      );
    }
  });

  it('fromVersion is inclusive; maxCount limits; an absent stream reads as []', async () => {
    const { store } = await stores.member();
    await store.appendToStream('s', events(5));
    const ns = (list: { data: Record<string, unknown> }[]) => list.map((e) => e.data.n);
    expect(ns(await store.readStream('s')), 'from version 1 by default').toEqual([1, 2, 3, 4, 5]);
    expect(ns(await store.readStream('s', { fromVersion: 3 })), 'fromVersion 3 starts at version 3').toEqual([
      3, 4, 5,
    ]);
    expect(ns(await store.readStream('s', { fromVersion: 2, maxCount: 2 }))).toEqual([2, 3]);
    expect(ns(await store.readStream('s', { maxCount: 1 }))).toEqual([1]);
    expect(await store.readStream('s', { fromVersion: 6 }), 'past the end: nothing').toEqual([]);
    expect(await store.readStream('nobody')).toEqual([]);
  });

  it('streamVersion is the last version, 0 for an absent stream; streams are independent', async () => {
    const { store } = await stores.member();
    expect(await store.streamVersion('a')).toBe(0);
    await store.appendToStream('a', events(3));
    await store.appendToStream('b', events(1));
    expect(await store.streamVersion('a')).toBe(3);
    expect(await store.streamVersion('b')).toBe(1);
    expect(
      (await store.readStream('b')).map((e) => e.streamVersion),
      "b's versions start at 1",
    ).toEqual([1]);
  });

  it('every read returns fresh objects', async () => {
    const { store } = await stores.member();
    await store.appendToStream('s', [{ type: 'A', data: { list: [1] } }]);
    const [first] = await store.readStream('s');
    (first!.data.list as number[]).push(2);
    expect((await store.readStream('s'))[0]!.data, "a caller's change to a result changes nothing").toEqual({
      list: [1],
    });
  });
});

describe('readAll', () => {
  it('returns the events of every stream in commit order, with positions 1, 2, 3 …', async () => {
    const a = await stores.member();
    const b = await stores.member();
    await a.store.appendToStream('x', events(1, 'x'));
    await b.store.appendToStream('y', events(2, 'y'));
    await a.store.appendToStream('z', events(1, 'z'));
    await b.store.appendToStream('x', events(1, 'x', 2));
    const all = await a.store.readAll();
    expect(all.map((e) => [e.position, e.streamName, e.streamVersion])).toEqual([
      [1, 'x', 1],
      [2, 'y', 1],
      [3, 'y', 2],
      [4, 'z', 1],
      [5, 'x', 2],
    ]);
  });

  it('after is exclusive (a checkpoint): after 2 starts at position 3; maxCount limits', async () => {
    const { store } = await stores.member();
    await store.appendToStream('a', events(3));
    await store.appendToStream('b', events(2));
    const positions = async (options: Parameters<typeof store.readAll>[0]) =>
      (await store.readAll(options)).map((e) => e.position);
    expect(await positions({}), 'after 0 by default: everything').toEqual([1, 2, 3, 4, 5]);
    expect(await positions({ after: 2 }), 'resuming after the checkpoint 2 must not return 2 again').toEqual([
      3, 4, 5,
    ]);
    expect(await positions({ after: 1, maxCount: 2 })).toEqual([2, 3]);
    expect(await positions({ maxCount: 4 })).toEqual([1, 2, 3, 4]);
    expect(await positions({ after: 5 }), 'caught up: nothing').toEqual([]);
  });

  it('an empty store reads as []', async () => {
    const { store } = await stores.member();
    expect(await store.readAll()).toEqual([]);
  });
});

describe('validation of reads', () => {
  const bad: [
    string,
    (s: Awaited<ReturnType<typeof stores.member>>['store']) => Promise<unknown>,
    ErrorConstructor,
    string[],
  ][] = [
    ['readStream with an empty name', (s) => s.readStream(''), TypeError, ['streamName']],
    ['readStream with a control character', (s) => s.readStream('a\tb'), TypeError, ['streamName']],
    ['streamVersion with an empty name', (s) => s.streamVersion(''), TypeError, ['streamName']],
    ['fromVersion 0', (s) => s.readStream('s', { fromVersion: 0 }), RangeError, ['fromVersion', '0']],
    ['fromVersion 1.5', (s) => s.readStream('s', { fromVersion: 1.5 }), RangeError, ['fromVersion', '1.5']],
    ['readStream maxCount 0', (s) => s.readStream('s', { maxCount: 0 }), RangeError, ['maxCount', '0']],
    ['readAll after -1', (s) => s.readAll({ after: -1 }), RangeError, ['after', '-1']],
    ['readAll after NaN', (s) => s.readAll({ after: Number.NaN }), RangeError, ['after', 'NaN']],
    ['readAll maxCount 2.5', (s) => s.readAll({ maxCount: 2.5 }), RangeError, ['maxCount', '2.5']],
  ];

  it.each(bad)('%s', async (_, call, type, named) => {
    const { store } = await stores.member();
    const error = await call(store).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, `must reject with a ${type.name}`).toBeInstanceOf(type);
    for (const name of named) expect((error as Error).message, `the message names ${name}`).toContain(name);
  });

  it('createEventStore refuses a namespace that is not a non-empty string, naming it', async () => {
    const client = await connection(redis);
    for (const namespace of ['', 42, undefined] as never[]) {
      expect(() => createEventStore({ redis: client, namespace }), `namespace ${String(namespace)}`).toThrow(
        TypeError,
      );
      expect(() => createEventStore({ redis: client, namespace })).toThrow(/namespace/);
    }
  });
});

describe('close', () => {
  it('afterwards every call rejects with EventStoreClosedError; the caller’s connection stays open', async () => {
    const { store, redis: client } = await stores.member();
    await store.appendToStream('s', events(1));
    await store.close();
    await store.close(); // a second call does nothing
    for (const call of [
      () => store.appendToStream('s', events(1)),
      () => store.readStream('s'),
      () => store.streamVersion('s'),
      () => store.readAll(),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, 'a closed store refuses every call').toBeInstanceOf(EventStoreClosedError);
      expect(error).toMatchObject({ code: 'ESTORECLOSED', name: 'EventStoreClosedError' });
    }
    expect(() => store.subscribeToAll({ onEvent: () => {} })).toThrow(EventStoreClosedError);
    expect(await client.ping(), 'close() must not close the connection it was given').toBe('PONG');
  });
});
