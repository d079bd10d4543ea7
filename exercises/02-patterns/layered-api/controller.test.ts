import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../../src/testing/index.js';
import { createUserServer, type UserServerOptions } from './controller.js';
import type { UserService } from './service.js';
import { DuplicateEmailError, type User, ValidationError } from './users.js';

/**
 * The controller is tested against a fake service: these tests are about HTTP (routes, status codes,
 * bodies, hostile clients), not about the rules, which service.test.ts checks.
 */
function fakeService() {
  const users = new Map<string, User>();
  const calls: unknown[] = [];
  const service: UserService & { calls: unknown[]; failWith?: unknown } = {
    calls,
    async register(input) {
      calls.push(input);
      if (service.failWith !== undefined) throw service.failWith;
      const { name, email } = input as { name?: unknown; email?: unknown };
      if (typeof name !== 'string' || name === '') throw new ValidationError('name', 'name must be a string');
      if (typeof email !== 'string')
        throw new ValidationError('email', 'email must be a valid email address');
      if ([...users.values()].some((u) => u.email === email)) throw new DuplicateEmailError(email);
      const user: User = { id: `u${users.size + 1}`, name, email, createdAt: '2026-03-02T09:00:00.000Z' };
      users.set(user.id, user);
      return user;
    },
    async getById(id) {
      if (service.failWith !== undefined) throw service.failWith;
      return users.get(id) ?? null;
    },
  };
  return service;
}

let running: Listening | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(options: UserServerOptions = {}) {
  const service = fakeService();
  const errors: unknown[] = [];
  running = await listen(createUserServer(service, { onError: (e) => errors.push(e), ...options }));
  return { service, errors, url: running.url, port: running.port };
}

