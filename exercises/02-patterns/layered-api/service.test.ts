import { describe, expect, it } from 'vitest';
import { createUserService } from './service.js';
import { DuplicateEmailError, type User, type UserRepository, ValidationError } from './users.js';

/**
 * The service is tested against a fake of the port, not a real repository: the rules are checked
 * on their own, and a bug in a repository cannot make these tests fail.
 */
function fakeRepository() {
  const users: User[] = [];
  const repository: UserRepository & { users: User[] } = {
    users,
    async insert(user) {
      if (users.some((u) => u.email === user.email)) throw new DuplicateEmailError(user.email);
      users.push(user);
    },
    findById: async (id) => users.find((u) => u.id === id) ?? null,
    findByEmail: async (email) => users.find((u) => u.email === email) ?? null,
  };
  return repository;
}

const fixedClock = () => new Date('2026-03-02T09:00:00.000Z');

function serviceWithFakes() {
  const repository = fakeRepository();
  let n = 0;
  const service = createUserService(repository, { newId: () => `user-${++n}`, now: fixedClock });
  return { repository, service };
}

async function validationErrorOf(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'invalid input must be rejected with a ValidationError').toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('the user service (against a fake repository)', () => {
  it('registers a user: id from newId, createdAt from the clock, name trimmed, email trimmed and lower-cased', async () => {
    const { repository, service } = serviceWithFakes();
    const user = await service.register({ name: '  Ada Lovelace ', email: ' Ada@Example.COM ' });
    expect(user).toEqual({
      id: 'user-1',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      createdAt: '2026-03-02T09:00:00.000Z',
    });
    expect(repository.users, 'the same user went to the repository').toEqual([user]);
  });

  it('ignores properties it does not know (no mass assignment)', async () => {
    const { repository, service } = serviceWithFakes();
    const user = await service.register({ name: 'Eve', email: 'eve@example.com', isAdmin: true, id: 'mine' });
    expect(user, 'only id, name, email and createdAt').toEqual({
      id: 'user-1',
      name: 'Eve',
      email: 'eve@example.com',
      createdAt: '2026-03-02T09:00:00.000Z',
    });
    expect(Object.keys(repository.users[0]!).sort()).toEqual(['createdAt', 'email', 'id', 'name']);
  });

  it.each([
    ['null', null],
    ['an array', [{ name: 'Ada', email: 'ada@example.com' }]],
    ['a string', 'Ada'],
    ['a number', 42],
    ['undefined', undefined],
  ])('rejects a body that is %s, naming the field "body"', async (_what, input) => {
    const { repository, service } = serviceWithFakes();
    const error = await validationErrorOf(service.register(input));
    expect(error.field).toBe('body');
    expect(error.message, 'the message mentions the body').toMatch(/body/);
    expect(repository.users, 'nothing is stored').toEqual([]);
  });

  it.each([
    ['missing', { email: 'ada@example.com' }],
    ['not a string', { name: 42, email: 'ada@example.com' }],
    ['empty', { name: '', email: 'ada@example.com' }],
    ['only spaces', { name: '   ', email: 'ada@example.com' }],
    ['101 characters', { name: 'x'.repeat(101), email: 'ada@example.com' }],
  ])('rejects a name that is %s, naming the field "name"', async (_what, input) => {
    const { repository, service } = serviceWithFakes();
    const error = await validationErrorOf(service.register(input));
    expect(error.field, 'the error names the field').toBe('name');
    expect(error.message, 'and its message says what is wrong with it').toMatch(/name/);
    expect(repository.users, 'nothing is stored').toEqual([]);
  });

  it.each([
    ['missing', { name: 'Ada' }],
    ['not a string', { name: 'Ada', email: ['ada@example.com'] }],
    ['without @', { name: 'Ada', email: 'ada.example.com' }],
    ['with two @', { name: 'Ada', email: 'ada@@example.com' }],
    ['without a dot in the domain', { name: 'Ada', email: 'ada@localhost' }],
    ['with a space inside', { name: 'Ada', email: 'ada lovelace@example.com' }],
    ['empty', { name: 'Ada', email: '' }],
    ['255 characters', { name: 'Ada', email: `${'a'.repeat(243)}@example.com` }],
  ])('rejects an email that is %s, naming the field "email"', async (_what, input) => {
    const { repository, service } = serviceWithFakes();
    const error = await validationErrorOf(service.register(input));
    expect(error.field, 'the error names the field').toBe('email');
    expect(error.message).toMatch(/email/);
    expect(repository.users, 'nothing is stored').toEqual([]);
  });

  it('accepts the longest valid name and email (100 and 254 characters)', async () => {
    const { service } = serviceWithFakes();
    const email = `${'a'.repeat(242)}@example.com`;
    expect(email).toHaveLength(254);
    const user = await service.register({ name: ` ${'n'.repeat(100)} `, email });
    expect(user.name).toHaveLength(100);
    expect(user.email).toBe(email);
  });

  it('checks both lengths after trimming: spaces around a name or an email do not count', async () => {
    const { service } = serviceWithFakes();
    const email = `${'b'.repeat(242)}@example.com`;
    const user = await service.register({ name: `\t${'n'.repeat(100)}\n `, email: `  ${email}\n` });
    expect(user.name, 'a 100-character name with spaces around it is valid').toBe('n'.repeat(100));
    expect(user.email, 'a 254-character email with spaces around it is valid, and stored trimmed').toBe(
      email,
    );
  });

  it('names the first broken rule when several are broken: name before email', async () => {
    const { service } = serviceWithFakes();
    const error = await validationErrorOf(service.register({ name: '', email: 'nope' }));
    expect(error.field).toBe('name');
  });

  it("passes the repository's DuplicateEmailError on, for the normalised email", async () => {
    const { repository, service } = serviceWithFakes();
    await service.register({ name: 'Ada', email: 'ada@example.com' });
    await expect(
      service.register({ name: 'Ada again', email: ' ADA@example.com' }),
      'the same email in other case is the same email',
    ).rejects.toBeInstanceOf(DuplicateEmailError);
    expect(repository.users).toHaveLength(1);
  });

  it('finds a user by id through the repository, and null for an unknown id', async () => {
    const { service } = serviceWithFakes();
    const user = await service.register({ name: 'Ada', email: 'ada@example.com' });
    expect(await service.getById(user.id)).toEqual(user);
    expect(await service.getById('no-such-user')).toBeNull();
  });

  it('makes random UUIDs and uses the real time by default', async () => {
    const repository = fakeRepository();
    const service = createUserService(repository);
    const before = Date.now();
    const a = await service.register({ name: 'A', email: 'a@example.com' });
    const b = await service.register({ name: 'B', email: 'b@example.com' });
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.id, 'each user gets a new id').not.toBe(b.id);
    expect(Date.parse(a.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(a.createdAt)).toBeLessThanOrEqual(Date.now() + 1000);
  });
});
