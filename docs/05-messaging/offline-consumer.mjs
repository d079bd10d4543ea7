// Three services (email, sms, audit) must each see every notification. The same story runs against three
// Redis tools: pub/sub, a list per service moved with BLMOVE (the "reliable queue" pattern) and one stream
// with a consumer group per service. The story: publish m1-m3; sms receives m3 and its process dies before
// the handler finishes (its connection is destroyed, nothing is acknowledged); m4-m6 are published while
// sms is down; sms starts again; m7-m9 are published. The script prints what Redis kept for sms while it
// was down, then, per service, what it completed, what it never completed and what it was given twice.
// REDIS_URL=redis://127.0.0.1:6379 node docs/05-messaging/offline-consumer.mjs
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SERVICES = ['email', 'sms', 'audit'];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ns = `offline:${process.pid}`;

/** Per service: every delivery (in order) and every completed handling. */
function newLog() {
  return Object.fromEntries(SERVICES.map((s) => [s, { delivered: [], completed: [] }]));
}

/** Waits until `done()` holds, polling every 10 ms, for at most `ms`. */
async function until(done, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the consumers');
    await sleep(10);
  }
}

/**
 * Runs one tool through the story. `tool.start(service, log)` starts a consumer and returns
 * `{ crash(), stop() }`; the consumer for sms calls `crashOn(message)` first and, when it returns true,
 * stops handling (as a dead process would) without finishing or acknowledging anything.
 */
