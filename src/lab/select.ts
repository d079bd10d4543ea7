/**
 * Turns what a learner types after `npm test --` into exercises: `8`, `08`, `traffic`,
 * `08-traffic`, `08/rate-limiter`, `traffic/rate-limiter`, `rate-limiter`, several at once, or
 * nothing for everything.
 */
import { allChapters } from '../course/syllabus.js';
import type { Course, Exercise } from './course.js';
import { closestMatch, UsageError } from './ui.js';

/** Every spelling a selector may take, for error messages and suggestions. */
export function selectorNames(course: Course): string[] {
  return course.chapters.flatMap((c) => [
    c.number,
    c.name,
    ...c.exercises.map((e) => `${c.number}/${e.name}`),
  ]);
}

/**
 * The exercises the selectors name, in course order, each once.
 * @throws {UsageError} (exit code 2) for a selector that names nothing, listing the valid ones
 */
export function selectExercises(course: Course, selectors: readonly string[]): Exercise[] {
  if (selectors.length === 0) return [...course.exercises];
  const chosen = new Set<Exercise>();
  for (const selector of selectors) {
    const matches = match(course, selector.trim().replace(/\/+$/, ''));
    if (matches.length === 0) throw unknownSelector(course, selector);
    for (const m of matches) chosen.add(m);
  }
  return course.exercises.filter((e) => chosen.has(e));
}

/** One exercise by any of its spellings, for commands that take exactly one (hint, reset, serve...). */
export function selectOneExercise(course: Course, selector: string): Exercise {
  const matches = match(course, selector.trim().replace(/\/+$/, ''));
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length > 1) {
    throw new UsageError(
      `"${selector}" names ${matches.length} exercises; name one:\n${matches.map((e) => `  ${e.id}`).join('\n')}`,
    );
  }
  throw unknownSelector(course, selector);
}

function chapterMatches(course: Course, token: string) {
  const asNumber = /^\d{1,2}$/.test(token) ? token.padStart(2, '0') : undefined;
  return course.chapters.filter((c) => c.number === asNumber || c.name === token || c.slug === token);
}

function match(course: Course, selector: string): Exercise[] {
  if (!selector) return [];
  const [first = '', second, ...rest] = selector.split('/');
  if (rest.length > 0) return [];
  if (second === undefined) {
    const chapters = chapterMatches(course, first);
    if (chapters.length > 0) return chapters.flatMap((c) => c.exercises);
    return course.exercises.filter((e) => e.name === first);
  }
  return chapterMatches(course, first).flatMap((c) => c.exercises.filter((e) => e.name === second));
}

function unknownSelector(course: Course, selector: string): UsageError {
  const names = selectorNames(course);
  const suggestion = closestMatch(selector, [...names, ...course.exercises.map((e) => e.name)]);
  const planned = allChapters.find(
    (c) => c.slug.slice(0, 2) === selector.padStart(2, '0') || c.slug.slice(3) === selector,
  );
  const lines = [
    planned
      ? `Chapter ${planned.slug} ("${planned.title}") has no exercises yet.`
      : `No chapter or exercise is called "${selector}".`,
  ];
  if (suggestion) lines.push(`Did you mean "${suggestion}"?`);
  lines.push('', 'You can select:');
  for (const chapter of course.chapters) {
    lines.push(`  ${chapter.number} or ${chapter.name}  (${chapter.title})`);
    for (const exercise of chapter.exercises)
      lines.push(`      ${chapter.number}/${exercise.name} or ${exercise.name}`);
  }
  return new UsageError(lines.join('\n'));
}
