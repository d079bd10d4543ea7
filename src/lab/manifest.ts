/**
 * The exercise manifest (`exercise.json`): the single source of truth about an exercise.
 * The site, the runner and the grader all read it through {@link parseManifest}.
 */
import { z } from 'zod';

const fileName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]*\.ts$/, 'must be a plain file name in the exercise folder, ending in .ts');

export const manifestSchema = z
  .object({
    /** `<NN-slug>/<exercise>`, exactly the folder the manifest sits in below `exercises/`. */
    id: z
      .string()
      .regex(/^\d\d-[a-z0-9-]+\/[a-z0-9-]+$/, 'must look like "08-traffic/rate-limiter" (chapter/exercise)'),
    title: z.string().min(3),
    /** One or two sentences: what the learner builds and why it matters. */
    summary: z.string().min(20),
    /** 1 = warm-up, 2 = solid, 3 = hard. */
    difficulty: z.union([z.literal(1), z.literal(2), z.literal(3)]),
    /** A realistic time for a working developer, in minutes. */
    minutes: z.number().int().positive().max(600),
    concepts: z.array(z.string().min(2)).min(1),
    /** The files the learner edits; the grader copies exactly these from a submission. */
    files: z.array(fileName).min(1),
    /** Infrastructure the suite needs. */
    needs: z.array(z.enum(['redis'])).default([]),
    /** Points the whole exercise is worth; split equally over its tests unless `weights` says otherwise. */
    points: z.number().positive().default(10),
    /** Relative weight per test, keyed by the test's full name ("describe > it"); unlisted tests weigh 1. */
    weights: z.record(z.string(), z.number().nonnegative()).default({}),
    /** Position in its chapter (1 = do this first); the runner, progress and the site list exercises in this order. */
    order: z.number().int().min(1).optional(),
    /**
     * Files the exercise gives that are copies of another exercise's answer (exercises import only
     * their own folder), mapped to their source from the course root, e.g.
     * `{"protocol.ts": "solutions/10-realtime/chat-protocol/protocol.ts"}`. A copy may start with one
     * plain `/* ... *\/` header comment; the rest must equal the source (verify checks it).
     */
    copies: z
      .record(fileName, z.string().regex(/^solutions\/\d\d-[a-z0-9-]+\/[a-z0-9-]+\/[a-z0-9.-]+\.ts$/))
      .default({}),
    /** A file in the exercise folder whose default export starts the exercise as a server (`npm run serve`). */
    serve: fileName.optional(),
    /** A file in the exercise folder whose default export benchmarks it against a baseline (`npm run bench`). */
    bench: fileName.optional(),
  })
  .strict();

/** A validated manifest, with defaults applied. */
export type Manifest = z.infer<typeof manifestSchema>;

/** Raised for a manifest that is not valid; the message names the file and every bad field. */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ManifestError';
  }
}

/**
 * Parses and validates the text of one `exercise.json`.
 * @param file path used in error messages
 * @throws {ManifestError} when the text is not JSON or a field is missing or wrong
 */
export function parseManifest(file: string, text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  const result = manifestSchema.safeParse(raw);
  if (!result.success) {
    throw new ManifestError(
      file,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}
