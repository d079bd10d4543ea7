// The monolith against the services, for one order: the same seven steps (validate, price, check stock,
// pay, save, update stock, notify) done as in-process function calls, and as one HTTP call per step to
// seven small services on 127.0.0.1 (each its own node:http server, all in one child process, so client
// and services do not share an event loop). The handlers do the same trivial work in both versions, so
// the difference is the boundary: a request, a response, JSON both ways, and a keep-alive socket.
// Prints orders/s and p50/p99 per order with 1 and with 16 orders in flight, then the per-call cost and
// "calls per order x latency per call" against the measured latency.
// node docs/14-orders/boundary-cost.mjs [SECONDS_PER_RUN=4]
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';

const STEPS = ['validate', 'price', 'stock-check', 'pay', 'save', 'stock-update', 'notify'];

/** The business logic, shared by both versions: tiny on purpose, so the boundary is what is measured. */
function makeDomain() {
  const stock = new Map([
    ['SKU-1', 1e12],
    ['SKU-2', 1e12],
  ]);
  const orders = new Map();
  let seq = 0;
  return {
    validate: (o) => ({ ok: o.lines.length > 0 && o.lines.every((l) => l.qty > 0) }),
    price: (o) => ({ totalCents: o.lines.reduce((sum, l) => sum + l.qty * l.unitCents, 0) }),
    'stock-check': (o) => ({ ok: o.lines.every((l) => (stock.get(l.sku) ?? 0) >= l.qty) }),
    pay: (o) => ({ paymentId: `pay_${o.id}`, amountCents: o.totalCents }),
    save: (o) => {
      orders.set(o.id, o);
      return { orderId: o.id, seq: ++seq };
    },
    'stock-update': (o) => {
      for (const l of o.lines) stock.set(l.sku, stock.get(l.sku) - l.qty);
      return { ok: true };
    },
    notify: (o) => ({ queued: `email to ${o.customer}` }),
  };
}

if (process.argv[2] === '--services') {
  // Child: one server per service, on port 0; reply with the ports.
  const domain = makeDomain();
  const ports = {};
  for (const step of STEPS) {
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const out = JSON.stringify(domain[step](JSON.parse(Buffer.concat(chunks))));
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
          .end(out);
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports[step] = server.address().port;
  }
  process.send(ports);
} else {
  const seconds = Number(process.argv[2] ?? 4);
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`node docs/14-orders/boundary-cost.mjs ${seconds}`);
  console.log(`Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0].model}), load ${load()}`);

  const makeOrder = (i) => ({
    id: `ord_${i}`,
    customer: `cus_${i % 100}`,
    lines: [
      { sku: 'SKU-1', qty: 1 + (i % 3), unitCents: 1299 },
      { sku: 'SKU-2', qty: 1, unitCents: 499 },
    ],
  });

  /** Runs the seven steps in order through `call(step, order)`; returns the saved order id. */
  async function placeOrder(call, order) {
    if (!(await call('validate', order)).ok) throw new Error('invalid');
    order.totalCents = (await call('price', order)).totalCents;
    if (!(await call('stock-check', order)).ok) throw new Error('out of stock');
    order.paymentId = (await call('pay', order)).paymentId;
    const saved = await call('save', order);
    await call('stock-update', order);
    await call('notify', order);
    return saved.orderId;
  }

  // In process: the same functions, called directly (async, as a real module API would be).
  const local = makeDomain();
  const inProcess = async (step, order) => local[step](order);

  // Over HTTP: a keep-alive agent, one POST per step.
  const child = fork(new URL(import.meta.url).pathname, ['--services'], { stdio: 'inherit' });
  const ports = await new Promise((resolve) => child.once('message', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let calls = 0;
  const overHttp = (step, order) =>
    new Promise((resolve, reject) => {
      calls++;
      const body = JSON.stringify(order);
      const req = http.request(
        {
          host: '127.0.0.1',
          port: ports[step],
          path: `/${step}`,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  /** Closed loop: `inFlight` workers place orders back to back for `seconds`; latencies in µs. */
  async function run(call, inFlight) {
    const latencies = [];
    let next = 0;
    const until = performance.now() + seconds * 1000;
    const worker = async () => {
      while (performance.now() < until) {
        const start = performance.now();
        await placeOrder(call, makeOrder(next++));
        latencies.push((performance.now() - start) * 1000);
      }
    };
    const began = performance.now();
    await Promise.all(Array.from({ length: inFlight }, worker));
    const elapsed = (performance.now() - began) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    return { rate: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), n: latencies.length };
  }

  const fmt = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);
  // Warm both paths up (JIT, sockets).
  await run(inProcess, 1);
  await run(overHttp, 4);
  const rows = [];
  for (const inFlight of [1, 16]) {
    for (const [label, call] of [
      ['in-process calls', inProcess],
      ['HTTP call per step', overHttp],
    ]) {
      calls = 0;
      const r = await run(call, inFlight);
      rows.push({ label, inFlight, ...r, callsPerOrder: call === overHttp ? calls / r.n : 0 });
      console.log(
        `${label.padEnd(20)} ${String(inFlight).padStart(2)} in flight  ${Math.round(r.rate).toLocaleString('en-US').padStart(9)} orders/s` +
          `   p50 ${fmt(r.p50).padStart(9)}   p99 ${fmt(r.p99).padStart(9)}   (${r.n.toLocaleString('en-US')} orders)`,
      );
    }
  }
  // The cost of one call across the boundary, alone: the cheapest step (notify) 2,000 times, 1 in flight.
  const one = [];
  for (let i = 0; i < 2000; i++) {
    const start = performance.now();
    await overHttp('notify', makeOrder(i));
    one.push((performance.now() - start) * 1000);
  }
  one.sort((a, b) => a - b);
  const perCall = one[1000];
  const [local1, http1] = rows;
  console.log(`\none HTTP call (POST /notify, keep-alive): p50 ${fmt(perCall)}`);
  console.log(
    `calls per order ${http1.callsPerOrder.toFixed(0)} x ${fmt(perCall)} = ${fmt(http1.callsPerOrder * perCall)} predicted;` +
      ` measured p50 ${fmt(http1.p50)} (in process: ${fmt(local1.p50)})`,
  );
  console.log(
    `services / monolith, 1 in flight: ${(http1.p50 / local1.p50).toFixed(0)}x the latency, ${(local1.rate / http1.rate).toFixed(0)}x fewer orders/s`,
  );
  console.log(`load after: ${load()}`);
  agent.destroy();
  child.kill();
}
