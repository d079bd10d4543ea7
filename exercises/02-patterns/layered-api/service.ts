/**
 * The service layer: the rules of the users domain. It validates untrusted input, normalises it,
 * gives each user an id and a creation time, and stores it through the {@link UserRepository} port.
 * It knows nothing about HTTP (no status codes) or about where users are stored.
 */
import type { User, UserRepository } from './users.js';

export interface UserService {
  /**
   * Creates a user from untrusted input (a parsed JSON body, say).
   *
   * Rules, checked in this order; the first broken one throws a {@link ValidationError} whose `field`
   * is the rule's name (`body`, `name` or `email`) and whose message mentions that name:
   * - `body`: the input must be a plain object (not null, not an array);
   * - `name`: a string, 1 to 100 characters after trimming; stored trimmed;
   * - `email`: a string that looks like `local@domain.tld` (no spaces, one `@`, a dot in the domain),
   *   at most 254 characters after trimming; stored trimmed and lower-cased.
   *
   * Any other property of the input is ignored: it is never stored or returned. The new user's `id`
   * comes from `newId()` and its `createdAt` is `now()` in UTC (`toISOString()`, ending in `Z`).
   * @throws {ValidationError} on invalid input
   * @throws {DuplicateEmailError} when the (normalised) email is taken
   */
  register(input: unknown): Promise<User>;
  /** The user with this id, or `null`. */
  getById(id: string): Promise<User | null>;
}

export interface UserServiceOptions {
  /** Makes a new user id (default `crypto.randomUUID`). */
  newId?: () => string;
  /** The current time (default `new Date()`). */
  now?: () => Date;
}

/** Creates the service on top of any repository: the service does not care which. */
export function createUserService(repository: UserRepository, options: UserServiceOptions = {}): UserService {
  throw new Error(
    'createUserService() is not implemented yet: open exercises/02-patterns/layered-api/service.ts',
  );
}
