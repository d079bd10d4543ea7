/**
 * `npm run bench -- 10-realtime/chat-cluster`: one sender, 200 receivers.
 *
 * - baseline: a bare `ws` server on one instance that sends every frame to every connection;
 * - the chat: 2 instances sharing Redis, 100 receivers on each, the sender on the first.
 *
 * The sender keeps at most 10 messages in flight (it waits for its own copy to come back), so the
 * measure is sustained delivery, not how much can be queued. Every receiver records the delay from
 * send to receipt. Then the memory one idle connection costs a chat instance (clients in a child
 * process, so only the server's side is counted).
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket, { WebSocketServer } from 'ws';
import {
  type BenchContext,
  comparisonTable,
  type Measurement,
  measurementOf,
} from '../../../src/testing/index.js';
import { createChatNode } from './cluster.js';

const RECEIVERS = 200;
const IN_FLIGHT = 10;
const IDLE_CONNECTIONS = 5000;
const ROUNDS = 3;

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const seconds = ctx.durationSeconds;
  ctx.log(`1 sender, ${RECEIVERS} receivers, ${seconds} s per phase, ${IN_FLIGHT} messages in flight`);

  const bare = await startBareBroadcast();
  const prefix = `bench-${process.pid}:`;
  const options = { redisUrl: ctx.redisUrl, keyPrefix: prefix, rateLimit: { messages: 1e9, perMs: 1000 } };
  const nodes = [await createChatNode(options), await createChatNode(options)];
  const urls = await Promise.all(nodes.map((n) => listenOn(n.server)));

  // The phases alternate and each keeps its best round: on a shared machine the load changes from
  // second to second, and the best round is the one least disturbed by others.
  const best = new Map<string, Measurement>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const m of [
      await measure('bare ws broadcast, 1 instance', [bare.url], seconds, (text) => text),
      await measure('chat-cluster, 2 instances + Redis', urls, seconds, (text) =>
        JSON.stringify({ type: 'message', room: 'bench', text }),
      ),
    ]) {
      if (m.perSecond > (best.get(m.label)?.perSecond ?? -1)) best.set(m.label, m);
    }
  }
  await bare.close();
  for (const line of comparisonTable([...best.values()])) ctx.log(line);
  ctx.log(
    `(best of ${ROUNDS} alternating rounds; ops/s = messages delivered per second, summed over receivers; ` +
      'p50/p99 = send-to-receipt delay)',
  );

  const perConnection = await idleMemory(urls[0] ?? '');
  ctx.log(
    `memory per idle connection on a chat instance: ~${(perConnection.heap / 1024).toFixed(1)} KiB heap, ` +
      `~${(perConnection.rss / 1024).toFixed(1)} KiB RSS (${IDLE_CONNECTIONS} connections)`,
  );
  await Promise.all(nodes.map((n) => n.close()));
}

async function listenOn(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The baseline: every text frame goes to every open connection, nothing else. */
async function startBareBroadcast() {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const text = data.toString();
      for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(text);
    });
  });
  const url = await listenOn(server);
  return {
    url,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => server.close(() => resolve())));
    },
  };
}

/** Connects receivers round-robin over `urls` (joining room `bench` when it is the chat), then sends for `seconds`. */
async function measure(
  label: string,
  urls: string[],
  seconds: number,
  frame: (text: string) => string,
): Promise<Measurement> {
  const isChat = frame('x') !== 'x';
  const latencies: number[] = [];
  let measuring = false;
  const open = async (url: string, name: string) => {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    if (isChat) {
      const joined = new Promise((resolve) => ws.once('message', resolve));
      ws.send(JSON.stringify({ type: 'join', room: 'bench', name }));
      await joined;
    }
    return ws;
  };
  const receivers: WebSocket[] = [];
  for (let i = 0; i < RECEIVERS; i++) receivers.push(await open(urls[i % urls.length] ?? '', `r${i}`));
  for (const ws of receivers) {
    ws.on('message', (data) => {
      const sentAt = sentTime(data.toString());
      if (measuring && sentAt !== undefined) latencies.push(performance.now() - sentAt);
    });
  }
  const sender = await open(urls[0] ?? '', 'sender');
  let inFlight = 0;
  let wake: (() => void) | undefined;
  sender.on('message', (data) => {
    if (sentTime(data.toString()) === undefined) return;
    inFlight--;
    wake?.();
  });

  measuring = true;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    if (inFlight >= IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
    inFlight++;
    sender.send(frame(`t=${performance.now()}`));
    if (inFlight % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const elapsed = (performance.now() - started) / 1000;
  measuring = false;
  for (const ws of [...receivers, sender]) ws.terminate();

  return measurementOf(label, latencies, elapsed);
}

function sentTime(text: string): number | undefined {
  const match = /t=([\d.]+)/.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Opens idle connections from a child process and measures this (server) process before and after. */
async function idleMemory(url: string): Promise<{ heap: number; rss: number }> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const snapshot = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, rss: m.rss };
  };
  const before = snapshot();
  const script = `
    const WebSocket = require('ws');
    let open = 0;
    for (let i = 0; i < ${IDLE_CONNECTIONS}; i++) {
      const ws = new WebSocket(${JSON.stringify(url)});
      ws.on('open', () => { if (++open === ${IDLE_CONNECTIONS}) console.log('open'); });
      ws.on('error', () => {});
    }
    process.stdin.on('data', () => process.exit(0));`;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: process.cwd(),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.includes('open') && resolve()),
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = snapshot();
  child.stdin.write('bye');
  await new Promise((resolve) => child.once('exit', resolve));
  return {
    heap: (after.heap - before.heap) / IDLE_CONNECTIONS,
    rss: (after.rss - before.rss) / IDLE_CONNECTIONS,
  };
}
