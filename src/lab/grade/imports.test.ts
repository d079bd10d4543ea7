/**
 * The import rule the grader enforces (a learner's file may import only Node built-ins, the course's
 * runtime dependencies and its own exercise's files): what it refuses, and that every reference
 * solution keeps to it, so no honest learner who imitates them loses points to it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { courseRoot, loadCourse } from '../course.js';
import { refusedImport, runtimeDependencies } from '../vitest/target-plugin.js';

const deps = runtimeDependencies();

describe('the grader’s import rule', () => {
  it.each(['node:fs', 'fs/promises', 'node:test', 'ioredis', 'ws', 'jose', './sibling.js'])(
    'allows %s',
    (s) => {
      expect(refusedImport(s, deps)).toBeUndefined();
    },
  );

  it.each([
    'vitest',
    '@vitest/expect',
    'chai',
    'tsx',
    'testcontainers',
    '/tmp/class/alice/exercises/00-setup/lab-check/percentile.ts',
    'file:///tmp/alice/percentile.ts',
    'data:text/javascript,export default 1',
  ])('refuses %s', (s) => {
    expect(refusedImport(s, deps)).toMatch(/^it imports /);
  });

  it('is kept by every reference solution and every stub', () => {
    const imports =
      /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/gm;
    const broken: string[] = [];
    for (const exercise of loadCourse().exercises)
      for (const full of exercise.manifest.files.flatMap((file) =>
        ['solutions', 'exercises'].map((dir) => path.join(courseRoot, dir, exercise.id, file)),
      )) {
        const text = readFileSync(full, 'utf8').replace(/^\s*import type .*$/gm, '');
        for (const match of text.matchAll(imports)) {
          const source = (match[1] ?? match[2]) as string;
          const outside =
            source.startsWith('.') &&
            path.relative(path.dirname(full), path.resolve(path.dirname(full), source)).startsWith('..');
          if (outside || refusedImport(source, deps))
            broken.push(`${path.relative(courseRoot, full)}: ${source}`);
        }
      }
    expect(broken).toEqual([]);
  });
});
