import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PENDING, within } from '../../../src/testing/index.js';
import { createLogger, DEFAULT_MAX_BUFFERED_BYTES, type Logger } from './logger.js';

const T0 = 1_700_000_000_000;

/**
 * A slow destination: `write()` returns false once `highWaterMark` bytes wait, and a write completes
 * only when the test calls `release()`.
 */
function slowDestination(highWaterMark = 1024) {
  const chunks: string[] = [];
  const pending: (() => void)[] = [];
  let writeCalls = 0;
  const destination = new Writable({
    highWaterMark,
    decodeStrings: false,
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      pending.push(() => callback());
    },
  });
  const originalWrite = destination.write.bind(destination);
  destination.write = ((...args: Parameters<Writable['write']>) => {
    writeCalls++;
    return originalWrite(...args);
  }) as Writable['write'];
  return {
    destination,
    writeCalls: () => writeCalls,
    /** Completes waiting writes, oldest first, until the destination emits one 'drain'. */
    releaseUntilDrain() {
      let drained = false;
      destination.once('drain', () => {
        drained = true;
      });
      while (!drained && pending.length > 0) pending.shift()?.();
      if (!drained) throw new Error("the destination emitted no 'drain'");
    },
    /** Completes every write that waits, over and over, until the destination is idle. */
    async releaseAll() {
      for (let rounds = 0; rounds < 100_000; rounds++) {
        const next = pending.shift();
        if (next === undefined) {
          await nextTurn();
          if (pending.length === 0) return;
          continue;
        }
        next();
        if (rounds % 64 === 0) await nextTurn();
      }
      throw new Error('the destination never went idle');
    },
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const SUMMARY_MSG = (n: number) => `dropped ${n} log lines: the destination was too slow`;

describe('structured logs: a slow destination', () => {
  it('writes every line through destination.write(), even when the destination has a file descriptor', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-logs-'));
    const fd = openSync(path.join(dir, 'app.log'), 'w');
    try {
      const slow = slowDestination(1 << 20);
      Object.assign(slow.destination, { fd });
      const logger = createLogger({ destination: slow.destination, clock: () => T0 });
      for (let i = 0; i < 5; i++) logger.info({ i }, 'through write');
      expect(
        slow.writeCalls(),
        'each line must go through destination.write(), never a synchronous fs write',
      ).toBe(5);
      await slow.releaseAll();
      expect(slow.lines().map((l) => l.i)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps lines in order while the destination drains, and flush() resolves only after the drain', async () => {
    const slow = slowDestination(256);
    const logger = createLogger({
      destination: slow.destination,
      clock: () => T0,
      maxBufferedBytes: 64 * 1024,
    });
    for (let i = 0; i < 50; i++) logger.info({ i }, 'burst');
    expect(logger.stats().bufferedBytes, 'lines wait in the logger while write() says false').toBeGreaterThan(
      0,
    );
    const flushed = logger.flush();
    expect(await within(flushed, 50), 'flush() must wait while lines are buffered').toBe(PENDING);
    slow.releaseUntilDrain();
    await nextTurn();
    expect(
      logger.stats().bufferedBytes,
      'one drain does not write all 50 lines to this destination',
    ).toBeGreaterThan(0);
    expect(
      await within(flushed, 20),
      'flush() must wait until the buffer is empty, not for the first drain',
    ).toBe(PENDING);
    await slow.releaseAll();
    await flushed;
    expect(
      slow.lines().map((l) => l.i),
      'every line, in order, and no summary when nothing was dropped',
    ).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(logger.stats(), 'all written, none dropped, buffer empty').toEqual({
      written: 50,
      dropped: 0,
      bufferedBytes: 0,
    });
    await expect(
      within(logger.flush(), 1000),
      'with nothing pending, flush() resolves at once',
    ).resolves.toBe(undefined);
  });

  it('10,000 lines to a stalled destination: the event loop keeps turning and the buffer stays bounded', async () => {
    const slow = slowDestination(1024);
    const maxBufferedBytes = 16 * 1024;
    const logger = createLogger({ destination: slow.destination, clock: () => T0, maxBufferedBytes });
    let ticks = 0;
    let longestGap = 0;
    let last = performance.now();
    let ticking = true;
    const ticker = (async () => {
      while (ticking) {
        await nextTurn();
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
        ticks++;
      }
    })();
    let maxSeen = 0;
    const started = performance.now();
    for (let batch = 0; batch < 50; batch++) {
      const batchStarted = performance.now();
      for (let j = 0; j < 200; j++) {
        logger.info({ seq: batch * 200 + j, payload: 'x'.repeat(40) }, 'stalled');
        maxSeen = Math.max(maxSeen, logger.stats().bufferedBytes);
      }
      const held = performance.now() - batchStarted;
      await nextTurn();
      // A batch that held the loop this long has failed already: stop instead of holding it 49 more times.
      if (held > 500 || performance.now() - started > 10_000) break;
    }
    ticking = false;
    await ticker;
    expect(
      longestGap,
      'logging must never hold the event loop (no busy wait, no synchronous write)',
    ).toBeLessThan(500);
    expect(ticks, 'a setImmediate loop must keep ticking between batches').toBeGreaterThanOrEqual(50);
    expect(maxSeen, 'buffered bytes must never exceed maxBufferedBytes').toBeLessThanOrEqual(
      maxBufferedBytes,
    );
    expect(
      logger.stats().dropped,
      'a 16 KiB buffer cannot hold 10,000 lines: most are dropped and counted',
    ).toBeGreaterThan(9_000);
    await slow.releaseAll();
    await logger.flush();
    const stats = logger.stats();
    expect(stats.written + stats.dropped, 'once drained, every line was either written or dropped').toBe(
      10_000,
    );
  });

  it('drops the newest lines, counts them, and writes one summary line once drained', async () => {
    const slow = slowDestination(128);
    const logger = createLogger({ destination: slow.destination, clock: () => T0, maxBufferedBytes: 2048 });
    for (let seq = 0; seq < 500; seq++) logger.info({ seq }, 'flood');
    const before = logger.stats();
    expect(before.dropped, 'lines beyond the buffer are counted in stats().dropped').toBeGreaterThan(0);
    await slow.releaseAll();
    await logger.flush();
    const after = logger.stats();
    const lines = slow.lines();
    const logged = lines.filter((l) => l.msg === 'flood');
    expect(logged.length + after.dropped, 'written lines plus dropped lines make every line logged').toBe(
      500,
    );
    expect(
      logged.map((l) => l.seq),
      'the newest lines are dropped: what is written is the first lines, in order',
    ).toEqual(Array.from({ length: logged.length }, (_, i) => i));
    const summary = lines.at(-1);
    expect(summary, 'after the drain, one summary line with the stated shape ends the output').toEqual({
      level: 40,
      time: T0,
      pid: process.pid,
      hostname: os.hostname(),
      dropped: after.dropped,
      msg: SUMMARY_MSG(after.dropped),
    });
    expect(
      lines.filter((l) => 'dropped' in l),
      'exactly one summary for one burst',
    ).toHaveLength(1);
    expect(after.written, 'written counts the logged lines, not the summary').toBe(logged.length);
    expect(after.bufferedBytes).toBe(0);

    for (let seq = 500; seq < 1000; seq++) logger.info({ seq }, 'flood');
    await slow.releaseAll();
    await logger.flush();
    const second = slow.lines().filter((l) => 'dropped' in l);
    expect(
      second.map((l) => l.dropped),
      'the second summary counts only the drops since the first',
    ).toEqual([after.dropped, logger.stats().dropped - after.dropped]);
  });

  it('bounds the buffer at 1 MiB by default', async () => {
    const slow = slowDestination(1024);
    const logger = createLogger({ destination: slow.destination, clock: () => T0 });
    const payload = 'y'.repeat(500);
    let maxSeen = 0;
    for (let i = 0; i < 3000; i++) {
      logger.info({ i, payload });
      maxSeen = Math.max(maxSeen, logger.stats().bufferedBytes);
    }
    expect(DEFAULT_MAX_BUFFERED_BYTES, 'the stated default').toBe(1024 * 1024);
    expect(maxSeen, 'never more than 1 MiB waits').toBeLessThanOrEqual(1024 * 1024);
    expect(maxSeen, 'close to 1 MiB is used before dropping').toBeGreaterThan(1024 * 1024 - 1024);
    expect(logger.stats().dropped, '1.5 MB of lines cannot all wait').toBeGreaterThan(0);
    await slow.releaseAll();
    await logger.flush();
  });

  it('counts the buffer in UTF-8 bytes, and keeps a line that fits exactly', async () => {
    const slow = slowDestination(1);
    const msg = 'café ☕ ünïcödé';
    const line = `${JSON.stringify({ level: 30, time: T0, pid: process.pid, hostname: os.hostname(), msg })}\n`;
    const bytes = Buffer.byteLength(line);
    const logger = createLogger({
      destination: slow.destination,
      clock: () => T0,
      maxBufferedBytes: 3 * bytes,
    });
    logger.info(msg);
    expect(logger.stats(), 'the first line goes to write(), which answers false').toEqual({
      written: 1,
      dropped: 0,
      bufferedBytes: 0,
    });
    for (let i = 0; i < 3; i++) logger.info(msg);
    expect(logger.stats(), 'three lines fill the buffer exactly, counted in bytes, not characters').toEqual({
      written: 1,
      dropped: 0,
      bufferedBytes: 3 * bytes,
    });
    logger.info(msg);
    expect(logger.stats().dropped, 'the next line does not fit').toBe(1);
    await slow.releaseAll();
    await logger.flush();
  });

  it('flush() waits for the drain even when only the destination holds lines', async () => {
    const slow = slowDestination(1);
    const logger = createLogger({ destination: slow.destination, clock: () => T0 });
    logger.info('one line');
    expect(logger.stats().bufferedBytes, 'the line went to write(); nothing is in the logger').toBe(0);
    const flushed = logger.flush();
    expect(await within(flushed, 20), "write() said false: flush() waits for 'drain'").toBe(PENDING);
    await slow.releaseAll();
    await expect(within(flushed, 1000), "after 'drain', flush() resolves").resolves.toBe(undefined);
  });

  it('a write() that throws counts as a destination error: no throw to the caller, lines dropped', async () => {
    const destination = new Writable({ write: (_c, _e, cb) => cb() });
    destination.write = () => {
      throw new Error('EBADF: bad file descriptor');
    };
    const logger = createLogger({ destination, clock: () => T0 });
    expect(() => logger.info('first'), 'a failing destination must not throw into the caller').not.toThrow();
    expect(() => logger.info('second')).not.toThrow();
    expect(logger.stats().written, 'the line that threw was handed to write() once').toBe(1);
    expect(logger.stats().dropped, 'later lines are dropped, not retried').toBe(1);
    await expect(within(logger.flush(), 1000)).resolves.toBe(undefined);
  });

  it('a child shares its parent’s buffer and counters', async () => {
    const slow = slowDestination(64);
    const parent = createLogger({ destination: slow.destination, clock: () => T0, maxBufferedBytes: 600 });
    const child: Logger = parent.child({ component: 'worker' });
    for (let i = 0; i < 40; i++) (i % 2 === 0 ? parent : child).info({ i });
    expect(child.stats(), 'parent and child report the same counters').toEqual(parent.stats());
    expect(parent.stats().bufferedBytes, 'one shared bound, not one per logger').toBeLessThanOrEqual(600);
    const flushed = parent.flush();
    expect(await within(flushed, 20), "the parent's flush waits for the child's lines too").toBe(PENDING);
    await slow.releaseAll();
    await flushed;
    const stats = child.stats();
    expect(stats.written + stats.dropped, 'the 40 lines of both are counted once').toBe(40);
  });

  it('a destination error does not crash the process; later lines are counted as dropped', async () => {
    const slow = slowDestination(64);
    const logger = createLogger({ destination: slow.destination, clock: () => T0 });
    for (let i = 0; i < 20; i++) logger.info({ i });
    slow.releaseUntilDrain();
    await nextTurn();
    const buffered = logger.stats();
    expect(buffered.bufferedBytes, 'some lines still wait for the next drain').toBeGreaterThan(0);
    const flushed = logger.flush();
    slow.destination.destroy(new Error('disk full'));
    await expect(within(flushed, 1000), 'a flush() waiting when the error comes resolves').resolves.toBe(
      undefined,
    );
    await nextTurn();
    logger.info('after the error');
    logger.child({ a: 1 }).error('again');
    const stats = logger.stats();
    expect(stats.bufferedBytes, 'the buffer is released').toBe(0);
    expect(stats.written + stats.dropped, 'every line is written or dropped').toBe(22);
    expect(stats.dropped, 'the buffered lines and the two later ones are dropped').toBe(
      22 - buffered.written,
    );
    await expect(within(logger.flush(), 1000), 'flush() resolves after an error').resolves.toBe(undefined);
  });
});
