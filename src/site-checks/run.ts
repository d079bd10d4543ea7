/**
 * Browser checks for the built site (issue 3 §5), with playwright-core and the system chromium:
 *
 *   LAB_WITH_BROWSER=1 source ../shared/ci/provision.sh
 *   npx tsx src/site-checks/run.ts --build-dir build [--only /08-traffic] [--out reports/site-checks]
 *
 * Serves the build on 127.0.0.1, discovers the pages from its sitemap and, for every page: no console
 * error and no failed request; one mermaid SVG per diagram in the page's source, in light and in dark
 * mode; every ts live block runs, shows console output and re-runs when edited; no serious/critical
 * axe-core violation (every WCAG 2.1 A/AA rule in the first mode at desktop width; the colour rules
 * in the other mode, and the scrolling-region rule at 375 px); no horizontal scroll at 375 px;
 * quiz text shows inline code, never literal backticks; no link to a placeholder repository. Then a
 * live block running `while (true) {}` is stopped while the tab stays responsive, each simulator
 * responds to one scripted interaction, the home page leads to the instructor's guide, the search
 * finds three chapters by title, and screenshots go to the (git-ignored) output folder. Exits 1 with
 * a readable list of failures.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { allChapters } from '../course/syllabus.js';
import { discoverPages, type PageInfo } from './pages.js';
import { serveBuild } from './server.js';

const { values: args } = parseArgs({
  options: {
    'build-dir': { type: 'string', default: 'build' },
    'docs-dir': { type: 'string', default: 'docs' },
    out: { type: 'string', default: 'reports/site-checks' },
    only: { type: 'string' },
    'skip-axe': { type: 'boolean', default: false },
  },
});

const root = process.cwd();
const buildDir = path.resolve(args['build-dir']);
const outDir = path.resolve(args.out);
const failures: string[] = [];
const notes: string[] = [];
/** One line per checked page, printed in sitemap order whichever lane checked it. */
const pageNotes = new Map<string, string>();
/**
 * Pages checked at once, each in a browser context of its own (its own storage, so one page's colour
 * mode never reaches another). One by default: on two cores, two lanes saved only 20% (256 s against
 * 314 s for 19 pages) because rendering is CPU-bound, and every page took twice as long, enough to
 * push a live block's re-run past its 15 s wait. More cores: LAB_SITE_CHECK_LANES=<n>.
 */
const LANES = Math.max(1, Number(process.env.LAB_SITE_CHECK_LANES) || 1);
const fail = (where: string, problem: string) => failures.push(`${where}: ${problem}`);

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PHONE_WIDTH = 375;
/**
 * Budget for a page with no diagram, live block or simulator, in bytes sent over the wire
 * (gzip): mermaid and the live editor must load lazily. See docs/maintainers/site.mdx.
 */
const PLAIN_PAGE_JS_BUDGET = 500 * 1024;
const jsReport: { route: string; rawKb: number; gzipKb: number; heavy: boolean }[] = [];
const DESKTOP = { width: 1280, height: 900 };

