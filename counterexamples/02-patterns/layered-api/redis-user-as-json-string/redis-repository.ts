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
redis.call('SET', KEYS[2], ARGV[3])
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
    const json = await redis.get(userKey(id));
    return json === null ? null : (JSON.parse(json) as User);
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
        JSON.stringify({ id: user.id, name: user.name, email: user.email, createdAt: user.createdAt }),
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
