import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, useRedis } from '../../../src/testing/index.js';
import { SECRET } from './harness.js';
import { type JwtErrorCode, JwtSessionError, jwtSessions, TOKEN_TYP } from './jwt-session.js';

const redis = useRedis();
beforeEach(() => redis.flush());

const ACCESS = 300;
const REFRESH = 3600;

function setup() {
  const clock = new ManualClock(Date.now());
  const client = redis.client();
  const jwt = jwtSessions({
    secret: SECRET,
    redis: client,
    accessTtlSeconds: ACCESS,
    refreshTtlSeconds: REFRESH,
    now: () => clock.now(),
  });
  return { clock, client, jwt };
}

/** The refusal a promise must end in. */
async function refused(promise: Promise<unknown>, code: JwtErrorCode, why: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `${why}: it must reject with a JwtSessionError`).toBeInstanceOf(JwtSessionError);
  expect((error as JwtSessionError).code, why).toBe(code);
}

describe('issue and verify (RFC 7519)', () => {
  it('signs HS256 tokens with sub, jti, iat, exp and the type in the typ header', async () => {
    const { jwt, clock } = setup();
    const { accessToken, refreshToken } = await jwt.issue('ada', { role: 'admin' });
    const header = decodeProtectedHeader(accessToken);
    expect(header, 'the access token is HS256 with typ at+jwt').toMatchObject({
      alg: 'HS256',
      typ: TOKEN_TYP.access,
    });
    expect(decodeProtectedHeader(refreshToken)).toMatchObject({ alg: 'HS256', typ: TOKEN_TYP.refresh });
    const access = decodeJwt(accessToken);
    const iat = Math.floor(clock.now() / 1000);
    expect(access, 'iat is the injected clock in seconds, exp is iat + accessTtlSeconds').toMatchObject({
      sub: 'ada',
      iat,
      exp: iat + ACCESS,
      role: 'admin',
    });
    expect(decodeJwt(refreshToken).exp, 'the refresh token lives refreshTtlSeconds').toBe(iat + REFRESH);
    expect(access.jti, 'every token has a jti').toEqual(expect.any(String));
    expect(decodeJwt(refreshToken).jti, 'and the two jtis differ').not.toBe(access.jti);

    const verified = await jwt.verify(accessToken);
    expect(verified).toMatchObject({ sub: 'ada', jti: access.jti, exp: iat + ACCESS, type: 'access' });
    expect(verified.claims, 'custom claims come back').toEqual({ role: 'admin' });
  });

  it('rejects a token after its exp, by the injected clock', async () => {
    const { jwt, clock } = setup();
    const { accessToken } = await jwt.issue('ada');
    clock.advance((ACCESS - 5) * 1000);
    expect((await jwt.verify(accessToken)).sub, 'still valid 5 s before exp').toBe('ada');
    clock.advance(10_000);
    await refused(
      jwt.verify(accessToken),
      'expired',
      'a token past its exp (by the injected clock) is expired',
    );
  });

  it('rejects a token signed with another secret', async () => {
    const { jwt } = setup();
    const other = jwtSessions({
      secret: new TextEncoder().encode('another secret that is 32+ bytes long!!'),
      redis: redis.client(),
      accessTtlSeconds: ACCESS,
      refreshTtlSeconds: REFRESH,
    });
    const { accessToken } = await other.issue('mallory');
    await refused(
      jwt.verify(accessToken),
      'bad-signature',
      'a token signed with another key must be refused',
    );
  });

  it('rejects alg: none (an unsigned token), RFC 8725 §3.1', async () => {
    const { jwt, clock } = setup();
    const { accessToken } = await jwt.issue('ada');
    const now = Math.floor(clock.now() / 1000);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const payload = { ...decodeJwt(accessToken), sub: 'admin', iat: now, exp: now + 60 };
    const unsigned = `${encode({ alg: 'none', typ: TOKEN_TYP.access })}.${encode(payload)}.`;
    await refused(jwt.verify(unsigned), 'bad-signature', 'an alg: none token must be refused');
  });

  it('pins HS256: a token signed HS512 with the same secret is refused', async () => {
    const { jwt, clock } = setup();
    const now = Math.floor(clock.now() / 1000);
    const token = await new SignJWT({ fam: 'f' })
      .setProtectedHeader({ alg: 'HS512', typ: TOKEN_TYP.access })
      .setSubject('ada')
      .setJti('j1')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(SECRET);
    await refused(jwt.verify(token), 'bad-signature', 'only HS256 is accepted: the algorithm is pinned');
  });

  it('tells access from refresh: each is refused where the other is expected', async () => {
    const { jwt } = setup();
    const { accessToken, refreshToken } = await jwt.issue('ada');
    await refused(
      jwt.verify(refreshToken),
      'wrong-type',
      'a refresh token must not be accepted as an access token',
    );
    await refused(jwt.refresh(accessToken), 'wrong-type', 'an access token must not be accepted by refresh');
    expect((await jwt.verify(refreshToken, 'refresh')).type).toBe('refresh');
  });

  it('rejects garbage as malformed', async () => {
    const { jwt } = setup();
    await refused(jwt.verify('not.a.jwt'), 'malformed', 'a string that is not a JWT is malformed');
  });
});