/** Console errors, page errors and failed requests seen since the last `take()`. */
function watch(page: Page, origin: string) {
  let problems: string[] = [];
  let jsBytes = { raw: 0, gzip: 0 };
  page.on('response', (res) => {
    if (res.request().resourceType() !== 'script') return;
    const headers = res.headers();
    jsBytes.raw += Number(headers['content-length'] ?? 0);
    jsBytes.gzip += Number(headers['x-gzip-length'] ?? 0);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text().slice(0, 300)}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught page error: ${error.message.slice(0, 300)}`));
  page.on('requestfailed', (req) => {
    // A navigation away cancels in-flight requests; that is not a failure of the page.
    if (req.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
  });
  page.on('request', (req) => {
    if (!req.url().startsWith(origin) && !req.url().startsWith('data:') && !req.url().startsWith('blob:'))
      problems.push(`request leaves the site: ${req.url()}`);
  });
  return {
    /** JavaScript bytes loaded since the last call: as built, and gzip-compressed as a host would send. */
    takeJsBytes(): { raw: number; gzip: number } {
      const taken = jsBytes;
      jsBytes = { raw: 0, gzip: 0 };
      return taken;
    },
    take(): string[] {
      const taken = problems;
      problems = [];
      return taken;
    },
  };
}

async function colorMode(page: Page): Promise<string | null> {
  return page.evaluate(() => document.documentElement.getAttribute('data-theme'));
}

/** Clicks the navbar's colour mode toggle until the page is in `mode`. */
async function setColorMode(page: Page, mode: 'light' | 'dark'): Promise<void> {
  for (let i = 0; i < 4 && (await colorMode(page)) !== mode; i++) {
    await page.locator('.navbar [class*="toggle"] button, .navbar button[title*="mode" i]').first().click();
    await page.waitForTimeout(150);
  }
  // Let colour transitions finish before anything measures contrast.
  await page.waitForTimeout(400);
  if ((await colorMode(page)) !== mode) throw new Error(`could not switch to ${mode} mode`);
}

/** Waits until the page shows `expected` mermaid SVGs (or 10 s pass), then returns what it shows. */
async function mermaidState(page: Page, expected: number) {
  const count = () => page.locator('.docusaurus-mermaid-container > svg').count();
  const deadline = Date.now() + 20_000;
  while ((await count()) < expected && Date.now() < deadline) await page.waitForTimeout(200);
  await page.waitForTimeout(expected > 0 ? 300 : 0);
  return {
    svgs: await count(),
    errors: await page.locator('.docusaurus-mermaid-container svg[aria-roledescription="error"]').count(),
    fills: await page
      .locator('.docusaurus-mermaid-container > svg')
      .evaluateAll((svgs) => svgs.map((svg) => svg.innerHTML.length > 0 && svg.getAttribute('id'))),
  };
}

async function checkMermaid(page: Page, info: PageInfo, mode: string) {
  const state = await mermaidState(page, info.mermaid);
  if (state.svgs !== info.mermaid)
    fail(
      info.route,
      `${mode} mode: ${state.svgs} mermaid SVGs rendered, the source has ${info.mermaid} diagrams`,
    );
  if (state.errors > 0)
    fail(info.route, `${mode} mode: ${state.errors} mermaid diagrams show a syntax error`);
  const fallbacks = await page.locator('text=/This page crashed|Error:.*mermaid/i').count();
  if (fallbacks > 0) fail(info.route, `${mode} mode: an error boundary replaced part of the page`);
}

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/**
 * Which axe-core rules a run checks. The full WCAG 2.1 A/AA set runs once per page (light mode,
 * desktop width); the other runs check only what can differ there, since the DOM is the same:
 * switching to dark mode changes colours (and mermaid draws its diagrams again), and a phone's width
 * makes tables and code scroll sideways. Three full runs cost about three times as long for the same
 * findings (measured: a full run is 9-40 s a page on two busy cores, colour contrast alone 5-15 s).
 */
type AxeScope = 'all' | 'colours' | 'width';

const SCOPED_RULES: Record<Exclude<AxeScope, 'all'>, string[]> = {
  colours: ['color-contrast', 'link-in-text-block'],
  width: ['scrollable-region-focusable'],
};

async function axeRun(page: Page, scope: AxeScope, info: PageInfo) {
  if (scope === 'all') return new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  const scoped = await new AxeBuilder({ page }).withRules(SCOPED_RULES[scope]).analyze();
  if (scope !== 'colours' || info.mermaid === 0) return scoped;
  // Diagrams drawn again in the new mode: every rule, on them only.
  const diagrams = await new AxeBuilder({ page })
    .include('.docusaurus-mermaid-container')
    .withTags(WCAG_TAGS)
    .analyze();
  return { ...scoped, violations: [...scoped.violations, ...diagrams.violations] };
}

async function checkAxe(page: Page, info: PageInfo, mode: string, scope: AxeScope) {
  if (args['skip-axe']) return;
  const result = await axeRun(page, scope, info);
  for (const v of result.violations) {
    if (v.impact !== 'serious' && v.impact !== 'critical') continue;
    const targets = v.nodes
      .slice(0, 3)
      .map((n) => n.target.join(' '))
      .join(' | ');
    const detail = v.nodes[0]?.any[0]?.message ?? v.nodes[0]?.failureSummary ?? '';
    fail(
      info.route,
      `${mode} mode: axe ${v.impact} "${v.id}" (${v.help}) on ${v.nodes.length} node(s): ${targets} — ${detail.slice(0, 200)}`,
    );
  }
}

async function checkLiveBlocks(page: Page, info: PageInfo) {
  const blocks = page.locator('[data-live-ts]');
  const deadline = Date.now() + 10_000;
  while ((await blocks.count()) < info.liveTs && Date.now() < deadline) await page.waitForTimeout(200);
  const count = await blocks.count();
  if (count !== info.liveTs)
    fail(info.route, `${count} ts live blocks rendered, the source has ${info.liveTs}`);
  for (let i = 0; i < count; i++) {
    const block = blocks.nth(i);
    const where = `${info.route} live block ${i + 1}`;
    try {
      await block.locator('xpath=self::*[@data-status="done"]').waitFor({ timeout: 15_000 });
    } catch {
      fail(where, 'did not finish running within 15 s');
      continue;
    }
    const lines = await block.locator('[data-live-console] > div').count();
    if (lines === 0) fail(where, 'its console shows no output');
    // A block's program must run to the end: a thrown error still prints a line, so count it apart.
    const errors = await block.locator('[data-live-console] > div[data-kind="error"]').allTextContents();
    const failed = (await block.locator('[data-ok="false"]').count()) > 0;
    const uncaught = errors.filter((text) => text.startsWith('Uncaught'));
    if (failed || uncaught.length > 0) {
      fail(where, `its program failed: ${(uncaught[0] ?? errors.at(-1) ?? 'no message').slice(0, 200)}`);
    }
    // Edit: append a line at the end of the program and wait for the re-run to print it.
    const runsBefore = Number(await block.getAttribute('data-runs'));
    const marker = `edited-by-site-check-${i}`;
    const editor = block.locator('[data-live-editor] pre');
    await editor.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(`\nconsole.log('${marker}');`);
    try {
      await block.locator('[data-live-console]', { hasText: marker }).waitFor({ timeout: 15_000 });
      const runsAfter = Number(await block.getAttribute('data-runs'));
      if (!(runsAfter > runsBefore)) fail(where, 'editing did not re-run the block');
    } catch {
      fail(where, 'after an edit, the console never showed the edited program’s output');
    }
  }
}

async function checkPhoneWidth(page: Page, info: PageInfo, mode: string) {
  await page.setViewportSize({ width: PHONE_WIDTH, height: 800 });
  await page.waitForTimeout(300);
  // Content that fits a desktop scrolls sideways on a phone (tables, code, the live editor): every
  // such region must be reachable by keyboard, which only shows at this width.
  await checkAxe(page, info, `${mode} mode at ${PHONE_WIDTH} px`, 'width');
  const overflow = await page.evaluate(() => {
    const doc = document.documentElement;
    if (doc.scrollWidth <= doc.clientWidth + 1) return null;
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 1)
      .filter(
        (el) => !el.parentElement || el.parentElement.getBoundingClientRect().right <= doc.clientWidth + 1,
      )
      .slice(0, 3)
      .map(
        (el) => `${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).split(' ')[0]}` : ''}`,
      );
    return { scrollWidth: doc.scrollWidth, culprits: wide };
  });
  if (overflow)
    fail(
      info.route,
      `scrolls horizontally at ${PHONE_WIDTH} px (page is ${overflow.scrollWidth} px wide; widest: ${overflow.culprits.join(', ')})`,
    );
  await page.setViewportSize(DESKTOP);
}

