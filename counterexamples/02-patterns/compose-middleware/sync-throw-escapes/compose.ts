/**
 * Koa-style middleware composition: the "onion".
 *
 * Each middleware gets the shared context and a `next` function. Code before `await next()` runs on
 * the way in, code after it on the way out, in reverse order:
 *
 * ```ts
 * const app = compose<{ log: string[] }>([
 *   async (ctx, next) => { ctx.log.push('a in'); await next(); ctx.log.push('a out'); },
 *   async (ctx, next) => { ctx.log.push('b in'); await next(); ctx.log.push('b out'); },
 * ]);
 * const ctx = { log: [] };
 * await app(ctx);  // ctx.log: ['a in', 'b in', 'b out', 'a out']
 * ```
 *
 * The same semantics as the `koa-compose` package, which Koa uses to run an application.
 */

/** Runs the rest of the chain; resolves when everything downstream has finished. */
export type Next = () => Promise<unknown>;

/**
 * One layer of the onion: may be sync or async, may call `next` (at most once) or not at all
 * (then nothing downstream runs), and may return a value.
 */
export type Middleware<Context> = (ctx: Context, next: Next) => unknown;

/** The composed chain; itself a middleware, so composed chains nest. */
export type ComposedMiddleware<Context> = (ctx: Context, next?: Next) => Promise<unknown>;

/**
 * Composes `middleware` into one function.
 *
 * Calling the composed function with `(ctx, next?)`:
 * - calls the first middleware with `ctx` and a `next` that calls the second, and so on; the same
 *   `ctx` object goes to every middleware; the `next` given to the last one calls the optional
 *   `next` passed to the composed function (or does nothing and resolves);
 * - always returns a promise, even when every middleware is synchronous; it resolves with what the
 *   first middleware returned (awaited), and every `next()` likewise resolves with what the
 *   middleware it called returned;
 * - turns a synchronous `throw` in any middleware into a rejection of the `next()` promise that
 *   called it (so an upstream `try { await next() } catch` sees it) and, if nobody catches it, of
 *   the composed function's promise;
 * - rejects with `Error('next() called multiple times')` when one middleware calls its `next` a
 *   second time (on that second call; nothing downstream runs again).
 *
 * The composed function can be called many times, and concurrently; each call is independent.
 *
 * @throws {TypeError} at compose time when `middleware` is not an array or an entry is not a function
 */
export function compose<Context>(middleware: readonly Middleware<Context>[]): ComposedMiddleware<Context> {
  if (!Array.isArray(middleware)) throw new TypeError('compose() takes an array of middleware');
  for (const [i, fn] of middleware.entries()) {
    if (typeof fn !== 'function') throw new TypeError(`middleware[${i}] is not a function`);
  }

  return (ctx, finalNext) => {
    // The highest index dispatched so far in THIS call: dispatching it (or a lower one) again
    // means a middleware called its next() twice.
    let lastCalled = -1;

    const dispatch = (i: number): Promise<unknown> => {
      if (i <= lastCalled) return Promise.reject(new Error('next() called multiple times'));
      lastCalled = i;
      if (i === middleware.length) return Promise.resolve(finalNext?.());
      const fn = middleware[i]!;
      return Promise.resolve(fn(ctx, () => dispatch(i + 1)));
    };

    return dispatch(0);
  };
}
