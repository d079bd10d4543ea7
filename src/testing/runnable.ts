/**
 * The contracts of an exercise's runnable entry points, named in its manifest:
 *
 * - `serve` (e.g. `serve.ts`): `export default async function serve(ctx: ServeContext): Promise<Served>`,
 *   started by `npm run serve -- <exercise> [--target solutions] [--port N] [-- extra args]`.
 * - `bench` (e.g. `bench.ts`): `export default async function bench(ctx: BenchContext): Promise<void>`,
 *   run by `npm run bench -- <exercise> [--target solutions] [--duration S] [--connections N]`.
 *
 * Both import the implementation relatively (`./server.js`), so the same target switch that the
 * tests use (`LAB_TARGET`, `--target`) decides whose code runs. While an entry runs, the runner sets
 * `LAB_TARGET` to that target's folder, so an entry that starts processes of its own (a cluster's
 * workers) finds the target's files with the kit's `implementationFile`, as suites do.
 */

/** What `npm run serve` hands to an exercise's `serve` entry. */
export interface ServeContext {
  /** The port to listen on (0 = any free port). */
  readonly port: number;
  /** Always 127.0.0.1 unless the learner asks otherwise. */
  readonly host: string;
  /** A Redis found the way tests find it, for exercises whose manifest needs it. */
  readonly redisUrl?: string;
  /** Arguments after `--` on the command line (e.g. backend URLs for a load balancer). */
  readonly args: readonly string[];
  /** Prints a line for the learner. */
  log(line: string): void;
}

/** A started service. */
export interface Served {
  /** Where it listens, e.g. `http://127.0.0.1:3000` or `ws://127.0.0.1:3000`. */
  readonly url: string;
  /** Lines to show the learner after start: what to try with curl or a client. */
  readonly tryIt?: readonly string[];
  /** Stops the service and everything it started. */
  close(): Promise<void>;
}

/** What `npm run bench` hands to an exercise's `bench` entry. */
export interface BenchContext {
  /** A Redis found the way tests find it, for exercises whose manifest needs it. */
  readonly redisUrl?: string;
  /** How long each measured phase should run, in seconds (default 5). */
  readonly durationSeconds: number;
  /** Concurrent connections for load phases (default 50). */
  readonly connections: number;
  /** Arguments after `--`. */
  readonly args: readonly string[];
  /** Prints a line of the report. */
  log(line: string): void;
}
