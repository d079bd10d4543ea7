/**
 * Redis's MONITOR stream, read over a plain socket: every command any client runs, in the order
 * Redis ran it (https://redis.io/docs/latest/commands/monitor/).
 *
 * Not ioredis's `monitor()`: when MONITOR's `+OK` and the first monitored line arrive in one TCP
 * read, ioredis 5 and 6 take the line for a reply to a command nobody sent and fail with "Command
 * queue state error" (ioredis#1981, bullmq#2505). A busy test Redis hits that now and then, so a
 * suite that watched commands through it failed at random; this reader has no command queue to
 * confuse.
 */
import { connect, type Socket } from 'node:net';

/** One command as MONITOR printed it. */
export interface MonitoredCommand {
  /** The database the command ran in. */
  readonly db: number;
  /** The command name in lower case, then its arguments as Redis received them. */
  readonly args: readonly string[];
}

/** A running MONITOR connection. */
export interface RedisMonitor {
  /** Every command seen since MONITOR started (or since the last {@link RedisMonitor.clear}). */
  readonly commands: readonly MonitoredCommand[];
  /** Forgets the commands seen so far. */
  clear(): void;
  /** Ends the connection. Safe to call twice. */
  close(): void;
}

/** Matches `+<time> [<db> <client>] "cmd" "arg" ...` (the client is an address, `lua` or `unix:...`). */
const LINE = /^\+\d+\.\d+ \[(\d+) [^\]]*\] (.*)$/;

/**
 * Opens a connection to Redis at `host:port`, sends MONITOR and resolves once Redis has answered
 * `+OK`: every command run after that is in {@link RedisMonitor.commands}.
 */
export function monitorRedis(host: string, port: number): Promise<RedisMonitor> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port });
    const commands: MonitoredCommand[] = [];
    let buffered = '';
    let started = false;
    const monitor: RedisMonitor = {
      commands,
      clear: () => {
        commands.length = 0;
      },
      close: () => {
        socket.destroy();
      },
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('MONITOR\r\n'));
    socket.on('error', (error) => {
      if (!started) reject(error);
    });
    socket.on('close', () => {
      if (!started) reject(new Error(`the MONITOR connection to ${host}:${port} closed before +OK`));
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\r\n'); end !== -1; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!started) {
          if (line !== '+OK') {
            socket.destroy();
            reject(new Error(`MONITOR was refused: ${line}`));
            return;
          }
          started = true;
          resolve(monitor);
          continue;
        }
        const match = LINE.exec(line);
        if (!match) continue;
        const args = parseQuoted(match[2] as string);
        if (args.length === 0) continue;
        commands.push({ db: Number(match[1]), args: [(args[0] as string).toLowerCase(), ...args.slice(1)] });
      }
    });
  });
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  a: '\x07',
  b: '\b',
  '"': '"',
  '\\': '\\',
};

/** Splits MONITOR's `"a" "b\"c" "\x00"` into its strings (Redis quotes them with `sdscatrepr`). */
export function parseQuoted(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '"') {
      i++;
      continue;
    }
    let value = '';
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\' && i + 1 < text.length) {
        const next = text[i + 1] as string;
        if (next === 'x' && i + 3 < text.length) {
          value += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 4), 16));
          i += 4;
          continue;
        }
        value += ESCAPES[next] ?? next;
        i += 2;
        continue;
      }
      value += text[i];
      i++;
    }
    out.push(value);
    i++;
  }
  return out;
}
