/**
 * Finds a real Redis for a test run, `npm run serve` or a benchmark, in this order:
 *
 * 1. `REDIS_URL`, a Redis the learner runs (for example with `docker compose up -d redis`);
 * 2. a container from `LAB_REDIS_IMAGE` (default {@link DEFAULT_REDIS_IMAGE}) started by Testcontainers;
 * 3. a `redis-server` on PATH, started on a free port;
 * 4. otherwise it fails at once with {@link NoRedisError}, which says how to get one.
 *
 * Whatever it starts is stopped by {@link RedisHandle.stop}; and because a run can also end by
 * Ctrl-C or a crash, every container and child server has a watchdog: a tiny detached shell that
 * waits for this process to go away (its stdin pipe closes) and then removes what was started.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

/** The official image learners' machines start when `LAB_REDIS_IMAGE` is not set. */
export const DEFAULT_REDIS_IMAGE = 'redis:7.4-alpine';

/** A running Redis and how to let go of it. */
export interface RedisHandle {
  /** `redis://127.0.0.1:<port>` (no database number). */
  readonly url: string;
  /** Where it came from, for messages: `REDIS_URL`, `container lab-redis:local`, `redis-server 7.0.15`. */
  readonly source: string;
  /** Stops what this handle started and waits until it is gone; a no-op for `REDIS_URL`. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Hands the clean-up to the watchdog, which removes the container or server in the background
   * after this call returns: for the end of a run, where nobody needs to wait for the removal.
   */
  release(): void;
}

/** Raised when no way of getting Redis worked; its message tells the learner what to do. */
export class NoRedisError extends Error {
  constructor(readonly attempts: readonly string[]) {
    super(
      [
        'This exercise needs Redis, and none could be found or started. Any one of these fixes it:',
        '',
        `  1. Start Docker (Docker Desktop, or \`sudo systemctl start docker\`); the tests then start a`,
        `     throw-away container from ${process.env.LAB_REDIS_IMAGE || DEFAULT_REDIS_IMAGE} by themselves.`,
        '  2. Run a Redis yourself and point the tests at it:',
        '       docker compose up -d redis',
        '       REDIS_URL=redis://127.0.0.1:6379 npm test -- <chapter>',
        '  3. Install redis-server so it is on your PATH (macOS: `brew install redis`,',
        '     Debian/Ubuntu: `sudo apt install redis-server`); the tests start it on a free port.',
        '',
        'What was tried:',
        ...attempts.map((a) => `  - ${a}`),
      ].join('\n'),
    );
    this.name = 'NoRedisError';
  }
}

const run = promisify(execFile);

/** Options for {@link startRedis}; the defaults read the environment. */
export interface StartRedisOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** How long the Docker engine may take to answer before it counts as absent. */
  readonly dockerProbeMs?: number;
}

/** Finds or starts a Redis (see the module comment for the order). */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  const env = options.env ?? process.env;
  if (env.REDIS_URL)
    return { url: env.REDIS_URL, source: 'REDIS_URL', stop: async () => {}, release: () => {} };

  const attempts: string[] = [];
  const image = env.LAB_REDIS_IMAGE || DEFAULT_REDIS_IMAGE;
  if (env.LAB_REDIS_NO_DOCKER === '1') {
    attempts.push('Docker: skipped (LAB_REDIS_NO_DOCKER=1)');
  } else if (await dockerIsUp(env, options.dockerProbeMs ?? 3000)) {
    try {
      return await startContainer(image);
    } catch (error) {
      attempts.push(`Docker: could not start ${image}: ${firstLine(error)}`);
    }
  } else {
    attempts.push('Docker: no engine answered (is Docker running?)');
  }

  const binary = which('redis-server', env.PATH);
  if (binary) {
    try {
      return await startRedisServer(binary);
    } catch (error) {
      attempts.push(`redis-server: found at ${binary} but it did not start: ${firstLine(error)}`);
    }
  } else {
    attempts.push('redis-server: not on PATH');
  }
  attempts.push('REDIS_URL: not set');
  throw new NoRedisError(attempts);
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0] ?? '';
}

async function dockerIsUp(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<boolean> {
  try {
    await run('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: timeoutMs, env });
    return true;
  } catch (error) {
    // The CLI answered and the engine did not: no need to ask again.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    // No CLI (a Docker Desktop socket alone) is still worth asking Testcontainers about.
    const { getContainerRuntimeClient } = await import('testcontainers');
    return Promise.race([
      getContainerRuntimeClient().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, false).unref()),
    ]);
  }
}

