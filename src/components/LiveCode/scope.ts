/**
 * The helpers every ```ts live block has in scope (documented in docs/maintainers/live-code.mdx):
 *   sleep(ms)                    a promise that resolves after ms real milliseconds
 *   new FakeClock(start?)        a clock you move by hand: now(), advance(ms), set(ms)
 *   new MiniRedis({ clock? })    an in-memory, single-process stand-in for a few Redis commands
 * They run in the browser: no network, no Node APIs.
 */

/** A clock: anything with `now()` in milliseconds (same shape as the test kit's Clock). */
export interface Clock {
  now(): number;
}

/** A clock that only moves when you tell it to; makes time-based code deterministic. */
export class FakeClock implements Clock {
  #now: number;
  constructor(start = 0) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  /** Moves time forward by `ms` (must be >= 0) and returns the new time. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance(${ms}): time only moves forward`);
    this.#now += ms;
    return this.#now;
  }
  /** Jumps to an absolute time (may not go backwards). */
  set(ms: number): number {
    if (ms < this.#now) throw new RangeError(`FakeClock.set(${ms}): time only moves forward`);
    this.#now = ms;
    return this.#now;
  }
}

export type Sleep = (ms: number) => Promise<void>;

type Value = string | Map<string, string> | Map<string, number>;

interface Entry {
  value: Value;
  /** Absolute expiry time on the clock, or undefined for no expiry. */
  expiresAt?: number;
}

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

/**
 * A tiny in-memory Redis for live blocks: strings, hashes, sorted sets and expiry. Every command is
 * async, like ioredis, so code written against it reads like real client code (`await redis.incr(k)`).
 * Not a full Redis: no persistence, no pub/sub, no transactions; each command is atomic because the
 * browser runs one thing at a time.
 */
export class MiniRedis {
  readonly #data = new Map<string, Entry>();
  readonly #clock: Clock;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? { now: () => Date.now() };
  }

