/**
 * Redis going away: both kinds of session fail closed (an error answer, within seconds), never
 * "anonymous" and never "valid without the check", and work again once Redis is back.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy, useRedis } from '../../../src/testing/index.js';
import { createDemoApp } from './app.js';
import { call, SECRET, serve } from './harness.js';

const redis = useRedis();
beforeEach(() => redis.flush());

let proxy: FaultProxy;
let client: Redis;
beforeEach(async () => {
  proxy = await startFaultProxy({ host: redis.host, port: redis.port });
  client = new Redis({
    host: '127.0.0.1',
    port: proxy.port,
    db: redis.db,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
  });
  client.on('error', () => {});
});
afterEach(async () => {
  client.disconnect();
  await proxy.close();
});

/** Makes the next command `client` sends (after connection set-up) fail, as in a failover or a timeout. */
function failNextCommand(target: Redis): void {
  const send = target.sendCommand.bind(target) as (...args: unknown[]) => unknown;
  target.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], ...rest: unknown[]) => {
    target.sendCommand = send as Redis['sendCommand'];
    command.reject(new Error("simulated: READONLY You can't write against a read only replica."));
    return command.promise;
  }) as Redis['sendCommand'];
}

function redisDown() {
  proxy.refuse(true);
  proxy.cut();
}

describe('when Redis cannot be reached', () => {
  it('a request with a session cookie gets an error, not an anonymous page, and works again after', async () => {
    const url = await serve(createDemoApp({ redis: client, jwtSecret: SECRET }).handler);
    const sid = (await call(url, '/login?user=ada')).sid?.value ?? '';
    redisDown();
    const started = Date.now();
    const down = await call(url, '/me', { sid });
    expect(down.status, 'without Redis the session cannot be read: the request must fail (500)').toBe(500);
    expect(down.sid, 'and must not hand out a new session cookie').toBeUndefined();
    expect(Date.now() - started, 'the error must come within seconds, not hang').toBeLessThan(8000);
    proxy.refuse(false);
    const back = await call(url, '/me', { sid });
    expect(back.body?.user, 'once Redis is back the same session works again').toBe('ada');
  });

  it('one failed command fails that request only: the session is not replaced by a new one', async () => {
    const url = await serve(createDemoApp({ redis: client, jwtSecret: SECRET }).handler);
    const sid = (await call(url, '/login?user=ada')).sid?.value ?? '';
    failNextCommand(client);
    const failed = await call(url, '/cart/add?item=x', { sid });
    expect(failed.status, 'a Redis error while loading the session must fail the request').toBe(500);
    expect(failed.sid, 'and must not send a new session cookie (it would log the user out)').toBeUndefined();
    failNextCommand(client);
    const me = await call(url, '/me', { sid });
    expect(me.status, 'a Redis error must not be read as "no session": not a 200 for an anonymous user').toBe(
      500,
    );
    const after = await call(url, '/me', { sid });
    expect(after.body?.user, 'the next request finds the session as it was').toBe('ada');
  });

  it('a JWT is refused while its revocation list cannot be read (fail closed), and accepted after', async () => {
    const url = await serve(createDemoApp({ redis: client, jwtSecret: SECRET }).handler);
    const { accessToken } = (await call(url, '/jwt/login?user=ada')).body;
    redisDown();
    const down = await call(url, '/jwt/me', { bearer: accessToken });
    expect(down.status, 'a token whose revocation was not checked must not be accepted').not.toBe(200);
    proxy.refuse(false);
    const back = await call(url, '/jwt/me', { bearer: accessToken });
    expect(back.status, 'once Redis is back the token is accepted again').toBe(200);
  });
});
