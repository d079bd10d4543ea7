import { createHook } from 'node:async_hooks';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type { ELDHistogram } from 'node:perf_hooks';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../../../src/testing/index.js';
import { type LagMonitor, type LagMonitorOptions, type LagReport, startLagMonitor } from './lag-monitor.js';

// Real time, real event loop: the margins are wide because the machine may be busy. An idle loop on
// a loaded machine can still see a 100-200 ms hiccup now and then, so "idle" tests use thresholds no
// hiccup reaches, and "blocked" tests block for longer than any threshold they use.

/** Holds the one JavaScript thread for `ms`: nothing else (timers, I/O, the monitor) runs meanwhile. */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: this is exactly what a big JSON.parse or a sync crypto call does to a server
  }
}

/** Waits until `check()` holds, polling, or fails after `timeoutMs` with `what`. */
async function eventually(what: string, check: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(20);
  }
}

const require = createRequire(import.meta.url);

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

let monitor: LagMonitor | undefined;
afterEach(() => {
  monitor?.stop();
  monitor = undefined;
});

function start(options: Omit<Parameters<typeof startLagMonitor>[0], 'onReport'>): LagReport[] {
  const reports: LagReport[] = [];
  monitor = startLagMonitor({ ...options, onReport: (report) => reports.push(report) });
  return reports;
}

