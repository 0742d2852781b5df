// The count rollups (migration 0006) stay exact and answer what the events answer: on random
// filters, groupings, zones and unaligned windows the rollup path and the GROUP BY over the events
// agree; concurrent appends, replays and a prune leave every rollup row equal to a recount of the
// events; and the benchmark's two shapes (C1, C2) really are read from the rollups.
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assembleCounts,
  type CountInterval,
  type CountQuery,
  checkCountRequest,
} from '../src/audit/counts.ts';
import { type EventFilter, validateFilter } from '../src/audit/filters.ts';
import {
  coverWithSlots,
  planRollupRead,
  rebuildCountRollups,
} from '../src/audit/repository/count-rollups.ts';
import { countByGroupAndBucket } from '../src/audit/repository/event-counts.ts';
import { operatorViewer, type Restriction } from '../src/audit/viewer.ts';
import type { Tx } from '../src/db/client.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { propertyRuns } from './support/property-runs.ts';
import { rows, superuser } from './support/superuser.ts';

let t: TestGateway;
let tenant: TestTenant;
const MINUTE = 60_000;
const DAY = 86_400_000;
/** Events over about 70 days from here, so windows span hours, days and whole months. */
const BASE = Date.UTC(2026, 6, 20, 7, 13);
const SPAN_MINUTES = 70 * 24 * 60;
const ACTIONS = ['login', 'logout', 'create', 'enable', 'update-password'];
const ACTORS = ['actor-1', 'actor-2', 'actor-3', 'actor-4', 'actor-5'];

/** Events at random minutes (some at the same instant), with and without actors. */
function spreadEvents(count: number, seed: number): Record<string, unknown>[] {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state % n;
  };
  return Array.from({ length: count }, (_, i) => {
    const actor = next(6);
    return {
      action: ACTIONS[next(ACTIONS.length)] as string,
      occurredAt: new Date(BASE + next(SPAN_MINUTES) * MINUTE + next(60_000)),
      ...(actor > 0 ? { actor: { id: `actor-${actor}` } } : {}),
      ...(next(3) > 0 ? { groupId: `group-${next(3)}` } : {}),
      metadata: { i },
    };
  });
}

async function record(target: TestTenant, events: Record<string, unknown>[]) {
  const results = await t.gateway.audit.recordEvents(operatorViewer(target), events);
  expect(results.every((r) => r.ok)).toBe(true);
}

/**
 * Rows where a rollup and a recount of the tenant's events differ (as a superuser, past
 * row-level security): empty when the rollups are exact.
 */
async function drift(tenantId: number): Promise<string[]> {
  const su = superuser(t);
  try {
    return await su.run(async (tx) => {
      const out: string[] = [];
      for (const [table, slot, value, unit, expr] of [
        ['audit_counts_hour_action', 'hour', 'action', 'hour', 'action'],
        ['audit_counts_day_actor', 'day', 'actor_id', 'day', "coalesce(actor_id, '')"],
        ['audit_counts_month_actor', 'month', 'actor_id', 'month', "coalesce(actor_id, '')"],
      ] as const) {
        const found = await rows<{ side: string; slot: string; value: string; events: string }>(
          tx,
          sql.raw(`
          with want as (
            select date_trunc('${unit}', occurred_at at time zone 'UTC') at time zone 'UTC' as slot, ${expr} as value, count(*)::bigint as events
              from audit_events where tenant_id = ${tenantId} group by 1, 2),
          have as (select ${slot} as slot, ${value} as value, events from ${table} where tenant_id = ${tenantId})
          select 'missing' as side, * from (select * from want except select * from have) m
          union all
          select 'extra', * from (select * from have except select * from want) x`),
        );
        for (const r of found) out.push(`${table} ${r.side} ${r.slot} ${r.value} ${r.events}`);
      }
      return out;
    });
  } finally {
    await su.close();
  }
}

const bound = { searchTimeoutMs: 5000 };

