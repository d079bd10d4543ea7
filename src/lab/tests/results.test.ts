/**
 * What a learner and an instructor read when a suite could not run: the whole message, with paths
 * from the learner's folder; and an exercise's tests in the order its manifest teaches them.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Exercise, loadCourse } from '../course.js';
import { describeFileError, type RunResults, resultsByExercise } from '../results.js';

const esc = (code: string) => `\u001b[${code}m`;

/** Vite 8's message for a learner's file that does not parse, ANSI colours and all (from a real run). */
const transformFailed = (file: string) =>
  [
    'Transform failed with 1 error:',
    '',
    `${esc('31')}[PARSE_ERROR] ${esc('0')}Unexpected token`,
    `   ${esc('38;5;246')}╭${esc('0')}${esc('38;5;246')}─${esc('0')}${esc('38;5;246')}[${esc('0')} ${file}:3:22 ${esc('38;5;246')}]${esc('0')}`,
    `   ${esc('38;5;246')}│${esc('0')}`,
    ` ${esc('38;5;246')}3 │${esc('0')} ${esc('38;5;249')}  return samples[0] +;${esc('0')}`,
    ` ${esc('38;5;240')}  │${esc('0')}                      ┬  `,
    ` ${esc('38;5;240')}  │${esc('0')}                      ╰── `,
    `${esc('38;5;246')}───╯${esc('0')}`,
    '',
  ].join('\n');

describe('describeFileError', () => {
  const sandbox = '/tmp/lab-grade-abc/slot-0';
  const course = '/work/course';

  it('turns "Transform failed" into file:line:column: message, with the code frame, from the learner’s folder', () => {
    for (const shown of [
      `${sandbox}/exercises/00-setup/lab-check/percentile.ts`,
      // Vite names the file relative to the working folder
      path.relative(course, `${sandbox}/exercises/00-setup/lab-check/percentile.ts`),
    ]) {
      const text = describeFileError(transformFailed(shown), sandbox, course, course);
      const [first, ...frame] = text.split('\n');
      expect(first).toBe('exercises/00-setup/lab-check/percentile.ts:3:22: Unexpected token (PARSE_ERROR)');
      expect(frame.join('\n')).toContain('3 │   return samples[0] +;');
      expect(text).not.toMatch(/lab-grade-|Transform failed/);
      expect(text).not.toContain('\u001b');
    }
  });

  it('keeps the whole no-Redis message, and names course files from the course', () => {
    const noRedis = [
      'This exercise needs Redis, and none could be found or started. Any one of these fixes it:',
      ...Array.from({ length: 14 }, (_, i) => `  line ${i + 1}`),
      '    at requireRedis (/work/course/src/testing/redis.ts:38:22)',
    ].join('\n');
    const text = describeFileError(noRedis, sandbox, course, course);
    expect(text).toMatch(/line 14$/);
    expect(text).not.toMatch(/ at requireRedis/);
    expect(
      describeFileError(`Error in ${course}/src/x.ts and ${sandbox}/exercises/a.ts`, sandbox, course),
    ).toBe('Error in src/x.ts and exercises/a.ts');
  });
});

describe('resultsByExercise', () => {
  it('lists an exercise’s tests in the order of its suites (its manifest’s files), not Vitest’s', () => {
    const exercise = {
      id: '08-traffic/rate-limiter',
      testFiles: ['/c/token-bucket.test.ts', '/c/redis-limiter.test.ts', '/c/http-limit.test.ts'],
    } as unknown as Exercise;
    const file = (name: string, test: string) => ({
      file: `08-traffic/rate-limiter/${name}`,
      hidden: false,
      tests: [{ name: test, status: 'failed' as const, durationMs: 1 }],
      durationMs: 1,
    });
    const run: RunResults = {
      target: '/c',
      files: [
        file('http-limit.test.ts', 'withRateLimit'),
        file('token-bucket.test.ts', 'token bucket'),
        file('redis-limiter.test.ts', 'redis'),
      ],
      unhandledErrors: [],
      durationMs: 1,
    };
    const [result] = resultsByExercise(
      { root: '/c', chapters: [], exercises: [exercise] } as unknown as Parameters<
        typeof resultsByExercise
      >[0],
      run,
    );
    expect(result?.tests.map((t) => t.name)).toEqual(['token bucket', 'redis', 'withRateLimit']);
  });
});

describe('the course’s own order', () => {
  it('rate-limiter starts with the token bucket, as its manifest, hints and page do', () => {
    const limiter = loadCourse().exercises.find((e) => e.id === '08-traffic/rate-limiter');
    expect(limiter?.testFiles.map((f) => path.basename(f))).toEqual([
      'token-bucket.test.ts',
      'redis-limiter.test.ts',
      'http-limit.test.ts',
    ]);
  });
});
