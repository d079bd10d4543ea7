// How node:cluster spreads work over its workers, and what a per-worker counter looks like from outside.
// The primary forks WORKERS HTTP workers sharing one port, then acts as the client itself:
//   1. 2,000 requests, each on a new TCP connection: which worker served each?
//   2. 2,000 requests over 2 keep-alive connections: the same question.
//   3. 2,000 requests on new connections, with a "scrape" of GET /metrics after every 100: each worker
//      answers with ITS OWN request counter, and the script computes what Prometheus's increase() would
//      make of the scraped series (a drop is read as a counter reset, so the whole new value counts as new).
// POLICY is rr (cluster.SCHED_RR, the default everywhere but Windows) or none (cluster.SCHED_NONE: every
// worker accepts on the shared socket and the kernel decides).
// node docs/09-scaling/cluster-distribution.mjs [POLICY=rr] [WORKERS=4]
import cluster from 'node:cluster';
import http from 'node:http';
import os from 'node:os';

const [policy = 'rr', workersArg = '4'] = process.argv.slice(2);
const WORKERS = Number(workersArg);

if (cluster.isPrimary) {
  cluster.schedulingPolicy = policy === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  cluster.setupPrimary({ args: process.argv.slice(2) });
  const load = os.loadavg()[0].toFixed(2);
  const ports = [];
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  await new Promise((resolve) =>
    cluster.on('listening', (_worker, address) => {
      ports.push(address.port);
      if (ports.length === WORKERS) resolve();
    }),
  );
  const port = ports[0];
  console.log(
    `Node ${process.version}, ${os.availableParallelism()} cores, ${WORKERS} workers, schedulingPolicy ` +
      `${cluster.schedulingPolicy === cluster.SCHED_RR ? 'SCHED_RR' : 'SCHED_NONE'}, ` +
      `${new Set(ports).size === 1 ? 'all listening on one port' : 'listening on different ports!'}; load average ${load}`,
  );

  const get = (path, agent) =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
  /** Sends `count` GET / with `concurrency` in flight; returns requests served per worker pid. */
  async function spread(count, concurrency, agent) {
    const perPid = new Map([...Object.values(cluster.workers)].map((w) => [String(w.process.pid), 0]));
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          next++;
          const pid = await get('/', agent);
          perPid.set(pid, perPid.get(pid) + 1);
        }
      }),
    );
    return [...perPid.values()];
  }
  const show = (counts) =>
    `${counts.join(' / ')}  (max/min ${(Math.max(...counts) / Math.max(1, Math.min(...counts))).toFixed(2)})`;

  console.log(
    `1. 2,000 requests, a new connection each, 8 in flight:     ${show(await spread(2000, 8, false))}`,
  );
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
  console.log(
    `2. 2,000 requests over 2 keep-alive connections:           ${show(await spread(2000, 2, keepAlive))}`,
  );
  keepAlive.destroy();

  const scraped = [];
  for (let round = 0; round < 20; round++) {
    await spread(100, 8, false);
    scraped.push(Number((await get('/metrics', false)).split(' ')[1]));
  }
  let increase = 0;
  for (let i = 1; i < scraped.length; i++)
    increase += scraped[i] >= scraped[i - 1] ? scraped[i] - scraped[i - 1] : scraped[i];
  const truth = 19 * 101; // between the first and the last scrape: 19 rounds of 100 requests plus 1 scrape each
  console.log(`3. scraped http_requests_total, one worker's each time:  ${scraped.join(' ')}`);
  console.log(
    `   increase() over the scrapes: ${increase}; requests actually served between them: ${truth}` +
      ` (${(increase / truth).toFixed(1)}x)`,
  );
  for (const worker of Object.values(cluster.workers)) worker.kill();
} else {
  let served = 0;
  http
    .createServer((req, res) => {
      served++;
      res.end(req.url === '/metrics' ? `http_requests_total ${served}` : String(process.pid));
    })
    .listen(0, '127.0.0.1');
}
