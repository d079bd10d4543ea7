/**
 * The grader against chapter 00, with a full-marks submission, a fresh copy, and one hostile
 * submission per way a learner's code can break a run. Each hostile one breaks lab-check and hands
 * in a correct redis-hello, which must keep its points.
 */
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { courseRoot, loadCourse } from '../course.js';
import { gradeAll } from './grade.js';
import type { ExerciseGrade, SubmissionGrade } from './score.js';

const course = loadCourse();
const chapter = course.exercises.filter((e) => e.chapter === '00-setup');
const fixtures = path.join(import.meta.dirname, 'fixtures/hostile');
const LAB = '00-setup/lab-check';
const REDIS = '00-setup/redis-hello';

let work: string;
let grades: Map<string, SubmissionGrade>;
let before: string;

/** A learner's copy: chapter 00 from `from` (solutions or exercises), then the given changes. */
function submission(name: string, from: 'solutions' | 'exercises', change?: (ex: string) => void) {
  const ex = path.join(work, 'class', name, 'exercises');
  cpSync(path.join(courseRoot, from, '00-setup'), path.join(ex, '00-setup'), { recursive: true });
  change?.(ex);
}
const hostileLabCheck = (fixture: string) => (ex: string) => {
  cpSync(path.join(fixtures, fixture), path.join(ex, LAB, 'percentile.ts'));
};

/** A fingerprint of every file below the given folders (paths, sizes and contents). */
function fingerprint(...dirs: string[]): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = path.join(dir, entry.name);
      hash.update(p);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) hash.update(readFileSync(p));
    }
  };
  for (const d of dirs) walk(d);
  return hash.digest('hex');
}

/** What failed, for an assertion's message. */
const failures = (e: ExerciseGrade) =>
  [e.error, ...e.tests.filter((t) => t.status !== 'passed').map((t) => `${t.name}: ${t.message}`)]
    .filter(Boolean)
    .join('\n');