async function story(name, tool) {
  const admin = new Redis(url);
  const log = newLog();
  const published = [];
  let crashed = false;
  const crashOn = (service, message) => service === 'sms' && message === 'm3' && !crashed;
  const consumers = {};
  for (const s of SERVICES) consumers[s] = await tool.start(s, log, crashOn);
  const publish = async (from, to) => {
    const replies = [];
    for (let i = from; i <= to; i++) {
      published.push(`m${i}`);
      replies.push(await tool.publish(admin, `m${i}`));
    }
    return replies;
  };

  const replies = [];
  replies.push(...(await publish(1, 3)));
  await until(() => log.sms.delivered.includes('m3'));
  consumers.sms.crash(); // the process dies while it handles m3
  crashed = true;
  replies.push(...(await publish(4, 6)));
  await until(() => log.email.completed.length === 6 && log.audit.completed.length === 6);
  const heldWhileDown = await tool.held(admin);
  consumers.sms = await tool.start('sms', log, crashOn);
  replies.push(...(await publish(7, 9)));
  await until(() => SERVICES.every((s) => log[s].completed.includes('m9')));
  await sleep(50); // anything still on its way arrives now
  for (const s of SERVICES) await consumers[s].stop();
  const after = tool.after ? await tool.after(admin) : undefined;

  console.log(`\n${name}`);
  if (replies.some((r) => r !== undefined)) {
    console.log(
      `  PUBLISH replies (subscribers reached): ${published.map((m, i) => `${m} ${replies[i]}`).join(', ')}`,
    );
  }
  console.log(`  while sms was down, Redis held for it: ${heldWhileDown}`);
  if (after) console.log(`  ${after}`);
  for (const s of SERVICES) {
    const { delivered, completed } = log[s];
    const lost = published.filter((m) => !completed.includes(m));
    const twice = published.filter((m) => delivered.filter((d) => d === m).length > 1);
    console.log(
      `  ${s.padEnd(5)}  completed ${completed.join(' ').padEnd(26)}  never completed ${
        lost.join(' ') || '-'
      }${' '.repeat(Math.max(1, 13 - (lost.join(' ') || '-').length))}delivered twice ${twice.join(' ') || '-'}`,
    );
  }
  const keys = await admin.keys(`${ns}:*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
}

const pubsub = {
  async start(service, log, crashOn) {
    const sub = new Redis(url);
    let dead = false;
    sub.on('message', (_channel, message) => {
      if (dead) return;
      log[service].delivered.push(message);
      if (crashOn(service, message)) return; // dies before finishing
      log[service].completed.push(message);
    });
    await sub.subscribe(`${ns}:notifications`);
    return {
      crash() {
        dead = true;
        sub.disconnect(); // the socket closes; ioredis does not reconnect after disconnect()
      },
      async stop() {
        await sub.quit();
      },
    };
  },
  publish: (redis, message) => redis.publish(`${ns}:notifications`, message),
  held: async () => 'nothing (pub/sub stores no message)',
};

const list = {
  async start(service, log, crashOn) {
    const redis = new Redis(url);
    const queue = `${ns}:list:${service}`;
    const processing = `${queue}:processing`;
    let running = true;
    let dead = false;
    const handle = async (message) => {
      log[service].delivered.push(message);
      if (crashOn(service, message)) {
        dead = true;
        return;
      }
      log[service].completed.push(message);
      await redis.lrem(processing, 1, message);
    };
    const loop = (async () => {
      // What an earlier process of this service took but never finished, oldest first.
      for (const message of (await redis.lrange(processing, 0, -1)).reverse()) await handle(message);
      while (running && !dead) {
        const message = await redis.blmove(queue, processing, 'RIGHT', 'LEFT', 0.1);
        if (message !== null && running) await handle(message);
      }
    })().catch(() => {}); // a crashed consumer's pending command rejects: that is the crash
    return {
      crash() {
        dead = true;
        redis.disconnect();
      },
      async stop() {
        running = false;
        await loop;
        redis.disconnect();
      },
    };
  },
  async publish(redis, message) {
    const tx = redis.multi();
    for (const s of SERVICES) tx.lpush(`${ns}:list:${s}`, message);
    await tx.exec();
  },
  async held(redis) {
    const processing = await redis.lrange(`${ns}:list:sms:processing`, 0, -1);
    const waiting = await redis.lrange(`${ns}:list:sms`, 0, -1);
    return `sms:processing [${processing.join(' ')}], sms queue [${waiting.reverse().join(' ')}]`;
  },
};

const STREAM = `${ns}:stream`;
/** What XPENDING said about each entry as it was handed to a consumer. */
const deliveryCounts = [];
const stream = {
  async start(service, log, crashOn) {
    const redis = new Redis(url);
    await redis.xgroup('CREATE', STREAM, service, '$', 'MKSTREAM').catch((e) => {
      if (!/BUSYGROUP/.test(e.message)) throw e; // the group outlives its consumers
    });
    let running = true;
    let dead = false;
    let id = '0'; // first this consumer's own pending entries, then new ones
    const loop = (async () => {
      while (running && !dead) {
        const reply = await redis.xreadgroup(
          'GROUP',
          service,
          `${service}-1`,
          'COUNT',
          10,
          'BLOCK',
          100,
          'STREAMS',
          STREAM,
          id,
        );
        const entries = reply?.[0]?.[1] ?? [];
        if (id === '0' && entries.length === 0) id = '>';
        for (const [entryId, fields] of entries) {
          if (!running) break;
          const message = fields[1];
          const [[, , , count]] = await redis.xpending(STREAM, service, entryId, entryId, 1);
          deliveryCounts.push(`${service} ${message}: ${count}`);
          log[service].delivered.push(message);
          if (crashOn(service, message)) {
            dead = true;
            break;
          }
          log[service].completed.push(message);
          await redis.xack(STREAM, service, entryId);
        }
      }
    })().catch(() => {});
    return {
      crash() {
        dead = true;
        redis.disconnect();
      },
      async stop() {
        running = false;
        await loop;
        redis.disconnect();
      },
    };
  },
  publish: async (redis, message) => {
    await redis.xadd(STREAM, '*', 'message', message);
  },
  async held(redis) {
    const [[id, owner, idle, count]] = await redis.xpending(STREAM, 'sms', '-', '+', 10);
    const group = (await redis.xinfo('GROUPS', STREAM)).find((g) => g[1] === 'sms');
    const lag = group[group.indexOf('lag') + 1];
    const m3 = (await redis.xrange(STREAM, id, id))[0][1][1];
    return `${m3} pending for ${owner} (idle ${idle} ms, delivered ${count} time), ${lag} entries not yet read by group sms`;
  },
  async after(redis) {
    const m3 = deliveryCounts.filter((line) => line.startsWith('sms m3')).map((line) => line.split(': ')[1]);
    const kept = await redis.xlen(STREAM);
    return `XPENDING delivery count of m3 for sms, each time it was handed over: ${m3.join(', then ')}; the stream still holds all ${kept} entries (nothing trimmed it)`;
  },
};

const probe = new Redis(url);
const version = (await probe.info('server')).match(/redis_version:(\S+)/)[1];
probe.disconnect();
console.log(
  `Redis ${version}, ioredis ${(await import('ioredis/package.json', { with: { type: 'json' } })).default.version}, Node ${process.version}`,
);
console.log('publish m1-m3; sms dies while handling m3; publish m4-m6; sms starts again; publish m7-m9');
await story('pub/sub: PUBLISH to one channel, one SUBSCRIBE connection per service', pubsub);
await story(
  'list: LPUSH to a list per service (in MULTI), BLMOVE into a processing list, LREM when done',
  list,
);
await story(
  'stream: XADD to one stream, a consumer group per service, XREADGROUP (pending first), XACK when done',
  stream,
);
