import { afterEach, describe, expect, it } from 'vitest';
import { deferred, type FaultProxy, sleep, startFaultProxy, useRedis } from '../../../src/testing/index.js';
import { keysUnder, message, reached, useConsumers, within } from './harness.js';

const redis = useRedis();
const consumers = useConsumers(redis);

const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});

/** A fault proxy in front of the test's Redis, and the URL of the test's database through it. */
async function proxyToRedis(): Promise<{ proxy: FaultProxy; url: string }> {
  const proxy = await startFaultProxy({ host: redis.host, port: redis.port });
  proxies.push(proxy);
  return { proxy, url: `redis://127.0.0.1:${proxy.port}/${redis.db}` };
}

/** A Lua script that keeps Redis busy for 300 ms (inside EXEC: the transaction is still running). */
const BUSY_300_MS = `
  local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
  local start = now()
  while now() - start < 300000 do end
  return 1`;

describe('a connection that drops around EXEC: all or nothing, never replayed', () => {
  it('cut before EXEC reaches Redis: process rejects, nothing is written, and the same consumer applies the redelivery once', async () => {
    const { proxy, url } = await proxyToRedis();
    const queued = deferred();
    let first = true;
    const { consumer } = await consumers.member({
      url,
      connect: { retryStrategy: () => null }, // a connection that drops stays down
      handler: (m, tx) => {
        consumers.effects.handler(m, tx);
        if (first) {
          first = false;
          proxy.pause(); // the EXEC that follows is held in the proxy
          queued.resolve();
        }
      },
    });
    const m = message('cut-1');
    const delivery = within(consumer.process(m), 5000);
    await reached(queued.promise, delivery, 'the delivery must call its handler');
    await sleep(30);
    proxy.cut();
    proxy.resume();
    const result = await delivery;
    expect(result, 'process() must settle when its connection drops').not.toBe('pending');
    expect(result !== 'pending' && result.ok, 'the EXEC never reached Redis: the delivery must reject').toBe(
      false,
    );
    expect(await consumers.effects.count('cut-1'), 'no effect: Redis never ran the EXEC').toBe(0);
    expect(
      await keysUnder(consumers.admin, consumers.namespace),
      'and no record: a record without its effect would make every redelivery a duplicate, and the effect would be lost',
    ).toEqual([]);
    expect(
      await within(consumer.process(m), 5000),
      'the redelivery on the same consumer is applied: the connection that dropped is not used again',
    ).toEqual({ ok: true, value: 'applied' });
    expect(await consumers.effects.count('cut-1')).toBe(1);
  });

  it('a transaction cut off before its EXEC is not sent again after ioredis reconnects (its WATCH is gone): the delivery that committed meanwhile stays the only one', async () => {
    const { proxy, url } = await proxyToRedis();
    const queued = deferred();
    let first = true;
    const cutOff = await consumers.member({
      url,
      connect: { maxRetriesPerRequest: 20 }, // ioredis's defaults: reconnect, and resend what was not answered
      handler: (m, tx) => {
        consumers.effects.handler(m, tx);
        if (first) {
          first = false;
          proxy.pause();
          queued.resolve();
        }
      },
    });
    const other = await consumers.member();
    const m = message('cut-2');
    const delivery = within(cutOff.consumer.process(m), 3000);
    await reached(queued.promise, delivery, 'the delivery must call its handler');
    await sleep(30);
    expect(await other.consumer.process(m), 'another delivery of the message commits meanwhile').toBe(
      'applied',
    );
    proxy.cut();
    proxy.resume();
    const result = await delivery;
    expect(
      result,
      'process() must settle when its connection drops (with autoResendUnfulfilledCommands off, ioredis forgets unanswered commands without settling them)',
    ).not.toBe('pending');
    expect(
      await consumers.effects.count('cut-2'),
      'one effect: the cut-off MULTI/EXEC must not be replayed on the new connection, where nothing is watched',
    ).toBe(1);
    expect(
      result !== 'pending' && result.ok,
      'the delivery whose connection dropped rejects: it cannot know whether its EXEC ran',
    ).toBe(false);
  });

  it('cut while Redis runs the EXEC: the effect and the record are both there or both not, and a redelivery settles it once', async () => {
    const { proxy, url } = await proxyToRedis();
    let first = true;
    const { consumer } = await consumers.member({
      url,
      connect: { retryStrategy: () => null },
      handler: (m, tx) => {
        consumers.effects.handler(m, tx);
        if (first) {
          first = false;
          tx.eval(BUSY_300_MS, 0); // Redis will still be running this transaction 100 ms from now
          setTimeout(() => proxy.cut(), 100);
        }
      },
    });
    const m = message('cut-3');
    const result = await within(consumer.process(m), 5000);
    expect(result, 'process() must settle when its connection drops').not.toBe('pending');
    const effect = await consumers.effects.count('cut-3');
    const recorded = (await consumers.admin.exists(`${consumers.namespace}:seen:cut-3`)) === 1;
    expect(
      { effectApplied: effect === 1, recordWritten: recorded },
      'never half: the record exists exactly when the effect was applied (one EXEC holds both)',
    ).toEqual({ effectApplied: recorded, recordWritten: recorded });
    const redelivery = await consumers.member();
    expect(
      await redelivery.consumer.process(m),
      recorded
        ? 'the EXEC ran before the cut: the redelivery is a duplicate'
        : 'the EXEC never ran: the redelivery applies',
    ).toBe(recorded ? 'duplicate' : 'applied');
    expect(await consumers.effects.count('cut-3'), 'one effect in the end').toBe(1);
  });
});
