/**
 * The generators on a virtual clock (see `harness.ts`): no real time passes, and every number is
 * exact. The simulated server stalls for the last second of every ten: a call made during a stall
 * completes when it ends; any other call takes 1 ms.
 */
import { describe, expect, it } from 'vitest';
import { stallingServer, VirtualClock } from './harness.js';
import { closedLoop, type LoadResult, openLoop, realClock } from './load.js';

const MS = 1000; // the histogram records microseconds

function summary(r: LoadResult) {
  return { sent: r.sent, completed: r.completed, errors: r.errors, recorded: r.latency.count };
}

describe('closed vs open loop against a server that stalls 1 s in every 10 s (60 virtual seconds)', () => {
  it('the closed loop (1 user) sees p99 = 1 ms: it sent one request per stall and so hid it', async () => {
    const clock = new VirtualClock({ start: 1_000_000 }); // a whole number of periods: the stalls fall as from 0
    const server = stallingServer(clock);
    const r = await clock.run(closedLoop({ call: server.call, concurrency: 1, durationMs: 60_000, clock }));
    // 9,000 calls of 1 ms, then one that waits out the stall, in each of 6 periods.
    expect(summary(r), 'the closed loop sends again as soon as each response comes').toEqual({
      sent: 54_006,
      completed: 54_006,
      errors: 0,
      recorded: 54_006,
    });
    expect(
      server.starts.filter(server.inStall).length,
      'during each stall the closed loop sends a single request (its rate collapses)',
    ).toBe(6);
    expect(r.latency.percentile(99), 'closed-loop p99: 1 ms, the stall is invisible').toBe(1 * MS);
    expect(r.latency.max, 'closed-loop max: the one request that waited out a stall').toBe(1000 * MS);
    expect(r.durationMs, 'the last call ends as the 60 s run does').toBe(60_000);
  });

  it('the open loop (100/s) sends 6,000 calls on schedule and sees p99 = 900 ms, max = 1 s', async () => {
    const clock = new VirtualClock();
    const server = stallingServer(clock);
    const r = await clock.run(openLoop({ call: server.call, ratePerSecond: 100, durationMs: 60_000, clock }));
    expect(summary(r), 'rate × duration calls, whatever the server does').toEqual({
      sent: 6000,
      completed: 6000,
      errors: 0,
      recorded: 6000,
    });
    expect(
      server.starts.filter(server.inStall).length,
      'the open loop keeps sending during stalls: 100 calls in each of 6 stalls',
    ).toBe(600);
    // 600 of 6,000 calls wait 10, 20, ..., 1,000 ms; the 5,940th smallest latency is 900 ms.
    expect(r.latency.percentile(99), 'open-loop p99 lies in the stall: 900 ms').toBeGreaterThanOrEqual(
      900 * MS,
    );
    expect(r.latency.percentile(99), 'open-loop p99: 900 ms to 3 digits').toBeLessThanOrEqual(901 * MS);
    expect(r.latency.percentile(50), 'the median is still 1 ms').toBe(1 * MS);
    expect(r.latency.max, 'the call made as a stall began waited the whole second').toBe(1000 * MS);
    expect(r.durationMs, 'the last call, due at 59,990 ms in the last stall, settles as the stall ends').toBe(
      60_000,
    );
  });

  it('the open loop makes each call exactly at its due time, without waiting for responses', async () => {
    const clock = new VirtualClock();
    const server = stallingServer(clock, { periodMs: 1000, stallMs: 500, serviceMs: 1 });
    const r = await clock.run(openLoop({ call: server.call, ratePerSecond: 40, durationMs: 1000, clock }));
    expect(r.sent, '40/s for 1 s').toBe(40);
    expect(server.starts, 'call i is made at i × 25 ms').toEqual(
      Array.from({ length: 40 }, (_, i) => i * 25),
    );
    expect(server.maxInFlight, 'calls made during the 500 ms stall are all outstanding at once').toBe(20);
  });

  it('sends ⌈rate × duration / 1000⌉ calls: 2.5/s for 1 s is 3 calls, at 0, 400 and 800 ms', async () => {
    const clock = new VirtualClock();
    const server = stallingServer(clock, { stallMs: 0 });
    const r = await clock.run(openLoop({ call: server.call, ratePerSecond: 2.5, durationMs: 1000, clock }));
    expect(r.sent, 'three due times fall before 1,000 ms').toBe(3);
    expect(server.starts, 'due times every 400 ms').toEqual([0, 400, 800]);
    expect(r.durationMs, 'the run lasts until its last call settles: 800 ms + 1 ms').toBe(801);
  });

  it('with maxInFlight 1 the open loop sends late but still all 6,000 calls, and counts the delay', async () => {
    const clock = new VirtualClock();
    const server = stallingServer(clock);
    const r = await clock.run(
      openLoop({ call: server.call, ratePerSecond: 100, durationMs: 60_000, maxInFlight: 1, clock }),
    );
    expect(r.sent, 'no arrival is dropped when maxInFlight is reached').toBe(6000);
    expect(server.maxInFlight, 'never more than maxInFlight calls outstanding').toBe(1);
    expect(
      r.latency.percentile(99),
      'latency counts from the due time, so calls held back behind a stall show it (not 1 ms as a closed loop would say)',
    ).toBeGreaterThanOrEqual(500 * MS);
  });

  it('a late wake-up does not shift the schedule: every call is at most the lateness after its due time', async () => {
    const clock = new VirtualClock({ lateByMs: 3 });
    const server = stallingServer(clock, { stallMs: 0 });
    const r = await clock.run(openLoop({ call: server.call, ratePerSecond: 100, durationMs: 2000, clock }));
    expect(r.sent, '100/s for 2 s, however late the timers fire').toBe(200);
    const drift = server.starts.map((t, i) => t - i * 10);
    expect(
      Math.max(...drift),
      'no call is made more than 3 ms (one late wake-up) after its due time',
    ).toBeLessThanOrEqual(3);
    expect(
      r.latency.max,
      'a call made 3 ms late and answered 4 ms later (the server wakes late too) took 7 ms from its due time',
    ).toBe(7 * MS);
  });

  it('the closed loop keeps `concurrency` calls outstanding, never more', async () => {
    const clock = new VirtualClock();
    const server = stallingServer(clock, { stallMs: 0, serviceMs: 5 });
    const r = await clock.run(closedLoop({ call: server.call, concurrency: 4, durationMs: 100, clock }));
    expect(server.maxInFlight, 'four users, each with one call outstanding').toBe(4);
    expect(r.sent, 'each of 4 users makes 20 calls of 5 ms in 100 ms').toBe(80);
    expect([r.latency.min, r.latency.max], 'each call took 5 ms from when it was made').toEqual([
      5 * MS,
      5 * MS,
    ]);
  });

  it('records latency in microseconds: a 2.5 ms call is 2,500', async () => {
    const clock = new VirtualClock();
    const server = stallingServer(clock, { stallMs: 0, serviceMs: 2.5 });
    const r = await clock.run(closedLoop({ call: server.call, concurrency: 1, durationMs: 9.5, clock }));
    expect([r.sent, r.latency.min, r.latency.max], 'four calls of 2.5 ms in 9.5 ms').toEqual([4, 2500, 2500]);
  });
});