describe('lag monitor', () => {
  it('reports p50, p99 and max in milliseconds when the loop is blocked for 200 ms', async () => {
    const reports = start({ thresholdMs: 100, intervalMs: 250 });
    await sleep(100);
    blockLoop(200);
    await eventually('a report after blocking the loop for 200 ms', () => reports.length > 0);
    const report = reports[0] as LagReport;
    expect(report.max, 'the 200 ms block shows up as the largest delay').toBeGreaterThanOrEqual(180);
    expect(report.max, 'values are milliseconds, not nanoseconds (divide the histogram by 1e6)').toBeLessThan(
      5000,
    );
    expect(report.p99, 'the watched percentile (p99) is above the 100 ms threshold').toBeGreaterThan(100);
    expect(report.p50, 'most samples of the window were not blocked: p50 stays low').toBeLessThan(100);
    expect(report.p50, 'p50 <= p99 <= max').toBeLessThanOrEqual(report.p99);
    expect(report.p99, 'p50 <= p99 <= max').toBeLessThanOrEqual(report.max);
    expect(report, 'the report says what was watched').toMatchObject({ percentile: 99, thresholdMs: 100 });
  });

  it('gives no report while the loop is idle', async () => {
    const reports = start({ thresholdMs: 1000, intervalMs: 100 });
    await sleep(800);
    expect(reports, 'an idle loop is far below a 1000 ms threshold: no window may be reported').toEqual([]);
  });

  it('compares the percentile you ask for, not always p99', async () => {
    // Two monitors see the same 250 ms block in windows of ~30 samples: the block is their max and
    // their p99, but one sample in thirty does not move the median.
    const p99Reports = start({ thresholdMs: 150, percentile: 99, intervalMs: 300 });
    const p99Monitor = monitor;
    const p50Reports = start({ thresholdMs: 150, percentile: 50, intervalMs: 300 });
    try {
      await sleep(100);
      blockLoop(250);
      await eventually('the p99 monitor to report the 250 ms block', () => p99Reports.length > 0);
      await sleep(400);
      expect(p50Reports, 'watching p50, one slow sample in a window must not be reported').toEqual([]);
      expect(p50Reports.length < p99Reports.length).toBe(true);
    } finally {
      p99Monitor?.stop();
    }
  });

  it('starts a fresh window after each check, so one spike is reported once', async () => {
    const reports = start({ thresholdMs: 100, intervalMs: 150 });
    await sleep(100);
    blockLoop(400);
    await eventually('a report of the 400 ms block', () => reports.length > 0);
    await sleep(700);
    const withTheSpike = reports.filter((r) => r.max >= 380);
    expect(
      withTheSpike.length,
      'the 400 ms block must appear in exactly one report: reset the histogram after every window',
    ).toBe(1);
  });

  it('stops reporting after stop(), and clears every timer it created', async () => {
    const live = new Set<number>();
    const hook = createHook({
      init: (id, type) => {
        if (type === 'Timeout') live.add(id);
      },
      destroy: (id) => live.delete(id),
    });
    const reports: LagReport[] = [];
    hook.enable();
    try {
      const own = startLagMonitor({ thresholdMs: 50, intervalMs: 100, onReport: (r) => reports.push(r) });
      await sleep(250);
      own.stop();
      own.stop(); // twice is harmless
      blockLoop(200);
      await sleep(300);
      await nextMacrotask(); // destroy hooks are delivered asynchronously
      await nextMacrotask();
    } finally {
      hook.disable();
    }
    expect(reports, 'no report may arrive after stop()').toEqual([]);
    expect(
      live.size,
      'stop() must clear its timers: an unref()ed interval still fires forever and keeps the monitor in memory',
    ).toBe(0);
  });

  it('disables the histogram on stop()', async () => {
    // Wrap perf_hooks.monitorEventLoopDelay to catch the histogram the monitor creates.
    const perfHooks = require('node:perf_hooks') as typeof import('node:perf_hooks');
    const original = perfHooks.monitorEventLoopDelay;
    const created: ELDHistogram[] = [];
    const options: unknown[] = [];
    perfHooks.monitorEventLoopDelay = (given) => {
      options.push(given);
      const histogram = original(given);
      created.push(histogram);
      return histogram;
    };
    syncBuiltinESMExports();
    try {
      const own = startLagMonitor({
        thresholdMs: 100,
        intervalMs: 100,
        resolutionMs: 20,
        onReport: () => {},
      });
      expect(created.length, 'the monitor must use perf_hooks.monitorEventLoopDelay').toBe(1);
      expect(options[0], 'resolutionMs is passed on as the histogram’s resolution').toEqual({
        resolution: 20,
      });
      own.stop();
    } finally {
      perfHooks.monitorEventLoopDelay = original;
      syncBuiltinESMExports();
    }
    // disable() returns false when the histogram was already disabled.
    expect(
      created[0]?.disable(),
      'stop() must disable the histogram: an enabled one keeps sampling the loop every resolution ms',
    ).toBe(false);
  });

  it('does not keep the process alive on its own while it runs', async () => {
    const before = timeouts();
    start({ thresholdMs: 100, intervalMs: 100 });
    expect(
      timeouts(),
      'the window timer must be unref()ed: a monitor is no reason for the process to keep running',
    ).toBeLessThanOrEqual(before);
  });

  it('accepts the boundary values percentile 100, intervalMs 1 and resolutionMs 1', () => {
    const own = startLagMonitor({
      thresholdMs: 100,
      percentile: 100,
      intervalMs: 1,
      resolutionMs: 1,
      onReport: () => {},
    });
    own.stop();
  });

  it('rejects options it cannot honour with a RangeError', () => {
    const onReport = () => {};
    const bad: [Omit<LagMonitorOptions, 'onReport'>, string][] = [
      [{ thresholdMs: 0 }, 'thresholdMs'],
      [{ thresholdMs: -5 }, 'thresholdMs'],
      [{ thresholdMs: Number.NaN }, 'thresholdMs'],
      [{ thresholdMs: Number.POSITIVE_INFINITY }, 'thresholdMs'],
      [{ thresholdMs: 100, percentile: 0 }, 'percentile'],
      [{ thresholdMs: 100, percentile: 101 }, 'percentile'],
      [{ thresholdMs: 100, intervalMs: 0 }, 'intervalMs'],
      [{ thresholdMs: 100, intervalMs: 2.5 }, 'intervalMs'],
      [{ thresholdMs: 100, resolutionMs: 0 }, 'resolutionMs'],
    ];
    for (const [options, name] of bad) {
      expect(
        () => {
          monitor = startLagMonitor({ ...options, onReport });
        },
        `options ${JSON.stringify(options, (_key, v) => (Number.isFinite(v) || typeof v !== 'number' ? v : String(v)))} must be refused`,
      ).toThrow(RangeError);
      expect(
        () => startLagMonitor({ ...options, onReport }),
        `the error message names the bad option, ${name}`,
      ).toThrow(name);
    }
  });
});
