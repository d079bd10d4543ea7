/**
 * The Redis adapter of the {@link UserRepository} port.
 *
 * Keys (the tests read them, so keep these names; `prefix` defaults to `users`):
 * - `<prefix>:<id>`: a hash per user with the fields `id`, `name`, `email`, `createdAt`.
 * - `<prefix>:by-email`: a hash from email to user id: the unique index.
 *
 * The email index and the user hash must never disagree, even when many servers insert at once:
 * the claim of the email and the write of the user happen in one Lua script, which Redis runs
 * atomically (no other command runs in between).
 */
import type { Redis } from 'ioredis';
import { DuplicateEmailError, type User, type UserRepository } from './users.js';

export interface RedisUserRepositoryOptions {
  /** Key prefix (default `users`). */
  prefix?: string;
}

/**
 * KEYS[1] = email index, KEYS[2] = user hash; ARGV = email, id, name, createdAt.
 * Returns 0 when the email is taken (and writes nothing), 1 when the user was stored.
 */
const INSERT_SCRIPT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], 'id', ARGV[2], 'email', ARGV[1], 'name', ARGV[3], 'createdAt', ARGV[4])
return 1
`;

/** Creates a repository that stores users through `redis` (a connection the caller owns and closes). */
export function createRedisUserRepository(
  redis: Redis,
  { prefix = 'users' }: RedisUserRepositoryOptions = {},
): UserRepository {
  const userKey = (id: string) => `${prefix}:${id}`;
  const emailIndex = `${prefix}:by-email`;

  const findById = async (id: string): Promise<User | null> => {
    // HGETALL of a missing key is an empty object (RESP3 map or RESP2 array alike).
    const hash = await redis.hgetall(userKey(id));
    if (!hash) return null;
    return {
      id: hash.id ?? id,
      name: hash.name ?? '',
      email: hash.email ?? '',
      createdAt: hash.createdAt ?? '',
    };
  };

  return {
    async insert(user) {
      const stored = await redis.eval(
        INSERT_SCRIPT,
        2,
        emailIndex,
        userKey(user.id),
        user.email,
        user.id,
        user.name,
        user.createdAt,
      );
      if (Number(stored) !== 1) throw new DuplicateEmailError(user.email);
    },

    findById,

    async findByEmail(email) {
      const id = await redis.hget(emailIndex, email);
      return id === null ? null : findById(id);
    },
  };
}
