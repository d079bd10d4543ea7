// What a browser sends on every request: a session id cookie (32 random bytes, base64url, as OWASP's session
// cheat sheet asks for at least 64 bits of entropy) against a JWT signed with jose (HS256) carrying a modest
// set of claims, and what a JWT becomes when people put the user's profile and permissions in it.
// node docs/09-scaling/token-size.mjs
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeProtectedHeader, SignJWT } from 'jose';

const joseVersion = JSON.parse(
  readFileSync(new URL('../../node_modules/jose/package.json', import.meta.url)),
).version;
const secret = randomBytes(32);
const now = Math.floor(Date.now() / 1000);
const sign = (claims) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('user_8f14e45f')
    .setIssuedAt(now)
    .setExpirationTime(now + 900)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(secret);

const sid = randomBytes(32).toString('base64url');
const small = await sign({ role: 'customer' });
const big = await sign({
  role: 'customer',
  email: 'ada.lovelace@example.com',
  name: 'Ada Lovelace',
  tenant: 'acme-eu-west',
  permissions: [
    'orders:read',
    'orders:write',
    'cart:write',
    'profile:read',
    'profile:write',
    'invoices:read',
  ],
  features: ['new-checkout', 'dark-mode', 'beta-search'],
});
const cookie = (name, value) => `${name}=${value}`;
console.log(
  `Node ${process.version}, jose ${joseVersion}, header ${JSON.stringify(decodeProtectedHeader(small))}`,
);
const line = (label, value) => console.log(`${label.padEnd(58)} ${value.length} bytes`);
line('session id cookie', cookie('sid', sid));
line('JWT cookie: sub, iat, exp, jti + role', cookie('token', small));
line('JWT cookie: + email, name, tenant, 6 permissions, 3 flags', cookie('token', big));
console.log(`payload of the small JWT: ${Buffer.from(small.split('.')[1], 'base64url').toString()}`);
