/**
 * `npm run hint -- <exercise> [--all]`: the next hint from the exercise's HINTS.md that the learner
 * has not seen, remembered in `.lab/hints.json`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { courseDirs, loadCourse } from '../course.js';
import { selectOneExercise } from '../select.js';
import { color, UsageError } from '../ui.js';
import { snapshotPristine } from './reset.js';

export const hintHelp = `Usage: npm run hint -- <exercise> [--all]

Shows the next hint for an exercise that you have not seen yet (hints get more specific as
you go), and remembers which ones you have seen.

  <exercise>    08/rate-limiter, rate-limiter or 08-traffic/rate-limiter

Options:
  --all         show every hint
  -h, --help    this text`;

export interface Hint {
  readonly title: string;
  readonly body: string;
}

/** The hints of a HINTS.md: its `## Hint N` sections, in order. */
export function parseHints(markdown: string): Hint[] {
  const sections = markdown.split(/^(?=## )/m).filter((s) => /^## Hint\b/i.test(s));
  return sections.map((s) => {
    const [title = '', ...body] = s.split('\n');
    return { title: title.replace(/^##\s*/, '').trim(), body: body.join('\n').trim() };
  });
}

type Seen = Record<string, number>;
const seenFile = (root: string) => path.join(courseDirs(root).lab, 'hints.json');

export function readSeen(root: string): Seen {
  try {
    const parsed = JSON.parse(readFileSync(seenFile(root), 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Seen) : {};
  } catch {
    return {};
  }
}

function writeSeen(root: string, seen: Seen): void {
  const file = seenFile(root);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(seen, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export async function hintCommand(args: readonly string[]): Promise<number> {
  const all = args.includes('--all');
  const flags = args.filter((a) => a.startsWith('-') && a !== '--all');
  if (flags.length > 0) throw new UsageError(`Unknown option ${flags.join(', ')}.\n\n${hintHelp}`);
  const names = args.filter((a) => !a.startsWith('-'));
  if (names.length !== 1) throw new UsageError(`Name one exercise.\n\n${hintHelp}`);
  const course = loadCourse();
  snapshotPristine(course);
  const exercise = selectOneExercise(course, names[0] as string);
  const file = path.join(exercise.dir, 'HINTS.md');
  const hints = existsSync(file) ? parseHints(readFileSync(file, 'utf8')) : [];
  if (hints.length === 0) {
    console.log(
      `${exercise.id} has no hints yet. Read the test names and messages: they say what is expected.`,
    );
    return 0;
  }
  const seen = readSeen(course.root);
  const shown = Math.min(seen[exercise.id] ?? 0, hints.length);
  const show = (h: Hint) =>
    console.log(
      `${color.bold(`${h.title} of ${hints.length}`)} ${color.dim(`(${exercise.id})`)}\n\n${h.body}\n`,
    );

  if (all) {
    for (const h of hints) show(h);
    writeSeen(course.root, { ...seen, [exercise.id]: hints.length });
    return 0;
  }
  if (shown >= hints.length) {
    console.log(`You have seen all ${hints.length} hints for ${exercise.id}. The last one again:\n`);
    show(hints[hints.length - 1] as Hint);
    console.log(color.dim(`\`npm run hint -- ${names[0]} --all\` shows every hint.`));
    return 0;
  }
  show(hints[shown] as Hint);
  writeSeen(course.root, { ...seen, [exercise.id]: shown + 1 });
  const left = hints.length - shown - 1;
  console.log(
    color.dim(
      left > 0
        ? `${left} more hint(s): run the same command again when you need the next one.`
        : 'That was the last hint.',
    ),
  );
  return 0;
}
