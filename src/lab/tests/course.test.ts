import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkCourse, loadCourse } from '../course.js';
import { parseManifest } from '../manifest.js';
import { selectExercises, selectOneExercise } from '../select.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const manifest = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  title: 'An exercise',
  summary: 'A summary that is long enough to pass.',
  difficulty: 1,
  minutes: 10,
  concepts: ['testing'],
  files: ['impl.ts'],
  ...extra,
});

/** Writes a small course into a temp folder: `files` maps relative paths to contents. */
function fakeCourse(files: Record<string, string | object>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lab-course-'));
  roots.push(root);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return root;
}

const complete = (id = '08-traffic/limiter') => ({
  [`exercises/${id}/exercise.json`]: manifest(id),
  [`exercises/${id}/impl.ts`]: '',
  [`exercises/${id}/impl.test.ts`]: '',
  [`exercises/${id}/HINTS.md`]: '## Hint 1',
  [`solutions/${id}/impl.ts`]: '',
  [`docs/${id.split('/')[0]}.mdx`]: '# page',
});

describe('the manifest schema', () => {
  it('names the file and every bad field', () => {
    expect(() =>
      parseManifest('x/exercise.json', JSON.stringify({ ...manifest('08-traffic/x'), difficulty: 5 })),
    ).toThrow(/x\/exercise\.json[\s\S]*difficulty/);
    expect(() => parseManifest('y/exercise.json', '{ not json')).toThrow(
      /y\/exercise\.json[\s\S]*not valid JSON/,
    );
    expect(() => parseManifest('z.json', JSON.stringify({ ...manifest('08-traffic/x'), extra: 1 }))).toThrow(
      /extra/,
    );
  });

  it('applies defaults', () => {
    const m = parseManifest('m.json', JSON.stringify(manifest('08-traffic/x')));
    expect(m.needs).toEqual([]);
    expect(m.points).toBe(10);
  });
});

describe('course consistency (verify)', () => {
  it('accepts a complete exercise', () => {
    expect(checkCourse(fakeCourse(complete()))).toEqual([]);
  });

  it('names an id that does not match its folder', () => {
    const files = {
      ...complete(),
      'exercises/08-traffic/limiter/exercise.json': manifest('08-traffic/other'),
    };
    expect(checkCourse(fakeCourse(files))).toEqual([
      expect.stringMatching(
        /exercises\/08-traffic\/limiter\/exercise\.json: id is "08-traffic\/other".*"08-traffic\/limiter"/,
      ),
    ]);
  });

  it('names a listed file missing from the exercise or from solutions/', () => {
    const files: Record<string, string | object> = complete();
    delete files['exercises/08-traffic/limiter/impl.ts'];
    delete files['solutions/08-traffic/limiter/impl.ts'];
    const problems = checkCourse(fakeCourse(files));
    expect(problems).toContainEqual(
      expect.stringMatching(/files lists impl\.ts, which is not in exercises\/08-traffic\/limiter/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/solutions\/08-traffic\/limiter\/impl\.ts is missing/),
    );
  });

  it('names a chapter without a docs page, a folder outside the syllabus, and missing hints or suites', () => {
    const files: Record<string, string | object> = {
      ...complete(),
      'exercises/99-nope/x/exercise.json': manifest('99-nope/x'),
    };
    delete files['docs/08-traffic.mdx'];
    delete files['exercises/08-traffic/limiter/HINTS.md'];
    delete files['exercises/08-traffic/limiter/impl.test.ts'];
    const problems = checkCourse(fakeCourse(files));
    expect(problems).toContainEqual(
      expect.stringMatching(/exercises\/08-traffic: the chapter has no docs page/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/exercises\/99-nope: not a chapter of the syllabus/),
    );
    expect(problems).toContainEqual(expect.stringMatching(/no HINTS\.md/));
    expect(problems).toContainEqual(expect.stringMatching(/no \*\.test\.ts suite/));
  });

  it('lists a chapter’s exercises in their manifests’ order, then by name', () => {
    const files = {
      ...complete('08-traffic/zeta'),
      ...complete('08-traffic/alpha'),
      ...complete('08-traffic/beta'),
      'exercises/08-traffic/zeta/exercise.json': manifest('08-traffic/zeta', { order: 1 }),
      'exercises/08-traffic/beta/exercise.json': manifest('08-traffic/beta', { order: 2 }),
    };
    expect(loadCourse(fakeCourse(files)).exercises.map((e) => e.name)).toEqual(['zeta', 'beta', 'alpha']);
  });

  it('holds a given copy of another exercise’s answer to its source (a header comment may differ)', () => {
    const source = 'export const x = 1;\n';
    const files = {
      ...complete('08-traffic/user'),
      'solutions/08-traffic/source/impl.ts': source,
      'exercises/08-traffic/user/exercise.json': manifest('08-traffic/user', {
        copies: { 'given.ts': 'solutions/08-traffic/source/impl.ts' },
      }),
      'exercises/08-traffic/user/given.ts': `/*\n * A copy of 08-traffic/source's answer.\n */\n${source}`,
    };
    expect(checkCourse(fakeCourse(files)).filter((p) => p.includes('given.ts'))).toEqual([]);
    const drifted = { ...files, 'exercises/08-traffic/user/given.ts': `/* copy */\nexport const x = 2;\n` };
    expect(checkCourse(fakeCourse(drifted))).toContainEqual(
      expect.stringMatching(/given\.ts no longer matches solutions\/08-traffic\/source\/impl\.ts/),
    );
  });

  it('loads leniently: an invalid manifest leaves out that exercise only', () => {
    const files = {
      ...complete(),
      ...complete('08-traffic/broken'),
      'exercises/08-traffic/broken/exercise.json': '{',
    };
    expect(loadCourse(fakeCourse(files)).exercises.map((e) => e.id)).toEqual(['08-traffic/limiter']);
  });
});

describe('selectors', () => {
  const course = loadCourse(
    fakeCourse({
      ...complete('08-traffic/limiter'),
      ...complete('08-traffic/balancers'),
      ...complete('00-setup/lab-check'),
    }),
  );
  const ids = (selectors: string[]) => selectExercises(course, selectors).map((e) => e.id);

  it('select by chapter number, name, slug, exercise and several at once, in course order', () => {
    expect(ids([])).toEqual(['00-setup/lab-check', '08-traffic/balancers', '08-traffic/limiter']);
    expect(ids(['8'])).toEqual(['08-traffic/balancers', '08-traffic/limiter']);
    expect(ids(['08'])).toEqual(ids(['traffic']));
    expect(ids(['08-traffic'])).toEqual(ids(['traffic']));
    expect(ids(['08/limiter'])).toEqual(['08-traffic/limiter']);
    expect(ids(['traffic/limiter'])).toEqual(['08-traffic/limiter']);
    expect(ids(['limiter', '0'])).toEqual(['00-setup/lab-check', '08-traffic/limiter']);
  });

  it('reject an unknown selector with the valid ones and a suggestion', () => {
    expect(() => ids(['limitr'])).toThrow(
      /No chapter or exercise is called "limitr"[\s\S]*Did you mean "limiter"[\s\S]*08\/balancers/,
    );
    expect(() => ids(['10'])).toThrow(/Chapter 10-realtime .* has no exercises yet/);
    expect(() => selectOneExercise(course, '08')).toThrow(/names 2 exercises/);
  });
});