describe('errors', () => {
  /** Every third call rejects (and one in seven throws before returning a promise), after 2 ms. */
  function flaky(clock: VirtualClock) {
    let n = 0;
    return async () => {
      n++;
      if (n % 7 === 0) throw new Error('refused at once');
      await clock.sleepUntil(clock.now() + 2);
      if (n % 3 === 0) throw new Error('500');
    };
  }
  function syncThrower(clock: VirtualClock) {
    let n = 0;
    return (): Promise<void> => {
      n++;
      if (n % 5 === 0) throw new Error('thrown before any promise');
      return clock.sleepUntil(clock.now() + 1);
    };
  }

  it('the open loop counts failed calls as errors, records their latency, and runs to the end', async () => {
    const clock = new VirtualClock();
    const r = await clock.run(openLoop({ call: flaky(clock), ratePerSecond: 100, durationMs: 1000, clock }));
    expect(r.sent, 'every arrival is still sent').toBe(100);
    expect(r.completed + r.errors, 'completed + errors = sent').toBe(100);
    expect(r.errors, 'calls 3, 6, 7, 9, ...: 14 multiples of 7 and 33 of 3, 4 of both').toBe(14 + 33 - 4);
    expect(r.latency.count, 'a failed call is recorded too').toBe(100);
    expect(r.latency.min, 'a call that throws at once took 0 ms').toBe(0);
  });

  it('the open loop counts a call that throws instead of returning a promise as an error', async () => {
    const clock = new VirtualClock();
    const r = await clock.run(
      openLoop({ call: syncThrower(clock), ratePerSecond: 50, durationMs: 1000, clock }),
    );
    expect(summary(r), 'one in five throws synchronously').toEqual({
      sent: 50,
      completed: 40,
      errors: 10,
      recorded: 50,
    });
  });

  it('the closed loop counts failed calls as errors, records their latency, and runs to the end', async () => {
    const clock = new VirtualClock();
    const r = await clock.run(
      closedLoop({ call: syncThrower(clock), concurrency: 1, durationMs: 100, clock }),
    );
    // Calls 5, 10, ... throw at once and take no time, so 100 calls of 1 ms are made, plus 24 instant failures.
    expect(summary(r), 'errors do not stop the loop and are recorded').toEqual({
      sent: 124,
      completed: 100,
      errors: 24,
      recorded: 124,
    });
    expect(r.latency.min, 'an instant failure took 0 ms').toBe(0);
  });
});

