/**
 * A TCP proxy on 127.0.0.1 that sits between a client and a server (usually Redis) and breaks the
 * connection on command: pause it, cut it, refuse new connections. The code under test connects to
 * the proxy's port instead of the server's and cannot tell the difference until the test says so.
 */
import { connect, createServer, type Socket } from 'node:net';
import { type Listening, listen } from './net.js';

/** A running proxy and its controls. */
export interface FaultProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** Connections open through the proxy right now. */
  readonly openConnections: number;
  /** Holds every byte in both directions (a stalled network) until {@link resume}. */
  pause(): void;
  /** Lets held and new bytes through again. */
  resume(): void;
  /** Destroys every open connection at once, as a crashed server or a dropped link would. */
  cut(): void;
  /** While on, a new connection is accepted and closed immediately (a server that is down). */
  refuse(on?: boolean): void;
  /** Stops the proxy and closes everything. */
  close(): Promise<void>;
}

/** Starts a proxy to `target` (host defaults to 127.0.0.1). */
export async function startFaultProxy(target: { host?: string; port: number }): Promise<FaultProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let paused = false;
  let refusing = false;

  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host ?? '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // After pipe(), which resumes its source: paused first, the connection would flow anyway.
    if (paused) for (const s of pair) s.pause();
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  const listening: Listening = await listen(server);

  return {
    port: listening.port,
    get openConnections() {
      return pairs.size;
    },
    pause() {
      paused = true;
      for (const pair of pairs) for (const s of pair) s.pause();
    },
    resume() {
      paused = false;
      for (const pair of pairs) for (const s of pair) s.resume();
    },
    cut() {
      for (const pair of [...pairs]) for (const s of pair) s.resetAndDestroy();
      pairs.clear();
    },
    refuse(on = true) {
      refusing = on;
    },
    async close() {
      for (const pair of [...pairs]) for (const s of pair) s.destroy();
      pairs.clear();
      await listening.close();
    },
  };
}
