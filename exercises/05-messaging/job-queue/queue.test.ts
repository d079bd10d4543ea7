import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, useRedis } from '../../../src/testing/index.js';
import { connection, delayed, ensureGroup, ghostRead, keys, streamEntries, useQueueName } from './harness.js';
import { type AddOptions, createQueue, GROUP, type QueueOptions } from './job-queue.js';

/** An options object as text for a failure message (JSON, with BigInts as `3n`). */
const shown = (value: unknown) =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

const redis = useRedis();
const name = useQueueName('queue');
let admin: Redis;
beforeEach(async () => {
  admin = await connection(redis.url);
});

function queue(options: Partial<QueueOptions> = {}) {
  return createQueue({ redis: admin, name: name.current, clock: new ManualClock(), ...options });
}

describe('createQueue and add: bad input', () => {
  it('rejects a bad name or maxLen, naming the option and the value', () => {
    for (const bad of ['', 'has space', 'tab\there', 'line\nbreak', 42]) {
      expect(() => queue({ name: bad as string }), `name ${JSON.stringify(bad)}`).toThrow(TypeError);
      expect(() => queue({ name: bad as string })).toThrow(/name/);
    }
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => queue({ maxLen: bad }), `maxLen ${bad}`).toThrow(RangeError);
      expect(() => queue({ maxLen: bad })).toThrow(new RegExp(`maxLen.*${String(bad).replace('.', '\\.')}`));
    }
  });

  it('rejects data JSON cannot write and bad options, writing nothing', async () => {
    const q = queue();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const cases: [unknown, RegExp][] = [
      [undefined, /data.*undefined/],
      [() => 1, /data.*a function/],
      [10n, /data.*BigInt/],
      [cycle, /data.*circular/i],
    ];
    for (const [data, message] of cases) {
      await expect(q.add(data), `data ${typeof data}`).rejects.toThrow(TypeError);
      await expect(q.add(data)).rejects.toThrow(message);
    }
    const bad: [AddOptions, ErrorConstructor, RegExp][] = [
      [{ delayMs: -1 }, RangeError, /delayMs.*-1/],
      [{ delayMs: 1.5 }, RangeError, /delayMs.*1\.5/],
      [{ delayMs: Number.NaN }, RangeError, /delayMs.*NaN/],
      [{ attempts: 0 }, RangeError, /attempts.*0/],
      [{ attempts: 2.5 }, RangeError, /attempts.*2\.5/],
      [{ attempts: 3n as unknown as number }, RangeError, /attempts.*3n/],
      [{ backoff: { type: 'linear' as 'fixed', delayMs: 10 } }, RangeError, /backoff\.type.*linear/],
      [{ backoff: { type: 'fixed', delayMs: -5 } }, RangeError, /backoff\.delayMs.*-5/],
      [
        { backoff: { type: 'exponential', delayMs: Number.POSITIVE_INFINITY } },
        RangeError,
        /backoff\.delayMs.*Infinity/,
      ],
      [{ jobId: '' }, TypeError, /jobId/],
      [{ jobId: '123' }, TypeError, /jobId.*123/],
      [{ jobId: 7 as unknown as string }, TypeError, /jobId.*7/],
      [{ jobId: ['a'] as unknown as string }, TypeError, /jobId.*an array/],
      [{ jobId: { id: 'a' } as unknown as string }, TypeError, /jobId.*an object/],
      [{ jobId: null as unknown as string }, TypeError, /jobId.*null/],
    ];
    for (const [options, type, message] of bad) {
      await expect(q.add({ ok: true }, options), `options ${shown(options)}`).rejects.toThrow(type);
      await expect(q.add({ ok: true }, options)).rejects.toThrow(message);
    }
    expect(
      await admin.exists(keys(name.current).stream, keys(name.current).delayed),
      'nothing was written',
    ).toBe(0);
  });
});

describe('Queue.add', () => {
  it("numbers jobs '1', '2', … and writes one stream entry per job with the header's fields", async () => {
    const q = queue();
    const data = { to: 'ada@example.com', tags: ['a', 'b'], n: 1.5 };
    expect(await q.add(data)).toBe('1');
    expect(
      await q.add('just a string', { attempts: 3, backoff: { type: 'exponential', delayMs: 250 } }),
    ).toBe('2');
    expect(await q.add(null)).toBe('3');
    const entries = await streamEntries(admin, name.current);
    expect(
      entries.map((e) => e.fields.job),
      'one entry per job, in order',
    ).toEqual(['1', '2', '3']);
    expect(entries[0]?.fields).toMatchObject({
      job: '1',
      data: JSON.stringify(data),
      attempts: '1',
      attemptsMade: '0',
      backoff: '',
    });
    expect(entries[1]?.fields).toMatchObject({ data: '"just a string"', attempts: '3', attemptsMade: '0' });
    expect(JSON.parse(entries[1]?.fields.backoff ?? ''), 'the backoff is stored as JSON').toEqual({
      type: 'exponential',
      delayMs: 250,
    });
  });

  it('adds a job with a live jobId once: a second add resolves with the id and adds nothing', async () => {
    const q = queue();
    expect(await q.add({ v: 1 }, { jobId: 'invoice-42' })).toBe('invoice-42');
    expect(await q.add({ v: 2 }, { jobId: 'invoice-42' })).toBe('invoice-42');
    expect(await q.add({ v: 3 }, { jobId: 'report', delayMs: 1000 })).toBe('report');
    expect(await q.add({ v: 4 }, { jobId: 'report' }), 'the delayed one is live too').toBe('report');
    const entries = await streamEntries(admin, name.current);
    expect(entries.map((e) => [e.fields.job, e.fields.data])).toEqual([['invoice-42', '{"v":1}']]);
    expect((await delayed(admin, name.current)).map((d) => d.fields.job)).toEqual(['report']);
    expect(await q.add({ v: 5 }), 'generated ids are unaffected').toBe('1');
    expect(await q.add({ v: 6 }, { jobId: '2024-q3' }), 'an id may start with digits').toBe('2024-q3');
    expect(
      (await admin.smembers(keys(name.current).ids)).sort(),
      'live jobIds are kept in <name>:ids',
    ).toEqual(['2024-q3', 'invoice-42', 'report']);
  });
});

