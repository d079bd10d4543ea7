/** Finding submissions: copies, folders of copies, wrapped downloads and archives. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSubmissions } from './submissions.js';

let work: string;
const copy = (dir: string) => {
  mkdirSync(path.join(dir, 'exercises/00-setup/lab-check'), { recursive: true });
  writeFileSync(path.join(dir, 'exercises/00-setup/lab-check/percentile.ts'), 'export {};\n');
};
const unpackDir = () => mkdtempSync(path.join(work, 'unpack-'));
const learners = (paths: string[]) => findSubmissions(paths, unpackDir()).map((s) => s.learner);

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'lab-submissions-'));
  copy(path.join(work, 'class/alice'));
  copy(path.join(work, 'class/bob/system-design-lab-main')); // GitHub's "Download ZIP" layout
  mkdirSync(path.join(work, 'class/not-a-copy'));
  copy(path.join(work, 'zips/carol'));
  execFileSync('zip', ['-qr', '../carol.zip', '.'], { cwd: path.join(work, 'zips/carol') });
  execFileSync('tar', [
    '-czf',
    path.join(work, 'class/dave.tar.gz'),
    '-C',
    path.join(work, 'zips/carol'),
    '.',
  ]);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('findSubmissions', () => {
  it('takes one subfolder or archive per learner, unwrapping a single top folder', () => {
    expect(learners([path.join(work, 'class')])).toEqual(['alice', 'bob', 'dave']);
  });

  it('takes a copy itself, and an archive of one', () => {
    expect(learners([path.join(work, 'class/alice'), path.join(work, 'zips/carol.zip')])).toEqual([
      'alice',
      'carol',
    ]);
  });

  it('refuses what is not a submission, and two learners with one name', () => {
    expect(() => learners([path.join(work, 'class/not-a-copy')])).toThrow(/neither a copy of the course/);
    expect(() => learners([path.join(work, 'nope')])).toThrow(/no such file or folder/);
    expect(() => learners([path.join(work, 'class/alice'), path.join(work, 'class/alice')])).toThrow(
      /Two submissions are called "alice"/,
    );
  });
});
