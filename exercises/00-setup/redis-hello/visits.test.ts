import { beforeEach, describe, expect, it } from 'vitest';
import { useRedis } from '../../../src/testing/index.js';
import { createVisitCounter } from './visits.js';

const redis = useRedis();
const DAY = 86_400;

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
    expect(await counter.dailyVisits('/docs', new Date('2026-03-02T23:00:00Z')), 'two visits on Monday').toBe(
      2,
    );
    expect(await counter.dailyVisits('/docs', tuesday), 'one visit on Tuesday').toBe(1);
    expect(await counter.dailyVisits('/docs', new Date('2026-03-04T00:00:00Z')), 'none on Wednesday').toBe(0);
    expect(await counter.visits('/docs'), 'the all-time total counts every day').toBe(3);
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
    await expect(counter.dailyVisits('', new Date()), 'and so does dailyVisits()').rejects.toThrow(TypeError);
    await expect(counter.topPages(0), 'n = 0').rejects.toThrow(RangeError);
    await expect(counter.topPages(1.5), 'n = 1.5').rejects.toThrow(RangeError);
  });

  it('accepts the limits themselves: a 200-character page name and n = 1', async () => {
    const counter = createVisitCounter(redis.client());
    const longest = `/${'x'.repeat(199)}`;
    expect(await counter.recordVisit(longest), 'a page name of exactly 200 characters is allowed').toBe(1);
    expect(await counter.topPages(1), 'n = 1 is a positive integer').toEqual([{ page: longest, visits: 1 }]);
  });
});
