/**
 * The learner commands on a fresh clone: a temp copy of the course with chapter 00 only (and
 * node_modules linked), driven through the CLI as `npm run <command>` drives it, without a TTY.
 */
import { spawn, spawnSync } from 'node:child_process';
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

const LB = 'exercises/08-traffic/http-load-balancer';
const ESC = '\u001b';
const ANSI = new RegExp(`${ESC}\\[`);

/**
 * The environment of a learner's shell: no colour variables at all (Vitest reads an empty NO_COLOR as
 * "no colours", which would hide a lab that forgot to pass its choice on), no target, plus `extra`.
 */
function learnerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of ['FORCE_COLOR', 'NO_COLOR', 'LAB_TARGET', 'LAB_HIDDEN_DIR', 'CI'])
    if (!(key in extra)) delete env[key];
  return env;
}

/** Runs a lab command in the clone, its stdout a pipe; stdout and stderr together. */
function lab(...args: string[]): { code: number | null; out: string } {
  return labWith({}, ...args);
}

function labWith(env: NodeJS.ProcessEnv, ...args: string[]): { code: number | null; out: string } {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(clone, 'src/lab/cli.ts'), ...args],
    { cwd: clone, encoding: 'utf8', env: learnerEnv(env), timeout: 90_000 },
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
  // A server exercise (its stub only: serve must explain that it is not implemented yet).
  cpSync(path.join(courseRoot, LB), path.join(clone, LB), { recursive: true });
  mkdirSync(path.join(clone, 'docs'));
  cpSync(path.join(courseRoot, 'docs/00-setup.mdx'), path.join(clone, 'docs/00-setup.mdx'));
  symlinkSync(path.join(courseRoot, 'node_modules'), path.join(clone, 'node_modules'));
});

afterAll(() => {
  if (clone) rmSync(clone, { recursive: true, force: true });
});

