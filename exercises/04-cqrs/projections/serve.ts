/**
 * `npm run serve -- 04-cqrs/projections [--target solutions] [--port N]`
 *
 * Seeds a few bank accounts' events into a fresh namespace, starts a projection runner (its loop
 * applies what is appended) and the query server in front of the read model, and prints curl lines:
 * a read, a day's deposits, and a read-your-writes wait after an append. `POST /demo/deposit/:id`
 * (a demo-only route beside the query server) appends a deposit and answers the position to wait for.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { ServeContext, Served } from '../../../src/testing/index.js';
import { accountSummary } from './account-summary.js';
import { appendForTest, type NewEvent } from './event-log.js';
import { createProjectionRunner } from './projection-runner.js';
import { createQueryServer } from './query-server.js';

const today = () => new Date().toISOString().slice(0, 10);

function seed(): NewEvent[] {
  const events: NewEvent[] = [];
  const accounts = [
    ['alice', 'Alice Martin'],
    ['bob', 'Bob Chen'],
    ['chioma', 'Chioma Okafor'],
  ] as const;
  for (const [id, owner] of accounts) {
    events.push({
      streamName: `account-${id}`,
      type: 'AccountOpened',
      data: { accountId: id, owner, overdraftLimit: 0 },
    });
  }
  for (const [amount, id] of [
    [12_500, 'alice'],
    [3_000, 'bob'],
    [9_900, 'chioma'],
    [2_000, 'alice'],
  ] as const) {
    events.push({ streamName: `account-${id}`, type: 'MoneyDeposited', data: { amount } });
  }
  events.push({ streamName: 'account-bob', type: 'MoneyWithdrawn', data: { amount: 1_250 } });
  return events;
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export default async function serve(ctx: ServeContext): Promise<Served> {
  if (!ctx.redisUrl) throw new Error('this demo needs Redis (see npm test’s message on how to get one)');
  const namespace = `demo04-${Date.now()}`;
  const [writer, runnerConnection, reader, subscriber] = [0, 1, 2, 3].map(
    () => new Redis(ctx.redisUrl as string),
  );
  const connections = [writer, runnerConnection, reader, subscriber] as Redis[];
  await appendForTest(writer as Redis, namespace, seed());

  const runner = createProjectionRunner({
    redis: runnerConnection as Redis,
    namespace,
    projection: accountSummary(),
    leaseMs: 5_000,
    batchSize: 100,
  });
  const loop = runner.start();
  loop.catch((error: unknown) => ctx.log(`the projection runner stopped: ${(error as Error).message}`));

  const queries = await createQueryServer({
    redis: reader as Redis,
    subscriber: subscriber as Redis,
    namespace,
    projectionName: 'account-summary',
  });
  // The demo's write side: one route that appends a deposit, the rest goes to the query server.
  const server = createServer((req, res) => {
    const match = /^\/demo\/deposit\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    if (req.method === 'POST' && match) {
      const id = match[1] as string;
      appendForTest(writer as Redis, namespace, [
        { streamName: `account-${id}`, type: 'MoneyDeposited', data: { amount: 500 } },
      ])
        .then(([event]) => {
          res.setHeader('content-type', 'application/json');
          res.end(`${JSON.stringify({ appended: 'MoneyDeposited 500', position: event?.position })}\n`);
        })
        .catch((error: unknown) => {
          res.statusCode = 500;
          res.end(`${JSON.stringify({ error: (error as Error).message })}\n`);
        });
      return;
    }
    queries.server.emit('request', req, res);
  });
  const port = await listenOn(server, ctx.port, ctx.host);
  const url = `http://${ctx.host}:${port}`;
  ctx.log(`Namespace ${namespace}: 3 accounts, 8 events; the runner applies them in batches of 100.`);

  return {
    url,
    tryIt: [
      `curl -i ${url}/accounts/alice`,
      `curl -i ${url}/days/${today()}/deposits`,
      `curl -s -X POST ${url}/demo/deposit/bob   # answers {"position": N}`,
      `curl -i '${url}/accounts/bob?minPosition=N'   # waits until the model has applied position N`,
      `curl -i '${url}/accounts/bob?minPosition=999'   # never reached: 503 after 2 s, Retry-After: 1`,
    ],
    async close() {
      await runner.stop();
      await queries.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      for (const connection of connections) connection.disconnect();
    },
  };
}
