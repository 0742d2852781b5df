// Every GraphQL request is bounded before it runs: each list it hands in (literal or in variables)
// holds at most its documented number of items, fields that scan or re-hash the whole tenant are
// priced by that work, and every limit answers with a code, the limit, and a message naming both.
import {
  type GraphQLInputType,
  getNamedType,
  getNullableType,
  isInputObjectType,
  isListType,
  isNonNullType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH, MAX_FILTER_VALUES } from '../src/audit/service.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { PRICES } from '../src/graphql/cost.ts';
import { LIST_LIMITS, MAX_NODE_IDS } from '../src/graphql/list-limits.ts';
import { schema } from '../src/graphql/schema.ts';
import { EXAMPLE_QUERY, GRAPHQL_LIMITS } from '../src/graphql/yoga.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

let t: TestGateway;
let tenant: TestTenant;
let eventIds: string[];
beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('limits');
  const stored = await t.gateway.audit.recordEvents(
    operatorViewer(tenant),
    Array.from({ length: 3 }, (_, i) => ({ action: `seed.${i}` })),
  );
  eventIds = stored.flatMap((r) => (r.ok ? [r.event.id] : []));
});
afterAll(() => t?.close());

const uuids = (n: number) =>
  Array.from({ length: n }, (_, i) => `01900000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`);

/** SQL statements about events that ran during `run`: none means it was refused before execution. */
async function eventQueriesDuring(run: () => Promise<unknown>): Promise<string[]> {
  const before = t.queries.length;
  await run();
  return t.queries.slice(before).filter((q) => /audit_events|chain/.test(q));
}

describe('list arguments are bounded before execution, literal or in variables', () => {
  it('nodes(ids:) longer than its maximum is refused naming `ids`, without touching the events', async () => {
    for (const count of [MAX_NODE_IDS + 1, 200_000]) {
      let res: Awaited<ReturnType<TestGateway['gqlRaw']>> | undefined;
      const sql = await eventQueriesDuring(async () => {
        res = await t.gqlRaw(
          { query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: uuids(count) } },
          tenant.readKey,
        );
      });
      expect(res?.status).toBe(400);
      expect(res?.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'ids',
        limit: MAX_NODE_IDS,
      });
      expect(res?.errors?.[0]?.message).toBe(`ids: must hold at most ${MAX_NODE_IDS} items; got ${count}`);
      expect(sql).toEqual([]);
    }
  });

  it('nodes(ids:) at its maximum is served', async () => {
    const ids = [...eventIds, ...uuids(MAX_NODE_IDS - eventIds.length)];
    const res = await t.gqlRaw(
      { query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids } },
      tenant.readKey,
    );
    expect(res.errors).toBeUndefined();
    expect(((res.data?.nodes ?? []) as unknown[]).filter(Boolean)).toHaveLength(eventIds.length);
  });

  it('a filter list over its maximum is refused naming the filter field, in variables and in the document', async () => {
    const values = Array.from({ length: MAX_FILTER_VALUES + 1 }, (_, i) => `a${i}`);
    const inVariables = await t.gqlRaw(
      {
        query: 'query($f: AuditEventFilter) { auditEvents(filter: $f) { edges { cursor } } }',
        variables: { f: { targetIds: values } },
      },
      tenant.readKey,
    );
    expect(inVariables.status).toBe(400);
    expect(inVariables.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'filter.targetIds',
      limit: MAX_FILTER_VALUES,
    });
    const literal = JSON.stringify(values);
    const inDocument = await t.gqlRaw(
      { query: `{ auditEvents(filter: { actions: ${literal} }) { edges { cursor } } }` },
      tenant.readKey,
    );
    expect(inDocument.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'filter.actions',
    });
  });

  it('a list variable of another operation in the same document does not count', async () => {
    const res = await t.gqlRaw(
      {
        query:
          'query Few($ids: [ID!]!) { nodes(ids: $ids) { id } } query Many($ids: [ID!]!) { nodes(ids: $ids) { id } }',
        operationName: 'Few',
        variables: { ids: [eventIds[0]] },
      },
      tenant.readKey,
    );
    expect(res.errors).toBeUndefined();
  });

  it('recordEvents(inputs:) over its maximum is refused naming `inputs`, and stores nothing', async () => {
    const writer = await t.newTenant('limits-write');
    const res = await t.gqlRaw(
      {
        query: 'mutation($in: [RecordEventInput!]!) { recordEvents(inputs: $in) { __typename } }',
        variables: { in: Array.from({ length: MAX_BATCH + 1 }, () => ({ action: 'x' })) },
      },
      writer.key,
    );
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'inputs' });
    expect(await t.gateway.audit.countEvents(operatorViewer(writer), {})).toBe(0);
  });

  it('every list input of the schema has a bound, stated in its description', () => {
    const lists: string[] = [];
    const isList = (type: GraphQLInputType) => isListType(getNullableType(type));
    const limitIn = (text: string | null | undefined, limit: number) =>
      new RegExp(`at most ${limit}\\b`).test(text ?? '');
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if ('getFields' in type && !isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          for (const arg of 'args' in field ? field.args : []) {
            if (!isList(arg.type)) continue;
            const coordinate = `${type.name}.${field.name}(${arg.name}:)`;
            lists.push(coordinate);
            const limit = LIST_LIMITS[coordinate];
            expect(limit, coordinate).toBeDefined();
            expect(limitIn(arg.description, limit as number), `${coordinate}: ${arg.description}`).toBe(true);
          }
        }
      }
      if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!isList(field.type)) continue;
          const coordinate = `${type.name}.${field.name}`;
          lists.push(coordinate);
          const limit = LIST_LIMITS[coordinate];
          expect(limit, coordinate).toBeDefined();
          // A field's own description, or its input type's when all its lists share one bound.
          const stated =
            limitIn(field.description, limit as number) || limitIn(type.description, limit as number);
          expect(stated, `${coordinate}: ${field.description} / ${type.description}`).toBe(true);
        }
      }
    }
    expect(lists.sort()).toEqual(Object.keys(LIST_LIMITS).sort());
    // Lists of lists would need a bound per level; there are none.
    for (const coordinate of lists) expect(coordinate).not.toMatch(/\[\[/);
    expect(isNonNullType(schema.getQueryType()?.getFields().nodes?.args[0]?.type)).toBe(true);
    expect(getNamedType(schema.getQueryType()?.getFields().nodes?.args[0]?.type)?.name).toBe('ID');
  });
});

