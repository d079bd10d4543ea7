import { beforeEach, describe, expect, it } from 'vitest';
import { deferred, useRedis, waitFor } from '../../../src/testing/index.js';
import { call, keys, serve, startDemo } from './harness.js';
import { redisSessions, SessionGoneError } from './redis-session.js';

const redis = useRedis();
beforeEach(() => redis.flush());

const TTL = 60;
const ID = /^[A-Za-z0-9_-]{43}$/;

/** Logs `user` in on a fresh demo app and returns the app and the session id. */
async function loggedIn(user = 'ada', options = {}) {
  const demo = await startDemo(redis, { sessionTtlSeconds: TTL, ...options });
  const login = await call(demo.url, `/login?user=${user}`);
  expect(login.status).toBe(200);
  expect(login.sid, 'a login must set the session cookie').toBeDefined();
  return { ...demo, sid: login.sid?.value ?? '' };
}

describe('the session cookie (RFC 6265 §4.1, OWASP Session Management Cheat Sheet)', () => {
  it('is HttpOnly, SameSite=Lax, Path=/, Max-Age=ttlSeconds, and carries a 32-byte base64url id', async () => {
    const { url } = await startDemo(redis, { sessionTtlSeconds: TTL });
    const { sid } = await call(url, '/cart/add?item=apple');
    expect(sid, 'the first write to a new session must set the sid cookie').toBeDefined();
    expect(sid?.value, 'the id must be 32 random bytes in base64url: 43 characters of [A-Za-z0-9_-]').toMatch(
      ID,
    );
    expect(sid?.attributes, 'JavaScript must not read the cookie (HttpOnly)').toHaveProperty('httponly', '');
    expect(sid?.attributes.samesite?.toLowerCase(), 'SameSite=Lax').toBe('lax');
    expect(sid?.attributes.path, 'Path=/ so every route sees the session').toBe('/');
    expect(sid?.attributes['max-age'], 'the cookie lives as long as the idle timeout').toBe(String(TTL));
    expect(sid?.attributes, 'no Secure unless configured (the demo runs on plain http)').not.toHaveProperty(
      'secure',
    );
  });

  it('adds Secure when configured, and uses cookieName', async () => {
    const sessions = redisSessions({
      redis: redis.client(),
      ttlSeconds: TTL,
      secure: true,
      cookieName: '__Host-s',
    });
    const url = await serve(async (req, res) => {
      const session = await sessions.load(req, res);
      await session.set('seen', '1');
      res.end();
    });
    const response = await fetch(url);
    const cookie = response.headers.getSetCookie()[0] ?? '';
    expect(cookie, 'the cookie must be named after cookieName').toMatch(/^__Host-s=[A-Za-z0-9_-]{43};/);
    expect(cookie.toLowerCase(), 'secure: true must add the Secure attribute').toMatch(/;\s*secure(;|$)/);
    expect(cookie.toLowerCase()).toMatch(/;\s*httponly(;|$)/);
  });

  it('an anonymous visit stores nothing and sets no cookie', async () => {
    const { url, client } = await startDemo(redis, { sessionTtlSeconds: TTL });
    const me = await call(url, '/me');
    expect(me.body, 'a visitor without a cookie is anonymous').toEqual({ user: null, data: {} });
    expect(me.sid, 'no cookie until the session has something to store').toBeUndefined();
    expect(await keys(client), 'reading an anonymous session must not create a key').toEqual([]);
  });

  it('the session is a Redis hash at sess:<id> with a TTL of at most ttlSeconds from its first write', async () => {
    const { url, client } = await startDemo(redis, { sessionTtlSeconds: TTL });
    const { sid } = await call(url, '/cart/add?item=apple');
    const key = `sess:${sid?.value}`;
    expect(await client.type(key), 'the session must be stored as a hash').toBe('hash');
    expect(await client.hgetall(key)).toEqual({ 'cart:apple': '1' });
    const pttl = await client.pttl(key);
    expect(pttl, 'the session key must expire (a key without a TTL lives forever)').toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(TTL * 1000);
  });
});