/** Quiz prompts and choices are plain strings in MDX: `code` must render as code, not as backticks. */
async function checkQuizText(page: Page, info: PageInfo) {
  const literal = await page.locator('[data-quiz-question]').evaluateAll((questions) =>
    questions
      .flatMap((q) => [...q.querySelectorAll('legend, label')])
      .map((el) => el.textContent ?? '')
      .filter((text) => text.includes('`')),
  );
  if (literal.length > 0)
    fail(info.route, `quiz text shows literal backticks: "${literal[0]?.slice(0, 120)}"`);
}

/** Without LAB_REPO_URL at build time there is no repository to link to ("Edit this page" included). */
async function checkLinks(page: Page, info: PageInfo) {
  if (process.env.LAB_REPO_URL) return;
  const placeholders = await page
    .locator('a[href]')
    .evaluateAll((as) =>
      as
        .map((a) => (a as HTMLAnchorElement).href)
        .filter((href) => /\/edit\/main\/|github\.com\/system-design-lab|\.example\b/.test(href)),
    );
  if (placeholders.length > 0)
    fail(info.route, `links to a repository that does not exist: ${placeholders.slice(0, 2).join(', ')}`);
}

/**
 * A live block whose program never yields must be stopped with a message while the page goes on
 * answering: the program runs in a Web Worker with a time limit (src/components/LiveCode/run.ts).
 */
async function checkRunawayLiveBlock(page: Page, origin: string, pages: PageInfo[]) {
  const host = pages.find((p) => p.liveTs > 0);
  if (!host) {
    fail('live code', 'no page has a ts live block to check a runaway program on');
    return;
  }
  const where = `${host.route} live block 1 (while (true) {})`;
  await page.goto(origin + host.route, { waitUntil: 'networkidle' });
  const block = page.locator('[data-live-ts]').first();
  // Only a precondition (each block's own 15 s is checked with its page): these whole-site steps may
  // run beside the tooling tests, where a first run that also loads the compiler once took over 15 s.
  try {
    await block.locator('xpath=self::*[@data-status="done"]').waitFor({ timeout: 60_000 });
  } catch {
    fail(where, 'the block did not finish its first run within 60 s, so the runaway loop was not tried');
    return;
  }
  const runsBefore = Number(await block.getAttribute('data-runs'));
  const editor = block.locator('[data-live-editor] pre');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type('while (true) {}');
  // Wait for the runaway run to start, then ask the page for a frame while the loop spins.
  const deadline = Date.now() + 15_000;
  while (Number(await block.getAttribute('data-runs')) <= runsBefore && Date.now() < deadline)
    await page.waitForTimeout(100);
  await page.waitForTimeout(500);
  const answered = await Promise.race([
    page.evaluate(() => new Promise<boolean>((resolve) => requestAnimationFrame(() => resolve(true)))),
    new Promise<boolean>((resolve) => setTimeout(resolve, 1_500, false)),
  ]);
  if (!answered)
    fail(where, 'the tab stopped answering while the loop ran (it must run off the main thread)');
  try {
    await block
      .locator('[data-live-console]', { hasText: /stopped after 2 s: is there a loop that never ends\?/ })
      .waitFor({ timeout: 30_000 });
  } catch {
    fail(where, 'the console never said "stopped after 2 s: is there a loop that never ends?"');
  }
  if ((await block.getAttribute('data-status')) !== 'done') fail(where, 'the block still says it is running');
  // The page goes on working: Reset brings the original program back, and it runs to the end.
  await block.getByRole('button', { name: 'Reset' }).click();
  try {
    await block.locator('[data-ok="true"]').waitFor({ timeout: 30_000 });
  } catch {
    fail(where, 'after Reset, the original program did not run to the end');
  }
}

/**
 * A worker whose download fails (a dropped connection, a browser short of memory) is started again:
 * the block still runs to the end. Checked in a context of its own, since the failed download it
 * provokes would count against the page.
 */
async function checkLiveBlockSurvivesFailedWorkerLoad(page: Page, origin: string, pages: PageInfo[]) {
  const host = pages.find((p) => p.liveTs > 0);
  if (!host) return;
  const where = `${host.route} live block 1 (its worker's first download fails)`;
  const context = await (page.context().browser() as Browser).newContext({ viewport: DESKTOP });
  try {
    const probe = await context.newPage();
    let failed = 0;
    await probe.route(/\/live-code\.[0-9a-f]+\.js$/, (route) =>
      failed++ === 0 ? route.abort('connectionreset') : route.continue(),
    );
    await probe.goto(origin + host.route, { waitUntil: 'networkidle' });
    const block = probe.locator('[data-live-ts]').first();
    try {
      // Recovery, not speed, is checked here: a wide margin, as in the runaway check.
      await block.locator('[data-ok="true"]').waitFor({ timeout: 60_000 });
    } catch {
      const said = await block.locator('[data-live-console]').textContent();
      fail(where, `the block did not run to the end: ${(said ?? '').slice(0, 200)}`);
    }
    if (failed === 0) fail(where, 'no worker download was seen to fail (has the worker file been renamed?)');
  } finally {
    await context.close();
  }
}

