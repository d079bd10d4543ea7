import { describe, expect, it } from 'vitest';
import { PENDING, settlesWithin, valueWithin, within } from '../within.js';

const never = new Promise<never>(() => {});

describe('within, settlesWithin, valueWithin', () => {
  it('give the value of a promise that settles in time', async () => {
    expect(await within(Promise.resolve(7), 1000)).toBe(7);
    expect(await settlesWithin(Promise.resolve(7), 1000)).toBe('settled');
    expect(await valueWithin(Promise.resolve(7), 1000, 'seven')).toBe(7);
  });

  it("say 'pending' (or fail naming what) for a promise that never settles", async () => {
    expect(await within(never, 20)).toBe(PENDING);
    expect(await settlesWithin(never, 20)).toBe(PENDING);
    await expect(valueWithin(never, 20, 'the stuck call')).rejects.toThrow(
      'the stuck call: still pending after 20 ms',
    );
  });

  it('pass a rejection through unchanged', async () => {
    const boom = new Error('boom');
    await expect(within(Promise.reject(boom), 1000)).rejects.toBe(boom);
    await expect(settlesWithin(Promise.reject(boom), 1000)).rejects.toBe(boom);
    await expect(valueWithin(Promise.reject(boom), 1000, 'x')).rejects.toBe(boom);
  });
});
