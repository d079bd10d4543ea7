// What a log line costs, and what it does to the event loop. Each variant runs in a child process whose
// stdout is a file in a temp dir (for a file, process.stdout writes synchronously: Node docs, "A note on
// process I/O"). The child logs LINES request-like objects,
// BATCH lines per macrotask (a busy server logging between requests), and measures lines/s, the event-loop
// delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution, so an idle loop shows about 1 ms) and, for the
// slow destinations, how much is left queued in the process's memory.
//   console.log(obj)          util.inspect-formatted, not JSON: one synchronous write(2) per line
//   JSON.stringify + console  a JSON line, still one synchronous write per line
//   pino() to stdout          pino's default destination: sonic-boom on fd 1, sync
//   pino async destination    pino.destination({ dest: 1, sync: false }): sonic-boom buffers, writes in chunks
//   pino to a slow stream     a Writable that takes 1 ms per write: pino ignores backpressure, memory grows
// node docs/11-observability/logging-cost.mjs [LINES=50000]
import { fork } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const VARIANTS = [
  'console.log(obj)',
  'JSON.stringify + console',
  'pino() to stdout',
  'pino async destination',
  'pino to a slow stream',
];
const BATCH = 100;

if (process.argv[2] === 'child') {
  const variant = process.argv[3];
  const lines = Number(process.argv[4]);
  const { default: pino } = await import('pino');
  let slow;
  let log;
  let destination_bytes = () => 0;
  if (variant === 'console.log(obj)') log = (o) => console.log(o);
  else if (variant === 'JSON.stringify + console')
    log = (o) => console.log(JSON.stringify({ level: 30, time: Date.now(), ...o }));
  else {
    let destination;
    if (variant === 'pino async destination') {
      destination = pino.destination({ dest: 1, sync: false });
      destination_bytes = () => destination._len; // sonic-boom's count of bytes not yet written (internal)
    }
    if (variant === 'pino to a slow stream')
      destination = slow = new Writable({ write: (_chunk, _enc, cb) => setTimeout(cb, 1) });
    const logger = destination ? pino({}, destination) : pino();
    log = (o) => logger.info(o, 'request completed');
  }
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const start = performance.now();
  let peakQueued = 0;
  for (let i = 0; i < lines; i += BATCH) {
    for (let j = i; j < i + BATCH; j++)
      log({
        req: { id: `req-${j}`, method: 'GET', url: `/orders/${j % 1000}` },
        res: { statusCode: 200 },
        responseTime: 12.5,
        userId: `u${j % 5000}`,
      });
    if (slow) peakQueued = Math.max(peakQueued, slow.writableLength);
    if (variant === 'pino async destination') peakQueued = Math.max(peakQueued, destination_bytes());
    await tick();
  }
  const ms = performance.now() - start;
  h.disable();
  process.send(
    {
      linesPerSec: (lines / ms) * 1000,
      p99: h.percentile(99) / 1e6,
      max: h.max / 1e6,
      peakQueued,
      rss: process.memoryUsage().rss,
    },
    () => process.exit(0),
  );
} else {
  const lines = Number(process.argv[2] ?? 50_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'logging-cost-'));
  console.log(
    `Node ${process.version}, pino ${require('pino/package.json').version}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(2)}; ` +
      `${lines.toLocaleString('en-US')} lines, ${BATCH} per macrotask, stdout is a file`,
  );
  try {
    console.log(
      `${''.padEnd(26)}${'lines/s'.padStart(10)}  loop delay p99      max   peak queued in the process`,
    );
    for (const variant of VARIANTS) {
      const file = path.join(dir, 'out.log');
      const fd = openSync(file, 'w');
      const child = fork(new URL(import.meta.url).pathname, ['child', variant, String(lines)], {
        stdio: ['ignore', fd, 'inherit', 'ipc'],
      });
      const r = await new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`${variant}: child exited ${code}`)));
      });
      await new Promise((resolve) => child.once('exit', resolve));
      closeSync(fd);
      const queued =
        variant === 'pino to a slow stream' || variant === 'pino async destination'
          ? `${(r.peakQueued / 1e6).toFixed(1)} MB (rss ${(r.rss / 1e6).toFixed(0)} MB)`
          : '-';
      console.log(
        `${variant.padEnd(26)}${Math.round(r.linesPerSec).toLocaleString('en-US').padStart(10)}  ${r.p99.toFixed(1).padStart(9)} ms ${r.max.toFixed(1).padStart(8)} ms   ${queued}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`load average after: ${os.loadavg()[0].toFixed(2)}`);
}
