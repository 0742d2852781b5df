import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventFilter } from './gql/graphql.ts';
import { graphql } from './gql/index.ts';
import { type FixtureEvent, variedEvents } from './support/fixtures.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

const RecordEvents = graphql(`
  mutation RecordEventsForFilters($inputs: [RecordEventInput!]!) {
    recordEvents(inputs: $inputs) {
      __typename
      ... on RecordEventSuccess { event { id } }
    }
  }
`);

const Filtered = graphql(`
  query FilteredEvents($filter: AuditEventFilter, $first: Int) {
    auditEvents(filter: $filter, first: $first) {
      totalCount
      edges { node { id } }
      pageInfo { hasNextPage }
    }
  }
`);

let t: TestGateway;
let tenant: TestTenant;
let model: (FixtureEvent & { id: string })[];

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('filters');
  const events = variedEvents(240, 3);
  const res = await t.gql(RecordEvents, { inputs: events }, tenant.key);
  model = events.map((e, i) => {
    const r = res.data?.recordEvents[i];
    if (r?.__typename !== 'RecordEventSuccess') throw new Error('seed failed');
    return { ...e, id: r.event.id };
  });
  // Another tenant's events must never match, whatever the filter.
  const other = await t.newTenant('filters-other');
  await t.gql(RecordEvents, { inputs: variedEvents(60, 3) }, other.key);
});

afterAll(() => t?.close());

/** The filter semantics, written out plainly: AND across fields, OR within a list. */
function matches(e: FixtureEvent, f: AuditEventFilter): boolean {
  const at = Date.parse(e.occurredAt);
  if (f.since && at < Date.parse(f.since)) return false;
  if (f.until && at >= Date.parse(f.until)) return false;
  const inList = (list: readonly string[] | null | undefined, value: string | undefined) =>
    !list || (value !== undefined && list.includes(value));
  return (
    inList(f.actions, e.action) &&
    inList(f.actorIds, e.actor?.id) &&
    inList(f.actorEmails, e.actor?.email) &&
    inList(f.targetKinds, e.target?.kind) &&
    inList(f.targetIds, e.target?.id) &&
    inList(f.groupIds, e.groupId) &&
    inList(f.ipAddresses, e.ipAddress)
  );
}

async function ids(filter: AuditEventFilter): Promise<{ ids: string[]; total: number }> {
  const res = await t.gql(Filtered, { filter, first: 500 }, tenant.readKey);
  expect(res.errors).toBeUndefined();
  const conn = res.data?.auditEvents;
  if (!conn) throw new Error('no data');
  expect(conn.pageInfo.hasNextPage).toBe(false);
  return { ids: conn.edges.map((e) => e.node.id), total: conn.totalCount };
}

const base = Date.UTC(2026, 9, 1);
const hour = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

const single: [string, AuditEventFilter][] = [
  ['since (inclusive, an exact event time)', { since: iso(base + 10 * hour) }],
  ['until (exclusive, an exact event time)', { until: iso(base + 10 * hour) }],
  ['since with an offset', { since: '2026-10-01T12:00:00+02:00' }],
  ['one action', { actions: ['login'] }],
  ['two actions', { actions: ['login', 'enable'] }],
  ['actor ids', { actorIds: ['actor-1', 'actor-9'] }],
  ['actor emails', { actorEmails: ['user3@example.com'] }],
  ['target kinds', { targetKinds: ['feature'] }],
  ['target ids', { targetIds: ['target-2', 'target-5'] }],
  ['group ids', { groupIds: ['group-1'] }],
  ['ip addresses', { ipAddresses: ['10.0.0.2', '10.0.0.4'] }],
  ['an unknown value', { actions: ['never-recorded'] }],
];

const combined: [string, AuditEventFilter][] = [
  [
    'action and window',
    { actions: ['login', 'logout'], since: iso(base + 5 * hour), until: iso(base + 30 * hour) },
  ],
  [
    'actor and target kind',
    { actorIds: ['actor-2', 'actor-3', 'actor-4'], targetKinds: ['group', 'authenticate'] },
  ],
  [
    'group, ip and email',
    {
      groupIds: ['group-2', 'group-3'],
      ipAddresses: ['10.0.0.1', '10.0.0.3'],
      actorEmails: ['user5@example.com', 'user6@example.com'],
    },
  ],
  [
    'everything at once',
    {
      since: iso(base),
      until: iso(base + 40 * hour),
      actions: ['login', 'create', 'enable'],
      actorIds: ['actor-1', 'actor-2', 'actor-5', 'actor-8'],
      actorEmails: ['user1@example.com', 'user2@example.com', 'user5@example.com', 'user8@example.com'],
      targetKinds: ['feature', 'group'],
      targetIds: ['target-1', 'target-2', 'target-3', 'target-4'],
      groupIds: ['group-1', 'group-2', 'group-4'],
    },
  ],
];

describe('auditEvents filters', () => {
  it.each([...single, ...combined])('%s', async (_name, filter) => {
    const expected = model.filter((e) => matches(e, filter)).map((e) => e.id);
    const got = await ids(filter);
    expect(new Set(got.ids)).toEqual(new Set(expected));
    expect(got.ids).toHaveLength(expected.length);
    expect(got.total).toBe(expected.length);
  });

  it('every single filter case selects a proper, non-empty subset (the cases are meaningful)', () => {
    for (const [name, filter] of single.slice(0, -1)) {
      const n = model.filter((e) => matches(e, filter)).length;
      expect(n, name).toBeGreaterThan(0);
      expect(n, name).toBeLessThan(model.length);
    }
  });

  it('refuses malformed filters with BAD_USER_INPUT naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ since: '2026-10-01T00:00:00' }, /since|DateTime|offset/],
      [{ since: '2026-02-30T00:00:00Z' }, /since|DateTime/],
      [{ until: 'yesterday' }, /until|DateTime/],
      [{ actorEmails: ['not-an-email'] }, /actorEmails|email/],
      [{ ipAddresses: ['999.1.1.1'] }, /ipAddresses|IP/],
      [{ actions: [''] }, /filter\.actions/],
      [{ actions: ['a\u0000b'] }, /filter\.actions/],
      [{ actions: Array.from({ length: 101 }, (_, i) => `a${i}`) }, /filter\.actions/],
      [{ since: iso(base + 2 * hour), until: iso(base + hour) }, /filter\.until/],
    ];
    for (const [filter, message] of cases) {
      const res = await t.gqlRaw(
        {
          query: 'query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }',
          variables: { f: filter },
        },
        tenant.readKey,
      );
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(filter)).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message, JSON.stringify(filter)).toMatch(message);
    }
  });
});
