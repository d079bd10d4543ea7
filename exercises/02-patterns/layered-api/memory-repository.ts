/**
 * The in-memory adapter of the {@link UserRepository} port: for tests, demos and a first version of
 * a service. Data lives in this process only and is gone on restart.
 */
import type { UserRepository } from './users.js';

/**
 * Creates an empty repository held in two `Map`s (by id, and an email index).
 * It stores and returns copies, so a caller that changes an object it passed in or got back does
 * not change what is stored.
 */
export function createMemoryUserRepository(): UserRepository {
  throw new Error(
    'createMemoryUserRepository() is not implemented yet: open exercises/02-patterns/layered-api/memory-repository.ts',
  );
}
