// filter.search (docs/analysts.md#search): which fields it looks in, how it folds case and
// accents, non-Latin scripts, literal LIKE metacharacters, the refusals, and that it is one more
// AND-ed condition: with the other filters, keyset paging, a viewer's slice and the tenant.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexTokenEnds } from '../src/audit/repository/event-reads.ts';
import type { AuditEventFilter, RecordEventInput, SearchEventsQuery } from './gql/graphql.ts';
import { graphql } from './gql/index.ts';
import {
  type GraphQLResponse,
  startTestGateway,
  type TestGateway,
  type TestTenant,
} from './support/gateway.ts';

const RecordForSearch = graphql(`
  mutation RecordForSearch($inputs: [RecordEventInput!]!) {
    recordEvents(inputs: $inputs) {
      __typename
      ... on RecordEventSuccess { event { id } }
      ... on RecordEventFailure { field message }
    }
  }
`);

const Search = graphql(`
  query SearchEvents($filter: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $filter, first: $first, after: $after) {
      totalCount
      edges { node { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const Mint = graphql(`
  mutation MintForSearch($input: CreateViewerTokenInput!) {
    createViewerToken(input: $input) { token }
  }
`);

let t: TestGateway;
let tenant: TestTenant;
/** Event ids by the label of the input that recorded them. */
const id: Record<string, string> = {};

const base = Date.UTC(2026, 9, 1);
const at = (i: number) => new Date(base + i * 60_000).toISOString();

/** One event per searchable field, each holding its own marker there and nowhere else. */
const FIELD_EVENTS: Record<string, RecordEventInput> = {
  action: { action: 'billing.zqxaction' },
  name: { action: 'n', name: 'the zqxname thing' },
  title: { action: 'n', title: 'Title ZQXTITLE' },
  description: { action: 'n', description: 'paid zqxdescription today' },
  actorName: { action: 'n', actor: { id: 'a1', name: 'Zqxactorname Person' } },
  actorEmail: { action: 'n', actor: { id: 'a1', email: 'zqxmail@example.com' } },
  targetName: { action: 'n', target: { kind: 'doc', id: 'd1', name: 'zqxtargetname' } },
  targetId: { action: 'n', target: { kind: 'doc', id: 'INV-zqx4711/2' } },
  metadata: { action: 'n', metadata: { nested: { deep: ['x', { value: 'zqxmetavalue' }] }, n: 947113 } },
};

const OTHER_EVENTS: Record<string, RecordEventInput> = {
  // Fields filter.search does not look in: ids and kinds, group, metadata keys.
  unsearched: {
    action: 'n',
    actor: { id: 'zqxactorid', type: 'zqxactortype' },
    groupId: 'zqxgroup',
    target: { kind: 'zqxkind', id: 'd2' },
    metadata: { zqxmetakey: 'plain' },
  },
  accents: { action: 'n', description: 'Café ÉCOLE Straße Ångström' },
  plainAccents: { action: 'n', description: 'cafe ecole' },
  japanese: { action: 'n', title: '東京タワー請求書' },
  cyrillic: { action: 'n', title: 'Счёт оплачен' },
  greek: { action: 'n', title: 'Άθήνα' },
  percent: { action: 'n', description: 'rate 50%off now' },
  percentLookalike: { action: 'n', description: 'rate 50xoff now and 50off' },
  underscore: { action: 'n', description: 'file ab_cd9' },
  underscoreLookalike: { action: 'n', description: 'file abxcd9' },
  backslash: { action: 'n', description: 'path c:\\dir9' },
  backslashLookalike: { action: 'n', description: 'path c:dir9 c:/dir9' },
  twoFields: { action: 'n', name: 'alpha', title: 'omega' },
  // Long hexadecimal words (ids) are looked up in the index by their ends, then checked whole.
  hexId: {
    action: 'n',
    target: { kind: 'doc', id: '0B3E9F2C-4A1D-4C7E-9F55-8D2A6B1C3E70' },
    metadata: { requestId: '7F3A9C2E5B1D4086' },
  },
  hexEnds: { action: 'n', description: 'pieces 7f3a9c, then 1d4086, and 0b3e9f...6b1c3e70' },
};

/** 30 events with one common word, in two actions, for filters and paging. */
const PAGED = Array.from(
  { length: 30 },
  (_, i): RecordEventInput => ({
    action: i % 2 === 0 ? 'report.viewed' : 'report.exported',
    description: `quarterly pagingword report ${i}`,
    actor: { id: i % 3 === 0 ? 'viewer-slice' : 'someone-else' },
    occurredAt: at(100 + i),
  }),
);

async function record(key: string, inputs: RecordEventInput[]): Promise<string[]> {
  const res = await t.gql(RecordForSearch, { inputs }, key);
  expect(res.errors).toBeUndefined();
  return (res.data?.recordEvents ?? []).map((r) => {
    if (r.__typename !== 'RecordEventSuccess') throw new Error(`seed failed: ${JSON.stringify(r)}`);
    return r.event.id;
  });
}

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('search');
  const labelled = { ...FIELD_EVENTS, ...OTHER_EVENTS };
  const labels = Object.keys(labelled);
  const ids = await record(
    tenant.key,
    labels.map((label, i) => ({ ...labelled[label], occurredAt: at(i) }) as RecordEventInput),
  );
  labels.forEach((label, i) => {
    id[label] = ids[i] as string;
  });
  (await record(tenant.key, PAGED)).forEach((eventId, i) => {
    id[`paged${i}`] = eventId;
  });
  // Another tenant holding the same words: never found.
  const other = await t.newTenant('search-other');
  await record(other.key, [{ action: 'billing.zqxaction', description: 'quarterly pagingword report' }]);
});
afterAll(() => t?.close());

async function search(filter: AuditEventFilter, key = tenant.readKey): Promise<string[]> {
  const res = await t.gql(Search, { filter, first: 500 }, key);
  expect(res.errors).toBeUndefined();
  const conn = res.data?.auditEvents;
  if (!conn) throw new Error('no data');
  expect(conn.totalCount).toBe(conn.edges.length);
  return conn.edges.map((e) => e.node.id).sort();
}

const idsOf = (...labels: string[]) => labels.map((l) => id[l] as string).sort();

describe('what filter.search looks in', () => {
  it.each([
    ['action', 'zqxaction'],
    ['name', 'zqxname'],
    ['title', 'zqxtitle'],
    ['description', 'zqxdescription'],
    ['actorName', 'zqxactorname'],
    ['actorEmail', 'ZQXMAIL@EXAMPLE.COM'],
    ['targetName', 'zqxtargetname'],
    ['targetId', 'inv-zqx4711/2'],
    ['metadata', 'zqxmetavalue'],
  ])('%s', async (label, word) => {
    expect(await search({ search: word })).toEqual(idsOf(label));
  });

  it('metadata values of any type and depth, but not its keys', async () => {
    expect(await search({ search: '947113' })).toEqual(idsOf('metadata'));
    expect(await search({ search: 'zqxmetakey' })).toEqual([]);
  });

  it('not the ids, types, kinds or group', async () => {
    for (const word of ['zqxactorid', 'zqxactortype', 'zqxgroup', 'zqxkind']) {
      expect(await search({ search: word }), word).toEqual([]);
    }
  });

  it('a word may be part of a longer one; every word must occur, in any field', async () => {
    expect(await search({ search: 'zqxtarget' })).toEqual(idsOf('targetName'));
    expect(await search({ search: 'omega alpha' })).toEqual(idsOf('twoFields'));
    expect(await search({ search: '  alpha   zqxtitle ' })).toEqual([]);
  });
});

describe('case, accents and scripts', () => {
  it('ignores case and accents on both sides', async () => {
    const both = idsOf('accents', 'plainAccents');
    expect(await search({ search: 'CAFE' })).toEqual(both);
    expect(await search({ search: 'café' })).toEqual(both);
    expect(await search({ search: 'École' })).toEqual(both);
    expect(await search({ search: 'strasse' })).toEqual(idsOf('accents'));
    expect(await search({ search: 'ANGSTROM' })).toEqual(idsOf('accents'));
  });

  it('finds Japanese, Cyrillic and Greek text by three or more characters', async () => {
    expect(await search({ search: '東京タ' })).toEqual(idsOf('japanese'));
    expect(await search({ search: '請求書' })).toEqual(idsOf('japanese'));
    expect(await search({ search: 'СЧЕТ' })).toEqual(idsOf('cyrillic'));
    expect(await search({ search: 'αθηνα' })).toEqual(idsOf('greek'));
  });
});

describe('long hexadecimal words (request ids, UUIDs)', () => {
  it('match whole, in any case, also as part of a longer id; both ends alone do not', async () => {
    expect(await search({ search: '7f3a9c2e5b1d4086' })).toEqual(idsOf('hexId'));
    expect(await search({ search: '0b3e9f2c-4a1d-4c7e-9f55-8d2a6b1c3e70' })).toEqual(idsOf('hexId'));
    expect(await search({ search: '4A1D-4C7E-9F55-8D2A' })).toEqual(idsOf('hexId'));
    expect(await search({ search: '7f3a9c2e5b1d4087' })).toEqual([]);
    expect(await search({ search: '0b3e9f00006b1c3e70' })).toEqual([]);
  });

  it('are ids with digits and letters; numbers and dates are searched whole, as any word', () => {
    expect(hexTokenEnds('7F3A9C2E5B1D4086')).toEqual(['7F3A9C', '1D4086']);
    expect(hexTokenEnds('0b3e9f2c-4a1d-4c7e-9f55-8d2a6b1c3e70')).toEqual(['0b3e9f', '1c3e70']);
    for (const word of [
      '4915112345678',
      '2026-10-01-0930',
      'deadbeefcafebabe',
      '7f3a9c2e5b1d',
      'zz3a9c2e5b1d4086',
    ])
      expect(hexTokenEnds(word), word).toBeNull();
  });
});

describe('LIKE metacharacters are plain characters', () => {
  it.each([
    ['%', '50%off', 'percent'],
    ['_', 'ab_cd9', 'underscore'],
    ['\\', 'c:\\dir9', 'backslash'],
  ])('%s', async (_char, word, label) => {
    expect(await search({ search: word })).toEqual(idsOf(label));
  });
});

describe('with the other filters, paging and viewers', () => {
  const newestFirst = (labels: string[]) => [...labels].reverse().map((l) => id[l] as string);

  it('ANDs with the other filters and counts the same', async () => {
    const viewed = PAGED.map((_, i) => `paged${i}`).filter((_, i) => i % 2 === 0);
    expect(await search({ search: 'pagingword', actions: ['report.viewed'] })).toEqual(idsOf(...viewed));
    expect(await search({ search: 'pagingword', since: at(110), until: at(120) })).toEqual(
      idsOf(...Array.from({ length: 10 }, (_, i) => `paged${i + 10}`)),
    );
    expect(await search({ search: 'pagingword', actions: ['billing.zqxaction'] })).toEqual([]);
  });

  it('pages by keyset without skipping or repeating', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const res: GraphQLResponse<SearchEventsQuery> = await t.gql(
        Search,
        { filter: { search: 'quarterly pagingword' }, first: 7, after },
        tenant.readKey,
      );
      expect(res.errors).toBeUndefined();
      const conn = res.data?.auditEvents;
      if (!conn) throw new Error('no data');
      expect(conn.totalCount).toBe(30);
      seen.push(...conn.edges.map((e) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor ?? null;
    }
    expect(seen).toEqual(newestFirst(PAGED.map((_, i) => `paged${i}`)));
  });

  it("a cursor belongs to its search: another term's page refuses it", async () => {
    const first = await t.gql(Search, { filter: { search: 'pagingword' }, first: 2 }, tenant.readKey);
    const cursor = first.data?.auditEvents.pageInfo.endCursor;
    const res = await t.gql(
      Search,
      { filter: { search: 'quarterly' }, first: 2, after: cursor ?? null },
      tenant.readKey,
    );
    expect(res.errors?.[0]?.message).toMatch(/^after: belongs to a different filter/);
  });

  it('a restricted viewer token finds only its own slice', async () => {
    const minted = await t.gql(
      Mint,
      { input: { restriction: { actorIds: ['viewer-slice'] } } },
      tenant.readKey,
    );
    const token = minted.data?.createViewerToken.token as string;
    const inSlice = PAGED.map((_, i) => `paged${i}`).filter((_, i) => i % 3 === 0);
    expect(await search({ search: 'pagingword' }, token)).toEqual(idsOf(...inSlice));
    expect(await search({ search: 'zqxactorname' }, token)).toEqual([]);
  });
});

describe('refusals', () => {
  it.each([
    ['ab', /"ab" is too short/],
    ['invoice of', /"of" is too short/],
    ['東京', /"東京" is too short/],
    ['%%%', /"%%%" is too short/],
    ['a-b-c', /"a-b-c" is too short/],
    ['   ', /must contain a word/],
    ['one two three four five six seven eight nine', /at most 8 words/],
    ['x'.repeat(201), /at most 200 characters/],
    ['bad\u0000word', /NUL/],
  ])('%j', async (term, reason) => {
    const res = await t.gql(Search, { filter: { search: term }, first: 5 }, tenant.readKey);
    expect(res.errors?.[0]?.message).toMatch(/^filter\.search: /);
    expect(res.errors?.[0]?.message).toMatch(reason);
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('the trigram index', () => {
  // Row-level security holds back a condition that is not LEAKPROOF until after the tenant
  // policy, so without these marks no search could use the index (the bench's Q1 shows the cost).
  it('can serve a search under row-level security: LIKE and the document are LEAKPROOF', async () => {
    const rows = await t.gateway.database.rows<{ proname: string; proleakproof: boolean }>(
      sql`select proname, proleakproof from pg_proc
           where oid in ('pg_catalog.textlike(text, text)'::regprocedure,
             'public.audit_search_document(text, text, text, text, text, text, text, text, jsonb)'::regprocedure)
           order by proname`,
    );
    expect(rows).toEqual([
      { proname: 'audit_search_document', proleakproof: true },
      { proname: 'textlike', proleakproof: true },
    ]);
  });
});

describe.runIf(process.env.TEST_DB === 'postgres')('a search that runs too long', () => {
  it('is stopped by SEARCH_TIMEOUT_MS with an error on filter.search', async () => {
    const slow = await startTestGateway({ SEARCH_TIMEOUT_MS: '1' });
    try {
      const busy = await slow.newTenant('search-slow');
      const many = Array.from(
        { length: 1000 },
        (_, i): RecordEventInput => ({
          action: 'n',
          description: `common word ${i}`,
          metadata: { a: { b: [`v${i}`, i, 'more text'] } },
        }),
      );
      for (let batch = 0; batch < 2; batch++) {
        const res = await slow.gql(RecordForSearch, { inputs: many }, busy.key);
        expect(res.errors).toBeUndefined();
      }
      const res = await slow.gql(Search, { filter: { search: 'common' }, first: 5 }, busy.readKey);
      expect(res.errors?.[0]?.message).toMatch(/^filter\.search: matches too much to answer within 0.001 s/);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      await slow.close();
    }
  });
});
