// What AsyncLocalStorage costs per request. 100,000 simulated requests, 100 at a time; each awaits a
// resolved promise, a setImmediate at the bottom of a chain of 5 async functions, then reads
// "its" request id. Without ALS the id is passed as an argument; with ALS it is put in by
// storage.run() and read back with getStore() at the bottom of the chain (and checked, so a bleed would
// throw). Each mode runs in a child process: Node 24's default AsyncLocalStorage (built on
// AsyncContextFrame) and the older async_hooks-based one (node --no-async-context-frame).
// node docs/11-observability/als-cost.mjs

import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { setImmediate as tick } from 'node:timers/promises';

const REQUESTS = 100_000;
const CONCURRENCY = 100;

if (process.argv[2] === 'child') {
  const storage = new AsyncLocalStorage();
  async function depth(n, id) {
    if (n === 0) {
      await Promise.resolve();
      await tick();
      const seen = id ?? storage.getStore().requestId;
      return seen;
    }
    return depth(n - 1, id);
  }
  async function run(withAls) {
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) {
        const id = `req-${next++}`;
        const seen = withAls ? await storage.run({ requestId: id }, () => depth(5)) : await depth(5, id);
        if (seen !== id) throw new Error(`bleed: ${id} saw ${seen}`);
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return performance.now() - start;
  }
  await run(false); // warm up both paths
  await run(true);
  const best = { without: Number.POSITIVE_INFINITY, with: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 3; i++) {
    best.without = Math.min(best.without, await run(false));
    best.with = Math.min(best.with, await run(true));
  }
  console.log(JSON.stringify(best));
} else {
  console.log(
    `Node ${process.version}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(2)}; ` +
      `${REQUESTS.toLocaleString('en-US')} requests, ${CONCURRENCY} at a time, best of 3`,
  );
  for (const [name, flags] of [
    ['AsyncContextFrame (the default in Node 24)', []],
    ['async_hooks (--no-async-context-frame)', ['--no-async-context-frame']],
  ]) {
    const out = execFileSync(process.execPath, [...flags, new URL(import.meta.url).pathname, 'child'], {
      encoding: 'utf8',
    });
    const r = JSON.parse(out);
    const us = (ms) => ((ms * 1000) / REQUESTS).toFixed(2);
    console.log(
      `${name.padEnd(44)} without ALS ${us(r.without)} µs/request, with ALS ${us(r.with)} µs/request: ` +
        `+${(((r.with - r.without) / r.without) * 100).toFixed(0)}%`,
    );
  }
  console.log(`load average after: ${os.loadavg()[0].toFixed(2)}`);
}