/** The answer both ways: from the rollups where they line up, and from the events alone. */
async function bothWays(tenantId: number, q: CountQuery, restriction: Restriction | undefined) {
  const db = t.gateway.database.db;
  const viaRollup = await countByGroupAndBucket(db, tenantId, q, restriction, bound);
  const viaEvents = await countByGroupAndBucket(db, tenantId, q, restriction, bound, { rollups: false });
  expect(viaEvents.fromRollup).toBe(false);
  return {
    fromRollup: viaRollup.fromRollup,
    rollup: assembleCounts(q, viaRollup.rows, viaRollup.bucketStarts, viaRollup.groups),
    events: assembleCounts(q, viaEvents.rows, viaEvents.bucketStarts, viaEvents.groups),
  };
}

function query(
  filter: EventFilter,
  request: {
    groupBy?: ('action' | 'actor' | 'group')[];
    interval?: CountInterval;
    timeZone?: string;
    first?: number;
  },
): CountQuery {
  return checkCountRequest(validateFilter(filter, 'filter'), request, new Date(BASE + SPAN_MINUTES * MINUTE));
}

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('rollups');
  const events = spreadEvents(900, 7);
  // Batches of different sizes, some at the same time: appends take turns on the chain head.
  await Promise.all([0, 1, 2].map((k) => record(tenant, events.slice(k * 300, k * 300 + 300))));
  // Another tenant's events in the same slots never count.
  const other = await t.newTenant('rollups-other');
  await record(other, spreadEvents(50, 8));
});
afterAll(() => t?.close());

describe('the rollups stay exact', () => {
  it('after appends in concurrent batches', async () => {
    expect(await drift(tenant.id)).toEqual([]);
  });

  it('under concurrent single events and batches, and replays that store nothing new', async () => {
    const target = await t.newTenant('rollups-concurrent');
    const events = spreadEvents(120, 11).map((e, i) => ({ ...e, idempotencyKey: `k-${i}` }));
    const viewer = operatorViewer(target);
    await Promise.all([
      ...events.slice(0, 40).map((e) => t.gateway.audit.recordEvent(viewer, e)),
      record(target, events.slice(40, 90)),
      record(target, events.slice(90)),
    ]);
    expect(await drift(target.id)).toEqual([]);
    // The same requests again: each is a replay, answered with the stored event, counted once.
    await Promise.all([record(target, events.slice(0, 60)), record(target, events.slice(60))]);
    expect(await drift(target.id)).toEqual([]);
    const c = await t.gateway.audit.countEventsBy(viewer, {}, {});
    expect(c.total).toBe(120);
  });

  it('counted from the append itself: actors without an id, and instants at the edges of slots', async () => {
    // An append counts its rows in memory (addToCountRollups); these are the cases where its
    // slot and value could part from the SQL's: no actor id (''), the last millisecond of an
    // hour, a day and a month and the first of the next, in one batch and one at a time.
    const target = await t.newTenant('rollups-edges');
    const edges = [
      Date.UTC(2026, 6, 31, 23, 59, 59, 999),
      Date.UTC(2026, 7, 1, 0, 0, 0, 0),
      Date.UTC(2026, 7, 1, 0, 59, 59, 999),
      Date.UTC(2026, 7, 1, 1, 0, 0, 0),
    ];
    const events = edges.flatMap((ms, i) => [
      { action: 'edge', occurredAt: new Date(ms).toISOString() },
      { action: 'edge', occurredAt: new Date(ms).toISOString(), actor: { email: `e${i}@example.com` } },
      { action: 'edge', occurredAt: new Date(ms).toISOString(), actor: { id: `actor-${i % 2}` } },
    ]);
    await record(target, events);
    await Promise.all(events.map((e) => t.gateway.audit.recordEvent(operatorViewer(target), e)));
    expect(await drift(target.id)).toEqual([]);
    const c = await t.gateway.audit.countEventsBy(operatorViewer(target), {}, {});
    expect(c.total).toBe(events.length * 2);
  });

  it('after a prune, in the same transaction', async () => {
    const target = await t.newTenant('rollups-prune');
    await record(target, spreadEvents(80, 21));
    await new Promise((r) => setTimeout(r, 20));
    const cutoff = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await record(target, spreadEvents(40, 22));
    const pruned = await t.gateway.chain.prune(operatorViewer(target), t.gateway.database, cutoff);
    expect(pruned).toMatchObject({ removed: 80 });
    expect(await drift(target.id)).toEqual([]);
    const c = await bothWays(target.id, query({}, { groupBy: ['actor'] }), undefined);
    expect(c.fromRollup).toBe(true);
    // The 40 kept, plus the event that records the prune.
    expect(c.rollup.total).toBe(41);
    expect(c.rollup).toEqual(c.events);
  });

  it('rebuildCountRollups recomputes any range after events are removed by other means', async () => {
    const target = await t.newTenant('rollups-rebuild');
    await record(target, spreadEvents(150, 31));
    // What a retention job dropping a partition does: remove the events of a time range (here
    // unaligned to any slot) and rebuild that range. Done in two transactions here, to see the
    // rollups stale in between.
    const from = new Date(BASE + 9 * DAY + 41 * MINUTE);
    const to = new Date(BASE + 40 * DAY + 7 * MINUTE);
    const asOwner = (fn: (tx: Tx) => Promise<unknown>) =>
      t.gateway.database.admin(async (tx) => {
        await tx.execute(sql`select set_config('app.tenant_id', ${String(target.id)}, true)`);
        await tx.execute(sql`select set_config('audit.pruning', 'on', true)`);
        await fn(tx);
      });
    await asOwner((tx) =>
      tx.execute(
        sql`delete from audit_events where tenant_id = ${target.id} and occurred_at >= ${from.toISOString()}::timestamptz and occurred_at < ${to.toISOString()}::timestamptz`,
      ),
    );
    expect((await drift(target.id)).length).toBeGreaterThan(0);
    await asOwner((tx) => rebuildCountRollups(tx, target.id, from, to));
    expect(await drift(target.id)).toEqual([]);
  });
});

