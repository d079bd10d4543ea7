/**
 * `npm run serve -- 14-orders/order-service [--target solutions] [-- <payment failure rate 0..1>]`:
 * YOUR service over the real workflow, with the fake stock, payment and shipping services, an
 * orchestrator and an outbox relay, all in this process and sharing the Redis the runner found.
 * A customer whose name starts with `declined` is declined by payment; `tea-1` has 5 units.
 */
import { Redis } from 'ioredis';
import type { ServeContext, Served } from '../../../src/testing/runnable.js';
import { startFakeServices } from './fakes.js';
import { createOrderService } from './service.js';
import { createWorkflow, httpTransport, runOrchestrator, runRelay } from './workflow.js';

export default async function serve(ctx: ServeContext): Promise<Served> {
  if (!ctx.redisUrl) throw new Error('order-service needs Redis: see npm run serve --help');
  const prefix = `serve-orders-${Date.now()}:`;
  const fakes = await startFakeServices({ 'tea-1': 5, 'tea-2': 1_000_000 });
  fakes.payment.failRate = Number(ctx.args[0] ?? 0);
  const [redis, forSagas, forRelay] = [0, 1, 2].map(() => new Redis(ctx.redisUrl ?? ''));
  if (!redis || !forSagas || !forRelay) throw new Error('unreachable');
  const orchestrator = runOrchestrator({ redis: forSagas, prefix, transport: httpTransport(fakes.urls) });
  const relay = runRelay(forRelay, prefix);
  const service = createOrderService({ redis, workflow: createWorkflow(redis, prefix), keyPrefix: prefix });
  await new Promise<void>((resolve, reject) => {
    service.server.once('error', reject);
    service.server.listen(ctx.port, ctx.host, () => resolve());
  });
  const address = service.server.address();
  const url = `http://${ctx.host}:${typeof address === 'object' && address ? address.port : ctx.port}`;
  const order = `-H 'content-type: application/json' -d '{"customer":"ada","sku":"tea-1","quantity":2}'`;
  return {
    url,
    tryIt: [
      `Order:        curl -i -X POST ${url}/orders -H 'Idempotency-Key: "k1"' ${order}`,
      '  the same again: the same response, with Idempotent-Replayed: true',
      `Another body: curl -i -X POST ${url}/orders -H 'Idempotency-Key: "k1"' -H 'content-type: application/json' -d '{"customer":"ada","sku":"tea-1","quantity":3}'   (422)`,
      `Declined:     curl -i -X POST ${url}/orders -H 'Idempotency-Key: "k2"' -H 'content-type: application/json' -d '{"customer":"declined-bob","sku":"tea-2","quantity":1}'`,
      `The order:    curl -i ${url}/orders/<id from Location>`,
      `Services:     stock ${fakes.urls.stock}  payment ${fakes.urls.payment}  shipping ${fakes.urls.shipping}  (payment 503 rate ${fakes.payment.failRate})`,
    ],
    close: async () => {
      await service.close();
      await relay.close();
      await orchestrator.close();
      await fakes.close();
      for (const connection of [redis, forSagas, forRelay]) connection.disconnect();
    },
  };
}
