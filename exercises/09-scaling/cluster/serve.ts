/**
 * `npm run serve -- 09/cluster [--port N] [-- <workers>]`: starts the cluster with one worker per
 * core (`os.availableParallelism()`, or the number after `--`), sharing the Redis the runner found,
 * and prints what to try. Ctrl-C closes it gracefully.
 */
import { availableParallelism } from 'node:os';
import type { ServeContext, Served } from '../../../src/testing/runnable.js';
import { startCluster } from './cluster.js';
import { workerFiles } from './target-files.js';

export default async function serve(ctx: ServeContext): Promise<Served> {
  if (!ctx.redisUrl) throw new Error('the cluster needs Redis: see npm run serve --help');
  const workers = Number(ctx.args[0] ?? availableParallelism());
  const { exec, appFile } = workerFiles();
  const handle = await startCluster({
    workers,
    exec,
    env: {
      APP_FILE: appFile,
      REDIS_URL: ctx.redisUrl,
      PORT: String(ctx.port),
      HOST: ctx.host,
      HITS_KEY: 'serve:hits',
    },
  });
  const url = `http://${ctx.host}:${handle.port}`;
  return {
    url,
    tryIt: [
      `${workers} workers (pids ${handle.workers().join(', ')}) share ${url}`,
      `curl ${url}/whoami           # which worker answered: run it a few times`,
      `curl ${url}/hits             # one counter for every worker, in Redis`,
      `curl '${url}/slow?ms=3000'   # a request that stays in flight`,
      `kill -9 ${handle.workers()[0]}   # a crash: the primary forks a replacement (curl /whoami again)`,
      `npx autocannon -c 50 -d 5 ${url}/whoami   # load; compare with: npm run serve -- 09/cluster -- 1`,
    ],
    close: () => handle.close(),
  };
}
