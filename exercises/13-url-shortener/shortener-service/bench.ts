/**
 * `npm run bench -- 13-url-shortener/shortener-service`: the redirect path under load.
 *
 * Three servers measured in the same run, same connections: a bare `node:http` server that answers
 * every request with a constant 302 (the ceiling: what Node itself costs), the shortener with a warm
 * hot-link cache, and the shortener with its cache off (every redirect reads Redis). The first ratio
 * is the price of the service's own work; the gap between the last two is what the cache buys.
 *
 * On a shared machine the load changes from second to second, so the phases are interleaved: three
 * rounds, each measuring all three servers for a third of the duration, and the rounds are added up.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import type { BenchContext, Measurement } from '../../../src/testing/index.js';
import { comparisonTable, httpLoad, listen } from '../../../src/testing/index.js';
import { createShortener, type Shortener, type ShortenerOptions } from './shortener.js';

const ROUNDS = 3;

export default async function bench(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error('this bench needs Redis: start one (see chapter 00) or set REDIS_URL');
  const keyPrefix = `bench13:${process.pid}:`;
  const slice = Math.max(1, Math.round(ctx.durationSeconds / ROUNDS));
  ctx.log(
    `${ctx.connections} connections, ${ROUNDS} interleaved rounds of ${slice} s per server, GET /<code> → 302`,
  );

  const bare = await listen(
    createServer((_req, res) => res.writeHead(302, { location: 'https://example.com/landing' }).end()),
  );
  const shorteners: Shortener[] = [];
  const startShortener = async (options: Partial<ShortenerOptions>) => {
    const shortener = await createShortener({ redisUrl: ctx.redisUrl!, keyPrefix, ...options });
    shorteners.push(shortener);
    const service = await listen(shortener.server);
    const created = await fetch(`${service.url}/api/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://example.com/landing' }),
    });
    const { code } = (await created.json()) as { code: string };
    await fetch(`${service.url}/${code}`, { redirect: 'manual' }); // warms the cache, if there is one
    return `${service.url}/${code}`;
  };

  try {
    const targets = [
      { label: 'bare node:http 302', url: `${bare.url}/abc12345` },
      { label: 'shortener, warm cache', url: await startShortener({}) },
      { label: 'shortener, cache off', url: await startShortener({ cache: false }) },
    ];
    const rounds: Measurement[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, target] of targets.entries()) {
        const measured = await httpLoad({
          ...target,
          connections: ctx.connections,
          durationSeconds: slice,
          expectStatus: 302,
        });
        rounds[i]!.push(measured);
      }
    }
    const totals = rounds.map(combine);
    for (const line of comparisonTable(totals)) ctx.log(line);
    const ratio = totals[1]!.perSecond / totals[0]!.perSecond;
    ctx.log(`warm-cache redirects run at ${ratio.toFixed(2)}× the bare server (target: at least 0.6×)`);
  } finally {
    await bare.close();
    for (const shortener of shorteners) await shortener.close();
    await removeKeys(ctx.redisUrl, keyPrefix);
  }
}

/** Adds up the rounds of one server: total throughput, and the median round's latencies. */
function combine(rounds: Measurement[]): Measurement {
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    label: rounds[0]!.label,
    operations: rounds.reduce((sum, r) => sum + r.operations, 0),
    perSecond: rounds.reduce((sum, r) => sum + r.perSecond, 0) / rounds.length,
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  };
}

async function removeKeys(redisUrl: string, prefix: string): Promise<void> {
  const admin = new Redis(redisUrl);
  try {
    const stale = await admin.keys(`${prefix}*`);
    for (let i = 0; i < stale.length; i += 500) await admin.del(...stale.slice(i, i + 500));
  } finally {
    admin.disconnect();
  }
}
