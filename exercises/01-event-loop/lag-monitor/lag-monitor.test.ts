import { createHook } from 'node:async_hooks';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createHistogram, type ELDHistogram } from 'node:perf_hooks';
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

/** The samples of one window, in milliseconds. */
type Window = readonly number[];

const ns = (ms: number) => Math.round(ms * 1e6);

/** What Node's histogram says about `samples`: the values a report of that window must carry. */
function statsOf(samples: Window, percentile = 99) {
  const histogram = createHistogram();
  for (const ms of samples) histogram.record(ns(ms));
  return {
    watched: histogram.percentile(percentile) / 1e6,
    p50: histogram.percentile(50) / 1e6,
    p99: histogram.percentile(99) / 1e6,
    max: histogram.max / 1e6,
  };
}

/**
 * Runs a monitor on scripted samples instead of the real loop's, so the tests can say exactly what
 * each window holds. perf_hooks.monitorEventLoopDelay is replaced by a real `createHistogram()` (every
 * read the monitor makes is Node's own code) with enable()/disable(). It holds the samples of
 * `windows[0]` from the start; each time the monitor resets it after reading it, it gets the samples
 * of the next window. Resolves with the reports once every window has been judged (read and reset).
 */
async function reportsFor(
  windows: readonly Window[],
  options: Omit<LagMonitorOptions, 'onReport' | 'intervalMs'>,
): Promise<LagReport[]> {
  const perfHooks = require('node:perf_hooks') as typeof import('node:perf_hooks');
  const original = perfHooks.monitorEventLoopDelay;
  let current = 0; // the window the histogram holds now
  let judged = 0; // windows read and then reset
  const scripted = () => {
    const histogram = createHistogram();
    let read = false;
    let enabled = false;
    const feed = () => {
      for (const ms of windows[current] ?? []) histogram.record(ns(ms));
    };
    feed();
    const fake = new Proxy(histogram, {
      get(target, property) {
        if (property === 'enable' || property === 'disable') {
          return () => {
            const changed = enabled !== (property === 'enable');
            enabled = property === 'enable';
            return changed;
          };
        }
        if (property === 'reset') {
          return () => {
            target.reset();
            if (read) {
              judged += 1;
              current += 1;
            }
            read = false;
            feed();
          };
        }
        read = true;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return fake as unknown as ELDHistogram;
  };
  perfHooks.monitorEventLoopDelay = scripted;
  syncBuiltinESMExports();
  const reports: LagReport[] = [];
  let own: LagMonitor | undefined;
  try {
    own = startLagMonitor({ ...options, intervalMs: 10, onReport: (r) => reports.push(r) });
    await eventually(
      `the monitor to judge ${windows.length} window(s): every intervalMs it must read the histogram, then reset() it`,
      () => judged >= windows.length,
    );
  } finally {
    own?.stop();
    perfHooks.monitorEventLoopDelay = original;
    syncBuiltinESMExports();
  }
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
    expect(report.p50, 'p50 <= p99 <= max').toBeLessThanOrEqual(report.p99);
    expect(report.p99, 'p50 <= p99 <= max').toBeLessThanOrEqual(report.max);
    expect(report, 'the report says what was watched').toMatchObject({ percentile: 99, thresholdMs: 100 });
  });

  it('gives no report while the loop is idle', async () => {
    const reports = start({ thresholdMs: 1000, intervalMs: 100 });
    await sleep(800);
    expect(reports, 'an idle loop is far below a 1000 ms threshold: no window may be reported').toEqual([]);
  });

  it('reports p50, p99 and max of the window, in milliseconds, for the percentile it watches', async () => {
    // Twenty samples of 40 ms and one of 300 ms: p50 is about 40, p99 and max about 300.
    const window = [...Array<number>(20).fill(40), 300];
    const expected = statsOf(window);
    const reports = await reportsFor([window], { thresholdMs: 30, percentile: 50 });
    expect(reports.length, 'watching p50 (about 40 ms) with a 30 ms threshold: one report').toBe(1);
    const report = reports[0] as LagReport;
    expect(report.p50, 'p50 is the median of the window, in ms (the histogram counts ns)').toBeCloseTo(
      expected.p50,
      3,
    );
    expect(report.p99, 'p99 is the 99th percentile, whatever percentile is watched').toBeCloseTo(
      expected.p99,
      3,
    );
    expect(report.max, 'max is the largest delay of the window, in ms').toBeCloseTo(expected.max, 3);
    expect(report, 'the report says what was watched').toMatchObject({ percentile: 50, thresholdMs: 30 });
  });

  it('compares the percentile you ask for, not always p99', async () => {
    // Twenty-nine samples of 10 ms and one of 250 ms: p99 is about 250, the median about 10.
    const spike = [...Array<number>(29).fill(10), 250];
    expect(
      await reportsFor([spike], { thresholdMs: 100, percentile: 50 }),
      'watching p50, one slow sample in thirty is not above a 100 ms threshold: no report',
    ).toEqual([]);
    expect(
      (await reportsFor([spike], { thresholdMs: 100, percentile: 99 })).length,
      'watching p99, the same window is above 100 ms: one report',
    ).toBe(1);
    expect(
      (await reportsFor([spike], { thresholdMs: 100 })).length,
      'percentile defaults to 99: the same window is reported',
    ).toBe(1);
  });

  it('reports only when the watched percentile is strictly above the threshold', async () => {
    const window = Array<number>(30).fill(250);
    const { watched } = statsOf(window);
    expect(
      await reportsFor([window], { thresholdMs: watched }),
      `p99 equal to the threshold (${watched} ms) is not above it: no report`,
    ).toEqual([]);
    expect(
      (await reportsFor([window], { thresholdMs: watched - 0.01 })).length,
      'p99 just above the threshold: one report',
    ).toBe(1);
  });

  it('starts a fresh window after each check, so one spike is reported once', async () => {
    const spike = [...Array<number>(29).fill(10), 400];
    const idle = Array<number>(30).fill(10);
    const reports = await reportsFor([idle, spike, idle, idle], { thresholdMs: 100 });
    expect(
      reports.map((r) => Math.round(r.max)),
      'only the window holding the 400 ms sample is reported, once: reset the histogram after every window',
    ).toEqual([400]);
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
    let reportsBeforeStop = 0;
    hook.enable();
    try {
      const own = startLagMonitor({ thresholdMs: 50, intervalMs: 100, onReport: (r) => reports.push(r) });
      await sleep(250);
      own.stop();
      own.stop(); // twice is harmless
      reportsBeforeStop = reports.length; // a busy machine may have made the loop late before stop()
      blockLoop(200);
      await sleep(300);
      await nextMacrotask(); // destroy hooks are delivered asynchronously
      await nextMacrotask();
    } finally {
      hook.disable();
    }
    expect(
      reports.slice(reportsBeforeStop),
      'no report may arrive after stop(), even for a 200 ms block',
    ).toEqual([]);
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
      [{ thresholdMs: 100, percentile: -1 }, 'percentile'],
      [{ thresholdMs: 100, percentile: 101 }, 'percentile'],
      [{ thresholdMs: 100, percentile: Number.NaN }, 'percentile'],
      [{ thresholdMs: 100, percentile: Number.POSITIVE_INFINITY }, 'percentile'],
      [{ thresholdMs: 100, intervalMs: 0 }, 'intervalMs'],
      [{ thresholdMs: 100, intervalMs: -1 }, 'intervalMs'],
      [{ thresholdMs: 100, intervalMs: 2.5 }, 'intervalMs'],
      [{ thresholdMs: 100, intervalMs: Number.NaN }, 'intervalMs'],
      [{ thresholdMs: 100, intervalMs: Number.POSITIVE_INFINITY }, 'intervalMs'],
      [{ thresholdMs: 100, resolutionMs: 0 }, 'resolutionMs'],
      [{ thresholdMs: 100, resolutionMs: -1 }, 'resolutionMs'],
      [{ thresholdMs: 100, resolutionMs: 2.5 }, 'resolutionMs'],
      [{ thresholdMs: 100, resolutionMs: Number.NaN }, 'resolutionMs'],
      [{ thresholdMs: 100, resolutionMs: Number.POSITIVE_INFINITY }, 'resolutionMs'],
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