describe('refresh rotation and reuse detection (RFC 9700 §4.14.2)', () => {
  it('gives a new pair and the old refresh token is dead', async () => {
    const { jwt, clock } = setup();
    const first = await jwt.issue('ada', { role: 'admin' });
    clock.advance(60_000);
    const second = await jwt.refresh(first.refreshToken);
    expect(second.refreshToken, 'refresh must rotate: a new refresh token').not.toBe(first.refreshToken);
    const verified = await jwt.verify(second.accessToken);
    expect(verified.sub).toBe('ada');
    expect(verified.claims, 'custom claims are carried over').toEqual({ role: 'admin' });
    expect(verified.iat, 'the new access token is issued now').toBe(Math.floor(clock.now() / 1000));
    await refused(
      jwt.refresh(first.refreshToken),
      'reused',
      'the refresh token already traded must not work again',
    );
  });

  it('reusing an old refresh token revokes the whole family, the attacker’s tokens and the user’s', async () => {
    const { jwt } = setup();
    const login = await jwt.issue('ada');
    const user = await jwt.refresh(login.refreshToken); // the user rotates
    await refused(jwt.refresh(login.refreshToken), 'reused', 'the stolen old refresh token is a reuse');
    await refused(
      jwt.refresh(user.refreshToken),
      'revoked',
      'after a reuse the newest refresh token is dead too',
    );
    await refused(jwt.verify(user.accessToken), 'revoked', 'and so is every access token of that login');
    await refused(jwt.verify(login.accessToken), 'revoked', 'including the first one');
    const other = await jwt.issue('ada');
    expect((await jwt.verify(other.accessToken)).sub, 'another login of the same user is not affected').toBe(
      'ada',
    );
  });

  it('a refresh token whose family Redis lost (evicted, flushed) is refused as revoked, not started again', async () => {
    const { jwt, client } = setup();
    const { refreshToken } = await jwt.issue('ada');
    const families = await client.keys('jwt:family:*');
    expect(families, 'one family key for the login').toHaveLength(1);
    await client.del(...families);
    await refused(jwt.refresh(refreshToken), 'revoked', 'a family Redis no longer holds has ended');
    expect(await client.keys('jwt:family:*'), 'and no family is written again').toEqual([]);
  });

  it('a refresh token is refused after its exp', async () => {
    const { jwt, clock } = setup();
    const { refreshToken } = await jwt.issue('ada');
    clock.advance((REFRESH + 1) * 1000);
    await refused(jwt.refresh(refreshToken), 'expired', 'an expired refresh token gets no new pair');
  });
});

