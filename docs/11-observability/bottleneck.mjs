// Finding a bottleneck: event-loop utilization and a CPU profile of a server with one slow function.
// The server (a child process started with node --cpu-prof) answers GET /search?q=... by ranking 300
// product names with a naive edit distance (fuzzyScore: O(n*m) per name, the deliberate bottleneck) and
// serialising the top 10. The script measures performance.eventLoopUtilization() inside a server over
// 1 s idle and over 3 s under autocannon (10 connections); then it loads a second server, started with
// node --cpu-prof, for 3 s (after 1 s idle, to show what the profiler does to the utilization), stops it, reads the .cpuprofile it wrote and prints the functions with the
// most self time. The profile goes to a temp dir that is
// deleted at the end; pass --keep to keep it and open it in Chrome DevTools (Performance panel, "Load
// profile"). Do not commit profiles.
// node docs/11-observability/bottleneck.mjs [--keep]
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

if (process.argv[2] === 'server') {
  const words = [
    'red',
    'blue',
    'steel',
    'garden',
    'chair',
    'lamp',
    'desk',
    'oak',
    'linen',
    'mug',
    'kettle',
    'rug',
  ];
  const products = Array.from(
    { length: 300 },
    (_, i) => `${words[i % 12]} ${words[(i * 7) % 12]} ${words[(i * 5) % 12]} ${i}`,
  );
  function fuzzyScore(a, b) {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length];
  }
  function search(q) {
    return products
      .map((name) => ({ name, score: fuzzyScore(q, name) }))
      .sort((x, y) => x.score - y.score)
      .slice(0, 10);
  }
  const server = http.createServer((req, res) => {
    const q = new URL(req.url, 'http://x').searchParams.get('q') ?? '';
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(search(q)));
  });
  let mark;
  process.on('message', (msg) => {
    if (msg === 'mark') mark = performance.eventLoopUtilization();
    if (msg === 'measure') process.send({ elu: performance.eventLoopUtilization(mark).utilization });
    if (msg === 'exit') server.close(() => process.exit(0)); // --cpu-prof writes the profile on exit
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
} else {
  const require = createRequire(import.meta.url);
  const autocannon = require('autocannon');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cpu-prof-'));
  const start = (execArgv) => {
    const child = fork(new URL(import.meta.url).pathname, ['server'], { execArgv });
    const next = () => new Promise((resolve) => child.once('message', resolve));
    const stop = () => {
      child.send('exit');
      return new Promise((resolve) => child.once('exit', resolve));
    };
    return { child, next, stop };
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const load = (port, duration) =>
    autocannon({ url: `http://127.0.0.1:${port}/search?q=oak%20desk`, connections: 10, duration });
  console.log(
    `Node ${process.version}, autocannon ${require('autocannon/package.json').version}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(2)}`,
  );
  // 1. Event-loop utilization, on a server WITHOUT the profiler (the profiler's sampling makes an idle
  //    loop look busy: the second part prints by how much).
  {
    const { child, next, stop } = start([]);
    const { port } = await next();
    child.send('mark');
    await sleep(1_000);
    child.send('measure');
    console.log(`event-loop utilization, idle for 1 s:        ${(await next()).elu.toFixed(3)}`);
    child.send('mark');
    const r = await load(port, 3);
    child.send('measure');
    console.log(
      `event-loop utilization, under load for 3 s:  ${(await next()).elu.toFixed(3)}  (${Math.round(r.requests.average)} requests/s, p99 ${r.latency.p99} ms)`,
    );
    await stop();
  }
  // 2. The same load on a server started with --cpu-prof.
  {
    const { child, next, stop } = start(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const { port } = await next();
    child.send('mark');
    await sleep(1_000);
    child.send('measure');
    console.log(`the same idle second with --cpu-prof:        ${(await next()).elu.toFixed(3)}`);
    await load(port, 3);
    await stop();
  }

  const file = path.join(
    dir,
    readdirSync(dir).find((f) => f.endsWith('.cpuprofile')),
  );
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const selfMs = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const key =
      `${functionName || '(anonymous)'} ${url ? `${path.basename(url)}:${lineNumber + 1}` : ''}`.trim();
    selfMs.set(key, (selfMs.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
  console.log(`\nself time, top 6 of ${path.basename(file)} (${(total / 1000).toFixed(1)} s sampled):`);
  for (const [name, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, 6))
    console.log(`  ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  if (process.argv.includes('--keep')) console.log(`\nprofile kept: ${file}`);
  else rmSync(dir, { recursive: true, force: true });
}
