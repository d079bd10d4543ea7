import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import {
  type AppendResult,
  type ExpectedVersion,
  type NewEvent,
  WrongExpectedVersionError,
} from './event-store.js';
import { connection, events, namespaceKeys, tap, useStores } from './harness.js';

const redis = useRedis();
const stores = useStores(redis);

/** The conflict an append must reject with. */
async function conflict(append: Promise<unknown>): Promise<WrongExpectedVersionError> {
  const error = await append.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'a version mismatch must reject with WrongExpectedVersionError').toBeInstanceOf(
    WrongExpectedVersionError,
  );
  return error as WrongExpectedVersionError;
}

describe('expected version (KurrentDB: "expected revision", Emmett: expected stream version)', () => {
  const cases: [string, ExpectedVersion, number, boolean][] = [
    ["'any' on a stream that does not exist", 'any', 0, true],
    ["'any' on a stream at version 2", 'any', 2, true],
    ["'no_stream' on a stream that does not exist", 'no_stream', 0, true],
    ["'no_stream' on a stream at version 2", 'no_stream', 2, false],
    ["'stream_exists' on a stream at version 2", 'stream_exists', 2, true],
    ["'stream_exists' on a stream at version 1", 'stream_exists', 1, true],
    ["'stream_exists' on a stream that does not exist", 'stream_exists', 0, false],
    ['exact 0 on a stream that does not exist', 0, 0, true],
    ['exact 0 on a stream at version 2', 0, 2, false],
    ['exact 2 on a stream at version 2', 2, 2, true],
    ['exact 1 on a stream at version 2', 1, 2, false],
    ['exact 3 on a stream at version 2', 3, 2, false],
    ['exact 2 on a stream that does not exist', 2, 0, false],
  ];

  it.each(cases)('%s', async (_, expectedVersion, version, succeeds) => {
    const { store } = await stores.member();
    if (version > 0) await store.appendToStream('account-1', events(version));
    const append = store.appendToStream('account-1', events(1, 'Next'), { expectedVersion });
    if (succeeds) {
      const result = await append;
      expect(result.nextExpectedVersion, 'after appending one event the stream is one version further').toBe(
        version + 1,
      );
      expect((await store.readStream('account-1')).map((e) => e.type)).toEqual([
        ...Array(version).fill('Happened'),
        'Next',
      ]);
    } else {
      const error = await conflict(append);
      expect(error).toMatchObject({ code: 'EWRONGVERSION', name: 'WrongExpectedVersionError' });
      expect(
        { streamName: error.streamName, expected: error.expected, actual: error.actual },
        'the error carries the stream, the expected version as passed, and the actual version (0: no stream)',
      ).toEqual({ streamName: 'account-1', expected: expectedVersion, actual: version });
      expect(error.message, 'the message names the stream').toContain('account-1');
      expect(await store.streamVersion('account-1'), 'a rejected append writes nothing').toBe(version);
      expect(await store.readAll(), 'a rejected append writes nothing to the global log either').toHaveLength(
        version,
      );
    }
  });

  it("the default is 'any': appends to a new and to an existing stream", async () => {
    const { store } = await stores.member();
    expect(await store.appendToStream('s', events(2))).toEqual({ nextExpectedVersion: 2, lastPosition: 2 });
    expect(await store.appendToStream('s', events(1))).toEqual({ nextExpectedVersion: 3, lastPosition: 3 });
  });

  it('nextExpectedVersion is the version to pass next time; lastPosition the position of the last event', async () => {
    const { store } = await stores.member();
    const first = await store.appendToStream('a', events(2), { expectedVersion: 'no_stream' });
    expect(first).toEqual({ nextExpectedVersion: 2, lastPosition: 2 });
    const other = await store.appendToStream('b', events(3), { expectedVersion: 'no_stream' });
    expect(other, 'stream b starts at version 1 but its events are at positions 3-5').toEqual({
      nextExpectedVersion: 3,
      lastPosition: 5,
    });
    const second = await store.appendToStream('a', events(1), { expectedVersion: first.nextExpectedVersion });
    expect(second).toEqual({ nextExpectedVersion: 3, lastPosition: 6 });
  });

  it('two stores on one namespace (two processes) see each other’s versions', async () => {
    const a = await stores.member();
    const b = await stores.member();
    await a.store.appendToStream('cart-7', events(1), { expectedVersion: 'no_stream' });
    await conflict(b.store.appendToStream('cart-7', events(1), { expectedVersion: 'no_stream' }));
    await b.store.appendToStream('cart-7', events(1), { expectedVersion: 1 });
    const error = await conflict(a.store.appendToStream('cart-7', events(1), { expectedVersion: 1 }));
    expect(error.actual, 'the actual version includes what the other store appended').toBe(2);
  });
});

