/**
 * The service layer: the rules of the users domain. It validates untrusted input, normalises it,
 * gives each user an id and a creation time, and stores it through the {@link UserRepository} port.
 * It knows nothing about HTTP (no status codes) or about where users are stored.
 */
import { randomUUID } from 'node:crypto';
import { type User, type UserRepository, ValidationError } from './users.js';

export interface UserService {
  /**
   * Creates a user from untrusted input (a parsed JSON body, say).
   *
   * Rules, checked in this order; the first broken one throws a {@link ValidationError} naming it:
   * - `body`: the input must be a plain object (not null, not an array);
   * - `name`: a string, 1 to 100 characters after trimming; stored trimmed;
   * - `email`: a string that looks like `local@domain.tld` (no spaces, one `@`, a dot in the domain),
   *   at most 254 characters after trimming; stored trimmed and lower-cased.
   *
   * Any other property of the input is ignored: it is never stored or returned.
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

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Creates the service on top of any repository: the service does not care which. */
export function createUserService(
  repository: UserRepository,
  { newId = randomUUID, now = () => new Date() }: UserServiceOptions = {},
): UserService {
  return {
    async register(input) {
      const { name, email } = validate(input);
      const user: User = { id: newId(), name, email, createdAt: now().toISOString() };
      // No "is the email free?" lookup first: between that check and the insert another request
      // could take the email. The repository's insert is the atomic check.
      await repository.insert(user);
      return user;
    },
    getById: (id) => repository.findById(id),
  };
}

function validate(input: unknown): { name: string; email: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError('body', 'the body must be a JSON object with name and email');
  }
  const { name, email } = input as Record<string, unknown>;

  if (typeof name !== 'string') throw new ValidationError('name', 'name must be a string');
  const trimmedName = name.trim();
  if (trimmedName.length < 1 || trimmedName.length > 100) {
    throw new ValidationError('name', 'name must be 1 to 100 characters long');
  }

  if (typeof email !== 'string') throw new ValidationError('email', 'email must be a string');
  const normalisedEmail = email.trim().toLowerCase();
  if (normalisedEmail.length >= 254 || !EMAIL_SHAPE.test(normalisedEmail)) {
    throw new ValidationError('email', 'email must be a valid email address');
  }
  return { name: trimmedName, email: normalisedEmail };
}