describe('revocation list in Redis', () => {
  it('a revoked access token is refused; others are not', async () => {
    const { jwt } = setup();
    const a = await jwt.issue('ada');
    const b = await jwt.issue('bob');
    await jwt.revoke(a.accessToken);
    await refused(jwt.verify(a.accessToken), 'revoked', 'a revoked jti must be refused');
    expect((await jwt.verify(b.accessToken)).sub).toBe('bob');
  });

  it('a revocation entry expires at the token’s exp, by the injected clock', async () => {
    const { jwt, clock, client } = setup();
    const { accessToken } = await jwt.issue('ada');
    clock.advance(100_000);
    await jwt.revoke(accessToken);
    const { jti } = decodeJwt(accessToken);
    const entries = await client.keys(`*${jti}*`);
    expect(entries, 'the revocation must be stored in one key that names the jti').toHaveLength(1);
    const pttl = await client.pttl(entries[0] ?? '');
    expect(pttl, 'it must expire (a revocation list without TTLs grows forever)').toBeGreaterThan(0);
    expect(pttl, 'at the token’s exp: 200 s left here').toBeLessThanOrEqual((ACCESS - 100) * 1000);
    expect(pttl).toBeGreaterThan((ACCESS - 100 - 30) * 1000);
  });

  it('revoking a refresh token ends the login: it cannot be refreshed', async () => {
    const { jwt } = setup();
    const { refreshToken } = await jwt.issue('ada');
    await jwt.revoke(refreshToken);
    const error = await jwt.refresh(refreshToken).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'a revoked refresh token must get no new pair').toBeInstanceOf(JwtSessionError);
  });

  it('every key this module writes expires', async () => {
    const { jwt, client } = setup();
    const login = await jwt.issue('ada');
    const next = await jwt.refresh(login.refreshToken);
    await jwt.refresh(login.refreshToken).catch(() => {});
    await jwt.revoke(next.accessToken);
    const all = await client.keys('*');
    expect(all.length, 'issue, refresh, reuse and revoke leave keys behind').toBeGreaterThan(0);
    for (const key of all) {
      const pttl = await client.pttl(key);
      expect(pttl, `${key} must have a TTL no longer than the refresh token's life`).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(REFRESH * 1000);
    }
  });
});

describe('logins, claims and options', () => {
  it('two logins rotate independently', async () => {
    const { jwt } = setup();
    const a = await jwt.issue('ada');
    const b = await jwt.issue('ada');
    const a2 = await jwt.refresh(a.refreshToken);
    const b2 = await jwt.refresh(b.refreshToken);
    expect((await jwt.refresh(a2.refreshToken)).accessToken, 'login a rotates on').toEqual(
      expect.any(String),
    );
    expect((await jwt.refresh(b2.refreshToken)).accessToken, 'and so does login b, unaffected by a').toEqual(
      expect.any(String),
    );
  });

  it('revoking a token that has already expired resolves and writes nothing', async () => {
    const { jwt, clock, client } = setup();
    const { accessToken } = await jwt.issue('ada');
    const before = (await client.keys('*')).sort();
    clock.advance((ACCESS + 1) * 1000);
    await jwt.revoke(accessToken);
    expect((await client.keys('*')).sort(), 'an expired token needs no revocation entry').toEqual(before);
  });

  it('a token signed with the right key but without a jti is malformed', async () => {
    const { jwt, clock } = setup();
    const now = Math.floor(clock.now() / 1000);
    const token = await new SignJWT({ fam: 'f' })
      .setProtectedHeader({ alg: 'HS256', typ: TOKEN_TYP.access })
      .setSubject('ada')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(SECRET);
    await refused(
      jwt.verify(token),
      'malformed',
      'a token without a jti cannot be revoked, so it is refused',
    );
  });

  it('revoke refuses a token that does not verify', async () => {
    const { jwt } = setup();
    await refused(jwt.revoke('not.a.jwt'), 'malformed', 'revoking garbage must throw, not pass silently');
  });

  it('issue needs a non-empty subject', async () => {
    const { jwt } = setup();
    await expect(jwt.issue(''), 'an empty subject is a TypeError').rejects.toThrow(TypeError);
  });

  const base = { accessTtlSeconds: 60, refreshTtlSeconds: 120 };
  it.each([
    ['a 31-byte secret', { secret: new Uint8Array(31) }],
    ['accessTtlSeconds 0', { accessTtlSeconds: 0 }],
    ['accessTtlSeconds 1.5', { accessTtlSeconds: 1.5 }],
    ['refreshTtlSeconds NaN', { refreshTtlSeconds: Number.NaN }],
    ['an access token that outlives its refresh token', { accessTtlSeconds: 121 }],
  ])('%s is a RangeError', (_, override) => {
    expect(() => jwtSessions({ secret: SECRET, redis: redis.client(), ...base, ...override })).toThrow(
      RangeError,
    );
  });

  it('accepts a 32-byte secret and equal lifetimes', () => {
    expect(() =>
      jwtSessions({
        secret: new Uint8Array(32),
        redis: redis.client(),
        accessTtlSeconds: 1,
        refreshTtlSeconds: 1,
      }),
    ).not.toThrow();
  });
});