describe('appending nothing', () => {
  it("[] with 'no_stream' succeeds and creates no stream (a no-op decision leaves no trace)", async () => {
    const { store, redis: client } = await stores.member();
    expect(await store.appendToStream('cart-1', [], { expectedVersion: 'no_stream' })).toEqual({
      nextExpectedVersion: 0,
      lastPosition: 0,
    });
    expect(
      await namespaceKeys(client, stores.namespace),
      'no key may be created for an empty append',
    ).toEqual([]);
    expect(await store.streamVersion('cart-1')).toBe(0);
  });

  it('[] still checks the expected version', async () => {
    const { store } = await stores.member();
    await conflict(store.appendToStream('cart-1', [], { expectedVersion: 'stream_exists' }));
    await store.appendToStream('cart-1', events(2));
    const error = await conflict(store.appendToStream('cart-1', [], { expectedVersion: 1 }));
    expect(error.actual).toBe(2);
    await conflict(store.appendToStream('cart-1', [], { expectedVersion: 'no_stream' }));
    expect(await store.readStream('cart-1'), 'nothing is written').toHaveLength(2);
  });

  it('[] on an existing stream returns its version and the position of its last event', async () => {
    const { store } = await stores.member();
    await store.appendToStream('a', events(2));
    await store.appendToStream('b', events(1));
    const result: AppendResult = await store.appendToStream('a', [], { expectedVersion: 2 });
    expect(result, "a's last event is at position 2, whatever came later in other streams").toEqual({
      nextExpectedVersion: 2,
      lastPosition: 2,
    });
    expect(await store.readAll(), 'nothing is written to the global log').toHaveLength(3);
  });
});

describe('layout in Redis', () => {
  it('one stream per aggregate with entry ids 0-<version>, and a global log with ids 0-<position>', async () => {
    const { store, redis: client } = await stores.member();
    const ns = stores.namespace;
    await store.appendToStream('account-1', events(2));
    await store.appendToStream('account-2', events(1));
    await store.appendToStream('account-1', events(1, 'Later'));
    const ids = async (key: string) => (await client.xrange(key, '-', '+')).map(([id]) => id);
    expect(await ids(`${ns}:stream:account-1`), 'version n is the entry 0-n').toEqual(['0-1', '0-2', '0-3']);
    expect(await ids(`${ns}:stream:account-2`)).toEqual(['0-1']);
    expect(await ids(`${ns}:all`), 'position p is the entry 0-p of <namespace>:all').toEqual([
      '0-1',
      '0-2',
      '0-3',
      '0-4',
    ]);
  });

  it('both entries of an event hold every field: type, data, metadata, eventId, streamName, streamVersion, position, recordedAt', async () => {
    const { store, redis: client } = await stores.member();
    const ns = stores.namespace;
    await store.appendToStream('other', events(1));
    await store.appendToStream('account-1', [
      {
        type: 'Opened',
        data: { owner: 'Ada', nested: { a: [1, 2] } },
        metadata: { by: 'u1' },
        eventId: 'e-1',
      },
    ]);
    const fieldsOf = async (key: string, id: string) => {
      const [entry] = await client.xrange(key, id, id);
      const fields = entry![1];
      return Object.fromEntries(
        Array.from({ length: fields.length / 2 }, (_, i) => fields.slice(2 * i, 2 * i + 2)),
      );
    };
    for (const [key, id] of [
      [`${ns}:stream:account-1`, '0-1'],
      [`${ns}:all`, '0-2'],
    ] as const) {
      const fields = await fieldsOf(key, id);
      expect(Object.keys(fields).sort(), `${key} ${id}: the contract's eight fields`).toEqual(
        [
          'data',
          'eventId',
          'metadata',
          'position',
          'recordedAt',
          'streamName',
          'streamVersion',
          'type',
        ].sort(),
      );
      expect({
        ...fields,
        data: JSON.parse(fields.data),
        metadata: JSON.parse(fields.metadata),
      }).toMatchObject({
        type: 'Opened',
        data: { owner: 'Ada', nested: { a: [1, 2] } },
        metadata: { by: 'u1' },
        eventId: 'e-1',
        streamName: 'account-1',
        streamVersion: '1',
        position: '2',
      });
    }
  });
});

