/**
 * The in-memory adapter of the {@link UserRepository} port: for tests, demos and a first version of
 * a service. Data lives in this process only and is gone on restart.
 */
import { DuplicateEmailError, type User, type UserRepository } from './users.js';

/**
 * Creates an empty repository held in two `Map`s (by id, and an email index).
 * It stores and returns copies, so a caller that changes an object it passed in or got back does
 * not change what is stored.
 */
export function createMemoryUserRepository(): UserRepository {
  const byId = new Map<string, User>();
  const idByEmail = new Map<string, string>();

  const lookup = (id: string | undefined) => {
    const user = id === undefined ? undefined : byId.get(id);
    return user ? { ...user } : null;
  };

  return {
    async insert(user) {
      // Check and write with no `await` in between: nothing else can run on this thread meanwhile,
      // so the check-then-act is atomic here (and only here, inside one process).
      if (idByEmail.has(user.email)) throw new DuplicateEmailError(user.email);
      byId.set(user.id, user);
      idByEmail.set(user.email, user.id);
    },
    findById: async (id) => lookup(id),
    findByEmail: async (email) => lookup(idByEmail.get(email)),
  };
}