/** The instructor's guide is one click from the home page (and from every page's navbar). */
async function checkInstructorsLink(page: Page, origin: string) {
  await page.goto(`${origin}/`, { waitUntil: 'networkidle' });
  const inArticle = await page.locator('article a[href="/instructors"]').count();
  const inNavbar = await page.locator('.navbar a[href="/instructors"]').count();
  if (inArticle === 0) fail('/', 'the home page does not link to the instructor’s guide (/instructors)');
  if (inNavbar === 0) fail('/', 'the navbar has no link to the instructor’s guide (/instructors)');
}

async function checkPage(page: Page, origin: string, info: PageInfo, watcher: ReturnType<typeof watch>) {
  const started = Date.now();
  const laps: string[] = [];
  let lapStart = started;
  /** Where a page's time goes, printed on its line: the data for deciding what to make cheaper. */
  const lap = (label: string) => {
    const now = Date.now();
    laps.push(`${label} ${((now - lapStart) / 1000).toFixed(1)}`);
    lapStart = now;
  };
  watcher.take();
  watcher.takeJsBytes();
  const response = await page.goto(origin + info.route, { waitUntil: 'networkidle' });
  if (response?.status() !== 200) fail(info.route, `HTTP ${response?.status()} for the page itself`);
  const first = (await colorMode(page)) === 'dark' ? 'dark' : 'light';
  const second = first === 'light' ? 'dark' : 'light';
  await checkMermaid(page, info, first);
  await checkLiveBlocks(page, info);
  const jsBytes = watcher.takeJsBytes();
  const heavy = info.mermaid > 0 || info.liveTs > 0 || info.simulators.length > 0;
  const kb = (n: number) => Math.round(n / 1024);
  const js = { route: info.route, rawKb: kb(jsBytes.raw), gzipKb: kb(jsBytes.gzip), heavy };
  jsReport.push(js);
  if (!heavy && jsBytes.gzip > PLAIN_PAGE_JS_BUDGET)
    fail(
      info.route,
      `loads ${kb(jsBytes.gzip)} KB of JavaScript (gzip); a page without diagrams or live code must stay under ${kb(PLAIN_PAGE_JS_BUDGET)} KB`,
    );
  lap('render');
  await checkAxe(page, info, first, 'all');
  lap('axe');
  await setColorMode(page, second);
  await checkMermaid(page, info, second);
  lap(second);
  await checkAxe(page, info, second, 'colours');
  lap('axe');
  await checkPhoneWidth(page, info, second);
  lap('phone');
  await checkQuizText(page, info);
  await checkLinks(page, info);
  await page.waitForTimeout(200);
  for (const problem of watcher.take()) fail(info.route, problem);
  pageNotes.set(
    info.route,
    `${info.route.padEnd(32)} ${String(info.mermaid).padStart(2)} diagrams, ${info.liveTs} live, ${(info.simulators.join('+') || '-').padEnd(14)} ${String(js.rawKb).padStart(5)} KB JS (${String(js.gzipKb).padStart(4)} KB gzip)  (${((Date.now() - started) / 1000).toFixed(1)} s: ${laps.join(', ')})`,
  );
}

/**
 * Waits until a simulator is hydrated: on a busy machine the server-rendered HTML is on screen well
 * before React attaches, and a slider moved before that changes nothing (`data-hydrated`).
 */
async function hydrated(sim: Locator): Promise<void> {
  await sim.and(sim.page().locator('[data-hydrated]')).waitFor({ timeout: 30_000 });
}

