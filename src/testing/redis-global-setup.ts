/**
 * Vitest global setup: one Redis for the whole run, started only when a selected exercise needs it
 * (`LAB_NEEDS_REDIS=0` from the runner skips it), stopped when the run ends. Test files reach it
 * through {@link useRedis}, each in a database of its own.
 */
import type { TestProject } from 'vitest/node';
import { type RedisHandle, startRedis } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's Redis, or null when none was started. */
    labRedisUrl: string | null;
    /** Why there is no Redis, when a suite asks for one anyway. */
    labRedisProblem: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let handle: RedisHandle | undefined;
  if (process.env.LAB_NEEDS_REDIS === '0') {
    project.provide('labRedisUrl', null);
    project.provide(
      'labRedisProblem',
      'the runner was told no selected exercise needs Redis (LAB_NEEDS_REDIS=0)',
    );
  } else {
    try {
      handle = await startRedis();
      project.provide('labRedisUrl', handle.url);
      project.provide('labRedisProblem', null);
    } catch (error) {
      project.provide('labRedisUrl', null);
      project.provide('labRedisProblem', (error as Error).message);
    }
  }
  return async () => {
    await handle?.stop();
  };
}
