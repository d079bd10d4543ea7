/**
 * Every lab command, by the name npm scripts use. Each loads lazily, so `npm test` does not pay for
 * the grader's imports. A command module exports a runner (args → exit code) and its `--help` text.
 */

/** Runs a command with its arguments; resolves with the process exit code. */
export type CommandRunner = (args: readonly string[]) => Promise<number>;

export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<{ run: CommandRunner; help: string }>;
}

export const commands: Readonly<Record<string, CommandEntry>> = {
  test: {
    summary: 'run exercises’ tests and say what to do next',
    load: async () => {
      const m = await import('./test.js');
      return { run: m.testCommand, help: m.testHelp };
    },
  },
  verify: {
    summary:
      'the course’s own checks: types, lint, manifests, solutions green, stubs red, site (maintainers, CI)',
    load: async () => {
      const m = await import('./verify.js');
      return { run: m.verifyCommand, help: m.verifyHelp };
    },
  },
  mutate: {
    summary: 'mutation score of an exercise’s suite against its reference solution (maintainers)',
    load: async () => {
      const m = await import('./mutate.js');
      return { run: m.mutateCommand, help: m.mutateHelp };
    },
  },
  progress: {
    summary: 'your progress: every chapter and exercise, and the next one to do',
    load: async () => {
      const m = await import('./progress.js');
      return { run: m.progressCommand, help: m.progressHelp };
    },
  },
  hint: {
    summary: 'the next hint for an exercise',
    load: async () => {
      const m = await import('./hint.js');
      return { run: m.hintCommand, help: m.hintHelp };
    },
  },
  reset: {
    summary: 'restore an exercise’s stub (keeps a backup of your version)',
    load: async () => {
      const m = await import('./reset.js');
      return { run: m.resetCommand, help: m.resetHelp };
    },
  },
  solution: {
    summary: 'the reference solution of an exercise you have solved',
    load: async () => {
      const m = await import('./solution.js');
      return { run: m.solutionCommand, help: m.solutionHelp };
    },
  },
  serve: {
    summary: 'start a server exercise by hand',
    load: async () => {
      const m = await import('./serve.js');
      return { run: m.serveCommand, help: m.serveHelp };
    },
  },
  bench: {
    summary: 'load-test an exercise against its baseline',
    load: async () => {
      const m = await import('./bench.js');
      return { run: m.benchCommand, help: m.benchHelp };
    },
  },
  grade: {
    summary: 'grade learners’ copies of the course (instructors)',
    load: async () => {
      const m = await import('./grade.js');
      return { run: m.gradeCommand, help: m.gradeHelp };
    },
  },
};
