/**
 * Vitest global setup: one Redis for the whole run, which test files reach through `useRedis()`,
 * each in a database of its own.
 *
 * - Started by the lab runner (`npm test`, verify, grade): the runner starts Redis while Vitest
 *   boots and hands it over in the file named by `LAB_REDIS_HANDOFF`; the runner also removes it.
 * - `LAB_NEEDS_REDIS=0`: no selected exercise needs Redis; none is started.
 * - Plain `vitest`: started here and released when the run ends.
 */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
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
  const handoff = process.env.LAB_REDIS_HANDOFF;
  if (handoff) {
    const given = await waitForHandoff(handoff);
    project.provide('labRedisUrl', given.url ?? null);
    project.provide('labRedisProblem', given.problem ?? null);
  } else if (process.env.LAB_NEEDS_REDIS === '0') {
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
    handle?.release();
  };
}

async function waitForHandoff(
  file: string,
  timeoutMs = 120_000,
): Promise<{ url?: string; problem?: string }> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline)
      return { problem: `the runner did not hand over a Redis within ${timeoutMs / 1000} s` };
    await delay(10);
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}
