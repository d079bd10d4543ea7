/** What the exercises plugin publishes for the browser (plain JSON, no functions). */
export interface ExerciseData {
  /** `08-traffic/rate-limiter` */
  readonly id: string;
  readonly title: string;
  readonly summary: string;
  readonly difficulty: 1 | 2 | 3;
  readonly minutes: number;
  readonly concepts: readonly string[];
  /** Paths from the repository root, e.g. `exercises/08-traffic/rate-limiter/limiter.ts`. */
  readonly files: readonly string[];
  readonly needs: readonly string[];
  readonly points: number;
  /** The exact commands, ready to paste. */
  readonly test: string;
  readonly hint: string;
  readonly hintsFile: string;
  readonly serve?: string;
  readonly bench?: string;
}

export interface ExercisesGlobalData {
  /** Exercises per chapter slug, in folder order. */
  byChapter: Record<string, ExerciseData[]>;
}
