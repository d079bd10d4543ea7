/**
 * `npm run bench -- 11-observability/structured-logs`: lines per second, your logger against pino
 * 10.4.0, on three workloads (a plain message; an object with 5 fields; 5 fields of which 2 paths are
 * redacted) and two destinations (a `Writable` that discards every chunk; a file in a temp dir, written
 * through `fs.createWriteStream`).
 *
 * Both loggers get the same kind of destination, a Node `Writable`, and write through its `write()`:
 * pino is built as `pino(options, stream)` (not `pino.destination()`, whose SonicBoom would compare a
 * different writer as well as a different serializer). pino ignores `write()`'s `false` and lets the
 * stream's own buffer grow; your logger buffers (bounded) and drops beyond `maxBufferedBytes`. So that
 * both write every line, each run logs in batches of {@link BATCH} lines and, after each batch, waits
 * until the stream has drained (yours: `await logger.flush()`; pino: the stream's `'drain'`). The
 * wait is part of the time. Your logger's dropped lines are printed: they should be 0.
 *
 * Each contender runs each workload twice after a warm-up, in alternating order, and the faster run
 * counts. Before timing, one line of each logger (same `time`) is compared byte for byte.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { BenchContext } from '../../../src/testing/index.js';
import { createLogger } from './logger.js';

const LINES = 200_000;
const BATCH = 1_000;
const REDACT = ['password', 'req.headers.authorization'];

interface Workload {
  readonly name: string;
  readonly redact: readonly string[];
  readonly log: (logger: { info(o: object | string, m?: string): void }, i: number) => void;
}

const workloads: readonly Workload[] = [
  { name: 'plain message', redact: [], log: (l) => l.info('request handled') },
  {
    name: 'object with 5 fields',
    redact: [],
    log: (l, i) =>
      l.info({ userId: i, route: '/orders/:id', status: 200, durationMs: 12.5, cache: 'hit' }, 'done'),
  },
  {
    name: '5 fields, 2 paths redacted',
    redact: REDACT,
    log: (l, i) =>
      l.info(
        {
          userId: i,
          route: '/login',
          status: 200,
          password: 'hunter2',
          req: { method: 'POST', headers: { authorization: 'Bearer abc.def', accept: 'application/json' } },
        },
        'done',
      ),
  },
];

interface Destination {
  readonly name: string;
  /** A fresh stream, and how to dispose of it after the run (not timed). */
  open(): Promise<{ stream: Writable; close(): Promise<void> }>;
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

interface Run {
  readonly seconds: number;
  readonly dropped: number;
}

type Contender = (stream: Writable, workload: Workload) => Promise<Run>;

const yours: Contender = async (stream, workload) => {
  const logger = createLogger({ destination: stream, redact: workload.redact });
  const started = performance.now();
  for (let i = 0; i < LINES; ) {
    const end = Math.min(LINES, i + BATCH);
    for (; i < end; i++) workload.log(logger, i);
    await logger.flush();
  }
  return { seconds: (performance.now() - started) / 1000, dropped: logger.stats().dropped };
};

const theirs: Contender = async (stream, workload) => {
  const logger = pino({ redact: [...workload.redact] }, stream);
  const started = performance.now();
  for (let i = 0; i < LINES; ) {
    const end = Math.min(LINES, i + BATCH);
    for (; i < end; i++) workload.log(logger, i);
    if (stream.writableNeedDrain) await once(stream, 'drain');
  }
  return { seconds: (performance.now() - started) / 1000, dropped: 0 };
};

/** The first line of each logger with the same time, to show they write the same thing. */
function sameLine(workload: Workload): string {
  const T = 1_700_000_000_000;
  const capture = () => {
    const chunks: string[] = [];
    const stream = new Writable({
      decodeStrings: false,
      write(chunk, _e, cb) {
        chunks.push(String(chunk));
        cb();
      },
    });
    return { stream, text: () => chunks.join('') };
  };
  const a = capture();
  const b = capture();
  workload.log(createLogger({ destination: a.stream, redact: workload.redact, clock: () => T }), 1);
  workload.log(pino({ redact: [...workload.redact], timestamp: () => `,"time":${T}` }, b.stream), 1);
  return a.text() === b.text()
    ? '✔ both write the same line'
    : `✘ the lines differ:\n  yours: ${a.text().trim()}\n  pino:  ${b.text().trim()}`;
}

export default async function bench(ctx: BenchContext): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-logs-bench-'));
  let files = 0;
  const destinations: readonly Destination[] = [
    {
      name: 'a Writable that discards',
      open: async () => ({ stream: discard(), close: async () => {} }),
    },
    {
      name: 'a file (fs.createWriteStream)',
      open: async () => {
        const file = path.join(dir, `run-${files++}.log`);
        const stream = createWriteStream(file);
        return {
          stream,
          close: async () => {
            stream.end();
            await once(stream, 'close');
            await rm(file, { force: true });
          },
        };
      },
    },
  ];
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  ctx.log(`Node ${process.version}, ${os.availableParallelism()} cores, load average ${load}`);
  ctx.log(
    `pino 10.4.0 given the same Writable; ${LINES.toLocaleString('en-US')} lines per run, batches of ${BATCH}`,
  );
  try {
    for (const destination of destinations) {
      ctx.log('');
      ctx.log(`Destination: ${destination.name}`);
      ctx.log(
        [
          'workload'.padEnd(28),
          'yours lines/s'.padStart(14),
          'pino lines/s'.padStart(14),
          'yours/pino'.padStart(11),
          'dropped'.padStart(8),
        ].join(''),
      );
      for (const workload of workloads) {
        const time = async (contender: Contender) => {
          const { stream, close } = await destination.open();
          try {
            return await contender(stream, workload);
          } finally {
            await close();
          }
        };
        await time(yours);
        await time(theirs);
        const best = { yours: Number.POSITIVE_INFINITY, pino: Number.POSITIVE_INFINITY, dropped: 0 };
        for (const order of [
          ['yours', 'pino'],
          ['pino', 'yours'],
        ] as const) {
          for (const who of order) {
            const run = await time(who === 'yours' ? yours : theirs);
            best[who] = Math.min(best[who], run.seconds);
            if (who === 'yours') best.dropped = Math.max(best.dropped, run.dropped);
          }
        }
        const yoursRate = LINES / best.yours;
        const pinoRate = LINES / best.pino;
        ctx.log(
          [
            workload.name.padEnd(28),
            Math.round(yoursRate).toLocaleString('en-US').padStart(14),
            Math.round(pinoRate).toLocaleString('en-US').padStart(14),
            `${(yoursRate / pinoRate).toFixed(2)}×`.padStart(11),
            String(best.dropped).padStart(8),
          ].join(''),
        );
        if (destination === destinations[0]) ctx.log(`  ${sameLine(workload)}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