describe('options', () => {
  const call = async () => {};
  it.each([
    ['ratePerSecond', { ratePerSecond: 0 }],
    ['ratePerSecond', { ratePerSecond: Number.NaN }],
    ['ratePerSecond', { ratePerSecond: Number.POSITIVE_INFINITY }],
    ['durationMs', { durationMs: -1 }],
    ['durationMs', { durationMs: Number.POSITIVE_INFINITY }],
    ['maxInFlight', { maxInFlight: 0 }],
    ['maxInFlight', { maxInFlight: 1.5 }],
  ])('openLoop rejects a bad %s with a RangeError naming it, before any call', async (name, bad) => {
    let calls = 0;
    const counted = async () => {
      calls++;
    };
    const run = openLoop({
      call: counted,
      ratePerSecond: 10,
      durationMs: 100,
      clock: new VirtualClock(),
      ...bad,
    });
    await expect(run, `${JSON.stringify(bad)} is out of range`).rejects.toThrow(RangeError);
    await expect(run, 'the message names the option').rejects.toThrow(name);
    expect(calls, 'no call is made').toBe(0);
  });

  it.each([
    ['concurrency', { concurrency: 0 }],
    ['concurrency', { concurrency: 2.5 }],
    ['durationMs', { durationMs: 0 }],
    ['durationMs', { durationMs: Number.NaN }],
  ])('closedLoop rejects a bad %s with a RangeError naming it', async (name, bad) => {
    const run = closedLoop({ call, concurrency: 1, durationMs: 100, clock: new VirtualClock(), ...bad });
    await expect(run, `${JSON.stringify(bad)} is out of range`).rejects.toThrow(RangeError);
    await expect(run, 'the message names the option').rejects.toThrow(name);
  });
});

describe('realClock', () => {
  it('now() is performance.now(), and sleepUntil waits until then', async () => {
    const before = performance.now();
    expect(Math.abs(realClock.now() - before), 'now() reads performance.now()').toBeLessThan(50);
    const target = realClock.now() + 30;
    await realClock.sleepUntil(target);
    expect(realClock.now(), 'sleepUntil resolves once the time has come').toBeGreaterThanOrEqual(target);
    const past = realClock.sleepUntil(realClock.now() - 1000);
    await expect(past, 'a time already past resolves at once').resolves.toBeUndefined();
  });

  it('sleepUntil rejects with the reason when its signal is aborted', async () => {
    const controller = new AbortController();
    const sleeping = realClock.sleepUntil(realClock.now() + 60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping, 'an abort ends the sleep with its reason').rejects.toThrow('stop');
    await expect(
      realClock.sleepUntil(realClock.now() + 10, controller.signal),
      'an already-aborted signal rejects at once',
    ).rejects.toThrow('stop');
  });
});