  #entry(key: string): Entry | undefined {
    const entry = this.#data.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.#clock.now()) {
      this.#data.delete(key);
      return undefined;
    }
    return entry;
  }

  #string(key: string): string | undefined {
    const entry = this.#entry(key);
    if (entry && typeof entry.value !== 'string') throw new Error(WRONGTYPE);
    return entry?.value as string | undefined;
  }

  #map<V>(key: string, kind: 'hash' | 'zset', create: boolean): Map<string, V> | undefined {
    const entry = this.#entry(key);
    if (!entry) {
      if (!create) return undefined;
      const value = new Map<string, V>();
      this.#data.set(key, { value: value as Value });
      kindOf.set(value, kind);
      return value;
    }
    if (typeof entry.value === 'string' || kindOf.get(entry.value) !== kind) throw new Error(WRONGTYPE);
    return entry.value as Map<string, V>;
  }

  /** GET key: the string, or null. */
  async get(key: string): Promise<string | null> {
    return this.#string(key) ?? null;
  }

  /**
   * SET key value [EX seconds | PX ms] [NX | XX], ioredis style: `set('k', 'v', 'EX', 10, 'NX')`.
   * Returns 'OK', or null when NX/XX stopped it.
   */
  async set(key: string, value: string | number, ...options: (string | number)[]): Promise<'OK' | null> {
    let expiresAt: number | undefined;
    let condition: 'NX' | 'XX' | undefined;
    for (let i = 0; i < options.length; i++) {
      const option = String(options[i]).toUpperCase();
      if (option === 'EX' || option === 'PX') {
        const amount = Number(options[++i]);
        if (!Number.isInteger(amount) || amount <= 0) throw new Error('ERR invalid expire time in set');
        expiresAt = this.#clock.now() + (option === 'EX' ? amount * 1000 : amount);
      } else if (option === 'NX' || option === 'XX') condition = option;
      else throw new Error(`ERR syntax error (MiniRedis set option ${option})`);
    }
    const exists = this.#entry(key) !== undefined;
    if ((condition === 'NX' && exists) || (condition === 'XX' && !exists)) return null;
    this.#data.set(key, { value: String(value), expiresAt });
    return 'OK';
  }

  /** INCRBY key by: the new integer value (a missing key counts as 0; keeps any TTL). */
  async incrby(key: string, by: number): Promise<number> {
    const current = this.#string(key) ?? '0';
    const n = Number(current);
    if (!Number.isInteger(n)) throw new Error('ERR value is not an integer or out of range');
    const next = n + by;
    const entry = this.#data.get(key);
    this.#data.set(key, { value: String(next), expiresAt: entry?.expiresAt });
    return next;
  }

  async incr(key: string): Promise<number> {
    return this.incrby(key, 1);
  }

  async decr(key: string): Promise<number> {
    return this.incrby(key, -1);
  }

  /** DEL key...: how many keys existed. */
  async del(...keys: string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) if (this.#entry(key) && this.#data.delete(key)) removed++;
    return removed;
  }

  async exists(...keys: string[]): Promise<number> {
    return keys.filter((key) => this.#entry(key) !== undefined).length;
  }

  /** EXPIRE key seconds: 1 if the key exists (and now expires), else 0. */
  async expire(key: string, seconds: number): Promise<0 | 1> {
    return this.pexpire(key, seconds * 1000);
  }

  async pexpire(key: string, ms: number): Promise<0 | 1> {
    const entry = this.#entry(key);
    if (!entry) return 0;
    entry.expiresAt = this.#clock.now() + ms;
    return 1;
  }

  /** TTL key: seconds left (rounded up), -1 for no expiry, -2 for a missing key. */
  async ttl(key: string): Promise<number> {
    const ms = await this.pttl(key);
    return ms < 0 ? ms : Math.ceil(ms / 1000);
  }

  async pttl(key: string): Promise<number> {
    const entry = this.#entry(key);
    if (!entry) return -2;
    if (entry.expiresAt === undefined) return -1;
    return entry.expiresAt - this.#clock.now();
  }

  /** HSET key field value [field value ...] or HSET key {field: value}: number of new fields. */
  async hset(key: string, ...args: (string | number | Record<string, string | number>)[]): Promise<number> {
    const pairs: [string, string][] = [];
    if (args.length === 1 && typeof args[0] === 'object') {
      for (const [field, value] of Object.entries(args[0])) pairs.push([field, String(value)]);
    } else {
      if (args.length === 0 || args.length % 2 !== 0)
        throw new Error("ERR wrong number of arguments for 'hset'");
      for (let i = 0; i < args.length; i += 2) pairs.push([String(args[i]), String(args[i + 1])]);
    }
    const hash = this.#map<string>(key, 'hash', true)!;
    let added = 0;
    for (const [field, value] of pairs) {
      if (!hash.has(field)) added++;
      hash.set(field, value);
    }
    return added;
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.#map<string>(key, 'hash', false)?.get(field) ?? null;
  }

  /** HGETALL key: an object of all fields ({} for a missing key, as in ioredis). */
  async hgetall(key: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.#map<string>(key, 'hash', false) ?? []);
  }

  async hincrby(key: string, field: string, by: number): Promise<number> {
    const hash = this.#map<string>(key, 'hash', true)!;
    const next = Number(hash.get(field) ?? '0') + by;
    hash.set(field, String(next));
    return next;
  }

  /** ZADD key score member [score member ...]: number of new members. */
  async zadd(key: string, ...scoreMembers: (string | number)[]): Promise<number> {
    if (scoreMembers.length === 0 || scoreMembers.length % 2 !== 0)
      throw new Error("ERR wrong number of arguments for 'zadd'");
    const zset = this.#map<number>(key, 'zset', true)!;
    let added = 0;
    for (let i = 0; i < scoreMembers.length; i += 2) {
      const score = Number(scoreMembers[i]);
      if (Number.isNaN(score)) throw new Error('ERR value is not a valid float');
      const member = String(scoreMembers[i + 1]);
      if (!zset.has(member)) added++;
      zset.set(member, score);
    }
    return added;
  }

  /** ZINCRBY key increment member: the member's new score (as a string, like Redis). */
  async zincrby(key: string, increment: number, member: string): Promise<string> {
    const zset = this.#map<number>(key, 'zset', true)!;
    const score = (zset.get(member) ?? 0) + increment;
    zset.set(member, score);
    return String(score);
  }

  async zscore(key: string, member: string): Promise<string | null> {
    const score = this.#map<number>(key, 'zset', false)?.get(member);
    return score === undefined ? null : String(score);
  }

  async zcard(key: string): Promise<number> {
    return this.#map<number>(key, 'zset', false)?.size ?? 0;
  }

  async zrem(key: string, ...members: string[]): Promise<number> {
    const zset = this.#map<number>(key, 'zset', false);
    return zset ? members.filter((m) => zset.delete(m)).length : 0;
  }

  #sorted(key: string): [string, number][] {
    const zset = this.#map<number>(key, 'zset', false);
    return [...(zset ?? [])].sort(([ma, a], [mb, b]) => a - b || (ma < mb ? -1 : ma > mb ? 1 : 0));
  }

  /**
   * ZRANGE key start stop [WITHSCORES] [REV]: members by rank (negative ranks count from the end);
   * WITHSCORES gives a flat [member, score, ...] array as ioredis does.
   */
  async zrange(key: string, start: number, stop: number, ...flags: string[]): Promise<string[]> {
    const upper = flags.map((f) => f.toUpperCase());
    let sorted = this.#sorted(key);
    if (upper.includes('REV')) sorted = sorted.reverse();
    const n = sorted.length;
    const from = Math.max(start < 0 ? n + start : start, 0);
    const to = Math.min(stop < 0 ? n + stop : stop, n - 1);
    const slice = from > to ? [] : sorted.slice(from, to + 1);
    return upper.includes('WITHSCORES') ? slice.flatMap(([m, s]) => [m, String(s)]) : slice.map(([m]) => m);
  }

  /** ZRANGEBYSCORE key min max [WITHSCORES]; min/max may be numbers, '-inf', '+inf' or '(' exclusive. */
  async zrangebyscore(
    key: string,
    min: number | string,
    max: number | string,
    ...flags: string[]
  ): Promise<string[]> {
    const inRange = scoreRange(min, max);
    const slice = this.#sorted(key).filter(([, s]) => inRange(s));
    return flags.some((f) => f.toUpperCase() === 'WITHSCORES')
      ? slice.flatMap(([m, s]) => [m, String(s)])
      : slice.map(([m]) => m);
  }

  /** ZREMRANGEBYSCORE key min max: how many members were removed. */
  async zremrangebyscore(key: string, min: number | string, max: number | string): Promise<number> {
    const zset = this.#map<number>(key, 'zset', false);
    if (!zset) return 0;
    const inRange = scoreRange(min, max);
    let removed = 0;
    for (const [member, score] of [...zset]) if (inRange(score) && zset.delete(member)) removed++;
    return removed;
  }

  /** KEYS pattern (only `*` and `?` wildcards). */
  async keys(pattern = '*'): Promise<string[]> {
    const re = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
    return [...this.#data.keys()].filter((key) => this.#entry(key) && re.test(key)).sort();
  }

  async flushall(): Promise<'OK'> {
    this.#data.clear();
    return 'OK';
  }
}

const kindOf = new WeakMap<object, 'hash' | 'zset'>();

function bound(value: number | string): { n: number; exclusive: boolean } {
  const text = String(value);
  const exclusive = text.startsWith('(');
  const body = exclusive ? text.slice(1) : text;
  const n = body === '-inf' ? -Infinity : body === '+inf' || body === 'inf' ? Infinity : Number(body);
  if (Number.isNaN(n)) throw new Error('ERR min or max is not a float');
  return { n, exclusive };
}

function scoreRange(min: number | string, max: number | string): (score: number) => boolean {
  const lo = bound(min);
  const hi = bound(max);
  return (s) => (lo.exclusive ? s > lo.n : s >= lo.n) && (hi.exclusive ? s < hi.n : s <= hi.n);
}