describe('atomicity: one script per append', () => {
  it('each append (a success, a no-op, a conflict) is exactly one EVALSHA or EVAL and nothing else', async () => {
    const { store, redis: client } = await stores.member();
    await store.appendToStream('warm-up', events(1)); // loads the script
    const commands = tap(client);
    await store.appendToStream('a', events(3), { expectedVersion: 'no_stream' });
    await store.appendToStream('a', events(1), { expectedVersion: 3 });
    await store.appendToStream('b', [], { expectedVersion: 'no_stream' });
    await conflict(store.appendToStream('a', events(2), { expectedVersion: 1 }));
    commands.stop();
    expect(
      commands.commands.map((name) => (name === 'evalsha' || name === 'eval' ? 'script' : name)),
      'four appends must be four script calls: checking, writing the stream and writing the global log in one atomic step (no read from Node first, no second command)',
    ).toEqual(['script', 'script', 'script', 'script']);
  });

  it('still works after Redis forgot the script (SCRIPT FLUSH: NOSCRIPT, then load again)', async () => {
    const { store } = await stores.member();
    await store.appendToStream('a', events(1));
    const admin = await connection(redis);
    await admin.script('FLUSH');
    expect(await store.appendToStream('a', events(1), { expectedVersion: 1 })).toEqual({
      nextExpectedVersion: 2,
      lastPosition: 2,
    });
    expect(await store.streamVersion('a')).toBe(2);
  });

  it('a conflict in the middle of a decision leaves no half of it: the events of one append are contiguous', async () => {
    const writers = await Promise.all(Array.from({ length: 5 }, () => stores.member()));
    await Promise.all(
      writers.map(({ store }, w) =>
        Promise.all(
          Array.from({ length: 4 }, () => store.appendToStream('shared', events(3, `writer-${w}`))),
        ),
      ),
    );
    const stored = await writers[0]!.store.readStream('shared');
    expect(stored).toHaveLength(60);
    for (let i = 0; i < stored.length; i += 3) {
      const group = stored.slice(i, i + 3);
      expect(
        group.map((e) => [e.type, e.data.n]),
        `versions ${i + 1}-${i + 3} must be one append's three events, in order: another writer cannot slip in between`,
      ).toEqual([1, 2, 3].map((n) => [group[0]!.type, n]));
    }
  });
});

describe('concurrency: 50 writers, one version', () => {
  async function race(prepare: number, expectedVersion: ExpectedVersion) {
    const writers = await Promise.all(Array.from({ length: 50 }, () => stores.member()));
    const [first] = writers;
    if (prepare > 0) await first!.store.appendToStream('hot', events(prepare, 'Before'));
    const outcomes = await Promise.allSettled(
      writers.map(({ store }, w) =>
        store.appendToStream('hot', events(2, `writer-${w}`), { expectedVersion }),
      ),
    );
    const won = outcomes.flatMap((o, w) => (o.status === 'fulfilled' ? [w] : []));
    const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(
      won,
      'exactly one of 50 concurrent appends with the same expected version may succeed',
    ).toHaveLength(1);
    for (const error of lost) {
      expect(error, 'every loser gets WrongExpectedVersionError').toBeInstanceOf(WrongExpectedVersionError);
      expect((error as WrongExpectedVersionError).actual, "a loser's actual version is the winner's").toBe(
        prepare + 2,
      );
    }
    const stored = await first!.store.readStream('hot');
    expect(
      stored.map((e) => e.type),
      "the stream holds the events before the race and the winner's two, nothing else",
    ).toEqual([...Array(prepare).fill('Before'), `writer-${won[0]}`, `writer-${won[0]}`]);
    const all = await first!.store.readAll();
    expect(
      all.map((e) => e.position),
      'the global log has every event once, at positions 1, 2, 3 … with no gap',
    ).toEqual(stored.map((_, i) => i + 1));
  }

  it('an exact expected version: one wins, 49 conflict with actual = the winner’s version', async () => {
    await race(2, 2);
  });

  it("'no_stream': 50 creators, one wins", async () => {
    await race(0, 'no_stream');
  });
});

