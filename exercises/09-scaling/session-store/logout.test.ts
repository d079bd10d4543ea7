/**
 * The demonstration: what a thief can do with a copy of your credential after you log out.
 * A Redis session dies at logout; a JWT lives until its `exp` unless the server revokes its jti.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, useRedis } from '../../../src/testing/index.js';
import { jwtCartKey } from './app.js';
import { call, startDemo } from './harness.js';

const redis = useRedis();
beforeEach(() => redis.flush());

const ACCESS = 300;

async function demo() {
  const clock = new ManualClock(Date.now());
  const started = await startDemo(redis, { accessTtlSeconds: ACCESS, now: () => clock.now() });
  return { ...started, clock };
}

describe('a stolen credential after the user logs out', () => {
  it('a stolen Redis session cookie dies at logout', async () => {
    const { url } = await demo();
    const sid = (await call(url, '/login?user=ada')).sid?.value ?? '';
    const thief = sid; // copied from the victim's browser
    expect((await call(url, '/me', { sid: thief })).body.user, 'the thief is logged in as ada').toBe('ada');
    await call(url, '/logout', { sid });
    expect(
      (await call(url, '/me', { sid: thief })).body.user,
      'after logout the stolen cookie is worth nothing',
    ).toBeNull();
  });

  it('a stolen access JWT keeps working after logout, until its exp', async () => {
    const { url, clock, client } = await demo();
    const { accessToken, refreshToken } = (await call(url, '/jwt/login?user=ada')).body;
    const thief = accessToken;
    expect(
      (await call(url, '/jwt/logout', { bearer: refreshToken })).status,
      'logout revokes the refresh token',
    ).toBe(200);
    expect(
      (await call(url, '/jwt/refresh', { bearer: refreshToken })).status,
      'the refresh token is dead',
    ).toBe(401);

    const me = await call(url, '/jwt/me', { bearer: thief });
    expect(me.status, 'the access token still verifies: nothing on the server says it is dead').toBe(200);
    expect(me.body.user).toBe('ada');
    expect(
      (await call(url, '/jwt/cart/add?item=tv', { bearer: thief })).status,
      'and the thief can still act as ada',
    ).toBe(200);
    expect(await client.hget(jwtCartKey('ada'), 'tv')).toBe('1');

    clock.advance((ACCESS + 1) * 1000);
    const later = await call(url, '/jwt/me', { bearer: thief });
    expect(later.status, 'only its exp ends it').toBe(401);
    expect(later.body.error).toBe('expired');
  });

  it('unless the logout also revokes the access token’s jti: then it dies at once', async () => {
    const { url } = await demo();
    const { accessToken, refreshToken } = (await call(url, '/jwt/login?user=ada')).body;
    await call(url, '/jwt/logout', { bearer: refreshToken, headers: { 'x-access-token': accessToken } });
    const me = await call(url, '/jwt/me', { bearer: accessToken });
    expect(me.status, 'a revoked access token is refused before its exp').toBe(401);
    expect(me.body.error).toBe('revoked');
  });
});
