import { beforeEach, describe, expect, it } from 'vitest';
import { monitorRedis, useRedis, waitFor } from '../../../src/testing/index.js';
import { createVisitCounter } from './visits.js';

const redis = useRedis();
const DAY = 86_400;

/**
 * Runs `check` with the process in time zone `zone`, then puts the zone back. Node applies a change
 * of `process.env.TZ` at once, so code that reads the local date (getDate, toLocaleDateString, ...)
 * sees that zone: a local-day mistake shows whatever zone the machine running the suite is in.
 */
async function inTimeZone(zone: string, check: () => Promise<void>): Promise<void> {
  const saved = process.env.TZ;
  process.env.TZ = zone;
  try {
    await check();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

/** The commands Redis ran for this file's database while `act` ran, as `['multi']`, `['incr', key]`, ... */
async function commandsDuring(act: () => Promise<unknown>): Promise<string[][]> {
  const monitor = await monitorRedis(redis.host, redis.port);
  try {
    const ours = () => monitor.commands.filter((c) => c.db === redis.db).map((c) => [...c.args]);
    // MONITOR shows commands in the order Redis ran them: once the marker shows up, everything
    // that `act` sent (and waited for) has been seen.
    const marker = `end-of-commands-${Date.now()}-${Math.random()}`;
    const probe = redis.client();
    await probe.echo(`start-${marker}`);
    await waitFor('MONITOR to start', () => ours().some((c) => c[1] === `start-${marker}`));
    monitor.clear();
    await act();
    await probe.echo(marker);
    await waitFor('MONITOR to show the commands', () => ours().some((c) => c[1] === marker));
    return ours().filter((c) => !(c[0] === 'echo' && c[1] === marker));
  } finally {
    monitor.close();
  }
}

describe('a page-visit counter on Redis', () => {
  beforeEach(() => redis.flush());

  it('counts visits per page and returns the new total from recordVisit', async () => {
    const counter = createVisitCounter(redis.client());
    expect(await counter.recordVisit('/pricing'), 'the first visit makes the total 1').toBe(1);
    expect(await counter.recordVisit('/pricing'), 'the second visit makes it 2').toBe(2);
    await counter.recordVisit('/docs');
    expect(await counter.visits('/pricing')).toBe(2);
    expect(await counter.visits('/docs')).toBe(1);
    expect(await counter.visits('/never-visited'), 'a page never visited has 0 visits').toBe(0);
  });

  it('keeps the totals in the sorted set visits:total', async () => {
    const counter = createVisitCounter(redis.client());
    await counter.recordVisit('/a');
    await counter.recordVisit('/a');
    expect(await redis.client().zscore('visits:total', '/a'), 'visits:total must hold /a with score 2').toBe(
      '2',
    );
  });

  it('loses no visit when 200 arrive at once over 4 connections', async () => {
    const counters = Array.from({ length: 4 }, () => createVisitCounter(redis.client()));
    const totals = await Promise.all(
      Array.from({ length: 200 }, (_, i) => counters[i % 4]!.recordVisit('/hot')),
    );
    expect(await counters[0]!.visits('/hot'), 'every one of the 200 visits must be counted').toBe(200);
    expect(new Set(totals).size, 'each visit must see a different new total (1..200)').toBe(200);
  });

  it('lists the most visited pages first', async () => {
    const counter = createVisitCounter(redis.client());
    const visits: Record<string, number> = { '/': 5, '/docs': 3, '/pricing': 7, '/blog': 1 };
    for (const [page, n] of Object.entries(visits))
      for (let i = 0; i < n; i++) await counter.recordVisit(page);
    expect(await counter.topPages(3)).toEqual([
      { page: '/pricing', visits: 7 },
      { page: '/', visits: 5 },
      { page: '/docs', visits: 3 },
    ]);
    expect(await counter.topPages(10), 'asking for more pages than exist returns them all').toHaveLength(4);
  });

  it('counts visits per UTC day', async () => {
    const counter = createVisitCounter(redis.client());
    const monday = new Date('2026-03-02T09:00:00Z');
    const tuesday = new Date('2026-03-03T23:59:00Z');
    await counter.recordVisit('/docs', monday);
    await counter.recordVisit('/docs', monday);
    await counter.recordVisit('/docs', tuesday);
    await counter.recordVisit('/blog', tuesday);
    expect(await counter.dailyVisits('/docs', new Date('2026-03-02T23:00:00Z')), 'two visits on Monday').toBe(
      2,
    );
    expect(await counter.dailyVisits('/docs', tuesday), 'one visit on Tuesday').toBe(1);
    expect(await counter.dailyVisits('/docs', new Date('2026-03-04T00:00:00Z')), 'none on Wednesday').toBe(0);
    expect(await counter.dailyVisits('/blog', tuesday), 'each page has its own daily counter').toBe(1);
    expect(await counter.dailyVisits('/blog', monday), '/blog had no visit on Monday').toBe(0);
    expect(await counter.visits('/docs'), 'the all-time total counts every day').toBe(3);
  });

  // A day that starts at local midnight differs from the UTC day by the zone's offset: in India
  // (+05:30) from 18:30 UTC on, in California (-08:00) until 08:00 UTC. Each check runs in both zones.
  for (const zone of ['Asia/Kolkata', 'America/Los_Angeles']) {
    it(`uses the UTC day even when the local date differs (TZ=${zone})`, async () => {
      await inTimeZone(zone, async () => {
        const counter = createVisitCounter(redis.client());
        const mondayUtc = [
          '2026-03-02T00:30:00Z',
          '2026-03-02T07:59:00Z',
          '2026-03-02T18:45:00Z',
          '2026-03-02T23:30:00Z',
        ];
        for (const at of mondayUtc) await counter.recordVisit('/docs', new Date(at));

        const keys = await redis.client().keys('visits:day:*');
        expect(
          keys,
          `4 visits between 00:30 and 23:30 UTC on 2 March belong to the UTC day 2026-03-02, whatever the local date is in ${zone}`,
        ).toEqual(['visits:day:2026-03-02:/docs']);
        for (const at of mondayUtc) {
          expect(
            await counter.dailyVisits('/docs', new Date(at)),
            `dailyVisits at ${at} asks for the UTC day 2026-03-02 (4 visits), not the local day in ${zone}`,
          ).toBe(4);
        }
        expect(
          await counter.dailyVisits('/docs', new Date('2026-03-01T23:59:00Z')),
          'no visit on the UTC day before (1 March)',
        ).toBe(0);
        expect(
          await counter.dailyVisits('/docs', new Date('2026-03-03T00:00:00Z')),
          'no visit on the UTC day after (3 March)',
        ).toBe(0);
      });
    });
  }

  it('records a visit without a date on today’s UTC day', async () => {
    const counter = createVisitCounter(redis.client());
    const before = new Date().toISOString().slice(0, 10);
    await counter.recordVisit('/now');
    const after = new Date().toISOString().slice(0, 10);
    const keys = await redis.client().keys('visits:day:*:/now');
    // `before` and `after` differ only if the UTC day ended during the call: either day is right then.
    expect([`visits:day:${before}:/now`, `visits:day:${after}:/now`], 'at defaults to now').toContain(
      keys[0],
    );
    expect(keys).toHaveLength(1);
  });

  it('resolves recordVisit with the all-time total, not the day’s count', async () => {
    const counter = createVisitCounter(redis.client());
    await counter.recordVisit('/docs', new Date('2026-03-02T09:00:00Z'));
    await counter.recordVisit('/docs', new Date('2026-03-02T10:00:00Z'));
    expect(
      await counter.recordVisit('/docs', new Date('2026-03-03T09:00:00Z')),
      'the first visit on Tuesday after two on Monday makes the total 3 (the day’s count is 1)',
    ).toBe(3);
  });

  it('records a visit in one MULTI/EXEC transaction (or one script), with nothing outside it', async () => {
    const counter = createVisitCounter(redis.client());
    await counter.recordVisit('/warm-up'); // a script may need loading once; judge the next visits
    for (const page of ['/first-visit-of-the-day', '/first-visit-of-the-day']) {
      const commands = await commandsDuring(() =>
        counter.recordVisit(page, new Date('2026-03-02T09:00:00Z')),
      );
      const names = commands.map((c) => c[0]);
      const script = names.length === 1 && ['eval', 'evalsha', 'eval_ro', 'fcall'].includes(names[0]!);
      const transaction =
        names[0] === 'multi' && names.at(-1) === 'exec' && names.indexOf('exec') === names.length - 1;
      expect(
        script || transaction,
        `recordVisit must update the total, the day's counter and its expiry atomically: all of its commands ` +
          `between one MULTI and its EXEC (or one script call), none before or after. Redis ran: ${names.join(', ')}`,
      ).toBe(true);
    }
  });

  it('stores a daily counter under visits:day:<date>:<page> with an expiry of retentionDays', async () => {
    const counter = createVisitCounter(redis.client(), { retentionDays: 7 });
    await counter.recordVisit('/docs', new Date('2026-03-02T09:00:00Z'));
    const ttl = await redis.client().ttl('visits:day:2026-03-02:/docs');
    expect(
      ttl,
      'the daily key must exist and expire (TTL -2 means missing, -1 means no expiry)',
    ).toBeGreaterThan(0);
    expect(ttl, 'it must expire within 7 days').toBeLessThanOrEqual(7 * DAY);
    expect(ttl, 'and not much sooner').toBeGreaterThan(7 * DAY - 60);
  });

  it('defaults to 30 days of retention and does not push the expiry back on later visits', async () => {
    const counter = createVisitCounter(redis.client());
    const key = 'visits:day:2026-03-02:/a';
    await counter.recordVisit('/a', new Date('2026-03-02T09:00:00Z'));
    expect(await redis.client().ttl(key), 'the default retention is 30 days').toBeGreaterThan(30 * DAY - 60);
    await redis.client().expire(key, 1000);
    await counter.recordVisit('/a', new Date('2026-03-02T10:00:00Z'));
    const ttl = await redis.client().ttl(key);
    expect(ttl, 'a later visit on the same day must keep the expiry set by the first').toBeLessThanOrEqual(
      1000,
    );
    expect(ttl).toBeGreaterThan(0);
  });

  it('rejects an empty page name and a non-positive n', async () => {
    const counter = createVisitCounter(redis.client());
    await expect(counter.recordVisit(''), 'an empty page name').rejects.toThrow(TypeError);
    await expect(counter.recordVisit('x'.repeat(201)), 'a 201-character page name').rejects.toThrow(
      TypeError,
    );
    await expect(counter.visits(''), 'visits() checks the page name too').rejects.toThrow(TypeError);
    await expect(counter.visits('x'.repeat(201)), 'visits() with 201 characters').rejects.toThrow(TypeError);
    await expect(counter.dailyVisits('', new Date()), 'and so does dailyVisits()').rejects.toThrow(TypeError);
    await expect(
      counter.dailyVisits('x'.repeat(201), new Date()),
      'dailyVisits() with 201 characters',
    ).rejects.toThrow(TypeError);
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(counter.topPages(n), `topPages(${n}): n must be a positive integer`).rejects.toThrow(
        RangeError,
      );
    }
  });

  it('accepts the limits themselves: a 200-character page name and n = 1', async () => {
    const counter = createVisitCounter(redis.client());
    const longest = `/${'x'.repeat(199)}`;
    expect(await counter.recordVisit(longest), 'a page name of exactly 200 characters is allowed').toBe(1);
    expect(await counter.topPages(1), 'n = 1 is a positive integer').toEqual([{ page: longest, visits: 1 }]);
    const accented = `/${'é'.repeat(199)}`; // 200 characters, 399 bytes in UTF-8
    expect(
      await counter.recordVisit(accented),
      'the limit counts characters, not bytes: 200 accented characters are allowed',
    ).toBe(1);
    expect(await counter.visits(accented)).toBe(1);
  });
});
