/**
 * The grader's files. Per learner: an Exercism test-runner v3 `results.json` (plus `score` and
 * `max_score`), a Gradescope `results.json`, JUnit XML and a `report.md` written for the learner.
 * For the class: `gradebook.csv` and `summary.md`.
 */
import type { Course } from '../course.js';
import { type ExerciseGrade, round, type SubmissionGrade, type TestGrade } from './score.js';

/** A learner's report lists this many failing tests per exercise; the fix for the first few often fixes the rest. */
const MAX_FAILURES_SHOWN = 8;

/** Exercism trims a test's output to this many characters. */
const MAX_OUTPUT = 500;

const trimOutput = (text: string) =>
  text.length > MAX_OUTPUT
    ? `${text.slice(0, MAX_OUTPUT - 40)}\n… (output trimmed to ${MAX_OUTPUT} characters)`
    : text;

/** https://exercism.org/docs/building/tooling/test-runners/interface (version 3), plus score/max_score. */
export function exercismResults(grade: SubmissionGrade) {
  const tests = grade.exercises.flatMap((e) =>
    e.error
      ? [{ name: e.id, status: 'error', message: e.error, task_id: e.id }]
      : e.tests.map((t) => ({
          name: t.name,
          status: t.status === 'passed' ? 'pass' : 'fail',
          ...(t.status === 'passed' ? {} : { message: t.message ?? 'The test did not pass.' }),
          ...(t.output ? { output: trimOutput(t.output) } : {}),
          task_id: e.id,
        })),
  );
  const ran = grade.exercises.some((e) => !e.error);
  const allPassed = grade.exercises.every((e) => e.status === 'passed');
  return {
    version: 3,
    status: !ran ? 'error' : allPassed ? 'pass' : 'fail',
    ...(!ran ? { message: `No exercise could be run. ${grade.exercises[0]?.error ?? ''}` } : {}),
    tests,
    score: grade.score,
    max_score: grade.maxScore,
  };
}

