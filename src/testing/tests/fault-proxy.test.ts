/**
 * The fault proxy holds bytes while paused, also on connections opened after pause(), and lets them
 * through on resume(); refuse() and cut() break connections as a server that is down would.
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../fault-proxy.js';
import { type Listening, listen, sleep, waitFor } from '../net.js';

/** An echo server that remembers what it received. */
async function startEcho(): Promise<Listening & { received: () => string }> {
  let received = '';
  const server = createServer((socket) => {
    socket.on('data', (chunk) => {
      received += chunk;
      socket.write(chunk);
    });
    socket.on('error', () => {});
  });
  const listening = await listen(server);
  return Object.assign(listening, { received: () => received });
}

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

async function setUp(): Promise<{ echo: Awaited<ReturnType<typeof startEcho>>; proxy: FaultProxy }> {
  const echo = await startEcho();
  open.push(echo);
  const proxy = await startFaultProxy({ port: echo.port });
  open.push(proxy);
  return { echo, proxy };
}

async function client(port: number): Promise<Socket & { got: () => string }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let got = '';
  socket.on('data', (chunk) => {
    got += chunk;
  });
  socket.on('error', () => {});
  open.push({ close: () => socket.destroy() });
  return Object.assign(socket, { got: () => got });
}

/** Resolves when the socket closes, reset or not (`events.once` would reject on the reset's error). */
const closed = (socket: Socket) => new Promise((resolve) => socket.once('close', resolve));

describe('the fault proxy', () => {
  it('passes bytes both ways', async () => {
    const { proxy } = await setUp();
    const socket = await client(proxy.port);
    socket.write('hello');
    await waitFor('the echo', () => socket.got() === 'hello');
    expect(proxy.openConnections).toBe(1);
  });

  it('holds bytes while paused, on a connection opened before pause() and on one opened after', async () => {
    const { echo, proxy } = await setUp();
    const before = await client(proxy.port);
    proxy.pause();
    const after = await client(proxy.port);
    before.write('one');
    after.write('two');
    await sleep(300);
    expect(echo.received(), 'nothing may reach the server while paused').toBe('');
    proxy.resume();
    await waitFor('both echoes', () => before.got() === 'one' && after.got() === 'two');
  });

  it('refuses new connections while refusing, and cut() closes the open ones', async () => {
    const { proxy } = await setUp();
    const kept = await client(proxy.port);
    proxy.refuse(true);
    const refused = await client(proxy.port);
    await closed(refused);
    proxy.refuse(false);
    proxy.cut();
    await closed(kept);
    expect(proxy.openConnections).toBe(0);
  });
});
