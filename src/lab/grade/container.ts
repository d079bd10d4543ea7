/**
 * Container mode: one submission's suites run in a throw-away container, with its own throw-away
 * Redis, so that hostile code reaches nothing of the instructor's machine.
 *
 * - The course (code, pristine suites, `node_modules`) is mounted read-only at its own path, the
 *   submission's copied files read-only at `/submission`; the root file system is read-only and
 *   `/tmp` a small private tmpfs: whatever the code writes dies with the container.
 * - Network: the container joins the network namespace of the submission's Redis container, which
 *   was started with `--network none`. The two share a loopback interface and nothing else: no route
 *   to the host or the internet. (A Docker network made `--internal` is not enough: its containers
 *   still reach the host through the bridge's gateway address, measured on Docker 20.10.)
 * - `--memory` covers everything in the container (heap, Buffers, child processes), `--cpus` and
 *   `--pids-limit` stop a busy loop or a fork bomb from taking the machine, capabilities are dropped
 *   to the three the grader needs, and a wall-clock limit ends the container if all else fails.
 * - Results: the grader's side inside (`container-main.ts`) prints the verdicts on its own stdout,
 *   which the learner's code (an unprivileged user in every test worker) cannot reach.
 *
 * Every container is labelled with this process and removed by a watchdog if the grader dies.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROMETHEUS_DIR_VARIABLE, prometheusAvailability } from '../../testing/prometheus.js';
import { watchdog } from '../../testing/redis-server.js';
import { courseRoot } from '../course.js';
import type { FileVerdict } from './run.js';

const run = promisify(execFile);

/** What the host hands over in `LAB_GRADE_JOB`. */
export interface ContainerJob {
  readonly files: readonly string[];
  readonly targetDir: string;
  readonly hiddenDir?: string;
  readonly needsRedis: boolean;
  readonly fileTimeoutMs: number;
  readonly submissionTimeoutMs: number;
  readonly memoryMb: number;
  /** Test file → the exercise it belongs to. */
  readonly groups: Readonly<Record<string, string>>;
}

/** Starts the line of stdout that carries the verdicts. */
export const VERDICTS_MARK = '@@lab-grade-verdicts@@ ';
/** The learner's user inside the container: no name, no home, no capabilities. */
export const LEARNER_UID = 10_001;

/** Memory the runner itself (the grader's side, Vitest's main process) needs on top of the tests. */
export const RUNNER_MEMORY_MB = 512;
/** What a Prometheus started by chapter 11's suites may add (it holds a few series for seconds). */
export const PROMETHEUS_MEMORY_MB = 256;
/** Where this machine's `prometheus` and `promtool` appear inside the sandbox. */
const PROMETHEUS_MOUNT = '/opt/lab-prometheus';

/**
 * Mounts this machine's `prometheus` and `promtool` (read-only) into the sandbox when it has them,
 * so chapter 11's real-Prometheus tests run there as on the instructor's machine instead of being
 * skipped. They are static Go programs apart from the C library, which the image shares with this
 * machine (it is built from it) or has of its own (the official node image).
 */
function prometheusMounts(): string[] {
  const found = prometheusAvailability({ PATH: process.env.PATH ?? '' });
  if (!found.ok) return [];
  return [
    '-v',
    `${found.prometheus}:${PROMETHEUS_MOUNT}/prometheus:ro`,
    '-v',
    `${found.promtool}:${PROMETHEUS_MOUNT}/promtool:ro`,
    '-e',
    `${PROMETHEUS_DIR_VARIABLE}=${PROMETHEUS_MOUNT}`,
  ];
}
/** Processes and threads per container: Node needs about a dozen threads per process. */
export const PIDS_LIMIT = 512;
/** Time the container gets beyond the submission's own limit before it is killed from outside. */
const GRACE_MS = 30_000;
const REDIS_URL = 'redis://127.0.0.1:6379';
const DRIVER = path.join(courseRoot, 'src/lab/grade/container-main.ts');

/** The image: `LAB_NODE_IMAGE`, else the official `node` image of the version in `.nvmrc`. */
export function nodeImage(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LAB_NODE_IMAGE) return env.LAB_NODE_IMAGE;
  const nvmrc = path.join(courseRoot, '.nvmrc');
  const version = existsSync(nvmrc) ? readFileSync(nvmrc, 'utf8').trim().replace(/^v/, '') : '24';
  return `node:${version}-slim`;
}

