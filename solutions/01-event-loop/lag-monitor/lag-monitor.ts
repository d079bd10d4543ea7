/**
 * An event-loop lag monitor: the one metric that tells you your process is too busy to answer.
 *
 * When synchronous work (a big JSON.parse, a sync crypto call, a long loop) holds the only
 * JavaScript thread, every timer, socket and request waits. `perf_hooks.monitorEventLoopDelay()`
 * measures that wait: it arms a timer every `resolution` ms and records (in a histogram, in
 * nanoseconds) how long each tick really took to arrive. An idle loop records about `resolution`;
 * a loop blocked for 200 ms records one sample of about 200 ms.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** One window in which the watched percentile crossed the threshold. All values in milliseconds. */
export interface LagReport {
  /** Median delay of the window's samples, in ms. */
  p50: number;
  /** 99th-percentile delay of the window's samples, in ms. */
  p99: number;
  /** Largest delay of the window, in ms. */
  max: number;
  /** The percentile that was watched (`options.percentile`). */
  percentile: number;
  /** The threshold it crossed (`options.thresholdMs`). */
  thresholdMs: number;
}

export interface LagMonitorOptions {
  /** Report a window when its watched percentile is above this many milliseconds. Finite, > 0. */
  thresholdMs: number;
  /**
   * Which percentile to compare with the threshold: a number in (0, 100]. Default 99.
   *
   * A blocked loop records one sample however long the block, and the histogram's p99 of n samples
   * is the sample at rank floor(0.99 * n + 0.5): with more than 50 samples in a window (a 1 s window
   * at 10 ms holds 60 to 100) that is never the largest, so p99 misses a single 250 ms stall. Pass
   * 100 (the window's max) to catch one-off stalls; 99 catches sustained lag.
   */
  percentile?: number;
  /** Length of a window in ms: how often the histogram is read and then reset. Integer >= 1. Default 1000. */
  intervalMs?: number;
  /** Sampling resolution passed to `monitorEventLoopDelay`, in ms. Integer >= 1. Default 10. */
  resolutionMs?: number;
  /** Called with a report for each window whose watched percentile crossed the threshold. */
  onReport: (report: LagReport) => void;
}

export interface LagMonitor {
  /**
   * Stops for good: no report after it returns; the histogram is disabled and the window timer
   * cleared. Calling it twice is harmless.
   */
  stop(): void;
}

/**
 * Starts watching the event loop with `perf_hooks.monitorEventLoopDelay({ resolution })`.
 *
 * Every `intervalMs` it reads the histogram (nanoseconds: divide by 1e6 for milliseconds); when the
 * watched percentile is strictly above `thresholdMs` it calls `onReport` with p50, p99 and max of
 * that window; then it resets the histogram, so each window is judged on its own samples and one
 * spike is reported once. An idle loop produces no report.
 *
 * Its window timer must not keep the process alive on its own (`unref()` it): a monitor watches a
 * program, it is not a reason for the program to keep running.
 *
 * @throws {RangeError} when `thresholdMs` is not a finite number above 0, `percentile` is not in
 * (0, 100], or `intervalMs`/`resolutionMs` is not an integer >= 1 (NaN and Infinity included); its
 * message names the option, as the caller spelled it (`resolutionMs`, not Node's `resolution`)
 */
export function startLagMonitor(options: LagMonitorOptions): LagMonitor {
  const { thresholdMs, percentile = 99, intervalMs = 1000, resolutionMs = 10, onReport } = options;
  if (!(Number.isFinite(thresholdMs) && thresholdMs > 0)) {
    throw new RangeError(`thresholdMs must be a finite number above 0, got ${thresholdMs}`);
  }
  if (!(percentile > 0 && percentile <= 100)) {
    throw new RangeError(`percentile must be in (0, 100], got ${percentile}`);
  }
  for (const [name, value] of [
    ['intervalMs', intervalMs],
    ['resolutionMs', resolutionMs],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  }

  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const checkWindow = () => {
    const watched = toMs(histogram.percentile(percentile));
    if (watched > thresholdMs) {
      onReport({
        p50: toMs(histogram.percentile(50)),
        p99: toMs(histogram.percentile(99)),
        max: toMs(histogram.max),
        percentile,
        thresholdMs,
      });
    }
    histogram.reset();
  };
  const timer = setInterval(checkWindow, intervalMs);
  timer.unref();

  return {
    stop() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

const toMs = (nanoseconds: number) => nanoseconds / 1e6;
