import { describe, expect, it } from 'vitest';
import { loadCourse } from '../course.js';
import { runSuites } from '../suite-runner.js';
import { resolveTargetDir } from '../target.js';

const course = loadCourse();
const labCheck = course.exercises.find((e) => e.id === '00-setup/lab-check')!;

async function run(target: string) {
  const result = await runSuites({
    files: labCheck.testFiles,
    target: { dir: resolveTargetDir(target) },
    needsRedis: false,
    reporter: 'none',
    output: 'capture',
    env: { LAB_FS_CACHE: '1' },
  });
  const tests = result.results?.files.flatMap((f) => f.tests) ?? [];
  return {
    passed: tests.filter((t) => t.status === 'passed').length,
    total: tests.length,
    exitCode: result.exitCode,
  };
}

describe('LAB_TARGET with Vitest’s on-disk module cache', () => {
  it('runs solutions, then stubs, then solutions again: green, red, green', async () => {
    const first = await run('solutions');
    const second = await run('exercises');
    const third = await run('solutions');
    expect(first.total, 'the suite must have tests').toBeGreaterThan(0);
    expect(first, 'solutions: every test passes').toEqual({
      passed: first.total,
      total: first.total,
      exitCode: 0,
    });
    expect(
      second.passed,
      'stubs: no test passes, even though the test file was cached by the first run',
    ).toBe(0);
    expect(second.exitCode).not.toBe(0);
    expect(third, 'solutions again: the cache must not replay the stub run').toEqual(first);
  }, 60_000);

  it('refuses a relative LAB_TARGET, which would depend on the working directory', () => {
    expect(() => resolveTargetDir('my-copy/exercises')).toThrow(/absolute path/);
  });
});
