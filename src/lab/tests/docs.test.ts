/**
 * What a new learner or instructor reads first must be true and must not give the answers away
 * (issue 12): chapter 00's sample output counts the tests the suites have, its live blocks and
 * lab-check's hints do not hold the exercise's solution, the home page installs as README does and
 * leads to the instructor's guide, and no link points at a repository that does not exist.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { courseRoot, loadCourse } from '../course.js';
import { vitestBin } from '../suite-runner.js';

const read = (rel: string) => readFileSync(path.join(courseRoot, rel), 'utf8');
const liveBlocks = (mdx: string) =>
  [...mdx.matchAll(/```ts live[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

describe('chapter 00', () => {
  const page = read('docs/00-setup.mdx');
  const chapter = loadCourse().exercises.filter((e) => e.chapter === '00-setup');

  it('live blocks do not define what the exercises ask the learner to write', () => {
    for (const exercise of chapter) {
      const exported = exercise.manifest.files.flatMap((file) => {
        const solution = path.join(courseRoot, 'solutions', exercise.id, file);
        if (!existsSync(solution)) return [];
        return [
          ...readFileSync(solution, 'utf8').matchAll(/export (?:async )?(?:function|class) (\w+)/g),
        ].map((m) => m[1] as string);
      });
      for (const block of liveBlocks(page))
        for (const name of exported)
          expect(block, `a live block on the page defines ${name}() of ${exercise.id}`).not.toMatch(
            new RegExp(`(function|class|const|let)\\s+${name}\\b`),
          );
    }
  });

  it('lab-check’s hints unblock without handing over the rank formula', () => {
    const hints = read('exercises/00-setup/lab-check/HINTS.md');
    expect(hints).not.toMatch(/Math\.ceil\(\s*\(?\s*p\b/);
    expect(hints, 'no code blocks: hints are words').not.toMatch(/```/);
  });

  it('the sample output counts the tests each suite has', () => {
    const sample = /```text\nYour exercises\n([\s\S]*?)```/.exec(page)?.[1] ?? '';
    const claimed = [...sample.matchAll(/^ {2}(\S+)\s+✘ \d+ of (\d+) tests failing/gm)].map(
      (m) => [m[1], Number(m[2])] as const,
    );
    expect(claimed.map(([id]) => id)).toEqual(chapter.map((e) => e.id));
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'lab-docs-test-'));
    try {
      const json = path.join(scratch, 'list.json');
      const result = spawnSync(
        process.execPath,
        // --no-staticParse: run the files to collect, so tests made in a loop count once each.
        [vitestBin, 'list', ...chapter.flatMap((e) => e.testFiles), '--no-staticParse', `--json=${json}`],
        { cwd: courseRoot, encoding: 'utf8', env: { ...process.env, LAB_NEEDS_REDIS: '0', LAB_TARGET: '' } },
      );
      expect(existsSync(json), result.stderr).toBe(true);
      const tests = JSON.parse(readFileSync(json, 'utf8')) as { file: string }[];
      for (const [id, count] of claimed)
        expect(
          tests.filter((t) => t.file.includes(`/exercises/${id}/`)).length,
          `docs/00-setup.mdx says ${id} has ${count} tests`,
        ).toBe(count);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the home page and the site config', () => {
  it('installs with npm ci, as README and chapter 00 do, and leads to the instructor’s guide', () => {
    const home = read('docs/index.mdx');
    expect(home).not.toMatch(/`npm install`/);
    expect(home).toMatch(/`npm ci`/);
    expect(home).toMatch(/\]\(\.\/instructors\/index\.mdx\)/);
  });

  it('has no "Edit this page" or repository link unless LAB_REPO_URL names a real one', async () => {
    const { default: config } = await import('../../../docusaurus.config.js');
    const text = JSON.stringify(config);
    expect(text).not.toMatch(/editUrl/);
    expect(text).not.toMatch(/github\.com\/system-design-lab/);
    const navbar = (config.themeConfig as { navbar: { items: { docId?: string }[] } }).navbar.items;
    // The guide's own first page (a docSidebar item would open the sidebar's first entry instead).
    expect(navbar.map((i) => i.docId)).toContain('instructors/index');
  });
});
