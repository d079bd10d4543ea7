/**
 * `npm run bench -- 09/cluster`: requests per second with one worker, then with one worker per core
 * (`os.availableParallelism()`, at least 2), on `GET /whoami` (HTTP only) and `GET /hits` (an INCR in
 * Redis per request). autocannon sends the load from a worker thread of this process, which is also
 * the cluster's primary; on a two-core machine the load generator, the primary, Redis and the
 * workers share the two cores, so the ratio is well below 2×: that is the measurement, not a flaw.
 */
import { availableParallelism, cpus } from 'node:os';
import {
  type BenchContext,
  comparisonTable,
  httpLoad,
  type Measurement,
} from '../../../src/testing/index.js';
import { startCluster } from './cluster.js';
import { workerFiles } from './target-files.js';

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const cores = availableParallelism();
  const many = Math.max(2, cores);
  ctx.log(
    `machine: ${cores} cores available (os.availableParallelism()), ${cpus()[0]?.model ?? 'unknown CPU'}; ` +
      `Node ${process.version}; ${ctx.durationSeconds} s per phase, ${ctx.connections} connections (keep-alive)`,
  );
  const { exec, appFile } = workerFiles();
  for (const path of ['/whoami', '/hits']) {
    const rows: Measurement[] = [];
    for (const workers of [1, many]) {
      const handle = await startCluster({
        workers,
        exec,
        env: { APP_FILE: appFile, REDIS_URL: ctx.redisUrl, PORT: '0', HITS_KEY: `bench:${process.pid}:hits` },
      });
      try {
        rows.push(
          await httpLoad({
            label: `GET ${path}, ${workers} worker${workers === 1 ? '' : 's'}`,
            url: `http://127.0.0.1:${handle.port}${path}`,
            connections: ctx.connections,
            durationSeconds: ctx.durationSeconds,
            expectStatus: 200,
            inWorker: true,
          }),
        );
      } finally {
        await handle.close();
      }
    }
    for (const line of comparisonTable(rows)) ctx.log(line);
    const [one, all] = rows;
    if (one && all && one.perSecond > 0) {
      ctx.log(`${many} workers / 1 worker on ${path}: ${(all.perSecond / one.perSecond).toFixed(2)}×`);
    }
    ctx.log('');
  }
}