describe('fields that scan or re-hash the whole tenant are priced by that work', () => {
  const costly = async (query: string, variables?: Record<string, unknown>) => {
    let res: Awaited<ReturnType<TestGateway['gqlRaw']>> | undefined;
    const sql = await eventQueriesDuring(async () => {
      res = await t.gqlRaw({ query, variables }, tenant.readKey);
    });
    expect(res?.status, query.slice(0, 80)).toBe(400);
    expect(res?.errors?.[0]?.extensions).toMatchObject({
      code: 'QUERY_TOO_COSTLY',
      limit: GRAPHQL_LIMITS.cost,
    });
    expect(res?.errors?.[0]?.message).toMatch(/^Query cost \d+ exceeds the limit of 50000/);
    expect(sql).toEqual([]);
  };
  const aliases = (n: number, field: string) =>
    `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

  it('one whole-chain verifyChain per request: 100 aliases, or even two, are refused before any hashing', async () => {
    await costly(aliases(100, 'verifyChain { intact }'));
    await costly(aliases(2, 'verifyChain { intact }'));
    const one = await t.gqlRaw({ query: aliases(1, 'verifyChain { intact }') }, tenant.readKey);
    expect(one.errors).toBeUndefined();
    expect(one.data).toEqual({ a0: { intact: true } });
  });

  it('a verifyChain range pays for its length, so short ranges can be combined', async () => {
    const ranges = `{ ${Array.from(
      { length: 10 },
      (_, i) => `r${i}: verifyChain(fromSequence: 1, toSequence: ${(i % 3) + 1}) { intact }`,
    ).join(' ')} }`;
    const res = await t.gqlRaw({ query: ranges }, tenant.readKey);
    expect(res.errors).toBeUndefined();
    // A range given in variables is priced the same way; an open-ended one as the whole chain.
    await costly(
      'query($from: SafeInt) { a: verifyChain(fromSequence: $from) { intact } b: verifyChain { intact } }',
      {
        from: 2,
      },
    );
  });

  it('at most two totalCount per request', async () => {
    await costly(aliases(100, 'auditEvents(first: 0) { totalCount }'));
    await costly(aliases(3, 'auditEvents(first: 0) { totalCount }'));
    const two = await t.gqlRaw({ query: aliases(2, 'auditEvents(first: 0) { totalCount }') }, tenant.readKey);
    expect(two.errors).toBeUndefined();
    expect(two.data).toEqual({ a0: { totalCount: 3 }, a1: { totalCount: 3 } });
  });

  it('a count beside a page is priced once, not once per item: the GraphiQL example and a full page run', async () => {
    const example = await t.gqlRaw({ query: EXAMPLE_QUERY }, tenant.readKey);
    expect(example.errors).toBeUndefined();
    const full = await t.gqlRaw(
      { query: '{ auditEvents(first: 500) { totalCount edges { node { id action actor { id email } } } } }' },
      tenant.readKey,
    );
    expect(full.errors).toBeUndefined();
  });

  it('the prices stay within the limit they are meant for', () => {
    expect(PRICES.wholeChainVerification * 2).toBeGreaterThan(GRAPHQL_LIMITS.cost);
    expect(PRICES.wholeChainVerification).toBeLessThan(GRAPHQL_LIMITS.cost / 1.5);
    expect(PRICES.totalCount * 3).toBeGreaterThan(GRAPHQL_LIMITS.cost);
  });
});

describe('every limit is a coded GraphQL error with a message naming it', () => {
  const refusal = async (query: string) => (await t.gqlRaw({ query }, tenant.readKey)).errors?.[0];

  it.each([
    [
      'depth',
      `{ ${'... on Query { '.repeat(GRAPHQL_LIMITS.depth + 2)} viewer { keyId } ${'} '.repeat(GRAPHQL_LIMITS.depth + 2)} }`,
      'QUERY_TOO_DEEP',
      /^Query depth limit of 12 exceeded, found \d+\.$/,
    ],
    [
      'aliases',
      `{ ${Array.from({ length: GRAPHQL_LIMITS.aliases + 1 }, (_, i) => `a${i}: viewer { keyId }`).join(' ')} }`,
      'TOO_MANY_ALIASES',
      /^Aliases limit of 100 exceeded, found 101\.$/,
    ],
    [
      'tokens',
      `{ viewer { ${'keyId '.repeat(GRAPHQL_LIMITS.tokens)} } }`,
      'TOO_MANY_TOKENS',
      /^Token limit of 5000 exceeded\.$/,
    ],
    [
      'cost',
      `{ ${Array.from({ length: 2 }, (_, i) => `a${i}: verifyChain { intact }`).join(' ')} }`,
      'QUERY_TOO_COSTLY',
      /^Query cost \d+ exceeds the limit of 50000; ask for fewer items or fields/,
    ],
  ])('%s', async (_name, query, code, message) => {
    const error = await refusal(query);
    expect(error?.extensions?.code).toBe(code);
    expect(typeof error?.extensions?.limit).toBe('number');
    expect(error?.message).toMatch(message);
  });
});
