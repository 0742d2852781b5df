// One event, every surface: events recorded through GraphQL and through the Replicated POST are
// read back through GraphQL and each REST dialect (MadKudu list and get, Mural list, Wasabi list
// and get), and every field must be the canonical value mapped as docs/event-model.md says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

const RecordCanonical = graphql(`
  mutation CrossSurfaceRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }
`);

const CanonicalEvent = graphql(`
  query CrossSurfaceEvent($id: ID!) {
    event(id: $id) {
      id sequence action name title description groupId additionalId ipAddress
      occurredAt sentAt receivedAt metadata hash
      actor { id email name type company }
      target { kind id name email company }
      feature { name metas }
    }
  }
`);

const NewestIds = graphql(`
  query CrossSurfaceNewest { auditEvents(first: 10) { edges { node { id name } } } }
`);

type Canonical = NonNullable<Awaited<ReturnType<typeof readCanonical>>>;

let t: TestGateway;
let tenant: TestTenant;
beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('cross');
});
afterAll(() => t?.close());

async function readCanonical(id: string) {
  const res = await t.gql(CanonicalEvent, { id }, tenant.readKey);
  expect(res.errors).toBeUndefined();
  return res.data?.event;
}

async function getJson<T>(path: string): Promise<T> {
  const res = await t.fetch(path, { key: tenant.readKey });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** docs/event-model.md's mapping, applied to the canonical event as GraphQL returns it. */
const expected = {
  madkudu: (e: Canonical) => ({
    id: e.id,
    tenant: tenant.id,
    name: e.action,
    feature: e.feature ?? { name: 'general', metas: {} },
    created_at: e.occurredAt,
    sent_at: e.sentAt ?? e.receivedAt,
    received_at: e.receivedAt,
    user_email: e.actor?.email ?? null,
  }),
  mural: (e: Canonical) => ({
    action: e.action,
    actor: {
      company: e.actor?.company ?? null,
      email: e.actor?.email ?? null,
      id: e.actor?.id ?? null,
      name: e.actor?.name ?? null,
      type: e.actor?.type ?? null,
    },
    date: e.occurredAt,
    id: e.id,
    ip: e.ipAddress ?? null,
    snapshotDate: new Date(Math.floor(Date.parse(e.occurredAt) / DAY_MS) * DAY_MS + DAY_MS - 1).toISOString(),
    affected: {
      company: e.target?.company ?? null,
      email: e.target?.email ?? null,
      id: e.target?.id ?? null,
      name: e.target?.name ?? null,
      type: e.target?.kind ?? null,
    },
  }),
  wasabi: (e: Canonical) => ({
    id: e.id,
    user_id: e.actor?.id ?? null,
    action_key: e.action,
    target_kind: e.target?.kind ?? null,
    target_id: e.target?.id ?? null,
    time: e.occurredAt,
  }),
};

/** Reads one event through every surface and checks each against the canonical event. */
async function expectSameEverywhere(id: string): Promise<Canonical> {
  const canonical = (await readCanonical(id)) as Canonical;
  expect(canonical?.id).toBe(id);

  const madkuduList = await getJson<{ events: { id: string }[] }>('/v1/audit');
  const madkuduGet = await getJson<object>(`/v1/audit/${id}`);
  expect(madkuduList.events.find((e) => e.id === id)).toStrictEqual(expected.madkudu(canonical));
  expect(madkuduGet).toStrictEqual(expected.madkudu(canonical));

  const mural = await getJson<{ data: { id: string }[] }>('/enterprise/v1/audit-log');
  expect(mural.data.find((e) => e.id === id)).toStrictEqual(expected.mural(canonical));

  const wasabiList = await getJson<{ audit_events: { id: string }[] }>('/api/data/audit?count=1000');
  const wasabiGet = await getJson<object>(`/api/data/audit/${id}`);
  expect(wasabiList.audit_events.find((e) => e.id === id)).toStrictEqual(expected.wasabi(canonical));
  expect(wasabiGet).toStrictEqual({
    ...expected.wasabi(canonical),
    ...(canonical.additionalId ? { additional_id: canonical.additionalId } : {}),
  });
  return canonical;
}

describe('an event recorded through GraphQL', () => {
  it('with every canonical field: the same content through GraphQL, MadKudu, Mural and Wasabi', async () => {
    // An hour ago, written with an offset: every surface answers in UTC with milliseconds.
    const at = Date.now() - 3_600_000;
    const occurredUtc = new Date(at).toISOString();
    const occurredAt = new Date(at + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    const sentAt = new Date(at + 750).toISOString();
    const input = {
      action: 'UPDATE_COMPANY_SSO',
      name: 'sso updated',
      title: 'SSO settings updated',
      description: 'Ada changed the SSO provider\nfrom Okta to Entra',
      actor: { id: 'u-ada', email: 'ada@example.com', name: 'Ada Lovelace', type: 'USER', company: 'acme' },
      groupId: 'g-admins',
      target: { kind: 'COMPANY', id: 'acme', name: 'Acme Inc.', email: 'it@acme.example', company: 'acme' },
      additionalId: 'idp-7',
      feature: { name: 'security', metas: { provider: 'entra', mfa: true, seats: 12 } },
      ipAddress: '203.0.113.44',
      occurredAt,
      sentAt,
      metadata: { ticket: 'SEC-1', changes: [{ field: 'provider', from: 'okta', to: 'entra' }] },
    };
    const res = await t.gql(RecordCanonical, { input }, tenant.key);
    expect(res.errors).toBeUndefined();
    const id = res.data?.recordEvent.id as string;
    const canonical = await expectSameEverywhere(id);
    // And the canonical event is what was sent.
    expect(canonical).toMatchObject({
      ...input,
      occurredAt: occurredUtc,
      sentAt,
    });
    // Concretely, field by field, for the dialects' own names.
    const wasabi = await getJson<Record<string, unknown>>(`/api/data/audit/${id}`);
    expect(wasabi).toMatchObject({
      user_id: 'u-ada',
      action_key: 'UPDATE_COMPANY_SSO',
      target_kind: 'COMPANY',
      target_id: 'acme',
      additional_id: 'idp-7',
      time: occurredUtc,
    });
    const madkudu = await getJson<Record<string, unknown>>(`/v1/audit/${id}`);
    expect(madkudu).toMatchObject({
      name: 'UPDATE_COMPANY_SSO',
      tenant: tenant.id,
      feature: input.feature,
      created_at: occurredUtc,
      sent_at: sentAt,
      user_email: 'ada@example.com',
    });
    const mural = await getJson<{ data: Record<string, unknown>[] }>('/enterprise/v1/audit-log');
    const { kind, ...affected } = input.target;
    expect(mural.data.find((e) => e.id === id)).toMatchObject({
      action: 'UPDATE_COMPANY_SSO',
      actor: input.actor,
      affected: { ...affected, type: kind },
      ip: '203.0.113.44',
      date: occurredUtc,
    });
  });

  it('with only an action: absent parts read as null (or their documented default) everywhere', async () => {
    const res = await t.gql(RecordCanonical, { input: { action: 'logged-in' } }, tenant.key);
    const id = res.data?.recordEvent.id as string;
    const canonical = await expectSameEverywhere(id);
    expect(canonical).toMatchObject({
      actor: null,
      target: null,
      feature: null,
      ipAddress: null,
      sentAt: null,
    });
    expect(await getJson(`/api/data/audit/${id}`)).not.toHaveProperty('additional_id');
    expect(await getJson(`/v1/audit/${id}`)).toMatchObject({
      feature: { name: 'general', metas: {} },
      user_email: null,
      sent_at: canonical.receivedAt,
    });
  });
});

describe('an event recorded through the Replicated POST', () => {
  /** The 201 has no body; the newest event of the tenant with that name is the one just stored. */
  async function postReplicated(body: Record<string, string>, remoteAddress: string): Promise<string> {
    const res = await t.fetch('/audit/v1/event', {
      key: tenant.key,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      remoteAddress,
    });
    expect(res.status).toBe(201);
    const newest = await t.gql(NewestIds, {}, tenant.readKey);
    const node = newest.data?.auditEvents.edges.find((e) => e.node.name === body.name)?.node;
    expect(node).toBeDefined();
    return node?.id as string;
  }

  it("the document's JSON example: the same content everywhere, mapped from its five fields", async () => {
    const body = {
      name: 'user.login',
      description: '[email protected] logged in successfully',
      title: 'User Login Success',
      action: 'user.login.success',
      ip_address: '192.30.252.12',
    };
    const id = await postReplicated(body, '198.51.100.3');
    const canonical = await expectSameEverywhere(id);
    expect(canonical).toMatchObject({
      action: body.action,
      name: body.name,
      title: body.title,
      description: body.description,
      ipAddress: body.ip_address,
      actor: null,
      target: null,
      groupId: null,
      additionalId: null,
      feature: null,
      sentAt: null,
      metadata: {},
    });
    expect(canonical.occurredAt).toBe(canonical.receivedAt);
  });

  it('without ip_address: the client address, the same on every surface that shows an address', async () => {
    const id = await postReplicated({ action: 'user.logout', name: 'logout' }, '198.51.100.4');
    const canonical = await expectSameEverywhere(id);
    expect(canonical.ipAddress).toBe('198.51.100.4');
  });
});