/** The first executable called `command` on `searchPath`, like the shell's `command -v`. */
export function which(command: string, searchPath = ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A detached shell that runs its clean-up once this process ends (or {@link Watchdog.fire} is called). */
export interface Watchdog {
  /** Cancels it, for a clean stop that already did the work. */
  disarm(): void;
  /** Runs the clean-up now, in the background. */
  fire(): void;
}

/** Starts a detached shell that runs `cleanup` once this process's end closes its stdin. */
export function watchdog(cleanup: string): Watchdog {
  const child = spawn('sh', ['-c', `read _ignored; ${cleanup}`], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    disarm: () => {
      child.kill('SIGKILL');
      child.stdin?.destroy();
    },
    fire: () => child.stdin?.end(),
  };
}

async function startContainer(image: string): Promise<RedisHandle> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  sweepOrphans();
  // Armed before the container exists: a Ctrl-C during start-up must not leak it either.
  const owner = `org.system-design-lab.owner=${process.pid}-${Date.now()}`;
  const guard = watchdog(`docker rm -f -v $(docker ps -aq --filter label=${owner}) >/dev/null 2>&1`);
  const [ownerKey = '', ownerValue = ''] = owner.split('=');
  // This Redis has no password. Docker publishes ports on every interface unless told otherwise,
  // which would put it on the learner's network; a local engine binds it to loopback instead. A
  // remote engine (DOCKER_HOST=tcp://..., docker-in-docker) is reached over its network, so it is
  // left as it is.
  const runtimeHost = (await getContainerRuntimeClient()).info.containerRuntime.host;
  const localEngine = ['localhost', '127.0.0.1', '::1'].includes(runtimeHost);
  class RedisContainer extends GenericContainer {
    bindPublishedPortsToLoopback(): this {
      const portBindings = (this.hostConfig.PortBindings ?? {}) as Record<
        string,
        { HostIp?: string }[] | undefined
      >;
      for (const bindings of Object.values(portBindings)) {
        for (const binding of bindings ?? []) binding.HostIp = '127.0.0.1';
      }
      return this;
    }
  }
  let container: Awaited<ReturnType<RedisContainer['start']>>;
  try {
    const definition = new RedisContainer(image).withExposedPorts(6379);
    if (localEngine) definition.bindPublishedPortsToLoopback();
    container = await definition
      .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
      .withLabels({
        'org.system-design-lab': 'redis',
        'org.system-design-lab.pid': String(process.pid),
        [ownerKey]: ownerValue,
      })
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .withStartupTimeout(60_000)
      .start();
  } catch (error) {
    guard.fire(); // it may exist half-started
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    // Bound to 127.0.0.1 only: `localhost` could resolve to ::1 first and miss it.
    url: `redis://${localEngine ? '127.0.0.1' : container.getHost()}:${container.getMappedPort(6379)}`,
    source: `container ${image}`,
    stop: () =>
      (stopped ??= container
        .stop({ timeout: 0, remove: true, removeVolumes: true })
        .then(() => guard.disarm())),
    release: () => guard.fire(),
  };
}

/**
 * Removes course containers whose owning process is gone (a machine that lost power mid-run, say).
 * Runs in the background and never delays or fails a run.
 */
function sweepOrphans(): void {
  const script = `for id in $(docker ps -aq --filter label=org.system-design-lab=redis); do
    pid=$(docker inspect -f '{{index .Config.Labels "org.system-design-lab.pid"}}' "$id")
    kill -0 "$pid" 2>/dev/null || docker rm -f -v "$id" >/dev/null 2>&1
  done`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function startRedisServer(binary: string, attemptsLeft = 3): Promise<RedisHandle> {
  const port = await freePort();
  // The shell keeps redis-server as its child and kills it when our end of its stdin closes.
  const child = spawn(
    'sh',
    [
      '-c',
      '"$0" "$@" & pid=$!; trap \'kill $pid 2>/dev/null; wait $pid\' EXIT; read _ignored',
      binary,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { detached: true, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  try {
    await waitForReady(child, 10_000);
  } catch (error) {
    child.stdin?.destroy();
    if (attemptsLeft > 1 && /Address already in use/.test(String(error)))
      return startRedisServer(binary, attemptsLeft - 1);
    throw error;
  }
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr])
    (stream as unknown as { unref?: () => void })?.unref?.();
  const version = await run(binary, ['--version']).then(
    ({ stdout }) => /v=([\d.]+)/.exec(stdout)?.[1] ?? '',
    () => '',
  );
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    source: `redis-server ${version}`.trim(),
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.ref(); // keep this process alive until the server has really gone
        child.once('exit', () => resolve());
        child.stdin?.end();
      })),
    // The shell kills the server when its stdin closes; nobody has to wait for it.
    release: () => child.stdin?.end(),
  };
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => done(new Error(`not ready after ${timeoutMs} ms: ${output.slice(-300)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) done();
    };
    const onExit = (code: number | null) => done(new Error(`exited with ${code}: ${output.slice(-300)}`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.stdout?.resume(); // keep draining so the server never blocks on a full pipe
      child.stderr?.resume();
      error ? reject(error) : resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
