import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import { connection, tap, uniquePrefix } from './harness.js';
import { FencedStore } from './redis-lock.js';

const redis = useRedis();

async function store(): Promise<FencedStore> {
  return new FencedStore(await connection(redis), { prefix: uniquePrefix('store') });
}

/** A fixed shuffle of 1..n (a small LCG: the same order on every run). */
function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i + 1);
  let state = seed;
  for (let i = n - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

describe('FencedStore: the resource checks the fence', () => {
  it('reads null for a key never written', async () => {
    expect(await (await store()).read('nothing'), 'an unknown key reads as null').toBeNull();
  });

  it('accepts higher fences, rejects a lower one as stale and keeps the newer value', async () => {
    const s = await store();
    expect(await s.write('file', 'v1', 1)).toBe('ok');
    expect(await s.write('file', 'v3', 3), 'a higher fence is accepted').toBe('ok');
    expect(await s.write('file', 'v2', 2), 'a fence lower than one accepted must be stale').toBe('stale');
    expect(await s.read('file'), 'a stale write changes nothing').toEqual({ value: 'v3', fence: 3 });
  });

  it('accepts a fence equal to the highest: the same lease writing again', async () => {
    const s = await store();
    expect(await s.write('file', 'first', 5)).toBe('ok');
    expect(await s.write('file', 'second', 5), 'the holder of fence 5 may write again').toBe('ok');
    expect(await s.read('file')).toEqual({ value: 'second', fence: 5 });
  });

  it('keeps a highest fence per key', async () => {
    const s = await store();
    expect(await s.write('a', 'a9', 9)).toBe('ok');
    expect(await s.write('b', 'b1', 1), "key b's fences have nothing to do with key a's").toBe('ok');
    expect(await s.read('a')).toEqual({ value: 'a9', fence: 9 });
    expect(await s.read('b')).toEqual({ value: 'b1', fence: 1 });
  });

  it('stores any string value, the empty one included', async () => {
    const s = await store();
    for (const [fence, value] of ['', 'ünïcødé ✓', ' spaces ', '{"json":true}'].entries()) {
      expect(await s.write('v', value, fence + 1)).toBe('ok');
      expect(await s.read('v'), `the value must read back exactly: ${JSON.stringify(value)}`).toEqual({
        value,
        fence: fence + 1,
      });
    }
  });

  it('checks and writes atomically: 20 concurrent writers, highest fence first, leave one winner', async () => {
    const s = await store();
    await s.write('warm-up', 'x', 1); // Redis has the script from now on
    const fences = Array.from({ length: 20 }, (_, i) => 20 - i);
    const results = await Promise.all(fences.map((fence) => s.write('hot', `v${fence}`, fence)));
    expect(
      results,
      'fence 20 arrives first; every lower fence after it must be stale, even while the writes overlap',
    ).toEqual(['ok', ...Array(19).fill('stale')]);
    expect(await s.read('hot')).toEqual({ value: 'v20', fence: 20 });
  });

  it('checks and writes atomically: 30 concurrent writers in a shuffled order, the highest fence wins', async () => {
    const s = await store();
    await s.write('warm-up', 'x', 1);
    const order = shuffled(30, 42);
    const results = await Promise.all(order.map((fence) => s.write('hot', `v${fence}`, fence)));
    let highest = 0;
    const expected = order.map((fence) => {
      const ok = fence >= highest;
      highest = Math.max(highest, fence);
      return ok ? 'ok' : 'stale';
    });
    expect(
      results,
      'each write, in the order Redis ran them, is ok only if no higher fence came first',
    ).toEqual(expected);
    expect(await s.read('hot'), 'the data is the highest fence writer').toEqual({ value: 'v30', fence: 30 });
  });

  it("uses the default prefix 'fenced:' when none is given: a hash { value, fence }", async () => {
    const admin = await connection(redis);
    const key = uniquePrefix('default');
    await new FencedStore(await connection(redis)).write(key, 'hello', 7);
    expect(await admin.hgetall(`fenced:${key}`), "the default key is 'fenced:<key>'").toEqual({
      value: 'hello',
      fence: '7',
    });
  });

  it('sends one script per write and nothing else', async () => {
    const client = await connection(redis);
    const s = new FencedStore(client, { prefix: uniquePrefix('store') });
    await s.write('k', 'a', 1);
    const spy = tap(client);
    await s.write('k', 'b', 2);
    await s.write('k', 'c', 1);
    spy.stop();
    expect(
      spy.commands.every((name) => name === 'evalsha' || name === 'eval'),
      `a write must be one Lua script (check and set together), but sent ${spy.commands.join(', ')}`,
    ).toBe(true);
  });

  it.each([
    ['0', 0],
    ['negative', -1],
    ['fractional', 2.5],
    ['NaN', Number.NaN],
  ])('rejects a %s fence with a RangeError naming it', async (_, fence) => {
    const s = await store();
    await expect(s.write('k', 'v', fence), 'a fence is a positive safe integer').rejects.toThrow(RangeError);
    await expect(s.write('k', 'v', fence)).rejects.toThrow(String(fence));
    expect(await s.read('k'), 'a rejected write stores nothing').toBeNull();
  });
});