async function checkSimulators(page: Page, origin: string, pages: PageInfo[]) {
  const scripts: Record<string, (page: Page, where: string) => Promise<void>> = {
    'load-balancer': async (p, where) => {
      const sim = p.locator('[data-simulator="load-balancer"]').first();
      await hydrated(sim);
      const before = await sim.getAttribute('data-sent');
      await sim.getByRole('button', { name: /send/i }).first().click();
      await p.waitForTimeout(300);
      const after = await sim.getAttribute('data-sent');
      if (Number(after) <= Number(before))
        fail(
          where,
          `load balancer simulator: sending requests did not change data-sent (${before} -> ${after})`,
        );
      await sim.locator('select').first().selectOption({ index: 2 });
      if ((await sim.getAttribute('data-sent')) !== '0')
        fail(where, 'load balancer simulator: changing the strategy did not start a fresh run');
    },
    'event-loop': async (p, where) => {
      const sim = p.locator('[data-simulator="event-loop"]').first();
      await hydrated(sim);
      const before = Number(await sim.getAttribute('data-step'));
      const step = sim.getByRole('button', { name: /^step/i }).first();
      await step.focus();
      await p.keyboard.press('Enter');
      await p.keyboard.press('Enter');
      await p.waitForTimeout(200);
      const after = Number(await sim.getAttribute('data-step'));
      if (after !== before + 2)
        fail(where, `event loop simulator: two Step presses moved from step ${before} to ${after}`);
    },
    'circuit-breaker': async (p, where) => {
      const sim = p.locator('[data-simulator="circuit-breaker"]').first();
      await hydrated(sim);
      await sim.locator('input[type="range"]').first().fill('100');
      const stepOneSecond = sim.getByRole('button', { name: /^step 1 s/i }).first();
      for (let i = 0; i < 3; i++) await stepOneSecond.click();
      const state = await sim.getAttribute('data-state');
      if (state !== 'open')
        fail(
          where,
          `circuit breaker simulator: 3 s of 100% failures left the breaker "${state}", not "open"`,
        );
      const rejected = Number(await sim.getAttribute('data-rejected'));
      if (!(rejected > 0)) fail(where, 'circuit breaker simulator: an open breaker rejected no calls');
    },
    'hit-ratio': async (p, where) => {
      const sim = p.locator('[data-simulator="hit-ratio"]').first();
      await hydrated(sim);
      const ratio = async () => Number(await sim.getAttribute('data-hit-ratio'));
      const [skew, size] = [
        sim.locator('input[type="range"]').nth(0),
        sim.locator('input[type="range"]').nth(1),
      ];
      await size.fill('8'); // the largest cache
      const big = await ratio();
      await size.fill('0'); // the smallest
      const small = await ratio();
      if (!(big > small))
        fail(where, `hit ratio playground: a 500x bigger cache did not hit more (${small} -> ${big})`);
      await skew.fill('0'); // uniform popularity
      const uniform = await ratio();
      if (!(uniform < small))
        fail(
          where,
          `hit ratio playground: uniform keys did not hit less than Zipf 1 (${small} -> ${uniform})`,
        );
    },
    queue: async (p, where) => {
      const sim = p.locator('[data-simulator="queue"]').first();
      await hydrated(sim);
      await sim.getByLabel(/min-idle/i).selectOption('5000');
      await sim.getByLabel(/crash means slow/i).setChecked(false); // a page may start it ticked
      const stepOneSecond = sim.getByRole('button', { name: /^step 1 s/i }).first();
      const busy = sim.locator('[data-worker-state="busy"]');
      // By keyboard: Step until a worker holds a job.
      await stepOneSecond.focus();
      for (let i = 0; i < 20 && (await busy.count()) === 0; i++) await p.keyboard.press('Enter');
      const worker = (await busy.count()) > 0 ? await busy.first().getAttribute('data-worker') : null;
      if (!worker) {
        fail(where, 'queue simulator: 20 steps of Step 1 s left every worker idle');
        return;
      }
      await sim.getByRole('button', { name: `Crash ${worker}` }).click();
      const card = sim.locator(`[data-worker="${worker}"]`);
      if ((await card.getAttribute('data-worker-state')) !== 'crashed')
        fail(
          where,
          `queue simulator: Crash ${worker} left it "${await card.getAttribute('data-worker-state')}"`,
        );
      if (!(Number(await sim.getAttribute('data-pending')) > 0))
        fail(where, `queue simulator: the job ${worker} held did not stay in the pending entries list`);
      // min-idle 5 s: another worker must take the job over within 20 s.
      for (let i = 0; i < 20 && Number(await sim.getAttribute('data-reclaimed')) === 0; i++)
        await stepOneSecond.click();
      if (!(Number(await sim.getAttribute('data-reclaimed')) > 0))
        fail(where, `queue simulator: 20 s after ${worker} crashed its pending job was never reclaimed`);
    },
    partition: async (p, where) => {
      const sim = p.locator('[data-simulator="partition"]').first();
      await hydrated(sim);
      const attr = (name: string) => sim.getAttribute(`data-${name}`);
      const until = (selector: string, what: string) =>
        sim
          .and(p.locator(selector))
          .waitFor({ timeout: 15_000 })
          .catch(() => {
            throw new Error(`partition simulator: never got ${what}`);
          });
      const press = async (target: Locator, key: string) => {
        await target.focus();
        await p.keyboard.press(key);
      };
      await sim.getByRole('combobox', { name: /replication/i }).selectOption('async');
      await until('[data-mode="async"]', 'the async mode');
      // The preset partition {n1, n2} | {n3, n4, n5}, drawn with the keyboard.
      for (const node of ['n3', 'n4', 'n5']) {
        const toggle = sim.locator(`[data-side-toggle="${node}"]`);
        await press(toggle, 'Space');
        if ((await toggle.getAttribute('aria-pressed')) !== 'true')
          fail(where, `partition simulator: Space on ${node}'s side button did not move it to side B`);
      }
      await press(sim.locator('[data-action="partition"]'), 'Enter');
      await until('[data-partitioned]', 'a partition after Enter on "Cut the network"');
      await press(sim.getByRole('checkbox', { name: /random clients/i }), 'Space');
      const runTen = async () => {
        const before = Number(await attr('tick'));
        await press(sim.locator('[data-action="run"]'), 'Enter');
        await until(`[data-tick="${before + 10}"]`, `tick ${before + 10} after Enter on "Run 10 ticks"`);
      };
      for (let i = 0; i < 10 && (await attr('verdict')) !== 'not linearizable'; i++) await runTen();
      const asyncText = (await sim.locator('[data-verdict-text]').textContent()) ?? '';
      if ((await attr('verdict')) !== 'not linearizable' || !/^Not linearizable/.test(asyncText))
        fail(
          where,
          `partition simulator: async replication under {n1, n2} | {n3, n4, n5} gave "${asyncText}" after ${await attr('tick')} ticks, not a violation`,
        );
      const witness = Number(await attr('witness'));
      const outlined = await sim.locator('g[data-witness]').count();
      if (!(witness >= 2) || outlined !== witness)
        fail(where, `partition simulator: a witness of ${witness} operations, ${outlined} bars highlighted`);
      // The same seed and actions, replayed with a majority quorum: linearizable.
      const tick = await attr('tick');
      await sim.getByRole('combobox', { name: /replication/i }).selectOption('quorum');
      await until(`[data-mode="quorum"][data-tick="${tick}"]`, `the quorum mode replayed to tick ${tick}`);
      await runTen();
      await runTen();
      const quorumText = (await sim.locator('[data-verdict-text]').textContent()) ?? '';
      if ((await attr('verdict')) !== 'linearizable' || !/^Linearizable/.test(quorumText))
        fail(where, `partition simulator: the majority quorum gave "${quorumText}", not linearizable`);
      if (!(Number(await attr('operations')) > 0))
        fail(where, 'partition simulator: the quorum run recorded no operations');
    },
    raft: async (p, where) => {
      const sim = p.locator('[data-simulator="raft"]').first();
      await hydrated(sim);
      const attr = async (name: string) => (await sim.getAttribute(`data-${name}`)) ?? '';
      const step = sim.locator('[data-action="step"]');
      /** Presses Enter on Step (by keyboard) until `done` or `max` presses; waits for each tick to render. */
      const stepUntil = async (done: () => Promise<boolean>, max: number) => {
        for (let i = 0; i < max && !(await done()); i++) {
          const before = Number(await attr('tick'));
          await step.focus();
          await p.keyboard.press('Enter');
          await sim.and(p.locator(`[data-tick="${before + 1}"]`)).waitFor({ timeout: 5_000 });
        }
      };
      await stepUntil(async () => (await attr('leader')) !== '', 200);
      const first = await attr('leader');
      const term = Number(await attr('term'));
      if (!first) {
        fail(where, `raft simulator: 200 presses of Step elected no leader (tick ${await attr('tick')})`);
        return;
      }
      // Crash the leader by keyboard: focus its Crash button, Enter.
      await sim.locator(`[data-crash="${first}"]`).focus();
      await p.keyboard.press('Enter');
      await sim
        .locator(`li[data-node="${first}"][data-up="false"]`)
        .waitFor({ timeout: 5_000 })
        .catch(() => {
          throw new Error(`raft simulator: Enter on "Crash ${first}" left it up`);
        });
      await stepUntil(async () => !['', first].includes(await attr('leader')), 300);
      const second = await attr('leader');
      const newTerm = Number(await attr('term'));
      if (!second || second === first || !(newTerm > term))
        fail(
          where,
          `raft simulator: after crashing ${first} (leader of term ${term}), 300 steps gave leader "${second}" in term ${newTerm}, not a new leader in a higher term`,
        );
      if ((await attr('safety')) !== 'ok')
        fail(where, `raft simulator: data-safety is "${await attr('safety')}", not "ok"`);
      const said = (await sim.locator('[role="log"]').textContent()) ?? '';
      if (!said.includes(`${second} wins term ${newTerm}`))
        fail(where, `raft simulator: the log does not say "${second} wins term ${newTerm}"`);
    },
    saga: async (p, where) => {
      const sim = p.locator('[data-simulator="saga"]').first();
      await hydrated(sim);
      const attr = async (name: string) => (await sim.getAttribute(`data-${name}`)) ?? '';
      // A page may start it elsewhere: pick "none" first, then move to "payment" with the arrow keys.
      const none = sim.getByRole('radio', { name: /^none$/ });
      await none.check();
      await none.focus();
      for (let i = 0; i < 4 && (await attr('fail-at')) !== 'payment'; i++)
        await p.keyboard.press('ArrowRight');
      if ((await attr('fail-at')) !== 'payment')
        fail(
          where,
          `saga simulator: the arrow keys on "Failing step" reached "${await attr('fail-at')}", not "payment"`,
        );
      await sim.getByRole('radio', { name: /^refused$/ }).check();
      await sim.getByRole('combobox', { name: /kill the orchestrator/i }).selectOption('0');
      await sim.getByRole('checkbox', { name: /lose the first compensation/i }).setChecked(false);
      // Run to the end, by keyboard.
      await sim.locator('[data-action="run"]').focus();
      await p.keyboard.press('Enter');
      await sim
        .and(p.locator('[data-status="compensated"]'))
        .waitFor({ timeout: 5_000 })
        .catch(() => {
          throw new Error(
            'saga simulator: Enter on "Run to the end" with payment failing did not end compensated',
          );
        });
      const log = await sim.locator('[data-saga-log] li').allTextContents();
      const failed = log.findIndex((t) => /payment failed/.test(t));
      const released = log.findIndex((t) => /release stock/.test(t));
      if (failed < 0 || released < failed)
        fail(
          where,
          `saga simulator: the log does not show "release stock" after "payment failed": ${log.join(' | ')}`,
        );
      if (log.some((t) => /refund/.test(t)))
        fail(where, 'saga simulator: a refused payment was refunded (it never happened)');
      const [held, net, verdict] = [
        await attr('stock-held'),
        await attr('net-cents'),
        await attr('balanced'),
      ];
      if (held !== '0' || net !== '0' || verdict !== 'yes')
        fail(
          where,
          `saga simulator: after compensation stock held is ${held} and net charged ${net} cents (balanced: ${verdict}), not 0 and 0`,
        );
      const customer = (await sim.locator('[data-customer]').textContent()) ?? '';
      if (!/Payment declined: order cancelled, nothing charged/.test(customer))
        fail(where, `saga simulator: the customer's view says "${customer}"`);
    },
    diagram: async (p, where) => {
      const viewer = p.locator('[data-simulator="diagram"]').first();
      await hydrated(viewer);
      await viewer.locator('.docusaurus-mermaid-container > svg').first().waitFor({ timeout: 20_000 });
      const box = viewer.getByRole('textbox', { name: /mermaid text/i });
      await box.fill('sequenceDiagram\n  a->>b: ping [t1→t2]\n  b-xa: pong [t2, lost: partition]\n');
      try {
        await viewer
          .locator('.docusaurus-mermaid-container > svg', { hasText: 'ping' })
          .waitFor({ timeout: 20_000 });
      } catch {
        fail(where, 'diagram viewer: a pasted sequence diagram was never drawn');
      }
      await box.fill('sequenceDiagram\n  a->>: nobody [t1');
      const error = viewer.locator('[data-diagram-error]');
      try {
        await error.waitFor({ timeout: 20_000 });
        const said = (await error.textContent()) ?? '';
        if (!/not a diagram mermaid can draw/.test(said))
          fail(where, `diagram viewer: invalid text gave "${said.slice(0, 120)}", not an error in words`);
        if ((await viewer.locator('.docusaurus-mermaid-container svg').count()) > 0)
          fail(where, 'diagram viewer: invalid text still shows a drawing');
      } catch {
        fail(where, 'diagram viewer: invalid text showed no error');
      }
    },
    'hash-ring': async (p, where) => {
      const sim = p.locator('[data-simulator="hash-ring"]').first();
      await hydrated(sim);
      const attr = async (name: string) => (await sim.getAttribute(`data-${name}`)) ?? '';
      /** Waits until the simulator has applied one more operation than `before`. */
      const applied = async (before: number, what: string) => {
        for (let i = 0; i < 50 && Number(await attr('operations')) <= before; i++)
          await p.waitForTimeout(100);
        if (Number(await attr('operations')) <= before) throw new Error(`${what} changed nothing`);
      };
      /** Adds a node by keyboard (focus Add node, Enter); returns the node count before it. */
      const join = async () => {
        const before = Number(await attr('operations'));
        const n = (await attr('nodes')).split(',').length;
        await sim.getByRole('button', { name: /^add node/i }).focus();
        await p.keyboard.press('Enter');
        await applied(before, 'Enter on "Add node"');
        if ((await attr('last-op')) !== 'add' || (await attr('nodes')).split(',').length !== n + 1)
          throw new Error(`Enter on "Add node" did not add a node (nodes ${await attr('nodes')})`);
        return n;
      };
      // A page may start it elsewhere: consistent hashing with 100 virtual nodes, the exercise's setting.
      await sim.getByRole('radio', { name: /consistent/i }).check();
      await sim.getByRole('combobox', { name: /virtual nodes/i }).selectOption('100');
      const n = await join();
      const moved = Number(await attr('moved'));
      const share = Number(await attr('moved-share'));
      const ideal = Number(await attr('ideal-share'));
      const shown = (await sim.locator('[aria-live]').first().textContent()) ?? '';
      if (Math.abs(ideal - 1 / (n + 1)) > 1e-3)
        fail(where, `hash ring simulator: a join of node ${n + 1} gave an ideal of ${ideal}, not 1/${n + 1}`);
      if (!(moved > 0) || Math.abs(share - ideal) > 0.4 * ideal)
        fail(
          where,
          `hash ring simulator: the join moved ${(share * 100).toFixed(1)}% of keys, not near the ideal 1/${n + 1}`,
        );
      if (Number(await attr('moved-onto-new')) !== moved || Number(await attr('moved-between-old')) !== 0)
        fail(
          where,
          `hash ring simulator: under consistent hashing ${await attr('moved-between-old')} of ${moved} moved keys went between old nodes, not onto the new one`,
        );
      if (!shown.includes(`${(share * 100).toFixed(1)}%`) || !/all onto node/.test(shown))
        fail(where, `hash ring simulator: the moved share is not said in words ("${shown}")`);
      const drawn = await sim
        .locator('[data-moved-dots]')
        .evaluateAll((els) => els.reduce((sum, el) => sum + Number(el.getAttribute('data-moved-dots')), 0));
      if (drawn !== moved)
        fail(where, `hash ring simulator: ${drawn} keys drawn as moved, but ${moved} moved`);
      // Modulo N, by keyboard: the arrow key moves the checked radio to the next scheme.
      const before = Number(await attr('operations'));
      await sim.getByRole('radio', { name: /consistent/i }).focus();
      await p.keyboard.press('ArrowDown');
      await applied(before, 'ArrowDown from "Consistent hashing"');
      if ((await attr('scheme')) !== 'modulo')
        fail(where, `hash ring simulator: the scheme toggle left "${await attr('scheme')}", not "modulo"`);
      const m = await join();
      const modShare = Number(await attr('moved-share'));
      if (!(modShare > 0.5) || !(Number(await attr('moved-between-old')) > 0))
        fail(
          where,
          `hash ring simulator: modulo ${m} -> ${m + 1} moved ${(modShare * 100).toFixed(1)}% of keys, not most (about ${m}/${m + 1})`,
        );
    },
  };
  for (const [name, script] of Object.entries(scripts)) {
    const host = pages.find((pg) => pg.simulators.includes(name));
    if (!host) {
      fail('simulators', `no page uses the ${name} simulator`);
      continue;
    }
    await page.goto(origin + host.route, { waitUntil: 'networkidle' });
    try {
      await script(page, `${host.route} (${name})`);
      const el = page.locator(`[data-simulator="${name}"]`).first();
      await el.screenshot({ path: path.join(outDir, `simulator-${name}.png`) });
    } catch (error) {
      fail(
        `${host.route} (${name})`,
        `scripted interaction failed: ${(error as Error).message.split('\n')[0]}`,
      );
    }
  }
}

