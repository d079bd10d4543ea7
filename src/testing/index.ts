/**
 * The course's test kit: what exercise suites import (never the exercises themselves).
 *
 * - Redis: {@link useRedis} gives each test file an empty database of a real Redis;
 *   {@link monitorRedis} shows the commands Redis ran (MONITOR).
 * - Servers: {@link listen}, {@link startHttpServer}, {@link freePort}, {@link waitFor}, {@link sleep}.
 * - WebSockets: {@link connectWebSocket}, a real `ws` client with `next()` and `closed`.
 * - Faults: {@link startFaultProxy} pauses, cuts or refuses a connection (to Redis or anything TCP).
 * - Time: {@link ManualClock}, for code that takes an injected `{ now(): number }`; {@link deferred},
 *   a promise the test settles by hand; {@link within}, {@link settlesWithin} and {@link valueWithin}
 *   race a call against a wide limit, so a hang fails with a message.
 * - Processes: {@link useChildProcesses} runs a TypeScript entry in a child (to kill it with
 *   `SIGKILL`), and {@link implementationFile} names the file under test for it.
 */
export {
  type ChildExit,
  type ChildOptions,
  implementationFile,
  startTsChild,
  type TsChild,
  targetFolder,
  useChildProcesses,
} from './child.js';
export { type Clock, ManualClock, systemClock } from './clock.js';
export { type Deferred, deferred } from './deferred.js';
export { type FaultProxy, startFaultProxy } from './fault-proxy.js';
export {
  comparisonTable,
  type HttpLoadOptions,
  httpLoad,
  loopLoad,
  type Measurement,
  measurementOf,
} from './load.js';
export { closeServer, freePort, type Listening, listen, sleep, startHttpServer, waitFor } from './net.js';
export {
  type PrometheusAvailability,
  type PromtoolResult,
  prometheusAvailability,
  promtoolCheckMetrics,
  type RunningPrometheus,
  startPrometheus,
} from './prometheus.js';
export { type TestRedis, useRedis } from './redis.js';
export { type MonitoredCommand, monitorRedis, type RedisMonitor } from './redis-monitor.js';
export type { BenchContext, ServeContext, Served } from './runnable.js';
export { PENDING, settlesWithin, valueWithin, within } from './within.js';
export { type CloseInfo, connectWebSocket, type TestSocket } from './ws-client.js';