describe('login regenerates the id (session fixation, OWASP)', () => {
  it('gives a new id, keeps the data, and the old id is dead at once', async () => {
    const { url, client } = await startDemo(redis, { sessionTtlSeconds: TTL });
    const before = (await call(url, '/cart/add?item=book')).sid?.value ?? '';
    const login = await call(url, '/login?user=ada', { sid: before });
    const after = login.sid?.value ?? '';
    expect(after, 'login must set a new session id').toMatch(ID);
    expect(after, 'the id after login must differ from the id before it').not.toBe(before);
    expect(
      (await call(url, '/me', { sid: after })).body,
      'the data of the session before login is kept',
    ).toEqual({
      user: 'ada',
      data: { user: 'ada', 'cart:book': '1' },
    });
    expect(await client.exists(`sess:${before}`), 'the key of the id before login must be gone').toBe(0);
    const old = await call(url, '/me', { sid: before });
    expect(old.body.user, 'a request with the id from before login must be anonymous').toBeNull();
    expect(old.body.data, 'and see none of the data').toEqual({});
  });

  it('keeps the idle TTL on the regenerated key', async () => {
    const { client, sid } = await loggedIn();
    const pttl = await client.pttl(`sess:${sid}`);
    expect(pttl, 'the regenerated session must still expire after ttlSeconds').toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(TTL * 1000);
  });
});

describe('logout', () => {
  it('deletes the key and clears the cookie with Max-Age=0', async () => {
    const { url, client, sid } = await loggedIn();
    const logout = await call(url, '/logout', { sid });
    expect(await client.exists(`sess:${sid}`), 'logout must delete the session from Redis').toBe(0);
    expect(logout.sid, 'logout must send the sid cookie again to clear it').toBeDefined();
    expect(logout.sid?.value, 'the cleared cookie is empty').toBe('');
    expect(logout.sid?.attributes['max-age'], 'Max-Age=0 deletes the cookie in the browser').toBe('0');
    expect(logout.sid?.attributes.path, 'with the same Path, or the browser keeps the original').toBe('/');
  });

  it('is effective at once: a copy of the cookie taken before logout is anonymous on the next request', async () => {
    const { url, sid } = await loggedIn();
    expect((await call(url, '/me', { sid })).body.user).toBe('ada');
    await call(url, '/logout', { sid });
    const stolen = await call(url, '/me', { sid });
    expect(
      stolen.body.user,
      'after logout the old cookie must not be logged in, even if the browser kept it',
    ).toBeNull();
  });

  it('a request that loaded the session before the logout cannot bring it back with set', async () => {
    const { client, sid } = await loggedIn();
    const sessions = redisSessions({ redis: redis.client(), ttlSeconds: TTL });
    const loaded = deferred();
    const go = deferred();
    const url = await serve(async (req, res) => {
      const session = await sessions.load(req, res);
      loaded.resolve();
      await go.promise;
      try {
        await session.set('late', 'write');
        res.writeHead(200).end('written');
      } catch (error) {
        res.writeHead(error instanceof SessionGoneError ? 410 : 500).end(String(error));
      }
    });
    const slow = fetch(url, { headers: { cookie: `sid=${sid}` } });
    await loaded.promise;
    await client.del(`sess:${sid}`); // the logout, in another request
    go.resolve();
    const response = await slow;
    expect(response.status, 'set on a session deleted since it was loaded must throw SessionGoneError').toBe(
      410,
    );
    expect(await client.exists(`sess:${sid}`), 'and must not create the key again').toBe(0);
  });
});

describe('parallel requests', () => {
  it('20 requests at once that each set a different field lose none of them', async () => {
    const { url, sid } = await loggedIn();
    const items = Array.from({ length: 20 }, (_, i) => `item${i}`);
    const answers = await Promise.all(items.map((item) => call(url, `/cart/add?item=${item}`, { sid })));
    expect(answers.map((a) => a.status)).toEqual(items.map(() => 200));
    const { data } = (await call(url, '/me', { sid })).body;
    const cart = Object.keys(data)
      .filter((f) => f.startsWith('cart:'))
      .sort();
    expect(
      cart,
      'every one of the 20 fields must be stored: set writes one field, not the whole session',
    ).toEqual(items.map((i) => `cart:${i}`).sort());
    expect(data.user, 'and the login is still there').toBe('ada');
  });
});