async function checkSearch(page: Page, origin: string, pages: PageInfo[]) {
  // Three chapters that exist, searched by their syllabus title, must be found.
  const chapters = allChapters.filter((c) => pages.some((p) => p.route === `/${c.slug}`)).slice(0, 3);
  if (chapters.length < 3) notes.push(`search: only ${chapters.length} chapter pages exist to search for`);
  for (const chapter of chapters) {
    const query = chapter.title.replace(/[:,]/g, ' ');
    await page.goto(`${origin}/search?q=${encodeURIComponent(query)}`, { waitUntil: 'networkidle' });
    const links = page.locator('article a[href]');
    try {
      await links.first().waitFor({ timeout: 10_000 });
    } catch {
      fail('search', `"${query}" found nothing`);
      continue;
    }
    const hrefs = (
      await links.evaluateAll((as) => as.map((a) => new URL((a as HTMLAnchorElement).href).pathname))
    ).slice(0, 8);
    if (!hrefs.includes(`/${chapter.slug}`))
      fail('search', `"${query}" did not find /${chapter.slug} (found ${hrefs.join(', ')})`);
  }
  // The navbar search box works too (it is what learners use).
  await page.goto(`${origin}/`, { waitUntil: 'networkidle' });
  const box = page.locator('.navbar .navbar__search-input').first();
  if ((await box.count()) === 0) fail('search', 'no search box in the navbar');
}

