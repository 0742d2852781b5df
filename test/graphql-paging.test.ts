import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventOrderField, OrderDirection, PageOfEventsQuery } from './gql/graphql.ts';
import { graphql } from './gql/index.ts';
import { compareBytes, type FixtureEvent, variedEvents } from './support/fixtures.ts';
import type { GraphQLResponse } from './support/gateway.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

const RecordEvents = graphql(`
  mutation RecordEventsForPaging($inputs: [RecordEventInput!]!) {
    recordEvents(inputs: $inputs) {
      __typename
      ... on RecordEventSuccess { event { id } }
      ... on RecordEventFailure { field message }
    }
  }
`);

const Page = graphql(`
  query PageOfEvents($first: Int, $after: String, $last: Int, $before: String, $orderBy: AuditEventOrder) {
    auditEvents(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
      edges { cursor node { id occurredAt action groupId actor { id } target { kind } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);

type Row = {
  id: string;
  occurredAt: string;
  action: string;
  actorId: string;
  targetKind: string;
  groupId: string;
};

const keyOf: Record<AuditEventOrderField, (r: Row) => string | null> = {
  OCCURRED_AT: () => null,
  ACTION: (r) => r.action,
  ACTOR: (r) => r.actorId,
  TARGET_KIND: (r) => r.targetKind,
  GROUP: (r) => r.groupId,
};

function expectedOrder(rows: Row[], field: AuditEventOrderField, direction: OrderDirection): string[] {
  const sign = direction === 'ASC' ? 1 : -1;
  return [...rows]
    .sort((a, b) => {
      const ka = keyOf[field](a);
      const kb = keyOf[field](b);
      const byKey = ka === null || kb === null ? 0 : compareBytes(ka, kb);
      if (byKey !== 0) return sign * byKey;
      const byTime = Date.parse(a.occurredAt) - Date.parse(b.occurredAt);
      if (byTime !== 0) return sign * byTime;
      return sign * compareBytes(a.id, b.id);
    })
    .map((r) => r.id);
}

let t: TestGateway;
let tenant: TestTenant;
let rows: Row[];

async function record(events: FixtureEvent[]): Promise<string[]> {
  const res = await t.gql(RecordEvents, { inputs: events }, tenant.key);
  expect(res.errors).toBeUndefined();
  return (res.data?.recordEvents ?? []).map((r) => {
    if (r.__typename !== 'RecordEventSuccess') throw new Error(`refused: ${JSON.stringify(r)}`);
    return r.event.id;
  });
}

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('paging');
  const events = variedEvents(300, 7);
  const ids = await record(events);
  rows = events.map((e, i) => ({
    id: ids[i] as string,
    occurredAt: e.occurredAt,
    action: e.action,
    actorId: e.actor?.id ?? '',
    targetKind: e.target?.kind ?? '',
    groupId: e.groupId ?? '',
  }));
});

afterAll(() => t?.close());

const orders: [AuditEventOrderField, OrderDirection][] = (
  ['OCCURRED_AT', 'ACTOR', 'ACTION', 'TARGET_KIND', 'GROUP'] as const
).flatMap((f) => (['ASC', 'DESC'] as const).map((d): [AuditEventOrderField, OrderDirection] => [f, d]));

describe('auditEvents keyset paging', () => {
  it.each(orders)('pages forward to the end by %s %s without skip or repeat', async (field, direction) => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const res: GraphQLResponse<PageOfEventsQuery> = await t.gql(
        Page,
        { first: 37, after, orderBy: { field, direction } },
        tenant.readKey,
      );
      expect(res.errors).toBeUndefined();
      const conn = res.data?.auditEvents;
      if (!conn) throw new Error('no connection');
      seen.push(...conn.edges.map((e) => e.node.id));
      expect(conn.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor ?? null;
    }
    expect(seen).toEqual(expectedOrder(rows, field, direction));
  });

  it.each(orders)('pages backward from the end by %s %s', async (field, direction) => {
    const seen: string[] = [];
    let before: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const res: GraphQLResponse<PageOfEventsQuery> = await t.gql(
        Page,
        { last: 41, before, orderBy: { field, direction } },
        tenant.readKey,
      );
      expect(res.errors).toBeUndefined();
      const conn = res.data?.auditEvents;
      if (!conn) throw new Error('no connection');
      seen.unshift(...conn.edges.map((e) => e.node.id));
      expect(conn.pageInfo.hasNextPage).toBe(before !== null);
      if (!conn.pageInfo.hasPreviousPage) break;
      before = conn.pageInfo.startCursor ?? null;
    }
    expect(seen).toEqual(expectedOrder(rows, field, direction));
  });

  it('neither skips nor repeats while new events arrive between pages', async () => {
    const own = await t.newTenant('arrivals');
    const initial = variedEvents(200, 11);
    const res0 = await t.gql(RecordEvents, { inputs: initial }, own.key);
    const initialIds = (res0.data?.recordEvents ?? []).map((r) =>
      r.__typename === 'RecordEventSuccess' ? r.event.id : '',
    );
    for (const [field, direction] of orders) {
      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 100; page++) {
        const res: GraphQLResponse<PageOfEventsQuery> = await t.gql(
          Page,
          { first: 25, after, orderBy: { field, direction } },
          own.key,
        );
        const conn = res.data?.auditEvents;
        if (!conn) throw new Error(JSON.stringify(res.errors));
        seen.push(...conn.edges.map((e) => e.node.id));
        // New events land everywhere in every order: before, inside and after the current page.
        await t.gql(RecordEvents, { inputs: variedEvents(5, 1000 + page) }, own.key);
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor ?? null;
      }
      expect(new Set(seen).size, `${field} ${direction}: repeated events`).toBe(seen.length);
      const missing = initialIds.filter((id) => !seen.includes(id));
      expect(missing, `${field} ${direction}: skipped events`).toEqual([]);
    }
  });

  it('refuses a cursor from another order, another tenant, or edited', async () => {
    const res = await t.gql(Page, { first: 5 }, tenant.readKey);
    const cursor = res.data?.auditEvents.pageInfo.endCursor as string;
    const otherOrder = await t.gql(
      Page,
      { first: 5, after: cursor, orderBy: { field: 'ACTION', direction: 'ASC' } },
      tenant.readKey,
    );
    expect(otherOrder.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(otherOrder.errors?.[0]?.message).toMatch(/after/);

    const other = await t.newTenant('foreign');
    const foreign = await t.gql(Page, { first: 5, after: cursor }, other.key);
    expect(foreign.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    const [body, mac] = cursor.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
    payload.t -= 1;
    const edited = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`;
    for (const bad of [edited, cursor.slice(0, -3), 'garbage', '']) {
      const r = await t.gql(Page, { first: 5, after: bad }, tenant.readKey);
      expect(r.errors?.[0]?.extensions?.code, bad).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.extensions?.field).toBe('after');
    }
  });

  it('enforces the documented page sizes', async () => {
    const dflt = await t.gql(Page, {}, tenant.readKey);
    expect(dflt.data?.auditEvents.edges).toHaveLength(50);
    const max = await t.gql(Page, { first: 500 }, tenant.readKey);
    expect(max.data?.auditEvents.edges).toHaveLength(300);
    for (const vars of [{ first: 501 }, { first: -1 }, { last: 501 }, { first: 2, last: 2 }]) {
      const r = await t.gql(Page, vars, tenant.readKey);
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(vars)).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toMatch(/first|last/);
    }
  });
});