describe('Queue: delayed jobs', () => {
  it('keeps a delayed job in the delayed set, due at clock.now() + delayMs, and moves it when due, not before', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const q = queue({ clock });
    const id = await q.add({ later: true }, { delayMs: 5000, attempts: 2 });
    expect(await streamEntries(admin, name.current), 'not in the stream yet').toEqual([]);
    const waiting = await delayed(admin, name.current);
    expect(waiting.map((d) => d.dueAt)).toEqual([1_700_000_005_000]);
    expect(waiting[0]?.fields).toMatchObject({
      job: id,
      data: '{"later":true}',
      attempts: '2',
      attemptsMade: '0',
    });

    clock.advance(4999);
    expect(await q.promote(), '1 ms before it is due: nothing moves').toBe(0);
    expect(await streamEntries(admin, name.current)).toEqual([]);
    clock.advance(1);
    expect(await q.promote(), 'due exactly now: it moves').toBe(1);
    const entries = await streamEntries(admin, name.current);
    expect(entries.map((e) => e.fields)).toEqual([waiting[0]?.fields]);
    expect(await delayed(admin, name.current), 'and leaves the delayed set').toEqual([]);
    expect(await q.promote(), 'a second promote moves nothing').toBe(0);
  });

  it('moves every due job in one call, however many are due', async () => {
    const clock = new ManualClock();
    const q = queue({ clock });
    await Promise.all(Array.from({ length: 1100 }, (_, i) => q.add({ i }, { delayMs: 1 + (i % 50) })));
    clock.advance(60);
    expect(await q.promote(), 'all 1,100 are due').toBe(1100);
    expect(await admin.xlen(keys(name.current).stream)).toBe(1100);
  });

  it('moves each due job exactly once when eight queues promote at the same moment', async () => {
    const clock = new ManualClock();
    const producer = queue({ clock });
    await Promise.all(Array.from({ length: 300 }, (_, i) => producer.add({ i }, { delayMs: 10 + (i % 7) })));
    clock.advance(1000);
    const promoters = await Promise.all(
      Array.from({ length: 8 }, async () => queue({ redis: await connection(redis.url), clock })),
    );
    const moved = await Promise.all(promoters.map((p) => p.promote()));
    expect(
      moved.reduce((a, b) => a + b, 0),
      'the promoters moved 300 jobs between them',
    ).toBe(300);
    const ids = (await streamEntries(admin, name.current)).map((e) => e.fields.job);
    expect(ids.length, 'each job has exactly one stream entry (a move is one script)').toBe(300);
    expect(new Set(ids).size).toBe(300);
    expect(await admin.zcard(keys(name.current).delayed)).toBe(0);
  });
});

describe('Queue: trimming', () => {
  it('trims only acknowledged history, and only once the stream is longer than maxLen', async () => {
    const q = queue({ maxLen: 20 });
    const stream = keys(name.current).stream;
    await ensureGroup(admin, name.current);
    for (let i = 0; i < 15; i++) await q.add({ i });
    const read = await ghostRead(admin, name.current, 'ghost', 15);
    await admin.xack(stream, GROUP, ...read);
    await q.add({ i: 15 });
    expect(await admin.xlen(stream), '16 entries ≤ maxLen 20: the acknowledged history stays').toBe(16);

    for (let i = 16; i < 60; i++) await q.add({ i });
    expect(
      await admin.xlen(stream),
      'every entry after the 15 acknowledged ones is waiting: none may go',
    ).toBeGreaterThanOrEqual(45);
    const waiting = (await streamEntries(admin, name.current)).filter(
      (e) => Number(JSON.parse(e.fields.data ?? '{}').i) >= 15,
    );
    expect(waiting.length, 'all 45 waiting jobs are still there').toBe(45);
  });

  it('never trims pending or waiting entries, however large the flood', async () => {
    const q = queue({ maxLen: 10 });
    const stream = keys(name.current).stream;
    await ensureGroup(admin, name.current);
    for (let i = 0; i < 30; i++) await q.add({ i });
    const read = await ghostRead(admin, name.current, 'ghost', 30);
    await admin.xack(stream, GROUP, ...read.slice(0, 25)); // 25 done, 5 still pending on the ghost
    for (let i = 30; i < 60; i++) await q.add({ i });
    const left = (await streamEntries(admin, name.current)).map((e) =>
      Number(JSON.parse(e.fields.data ?? '{}').i),
    );
    expect(left, 'the 25 acknowledged entries are trimmed; the 5 pending and 30 waiting stay').toEqual(
      Array.from({ length: 35 }, (_, k) => 25 + k),
    );
  });
});
