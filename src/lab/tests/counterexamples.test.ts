import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  intoRounds,
  layOutForTypecheck,
  layOutSubmission,
  readCaughtBy,
  readCounterexamples,
  writeCaughtBy,
} from '../counterexamples.js';
import { loadCourse } from '../course.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A course of two exercises; `extra` maps relative paths to contents. */
function fakeCourse(extra: Record<string, string>) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lab-ce-'));
  roots.push(root);
  const files: Record<string, string> = { 'docs/08-traffic.mdx': '# page', ...extra };
  for (const name of ['limiter', 'balancer']) {
    const id = `08-traffic/${name}`;
    Object.assign(files, {
      [`exercises/${id}/exercise.json`]: JSON.stringify({
        id,
        title: 'An exercise',
        summary: 'A summary that is long enough to pass.',
        difficulty: 1,
        minutes: 10,
        concepts: ['testing'],
        files: ['impl.ts', 'other.ts'],
      }),
      [`exercises/${id}/impl.ts`]: 'stub',
      [`exercises/${id}/other.ts`]: 'stub',
      [`exercises/${id}/impl.test.ts`]: '',
      [`exercises/${id}/HINTS.md`]: '## Hint 1',
      [`solutions/${id}/impl.ts`]: `solution impl of ${name}`,
      [`solutions/${id}/other.ts`]: `solution other of ${name}`,
    });
  }
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
  return loadCourse(root);
}

const variant = (id: string, files: Record<string, string> = { 'impl.ts': 'wrong' }) =>
  Object.fromEntries([
    [`counterexamples/${id}/WHY.md`, `# ${id.split('/').pop()}\n\n**Defect.** ...`],
    ...Object.entries(files).map(([f, c]) => [`counterexamples/${id}/${f}`, c]),
  ]);

describe('the counterexample corpus', () => {
  it('reads variants with the first heading of WHY.md as their title', () => {
    const course = fakeCourse({ ...variant('08-traffic/limiter/off-by-one') });
    const { counterexamples } = readCounterexamples(course);
    expect(counterexamples.map((c) => [c.id, c.title, c.files])).toEqual([
      ['08-traffic/limiter/off-by-one', 'off-by-one', ['impl.ts']],
    ]);
  });

  it('names every layout problem with its folder', () => {
    const course = fakeCourse({
      ...variant('08-traffic/limiter/stray', { 'helper.ts': 'x' }),
      'counterexamples/08-traffic/limiter/no-why/impl.ts': 'x',
      'counterexamples/08-traffic/limiter/bad-why/WHY.md': 'no heading',
      'counterexamples/08-traffic/limiter/bad-why/impl.ts': 'x',
      ...variant('08-traffic/nothing-here/v'),
    });
    const { problems, counterexamples } = readCounterexamples(course);
    expect(counterexamples).toEqual([]);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/limiter\/stray: helper\.ts is not among the files a learner edits/),
        expect.stringMatching(/limiter\/no-why: no WHY\.md/),
        expect.stringMatching(/limiter\/bad-why\/WHY\.md: must start with "# /),
        expect.stringMatching(/nothing-here: no exercise is called/),
      ]),
    );
  });

  it('requires at least three per exercise', () => {
    const course = fakeCourse({
      ...variant('08-traffic/limiter/a'),
      ...variant('08-traffic/limiter/b'),
      ...variant('08-traffic/limiter/c'),
      ...variant('08-traffic/balancer/a'),
    });
    const { problems } = readCounterexamples(course);
    expect(problems).toEqual([
      'counterexamples/08-traffic/balancer: 1 counterexample(s); every exercise needs at least 3',
    ]);
  });

  it('packs at most one variant per exercise into a round', () => {
    const course = fakeCourse({
      ...variant('08-traffic/limiter/a'),
      ...variant('08-traffic/limiter/b'),
      ...variant('08-traffic/balancer/a'),
    });
    const rounds = intoRounds(readCounterexamples(course).counterexamples);
    expect(rounds.map((r) => r.map((c) => c.id))).toEqual([
      ['08-traffic/balancer/a', '08-traffic/limiter/a'],
      ['08-traffic/limiter/b'],
    ]);
  });

  it('lays a variant out as a submission: the solution with the changed files swapped in', () => {
    const course = fakeCourse({ ...variant('08-traffic/limiter/a', { 'other.ts': 'wrong other' }) });
    const [c] = readCounterexamples(course).counterexamples;
    const into = path.join(course.root, 'submission');
    layOutSubmission(course, c ? [c] : [], into);
    const read = (f: string) => readFileSync(path.join(into, 'exercises/08-traffic/limiter', f), 'utf8');
    expect(read('impl.ts')).toBe('solution impl of limiter');
    expect(read('other.ts')).toBe('wrong other');
    expect(existsSync(path.join(into, 'exercises/08-traffic/balancer'))).toBe(false);
  });

  it('lays a variant out for the typecheck with the given files it imports, and nothing else', () => {
    const course = fakeCourse({
      ...variant('08-traffic/limiter/a', { 'impl.ts': "import type { Shape } from './types.js';" }),
      'exercises/08-traffic/limiter/types.ts': "import { unit } from './units';",
      'exercises/08-traffic/limiter/units.ts': 'export const unit = 1;',
      'exercises/08-traffic/limiter/serve.ts': "import { limit } from './impl.js';",
    });
    const [c] = readCounterexamples(course).counterexamples;
    const into = path.join(course.root, 'typecheck');
    layOutForTypecheck(course, c ? [c] : [], into);
    const dir = path.join(into, '08-traffic/limiter/a');
    const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
    expect(read('impl.ts'), 'the variant’s file').toContain("from './types.js'");
    expect(read('other.ts'), 'the manifest’s other file, from the solution').toBe(
      'solution other of limiter',
    );
    expect(read('types.ts'), 'a given file the variant imports').toContain('./units');
    expect(read('units.ts'), 'and what that one imports, extension or not').toBe('export const unit = 1;');
    expect(existsSync(path.join(dir, 'serve.ts')), 'an entry point nothing imports stays out').toBe(false);
  });

  it('keeps which test caught each variant, sorted, and rewrites the file only when it changes', () => {
    const course = fakeCourse({});
    const exercise = course.exercises.find((e) => e.id === '08-traffic/limiter');
    if (!exercise) throw new Error('no limiter in the fake course');
    mkdirSync(path.join(course.root, 'counterexamples/08-traffic/limiter'), { recursive: true });
    expect(readCaughtBy(course, exercise), 'no file yet').toEqual({});
    const catchers = {
      'z-last': { file: 'impl.test.ts', test: 'b > two' },
      'a-first': { file: 'impl.test.ts', test: 'a > one' },
    };
    expect(writeCaughtBy(course, exercise, catchers), 'a new file is a change').toBe(true);
    expect(writeCaughtBy(course, exercise, { ...catchers }), 'the same catchers are not').toBe(false);
    const file = path.join(course.root, 'counterexamples/08-traffic/limiter/caught-by.json');
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).toEqual(['a-first', 'z-last']);
    expect(readCaughtBy(course, exercise)).toEqual(catchers);
    writeFileSync(file, '{ not json');
    expect(readCaughtBy(course, exercise), 'a broken file only costs time: it reads as empty').toEqual({});
  });
});
