/**
 * Terminal output for the lab commands: colours only where they will be read as colours, progress
 * bars, and "did you mean" suggestions.
 */

/**
 * Whether to colour what goes to `stream`: `FORCE_COLOR` (any value but "0" or empty) forces colours,
 * `FORCE_COLOR=0` or a non-empty `NO_COLOR` (https://no-color.org) turns them off, and otherwise only
 * a terminal gets them (never a pipe: `npm test | tee log` keeps a clean log).
 */
export function useColor(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.FORCE_COLOR) return env.FORCE_COLOR !== '0';
  return !env.NO_COLOR && Boolean(stream.isTTY);
}

/**
 * The same choice for a child process that prints to this one's stdout (Vitest): without it, Vitest
 * colours a pipe (it only checks NO_COLOR and TERM). Entries set to undefined are left out by spawn.
 */
export function colorEnv(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  return useColor(stream, env)
    ? { FORCE_COLOR: '1', NO_COLOR: undefined }
    : { NO_COLOR: '1', FORCE_COLOR: undefined };
}

const palette = (stream: () => { isTTY?: boolean }) => {
  const paint =
    (open: number, close: number) =>
    (text: string): string =>
      useColor(stream()) ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    bold: paint(1, 22),
    dim: paint(2, 22),
    red: paint(31, 39),
    green: paint(32, 39),
    yellow: paint(33, 39),
    cyan: paint(36, 39),
  };
};

/** Colours for what goes to stdout. */
export const color = palette(() => process.stdout);
/** Colours for what goes to stderr (which may be a terminal while stdout is a pipe, or the other way). */
export const errorColor = palette(() => process.stderr);

/** `[██████░░░░] 60%`, or an ASCII version where colours are off. */
export function progressBar(done: number, total: number, width = 20): string {
  const ratio = total === 0 ? 0 : done / total;
  const filled = Math.round(ratio * width);
  const [on, off] = useColor() ? ['█', '░'] : ['#', '-'];
  return `[${on.repeat(filled)}${off.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

/** The candidate closest to `input` by edit distance, if it is close enough to be a plausible typo. */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(input.length / 3)) ? best.candidate : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** An error meant for the person at the terminal: printed without a stack, exits with `exitCode`. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
