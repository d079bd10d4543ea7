/**
 * Sessions as JSON Web Tokens (RFC 7519): a short-lived access token that any process verifies
 * with the secret alone, and a longer-lived refresh token that is rotated on every use. A JWT is
 * valid until its `exp` whatever happens on the server, unless the server keeps a list of the
 * tokens it has revoked and checks it on every verify: that list is the Redis part.
 *
 * Keys this module owns (all under `keyPrefix`, default `jwt:`), each expiring when the tokens it
 * speaks of expire, so the lists never grow past the tokens still alive:
 *
 * - `<prefix>revoked:<jti>`: a token revoked before its `exp` (logout, a stolen token). TTL: until
 *   that token's `exp`; after it, the signature check alone rejects the token.
 * - `<prefix>family:<familyId>`: the `jti` of the one refresh token of a login (a "family") that may
 *   be used next. Rotation swaps it; presenting any other refresh token of the family is a reuse.
 *   TTL: until that refresh token's `exp`.
 * - `<prefix>revoked-family:<familyId>`: a family killed because one of its refresh tokens was
 *   used twice (RFC 9700 §4.14.2): every token of that login, access tokens too, is rejected. TTL:
 *   until the family's last refresh token would have expired.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';

/** Which of the pair a token is (its `typ` header, RFC 8725 §3.11: explicit typing). */
export type TokenType = 'access' | 'refresh';

/** The header `typ` of each token type. `at+jwt` is RFC 9068's; `rt+jwt` is this module's own. */
export const TOKEN_TYP: Readonly<Record<TokenType, string>> = { access: 'at+jwt', refresh: 'rt+jwt' };

/** Why a token was refused. */
export type JwtErrorCode = 'malformed' | 'bad-signature' | 'expired' | 'wrong-type' | 'revoked' | 'reused';

