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
};
