// Amdahl's law, measured. A job of 100 equal units of CPU work: SERIAL units must run one after another on
// the main thread (think: parse the request, merge the results), the other units are split evenly over N
// worker threads that run at the same time. The script times the whole job with N = 1, 2 and 4 workers
// (the workers are started before the clock starts), prints the speedup over N = 1 and what Amdahl's law
// predicts: speedup(N) = 1 / ((1 - p) + p / N), with p the parallel share.
// node docs/09-scaling/amdahl.mjs [SERIAL=10]
import os from 'node:os';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

/** One unit of CPU work, about 5 ms on the course machine: FNV-1a over 4,000,000 numbers. */
function unit(seed) {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < 4_000_000; i++) h = Math.imul(h ^ i, 0x01000193);
  return h >>> 0;
}

if (!isMainThread) {
  parentPort.on('message', ({ units, seed }) => {
    let h = 0;
    for (let u = 0; u < units; u++) h ^= unit(seed + u);
    parentPort.postMessage(h);
  });
} else {
  const TOTAL = 100;
  const [serial = 10] = process.argv.slice(2).map(Number);
  const p = (TOTAL - serial) / TOTAL;
  const RUNS = 5;
  console.log(
    `Node ${process.version}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(2)}; ` +
      `${TOTAL} units, ${serial} serial (p = ${p.toFixed(2)}), best of ${RUNS} runs`,
  );
  const workers = Array.from({ length: 4 }, () => new Worker(new URL(import.meta.url)));
  const ask = (worker, units, seed) =>
    new Promise((resolve) => {
      worker.once('message', resolve);
      worker.postMessage({ units, seed });
    });
  await Promise.all(workers.map((w) => ask(w, 2, 0))); // warm up: JIT-compile unit() in every thread

  async function job(n) {
    const start = performance.now();
    let h = 0;
    for (let u = 0; u < serial; u++) h ^= unit(u);
    const share = (TOTAL - serial) / n;
    const results = await Promise.all(workers.slice(0, n).map((w, i) => ask(w, share, 1000 * i)));
    for (const r of results) h ^= r;
    return { ms: performance.now() - start, h };
  }
  const cores = os.availableParallelism();
  let base = 0;
  for (const n of [1, 2, 4]) {
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < RUNS; r++) best = Math.min(best, (await job(n)).ms);
    if (n === 1) base = best;
    const predicted = 1 / (1 - p + p / n);
    console.log(
      `${n} worker${n > 1 ? 's' : ' '}: ${best.toFixed(0).padStart(5)} ms  speedup ${(base / best).toFixed(2)}x` +
        `  Amdahl predicts ${predicted.toFixed(2)}x` +
        (n > cores ? `, or ${(1 / (1 - p + p / cores)).toFixed(2)}x with the ${cores} cores there are` : ''),
    );
  }
  console.log(`load average after: ${os.loadavg()[0].toFixed(2)}`);
  for (const w of workers) await w.terminate();
}
