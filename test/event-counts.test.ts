// auditEventCounts: counts grouped by up to two dimensions and bucketed by time in an IANA zone.
// Daylight-saving days are 23 or 25 hours long, empty buckets are answered, the top groups and
// "other" add up to the total, a restricted viewer counts only its slice, bad input is refused
// naming the argument, and on random filters the counts agree with what auditEvents lists.
import fc from 'fast-check';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import type {
  AuditEventCountDimension,
  AuditEventCountInterval,
  AuditEventFilter,
  EventCountsQuery,
  EventCountsQueryVariables,
} from './gql/graphql.ts';
import { graphql } from './gql/index.ts';
import { compareBytes, variedEvents } from './support/fixtures.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { propertyRuns } from './support/property-runs.ts';

const Counts = graphql(`
  query EventCounts(
    $filter: AuditEventFilter
    $groupBy: [AuditEventCountDimension!]
    $interval: AuditEventCountInterval
    $timeZone: String
    $first: Int
  ) {
    auditEventCounts(filter: $filter, groupBy: $groupBy, interval: $interval, timeZone: $timeZone, first: $first) {
      total
      other
      otherGroups
      interval
      timeZone
      groups { key { action actorId targetKind targetId groupId ipAddress } count buckets }
      buckets { start end count other }
    }
  }
`);

const Listing = graphql(`
  query EventsToCount($filter: AuditEventFilter) {
    auditEvents(filter: $filter, first: 500) {
      edges { node { action actor { id } target { kind id } groupId ipAddress occurredAt } }
      pageInfo { hasNextPage }
    }
  }
`);

let t: TestGateway;
let tenant: TestTenant;
const HOUR = 3_600_000;

/** One event per hour in [from, to), actions alternating. */
function hourly(from: string, to: string, action = 'tick') {
  const out: { action: string; occurredAt: string; actor: { id: string } }[] = [];
  for (let at = Date.parse(from); at < Date.parse(to); at += HOUR) {
    out.push({ action, occurredAt: new Date(at).toISOString(), actor: { id: `actor-${(at / HOUR) % 3}` } });
  }
  return out;
}

const BERLIN_FALL = { since: '2026-10-24T00:00:00+02:00', until: '2026-10-27T00:00:00+01:00' };
const NEW_YORK_SPRING = { since: '2026-03-07T00:00:00-05:00', until: '2026-03-10T00:00:00-04:00' };
const BERLIN_SPRING = { since: '2026-03-29T00:00:00+01:00', until: '2026-03-30T00:00:00+02:00' };

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('counts');
  const seeded = await t.gateway.audit.recordEvents(operatorViewer(tenant), [
    ...hourly(BERLIN_FALL.since, BERLIN_FALL.until, 'berlin.fall'),
    ...hourly(NEW_YORK_SPRING.since, NEW_YORK_SPRING.until, 'ny.spring'),
    ...hourly(BERLIN_SPRING.since, BERLIN_SPRING.until, 'berlin.spring'),
    // Two events ten days apart: the days between are empty.
    { action: 'sparse', occurredAt: '2026-05-01T12:00:00Z' },
    { action: 'sparse', occurredAt: '2026-05-10T12:00:00Z' },
    ...variedEvents(240, 13),
  ]);
  expect(seeded.every((r) => r.ok)).toBe(true);
  // Another tenant's events never count.
  const other = await t.newTenant('counts-other');
  await t.gateway.audit.recordEvents(
    operatorViewer(other),
    hourly(BERLIN_FALL.since, BERLIN_FALL.until, 'berlin.fall'),
  );
});
afterAll(() => t?.close());

async function counts(variables: EventCountsQueryVariables, key = tenant.readKey) {
  const res = await t.gql(Counts, variables, key);
  expect(res.errors).toBeUndefined();
  return res.data?.auditEventCounts as EventCountsQuery['auditEventCounts'];
}

const hours = (b: { start: string; end: string }) => (Date.parse(b.end) - Date.parse(b.start)) / HOUR;