const postJson = (url: string, body: unknown) =>
  fetch(`${url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Sends raw bytes over TCP and resolves with everything the server sent back until it closed. */
function rawRequest(port: number, bytes: string | Buffer, { timeoutMs = 5000 } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      received += chunk;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', () => {});
    socket.write(bytes);
  });
}

describe('the users HTTP controller', () => {
  it('creates a user: POST /users answers 201 with the user as JSON and a Location header', async () => {
    const { url } = await start();
    const res = await postJson(url, { name: 'Ada', email: 'ada@example.com' });
    expect(res.status, 'a created resource is 201').toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await res.json();
    expect(body).toEqual({
      id: 'u1',
      name: 'Ada',
      email: 'ada@example.com',
      createdAt: '2026-03-02T09:00:00.000Z',
    });
    expect(res.headers.get('location'), 'Location says where the new user lives').toBe('/users/u1');
  });

  it('reads a user: GET /users/:id answers 200 with the user, 404 for an unknown id', async () => {
    const { url } = await start();
    await postJson(url, { name: 'Ada', email: 'ada@example.com' });
    const found = await fetch(`${url}/users/u1`);
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ id: 'u1', name: 'Ada' });
    const withQuery = await fetch(`${url}/users/u1?fields=all`);
    expect(withQuery.status, 'a query string does not change the route').toBe(200);
    await withQuery.body?.cancel();
    const missing = await fetch(`${url}/users/u999`);
    expect(missing.status, 'an unknown id is 404').toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await missing.json()).toHaveProperty('error');
  });

  it('answers 400 naming the field when the service rejects the input', async () => {
    const { url } = await start();
    const res = await postJson(url, { name: 'Ada', email: 42 });
    expect(res.status, 'invalid input is the client’s mistake: 400').toBe(400);
    expect(await res.json(), 'the body names the field and says what is wrong').toEqual({
      error: 'email must be a valid email address',
      field: 'email',
    });
  });

  it('answers 409 for an email that is taken', async () => {
    const { url } = await start();
    expect((await postJson(url, { name: 'Ada', email: 'ada@example.com' })).status).toBe(201);
    const res = await postJson(url, { name: 'Ada 2', email: 'ada@example.com' });
    expect(res.status, 'a conflict with existing state is 409').toBe(409);
    expect((await res.json()).error).toMatch(/ada@example\.com/);
  });

  it.each([
    ['truncated JSON', '{"name":"Ada","email":'],
    ['an empty body', ''],
    ['plain text', 'name=Ada&email=ada@example.com'],
    ['trailing garbage', '{"name":"Ada","email":"ada@example.com"}}'],
  ])('answers 400 to malformed JSON (%s), and keeps serving', async (_what, body) => {
    const { url, service } = await start();
    const res = await postJson(url, body);
    expect(res.status, 'a body that is not JSON is a bad request, never a crash or a 500').toBe(400);
    expect((await res.json()).error).toMatch(/JSON/);
    expect(service.calls, 'the service is not called with garbage').toEqual([]);
    expect(
      (await postJson(url, { name: 'Ada', email: 'ada@example.com' })).status,
      'the server still works',
    ).toBe(201);
  });

  it('passes valid JSON that is not an object to the service, which decides', async () => {
    const { url, service } = await start();
    service.failWith = new ValidationError('body', 'the body must be a JSON object');
    const res = await postJson(url, '[1,2,3]');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'the body must be a JSON object', field: 'body' });
    expect(service.calls).toEqual([[1, 2, 3]]);
  });

  it('answers 413 to a body larger than maxBodyBytes, without calling the service', async () => {
    const { url, service } = await start({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ name: 'x'.repeat(100_000), email: 'big@example.com' });
    const res = await postJson(url, big);
    expect(res.status, 'too large is 413').toBe(413);
    expect(service.calls).toEqual([]);
    const justFits = JSON.stringify({ name: 'x'.repeat(1024 - 40), email: 'ok@example.com' });
    expect(Buffer.byteLength(justFits)).toBeLessThanOrEqual(1024);
    expect((await postJson(url, justFits)).status, 'a body within the limit is fine').toBe(201);
  });

  it('accepts a body of exactly maxBodyBytes and refuses one byte more, with or without Content-Length', async () => {
    const { url, port, service } = await start({ maxBodyBytes: 1024 });
    /** A JSON body of exactly `bytes` bytes. */
    const bodyOf = (bytes: number, email: string) => {
      const body = JSON.stringify({ name: 'x'.repeat(bytes - 22 - email.length), email });
      expect(Buffer.byteLength(body)).toBe(bytes);
      return body;
    };
    expect(
      (await postJson(url, bodyOf(1024, 'a@example.com'))).status,
      '1024 bytes with a limit of 1024 fits',
    ).toBe(201);
    const over = await postJson(url, bodyOf(1025, 'b@example.com'));
    expect(over.status, '1025 bytes is one too many').toBe(413);
    await over.body?.cancel();

    const chunked = (body: string) => {
      const half = Math.floor(body.length / 2);
      const chunks = [body.slice(0, half), body.slice(half)]
        .map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`)
        .join('');
      return `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`;
    };
    expect(
      await rawRequest(port, chunked(bodyOf(1024, 'c@example.com'))),
      'chunked, 1024 bytes fits',
    ).toMatch(/^HTTP\/1\.1 201 /);
    expect(
      await rawRequest(port, chunked(bodyOf(1025, 'd@example.com'))),
      'chunked, 1025 bytes does not',
    ).toMatch(/^HTTP\/1\.1 413 /);
    expect(
      service.calls.map((c) => (c as { email: string }).email),
      'the service saw only the bodies that fit',
    ).toEqual(['a@example.com', 'c@example.com']);
  });

  it('counts the limit in bytes, not characters: a chunked body of 600 "é" (1200 bytes) is too large for 1024', async () => {
    const { port, service } = await start({ maxBodyBytes: 1024 });
    const body = JSON.stringify({ name: 'é'.repeat(600), email: 'e@example.com' });
    expect(body.length, 'fewer than 1024 characters').toBeLessThan(1024);
    expect(Buffer.byteLength(body), 'but more than 1024 bytes').toBeGreaterThan(1024);
    const bytes = Buffer.byteLength(body).toString(16);
    const reply = await rawRequest(
      port,
      `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${bytes}\r\n${body}\r\n0\r\n\r\n`,
    );
    expect(reply, 'maxBodyBytes is a number of bytes').toMatch(/^HTTP\/1\.1 413 /);
    expect(service.calls).toEqual([]);
  });

  it('decodes the body as UTF-8 once it is complete: a character split between two chunks arrives intact', async () => {
    const { port } = await start();
    const body = Buffer.from(JSON.stringify({ name: 'René Müller 🙂', email: 'rene@example.com' }));
    const split = body.indexOf(Buffer.from('é')) + 1; // between the two bytes of "é"
    const parts = [body.subarray(0, split), body.subarray(split)];
    const chunks = parts.map((p) => `${p.length.toString(16)}\r\n${p.toString('latin1')}\r\n`).join('');
    const head =
      'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n';
    const reply = await rawRequest(port, Buffer.from(`${head}${chunks}0\r\n\r\n`, 'latin1'));
    expect(reply).toMatch(/^HTTP\/1\.1 201 /);
    const json = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { name: string };
    expect(json.name, 'the name as the client sent it, not with U+FFFD where "é" was cut').toBe(
      'René Müller 🙂',
    );
  });

  it('answers 413 to an oversized body sent in chunks with no Content-Length', async () => {
    const { port, service } = await start({ maxBodyBytes: 1024 });
    const chunk = 'x'.repeat(512);
    const chunks = Array.from({ length: 8 }, () => `${(512).toString(16)}\r\n${chunk}\r\n`).join('');
    const reply = await rawRequest(
      port,
      `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`,
    );
    expect(reply, 'the limit counts the bytes received, not just the Content-Length header').toMatch(
      /^HTTP\/1\.1 413 /,
    );
    expect(service.calls).toEqual([]);
  });

  it('answers 500 to an unexpected error without leaking its message, reports it, and keeps serving', async () => {
    const { url, service, errors } = await start();
    const failure = new Error('ECONNREFUSED 10.0.0.7:6379 (password=hunter2)');
    service.failWith = failure;
    const res = await postJson(url, { name: 'Ada', email: 'ada@example.com' });
    expect(res.status).toBe(500);
    expect(await res.json(), 'the client learns only that it was not its fault').toEqual({
      error: 'internal server error',
    });
    expect(errors, 'the real error goes to onError, for the logs').toEqual([failure]);
    const get = await fetch(`${url}/users/u1`);
    expect(get.status, 'GET fails the same way').toBe(500);
    await get.body?.cancel();
    service.failWith = undefined;
    expect((await postJson(url, { name: 'Ada', email: 'ada@example.com' })).status).toBe(201);
  });

  it('answers 405 with an Allow header to a wrong method, and 404 to unknown paths', async () => {
    const { url } = await start();
    const getList = await fetch(`${url}/users`);
    expect(getList.status, 'GET /users is not a route here').toBe(405);
    expect(getList.headers.get('allow')).toBe('POST');
    await getList.body?.cancel();
    const del = await fetch(`${url}/users/u1`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET');
    await del.body?.cancel();
    for (const path of ['/', '/userz', '/users/u1/friends', '/users/']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, `${path} is not a route`).toBe(404);
      await res.body?.cancel();
    }
  });

  it('answers 404, not 500, to a hostile id such as a broken percent-encoding', async () => {
    const { url, errors } = await start();
    for (const path of ['/users/%E0%A4%A', '/users/%', '/users/..%2F..%2Fetc%2Fpasswd']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, `${path} names no user`).toBe(404);
      await res.body?.cancel();
    }
    expect(errors, 'a bad id is not an internal error').toEqual([]);
  });

  it('keeps serving others while a client stalls mid-request, and cuts that client off with 408', async () => {
    const { url, port } = await start({ requestTimeoutMs: 800 });
    const started = Date.now();
    const stalled = rawRequest(
      port,
      'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na',
      { timeoutMs: 8000 },
    );
    const res = await postJson(url, { name: 'Ada', email: 'ada@example.com' });
    expect(res.status, 'a silent client must not block other requests').toBe(201);
    const reply = await stalled;
    expect(reply, 'the stalled request is answered 408 Request Timeout').toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started, 'not before the timeout').toBeGreaterThanOrEqual(700);
  });
});
