/** report(): a pure function over a record of deliveries, checked on histories written by hand. */
import { describe, expect, it } from 'vitest';
import { type DeliveryOutcome, type DeliveryRecord, report } from './delivery.js';

const CONSUMERS = ['email', 'sms', 'audit'];
const PUBLISHED = ['m1', 'm2', 'm3', 'm4'];

/** One record: `d('sms', 'm3', 'crashed')`. */
function d(
  consumer: string,
  messageId: string,
  outcome: DeliveryOutcome = 'handled',
  redelivery = false,
): DeliveryRecord {
  return { consumer, messageId, redelivery, outcome };
}

const allHandled = (consumer: string, published = PUBLISHED) => published.map((id) => d(consumer, id));

describe('report()', () => {
  it('a consumer that handled every message once lost nothing and got nothing twice', () => {
    const deliveries = CONSUMERS.flatMap((c) => allHandled(c));
    const clean = { lost: [], redelivered: [], duplicates: 0 };
    expect(report(PUBLISHED, deliveries, CONSUMERS)).toEqual({ email: clean, sms: clean, audit: clean });
  });

  it('lost: published messages with no handled delivery, in publish order, even when the handler was called', () => {
    const deliveries = [
      d('sms', 'm4'),
      d('sms', 'm3', 'crashed'),
      d('sms', 'm1'),
      d('sms', 'm2', 'failed'),
      d('email', 'm1', 'running'),
    ];
    const result = report(PUBLISHED, deliveries, ['sms', 'email']);
    expect(
      result.sms?.lost,
      'm3 (crashed) and m2 (failed) were delivered but never processed: lost, listed in publish order',
    ).toEqual(['m2', 'm3']);
    expect(result.email?.lost, 'a call that is still running has not processed anything (yet)').toEqual(
      PUBLISHED,
    );
  });

  it('a redelivery is not a loss: crashed, then handled on the next delivery, is redelivered and not lost', () => {
    const deliveries = [
      d('sms', 'm1'),
      d('sms', 'm2', 'crashed'),
      d('sms', 'm2', 'handled', true),
      d('sms', 'm3'),
    ];
    expect(report(['m1', 'm2', 'm3'], deliveries, ['sms']).sms).toEqual({
      lost: [],
      redelivered: ['m2'],
      duplicates: 0,
    });
  });

  it('redelivered: ids whose handler was called more than once, whatever the outcomes, in publish order', () => {
    // The record names m4 first, and m4 reaches its second call first: publish order is neither.
    const deliveries = [
      d('sms', 'm4', 'failed'),
      d('sms', 'm2', 'failed'),
      d('sms', 'm1'),
      d('sms', 'm3'),
      d('sms', 'm4', 'handled', true),
      d('sms', 'm2', 'failed', true),
      d('sms', 'm2', 'failed', true),
    ];
    const result = report(PUBLISHED, deliveries, ['sms']).sms;
    expect(
      result?.redelivered,
      'm2 three calls, m4 two: both redelivered, listed in publish order (m2 before m4), not in the order the record shows them',
    ).toEqual(['m2', 'm4']);
    expect(result?.lost, 'm2 failed every time: lost even though it was delivered three times').toEqual([
      'm2',
    ]);
    expect(result?.duplicates, 'no message was handled twice').toBe(0);
  });

  it('redelivered is computed from the calls, not from the redelivery flag', () => {
    // A redelivery whose first delivery happened in another process (another transport's record).
    const deliveries = [d('sms', 'm1', 'handled', true), d('sms', 'm2')];
    expect(report(['m1', 'm2'], deliveries, ['sms']).sms?.redelivered).toEqual([]);
  });

  it('duplicates: handled deliveries beyond the first of the same message, summed', () => {
    const deliveries = [
      d('sms', 'm1'),
      d('sms', 'm1', 'handled', true),
      d('sms', 'm1', 'handled', true),
      d('sms', 'm2', 'crashed'),
      d('sms', 'm2', 'handled', true),
      d('sms', 'm3'),
      d('sms', 'm3', 'handled', true),
      d('sms', 'm4', 'failed'),
      d('sms', 'm4', 'failed', true),
    ];
    expect(
      report(PUBLISHED, deliveries, ['sms']).sms,
      "m1's effect happened 3 times (2 duplicates), m3's twice (1); m2's crashed call and m4's failures did not happen",
    ).toEqual({ lost: ['m4'], redelivered: ['m1', 'm2', 'm3', 'm4'], duplicates: 3 });
  });

  it('each consumer is reported from its own records only', () => {
    const deliveries = [
      ...allHandled('email'),
      d('sms', 'm1'),
      d('sms', 'm1', 'handled', true),
      d('audit', 'm2'),
      d('audit', 'm2', 'crashed', true),
    ];
    expect(report(PUBLISHED, deliveries, CONSUMERS)).toEqual({
      email: { lost: [], redelivered: [], duplicates: 0 },
      sms: { lost: ['m2', 'm3', 'm4'], redelivered: ['m1'], duplicates: 1 },
      audit: { lost: ['m1', 'm3', 'm4'], redelivered: ['m2'], duplicates: 0 },
    });
  });

  it('every consumer asked about is in the result, one that was never called with everything lost', () => {
    const result = report(PUBLISHED, allHandled('email'), CONSUMERS);
    expect(Object.keys(result).sort(), 'one entry per consumer in `consumers`').toEqual([
      'audit',
      'email',
      'sms',
    ]);
    expect(result.sms, 'sms was never called: it lost everything').toEqual({
      lost: PUBLISHED,
      redelivered: [],
      duplicates: 0,
    });
  });

  it('records of consumers not asked about, and of ids that were not published, are ignored', () => {
    const deliveries = [
      ...allHandled('sms'),
      d('sms', 'm9'),
      d('sms', 'm9'),
      d('push', 'm1'),
      d('push', 'm1'),
    ];
    const result = report(PUBLISHED, deliveries, ['sms']);
    expect(result, 'only sms is reported').toEqual({ sms: { lost: [], redelivered: [], duplicates: 0 } });
  });

  it('nothing published: nothing lost', () => {
    expect(report([], [d('sms', 'm1')], ['sms'])).toEqual({
      sms: { lost: [], redelivered: [], duplicates: 0 },
    });
  });

  it('is pure: changes nothing it is given, and returns fresh arrays each time', () => {
    const published = Object.freeze([...PUBLISHED]);
    const deliveries = Object.freeze([Object.freeze(d('sms', 'm1')), Object.freeze(d('sms', 'm1'))]);
    const consumers = Object.freeze(['sms']);
    const first = report(published, deliveries, consumers);
    const second = report(published, deliveries, consumers);
    expect(first).toEqual(second);
    expect(first.sms?.lost, 'a new array, not the published one').not.toBe(published);
    first.sms?.lost.push('changed');
    expect(second.sms?.lost, "one result's arrays are not another's").toEqual(['m2', 'm3', 'm4']);
  });

  it('a message id published twice is a RangeError naming it', () => {
    expect(() => report(['m1', 'm2', 'm1'], [], ['sms']), 'published must name each message once').toThrow(
      RangeError,
    );
    expect(() => report(['m1', 'm2', 'm1'], [], ['sms'])).toThrow(/"m1"/);
  });
});