/** Whether a Docker engine answers within `timeoutMs`. */
export async function dockerAnswers(timeoutMs = 5000): Promise<boolean> {
  try {
    await run('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: timeoutMs });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks once per grading run that the image can run the course: Node starts and loads the
 * course's native build tools (Vite's bundler) from the read-only mount.
 * @returns undefined when it can, else what is wrong and what to do
 */
export async function checkImage(image: string, redisImage: string): Promise<string | undefined> {
  const problem = await imageRunsCourse(image);
  if (problem) return problem;
  try {
    await run('docker', ['image', 'inspect', redisImage], { timeout: 30_000 });
  } catch {
    // docker run pulls an official image on first use; a local-only one must exist
    if (process.env.LAB_REDIS_IMAGE)
      return `the Redis image ${redisImage} (LAB_REDIS_IMAGE) is not on this machine.`;
  }
  return undefined;
}

const MISSING_LIBRARY = /([\w.+-]+\.so[\w.]*): cannot open shared object file/;

/** Where glibc systems keep shared libraries; a library the image lacks is copied from here. */
const LIBRARY_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
];

/**
 * The image to grade in: `image` itself when it runs the course, else, for an image built from this
 * machine's Node (`LAB_NODE_IMAGE`, as `lab-node:local` is), a derived image holding the shared
 * libraries the course's native addons need and the image lacks, copied from this machine. Such an
 * image carries only what `ldd node` lists, and Vite's bundler (rolldown) also needs `librt.so.1`.
 * The copies fit because the image's C library is this machine's. Built once, tagged
 * `<image>-course`, found again on the next run.
 * @returns the image to use, or what is wrong and what to do
 */
export async function imageForCourse(
  image: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ image: string } | { problem: string }> {
  let problem = await imageRunsCourse(image);
  if (!problem || image !== env.LAB_NODE_IMAGE) return problem ? { problem } : { image };
  const derived = `${image.replace(/:.*$/, '')}:${image.split(':')[1] ?? 'latest'}-course`;
  if (!(await imageRunsCourse(derived))) return { image: derived };
  const added = new Set<string>();
  for (let round = 0; round < 8 && problem; round++) {
    const missing = MISSING_LIBRARY.exec(problem)?.[1];
    const found = missing && LIBRARY_DIRS.map((dir) => path.join(dir, missing)).find((f) => existsSync(f));
    if (!missing || !found || added.has(found)) return { problem };
    added.add(found);
    await buildWithLibraries(image, derived, [...added]);
    problem = await imageRunsCourse(derived);
  }
  return problem ? { problem } : { image: derived };
}

async function buildWithLibraries(base: string, tag: string, libraries: readonly string[]): Promise<void> {
  const context = mkdtempSync(path.join(os.tmpdir(), 'lab-image-'));
  try {
    const lines = [`FROM ${base}`];
    for (const [i, library] of libraries.entries()) {
      copyFileSync(library, path.join(context, `lib${i}`));
      lines.push(`COPY lib${i} ${library}`);
    }
    writeFileSync(path.join(context, 'Dockerfile'), `${lines.join('\n')}\n`);
    await run('docker', ['build', '--pull=false', '-q', '-t', tag, context], { timeout: 300_000 });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** Whether Node starts in `image` and loads the course's native build tools from the read-only mount. */
async function imageRunsCourse(image: string): Promise<string | undefined> {
  try {
    await run(
      'docker',
      [
        'run',
        '--rm',
        '--network',
        'none',
        '-v',
        `${courseRoot}:${courseRoot}:ro`,
        '-w',
        courseRoot,
        image,
        'node',
        '--input-type=module',
        '-e',
        "await import('rolldown'); await import('tsx/esm/api');",
      ],
      { timeout: 120_000 },
    );
  } catch (error) {
    const output = String((error as { stderr?: string }).stderr || (error as Error).message);
    // A missing shared library is the usual cause, and the line that names it is deep in the stack.
    const missingLibrary = MISSING_LIBRARY.exec(output)?.[0];
    const detail =
      missingLibrary ??
      output
        .split('\n')
        .filter((l) => /Error|cannot|not found|No such/i.test(l))
        .slice(0, 3)
        .join(' ');
    return `the image ${image} cannot run the course's tests (${detail.trim() || 'it did not start'}). Rebuild it (LAB_WITH_NODE_IMAGE=1 source ../shared/ci/provision.sh builds lab-node:local), point LAB_NODE_IMAGE at one that works, or grade with --sandbox process.`;
  }
  return undefined;
}

export interface ContainerRunOptions extends Omit<ContainerJob, 'targetDir'> {
  /** The submission's copied files on the host, laid out like `exercises/`. */
  readonly sandboxDir: string;
  readonly image: string;
  readonly redisImage: string;
  readonly cpus: number;
}

let containers = 0;

/** Runs one submission's suites in its container; resolves with a verdict for every file. */
export async function runInContainer(options: ContainerRunOptions): Promise<Map<string, FileVerdict>> {
  const name = `lab-grade-${process.pid}-${++containers}-${Date.now().toString(36)}`;
  const owner = `org.system-design-lab.owner=${name}`;
  const labels = [
    '--label',
    'org.system-design-lab=grade',
    '--label',
    `org.system-design-lab.pid=${process.pid}`,
  ];
  const guard = watchdog(`docker rm -f -v $(docker ps -aq --filter label=${owner}) >/dev/null 2>&1`);
  const fail = (message: string) =>
    new Map(options.files.map((f) => [f, { kind: 'lost', message } as const]));
  try {
    let network = 'none';
    if (options.needsRedis) {
      const redis = `${name}-redis`;
      try {
        await run(
          'docker',
          [
            'run',
            '-d',
            '--name',
            redis,
            ...labels,
            '--label',
            owner,
            '--network',
            'none',
            '--memory',
            '256m',
            '--pids-limit',
            '64',
            '--cap-drop',
            'ALL',
            '--security-opt',
            'no-new-privileges',
            options.redisImage,
            'redis-server',
            '--bind',
            '127.0.0.1',
            '--port',
            '6379',
            '--protected-mode',
            'no',
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          { timeout: 60_000 },
        );
      } catch (error) {
        return fail(
          `the grading machine could not start the submission's Redis container: ${firstLine(error)}`,
        );
      }
      network = `container:${redis}`;
    }
    const job: ContainerJob = {
      files: options.files,
      targetDir: '/submission',
      ...(options.hiddenDir ? { hiddenDir: options.hiddenDir } : {}),
      needsRedis: options.needsRedis,
      fileTimeoutMs: options.fileTimeoutMs,
      submissionTimeoutMs: options.submissionTimeoutMs,
      memoryMb: options.memoryMb,
      groups: options.groups,
    };
    const hidden =
      options.hiddenDir && !options.hiddenDir.startsWith(courseRoot + path.sep)
        ? ['-v', `${options.hiddenDir}:${options.hiddenDir}:ro`]
        : [];
    const prometheus = prometheusMounts();
    const memory = `${options.memoryMb + RUNNER_MEMORY_MB + (prometheus.length > 0 ? PROMETHEUS_MEMORY_MB : 0)}m`;
    const args = [
      'run',
      '--rm',
      '--name',
      `${name}-node`,
      ...labels,
      '--label',
      owner,
      '--init',
      '--network',
      network,
      '--read-only',
      '--tmpfs',
      '/tmp:rw,size=512m,mode=1777',
      '--memory',
      memory,
      '--memory-swap',
      memory,
      '--cpus',
      String(options.cpus),
      '--pids-limit',
      String(PIDS_LIMIT),
      '--cap-drop',
      'ALL',
      // to drop to the learner's user, to end the learner's processes, nothing else
      '--cap-add',
      'SETUID',
      '--cap-add',
      'SETGID',
      '--cap-add',
      'KILL',
      '--security-opt',
      'no-new-privileges',
      '-v',
      `${courseRoot}:${courseRoot}:ro`,
      '-v',
      `${options.sandboxDir}:/submission:ro`,
      ...hidden,
      ...prometheus,
      '-w',
      courseRoot,
      '-e',
      `LAB_GRADE_JOB=${JSON.stringify(job)}`,
      ...(options.needsRedis ? ['-e', `REDIS_URL=${REDIS_URL}`] : []),
      options.image,
      'node',
      '--import',
      'tsx',
      DRIVER,
    ];
    const { stdout, stderr, code, timedOut } = await runCapped(
      args,
      options.submissionTimeoutMs + GRACE_MS,
      `${name}-node`,
    );
    const line = stdout.split('\n').find((l) => l.startsWith(VERDICTS_MARK));
    if (line) return new Map(JSON.parse(line.slice(VERDICTS_MARK.length)) as [string, FileVerdict][]);
    if (timedOut) return fail(`the sandbox did not finish within the submission's time limit and was ended.`);
    return fail(
      code === 137
        ? `the sandbox was killed before it reported (most likely it ran out of its memory limit of ${memory}).`
        : `the sandbox ended before it reported (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`,
    );
  } finally {
    await run('docker', ['rm', '-f', '-v', `${name}-node`, `${name}-redis`], { timeout: 60_000 }).catch(
      () => {},
    );
    guard.disarm();
  }
}

/** Removes every container this process started (Ctrl-C during grading); returns at once. */
export function removeContainers(): void {
  const script = `docker rm -f -v $(docker ps -aq --filter label=org.system-design-lab.pid=${process.pid}) >/dev/null 2>&1`;
  spawn('sh', ['-c', script], { stdio: 'ignore' }).on('error', () => {});
}

/** `docker <args>` with its output kept to a bounded size and a wall-clock limit. */
async function runCapped(
  args: string[],
  limitMs: number,
  container: string,
): Promise<{ stdout: string; stderr: string; code: number | null; timedOut: boolean }> {
  const child: ChildProcess = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const cap = 32 * 1024 * 1024;
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    if (stdout.length < cap) stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-64 * 1024);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    run('docker', ['kill', container]).catch(() => {});
  }, limitMs);
  const code = await new Promise<number | null>((resolve) => {
    child.once('close', (c) => resolve(c));
    child.once('error', () => resolve(null));
  });
  clearTimeout(timer);
  return { stdout, stderr, code, timedOut };
}

function firstLine(error: unknown): string {
  return (
    String((error as { stderr?: string }).stderr || (error as Error)?.message || error).split('\n')[0] ?? ''
  );
}