describe('validation: a bad call rejects and writes nothing', () => {
  const good: NewEvent = { type: 'Ok', data: { a: 1 } };
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const bad: [string, string, NewEvent[], ExpectedVersion | undefined, ErrorConstructor, string[]][] = [
    ['an empty stream name', '', [good], undefined, TypeError, ['streamName', '""']],
    ['a stream name with a newline', 'a\nb', [good], undefined, TypeError, ['streamName']],
    ['a stream name with a NUL', 'a\u0000b', [good], undefined, TypeError, ['streamName']],
    ['a stream name that is not a string', 7 as never, [good], undefined, TypeError, ['streamName', '7']],
    ['events that are not an array', 's', good as never, undefined, TypeError, ['events']],
    ['events that are a string', 's', 'abc' as never, undefined, TypeError, ['events', 'abc']],
    ['an event that is null', 's', [good, null as never], undefined, TypeError, ['events[1]', 'null']],
    ['an event that is a number', 's', [7 as never], undefined, TypeError, ['events[0]', '7']],
    ['an event without data', 's', [{ type: 'A' } as never], undefined, TypeError, ['events[0].data']],
    ['an empty type', 's', [{ ...good, type: '' }], undefined, TypeError, ['events[0].type']],
    [
      'a second event without a type',
      's',
      [good, { data: {} } as never],
      undefined,
      TypeError,
      ['events[1].type'],
    ],
    [
      'data that is an array',
      's',
      [{ ...good, data: [1] as never }],
      undefined,
      TypeError,
      ['events[0].data'],
    ],
    [
      'data that is null',
      's',
      [good, { ...good, data: null as never }],
      undefined,
      TypeError,
      ['events[1].data'],
    ],
    [
      'data that is a string',
      's',
      [{ ...good, data: 'x' as never }],
      undefined,
      TypeError,
      ['events[0].data'],
    ],
    [
      'data with a BigInt',
      's',
      [good, good, { ...good, data: { n: 1n } }],
      undefined,
      TypeError,
      ['events[2].data'],
    ],
    ['data with a cycle', 's', [{ ...good, data: cyclic }], undefined, TypeError, ['events[0].data']],
    [
      'metadata that is an array',
      's',
      [{ ...good, metadata: [] as never }],
      undefined,
      TypeError,
      ['events[0].metadata'],
    ],
    [
      'metadata that is a Map',
      's',
      [good, { ...good, metadata: new Map() as never }],
      undefined,
      TypeError,
      ['events[1].metadata'],
    ],
    [
      'metadata with a BigInt',
      's',
      [{ ...good, metadata: { at: 2n } }],
      undefined,
      TypeError,
      ['events[0].metadata'],
    ],
    ['an empty eventId', 's', [{ ...good, eventId: '' }], undefined, TypeError, ['events[0].eventId']],
    [
      'an eventId that is a number',
      's',
      [{ ...good, eventId: 42 as never }],
      undefined,
      TypeError,
      ['events[0].eventId', '42'],
    ],
    ['expectedVersion -1', 's', [good], -1, RangeError, ['expectedVersion', '-1']],
    ['expectedVersion 1.5', 's', [good], 1.5, RangeError, ['expectedVersion', '1.5']],
    ['expectedVersion NaN', 's', [good], Number.NaN, RangeError, ['expectedVersion', 'NaN']],
    ['expectedVersion 2 ** 53', 's', [good], 2 ** 53, RangeError, ['expectedVersion', '9007199254740992']],
    [
      "expectedVersion 'NoStream'",
      's',
      [good],
      'NoStream' as never,
      RangeError,
      ['expectedVersion', 'NoStream'],
    ],
    ["expectedVersion '3'", 's', [good], '3' as never, RangeError, ['expectedVersion', '3']],
  ];

  it.each(bad)('%s', async (_, streamName, list, expectedVersion, type, named) => {
    const { store, redis: client } = await stores.member();
    const options = expectedVersion === undefined ? {} : { expectedVersion };
    const error = await store.appendToStream(streamName, list, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, `the append must reject with a ${type.name}`).toBeInstanceOf(type);
    for (const name of named)
      expect((error as Error).message, `the message must name ${name}`).toContain(name);
    expect(await namespaceKeys(client, stores.namespace), 'a rejected append writes nothing').toEqual([]);
  });

  it('a valid expectedVersion that is an exact version, or an event without metadata or eventId, is accepted', async () => {
    const { store } = await stores.member();
    await store.appendToStream('s', [{ type: 'A', data: {} }], { expectedVersion: 0 });
    await store.appendToStream('s', [{ type: 'B', data: Object.create(null) as Record<string, unknown> }], {
      expectedVersion: 1,
    });
    const [a, b] = await store.readStream('s');
    expect(a!.metadata, 'metadata defaults to {}').toEqual({});
    expect(a!.eventId, 'eventId defaults to a new UUID').toMatch(/^[0-9a-f-]{36}$/);
    expect(b!.eventId, 'each event gets its own id').not.toBe(a!.eventId);
  });
});