describe('the benchmark shapes read the rollups', () => {
  const countStatements = () => t.queries.filter((q) => q.startsWith('with cells as'));

  it('C1: a daily histogram of one action in Europe/Berlin, from the hourly action rollup', async () => {
    const since = new Date(Date.UTC(2026, 7, 1, 22));
    const until = new Date(since.getTime() + 30 * DAY);
    t.queries.length = 0;
    const c = await t.gateway.audit.countEventsBy(
      operatorViewer(tenant),
      { actions: ['login'], since, until },
      { interval: 'day', timeZone: 'Europe/Berlin' },
    );
    const statements = countStatements();
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('"audit_counts_hour_action"');
    expect(c.buckets).toHaveLength(30);
  });

  it('C2: the top actors over 90 days, from the monthly and daily actor rollups and the edges', async () => {
    t.queries.length = 0;
    const since = new Date(BASE + 3 * DAY + 17 * MINUTE);
    const q = { since, until: new Date(since.getTime() + 60 * DAY) };
    await t.gateway.audit.countEventsBy(operatorViewer(tenant), q, { groupBy: ['actor'], first: 3 });
    const statements = countStatements();
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('"audit_counts_month_actor"');
    expect(statements[0]).toContain('"audit_counts_day_actor"');
    expect(statements[0]).toContain('"audit_events"');
  });

  it('takes back what lies outside the window from a slot it covers mostly, and agrees with the events', async () => {
    // From 2 days into August to 1 hour before its end: August whole, less 2 days and 1 hour.
    const since = new Date(Date.UTC(2026, 7, 3, 0, 0));
    const until = new Date(Date.UTC(2026, 7, 31, 23, 0));
    const q = query({ since, until }, { groupBy: ['actor'], first: 2 });
    const plan = planRollupRead(q, undefined);
    expect(plan?.pieces.map((p) => [p.rollup.slot, p.range.sign])).toEqual([
      ['month', 1],
      ['day', -1],
    ]);
    expect(plan?.eventRanges).toEqual([{ from: until.getTime(), to: Date.UTC(2026, 8, 1), sign: -1 }]);
    const c = await bothWays(tenant.id, q, undefined);
    expect(c.fromRollup).toBe(true);
    expect(c.rollup).toEqual(c.events);
    // An actor whose only events lie in the part taken back is not a group of the window.
    const other = await t.newTenant('complement');
    await record(other, [
      { action: 'login', occurredAt: new Date(Date.UTC(2026, 7, 1, 5)), actor: { id: 'gone' } },
      { action: 'login', occurredAt: new Date(Date.UTC(2026, 7, 10, 5)), actor: { id: 'kept' } },
    ]);
    const sparse = await bothWays(other.id, q, undefined);
    expect(sparse.fromRollup).toBe(true);
    expect(sparse.rollup).toEqual(sparse.events);
    expect(JSON.stringify(sparse.rollup)).not.toContain('"gone"');
  });

  it('falls back to the events where the rollups cannot answer', async () => {
    const since = new Date(Date.UTC(2026, 7, 1));
    const until = new Date(since.getTime() + 10 * DAY);
    const cases: [EventFilter, Parameters<typeof query>[1]][] = [
      // Asia/Kolkata's midnight is half past a UTC hour.
      [
        { actions: ['login'], since, until },
        { interval: 'day', timeZone: 'Asia/Kolkata' },
      ],
      // A dimension no rollup counts.
      [{ since, until }, { groupBy: ['group'] }],
      // A filter on another dimension than the grouping's.
      [{ actions: ['login'], since, until }, { groupBy: ['actor'] }],
      // Free text.
      [{ search: 'login', since, until }, {}],
    ];
    for (const [filter, request] of cases) {
      const c = await bothWays(tenant.id, query(filter, request), undefined);
      expect(c.fromRollup, JSON.stringify({ filter, request })).toBe(false);
      expect(c.rollup).toEqual(c.events);
    }
    // A viewer restricted by group: the rollups do not know groups.
    const c = await bothWays(tenant.id, query({ since, until }, {}), { groupIds: ['group-1'] });
    expect(c.fromRollup).toBe(false);
  });
});