const exercise = (learner: string, id: string): ExerciseGrade => {
  const found = grades.get(learner)?.exercises.find((e) => e.id === id);
  if (!found) throw new Error(`no grade for ${learner} ${id}`);
  return found;
};

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'lab-grade-test-'));
  submission('full-marks', 'solutions');
  submission('fresh', 'exercises');
  submission('does-not-compile', 'solutions', hostileLabCheck('does-not-compile.ts'));
  submission('loop-at-import', 'solutions', hostileLabCheck('loop-at-import.ts'));
  submission('loop-in-test', 'solutions', hostileLabCheck('loop-in-test.ts'));
  submission('never-settles', 'solutions', hostileLabCheck('never-settles.ts'));
  submission('exits', 'solutions', hostileLabCheck('exits.ts'));
  submission('eats-memory', 'solutions', hostileLabCheck('eats-memory.ts'));
  submission('kills-the-runner', 'solutions', hostileLabCheck('kills-the-runner.ts'));
  submission('imports-vitest', 'solutions', hostileLabCheck('imports-vitest.ts'));
  submission('imports-other-learner', 'solutions', (ex) => {
    const other = path.join(work, 'class/full-marks/exercises', LAB, 'percentile.ts');
    const text = readFileSync(path.join(fixtures, 'imports-other-learner.ts'), 'utf8');
    writeFileSync(path.join(ex, LAB, 'percentile.ts'), text.replace('__OTHER__', other));
  });
  submission('edited-tests', 'solutions', (ex) => {
    cpSync(path.join(courseRoot, 'exercises', LAB, 'percentile.ts'), path.join(ex, LAB, 'percentile.ts'));
    cpSync(path.join(fixtures, 'edited-test.test.ts'), path.join(ex, LAB, 'percentile.test.ts'));
  });
  submission('missing-file', 'solutions', (ex) => rmSync(path.join(ex, REDIS, 'visits.ts')));
  const outside = path.join(work, 'outside.ts');
  cpSync(path.join(courseRoot, 'solutions', LAB, 'percentile.ts'), outside);
  submission('symlink-outside', 'solutions', (ex) => {
    rmSync(path.join(ex, LAB, 'percentile.ts'));
    symlinkSync(outside, path.join(ex, LAB, 'percentile.ts'));
  });
  submission('binary-junk', 'solutions', (ex) => {
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    writeFileSync(path.join(ex, LAB, 'percentile.ts'), junk);
  });
  before = fingerprint(
    path.join(work, 'class'),
    path.join(courseRoot, 'exercises/00-setup'),
    path.join(courseRoot, 'solutions/00-setup'),
  );

  // Hidden suites are copied out of fixtures/ (which Vitest's config excludes).
  cpSync(path.join(import.meta.dirname, 'fixtures/hidden'), path.join(work, 'hidden'), { recursive: true });

  const started = Date.now();
  const list = await gradeAll({
    hiddenDir: path.join(work, 'hidden'),
    course,
    exercises: chapter,
    paths: [path.join(work, 'class')],
    outDir: path.join(work, 'out'),
    jobs: 2,
    fileTimeoutMs: 10_000,
    submissionTimeoutMs: 60_000,
    memoryMb: 256,
    sandbox: 'process', // the container mode has its own suite (sandbox.test.ts)
  });
  grades = new Map(list.map((g) => [g.learner, g]));
  console.log(`graded ${list.length} submissions in ${Date.now() - started} ms`);
}, 300_000); // 2-3 minutes on a 2-core machine shared with other work

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the grader on chapter 00', () => {
  it('gives full marks to a copy of solutions/', () => {
    const g = grades.get('full-marks');
    expect(g?.score, 'the reference solutions must earn every point').toBe(g?.maxScore);
    expect(g?.maxScore).toBe(15);
  });

  it('runs hidden suites with the exercise’s tests, shown to learners only after publishing', () => {
    const lab = exercise('full-marks', LAB);
    const hidden = lab.tests.filter((t) => t.hidden);
    expect(hidden.map((t) => t.name)).toEqual(['p100 is the largest sample (a grading-only test)']);
    expect(lab.score).toBe(5);
    const gradescope = JSON.parse(readFileSync(path.join(work, 'out/full-marks/gradescope.json'), 'utf8'));
    const shown = gradescope.tests.filter((t: { visibility: string }) => t.visibility === 'after_published');
    expect(shown).toHaveLength(1);
    expect(readFileSync(path.join(work, 'out/fresh/report.md'), 'utf8')).not.toMatch(/p100 is the largest/);
  });

  it('gives 0 to a fresh copy, every exercise "not implemented"', () => {
    expect(grades.get('fresh')?.score).toBe(0);
    for (const id of [LAB, REDIS]) expect(exercise('fresh', id).notImplemented, id).toBe(true);
  });

  const hostile: [string, RegExp][] = [
    ['does-not-compile', /does not compile/],
    ['loop-at-import', /did not finish within its time limit of 10 s/],
    ['loop-in-test', /did not finish within its time limit of 10 s/],
    ['never-settles', /did not finish within its time limit/],
    ['exits', /called process\.exit\(\)/],
    ['eats-memory', /memory limit \(256 MB\)/],
    ['kills-the-runner', /ended without reporting it \(did the code kill the test process\?\)/],
    [
      'imports-vitest',
      /percentile\.ts may not be graded: it imports "vitest"\. A submission may import only/,
    ],
    [
      'imports-other-learner',
      /may not be graded: it imports "\/.*full-marks\/exercises\/00-setup\/lab-check\/percentile\.ts"/,
    ],
    ['symlink-outside', /symbolic link to a file outside the submission/],
    ['binary-junk', /not a text file/],
  ];
  it.each(hostile)(
    '%s: lab-check scores 0 with a plain reason, redis-hello keeps its 10 points',
    (learner, reason) => {
      const lab = exercise(learner, LAB);
      expect(lab.score).toBe(0);
      expect(lab.status).toBe('error');
      expect(lab.error).toMatch(reason);
      const redis = exercise(learner, REDIS);
      expect(redis.score, `the other exercise must keep its score: ${failures(redis)}`).toBe(10);
    },
  );

  it('a compile error reaches every output with file, line, column and message, from the learner’s folder', () => {
    const where = /exercises\/00-setup\/lab-check\/percentile\.ts:3:22: Unexpected token \(PARSE_ERROR\)/;
    expect(exercise('does-not-compile', LAB).error).toMatch(where);
    const out = path.join(work, 'out/does-not-compile');
    const report = readFileSync(path.join(out, 'report.md'), 'utf8');
    const exercism = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    const gradescope = JSON.parse(readFileSync(path.join(out, 'gradescope.json'), 'utf8'));
    const junit = readFileSync(path.join(out, 'junit.xml'), 'utf8');
    for (const [name, text] of [
      ['report.md', report],
      ['results.json', exercism.tests.find((t: { name: string }) => t.name === LAB)?.message ?? ''],
      [
        'gradescope.json',
        gradescope.tests.find((t: { name: string }) => t.name.startsWith(LAB))?.output ?? '',
      ],
      ['junit.xml', junit],
    ] as const) {
      expect(text, name).toMatch(where);
      expect(text, `${name} names the code line`).toContain('return samples[0] +;');
      expect(text, `${name} has no grader temp path`).not.toMatch(/lab-grade-|slot-\d/);
      expect(text, name).not.toMatch(/Transform failed with 1 error:\s*$/m);
    }
  });

  it('ignores a submission’s edited test files and runs the pristine suite', () => {
    expect(exercise('edited-tests', LAB).score).toBe(0);
    expect(exercise('edited-tests', LAB).tests.length).toBeGreaterThan(1);
    const redis = exercise('edited-tests', REDIS);
    expect(redis.score, failures(redis)).toBe(10);
  });

  it('scores a missing file 0 and says so', () => {
    expect(exercise('missing-file', REDIS).error).toMatch(/visits\.ts is missing/);
    expect(exercise('missing-file', LAB).score).toBe(5);
  });

  it('writes every output under --out and nothing into the submissions or the course', () => {
    const out = path.join(work, 'out');
    expect(readdirSync(out).sort()).toEqual(
      [...[...grades.keys()].sort(), 'gradebook.csv', 'summary.md'].sort(),
    );
    for (const learner of grades.keys())
      expect(readdirSync(path.join(out, learner)).sort()).toEqual([
        'gradescope.json',
        'junit.xml',
        'report.md',
        'results.json',
      ]);
    expect(
      fingerprint(
        path.join(work, 'class'),
        path.join(courseRoot, 'exercises/00-setup'),
        path.join(courseRoot, 'solutions/00-setup'),
      ),
    ).toBe(before);
    expect(existsSync(path.join(work, 'class', 'fresh', '.lab'))).toBe(false);
  });

  it('writes the Exercism v3, Gradescope and JUnit shapes', () => {
    const out = path.join(work, 'out');
    const exercism = JSON.parse(readFileSync(path.join(out, 'loop-in-test/results.json'), 'utf8'));
    expect(exercism).toMatchObject({ version: 3, status: 'fail', score: 10, max_score: 15 });
    expect(exercism.tests[0]).toMatchObject({ name: LAB, status: 'error', task_id: LAB });
    const gradescope = JSON.parse(readFileSync(path.join(out, 'full-marks/gradescope.json'), 'utf8'));
    expect(gradescope).toMatchObject({ score: 15, max_score: 15 });
    const junit = readFileSync(path.join(out, 'fresh/junit.xml'), 'utf8');
    const labTests = exercise('fresh', LAB).tests.length; // the suite's tests and the hidden one
    expect(junit).toContain(
      `<testsuite name="00-setup/lab-check" tests="${labTests}" failures="${labTests}"`,
    );
    const csv = readFileSync(path.join(out, 'gradebook.csv'), 'utf8').split('\n');
    expect(csv[0]).toBe('learner,00-setup,total,max_score');
    expect(csv).toContain('full-marks,15,15,15');
    expect(readFileSync(path.join(out, 'summary.md'), 'utf8')).toMatch(/`00-setup\/lab-check` \| 2 of 15/);
    expect(statSync(path.join(out, 'fresh/report.md')).size).toBeGreaterThan(0);
  });
});
