// 50 clients withdraw 100 from an account that holds 100, all at once. Each one loads the stream, folds
// the balance, decides, and appends; on a version conflict it reloads and decides again. Three ways to
// append: read-then-XADD with an auto id (no check), XADD with the next version as an explicit id (Redis
// refuses an id that is not greater than the last), and a Lua script that checks the expected version and
// appends in one atomic step.
// REDIS_URL=redis://127.0.0.1:6379 node docs/04-cqrs/append-race.mjs [clients=50] [rounds=20]
import { Redis } from 'ioredis';

const [clients = 50, rounds = 20] = process.argv.slice(2).map(Number);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Exact expected version, one event: read the last id, compare, XADD `0-<version + 1>`. Atomic. */
const APPEND = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local version = 0
if #last > 0 then version = tonumber(string.match(last[1][1], '%-(%d+)$')) end
if version ~= tonumber(ARGV[1]) then return {0, version} end
redis.call('XADD', KEYS[1], '0-' .. (version + 1), 'type', ARGV[2], 'data', ARGV[3])
return {1, version + 1}`;

/** Load: every event of the stream, folded into a balance; the version is the last entry's sequence. */
async function load(redis, key) {
  const entries = await redis.xrange(key, '-', '+');
  let balance = 0;
  for (const [, fields] of entries) {
    const event = { type: fields[1], data: JSON.parse(fields[3]) };
    if (event.type === 'MoneyDeposited') balance += event.data.amount;
    if (event.type === 'MoneyWithdrawn') balance -= event.data.amount;
  }
  const version = entries.length === 0 ? 0 : Number(entries.at(-1)[0].split('-')[1]);
  return { balance, version };
}

class Conflict extends Error {}

const strategies = {
  /** Decide on what was read, then XADD with an auto id: nothing checks that the stream did not move. */
  'read, then XADD *': (redis, key, _version, data) =>
    redis.xadd(key, '*', 'type', 'MoneyWithdrawn', 'data', data),
  /** The next version as the entry id: a second writer's XADD of the same id fails. */
  'read, then XADD 0-<v+1>': async (redis, key, version, data) => {
    try {
      await redis.xadd(key, `0-${version + 1}`, 'type', 'MoneyWithdrawn', 'data', data);
    } catch (error) {
      if (/equal or smaller/.test(error.message)) throw new Conflict();
      throw error;
    }
  },
  /** One EVAL: check the expected version and append, atomically. */
  'Lua: check + XADD': async (redis, key, version, data) => {
    const [ok] = await redis.eval(APPEND, 1, key, version, 'MoneyWithdrawn', data);
    if (ok === 0) throw new Conflict();
  },
};

const connections = await Promise.all(Array.from({ length: clients }, () => new Redis(url)));
const [admin] = connections;
console.log(
  `Node ${process.version}, Redis ${(await admin.info('server')).match(/redis_version:(\S+)/)[1]}, ` +
    `${clients} clients × ${rounds} rounds; each round: balance 100, every client withdraws 100`,
);
console.log(
  'strategy                 | withdrawals accepted | conflicts retried |  final balance | ms per round',
);
for (const [name, append] of Object.entries(strategies)) {
  let accepted = 0;
  let conflicts = 0;
  let lowest = Infinity;
  let highest = -Infinity;
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    const key = `race:${name.replace(/\W+/g, '-')}:${round}`;
    await admin.del(key);
    await admin.xadd(key, '0-1', 'type', 'MoneyDeposited', 'data', JSON.stringify({ amount: 100 }));
    await Promise.all(
      connections.map(async (redis) => {
        for (;;) {
          const { balance, version } = await load(redis, key);
          if (balance < 100) return; // the decider refuses: insufficient funds
          try {
            await append(redis, key, version, JSON.stringify({ amount: 100 }));
            accepted++;
            return;
          } catch (error) {
            if (!(error instanceof Conflict)) throw error;
            conflicts++; // someone else appended since we loaded: reload and decide again
          }
        }
      }),
    );
    const { balance } = await load(admin, key);
    lowest = Math.min(lowest, balance);
    highest = Math.max(highest, balance);
    await admin.del(key);
  }
  const ms = (performance.now() - started) / rounds;
  const range = lowest === highest ? `${lowest}` : `${lowest} to ${highest}`;
  console.log(
    `${name.padEnd(24)} | ${`${accepted} (${(accepted / rounds).toFixed(1)} a round)`.padStart(20)} | ` +
      `${String(conflicts).padStart(17)} | ${range.padStart(14)} | ${ms.toFixed(1).padStart(12)}`,
  );
}
await Promise.all(connections.map((redis) => redis.quit()));