async function screenshots(page: Page, origin: string, pages: PageInfo[]) {
  await page.goto(`${origin}/`, { waitUntil: 'networkidle' });
  await setColorMode(page, 'light');
  await mermaidState(page, 1);
  await page.screenshot({ path: path.join(outDir, 'home-light.png'), fullPage: true });
  await setColorMode(page, 'dark');
  await mermaidState(page, 1);
  await page.screenshot({ path: path.join(outDir, 'home-dark.png'), fullPage: true });
  await setColorMode(page, 'light');
  const chapter =
    pages.find((p) => /^\/\d\d-/.test(p.route) && p.mermaid > 0) ??
    pages.find((p) => /^\/\d\d-/.test(p.route));
  if (chapter) {
    await page.goto(origin + chapter.route, { waitUntil: 'networkidle' });
    await mermaidState(page, chapter.mermaid);
    await page.screenshot({ path: path.join(outDir, 'chapter.png'), fullPage: true });
    await page.setViewportSize({ width: PHONE_WIDTH, height: 800 });
    await page.screenshot({ path: path.join(outDir, 'chapter-phone.png') });
    await page.setViewportSize(DESKTOP);
  }
}

async function main() {
  const pages = discoverPages(buildDir, path.resolve(args['docs-dir']), root).filter(
    (p) => !args.only || p.route === args.only || p.route.startsWith(`${args.only}/`),
  );
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const server = await serveBuild(buildDir);
  const executablePath = process.env.CHROMIUM_PATH;
  if (!executablePath)
    throw new Error('CHROMIUM_PATH is not set: LAB_WITH_BROWSER=1 source ../shared/ci/provision.sh');
  let browser: Browser | undefined;
  const started = Date.now();
  try {
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    const openLane = async () => {
      const context = await (browser as Browser).newContext({ viewport: DESKTOP, colorScheme: 'light' });
      const page = await context.newPage();
      return { page, watcher: watch(page, server.origin) };
    };
    console.log(
      `site checks: ${pages.length} pages from ${path.relative(root, buildDir)}/sitemap.xml on ${server.origin}, ${LANES} at a time`,
    );
    let next = 0;
    const lane = async () => {
      const { page, watcher } = await openLane();
      for (let i = next++; i < pages.length; i = next++) {
        const info = pages[i] as PageInfo;
        try {
          await checkPage(page, server.origin, info, watcher);
        } catch (error) {
          fail(info.route, `check crashed: ${(error as Error).message.split('\n')[0]}`);
        }
      }
      await page.context().close();
    };
    await Promise.all(Array.from({ length: Math.min(LANES, pages.length) }, lane));
    for (const info of pages) {
      const note = pageNotes.get(info.route);
      if (note) notes.push(note);
    }
    // The steps that follow look at the site as a whole: one lane.
    const { page, watcher } = await openLane();
    const all = args.only ? discoverPages(buildDir, path.resolve(args['docs-dir']), root) : pages;
    for (const [name, step] of [
      ['live code', () => checkRunawayLiveBlock(page, server.origin, all)],
      ['live code download', () => checkLiveBlockSurvivesFailedWorkerLoad(page, server.origin, all)],
      ['instructors', () => checkInstructorsLink(page, server.origin)],
      ['simulators', () => checkSimulators(page, server.origin, all)],
      ['search', () => checkSearch(page, server.origin, all)],
      ['screenshots', () => screenshots(page, server.origin, all)],
    ] as const) {
      try {
        watcher.take();
        await step();
        for (const problem of watcher.take()) fail(name, problem);
      } catch (error) {
        fail(name, `check crashed: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await browser?.close();
    await server.close();
  }
  console.log(notes.map((n) => `  ${n}`).join('\n'));
  console.log(
    `screenshots: ${path.relative(root, outDir)}/  (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
  if (failures.length > 0) {
    console.error(
      `\n✗ site checks: ${failures.length} problem(s)\n${failures.map((f) => `  - ${f}`).join('\n')}`,
    );
    process.exit(1);
  }
  console.log('\n✓ site checks: every page passed');
}

main().catch((error) => {
  console.error(`site checks could not run: ${(error as Error).stack ?? error}`);
  process.exit(2);
});
