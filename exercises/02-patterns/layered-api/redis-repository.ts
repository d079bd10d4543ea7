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
import type { UserRepository } from './users.js';

export interface RedisUserRepositoryOptions {
  /** Key prefix (default `users`). */
  prefix?: string;
}

/** Creates a repository that stores users through `redis` (a connection the caller owns and closes). */
export function createRedisUserRepository(
  redis: Redis,
  options: RedisUserRepositoryOptions = {},
): UserRepository {
  throw new Error(
    'createRedisUserRepository() is not implemented yet: open exercises/02-patterns/layered-api/redis-repository.ts',
  );
}
