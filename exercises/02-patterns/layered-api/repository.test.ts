import { beforeEach, describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import { createMemoryUserRepository } from './memory-repository.js';
import { createRedisUserRepository } from './redis-repository.js';
import { DuplicateEmailError, type User, type UserRepository } from './users.js';

const redis = useRedis();

const user = (n: number, email = `user${n}@example.com`): User => ({
  id: `id-${n}`,
  name: `User ${n}`,
  email,
  createdAt: new Date(Date.UTC(2026, 2, 2, 9, 0, n)).toISOString(),
});

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/**
 * One contract, two adapters: every UserRepository must pass the same tests. This is what makes
 * the adapters interchangeable behind the port.
 */
describe.each([
  { adapter: 'in-memory', create: (): UserRepository => createMemoryUserRepository() },
  { adapter: 'Redis', create: (): UserRepository => createRedisUserRepository(redis.client()) },
])('the UserRepository contract: $adapter', ({ create }) => {
  beforeEach(() => redis.flush());

  it('finds a stored user by id and by email', async () => {
    const repository = create();
    await repository.insert(user(1));
    expect(await repository.findById('id-1'), 'findById returns every field as stored').toEqual(user(1));
    expect(await repository.findByEmail('user1@example.com')).toEqual(user(1));
  });

  it('returns null for an unknown id or email', async () => {
    const repository = create();
    await repository.insert(user(1));
    expect(await repository.findById('id-2')).toBeNull();
    expect(await repository.findByEmail('nobody@example.com')).toBeNull();
  });

  it('keeps many users apart', async () => {
    const repository = create();
    for (let n = 1; n <= 20; n++) await repository.insert(user(n));
    for (let n = 1; n <= 20; n++) {
      expect(await repository.findById(`id-${n}`)).toEqual(user(n));
      expect(await repository.findByEmail(`user${n}@example.com`)).toEqual(user(n));
    }
  });

  it('refuses a second user with the same email, and stores nothing of it', async () => {
    const repository = create();
    await repository.insert(user(1, 'ada@example.com'));
    const error = await errorOf(repository.insert(user(2, 'ada@example.com')));
    expect(error, 'a taken email is a DuplicateEmailError').toBeInstanceOf(DuplicateEmailError);
    expect((error as DuplicateEmailError).email).toBe('ada@example.com');
    expect(await repository.findById('id-2'), 'the refused user must not be half-stored').toBeNull();
    expect(
      await repository.findByEmail('ada@example.com'),
      'the email still belongs to the first user',
    ).toEqual(user(1, 'ada@example.com'));
  });

  it('compares emails exactly as given (normalising them is the service’s job)', async () => {
    const repository = create();
    await repository.insert(user(1, 'ada@example.com'));
    await repository.insert(user(2, 'Ada@example.com'));
    expect((await repository.findByEmail('Ada@example.com'))?.id).toBe('id-2');
  });

  it('lets exactly one of 50 concurrent inserts with the same email win', async () => {
    const repository = create();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, n) => repository.insert(user(n, 'race@example.com'))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won, 'exactly one insert succeeds').toHaveLength(1);
    expect(
      lost.every((r) => r.reason instanceof DuplicateEmailError),
      'the other 49 fail with DuplicateEmailError',
    ).toBe(true);
    const winner = results.findIndex((r) => r.status === 'fulfilled');
    expect((await repository.findByEmail('race@example.com'))?.id, 'the index points at the winner').toBe(
      `id-${winner}`,
    );
  });

  it('stores a copy: changing the objects passed in or returned does not change what is stored', async () => {
    const repository = create();
    const original = { ...user(1) };
    await repository.insert(original);
    (original as { name: string }).name = 'changed after insert';
    const found = await repository.findById('id-1');
    expect(found?.name).toBe('User 1');
    (found as { name: string }).name = 'changed after find';
    expect((await repository.findById('id-1'))?.name).toBe('User 1');
  });
});