describe('learner commands on a fresh clone', { timeout: 240_000 }, () => {
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
    // One exercise ran and passed; the course is not solved, and the next one is named.
    expect(test.out).toMatch(/00-setup\/lab-check is solved\. Next: A page-visit counter on Redis/);
    expect(test.out).not.toMatch(/All solved/);
    expect(test.out, 'a piped npm test carries no colour codes, Vitest’s included').not.toMatch(ANSI);
    const progress = lab('progress').out;
    expect(progress).toMatch(/lab-check\s+✔ solved/);
    expect(progress).toMatch(/1\/2/);
    expect(progress).toMatch(/Next: A page-visit counter on Redis/);
    expect(lab('solution', '00/lab-check', '--diff').out).toMatch(/identical/);
    expect(existsSync(path.join(clone, '.lab/progress.json'))).toBe(true);
  });

  it('reset after solving: progress says the exercise is back to its stub, not solved', () => {
    expect(lab('reset', '00/lab-check', '--yes').code).toBe(0);
    const progress = lab('progress').out;
    expect(progress).toMatch(/lab-check\s+○ back to its stub/);
    expect(progress).toMatch(/00 Getting started\n\s+\[-+\]\s+0%\s+0\/2/);
    expect(progress).toMatch(/Next: Latency percentiles/);
    // Put back by hand (or git) after another solve: progress compares the files with the stub.
    cpSync(path.join(clone, 'solutions/00-setup/lab-check/percentile.ts'), path.join(clone, LAB));
    expect(lab('test', '00/lab-check').code).toBe(0);
    cpSync(path.join(clone, '.lab/pristine/00-setup/lab-check/percentile.ts'), path.join(clone, LAB));
    expect(lab('progress').out).toMatch(/lab-check\s+○ back to its stub/);
  });

  it('FORCE_COLOR colours the lab’s output and Vitest’s alike; NO_COLOR turns both off', () => {
    const forced = labWith({ FORCE_COLOR: '1' }, 'test', '00/lab-check');
    expect(forced.out).toMatch(new RegExp(`${ESC}\\[\\d+m.*RUN`)); // Vitest's header
    expect(forced.out).toContain(`${ESC}[1mYour exercises`); // the lab's summary
    const off = labWith({ NO_COLOR: '1' }, 'progress');
    expect(off.out).not.toMatch(ANSI);
  });

  it('a compile error: the summary names file, line, column and message, not "Transform failed"', () => {
    const stub = readFileSync(path.join(clone, LAB), 'utf8');
    writeFileSync(path.join(clone, LAB), 'export function percentile(s: number[]) {\n  return s[0] +;\n}\n');
    try {
      const { code, out } = lab('test', '00/lab-check');
      expect(code).toBe(1);
      expect(out).toMatch(
        /lab-check\s+✘ did not run: exercises\/00-setup\/lab-check\/percentile\.ts:2:\d+: Unexpected token \(PARSE_ERROR\)/,
      );
      expect(out).not.toMatch(/did not run: Transform failed/);
      expect(out, 'Vitest’s tuning advice is not for learners').not.toMatch(/Isolate|workers spawned/);
    } finally {
      writeFileSync(path.join(clone, LAB), stub);
    }
  });

  it('an import the grader would refuse fails npm test too, saying why; a Node module is fine', () => {
    const stub = readFileSync(path.join(clone, LAB), 'utf8');
    try {
      writeFileSync(path.join(clone, LAB), `import { LRUCache } from 'lru-cache';\nvoid LRUCache;\n${stub}`);
      const refused = lab('test', '00/lab-check');
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(
        /percentile\.ts cannot be graded as it is: it imports "lru-cache", and the grader refuses that/,
      );
      writeFileSync(
        path.join(clone, LAB),
        `import { setTimeout as wait } from 'node:timers/promises';\nvoid wait;\n${stub}`,
      );
      const allowed = lab('test', '00/lab-check');
      expect(allowed.out, 'a Node built-in is allowed').not.toMatch(/cannot be graded/);
      expect(allowed.out, 'the stub’s own message comes back').toMatch(
        /percentile\(\) is not implemented yet/,
      );
    } finally {
      writeFileSync(path.join(clone, LAB), stub);
    }
  });

  it('no Redis: says so and how to get one, instead of sending the learner to edit visits.ts', () => {
    const bin = path.join(clone, '.bin-without-redis');
    mkdirSync(bin, { recursive: true });
    if (!existsSync(path.join(bin, 'node'))) symlinkSync(process.execPath, path.join(bin, 'node'));
    const { code, out } = labWith(
      { PATH: bin, LAB_REDIS_NO_DOCKER: '1', REDIS_URL: '' },
      'test',
      '00/redis-hello',
    );
    expect(code).toBe(1);
    expect(out).toMatch(/redis-hello\s+✘ did not run: no Redis could be found or started/);
    expect(out).toMatch(/Next: start a Redis/);
    expect(out).not.toMatch(/Next: .*edit exercises\/00-setup\/redis-hello\/visits\.ts/);
  });

  it('serve on an unsolved stub: says it is not implemented yet and offers --target solutions', () => {
    const { code, out } = lab('serve', '08/http-load-balancer');
    expect(code).toBe(1);
    expect(out).toMatch(/createLoadBalancer\(\) is not implemented in your code/);
    expect(out).toMatch(/npm run serve -- 08\/http-load-balancer --target solutions/);
    expect(out, 'no stack trace').not.toMatch(/^\s+at /m);
  });

  it('--watch keeps watching when stdin is not a terminal, and re-runs after an edit', async () => {
    const stub = readFileSync(path.join(clone, LAB), 'utf8');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(clone, 'src/lab/cli.ts'), 'test', '00/lab-check', '--watch'],
      { cwd: clone, env: learnerEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let out = '';
    let exited = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('exit', () => {
      exited = true;
    });
    const until = async (what: RegExp, ms: number) => {
      const deadline = Date.now() + ms;
      while (!what.test(out)) {
        if (exited) throw new Error(`the watch run exited before ${what}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    try {
      await until(/Watching for changes; stop with Ctrl-C\./, 80_000);
      expect(out).toMatch(/lab-check\s+✘ \d+ of \d+ tests failing/);
      expect(out, 'our own line offers q only in a terminal').not.toMatch(/Watching for changes; press q/);
      await new Promise((r) => setTimeout(r, 1500));
      expect(exited, `watch mode left after the first run:\n${out}`).toBe(false);
      cpSync(path.join(clone, 'solutions/00-setup/lab-check/percentile.ts'), path.join(clone, LAB));
      await until(/lab-check\s+✔ solved/, 80_000);
    } finally {
      if (child.pid && !exited) process.kill(-child.pid, 'SIGKILL');
      writeFileSync(path.join(clone, LAB), stub);
    }
  });

  it('a malformed exercise.json stops every command, naming the file and each bad field', () => {
    const manifestFile = path.join(clone, 'exercises/00-setup/redis-hello/exercise.json');
    const good = readFileSync(manifestFile, 'utf8');
    const grades = path.join(clone, '.grades');
    const commands = [
      ['test', '00'],
      ['test', '00/lab-check'],
      ['progress'],
      ['hint', '00/lab-check'],
      ['reset', '00/lab-check', '--yes'],
      ['solution', '00/lab-check'],
      ['serve', '08/http-load-balancer'],
      ['bench', '08/http-load-balancer'],
      ['grade', clone, '--out', grades],
    ];
    try {
      writeFileSync(manifestFile, good.replace(/\n}\s*$/, ',\n}\n')); // a trailing comma
      for (const args of commands) {
        const { code, out } = lab(...args);
        expect(code, `${args.join(' ')}\n${out}`).toBe(1);
        expect(out, args.join(' ')).toMatch(
          /exercises\/00-setup\/redis-hello\/exercise\.json is not a valid exercise manifest/,
        );
        expect(out, args.join(' ')).toMatch(/exercise\.json: not valid JSON/);
        expect(out, args.join(' ')).not.toMatch(/All solved|solved \(|Next:/);
      }
      writeFileSync(manifestFile, good.replace(/"points":\s*\d+/, '"points": "10"'));
      const { code, out } = lab('progress');
      expect(code).toBe(1);
      expect(out).toMatch(/redis-hello\/exercise\.json: points: .*expected number/i);
      expect(existsSync(grades), 'grade wrote nothing').toBe(false);
    } finally {
      writeFileSync(manifestFile, good);
    }
  });
});
