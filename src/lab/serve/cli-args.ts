/**
 * The command line shared by `serve` and `bench`: `<exercise> [--flag value]... [-- extra args]`.
 */
import { UsageError } from '../ui.js';

export interface EntryArgs {
  readonly exercise: string;
  readonly flags: ReadonlyMap<string, string>;
  /** Everything after `--`, for the entry itself. */
  readonly extra: readonly string[];
}

/** Parses the arguments; `valueFlags` are the options that take a value. */
export function parseEntryArgs(
  args: readonly string[],
  valueFlags: readonly string[],
  help: string,
): EntryArgs {
  const dashes = args.indexOf('--');
  const own = dashes === -1 ? args : args.slice(0, dashes);
  const extra = dashes === -1 ? [] : args.slice(dashes + 1);
  const flags = new Map<string, string>();
  const names: string[] = [];
  for (let i = 0; i < own.length; i++) {
    const arg = own[i] as string;
    if (!arg.startsWith('-')) {
      names.push(arg);
      continue;
    }
    const [name = '', inline] = arg.split(/=(.*)/s, 2);
    if (!valueFlags.includes(name)) throw new UsageError(`Unknown option ${name}.\n\n${help}`);
    const value = inline ?? own[++i];
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value.\n\n${help}`);
    flags.set(name, value);
  }
  if (names.length !== 1) throw new UsageError(`Name one exercise.\n\n${help}`);
  return { exercise: names[0] as string, flags, extra };
}

/** A flag's value as a whole number within bounds, or the fallback when absent. */
export function intFlag(
  flags: ReadonlyMap<string, string>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not "${raw}".`);
  return n;
}
