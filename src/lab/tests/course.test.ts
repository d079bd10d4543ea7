import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkCourse, courseRoot, loadCourse, ManifestsError, orderSuites } from '../course.js';
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

  it('loads leniently about a chapter being written: no docs page, hints or solution yet', () => {
    const files: Record<string, string | object> = { ...complete(), ...complete('08-traffic/new') };
    delete files['docs/08-traffic.mdx'];
    delete files['exercises/08-traffic/new/HINTS.md'];
    delete files['solutions/08-traffic/new/impl.ts'];
    expect(loadCourse(fakeCourse(files)).exercises.map((e) => e.id)).toEqual([
      '08-traffic/limiter',
      '08-traffic/new',
    ]);
  });

  it('refuses a manifest that does not parse, naming the file and each bad field', () => {
    const broken = JSON.stringify(manifest('08-traffic/broken'), null, 2).replace(/\n}$/, ',\n}');
    const files = {
      ...complete(),
      ...complete('08-traffic/broken'),
      ...complete('08-traffic/typed'),
      'exercises/08-traffic/broken/exercise.json': broken, // a trailing comma
      'exercises/08-traffic/typed/exercise.json': manifest('08-traffic/typed', {
        points: '10',
        difficulty: 4,
      }),
    };
    const root = fakeCourse(files);
    let message = '';
    try {
      loadCourse(root);
    } catch (error) {
      expect(error).toBeInstanceOf(ManifestsError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/2 exercise manifests are not valid/);
    expect(message).toMatch(/exercises\/08-traffic\/broken\/exercise\.json: not valid JSON/);
    expect(message).toMatch(/exercises\/08-traffic\/typed\/exercise\.json: points: .*expected number/i);
    expect(message).toMatch(/exercises\/08-traffic\/typed\/exercise\.json: difficulty:/);
    // verify reports the same problems among the others
    expect(checkCourse(root)).toContainEqual(expect.stringMatching(/typed\/exercise\.json: points/));
  });

  it('the site build refuses a manifest that does not parse (read-exercises exits 1, naming it)', () => {
    const root = fakeCourse({
      ...complete(),
      'exercises/08-traffic/limiter/exercise.json': manifest('08-traffic/limiter', { points: 'ten' }),
    });
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(courseRoot, 'src/plugins/read-exercises.ts'), root],
      { encoding: 'utf8', cwd: courseRoot },
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/exercises\/08-traffic\/limiter\/exercise\.json: points:/);
  });

  it('orders an exercise’s suites as its manifest lists the files, then by name', () => {
    expect(
      orderSuites(
        ['http-limit.test.ts', 'redis-limiter.test.ts', 'token-bucket.test.ts'],
        ['token-bucket.ts', 'redis-limiter.ts', 'http-limit.ts'],
      ),
    ).toEqual(['token-bucket.test.ts', 'redis-limiter.test.ts', 'http-limit.test.ts']);
    expect(
      orderSuites(
        ['api.test.ts', 'controller.test.ts', 'repository.test.ts', 'service.test.ts'],
        ['users.ts', 'memory-repository.ts', 'redis-repository.ts', 'service.ts', 'controller.ts'],
      ),
    ).toEqual(['repository.test.ts', 'service.test.ts', 'controller.test.ts', 'api.test.ts']);
    const files = { ...complete(), 'exercises/08-traffic/limiter/a.test.ts': '' };
    const limiter = loadCourse(fakeCourse(files)).exercises[0];
    expect(limiter?.testFiles.map((f) => path.basename(f))).toEqual(['impl.test.ts', 'a.test.ts']);
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
