import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import { decodeBase62, encodeBase62 } from './base62.js';
import { CODE_LENGTH, CODE_SPACE, createIdGenerator, scramble, unscramble } from './ids.js';

const redis = useRedis();
const SECRET = 0x5eed_1234;
const inSpace = fc.bigInt({ min: 0n, max: CODE_SPACE - 1n });

describe('the scramble is a bijection of the code space', () => {
  it('has 62^8 codes of 8 characters', () => {
    expect(CODE_LENGTH).toBe(8);
    expect(CODE_SPACE).toBe(62n ** 8n);
    expect(unscramble(scramble(0n, SECRET), SECRET), 'the smallest value round-trips').toBe(0n);
  });

  it('unscramble(scramble(n)) === n and scramble stays inside the space', () => {
    fc.assert(
      fc.property(inSpace, fc.nat({ max: 0xffffffff }), (n, secret) => {
        const s = scramble(n, secret);
        expect(s >= 0n && s < CODE_SPACE, `scramble(${n}) = ${s} must be inside [0, 62^8)`).toBe(true);
        expect(unscramble(s, secret), `unscramble must undo scramble for ${n}`).toBe(n);
      }),
      { numRuns: 1000 },
    );
  });

  it('scramble(unscramble(c)) === c: every code is reached by exactly one counter value', () => {
    fc.assert(
      fc.property(inSpace, fc.nat({ max: 0xffffffff }), (c, secret) => {
        const n = unscramble(c, secret);
        expect(n >= 0n && n < CODE_SPACE, `unscramble(${c}) must be inside [0, 62^8)`).toBe(true);
        expect(scramble(n, secret)).toBe(c);
      }),
      { numRuns: 1000 },
    );
  });

  it('works at the edges of the space', () => {
    for (const n of [0n, 1n, 62n ** 4n - 1n, 62n ** 4n, CODE_SPACE - 2n, CODE_SPACE - 1n]) {
      expect(unscramble(scramble(n, SECRET), SECRET), `round trip of ${n}`).toBe(n);
      expect(scramble(n, SECRET) < CODE_SPACE, `scramble(${n}) inside the space`).toBe(true);
    }
  });

  it('gives 50,000 consecutive counters 50,000 different values', () => {
    const seen = new Set<bigint>();
    for (let n = 1n; n <= 50_000n; n++) seen.add(scramble(n, SECRET));
    expect(seen.size, 'two counters sharing a code would be a collision').toBe(50_000);
  });

  it('refuses values outside the space and secrets that are not 32-bit unsigned integers', () => {
    expect(() => scramble(-1n, SECRET), 'scramble(-1n)').toThrow(RangeError);
    expect(() => scramble(CODE_SPACE, SECRET), 'scramble(62^8)').toThrow(RangeError);
    expect(() => unscramble(-1n, SECRET), 'unscramble(-1n)').toThrow(RangeError);
    expect(() => unscramble(CODE_SPACE, SECRET), 'unscramble(62^8)').toThrow(RangeError);
    expect(() => scramble(CODE_SPACE - 1n, 0xffffffff), 'the largest secret is fine').not.toThrow();
    expect(() => scramble(1n, 0), 'secret 0 is fine').not.toThrow();
    for (const secret of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => scramble(1n, secret), `scramble with secret ${secret}`).toThrow(RangeError);
      expect(() => unscramble(1n, secret), `unscramble with secret ${secret}`).toThrow(RangeError);
    }
    expect(() => scramble(CODE_SPACE, SECRET), 'the message explains the problem').toThrow(/\S/);
    expect(() => scramble(1n, -1), 'the message explains the problem').toThrow(/\S/);
  });
});

describe('scrambled codes do not look sequential', () => {
  const firstCodes = () =>
    Array.from({ length: 1000 }, (_, i) => encodeBase62(scramble(BigInt(i + 1), SECRET), 8));

  it('consecutive counters give codes that share no long prefix and are far apart', () => {
    const codes = firstCodes();
    for (let i = 1; i < codes.length; i++) {
      const [a, b] = [codes[i - 1]!, codes[i]!];
      expect(a.slice(0, 4), `counters ${i} and ${i + 1} gave ${a} and ${b}: too similar`).not.toBe(
        b.slice(0, 4),
      );
      const gap = decodeBase62(a) - decodeBase62(b);
      expect(gap * gap > 62n ** 8n, `codes ${a} and ${b} are numerically adjacent`).toBe(true);
    }
  });

  it('does not keep the counter order: about half of the consecutive pairs go down', () => {
    const codes = firstCodes();
    let ascending = 0;
    for (let i = 1; i < codes.length; i++) if (codes[i - 1]! < codes[i]!) ascending++;
    expect(ascending, 'a scramble that preserves order reveals the sequence').toBeGreaterThan(300);
    expect(ascending).toBeLessThan(700);
  });

  it('depends on the secret', () => {
    let same = 0;
    for (let n = 1n; n <= 200n; n++) if (scramble(n, 1) === scramble(n, 2)) same++;
    expect(same, 'two secrets must give two different permutations').toBeLessThan(5);
  });
});