describe('the in-memory repository', () => {
  it('is a store of its own: two repositories do not share users or emails', async () => {
    const a = createMemoryUserRepository();
    const b = createMemoryUserRepository();
    await a.insert(user(1, 'ada@example.com'));
    expect(await b.findById('id-1'), 'a user stored in one repository is not in another').toBeNull();
    expect(await b.findByEmail('ada@example.com')).toBeNull();
    await expect(
      b.insert(user(2, 'ada@example.com')),
      'the email is free in the other one',
    ).resolves.toBeUndefined();
  });
});

describe('the Redis repository', () => {
  beforeEach(() => redis.flush());

  it('keeps a hash per user at users:<id> and the email index in the hash users:by-email', async () => {
    const repository = createRedisUserRepository(redis.client());
    await repository.insert(user(7, 'grace@example.com'));
    const admin = redis.client();
    expect(await admin.hgetall('users:id-7'), 'the user hash holds the four fields').toEqual({
      id: 'id-7',
      name: 'User 7',
      email: 'grace@example.com',
      createdAt: user(7).createdAt,
    });
    expect(await admin.hget('users:by-email', 'grace@example.com'), 'the index maps email to id').toBe(
      'id-7',
    );
  });

  it('puts its keys under the prefix it is given', async () => {
    const repository = createRedisUserRepository(redis.client(), { prefix: 'tenant42:users' });
    await repository.insert(user(1));
    const admin = redis.client();
    expect(await admin.exists('tenant42:users:id-1', 'tenant42:users:by-email')).toBe(2);
    expect(await admin.exists('users:id-1'), 'nothing under the default prefix').toBe(0);
  });

  it('keeps repositories with different prefixes apart: each has its own users and its own email index', async () => {
    const acme = createRedisUserRepository(redis.client(), { prefix: 'acme:users' });
    const globex = createRedisUserRepository(redis.client(), { prefix: 'globex:users' });
    await acme.insert(user(1, 'ada@example.com'));
    await expect(
      globex.insert(user(2, 'ada@example.com')),
      'an email taken under one prefix is free under another',
    ).resolves.toBeUndefined();
    expect((await acme.findByEmail('ada@example.com'))?.id).toBe('id-1');
    expect((await globex.findByEmail('ada@example.com'))?.id).toBe('id-2');
    expect(await globex.findById('id-1'), 'nor are users shared').toBeNull();
    const admin = redis.client();
    expect(await admin.hgetall('acme:users:by-email')).toEqual({ 'ada@example.com': 'id-1' });
    expect(await admin.hgetall('globex:users:by-email')).toEqual({ 'ada@example.com': 'id-2' });
  });

  it('sees users stored through another connection (another server, say)', async () => {
    const a = createRedisUserRepository(redis.client());
    const b = createRedisUserRepository(redis.client());
    await a.insert(user(1));
    expect(await b.findById('id-1')).toEqual(user(1));
    await expect(b.insert(user(2, 'user1@example.com'))).rejects.toBeInstanceOf(DuplicateEmailError);
  });

  it('lets exactly one of 50 concurrent inserts of one email win across 5 connections, atomically', async () => {
    const repositories = Array.from({ length: 5 }, () => createRedisUserRepository(redis.client()));
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, n) => repositories[n % 5]!.insert(user(n, 'hot@example.com'))),
    );
    const winners = results.flatMap((r, n) => (r.status === 'fulfilled' ? [n] : []));
    expect(winners, 'exactly one of the 50 may win the email').toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof DuplicateEmailError),
      'every loser gets DuplicateEmailError',
    ).toBe(true);
    const admin = redis.client();
    const userKeys = (await admin.keys('users:id-*')).sort();
    expect(userKeys, 'exactly one user hash exists: the losers left nothing behind').toEqual([
      `users:id-${winners[0]}`,
    ]);
    expect(await admin.hget('users:by-email', 'hot@example.com'), 'the index points at the winner').toBe(
      `id-${winners[0]}`,
    );
  });
});