describe('rolling expiry', () => {
  it('each request that loads the session slides the key’s TTL and the cookie’s Max-Age', async () => {
    const { url, client, sid } = await loggedIn();
    const key = `sess:${sid}`;
    await client.pexpire(key, 2000); // as if the user had been idle for ttl - 2 s
    const me = await call(url, '/me', { sid });
    expect(me.body.user, 'the session is still alive').toBe('ada');
    const pttl = await client.pttl(key);
    expect(pttl, 'loading the session must slide its TTL back to ttlSeconds').toBeGreaterThan(
      (TTL - 10) * 1000,
    );
    expect(pttl).toBeLessThanOrEqual(TTL * 1000);
    expect(me.sid?.value, 'the response must send the cookie again, same id').toBe(sid);
    expect(me.sid?.attributes['max-age'], 'with Max-Age slid to ttlSeconds').toBe(String(TTL));
  });

  it('a write slides the TTL too', async () => {
    const { client, sid } = await loggedIn();
    const sessions = redisSessions({ redis: redis.client(), ttlSeconds: TTL });
    const key = `sess:${sid}`;
    const url = await serve(async (req, res) => {
      const session = await sessions.load(req, res);
      await client.pexpire(key, 2000); // time passes inside the request
      await session.set('step', '2');
      res.end();
    });
    await fetch(url, { headers: { cookie: `sid=${sid}` } });
    expect(await client.pttl(key), 'set must slide the TTL to ttlSeconds').toBeGreaterThan((TTL - 10) * 1000);
  });

  it('a session idle for ttlSeconds is gone: the next request is anonymous and gets a new id', async () => {
    const { url, client, sid } = await loggedIn();
    const key = `sess:${sid}`;
    await client.pexpire(key, 1); // as if ttlSeconds had passed without a request
    await waitFor('the idle session to expire in Redis', async () => (await client.exists(key)) === 0, {
      timeoutMs: 5000,
    });
    const me = await call(url, '/me', { sid });
    expect(me.body.user, 'an expired session must be anonymous').toBeNull();
    const write = await call(url, '/cart/add?item=x', { sid });
    expect(write.sid?.value, 'writing after expiry starts a session with a new id').toMatch(ID);
    expect(write.sid?.value).not.toBe(sid);
    expect(await client.exists(key), 'the expired id is not recreated').toBe(0);
  });
});

describe('ids from the client are never trusted', () => {
  it('an unknown well-formed id gets a new session, and no key is created under the client’s id', async () => {
    const { url, client } = await startDemo(redis, { sessionTtlSeconds: TTL });
    const forged = 'A'.repeat(43);
    const me = await call(url, '/me', { sid: forged });
    expect(me.body.user).toBeNull();
    const write = await call(url, '/cart/add?item=x', { sid: forged });
    expect(write.status).toBe(200);
    expect(write.sid?.value, 'the session must get a fresh id, not the one the client sent').toMatch(ID);
    expect(write.sid?.value).not.toBe(forged);
    expect(await client.exists(`sess:${forged}`), 'no key may be created under an id the client chose').toBe(
      0,
    );
    expect(await keys(client)).toEqual([`sess:${write.sid?.value}`]);
  });

  it.each([
    ['too short', 'abc'],
    ['too long', 'A'.repeat(44)],
    ['with characters outside base64url', `${'A'.repeat(42)}*`],
    ['a key pattern', '*'],
    ['a path', '../../etc/passwd'],
    ['empty', ''],
  ])('a malformed id (%s) is a new session, not an error, and touches no key', async (_, forged) => {
    const { url, client } = await startDemo(redis, { sessionTtlSeconds: TTL });
    await client.set(`sess:${forged}`, 'planted');
    const write = await call(url, '/cart/add?item=x', { cookie: `sid=${forged}` });
    expect(write.status, 'a malformed id is treated as no session: 200, not an error').toBe(200);
    expect(write.sid?.value).toMatch(ID);
    expect(await client.get(`sess:${forged}`), 'a malformed id must not be used as a key').toBe('planted');
  });
});