describe('an id generator on Redis INCR', () => {
  beforeEach(() => redis.flush());

  it('gives 8-character base62 codes built from the counter', async () => {
    const ids = createIdGenerator(redis.client(), { secret: SECRET, counterKey: 'test:ids' });
    const first = await ids.next();
    const second = await ids.next();
    expect(first, 'a code is 8 base62 characters').toMatch(/^[0-9A-Za-z]{8}$/);
    expect(second).toMatch(/^[0-9A-Za-z]{8}$/);
    expect(await redis.client().get('test:ids'), 'the counter lives in the counterKey').toBe('2');
    expect(unscramble(decodeBase62(first), SECRET), 'the first code is the scramble of counter 1').toBe(1n);
    expect(unscramble(decodeBase62(second), SECRET)).toBe(2n);
  });

  it('pads every code to 8 characters, also when its scrambled value is small', async () => {
    // About 1 counter in 62 scrambles to a value below 62^7, whose shortest base62 form has 7 digits.
    let n = 1n;
    while (scramble(n, SECRET) >= 62n ** 7n && n < 10_000n) n++;
    expect(
      scramble(n, SECRET) < 62n ** 7n,
      'about 1 counter in 62 should scramble below 62^7; none of the first 10,000 did: the scramble does not spread values over the space',
    ).toBe(true);
    const ids = createIdGenerator(redis.client(), { secret: SECRET, counterKey: 'test:ids' });
    await redis.client().set('test:ids', String(n - 1n));
    const code = await ids.next();
    expect(code, `counter ${n} scrambles below 62^7: its code is still 8 characters, '0'-padded`).toBe(
      encodeBase62(scramble(n, SECRET), CODE_LENGTH),
    );
    expect(code).toHaveLength(8);
  });

  it('uses ids:counter and secret 0 by default', async () => {
    const code = await createIdGenerator(redis.client()).next();
    expect(await redis.client().get('ids:counter')).toBe('1');
    expect(code).toBe(encodeBase62(scramble(1n, 0), 8));
  });

  it('gives 1000 distinct codes to 1000 concurrent calls from 4 connections', async () => {
    const generators = Array.from({ length: 4 }, () =>
      createIdGenerator(redis.client(), { secret: SECRET, counterKey: 'test:ids' }),
    );
    const codes = await Promise.all(Array.from({ length: 1000 }, (_, i) => generators[i % 4]!.next()));
    expect(new Set(codes).size, 'no two calls may get the same code').toBe(1000);
    const counters = codes.map((c) => unscramble(decodeBase62(c), SECRET)).sort((a, b) => Number(a - b));
    expect(counters[0], 'counters start at 1').toBe(1n);
    expect(counters[999], 'and no counter value is skipped or reused').toBe(1000n);
  });

  it('continues where the counter is after a restart, never reusing a code', async () => {
    const before = createIdGenerator(redis.client(), { secret: SECRET, counterKey: 'test:ids' });
    const old = new Set([await before.next(), await before.next()]);
    const after = createIdGenerator(redis.client(), { secret: SECRET, counterKey: 'test:ids' });
    expect(old.has(await after.next()), 'a new generator must not hand out an old code').toBe(false);
  });

  it('rejects once the counter has run past the code space', async () => {
    const ids = createIdGenerator(redis.client(), { secret: SECRET, counterKey: 'test:ids' });
    await redis.client().set('test:ids', String(CODE_SPACE - 2n));
    expect(unscramble(decodeBase62(await ids.next()), SECRET), 'the last code of the space').toBe(
      CODE_SPACE - 1n,
    );
    await expect(ids.next(), 'counter 62^8 has no code left').rejects.toThrow(RangeError);
  });

  it('refuses a bad secret at once', () => {
    expect(() => createIdGenerator(redis.client(), { secret: -1 })).toThrow(RangeError);
  });
});
