import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { graphql } from './gql/index.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

const RecordIdem = graphql(`
  mutation RecordIdempotent($input: RecordEventInput!) { recordEvent(input: $input) { id sequence action } }
`);
const CountIdem = graphql(`
  query CountIdempotent { auditEvents { totalCount } }
`);
const BatchIdem = graphql(`
  mutation BatchIdempotent($inputs: [RecordEventInput!]!) {
    recordEvents(inputs: $inputs) {
      __typename
      ... on RecordEventSuccess { index replayed event { id } }
      ... on RecordEventFailure { index code field message }
    }
  }
`);

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

const count = async (key: string) => (await t.gql(CountIdem, {}, key)).data?.auditEvents.totalCount;

const replicated = (key: string, body: unknown, idempotencyKey?: string) =>
  t.fetch('/audit/v1/event', {
    key,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
    },
    body: JSON.stringify(body),
  });

describe('idempotent ingest', () => {
  it('GraphQL: a retry returns the original event and stores nothing; another payload is refused', async () => {
    const tenant = await t.newTenant('idem-gql');
    const input = { action: 'user.login.success', idempotencyKey: 'req-1', metadata: { attempt: 1 } };
    const first = await t.gql(RecordIdem, { input }, tenant.key);
    const retry = await t.gql(RecordIdem, { input }, tenant.key);
    expect(retry.errors).toBeUndefined();
    expect(retry.data?.recordEvent).toEqual(first.data?.recordEvent);
    expect(await count(tenant.readKey)).toBe(1);

    const different = await t.gql(RecordIdem, { input: { ...input, metadata: { attempt: 2 } } }, tenant.key);
    expect(different.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'idempotencyKey' });
    expect(await count(tenant.readKey)).toBe(1);
  });

  it('REST: the Idempotency-Key header makes retries safe; a different body is a 409', async () => {
    const tenant = await t.newTenant('idem-rest');
    const body = { action: 'user.login.success', name: 'login', ip_address: '192.30.252.12' };
    expect((await replicated(tenant.key, body, 'abc')).status).toBe(201);
    expect((await replicated(tenant.key, body, 'abc')).status).toBe(201);
    expect(await count(tenant.readKey)).toBe(1);
    const conflict = await replicated(tenant.key, { ...body, name: 'logout' }, 'abc');
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({
      error: 'idempotency_conflict',
      parameter: 'Idempotency-Key',
    });
    expect(await count(tenant.readKey)).toBe(1);
  });

  it('keys are scoped per tenant', async () => {
    const a = await t.newTenant('idem-a');
    const b = await t.newTenant('idem-b');
    const input = { action: 'x', idempotencyKey: 'shared-key' };
    const ea = await t.gql(RecordIdem, { input }, a.key);
    const eb = await t.gql(RecordIdem, { input }, b.key);
    expect(eb.errors).toBeUndefined();
    expect(eb.data?.recordEvent.id).not.toBe(ea.data?.recordEvent.id);
    const other = await t.gql(RecordIdem, { input: { action: 'y', idempotencyKey: 'shared-key' } }, b.key);
    expect(other.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await count(a.readKey)).toBe(1);
    expect(await count(b.readKey)).toBe(1);
  });

  it('50 concurrent duplicates leave exactly one event, and every caller gets that event', async () => {
    const tenant = await t.newTenant('idem-race');
    const input = { action: 'payment.captured', idempotencyKey: 'race-1', metadata: { amount: 42 } };
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? t.gql(RecordIdem, { input }, tenant.key).then((r) => r.data?.recordEvent.id)
          : replicated(tenant.key, { action: 'payment.captured' }, 'race-2').then((r) => r.status),
      ),
    );
    const ids = answers.filter((a) => typeof a === 'string');
    expect(ids).toHaveLength(25);
    expect(new Set(ids).size).toBe(1);
    expect(answers.filter((a) => a === 201)).toHaveLength(25);
    expect(await count(tenant.readKey)).toBe(2);
    expect((await t.gateway.chain.verify(operatorViewer(tenant))).intact).toBe(true);
  });

  it('in a batch, repeated keys resolve to one event and conflicts fail alone', async () => {
    const tenant = await t.newTenant('idem-batch');
    const res = await t.gql(
      BatchIdem,
      {
        inputs: [
          { action: 'a', idempotencyKey: 'k1' },
          { action: 'a', idempotencyKey: 'k1' },
          { action: 'b', idempotencyKey: 'k1' },
          { action: 'c' },
        ],
      },
      tenant.key,
    );
    const [first, second, third, fourth] = res.data?.recordEvents ?? [];
    expect(first).toMatchObject({ __typename: 'RecordEventSuccess', index: 0, replayed: false });
    expect(second).toMatchObject({ __typename: 'RecordEventSuccess', index: 1, replayed: true });
    if (first?.__typename === 'RecordEventSuccess' && second?.__typename === 'RecordEventSuccess') {
      expect(second.event.id).toBe(first.event.id);
    }
    expect(third).toMatchObject({
      __typename: 'RecordEventFailure',
      index: 2,
      code: 'CONFLICT',
      field: 'idempotencyKey',
    });
    expect(fourth).toMatchObject({ __typename: 'RecordEventSuccess', index: 3 });
    expect(await count(tenant.readKey)).toBe(2);
  });
});
