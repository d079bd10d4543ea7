/**
 * Guards against a hang: a call that should settle (or must not yet) is raced against a wide time
 * limit, so a wrong implementation fails its test with a message instead of the test's own time-out.
 * The limit is a bound, never a timing check: a rejection of the promise passes through unchanged.
 */

/** What {@link within} and {@link settlesWithin} give for a promise still pending after the limit. */
export const PENDING = 'pending';

/** Races `promise` against a timer of `ms`, and clears the timer whichever wins. */
async function race<T, L>(promise: Promise<T>, ms: number, late: () => L): Promise<T | L> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (error) {
        reject(error);
      }
    }, ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`'s value, or `'pending'` if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof PENDING> {
  return race(promise, ms, () => PENDING);
}

/** `'settled'` once `promise` resolves, or `'pending'` if it has not settled within `ms`. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<'settled' | typeof PENDING> {
  return within(
    promise.then(() => 'settled' as const),
    ms,
  );
}

/** `promise`'s value; rejects with "`what`: still pending after `ms` ms" if it has not settled by then. */
export function valueWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return race(promise, ms, (): never => {
    throw new Error(`${what}: still pending after ${ms} ms`);
  });
}