describe('time buckets in a time zone', () => {
  it('Europe/Berlin: the day daylight saving ends lasts 25 hours', async () => {
    const c = await counts({
      filter: { actions: ['berlin.fall'], ...BERLIN_FALL },
      interval: 'DAY',
      timeZone: 'Europe/Berlin',
    });
    expect(c.buckets.map((b) => [b.start, b.end, hours(b), b.count])).toEqual([
      ['2026-10-23T22:00:00.000Z', '2026-10-24T22:00:00.000Z', 24, 24],
      ['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', 25, 25],
      ['2026-10-25T23:00:00.000Z', '2026-10-26T23:00:00.000Z', 24, 24],
    ]);
    expect(c.total).toBe(73);
    expect(c).toMatchObject({ interval: 'DAY', timeZone: 'Europe/Berlin', groups: [], other: 0 });
  });

  it('America/New_York: the day daylight saving starts lasts 23 hours', async () => {
    const c = await counts({
      filter: { actions: ['ny.spring'], ...NEW_YORK_SPRING },
      interval: 'DAY',
      timeZone: 'America/New_York',
    });
    expect(c.buckets.map((b) => [b.start, hours(b), b.count])).toEqual([
      ['2026-03-07T05:00:00.000Z', 24, 24],
      ['2026-03-08T05:00:00.000Z', 23, 23],
      ['2026-03-09T04:00:00.000Z', 24, 24],
    ]);
  });

  it('HOUR buckets are real hours: 25 on the long day, 23 on the short one', async () => {
    const fall = await counts({
      filter: {
        actions: ['berlin.fall'],
        since: '2026-10-25T00:00:00+02:00',
        until: '2026-10-26T00:00:00+01:00',
      },
      interval: 'HOUR',
      timeZone: 'Europe/Berlin',
    });
    expect(fall.buckets).toHaveLength(25);
    expect(fall.buckets.every((b) => hours(b) === 1 && b.count === 1)).toBe(true);
    const spring = await counts({
      filter: { actions: ['berlin.spring'], ...BERLIN_SPRING },
      interval: 'HOUR',
      timeZone: 'Europe/Berlin',
    });
    expect(spring.buckets).toHaveLength(23);
    expect(spring.total).toBe(23);
  });

  it('HOUR buckets align to a half-hour zone', async () => {
    const c = await counts({
      filter: { actions: ['berlin.fall'], since: '2026-10-24T00:00:00Z', until: '2026-10-24T03:00:00Z' },
      interval: 'HOUR',
      timeZone: 'Asia/Kolkata',
    });
    expect(c.buckets.map((b) => [b.start, b.count])).toEqual([
      ['2026-10-23T23:30:00.000Z', 1],
      ['2026-10-24T00:30:00.000Z', 1],
      ['2026-10-24T01:30:00.000Z', 1],
      ['2026-10-24T02:30:00.000Z', 0],
    ]);
    // The first bucket starts before `since`, the last ends at `until`; only matching events count.
    expect(c.buckets.at(-1)?.end).toBe('2026-10-24T03:00:00.000Z');
  });

  it('WEEK starts on a local Monday and MONTH on the first, across the change of offset', async () => {
    const week = await counts({
      filter: { actions: ['berlin.fall'], ...BERLIN_FALL },
      interval: 'WEEK',
      timeZone: 'Europe/Berlin',
    });
    expect(week.buckets.map((b) => [b.start, b.end, b.count])).toEqual([
      ['2026-10-18T22:00:00.000Z', '2026-10-25T23:00:00.000Z', 49],
      ['2026-10-25T23:00:00.000Z', '2026-10-26T23:00:00.000Z', 24],
    ]);
    const month = await counts({
      filter: { since: '2026-09-15T00:00:00Z', until: '2026-11-15T00:00:00Z', actions: ['berlin.fall'] },
      interval: 'MONTH',
      timeZone: 'Europe/Berlin',
    });
    expect(month.buckets.map((b) => [b.start, b.count])).toEqual([
      ['2026-08-31T22:00:00.000Z', 0],
      ['2026-09-30T22:00:00.000Z', 73],
      ['2026-10-31T23:00:00.000Z', 0],
    ]);
  });

  it('answers empty buckets with 0', async () => {
    const c = await counts({
      filter: { actions: ['sparse'], since: '2026-05-01T00:00:00Z', until: '2026-05-11T00:00:00Z' },
      interval: 'DAY',
    });
    expect(c.buckets.map((b) => b.count)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(c.timeZone).toBe('UTC');
    const none = await counts({
      filter: { actions: ['nothing.such'], since: '2026-05-01T00:00:00Z', until: '2026-05-03T00:00:00Z' },
      interval: 'DAY',
      groupBy: ['ACTOR'],
    });
    expect(none).toMatchObject({ total: 0, other: 0, otherGroups: 0, groups: [] });
    expect(none.buckets.map((b) => b.count)).toEqual([0, 0]);
  });
});

describe('top groups and the rest', () => {
  it('lists the largest groups, most first, and counts the rest in other, so that it adds up', async () => {
    const c = await counts({
      filter: { actions: ['berlin.fall', 'ny.spring', 'sparse'] },
      groupBy: ['ACTION', 'ACTOR'],
      first: 4,
    });
    expect(c.total).toBe(73 + 71 + 2);
    expect(c.groups).toHaveLength(4);
    expect(c.groups.map((g) => g.count)).toEqual([...c.groups.map((g) => g.count)].sort((a, b) => b - a));
    expect(c.groups.reduce((n, g) => n + g.count, 0) + c.other).toBe(c.total);
    // berlin.fall × 3 actors, ny.spring × 3 actors, sparse without actor: 7 groups.
    expect(c.otherGroups).toBe(3);
    expect(c.groups[0]?.key).toEqual({
      action: 'berlin.fall',
      actorId: expect.stringMatching(/^actor-/),
      targetKind: null,
      targetId: null,
      groupId: null,
      ipAddress: null,
    });
    const sparse = await counts({ filter: { actions: ['sparse'] }, groupBy: ['ACTOR'] });
    expect(sparse.groups).toEqual([
      { key: expect.objectContaining({ actorId: null }), count: 2, buckets: [] },
    ]);
  });

  it('with an interval, every bucket adds up too', async () => {
    const c = await counts({
      filter: { actions: ['berlin.fall'], ...BERLIN_FALL },
      groupBy: ['ACTOR'],
      first: 2,
      interval: 'DAY',
      timeZone: 'Europe/Berlin',
    });
    expect(c.groups).toHaveLength(2);
    for (const [i, b] of c.buckets.entries()) {
      expect(c.groups.reduce((n, g) => n + (g.buckets[i] ?? 0), 0) + b.other).toBe(b.count);
    }
    expect(c.buckets.reduce((n, b) => n + b.count, 0)).toBe(c.total);
    expect(c.groups.every((g) => g.buckets.reduce((a, b) => a + b, 0) === g.count)).toBe(true);
  });
});

describe('a restricted viewer token', () => {
  it('counts only its slice, whatever the filter asks', async () => {
    const minted = await t.gqlRaw(
      {
        query: 'mutation ($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }',
        variables: { input: { restriction: { actorIds: ['actor-1'] } } },
      },
      tenant.readKey,
    );
    const token = (minted.data?.createViewerToken as { token: string } | undefined)?.token ?? '';
    const mine = await counts({ filter: { actions: ['berlin.fall'] }, groupBy: ['ACTOR'] }, token);
    const all = await counts({ filter: { actions: ['berlin.fall'] }, groupBy: ['ACTOR'] });
    const actor1 = all.groups.find((g) => g.key.actorId === 'actor-1');
    expect(mine.total).toBe(actor1?.count);
    expect(mine.groups.map((g) => g.key.actorId)).toEqual(['actor-1']);
    expect(mine).toMatchObject({ other: 0, otherGroups: 0 });
    const elsewhere = await counts({ filter: { actorIds: ['actor-2'] } }, token);
    expect(elsewhere.total).toBe(0);
  });
});

describe('bad input is refused naming the argument', () => {
  const refusal = async (variables: Record<string, unknown>) => {
    const res = await t.gqlRaw({ query: print(Counts), variables }, tenant.readKey);
    expect(res.data?.auditEventCounts ?? null).toBeNull();
    return res.errors?.[0];
  };
  const window = { since: '2026-10-01T00:00:00Z', until: '2026-10-02T00:00:00Z' };

  it.each([
    [{ filter: window, interval: 'DAY', timeZone: 'Mars/Olympus_Mons' }, 'timeZone', /IANA time zone/],
    [{ filter: window, interval: 'DAY', timeZone: 'UTC+3' }, 'timeZone', /IANA time zone/],
    [{ filter: window, interval: 'DAY', timeZone: '+02:00' }, 'timeZone', /IANA time zone/],
    [{ timeZone: '' }, 'timeZone', /IANA time zone/],
    [
      { filter: { since: '2020-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }, interval: 'HOUR' },
      'interval',
      /52608 hours.*at most 1000 buckets/,
    ],
    [{ filter: { until: window.until }, interval: 'DAY' }, 'filter.since', /required with an interval/],
    [{ groupBy: ['ACTOR', 'ACTOR'] }, 'groupBy', /same dimension twice/],
    [{ first: 3 }, 'first', /needs groupBy/],
    [{ groupBy: ['ACTOR'], first: 101 }, 'first', /between 1 and 100/],
    [{ groupBy: ['ACTOR'], first: 0 }, 'first', /between 1 and 100/],
    [
      {
        groupBy: ['ACTOR'],
        first: 100,
        filter: { since: '2026-01-01T00:00:00Z', until: '2026-12-01T00:00:00Z' },
        interval: 'DAY',
      },
      'first',
      /100 groups × 334 buckets exceeds 20000 cells/,
    ],
    [{ filter: { actions: [''] } }, 'filter.actions', /empty strings/],
  ])('%j → %s', async (variables, field, message) => {
    const error = await refusal(variables);
    expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(error?.message).toMatch(message);
  });

  it('costs a scan: two counts per request, not three', async () => {
    const aliases = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `c${i}: auditEventCounts { total }`).join(' ')} }`;
    const two = await t.gqlRaw({ query: aliases(2) }, tenant.readKey);
    expect(two.errors).toBeUndefined();
    const three = await t.gqlRaw({ query: aliases(3) }, tenant.readKey);
    expect(three.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY' });
    expect(three.errors?.[0]?.message).toMatch(/auditEventCounts 20000/);
  });

  it('three dimensions are refused before anything runs', async () => {
    const error = await refusal({ groupBy: ['ACTOR', 'ACTION', 'GROUP'] });
    expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'groupBy', limit: 2 });
  });

  it('an unknown dimension or interval is a GraphQL validation error', async () => {
    expect((await refusal({ groupBy: ['COLOUR'] }))?.message).toMatch(/AuditEventCountDimension/);
    expect((await refusal({ interval: 'FORTNIGHT' }))?.message).toMatch(/AuditEventCountInterval/);
  });
});

// ---------------------------------------------------------------------------------------------
// Counts agree with listing

type Listed = NonNullable<Awaited<ReturnType<typeof listed>>>[number];
async function listed(filter: AuditEventFilter) {
  const res = await t.gql(Listing, { filter }, tenant.readKey);
  expect(res.errors).toBeUndefined();
  expect(res.data?.auditEvents.pageInfo.hasNextPage).toBe(false);
  return res.data?.auditEvents.edges.map((e) => e.node);
}

const KEY_OF: Record<AuditEventCountDimension, (e: Listed) => string | null | undefined> = {
  ACTION: (e) => e.action,
  ACTOR: (e) => e.actor?.id,
  TARGET_KIND: (e) => e.target?.kind,
  TARGET: (e) => e.target?.id,
  GROUP: (e) => e.groupId,
  IP_ADDRESS: (e) => e.ipAddress,
};
const KEY_FIELD = {
  ACTION: 'action',
  ACTOR: 'actorId',
  TARGET_KIND: 'targetKind',
  TARGET: 'targetId',
  GROUP: 'groupId',
  IP_ADDRESS: 'ipAddress',
} as const;

describe('property: counts agree with auditEvents over the same filter', () => {
  const BASE = Date.UTC(2026, 9, 1);
  const dimension = fc.constantFrom(...(Object.keys(KEY_OF) as AuditEventCountDimension[]));
  const subset = (values: string[]) => fc.option(fc.subarray(values, { minLength: 1 }), { nil: undefined });

  it('on random filters, groupings, intervals and zones', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          actions: subset(['login', 'logout', 'create', 'enable', 'update-password']),
          actorIds: subset(['actor-1', 'actor-2', 'actor-5', 'actor-9']),
          groupIds: subset(['group-1', 'group-2', 'group-3']),
          from: fc.integer({ min: -2, max: 40 }),
          span: fc.integer({ min: 1, max: 45 }),
        }),
        fc.uniqueArray(dimension, { maxLength: 2 }),
        fc.option(fc.constantFrom<AuditEventCountInterval>('HOUR', 'DAY', 'WEEK', 'MONTH'), {
          nil: undefined,
        }),
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham'),
        fc.integer({ min: 1, max: 5 }),
        async (f, groupBy, interval, timeZone, first) => {
          const filter: AuditEventFilter = {
            since: new Date(BASE + f.from * HOUR).toISOString(),
            until: new Date(BASE + (f.from + f.span) * HOUR).toISOString(),
            ...(f.actions ? { actions: f.actions } : {}),
            ...(f.actorIds ? { actorIds: f.actorIds } : {}),
            ...(f.groupIds ? { groupIds: f.groupIds } : {}),
          };
          const events = (await listed(filter)) ?? [];
          const c = await counts({
            filter,
            groupBy,
            timeZone,
            ...(interval ? { interval } : {}),
            ...(groupBy.length ? { first } : {}),
          });
          expect(c.total).toBe(events.length);

          // The groups, as listing them says: counted, sorted by count then values in byte order.
          const keyOf = (e: Listed) => groupBy.map((d) => KEY_OF[d](e) ?? '');
          const byKey = new Map<string, { key: string[]; count: number }>();
          for (const e of events) {
            const key = keyOf(e);
            const entry = byKey.get(JSON.stringify(key)) ?? { key, count: 0 };
            entry.count += 1;
            byKey.set(JSON.stringify(key), entry);
          }
          const expected = groupBy.length
            ? [...byKey.values()].sort(
                (a, b) =>
                  b.count - a.count ||
                  compareBytes(a.key[0] ?? '', b.key[0] ?? '') ||
                  compareBytes(a.key[1] ?? '', b.key[1] ?? ''),
              )
            : [];
          const top = expected.slice(0, first);
          expect(
            c.groups.map((g) => ({ key: groupBy.map((d) => g.key[KEY_FIELD[d]] ?? ''), count: g.count })),
          ).toEqual(top);
          expect(c.other).toBe(groupBy.length ? events.length - top.reduce((n, g) => n + g.count, 0) : 0);
          expect(c.otherGroups).toBe(expected.length - top.length);

          if (!interval) {
            expect(c.buckets).toEqual([]);
            return;
          }
          // The buckets tile the window, and each listed event lies in the bucket that counts it.
          expect(Date.parse(c.buckets[0]?.start ?? '')).toBeLessThanOrEqual(
            Date.parse(filter.since as string),
          );
          expect(c.buckets.at(-1)?.end).toBe(filter.until);
          for (const [i, b] of c.buckets.entries()) {
            if (i > 0) expect(b.start).toBe(c.buckets[i - 1]?.end);
            const inside = events.filter((e) => e.occurredAt >= b.start && e.occurredAt < b.end);
            expect(b.count).toBe(inside.length);
            for (const [g, group] of c.groups.entries()) {
              const want = top[g]?.key ?? [];
              expect(group.buckets[i]).toBe(
                inside.filter((e) => JSON.stringify(keyOf(e)) === JSON.stringify(want)).length,
              );
            }
          }
        },
      ),
      { numRuns: propertyRuns(100) },
    );
  });
});
