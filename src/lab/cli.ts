/**
 * The lab's command line: `node --import tsx src/lab/cli.ts <command> [args]`, reached through the npm scripts
 * (`npm test`, `npm run verify`, ...). The commands are listed in `commands/index.ts`.
 */
import { commands } from './commands/index.js';
import { CourseError } from './course.js';
import { errorColor, UsageError } from './ui.js';

function usage(): string {
  return [
    'Usage: npm run <command> -- [args]   (npm test -- [args] for tests)',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    '',
    'Every command takes --help.',
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`Unknown command "${name}".\n\n${usage()}`);
  const { run, help } = await command.load();
  if (args.includes('--help') || args.includes('-h')) {
    console.log(help);
    return 0;
  }
  return run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof CourseError) {
      console.error(errorColor.red(error.message));
      process.exitCode = error instanceof UsageError ? error.exitCode : 1;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  },
);