describe('the Session object and the cookie headers', () => {
  it('finds its cookie among others in the Cookie header, by its exact name', async () => {
    const { url, sid } = await loggedIn();
    const me = await call(url, '/me', { cookie: `xsid=${'B'.repeat(43)}; theme=dark; sid=${sid}; lang=en` });
    expect(me.body.user, 'the sid cookie must be found among other cookies').toBe('ada');
  });

  it('sends one Set-Cookie for the session (its last state) and keeps the app’s other cookies', async () => {
    const sessions = redisSessions({ redis: redis.client(), ttlSeconds: TTL });
    const seen: Record<string, unknown> = {};
    const url = await serve(async (req, res) => {
      res.setHeader('set-cookie', 'theme=dark; Path=/');
      const session = await sessions.load(req, res);
      seen.isNewAtFirst = session.isNew;
      seen.missing = await session.get('nothing');
      await session.set('a', '1');
      seen.isNewAfterSet = session.isNew;
      await session.regenerate();
      await session.set('b', '2');
      seen.finalId = session.id;
      res.end();
    });
    const response = await fetch(url);
    const cookies = response.headers.getSetCookie();
    expect(cookies, 'the app’s own cookie must be kept').toContain('theme=dark; Path=/');
    const sids = cookies.filter((c) => c.startsWith('sid='));
    expect(sids, 'exactly one Set-Cookie for the session per response').toHaveLength(1);
    expect(sids[0], 'carrying the id the session ended the request with').toMatch(
      new RegExp(`^sid=${seen.finalId};`),
    );
    expect(sids[0]?.toLowerCase(), 'no Secure when the secure option is not given').not.toMatch(/;\s*secure/);
    expect(seen.isNewAtFirst, 'a session without a cookie is new').toBe(true);
    expect(seen.missing, 'get of a field that is not set is undefined').toBeUndefined();
    expect(seen.isNewAfterSet, 'once stored it is not new').toBe(false);
  });

  it('a stored session loaded again is not new', async () => {
    const { sid } = await loggedIn();
    const sessions = redisSessions({ redis: redis.client(), ttlSeconds: TTL });
    let isNew: boolean | undefined;
    const url = await serve(async (req, res) => {
      isNew = (await sessions.load(req, res)).isNew;
      res.end();
    });
    await fetch(url, { headers: { cookie: `sid=${sid}` } });
    expect(isNew, 'a session found in Redis is not new').toBe(false);
  });

  it('a session created in this request and deleted meanwhile is not brought back either', async () => {
    const client = redis.client();
    const sessions = redisSessions({ redis: client, ttlSeconds: TTL });
    let outcome = '';
    const url = await serve(async (req, res) => {
      const session = await sessions.load(req, res);
      await session.set('a', '1');
      await client.del(`sess:${session.id}`); // logged out by another request
      outcome = await session.set('b', '2').then(
        () => 'written',
        (e: unknown) => (e instanceof SessionGoneError ? 'gone' : String(e)),
      );
      res.end();
    });
    await fetch(url);
    expect(outcome, 'set after the key was deleted must throw SessionGoneError').toBe('gone');
    expect(await keys(client), 'and create nothing').toEqual([]);
  });
});

describe('destroy', () => {
  it('leaves a new, empty session: a set after it in the same request starts a new session', async () => {
    const { sid, client } = await loggedIn();
    const sessions = redisSessions({ redis: redis.client(), ttlSeconds: TTL });
    let after = '';
    const url = await serve(async (req, res) => {
      const session = await sessions.load(req, res);
      await session.destroy();
      await session.set('theme', 'dark');
      after = session.id;
      res.end();
    });
    const response = await fetch(url, { headers: { cookie: `sid=${sid}` } });
    expect(after, 'after destroy the session has a new id').not.toBe(sid);
    expect(await client.exists(`sess:${sid}`), 'the destroyed session stays deleted').toBe(0);
    expect(
      await client.hgetall(`sess:${after}`),
      'the new session holds only what was set after destroy',
    ).toEqual({
      theme: 'dark',
    });
    const sids = response.headers.getSetCookie().filter((c) => c.startsWith('sid='));
    expect(sids, 'one Set-Cookie: the new session’s, not the cleared one').toHaveLength(1);
    expect(sids[0]).toMatch(new RegExp(`^sid=${after};`));
  });
});

describe('options', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'ttlSeconds %s is a RangeError',
    (ttlSeconds) => {
      expect(
        () => redisSessions({ redis: redis.client(), ttlSeconds }),
        'ttlSeconds must be a whole number >= 1',
      ).toThrow(RangeError);
    },
  );

  it.each(['', 'a b', 'a;b', 'a=b', 'sé'])('cookieName %j is a RangeError', (cookieName) => {
    expect(
      () => redisSessions({ redis: redis.client(), ttlSeconds: 1, cookieName }),
      'not an RFC 6265 token',
    ).toThrow(RangeError);
  });

  it('accepts ttlSeconds 1 and a cookie name with RFC 6265 token characters', () => {
    expect(() =>
      redisSessions({ redis: redis.client(), ttlSeconds: 1, cookieName: "__Host-a.b!#$%&'*+^_`|~9" }),
    ).not.toThrow();
  });
});
