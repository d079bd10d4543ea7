/**
 * The MONITOR reader sees every command in order, with its database and its arguments unquoted,
 * also when other clients are busy the moment MONITOR starts (where ioredis's monitor() fails).
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../net.js';
import { useRedis } from '../redis.js';
import { monitorRedis, parseQuoted } from '../redis-monitor.js';

const redis = useRedis();

describe('parseQuoted', () => {
  it('unquotes what Redis escapes: quotes, backslashes, control characters and \\x bytes', () => {
    expect(parseQuoted('"set" "a\\"b" "c\\\\d" "\\r\\n\\t" "\\x00\\xff" ""')).toEqual([
      'set',
      'a"b',
      'c\\d',
      '\r\n\t',
      '\x00\xff',
      '',
    ]);
  });
});

describe('monitorRedis', () => {
  it('sees the commands of its database in the order Redis ran them, names in lower case', async () => {
    const monitor = await monitorRedis(redis.host, redis.port);
    try {
      const client = redis.client();
      await client.set('key with "quotes"', 'line\nbreak');
      await client.multi().incr('n').expire('n', 60).exec();
      await client.echo('done');
      const ours = () => monitor.commands.filter((c) => c.db === redis.db).map((c) => c.args);
      await waitFor('the echo', () => ours().some((args) => args[1] === 'done'));
      const seen = ours();
      const from = seen.findIndex((args) => args[0] === 'set');
      expect(seen.slice(from)).toEqual([
        ['set', 'key with "quotes"', 'line\nbreak'],
        ['multi'],
        ['incr', 'n'],
        ['expire', 'n', '60'],
        ['exec'],
        ['echo', 'done'],
      ]);
    } finally {
      monitor.close();
    }
  });

  it('starts cleanly while other clients keep Redis busy', async () => {
    const busy = redis.client();
    let running = true;
    const load = (async () => {
      while (running) await busy.info('server');
    })();
    try {
      for (let i = 0; i < 20; i++) {
        const monitor = await monitorRedis(redis.host, redis.port);
        await waitFor('a monitored INFO', () => monitor.commands.some((c) => c.args[0] === 'info'));
        monitor.close();
      }
    } finally {
      running = false;
      await load;
    }
  });
});
