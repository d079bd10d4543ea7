/**
 * The learner commands on a fresh clone: a temp copy of the course with chapter 00 only (and
 * node_modules linked), driven through the CLI as `npm run <command>` drives it, without a TTY.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { courseRoot } from '../course.js';

let clone: string;
const LAB = 'exercises/00-setup/lab-check/percentile.ts';

/** Runs a lab command in the clone; stdout and stderr together. */
function lab(...args: string[]): { code: number | null; out: string } {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(clone, 'src/lab/cli.ts'), ...args],
    {
      cwd: clone,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '', NO_COLOR: '', LAB_TARGET: '', LAB_HIDDEN_DIR: '' },
      timeout: 90_000,
    },
  );
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

beforeAll(() => {
  clone = mkdtempSync(path.join(os.tmpdir(), 'lab-clone-'));
  for (const f of ['package.json', 'tsconfig.json', 'vitest.config.mts'])
    cpSync(path.join(courseRoot, f), path.join(clone, f));
  cpSync(path.join(courseRoot, 'src'), path.join(clone, 'src'), { recursive: true });
  for (const dir of ['exercises', 'solutions'])
    cpSync(path.join(courseRoot, dir, '00-setup'), path.join(clone, dir, '00-setup'), { recursive: true });
  mkdirSync(path.join(clone, 'docs'));
  cpSync(path.join(courseRoot, 'docs/00-setup.mdx'), path.join(clone, 'docs/00-setup.mdx'));
  symlinkSync(path.join(courseRoot, 'node_modules'), path.join(clone, 'node_modules'));
});

afterAll(() => {
  if (clone) rmSync(clone, { recursive: true, force: true });
});

describe('learner commands on a fresh clone', { timeout: 90_000 }, () => {
  it('progress: nothing started, a bar per chapter, and the first exercise next', () => {
    const { code, out } = lab('progress');
    expect(code).toBe(0);
    expect(out).toMatch(/00 Getting started\n\s+\[-+\]\s+0%\s+0\/2/);
    expect(out).toMatch(/lab-check\s+○ not started/);
    expect(out).toMatch(/Next: Latency percentiles/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no colour codes without a TTY
    expect(out, 'no colours when stdout is not a terminal').not.toMatch(/\u001b\[/);
  });

  it('hint: one new hint per call, remembered; --all shows every one', () => {
    expect(lab('hint', '00/lab-check').out).toMatch(/^Hint 1 of \d/m);
    expect(lab('hint', 'lab-check').out).toMatch(/^Hint 2 of \d/m);
    const seen = JSON.parse(readFileSync(path.join(clone, '.lab/hints.json'), 'utf8'));
    expect(seen['00-setup/lab-check']).toBe(2);
    const all = lab('hint', '00/lab-check', '--all').out;
    expect(all).toMatch(/Hint 1 of/);
    expect(all).toMatch(/Hint 3 of/);
  });

  it('every command names the closest exercise for a typo, and has --help', () => {
    for (const command of ['hint', 'reset', 'solution', 'serve', 'bench']) {
      const { code, out } = lab(command, 'lab-chek');
      expect(code, command).toBe(2);
      expect(out, command).toMatch(/Did you mean "lab-check"\?/);
    }
    for (const command of ['progress', 'hint', 'reset', 'solution', 'serve', 'bench', 'grade']) {
      const { code, out } = lab(command, '--help');
      expect(code, command).toBe(0);
      expect(out, command).toMatch(/^Usage: npm run/);
    }
  });

  it('solution: refused before the tests pass, shown with a warning under --force', () => {
    const refused = lab('solution', '00/lab-check');
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/do not pass yet/);
    const forced = lab('solution', '00/lab-check', '--force');
    expect(forced.code).toBe(0);
    expect(forced.out).toMatch(/--force/);
    expect(forced.out).toContain(
      readFileSync(path.join(courseRoot, 'solutions/00-setup/lab-check/percentile.ts'), 'utf8').slice(0, 200),
    );
  });

  it('reset: asks (needs --yes without a terminal), restores the stub and keeps a backup', () => {
    const stub = readFileSync(path.join(clone, LAB), 'utf8');
    writeFileSync(path.join(clone, LAB), '// my attempt\n');
    const refused = lab('reset', '00/lab-check');
    expect(refused.code).toBe(2);
    expect(refused.out).toMatch(/--yes/);
    expect(readFileSync(path.join(clone, LAB), 'utf8')).toBe('// my attempt\n');

    const done = lab('reset', '00/lab-check', '--yes');
    expect(done.code).toBe(0);
    expect(readFileSync(path.join(clone, LAB), 'utf8')).toBe(stub);
    const backups = path.join(clone, '.lab/backups/00-setup/lab-check');
    const [stamp] = readdirSync(backups);
    expect(readFileSync(path.join(backups, stamp as string, 'percentile.ts'), 'utf8')).toBe(
      '// my attempt\n',
    );
    expect(lab('reset', '00/lab-check', '--yes').out).toMatch(/already the untouched stub/);
  });

  it('after npm test solves an exercise: progress counts it and solution shows the diff', () => {
    cpSync(path.join(clone, 'solutions/00-setup/lab-check/percentile.ts'), path.join(clone, LAB));
    const test = lab('test', '00/lab-check');
    expect(test.code, test.out).toBe(0);
    const progress = lab('progress').out;
    expect(progress).toMatch(/lab-check\s+✔ solved/);
    expect(progress).toMatch(/1\/2/);
    expect(progress).toMatch(/Next: A page-visit counter on Redis/);
    expect(lab('solution', '00/lab-check', '--diff').out).toMatch(/identical/);
    expect(existsSync(path.join(clone, '.lab/progress.json'))).toBe(true);
  });
});