describe('coverWithSlots', () => {
  const H = 3_600_000;
  const d = (day: number, hour = 0) => Date.UTC(2026, 7, day, hour);
  it('covers from inside when that leaves less, and from outside with the rest taken back', () => {
    // 10:00 on the 3rd to 06:00 on the 5th: the 3rd whole less its first 10 h, the 4th, and the
    // 5th's first 6 h (16 h left to read finer; the days inside alone would leave 20 h).
    expect(coverWithSlots('day', { from: d(3, 10), to: d(5, 6), sign: 1 }, true)).toEqual({
      from: d(3),
      to: d(5),
      rest: [
        { from: d(3), to: d(3, 10), sign: -1 },
        { from: d(5), to: d(5, 6), sign: 1 },
      ],
    });
    // Without complement: the days inside only.
    expect(coverWithSlots('day', { from: d(3, 10), to: d(5, 6), sign: 1 }, false)?.rest).toEqual([
      { from: d(3, 10), to: d(4), sign: 1 },
      { from: d(5), to: d(5, 6), sign: 1 },
    ]);
    // Most of one day: the day, less the hour before and the hour after.
    expect(coverWithSlots('day', { from: d(3, 1), to: d(3, 23), sign: 1 }, true)).toEqual({
      from: d(3),
      to: d(4),
      rest: [
        { from: d(3), to: d(3, 1), sign: -1 },
        { from: d(3, 23), to: d(4), sign: -1 },
      ],
    });
    // Without complement (buckets), only whole slots inside; none here.
    expect(coverWithSlots('day', { from: d(3, 1), to: d(3, 23), sign: 1 }, false)).toBeNull();
    // A part taken back is itself covered with the opposite sign.
    expect(coverWithSlots('hour', { from: d(3), to: d(3, 1) + H / 2, sign: -1 }, true)?.rest).toEqual([
      { from: d(3, 1), to: d(3, 1) + H / 2, sign: -1 },
    ]);
    // Open ends are covered to the end.
    expect(coverWithSlots('month', { from: null, to: d(30), sign: 1 }, true)).toEqual({
      from: null,
      to: Date.UTC(2026, 8, 1),
      rest: [{ from: d(30), to: Date.UTC(2026, 8, 1), sign: -1 }],
    });
  });
});