/** A refused token, with the reason in `code`. */
export class JwtSessionError extends Error {
  override readonly name = 'JwtSessionError';
  constructor(
    readonly code: JwtErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Custom claims a caller may add (the registered claims are the module's own). */
export type CustomClaims = Record<string, string | number | boolean>;

/** What {@link JwtSessions.verify} returns: the token's claims, and its type. */
export interface VerifiedClaims {
  /** The subject (the user). */
  readonly sub: string;
  /** The token's unique id (RFC 7519 §4.1.7). */
  readonly jti: string;
  /** Issued at and expiry, in seconds since the epoch. */
  readonly iat: number;
  readonly exp: number;
  /** The login this token belongs to: every token issued by one `issue` and its refreshes shares it. */
  readonly fam: string;
  readonly type: TokenType;
  /** The custom claims given to `issue`, carried over by `refresh`. */
  readonly claims: CustomClaims;
}

/** An access token and the refresh token that gets the next pair. */
export interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
}

/** What {@link jwtSessions} needs. */
export interface JwtSessionOptions {
  /** The HS256 key: at least 32 bytes (RFC 7518 §3.2). */
  secret: Uint8Array;
  /** The revocation list and refresh-token families live here. */
  redis: Redis;
  /** Lifetime of an access token in whole seconds (>= 1, at most `refreshTtlSeconds`). */
  accessTtlSeconds: number;
  /** Lifetime of a refresh token in whole seconds (>= 1). */
  refreshTtlSeconds: number;
  /** The clock, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Prepended to every Redis key. Default `jwt:`. */
  keyPrefix?: string;
}

/** Issues, verifies, refreshes and revokes tokens. */
export interface JwtSessions {
  /**
   * A new login: a fresh family and a pair of tokens for `subject`. Logins are independent: each
   * rotates and is revoked on its own.
   * @throws {TypeError} when `subject` is not a non-empty string
   */
  issue(subject: string, claims?: CustomClaims): Promise<TokenPair>;
  /**
   * Checks a token and returns its claims.
   * @param expected the type the caller accepts (default `access`)
   * @throws {JwtSessionError} `malformed` (not a JWT, or without `sub`, `jti`, `iat`, `exp` or `fam`), `bad-signature` (another key or algorithm than HS256,
   *   `alg: none` included), `expired` (by the injected clock), `wrong-type`, or `revoked` (its jti or
   *   its family is on the revocation list)
   */
  verify(token: string, expected?: TokenType): Promise<VerifiedClaims>;
  /**
   * Rotation: trades a refresh token for a new pair; the presented refresh token is dead at once.
   * Presenting a refresh token that was already used revokes its whole family (every access and
   * refresh token of that login) and throws `reused`. Two refreshes with one token at the same
   * moment (two tabs) are a reuse too: a client serializes its refreshes (RFC 9700 §4.14.2 allows a
   * grace period instead; this module keeps none). A refresh token whose family Redis no longer
   * holds (the key was evicted, flushed or lost in a failover) is refused as `revoked`: the login has
   * ended, and the module fails closed rather than start the family again.
   * @throws {JwtSessionError} as `verify` (with `refresh` expected), or `reused`
   */
  refresh(refreshToken: string): Promise<TokenPair>;
  /**
   * Puts the token's `jti` on the revocation list until the token's `exp`. Revoking a refresh token
   * also ends its family's rotation (logout). A token that is already expired needs no entry: revoking
   * it resolves and writes nothing.
   * @throws {JwtSessionError} for a token that does not verify (bad signature, malformed)
   */
  revoke(token: string): Promise<void>;
}

/** Checks the family and rotates it in one step; -1: reuse (family killed), 0: family gone. */
const ROTATE = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
if current then
  redis.call('SET', KEYS[2], '1', 'PX', math.max(redis.call('PTTL', KEYS[1]), 1))
  redis.call('DEL', KEYS[1])
  return -1
end
return 0`;

const ALGORITHM = 'HS256';

/**
 * JWT sessions signed with `jose` (HS256 only: the algorithm is pinned, RFC 8725 §3.1; a token with
 * another algorithm, `alg: none` included, is `bad-signature`).
 *
 * - Claims: `sub`, a unique `jti`, `iat` = the injected clock in whole seconds, `exp` = `iat` +
 *   the type's TTL, a family id `fam` shared by every token of one login, and the custom claims,
 *   which `refresh` carries over. The type is the `typ` header ({@link TOKEN_TYP}); a token of the
 *   other type is `wrong-type`.
 * - Expiry is judged by the injected clock (`now`), never by the machine's.
 * - Redis: a revoked token is one key whose name contains its `jti`, expiring at the token's `exp`
 *   by the injected clock. Every key this module writes expires, no later than `refreshTtlSeconds`
 *   from when it is written.
 * - Refresh tokens rotate: each is good for one `refresh`. Presenting one a second time is `reused`,
 *   and revokes every token of its login (its family); other logins of the same user are untouched.
 * - Fail closed: `verify` and `refresh` reject when Redis cannot be reached; a token is never
 *   accepted without its revocation check.
 * @throws {RangeError} for a secret shorter than 32 bytes or TTLs that are not whole seconds >= 1
 *   with `accessTtlSeconds <= refreshTtlSeconds`
 */
export function jwtSessions(options: JwtSessionOptions): JwtSessions {
  const { secret, redis, accessTtlSeconds, refreshTtlSeconds, now = Date.now, keyPrefix = 'jwt:' } = options;
  if (!(secret instanceof Uint8Array) || secret.length < 32) {
    throw new RangeError('secret must be a Uint8Array of at least 32 bytes (HS256, RFC 7518 §3.2)');
  }
  for (const [name, value] of [
    ['accessTtlSeconds', accessTtlSeconds],
    ['refreshTtlSeconds', refreshTtlSeconds],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a whole number >= 1, got ${value}`);
    }
  }
  if (accessTtlSeconds > refreshTtlSeconds) {
    throw new RangeError('accessTtlSeconds must not be longer than refreshTtlSeconds');
  }
  const key = {
    revoked: (jti: string) => `${keyPrefix}revoked:${jti}`,
    family: (fam: string) => `${keyPrefix}family:${fam}`,
    revokedFamily: (fam: string) => `${keyPrefix}revoked-family:${fam}`,
  };
  const nowSeconds = () => Math.floor(now() / 1000);
  const newId = () => randomBytes(16).toString('base64url');

  const sign = (type: TokenType, sub: string, fam: string, claims: CustomClaims, jti: string, iat: number) =>
    new SignJWT({ ...claims, fam })
      .setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYP[type] })
      .setSubject(sub)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(iat + (type === 'access' ? accessTtlSeconds : refreshTtlSeconds))
      .sign(secret);

  /** Signs a pair and makes its refresh token the family's next one. */
  const pair = async (
    sub: string,
    fam: string,
    claims: CustomClaims,
  ): Promise<{ pair: TokenPair; refreshJti: string }> => {
    const iat = nowSeconds();
    const refreshJti = newId();
    const [accessToken, refreshToken] = await Promise.all([
      sign('access', sub, fam, claims, newId(), iat),
      sign('refresh', sub, fam, claims, refreshJti, iat),
    ]);
    return { pair: { accessToken, refreshToken }, refreshJti };
  };

  /** Signature, algorithm, type and expiry: everything but the revocation list. */
  const decode = async (token: string, expected: TokenType): Promise<VerifiedClaims> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, secret, {
        algorithms: [ALGORITHM],
        typ: TOKEN_TYP[expected],
        currentDate: new Date(now()),
        requiredClaims: ['sub', 'jti', 'iat', 'exp', 'fam'],
      }));
    } catch (error) {
      throw refusal(error, expected);
    }
    const { sub, jti, iat, exp, fam, ...rest } = payload;
    const claims: CustomClaims = {};
    for (const [name, value] of Object.entries(rest)) {
      if (['string', 'number', 'boolean'].includes(typeof value)) {
        claims[name] = value as string | number | boolean;
      }
    }
    return {
      sub: String(sub),
      jti: String(jti),
      iat: Number(iat),
      exp: Number(exp),
      fam: String(fam),
      type: expected,
      claims,
    };
  };

  const checkRevocations = async (verified: VerifiedClaims) => {
    if ((await redis.exists(key.revoked(verified.jti), key.revokedFamily(verified.fam))) > 0) {
      throw new JwtSessionError('revoked', `the ${verified.type} token ${verified.jti} has been revoked`);
    }
  };

  return {
    async issue(subject, claims = {}) {
      if (typeof subject !== 'string' || subject === '') {
        throw new TypeError('subject must be a non-empty string');
      }
      const fam = newId();
      const { pair: tokens, refreshJti } = await pair(subject, fam, claims);
      await redis.set(key.family(fam), refreshJti, 'PX', refreshTtlSeconds * 1000);
      return tokens;
    },

    async verify(token, expected = 'access') {
      const verified = await decode(token, expected);
      await checkRevocations(verified);
      return verified;
    },

    async refresh(refreshToken) {
      const old = await decode(refreshToken, 'refresh');
      await checkRevocations(old);
      const { pair: tokens, refreshJti } = await pair(old.sub, old.fam, old.claims);
      const outcome = await redis.eval(
        ROTATE,
        2,
        key.family(old.fam),
        key.revokedFamily(old.fam),
        old.jti,
        refreshJti,
        refreshTtlSeconds * 1000,
      );
      if (outcome === -1) {
        throw new JwtSessionError(
          'reused',
          'this refresh token was already used: every token of its login is revoked',
        );
      }
      if (outcome !== 1) throw new JwtSessionError('revoked', 'this login has ended: log in again');
      return tokens;
    },

    async revoke(token) {
      let verified: VerifiedClaims;
      try {
        verified = await decode(token, 'access').catch((error: unknown) => {
          if (error instanceof JwtSessionError && error.code === 'wrong-type') {
            return decode(token, 'refresh');
          }
          throw error;
        });
      } catch (error) {
        if (error instanceof JwtSessionError && error.code === 'expired') return; // dead already
        throw error;
      }
      const remainingMs = verified.exp * 1000 - now();
      if (remainingMs <= 0) return;
      await redis.set(key.revoked(verified.jti), '1', 'PX', remainingMs);
    },
  };
}

/** Turns what `jose` throws into the module's reasons. */
function refusal(error: unknown, expected: TokenType): JwtSessionError {
  if (error instanceof errors.JWTExpired) return new JwtSessionError('expired', 'the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'typ') {
    return new JwtSessionError('wrong-type', `expected a ${expected} token`);
  }
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JOSEAlgNotAllowed ||
    error instanceof errors.JOSENotSupported
  ) {
    return new JwtSessionError('bad-signature', 'the token is not signed with this server’s key and HS256');
  }
  return new JwtSessionError('malformed', `the token could not be read: ${(error as Error).message}`);
}
