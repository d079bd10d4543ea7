/**
 * The grader's container mode against chapter 00, with an honest submission and one per way hostile
 * code tries to reach past its sandbox. Each hostile one breaks lab-check and hands in a correct
 * redis-hello, which must keep its points; and nothing may reach the machine: no connection to the
 * host, no file written outside the container, no forged result, no container left behind.
 *
 * Needs a Docker engine and `LAB_NODE_IMAGE` (CI builds `lab-node:local` with
 * `LAB_WITH_NODE_IMAGE=1 source ../shared/ci/provision.sh`); without them it is skipped, saying so.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { courseRoot, loadCourse } from '../course.js';
import { dockerAnswers } from './container.js';
import { gradeAll } from './grade.js';
import type { ExerciseGrade, SubmissionGrade } from './score.js';

const usable = Boolean(process.env.LAB_NODE_IMAGE) && (await dockerAnswers());
if (!usable)
  console.warn(
    'sandbox.test.ts skipped: it needs a Docker engine and LAB_NODE_IMAGE (LAB_WITH_NODE_IMAGE=1 source ../shared/ci/provision.sh).',
  );

const course = loadCourse();
const chapter = course.exercises.filter((e) => e.chapter === '00-setup');
const fixtures = path.join(import.meta.dirname, 'fixtures/hostile');
const LAB = '00-setup/lab-check';
const REDIS = '00-setup/redis-hello';
const nonce = randomUUID();

let work: string;
let grades: Map<string, SubmissionGrade>;
let listener: Server;
const arrived: string[] = [];
let before: string;
let summary: string;

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

const exercise = (learner: string, id: string): ExerciseGrade => {
  const found = grades.get(learner)?.exercises.find((e) => e.id === id);
  if (!found) throw new Error(`no grade for ${learner} ${id}`);
  return found;
};

const gradeContainers = () =>
  execFileSync('docker', ['ps', '-aq', '--filter', `label=org.system-design-lab.pid=${process.pid}`], {
    encoding: 'utf8',
  }).trim();

describe.skipIf(!usable)('the grader’s container sandbox on chapter 00', () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'lab-sandbox-test-'));
    listener = createServer((socket) => {
      arrived.push(String(socket.remoteAddress));
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve));
    const port = (listener.address() as { port: number }).port;
    const out = path.join(work, 'out');
    const fill = (text: string) =>
      text
        .replaceAll('__PORT__', String(port))
        .replaceAll('__OUT__', out)
        .replaceAll('__COURSE__', courseRoot)
        .replaceAll('__NONCE__', nonce)
        .replaceAll('__CLASS__', path.join(work, 'class'));
    const submission = (name: string, fixture?: string) => {
      const ex = path.join(work, 'class', name, 'exercises');
      cpSync(path.join(courseRoot, 'solutions/00-setup'), path.join(ex, '00-setup'), { recursive: true });
      if (fixture)
        writeFileSync(
          path.join(ex, LAB, 'percentile.ts'),
          fill(readFileSync(path.join(fixtures, `${fixture}.ts`), 'utf8')),
        );
    };
    submission('honest');
    for (const f of hostile) submission(f[0], f[0]);
    before = fingerprint(path.join(work, 'class'), path.join(courseRoot, 'exercises/00-setup'));

    const started = Date.now();
    const list = await gradeAll({
      course,
      exercises: chapter,
      paths: [path.join(work, 'class')],
      outDir: out,
      jobs: 2,
      fileTimeoutMs: 8_000,
      submissionTimeoutMs: 90_000,
      memoryMb: 256,
      sandbox: 'docker',
    });
    grades = new Map(list.map((g) => [g.learner, g]));
    summary = readFileSync(path.join(out, 'summary.md'), 'utf8');
    console.log(`graded ${list.length} submissions in containers in ${Date.now() - started} ms`);
  }, 240_000);

  afterAll(async () => {
    listener?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const hostile: [string, RegExp][] = [
    ['connects-to-host', /./],
    ['writes-outside', /./],
    ['forges-report', /./],
    ['fork-bomb', /did not finish within its time limit of 8 s/],
    ['native-memory', /memory/],
    // Stopped by the file's time limit, or by the container's memory limit when the pipes fill up first.
    ['floods-stdout', /did not finish within its time limit of 8 s|memory/],
  ];

  it('gives full marks to an honest submission, and says how it was graded', () => {
    expect(grades.get('honest')?.score).toBe(15);
    expect(summary).toMatch(
      /Grading took [\d.]+ s \([\d.]+ s per submission on average, 2 at a time\); sandboxed/,
    );
  });

  it.each(hostile)('%s: lab-check scores 0, redis-hello keeps its 10 points', (learner, reason) => {
    const lab = exercise(learner, LAB);
    expect(lab.score, 'the hostile exercise must not score').toBe(0);
    expect(lab.error ?? lab.tests.map((t) => t.message).join('\n')).toMatch(reason);
    expect(exercise(learner, REDIS).score, 'the other exercise must keep its score').toBe(10);
  });

  it('a forged result never counts: the suite’s own tests are the ones scored', () => {
    const lab = exercise('forges-report', LAB);
    expect(lab.tests.map((t) => t.name)).not.toContain('forged');
    expect(lab.tests.length).toBeGreaterThan(1);
  });

  it('no connection reached the host', () => {
    expect(arrived).toEqual([]);
  });

  it('nothing was written outside the containers', () => {
    const out = path.join(work, 'out');
    expect(readdirSync(out).sort()).toEqual(
      [...[...grades.keys()].sort(), 'gradebook.csv', 'summary.md'].sort(),
    );
    expect(existsSync(`/tmp/lab-hostile-${nonce}`)).toBe(false);
    expect(fingerprint(path.join(work, 'class'), path.join(courseRoot, 'exercises/00-setup'))).toBe(before);
  });

  it('a flood of output stays in the sandbox: the report keeps a bounded excerpt', () => {
    expect(statSync(path.join(work, 'out/floods-stdout/report.md')).size).toBeLessThan(64 * 1024);
  });

  it('leaves no container behind', () => {
    expect(gradeContainers()).toBe('');
  });
});
