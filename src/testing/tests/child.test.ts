/**
 * The child-process helper: it names the implementation file under each target as the target
 * plugin does, runs a TypeScript entry in plain Node (also one outside the course that imports a
 * package, as a graded submission's file does), and kills what a test leaves running.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { courseRoot } from '../../lab/course.js';
import { resolveTargetDir } from '../../lab/target.js';
import { implementationFile, targetFolder, useChildProcesses } from '../child.js';

const children = useChildProcesses();
const work = mkdtempSync(path.join(os.tmpdir(), 'lab-child-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const savedTarget = process.env.LAB_TARGET;
afterEach(() => {
  if (savedTarget === undefined) delete process.env.LAB_TARGET;
  else process.env.LAB_TARGET = savedTarget;
  delete (globalThis as { __stryker__?: unknown }).__stryker__;
});

/** Writes a file under the scratch folder and returns its path. */
function scratch(relative: string, text: string): string {
  const file = path.join(work, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

describe('implementationFile', () => {
  it('names the same folder as the runner for every form of LAB_TARGET', () => {
    for (const name of [undefined, '', 'exercises', 'solutions', work]) {
      expect(targetFolder(name), `LAB_TARGET=${name}`).toBe(resolveTargetDir(name));
    }
    expect(() => targetFolder('relative/dir')).toThrow(
      /neither "exercises", "solutions" nor an absolute path/,
    );
  });

  it("gives the target's copy of a listed file of the suite's exercise", () => {
    const suite = pathToFileURL(path.join(courseRoot, 'exercises/00-setup/redis-hello/visits.test.ts')).href;
    delete process.env.LAB_TARGET;
    expect(implementationFile(suite, 'visits.ts')).toBe(
      path.join(courseRoot, 'exercises/00-setup/redis-hello/visits.ts'),
    );
    process.env.LAB_TARGET = 'solutions';
    expect(implementationFile(suite, 'visits.ts')).toBe(
      path.join(courseRoot, 'solutions/00-setup/redis-hello/visits.ts'),
    );
    process.env.LAB_TARGET = work;
    const submitted = scratch('00-setup/redis-hello/visits.ts', 'export {};\n');
    expect(implementationFile(suite, 'visits.ts')).toBe(submitted);
    expect(() => implementationFile(suite, 'missing.ts')).toThrow(/missing\.ts does not exist/);
  });
});

describe('useChildProcesses', () => {
  it('runs a TypeScript entry outside the course whose imports need the course packages', async () => {
    // A graded submission lies under the temp folder, with no node_modules above it: a .ts file
    // there runs as CommonJS (require), a .mts file as an ES module (import). Both must find ioredis.
    const body = [
      "import { Redis } from 'ioredis';",
      'const typed: number = 42;',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the child's source text, with its own template literal
      "console.log(`ready ${typeof Redis} ${typed} ${process.argv.slice(2).join(',')} ${process.env.CHILD_TEST_VAR}`);",
    ].join('\n');
    const started = ['outside/entry.ts', 'outside/entry.mts'].map((file) =>
      children.start(scratch(file, body), { args: ['a', 'b'], env: { CHILD_TEST_VAR: 'x' } }),
    );
    for (const child of started) {
      const line = await child.waitForLine('the ready line', (l) => l.startsWith('ready'));
      expect(line).toBe('ready function 42 a,b x');
      expect(await child.exited).toEqual({ code: 0, signal: null });
    }
  });

  it('kills with SIGKILL, and waitForLine rejects when the child exits without the line', async () => {
    const entry = scratch('waits.mts', "console.log('up');\nsetInterval(() => {}, 1000);\n");
    const child = children.start(entry);
    await child.waitForLine('up', (l) => l === 'up');
    const waiting = child.waitForLine('a line that never comes', (l) => l === 'never');
    expect(await child.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    await expect(waiting).rejects.toThrow(/exited \(code null, signal SIGKILL\) before waiting for a line/);
  });

  it('sees every line a child wrote before it exited, the last one without a newline too', async () => {
    // Written and exited at once: the exit can be reported before the pipe has been read.
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}`);
    const entry = scratch(
      'burst.mts',
      `process.stdout.write(${JSON.stringify(`${lines.join('\n')}\nlast`)});\nprocess.exit(3);\n`,
    );
    const child = children.start(entry);
    expect(await child.waitForLine('the last line', (l) => l === 'last')).toBe('last');
    expect(await child.exited).toEqual({ code: 3, signal: null });
    expect(child.lines, 'every line, in order').toEqual([...lines, 'last']);
  });

  describe('a child left running', { shuffle: false }, () => {
    let leftOver = 0;
    it('is left running at the end of this test', async () => {
      const child = children.start(
        scratch('forever.mts', "console.log('up');\nsetInterval(() => {}, 1000);\n"),
      );
      await child.waitForLine('up', (l) => l === 'up');
      leftOver = child.pid;
    });
    it('is gone before the next test starts', () => {
      expect(leftOver).toBeGreaterThan(0);
      expect(() => process.kill(leftOver, 0), 'the child of the previous test must be dead').toThrow();
    });
  });

  it("passes Stryker's active mutant on, so a child runs the same mutant as its test", async () => {
    (globalThis as { __stryker__?: unknown }).__stryker__ = { activeMutant: '17' };
    const child = children.start(
      scratch('mutant.mts', 'console.log(process.env.__STRYKER_ACTIVE_MUTANT__);\n'),
    );
    expect(await child.waitForLine('a line', () => true)).toBe('17');
  });
});
