/**
 * `npm run grade -- <path...> --out <dir>`: the instructor's command. See `src/lab/grade/grade.ts`
 * and docs/instructors/grading.md.
 */
import path from 'node:path';
import { loadCourse } from '../course.js';
import { DEFAULTS, gradeAll, type SandboxChoice } from '../grade/grade.js';
import { selectExercises } from '../select.js';
import { color, errorColor, progressBar, UsageError } from '../ui.js';

export const gradeHelp = `Usage: npm run grade -- <path...> --out <dir> [options]

Grades learners' copies of the course with the course's own (pristine) suites.

A <path> is a learner's copy of the repository (a folder with exercises/), a folder of such
copies (one subfolder per learner, named by the learner's id), or a .zip / .tar.gz of either.

Options:
  --out <dir>              where the results go (required): <learner>/results.json (Exercism v3
                           + score, max_score), <learner>/gradescope.json, <learner>/junit.xml,
                           <learner>/report.md, gradebook.csv and summary.md
  --chapters <list>        grade part of the course: 01,08 (chapters or exercises, as npm test)
  --hidden <dir>           extra grading-only suites in the exercises/ layout
  --sandbox <mode>         auto (default): each submission in a container of its own when a Docker
                           engine answers (image: LAB_NODE_IMAGE, else node:<.nvmrc>-slim), else
                           on this machine; docker: containers or fail; process: on this machine
  --jobs <n>               submissions graded at once (default: the cores, ${DEFAULTS.jobs} here)
  --timeout <s>            time limit per test file (default ${DEFAULTS.fileTimeoutMs / 1000})
  --submission-timeout <s> time limit per submission (default ${DEFAULTS.submissionTimeoutMs / 1000})
  --memory <MB>            heap limit of each test process (default ${DEFAULTS.memoryMb}); in a
                           container, its whole memory is this plus 512 MB for the runner
  -h, --help               this text

Example:
  npm run grade -- ~/class/submissions --out ~/class/grades --chapters 00,01`;

const VALUE_FLAGS = [
  '--out',
  '--chapters',
  '--hidden',
  '--jobs',
  '--timeout',
  '--submission-timeout',
  '--memory',
  '--sandbox',
];

/** Parses `--flag value` and `--flag=value`; the rest are paths. */
export function parseArgs(args: readonly string[]): { flags: Map<string, string>; paths: string[] } {
  const flags = new Map<string, string>();
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      paths.push(arg);
      continue;
    }
    const [name = '', inline] = arg.split(/=(.*)/s, 2);
    if (!VALUE_FLAGS.includes(name)) throw new UsageError(`Unknown option ${name}.\n\n${gradeHelp}`);
    const value = inline ?? args[++i];
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value.\n\n${gradeHelp}`);
    flags.set(name, value);
  }
  return { flags, paths };
}

function positive(flags: Map<string, string>, name: string, fallback: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number, not "${raw}".`);
  return n;
}

export async function gradeCommand(args: readonly string[]): Promise<number> {
  const { flags, paths } = parseArgs(args);
  const out = flags.get('--out');
  if (!out) throw new UsageError(`--out <dir> is required.\n\n${gradeHelp}`);
  if (paths.length === 0) throw new UsageError(`Name at least one submission.\n\n${gradeHelp}`);
  const course = loadCourse();
  const exercises = selectExercises(course, (flags.get('--chapters') ?? '').split(',').filter(Boolean));
  if (exercises.length === 0) throw new UsageError('The course has no exercises to grade.');
  const hidden = flags.get('--hidden');
  const sandbox = flags.get('--sandbox') ?? 'auto';
  if (!['auto', 'docker', 'process'].includes(sandbox))
    throw new UsageError(`--sandbox must be auto, docker or process, not "${sandbox}".`);

  const tty = Boolean(process.stdout.isTTY);
  const started = Date.now();
  const abort = new AbortController();
  const onInterrupt = () => {
    if (abort.signal.aborted) process.exit(130);
    console.error(
      '\nStopping: killing the runs under way and removing temp files (Ctrl-C again to quit at once)…',
    );
    abort.abort();
  };
  process.on('SIGINT', onInterrupt);
  const grades = await gradeAll({
    signal: abort.signal,
    course,
    exercises,
    paths,
    outDir: path.resolve(out),
    ...(hidden ? { hiddenDir: path.resolve(hidden) } : {}),
    jobs: Math.floor(positive(flags, '--jobs', DEFAULTS.jobs)),
    fileTimeoutMs: positive(flags, '--timeout', DEFAULTS.fileTimeoutMs / 1000) * 1000,
    submissionTimeoutMs: positive(flags, '--submission-timeout', DEFAULTS.submissionTimeoutMs / 1000) * 1000,
    memoryMb: Math.floor(positive(flags, '--memory', DEFAULTS.memoryMb)),
    sandbox: sandbox as SandboxChoice,
    onSandbox: (line) => console.log(line.startsWith('not') ? errorColor.yellow(line) : line),
    onProgress: ({ done, total, grade, learner }) => {
      if (tty) {
        const line = `${progressBar(done, total)} ${done}/${total} ${grade ? '' : `grading ${learner}`}`;
        process.stdout.write(`\r\u001b[2K${line}`);
        if (done === total && grade) process.stdout.write('\n');
      } else if (grade) {
        const errors = grade.exercises.filter((e) => e.error).length;
        console.log(
          `[${done}/${total}] ${grade.learner}: ${grade.score} of ${grade.maxScore} points` +
            `${errors > 0 ? `, ${errors} exercise(s) could not be graded` : ''} (${(grade.durationMs / 1000).toFixed(1)} s)`,
        );
      }
    },
  });
  process.off('SIGINT', onInterrupt);
  if (abort.signal.aborted) {
    console.error(
      errorColor.yellow(
        `Interrupted after ${grades.length} submission(s); their files are in ${path.resolve(out)}.`,
      ),
    );
    return 130;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `${color.green('Graded')} ${grades.length} submission(s) in ${seconds} s. Results: ${color.cyan(path.resolve(out))} (gradebook.csv, summary.md, <learner>/report.md)`,
  );
  return 0;
}