describe('property: the rollup path answers what the events answer', () => {
  const subset = (values: string[]) => fc.option(fc.subarray(values, { minLength: 1 }), { nil: undefined });

  it('on random filters, restrictions, groupings, intervals, zones and unaligned windows', async () => {
    let viaRollup = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          actions: subset(ACTIONS),
          actorIds: subset([...ACTORS, 'nobody']),
          since: fc.option(fc.integer({ min: -600, max: SPAN_MINUTES }), { nil: undefined }),
          span: fc.integer({ min: 1, max: SPAN_MINUTES }),
          /** Minutes and seconds off the slot edges. */
          jitter: fc.constantFrom(0, 0, 37 * MINUTE + 5_123, 59 * MINUTE),
        }),
        fc.option(
          fc.record({
            actions: fc.option(fc.subarray(ACTIONS), { nil: undefined }),
            actorIds: fc.option(fc.subarray(ACTORS), { nil: undefined }),
          }),
          { nil: undefined },
        ),
        fc.constantFrom<('action' | 'actor')[]>([], [], ['action'], ['actor']),
        fc.option(fc.constantFrom<CountInterval>('hour', 'day', 'week', 'month'), { nil: undefined }),
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'),
        fc.integer({ min: 1, max: 4 }),
        // Mostly one dimension narrowed (the grouping's, when there is one), which a rollup can
        // answer; sometimes both, which falls back.
        fc.constantFrom('focus', 'focus', 'focus', 'both'),
        async (f, restriction, groupBy, interval, timeZone, first, mix) => {
          const focus = groupBy[0] ?? (f.actions ? 'action' : 'actor');
          if (mix === 'focus') {
            if (focus === 'action') {
              f.actorIds = undefined;
              if (restriction) restriction.actorIds = undefined;
            } else {
              f.actions = undefined;
              if (restriction) restriction.actions = undefined;
            }
          }
          const since = f.since === undefined ? undefined : new Date(BASE + f.since * MINUTE + f.jitter);
          const until =
            since === undefined ? undefined : new Date(since.getTime() + f.span * MINUTE + f.jitter);
          const filter: EventFilter = {
            ...(since ? { since } : {}),
            ...(until ? { until } : {}),
            ...(f.actions ? { actions: f.actions } : {}),
            ...(f.actorIds ? { actorIds: f.actorIds } : {}),
          };
          let q: CountQuery;
          try {
            q = query(filter, {
              groupBy,
              timeZone,
              ...(interval && since ? { interval } : {}),
              ...(groupBy.length ? { first } : {}),
            });
          } catch {
            return; // too many buckets: refused either way
          }
          const r = restriction && (restriction.actions || restriction.actorIds) ? restriction : undefined;
          const c = await bothWays(tenant.id, q, r);
          if (c.fromRollup) viaRollup += 1;
          expect(c.rollup).toEqual(c.events);
        },
      ),
      { numRuns: propertyRuns(200) },
    );
    // Most cases line up with a rollup; a property that never took that path would prove nothing.
    expect(viaRollup).toBeGreaterThan(5);
  });
});
