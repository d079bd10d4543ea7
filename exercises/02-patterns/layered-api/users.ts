/**
 * The domain of the users service: what a user is, the errors the rules can raise, and the port
 * through which the service stores users. Nothing here knows about HTTP or Redis.
 *
 * This file is complete: the layers you write import it.
 *
 * ```
 * controller.ts  (HTTP: status codes, JSON, routes)      ──calls──▶ service.ts
 * service.ts     (rules: validation, normalisation, ids) ──calls──▶ UserRepository (this port)
 * memory-repository.ts / redis-repository.ts             ──implement── UserRepository
 * ```
 */

/** A stored user, as the API returns it. */
export interface User {
  readonly id: string;
  readonly name: string;
  /** Trimmed and lower-cased by the service; unique across users. */
  readonly email: string;
  /** ISO 8601, e.g. `2026-03-02T09:00:00.000Z`. */
  readonly createdAt: string;
}

/**
 * The port: how the service stores and finds users. An adapter (in memory, Redis, SQL) implements
 * it; the service depends only on this interface.
 */
export interface UserRepository {
  /**
   * Stores a new user. Emails are compared exactly as given (the service normalises them first).
   * Safe under concurrency: when many inserts with the same email race, from any number of
   * processes, exactly one succeeds.
   * @throws {DuplicateEmailError} when a user with this email exists; then nothing is stored
   */
  insert(user: User): Promise<void>;
  /** The user with this id, or `null`. */
  findById(id: string): Promise<User | null>;
  /** The user with this exact email, or `null`. */
  findByEmail(email: string): Promise<User | null>;
}

/** Input broke a rule; `field` names the offending field (`'body'` when the input is not an object). */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Another user already has this email. */
export class DuplicateEmailError extends Error {
  override readonly name = 'DuplicateEmailError';
  constructor(readonly email: string) {
    super(`a user with the email ${email} already exists`);
  }
}
