// What a new connection costs before the first useful byte, on loopback (so no network latency at all):
//   Redis over TCP: PING on a connection that is already open, against connect + PING + close each time
//   (raw node:net speaking RESP, so only TCP and Redis are measured), and the same with ioredis, which
//   also says HELLO (RESP3) and sets itself up on every new connection.
//   TLS: a local node:tls echo server with a fresh self-signed RSA-2048 certificate (made with the openssl
//   command), TLS 1.3: one echo round trip on an open connection against a full handshake each time.
// Each line: median and p99 of 500 tries, one at a time.
// REDIS_URL=redis://127.0.0.1:6379 node docs/09-scaling/handshakes.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Redis } from 'ioredis';

const TRIES = 500;
const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const redisPort = Number(url.port || 6379);
const redisHost = url.hostname;

async function measure(label, once) {
  const ms = [];
  for (let i = 0; i < TRIES; i++) {
    const start = performance.now();
    await once();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  console.log(`${label.padEnd(58)} median ${at(0.5).toFixed(3)} ms   p99 ${at(0.99).toFixed(3)} ms`);
  return at(0.5);
}
/** Writes `data` on `socket` and resolves on the next chunk that comes back. */
const roundTrip = (socket, data) =>
  new Promise((resolve) => {
    socket.once('data', resolve);
    socket.write(data);
  });
const open = (connect, event) =>
  new Promise((resolve, reject) => {
    const socket = connect();
    socket.once(event, () => resolve(socket));
    socket.once('error', reject);
  });

const probe = new Redis(url.href);
const version = (await probe.info('server')).match(/redis_version:(\S+)/)[1];
await probe.quit();
console.log(
  `Node ${process.version}, Redis ${version}, ioredis ${JSON.parse(readFileSync(new URL('../../node_modules/ioredis/package.json', import.meta.url))).version}, ` +
    `${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(2)}`,
);

const kept = await open(() => net.connect(redisPort, redisHost), 'connect');
const warm = await measure('Redis PING on an open connection', () => roundTrip(kept, 'PING\r\n'));
kept.destroy();
const fresh = await measure('Redis: TCP connect + PING + close, each time', async () => {
  const socket = await open(() => net.connect(redisPort, redisHost), 'connect');
  await roundTrip(socket, 'PING\r\n');
  socket.destroy();
});
const client = new Redis(url.href);
await client.ping();
await measure('ioredis: ping() on a connected client', () => client.ping());
await client.quit();
const perRequest = await measure('ioredis: new Redis() + ping() + quit(), each time', async () => {
  const c = new Redis(url.href);
  await c.ping();
  await c.quit();
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'handshakes-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'cert.pem'),
  ],
  { stdio: 'ignore' },
);
const cert = readFileSync(path.join(dir, 'cert.pem'));
const server = tls.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert }, (socket) =>
  socket.pipe(socket),
);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const tlsOptions = { host: '127.0.0.1', port: server.address().port, ca: cert, servername: 'localhost' };
const secure = await open(() => tls.connect(tlsOptions), 'secureConnect');
console.log(
  `TLS: ${secure.getProtocol()}, ${secure.getCipher().name}, RSA-2048 certificate; client and server in this one process`,
);
const tlsWarm = await measure('TLS: echo round trip on an open connection', () => roundTrip(secure, 'ping'));
secure.destroy();
const tlsFresh = await measure('TLS: TCP connect + full handshake + echo + close, each time', async () => {
  const socket = await open(() => tls.connect(tlsOptions), 'secureConnect');
  await roundTrip(socket, 'ping');
  socket.destroy();
});
server.close();
rmSync(dir, { recursive: true, force: true });

console.log(
  `medians: a new TCP connection costs ${(fresh / warm).toFixed(1)}x a pooled PING, a new ioredis client ` +
    `${(perRequest / warm).toFixed(1)}x, a new TLS connection ${(tlsFresh / tlsWarm).toFixed(1)}x an echo on an open one`,
);
console.log(`load average after: ${os.loadavg()[0].toFixed(2)}`);
