import { describe, expect, it, vi } from 'vitest';
import { compose, type Middleware } from './compose.js';

interface Ctx {
  log: string[];
  body?: unknown;
  status?: number;
}

const newCtx = (): Ctx => ({ log: [] });
/** Lets a macrotask pass, so "async" really means later, not just a resolved promise. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A middleware that logs `<name> in` before next() and `<name> out` after it. */
const layer =
  (name: string): Middleware<Ctx> =>
  async (ctx, next) => {
    ctx.log.push(`${name} in`);
    await tick();
    await next();
    await tick();
    ctx.log.push(`${name} out`);
  };

describe('compose (Koa-style middleware)', () => {
  it('runs the middleware as an onion: in 1, 2, 3, then out 3, 2, 1', async () => {
    const ctx = newCtx();
    await compose([layer('1'), layer('2'), layer('3')])(ctx);
    expect(ctx.log, 'each layer resumes after everything inside it has finished').toEqual([
      '1 in',
      '2 in',
      '3 in',
      '3 out',
      '2 out',
      '1 out',
    ]);
  });

  it('passes the same context object to every middleware', async () => {
    const ctx = newCtx();
    const seen: Ctx[] = [];
    await compose<Ctx>([
      async (c, next) => {
        seen.push(c);
        c.status = 404;
        await next();
        c.log.push(`outer sees body ${String(c.body)}`);
      },
      (c) => {
        seen.push(c);
        c.log.push(`inner sees status ${c.status}`);
        c.body = 'hello';
      },
    ])(ctx);
    expect(seen[0], 'the context given to the composed function').toBe(ctx);
    expect(seen[1]).toBe(ctx);
    expect(ctx.log, 'a change made upstream is visible downstream, and the other way round').toEqual([
      'inner sees status 404',
      'outer sees body hello',
    ]);
  });

  it('mixes synchronous and async middleware, and always returns promises', async () => {
    const ctx = newCtx();
    const nextResults: unknown[] = [];
    const composed = compose<Ctx>([
      (c, next) => {
        c.log.push('sync in');
        const p = next();
        nextResults.push(p);
        return p.then(() => c.log.push('sync out'));
      },
      async (c, next) => {
        c.log.push('async in');
        await tick();
        await next();
        c.log.push('async out');
      },
      (c) => {
        c.log.push('sync end');
      },
    ]);
    const result = composed(ctx);
    expect(result, 'the composed function returns a promise').toBeInstanceOf(Promise);
    await result;
    expect(nextResults[0], 'next() returns a promise, whatever the next middleware is').toBeInstanceOf(
      Promise,
    );
    expect(ctx.log).toEqual(['sync in', 'async in', 'sync end', 'async out', 'sync out']);
    const allSync = compose<Ctx>([(c, next) => next(), () => 'done']);
    expect(allSync(newCtx()), 'even when every middleware is synchronous').toBeInstanceOf(Promise);
  });

  it('resolves with what the first middleware returns, and next() with what the next one returns', async () => {
    const composed = compose<Ctx>([
      async (_ctx, next) => `outer(${String(await next())})`,
      async (_ctx, next) => `middle(${String(await next())})`,
      () => 'inner',
    ]);
    await expect(composed(newCtx())).resolves.toBe('outer(middle(inner))');
  });

  it('stops the chain when a middleware does not call next()', async () => {
    const ctx = newCtx();
    const after = vi.fn();
    await compose<Ctx>([
      layer('auth'),
      (c) => {
        c.status = 401;
        c.log.push('denied');
      },
      after,
    ])(ctx);
    expect(after, 'nothing after a middleware that did not call next() runs').not.toHaveBeenCalled();
    expect(ctx.log).toEqual(['auth in', 'denied', 'auth out']);
  });

  it('calls the next passed to the composed function after the last middleware, so chains nest', async () => {
    const ctx = newCtx();
    const inner = compose([layer('b'), layer('c')]);
    await compose<Ctx>([layer('a'), inner, layer('d')])(ctx);
    expect(ctx.log, 'a composed chain used as a middleware continues into the outer chain').toEqual([
      'a in',
      'b in',
      'c in',
      'd in',
      'd out',
      'c out',
      'b out',
      'a out',
    ]);
    const finalNext = vi.fn(async () => 'final');
    await expect(compose<Ctx>([(_c, next) => next()])(newCtx(), finalNext)).resolves.toBe('final');
    expect(finalNext).toHaveBeenCalledTimes(1);
  });

  it('handles an empty list: resolves, and still calls the final next', async () => {
    const finalNext = vi.fn(async () => undefined);
    await expect(compose<Ctx>([])(newCtx())).resolves.toBeUndefined();
    await compose<Ctx>([])(newCtx(), finalNext);
    expect(finalNext).toHaveBeenCalledTimes(1);
  });

  it('turns a synchronous throw into a rejection that reaches the caller', async () => {
    const failure = new Error('bad request');
    const composed = compose<Ctx>([
      layer('outer'),
      () => {
        throw failure;
      },
    ]);
    let returned: Promise<unknown> | undefined;
    expect(() => {
      returned = composed(newCtx());
    }, 'the composed function must not throw synchronously').not.toThrow();
    await expect(returned, 'the caller gets the very error that was thrown').rejects.toBe(failure);
    const throwsFirst = compose<Ctx>([
      () => {
        throw failure;
      },
    ]);
    let first: Promise<unknown> | undefined;
    expect(() => {
      first = throwsFirst(newCtx());
    }, 'not even when the first middleware throws').not.toThrow();
    await expect(first).rejects.toBe(failure);
  });

  it('lets an upstream middleware catch a downstream error, thrown or rejected', async () => {
    const errorHandler: Middleware<Ctx> = async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        ctx.status = 500;
        ctx.body = (error as Error).message;
      }
    };
    for (const failing of [
      () => {
        throw new Error('sync boom');
      },
      async () => {
        await tick();
        throw new Error('async boom');
      },
    ] satisfies Middleware<Ctx>[]) {
      const ctx = newCtx();
      await expect(
        compose<Ctx>([errorHandler, layer('router'), failing])(ctx),
        'an error handled upstream does not reach the caller',
      ).resolves.toBeUndefined();
      expect(ctx.status).toBe(500);
      expect(ctx.body).toMatch(/boom/);
      expect(ctx.log, 'the layer between skipped its "out" part: the error unwound through it').toEqual([
        'router in',
      ]);
    }
  });

  it('rejects a second call of next() from the same middleware, without running downstream again', async () => {
    const downstream = vi.fn();
    const composed = compose<Ctx>([
      async (_ctx, next) => {
        await next();
        await next();
      },
      downstream,
    ]);
    await expect(composed(newCtx())).rejects.toThrow('next() called multiple times');
    expect(downstream, 'the middleware after it ran once').toHaveBeenCalledTimes(1);

    const finalNext = vi.fn(async () => undefined);
    const lastCallsTwice = compose<Ctx>([
      layer('a'),
      async (_ctx, next) => {
        await next();
        await next();
      },
    ]);
    await expect(lastCallsTwice(newCtx(), finalNext), 'also for the last middleware').rejects.toThrow(
      'next() called multiple times',
    );
    expect(finalNext, 'the final next ran once').toHaveBeenCalledTimes(1);
  });

  it('rejects a second next() made before the first one has settled', async () => {
    const downstream = vi.fn(async () => {
      await tick();
    });
    const results: PromiseSettledResult<unknown>[] = [];
    const composed = compose<Ctx>([
      async (_ctx, next) => {
        results.push(...(await Promise.allSettled([next(), next()])));
      },
      downstream,
    ]);
    await composed(newCtx());
    expect(
      results.map((r) => r.status),
      'the first next() runs the chain, the second rejects',
    ).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('next() called multiple times'));
    expect(downstream, 'the middleware after it ran once, not once per call').toHaveBeenCalledTimes(1);
  });

  it('detects the second next() even when the middleware after it went further', async () => {
    const composed = compose<Ctx>([
      layer('a'),
      async (_ctx, next) => {
        await next();
        return next();
      },
      layer('c'),
      layer('d'),
    ]);
    await expect(composed(newCtx())).rejects.toThrow('next() called multiple times');
  });

  it('can be called many times, also concurrently, each call on its own', async () => {
    const composed = compose([layer('a'), layer('b')]);
    const contexts = [newCtx(), newCtx(), newCtx()];
    await Promise.all(contexts.map((ctx) => composed(ctx)));
    await composed(contexts[0]!);
    const once = ['a in', 'b in', 'b out', 'a out'];
    expect(contexts[0]!.log, 'a second call starts from the first middleware again').toEqual([
      ...once,
      ...once,
    ]);
    expect(contexts[1]!.log, 'concurrent calls do not share state').toEqual(once);
    expect(contexts[2]!.log).toEqual(once);
  });

  it('checks its input when composing', () => {
    expect(() => compose('nope' as never), 'not an array').toThrow(TypeError);
    expect(() => compose([layer('a'), 42 as never]), 'an entry that is not a function').toThrow(TypeError);
  });
});