/** https://gradescope-autograders.readthedocs.io/en/latest/specs/ (results.json). */
export function gradescopeResults(grade: SubmissionGrade, report?: string) {
  const tests = grade.exercises.flatMap((e) =>
    e.error
      ? [
          {
            name: `${e.id}: could not be graded`,
            score: 0,
            max_score: e.maxScore,
            status: 'failed',
            output: e.error,
            visibility: 'visible',
          },
        ]
      : e.tests.map((t) => ({
          name: `${e.id} › ${t.name}`,
          score: Math.round(t.score * 10_000) / 10_000,
          max_score: Math.round(t.maxScore * 10_000) / 10_000,
          status: t.status === 'passed' ? 'passed' : 'failed',
          ...(t.status === 'passed'
            ? {}
            : { output: [t.message ?? 'The test did not pass.', t.output].filter(Boolean).join('\n\n') }),
          visibility: t.hidden ? 'after_published' : 'visible',
        })),
  );
  return {
    score: grade.score,
    max_score: grade.maxScore,
    execution_time: Math.round(grade.durationMs / 1000),
    output: report ?? `${grade.score} of ${grade.maxScore} points.`,
    output_format: 'md',
    visibility: 'visible',
    stdout_visibility: 'hidden',
    tests,
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: characters XML 1.0 forbids
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
const xml = (text: string) =>
  text
    .replace(XML_INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

/** JUnit XML, one `<testsuite>` per exercise. */
export function junitXml(grade: SubmissionGrade): string {
  const suites = grade.exercises.map((e) => {
    const cases = e.error
      ? [
          `    <testcase classname="${xml(e.id)}" name="${xml(e.id)}" time="0">\n      <error message="${xml(firstLine(e.error))}">${xml(e.error)}</error>\n    </testcase>`,
        ]
      : e.tests.map((t) => {
          const body =
            t.status === 'failed'
              ? `\n      <failure message="${xml(firstLine(t.message ?? 'failed'))}">${xml(t.message ?? '')}</failure>\n    `
              : t.status === 'skipped'
                ? '\n      <skipped/>\n    '
                : '';
          const out = t.output ? `<system-out>${xml(t.output)}</system-out>` : '';
          return `    <testcase classname="${xml(e.id)}" name="${xml(t.name)}" time="0">${body}${out}</testcase>`;
        });
    const failures = e.tests.filter((t) => t.status === 'failed').length;
    const skipped = e.tests.filter((t) => t.status === 'skipped').length;
    return [
      `  <testsuite name="${xml(e.id)}" tests="${e.error ? 1 : e.tests.length}" failures="${failures}" errors="${e.error ? 1 : 0}" skipped="${skipped}">`,
      ...cases,
      '  </testsuite>',
    ].join('\n');
  });
  const tests = grade.exercises.reduce((n, e) => n + (e.error ? 1 : e.tests.length), 0);
  const failures = grade.exercises.reduce(
    (n, e) => n + e.tests.filter((t) => t.status === 'failed').length,
    0,
  );
  const errors = grade.exercises.filter((e) => e.error).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(grade.learner)}" tests="${tests}" failures="${failures}" errors="${errors}" time="${(grade.durationMs / 1000).toFixed(1)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

const firstLine = (text: string) => text.split('\n')[0] ?? '';
const indent = (text: string, prefix = '    ') =>
  text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');

function exerciseState(e: ExerciseGrade): string {
  if (e.error) return 'could not be graded';
  if (e.status === 'passed') return 'solved';
  if (e.notImplemented) return 'not implemented';
  const failing = e.tests.filter((t) => t.status !== 'passed').length;
  return `${failing} of ${e.tests.length} tests failing`;
}

/** The learner's report: what passed, what failed and why, in plain words. */
export function learnerReport(grade: SubmissionGrade, course: Course): string {
  const lines = [
    `# Results for ${grade.learner}`,
    '',
    `**${grade.score} of ${grade.maxScore} points.**`,
    '',
    '| Exercise | Result | Points |',
    '|---|---|---|',
    ...grade.exercises.map(
      (e) => `| ${e.title} (\`${e.id}\`) | ${exerciseState(e)} | ${e.score} / ${e.maxScore} |`,
    ),
  ];
  for (const e of grade.exercises.filter((x) => x.status !== 'passed')) {
    lines.push('', `## ${e.title} (\`${e.id}\`)`, '');
    if (e.error) {
      // The first line says what happened; the rest (file:line:column, a code frame, what to do) is kept as it is.
      const [headline = '', ...details] = e.error.split('\n');
      lines.push(headline, '');
      if (details.some((l) => l.trim())) lines.push('```text', ...details, '```', '');
      lines.push('None of this exercise’s tests could be counted, so it scores 0.');
      continue;
    }
    if (e.notImplemented) {
      lines.push(
        `Not implemented yet: the functions still throw "not implemented". Open ${filesOf(course, e.id)} and make \`npm test -- ${e.id}\` pass.`,
      );
      continue;
    }
    const visible = e.tests.filter((t) => !t.hidden);
    lines.push(
      `Passed ${e.tests.filter((t) => t.status === 'passed').length} of ${e.tests.length} tests.`,
      '',
    );
    const failing = visible.filter((x) => x.status !== 'passed');
    for (const t of failing.slice(0, MAX_FAILURES_SHOWN)) lines.push(...failedTest(t));
    if (failing.length > MAX_FAILURES_SHOWN)
      lines.push(
        `- … and ${failing.length - MAX_FAILURES_SHOWN} more failing tests: start with the ones above.`,
      );
    const hiddenFailed = e.tests.filter((t) => t.hidden && t.status !== 'passed').length;
    if (hiddenFailed > 0)
      lines.push(
        `- ${hiddenFailed} additional grading test(s) failed; they are not shown before grades are published.`,
      );
  }
  const passed = grade.exercises.filter((e) => e.status === 'passed');
  if (passed.length > 0) lines.push('', '## Solved', '', ...passed.map((e) => `- ${e.title} (\`${e.id}\`)`));
  return `${lines.join('\n')}\n`;
}

function failedTest(t: TestGrade): string[] {
  const out = [`- **${t.name}**`];
  if (t.message) out.push('', indent(t.message), '');
  return out;
}

function filesOf(course: Course, id: string): string {
  const exercise = course.exercises.find((e) => e.id === id);
  return (exercise?.manifest.files ?? []).map((f) => `\`exercises/${id}/${f}\``).join(', ');
}

const csvCell = (value: string | number) => {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** One row per learner: a column per chapter graded, then the total. */
export function gradebookCsv(grades: readonly SubmissionGrade[], chapters: readonly string[]): string {
  const rows = [['learner', ...chapters, 'total', 'max_score']];
  for (const g of grades) {
    const byChapter = chapters.map((c) =>
      round(g.exercises.filter((e) => e.chapter === c).reduce((sum, e) => sum + e.score, 0)),
    );
    rows.push([g.learner, ...byChapter.map(String), String(g.score), String(g.maxScore)]);
  }
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\n')}\n`;
}

/** For the instructor: per exercise, how many solved it and what the class struggles with. */
/** How the run went, for the summary's opening lines. */
export interface RunFacts {
  readonly durationMs: number;
  readonly jobs: number;
  /** One line: how submissions were isolated ("not sandboxed: no Docker engine"). */
  readonly sandbox: string;
}

export function classSummary(grades: readonly SubmissionGrade[], run?: RunFacts): string {
  const n = grades.length;
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  const each = n === 0 ? 0 : grades.reduce((s, g) => s + g.durationMs, 0) / n;
  const lines = [
    '# Grading summary',
    '',
    `${n} submission(s). Mean score ${n === 0 ? 0 : round(grades.reduce((s, g) => s + g.score, 0) / n)} of ${grades[0]?.maxScore ?? 0}.`,
    '',
    ...(run
      ? [
          `Grading took ${seconds(run.durationMs)} s (${seconds(each)} s per submission on average, ${run.jobs} at a time); ${run.sandbox}.`,
          '',
        ]
      : []),
    '| Exercise | Solved | Mean points | Not implemented | Could not be graded | Most common failing test |',
    '|---|---|---|---|---|---|',
  ];
  const ids = [...new Set(grades.flatMap((g) => g.exercises.map((e) => e.id)))];
  for (const id of ids) {
    const all = grades.flatMap((g) => g.exercises.filter((e) => e.id === id));
    const solved = all.filter((e) => e.status === 'passed').length;
    const mean = round(all.reduce((s, e) => s + e.score, 0) / Math.max(1, all.length));
    const notImplemented = all.filter((e) => e.notImplemented).length;
    const errors = all.filter((e) => e.error).length;
    const counts = new Map<string, number>();
    for (const e of all.filter((x) => !x.notImplemented))
      for (const t of e.tests.filter((x) => x.status === 'failed'))
        counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const [worst, times] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['—', 0];
    const struggle = times > 0 ? `${worst.replace(/\|/g, '\\|')} (${times} of ${all.length})` : '—';
    lines.push(
      `| \`${id}\` | ${solved} of ${all.length} | ${mean} / ${all[0]?.maxScore ?? 0} | ${notImplemented} | ${errors} | ${struggle} |`,
    );
  }
  lines.push('', '## Learners', '', '| Learner | Points |', '|---|---|');
  for (const g of grades) lines.push(`| ${g.learner} | ${g.score} / ${g.maxScore} |`);
  return `${lines.join('\n')}\n`;
}
