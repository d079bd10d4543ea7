/**
 * `npm run bench -- 09-scaling/session-store --target solutions`: what each kind of session costs.
 *
 * 1. Size: the bytes a browser sends on every request, a session cookie vs a JWT with 5 claims
 *    (sub, jti, iat, exp, fam) and with 5 more custom ones.
 * 2. Time per request to know who is calling (operations per second, `--connections` loops):
 *    - a JWT checked by signature alone (`jose`'s jwtVerify, no Redis: the stateless ideal, and a
 *      token nobody can revoke): the baseline;
 *    - a JWT checked by signature plus the revocation list (one EXISTS);
 *    - a Redis session: `load` (one EXPIRE) plus `get('user')` (one HGET).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import { jwtVerify } from 'jose';
import { type BenchContext, comparisonTable, loopLoad } from '../../../src/testing/index.js';
import { jwtSessions, TOKEN_TYP } from './jwt-session.js';
import { redisSessions } from './redis-session.js';

const SECRET = new TextEncoder().encode('bench secret, 32 bytes or more!!!');

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis');
  const redis = new Redis(ctx.redisUrl);
  const prefix = `bench-${process.pid}:`;
  try {
    const sessions = redisSessions({ redis, ttlSeconds: 600, keyPrefix: `${prefix}sess:` });
    const jwt = jwtSessions({
      secret: SECRET,
      redis,
      accessTtlSeconds: 600,
      refreshTtlSeconds: 3600,
      keyPrefix: `${prefix}jwt:`,
    });

    // A stored session, and its cookie.
    const first = fakeResponse();
    const session = await sessions.load(fakeRequest(undefined), first.res);
    await session.set('user', 'ada');
    const cookie = `sid=${session.id}`;
    const plain = await jwt.issue('ada');
    const rich = await jwt.issue('ada', {
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      role: 'admin',
      tenant: 'analytical-engines',
      locale: 'en-GB',
    });
    const bytes = (header: string, what: string) => ctx.log(`${String(header.length).padStart(6)}  ${what}`);
    ctx.log('Bytes of the credential header a browser sends on every request:');
    bytes(`Cookie: ${cookie}`, 'Redis session cookie (32-byte id)');
    bytes(`Authorization: Bearer ${plain.accessToken}`, 'JWT, 5 claims (sub, jti, iat, exp, fam)');
    bytes(
      `Authorization: Bearer ${rich.accessToken}`,
      'JWT, the same + 5 custom claims (name, email, role, tenant, locale)',
    );

    const options = { concurrency: ctx.connections, durationSeconds: ctx.durationSeconds };
    const rows = [
      await loopLoad(
        'JWT, signature only',
        () => jwtVerify(plain.accessToken, SECRET, { algorithms: ['HS256'], typ: TOKEN_TYP.access }),
        options,
      ),
      await loopLoad('JWT + revocation list', () => jwt.verify(plain.accessToken), options),
      await loopLoad(
        'Redis session load + get',
        async () => {
          const loaded = await sessions.load(fakeRequest(cookie), fakeResponse().res);
          if ((await loaded.get('user')) !== 'ada') throw new Error('session lost');
        },
        options,
      ),
    ];
    ctx.log('');
    for (const line of comparisonTable(rows)) ctx.log(line);
    ctx.log(`(${ctx.connections} loops, ${ctx.durationSeconds} s each, one Redis connection)`);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
}

function fakeRequest(cookie: string | undefined): IncomingMessage {
  return { headers: cookie ? { cookie } : {} } as IncomingMessage;
}

function fakeResponse(): { res: ServerResponse } {
  const headers = new Map<string, unknown>();
  const res = {
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    setHeader(name: string, value: unknown) {
      headers.set(name.toLowerCase(), value);
      return res;
    },
  };
  return { res: res as unknown as ServerResponse };
}
