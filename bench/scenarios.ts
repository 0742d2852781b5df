// The scenarios of the performance issue (S1–S8) and of the analysts' counts (C1, C2), each as the request the gateway gets and the
// request the floor gets for the same work, plus how to find their parameters in the dataset.
import type postgres from 'postgres';
import { TokenSigner } from '../src/audit/tokens.ts';
import { DATASET_END, type PlannedEvent, planDataset, Rng, tenantEvents } from './dataset.ts';
import type { DumpSpec, RequestSpec } from './measure.ts';

/** lean: the lean floor (bench/lean-floor.ts), issue 14's reference. */
export type Target = 'floor' | 'floorChain' | 'lean' | 'gateway';

export type ScenarioId =
  | 'S1'
  | 'S2'
  | 'S3'
  | 'S4'
  | 'S5'
  | 'S6'
  | 'S7'
  | 'S8'
  | 'Q1'
  | 'Q2'
  | 'C1'
  | 'C2'
  | 'E1'
  | 'R1';
export const SCENARIO_IDS: ScenarioId[] = [
  'S1',
  'S2',
  'S3',
  'S4',
  'S5',
  'S6',
  'S7',
  'S8',
  'Q1',
  'Q2',
  'C1',
  'C2',
  'E1',
  'R1',
];

type Common = {
  id: ScenarioId;
  /** Unique per row: the id, plus the surface when a scenario has two. */
  name: string;
  title: string;
  /** The target, as written there. */
  target: string;
  eventsPerRequest: number;
};

export type LoadScenario = Common & {
  kind: 'load';
  /**
   * R1: not measured against the floor but against itself, the gateway with the tenant's read log
   * on and off in alternating runs (bench/run.ts measureReadLogCost).
   */
  readLogCost?: boolean;
  requests: Partial<Record<Target, RequestSpec>>;
  /** Reads answer byte-identical JSON on both servers; writes only the same status. */
  compare: 'exact' | 'status';
};

export type DumpScenario = Common & {
  kind: 'dump';
  dumps: { floor: DumpSpec; gateway: DumpSpec; lean?: DumpSpec };
  /** Mural's dumps answer byte-identical JSON on both servers; an export (signed, CSV) only the same status. */
  compare?: 'exact' | 'status';
};

export type Scenario = LoadScenario | DumpScenario;

// ---------------------------------------------------------------------------------------------
// What the GraphQL scenarios ask for (the floor builds exactly these fields, in this order)

export const EVENT_FIELDS =
  'id sequence action occurredAt actor { id email name type } target { kind id name } groupId ipAddress metadata hash';

const PAGE_QUERY = `query Page($filter: AuditEventFilter, $after: String) {
  auditEvents(first: 50, filter: $filter, after: $after) {
    edges { cursor node { ${EVENT_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const SEARCH_QUERY = `query Search($filter: AuditEventFilter) {
  auditEvents(first: 50, filter: $filter) {
    edges { cursor node { ${EVENT_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const NODES_QUERY = `query ByIds($ids: [ID!]!) { nodes(ids: $ids) { ... on AuditEvent { ${EVENT_FIELDS} } } }`;

const FILTERS_QUERY =
  'query Filters { availableFilters { actions targetKinds { name actions } actorTypes timeRange { earliest latest } } }';

/** C1: a daily histogram of one action (the floor builds exactly these fields). */
export const HISTOGRAM_QUERY = `query Histogram($filter: AuditEventFilter, $timeZone: String) {
  auditEventCounts(filter: $filter, interval: DAY, timeZone: $timeZone) { total buckets { start count } }
}`;

/** C2: the most active actors. */
export const TOP_ACTORS_QUERY = `query TopActors($filter: AuditEventFilter) {
  auditEventCounts(filter: $filter, groupBy: [ACTOR], first: 10) {
    total other otherGroups groups { key { actorId } count }
  }
}`;

const RECORD_MUTATION =
  'mutation Record($input: RecordEventInput!) { recordEvent(input: $input) { id sequence } }';

const RECORD_MANY_MUTATION = `mutation RecordMany($inputs: [RecordEventInput!]!) {
  recordEvents(inputs: $inputs) {
    __typename
    ... on RecordEventSuccess { index event { id sequence } }
    ... on RecordEventFailure { index code field message }
  }
}`;

// ---------------------------------------------------------------------------------------------
// Parameters found in the loaded dataset

export type Keys = {
  /** Read and write, on the largest tenant. */
  largest: string;
  ingestGateway: string;
  ingestFloor: string;
  ingestFloorChain: string;
};

export type Params = {
  largest: { id: number; slug: string; events: number };
  s1: { action: string; since: string; until: string; matches: number };
  s2: { depth: number; at: number; id: string };
  s3: { ids: string[] };
  s5: { since: string; until: string; windowEvents: number; maxResults: number };
  /** filter.search: a word found in one event (a request id) and one found in most. */
  q: { rare: string; common: string };
  c1: { action: string; since: string; until: string; timeZone: string };
  c2: { since: string; until: string };
};

/** In most events of every vendor's vocabulary (actions, names, titles). */
const COMMON_WORD = 'login';

const DAY_MS = 86_400_000;
export const MURAL_MAX_RESULTS = 50_000;
const MURAL_PAGES = 4;

/** Reads the scenario parameters from the dataset, as the superuser (no tenant needed). */
export async function findParams(owner: postgres.Sql, events: number, seed: number): Promise<Params> {
  const plan = planDataset(events, seed);
  const top = plan.tenants[0];
  if (!top) throw new Error('the dataset has no tenants');
  const [tenant] = await owner<{ id: number }[]>`select id from tenants where slug = ${top.slug}`;
  if (!tenant) throw new Error(`tenant ${top.slug} is missing; reload the dataset`);
  const id = tenant.id;

  // S1: the most common action in a 30-day window three months before the end, so a full page exists.
  const s1Until = new Date(DATASET_END - 90 * DAY_MS);
  const s1Since = new Date(s1Until.getTime() - 30 * DAY_MS);
  const [common] = await owner<{ action: string; n: string }[]>`
    select action, count(*) as n from audit_events
     where tenant_id = ${id} and occurred_at >= ${s1Since} and occurred_at < ${s1Until}
     group by action order by count(*) desc, action limit 1`;
  if (!common) throw new Error('no events in the S1 window');

  // S2: the event 100,000 deep in the default order (newest first); on a dataset too small for
  // that, 90% of the way down.
  const depth = Math.min(100_000, Math.floor(top.events * 0.9));
  const [deep] = await owner<{ occurred_at: Date; id: string }[]>`
    select occurred_at, id from audit_events where tenant_id = ${id}
     order by occurred_at desc, id desc offset ${depth - 1} limit 1`;
  if (!deep) throw new Error('the largest tenant is too small for S2');

  // S3: 50 events spread over the whole history, in a shuffled order.
  const seqs = Array.from({ length: 50 }, (_, k) => Math.max(1, Math.round(((k + 1) * top.events) / 51)));
  const rows = await owner<{ id: string }[]>`
    select id from audit_events where tenant_id = ${id} and seq = any(${seqs}::bigint[])`;
  const ids = rows.map((r) => r.id);
  const rng = new Rng(seed);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
  }

  // S5: the last 30 days. 50,000 per page when the window holds four full pages; on a smaller
  // dataset the page shrinks so that four pages (each ending in a nextToken) still exist.
  const s5Since = new Date(DATASET_END - 30 * DAY_MS);
  const [windowCount] = await owner<{ n: string }[]>`
    select count(*) as n from audit_events
     where tenant_id = ${id} and occurred_at >= ${s5Since} and occurred_at < ${new Date(DATASET_END)}`;
  const windowEvents = Number(windowCount?.n ?? 0);
  const maxResults =
    windowEvents > MURAL_PAGES * MURAL_MAX_RESULTS
      ? MURAL_MAX_RESULTS
      : Math.max(1, Math.floor((windowEvents - 1) / MURAL_PAGES));

  // Q1: a request id from the middle of the tenant's history (one event holds it).
  const mid = Math.max(1, Math.floor(top.events / 2));
  const [rare] = await owner<{ word: string }[]>`
    select metadata->>'requestId' as word from audit_events
     where tenant_id = ${id} and seq between ${mid} and ${mid + 10_000} and metadata ? 'requestId'
     order by seq limit 1`;
  if (!rare) throw new Error('no event with a requestId in the middle of the largest tenant');
  // C1: the most common action of the last 30 days, per day in a zone with daylight saving.
  const [c1Action] = await owner<{ action: string }[]>`
    select action from audit_events
     where tenant_id = ${id} and occurred_at >= ${s5Since} and occurred_at < ${new Date(DATASET_END)}
     group by action order by count(*) desc, action limit 1`;
  if (!c1Action) throw new Error('no events in the C1 window');

  return {
    largest: { id, slug: top.slug, events: top.events },
    c1: {
      action: c1Action.action,
      since: s5Since.toISOString(),
      until: new Date(DATASET_END).toISOString(),
      timeZone: 'Europe/Berlin',
    },
    c2: {
      since: new Date(DATASET_END - 90 * DAY_MS).toISOString(),
      until: new Date(DATASET_END).toISOString(),
    },
    s1: {
      action: common.action,
      since: s1Since.toISOString(),
      until: s1Until.toISOString(),
      matches: Number(common.n),
    },
    s2: { depth, at: deep.occurred_at.getTime(), id: deep.id },
    s3: { ids },
    s5: {
      since: s5Since.toISOString(),
      // Mural reads a date-time `until` as inclusive: the last millisecond of the window.
      until: new Date(DATASET_END - 1).toISOString(),
      windowEvents,
      maxResults,
    },
    q: { rare: rare.word, common: COMMON_WORD },
  };
}

/**
 * A cursor 100k events deep, signed the way the service signs one. The query key (which binds a
 * cursor to its filter and order) is taken from a cursor the gateway itself issued for the same query.
 */
export function deepCursor(
  tokenSecret: string,
  tenantId: number,
  issuedCursor: string,
  at: number,
  id: string,
) {
  const tokens = new TokenSigner([tokenSecret]);
  const issued = tokens.verify('cursor', tenantId, issuedCursor) as { q: string } | null;
  if (!issued)
    throw new Error('the gateway issued a cursor the benchmark cannot read; is TOKEN_SECRET the same?');
  return tokens.sign('cursor', tenantId, { q: issued.q, k: null, t: at, i: id });
}

/** The first page's query of S2: what the gateway's cursor for it is bound to. */
export const UNFILTERED_PAGE = JSON.stringify({ query: PAGE_QUERY, variables: {} });

// ---------------------------------------------------------------------------------------------
// Ingest payloads

/** Realistic events in the canonical input shape (what recordEvents and the batch route take). */
export function ingestBatch(size: number, seed: number): Record<string, unknown>[] {
  const plan = planDataset(1_000_000, seed ^ 0xba7c4).tenants[0];
  if (!plan) throw new Error('empty plan');
  const out: Record<string, unknown>[] = [];
  for (const e of tenantEvents({ ...plan, events: size }, 0)) out.push(toInput(e));
  return out;
}

function toInput(e: PlannedEvent): Record<string, unknown> {
  const compact = (o: Record<string, unknown> | null) =>
    o ? Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) : undefined;
  const input: Record<string, unknown> = {
    action: e.action,
    name: e.name,
    title: e.title,
    description: e.description,
    actor: compact(e.actor),
    groupId: e.groupId,
    target: compact(e.target),
    additionalId: e.additionalId,
    feature: e.feature ?? undefined,
    ipAddress: e.ipAddress,
    occurredAt: e.occurredAt.toISOString(),
    sentAt: e.sentAt?.toISOString(),
    metadata: e.metadata,
  };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined));
}

/** The Replicated document's own example request. */
const REPLICATED_EVENT = {
  name: 'user.login',
  title: 'User Login Success',
  description: '[email protected] logged in successfully',
  ip_address: '192.30.252.12',
  action: 'user.login.success',
};

// ---------------------------------------------------------------------------------------------
// The scenarios

const json = { 'content-type': 'application/json', accept: 'application/json' };
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const graphql = (key: string, query: string, variables: Record<string, unknown>): RequestSpec => ({
  method: 'POST',
  path: '/graphql',
  headers: { ...json, ...auth(key) },
  body: JSON.stringify({ query, variables }),
});
/** An export is whole when its last line is there: the export statement, the last CSV row's CRLF, the floor's end. */
const exportEnded = (tail: string) => tail.endsWith('\r\n') || /"type":"(export|end)"[^\n]*\n$/.test(tail);

const get = (key: string, path: string): RequestSpec => ({ method: 'GET', path, headers: auth(key) });
const post = (key: string, path: string, body: unknown): RequestSpec => ({
  method: 'POST',
  path,
  headers: { ...json, ...auth(key) },
  body: JSON.stringify(body),
});

export function buildScenarios(
  p: Params,
  keys: Keys,
  cursor: string,
  batch: Record<string, unknown>[],
): Scenario[] {
  const k = keys.largest;
  const qs = (params: Record<string, string | number>) =>
    new URLSearchParams(Object.entries(params).map(([a, b]) => [a, String(b)])).toString();
  const mural = (params: Record<string, string | number>) => `/enterprise/v1/audit-log?${qs(params)}`;
  const s5 = p.s5;
  const replicatedInput = {
    action: REPLICATED_EVENT.action,
    name: REPLICATED_EVENT.name,
    title: REPLICATED_EVENT.title,
    description: REPLICATED_EVENT.description,
    ipAddress: REPLICATED_EVENT.ip_address,
  };
  const s1: LoadScenario = {
    id: 'S1',
    name: 'S1',
    title: `auditEvents(first: 50), action ${p.s1.action}, 30-day window (${p.s1.matches} matches)`,
    target: 'throughput >= 0.8x floor',
    eventsPerRequest: 50,
    kind: 'load',
    compare: 'exact',
    requests: {
      gateway: graphql(k, PAGE_QUERY, {
        filter: { actions: [p.s1.action], since: p.s1.since, until: p.s1.until },
      }),
      floor: get(k, `/s1?${qs({ first: 50, action: p.s1.action, since: p.s1.since, until: p.s1.until })}`),
      lean: get(k, `/s1?${qs({ first: 50, action: p.s1.action, since: p.s1.since, until: p.s1.until })}`),
    },
  };
  return [
    s1,
    // S1's request on the gateway alone, with the tenant's read log on and off in turns.
    {
      ...s1,
      id: 'R1',
      name: 'R1',
      title: `S1 with the read log on vs off (${p.s1.matches} matches)`,
      target: 'read log on >= 0.9x off (costs <= 10% of S1 throughput)',
      readLogCost: true,
      compare: 'status',
      requests: { gateway: s1.requests.gateway as RequestSpec },
    },
    {
      id: 'S2',
      name: 'S2',
      title: `auditEvents(first: 50, after: cursor ${p.s2.depth} events deep)`,
      target: "p50 within 1.2x of S1's",
      eventsPerRequest: 50,
      kind: 'load',
      compare: 'exact',
      requests: {
        gateway: graphql(k, PAGE_QUERY, { after: cursor }),
        floor: get(k, `/s2?${qs({ first: 50, after: cursor })}`),
        lean: get(k, `/s2?${qs({ first: 50, after: cursor })}`),
      },
    },
    {
      id: 'S3',
      name: 'S3',
      title: 'nodes(ids: [50 event ids]) in one request',
      target: 'exactly one SQL statement; >= 0.8x floor',
      eventsPerRequest: 50,
      kind: 'load',
      compare: 'exact',
      requests: {
        gateway: graphql(k, NODES_QUERY, { ids: p.s3.ids }),
        floor: get(k, `/s3?${qs({ ids: p.s3.ids.join(',') })}`),
        lean: get(k, `/s3?${qs({ ids: p.s3.ids.join(',') })}`),
      },
    },
    {
      id: 'S4',
      name: 'S4',
      title: 'availableFilters',
      target: 'p95 <= 5 ms on the 10M dataset',
      eventsPerRequest: 0,
      kind: 'load',
      compare: 'exact',
      requests: { gateway: graphql(k, FILTERS_QUERY, {}), floor: get(k, '/s4'), lean: get(k, '/s4') },
    },
    {
      id: 'S5',
      name: 'S5',
      title: `Mural dump: maxResults=${s5.maxResults}, then ${MURAL_PAGES - 1} pages by nextToken (window holds ${s5.windowEvents})`,
      target: 'wall <= 1.3x floor; gateway RSS growth <= 64 MB',
      eventsPerRequest: s5.maxResults * MURAL_PAGES,
      kind: 'dump',
      dumps: {
        gateway: {
          pages: MURAL_PAGES,
          first: get(
            k,
            mural({
              maxResults: s5.maxResults,
              'filter[date][since]': s5.since,
              'filter[date][until]': s5.until,
            }),
          ),
          next: (token) => get(k, mural({ maxResults: s5.maxResults, nextToken: token })),
        },
        floor: {
          pages: MURAL_PAGES,
          first: get(k, `/s5?${qs({ maxResults: s5.maxResults, since: s5.since, until: s5.until })}`),
          next: (token) => get(k, `/s5?${qs({ maxResults: s5.maxResults, nextToken: token })}`),
        },
        lean: {
          pages: MURAL_PAGES,
          first: get(k, `/s5?${qs({ maxResults: s5.maxResults, since: s5.since, until: s5.until })}`),
          next: (token) => get(k, `/s5?${qs({ maxResults: s5.maxResults, nextToken: token })}`),
        },
      },
    },
    {
      id: 'S6',
      name: 'S6',
      title: 'Wasabi count=500&page=20 with total',
      target: 'p50 <= 1.5x floor',
      eventsPerRequest: 500,
      kind: 'load',
      compare: 'exact',
      requests: {
        gateway: get(k, '/api/data/audit?count=500&page=20'),
        floor: get(k, '/s6?count=500&page=20'),
        lean: get(k, '/s6?count=500&page=20'),
      },
    },
    ...(
      [
        ['Q1', p.q.rare, `a rare word (a request id, ${p.q.rare})`, 'p95 <= 100 ms on the 10M dataset'],
        ['Q2', p.q.common, `a common word (${p.q.common})`, 'none; bounded by SEARCH_TIMEOUT_MS'],
      ] as const
    ).map(
      ([qid, word, what, target]): LoadScenario => ({
        id: qid,
        name: qid,
        title: `auditEvents(first: 50, filter: {search}), ${what}, newest first`,
        target,
        eventsPerRequest: 50,
        kind: 'load',
        compare: 'exact',
        requests: {
          gateway: graphql(k, SEARCH_QUERY, { filter: { search: word } }),
          floor: get(k, `/q?${qs({ first: 50, search: word })}`),
        },
      }),
    ),
    {
      id: 'C1',
      name: 'C1',
      title: `auditEventCounts: daily histogram of ${p.c1.action} over 30 days in ${p.c1.timeZone}`,
      target: 'p95 <= 50 ms on the 10M dataset',
      eventsPerRequest: 0,
      kind: 'load',
      compare: 'exact',
      requests: {
        gateway: graphql(k, HISTOGRAM_QUERY, {
          filter: { actions: [p.c1.action], since: p.c1.since, until: p.c1.until },
          timeZone: p.c1.timeZone,
        }),
        floor: get(k, `/c1?${qs(p.c1)}`),
      },
    },
    {
      id: 'C2',
      name: 'C2',
      title: 'auditEventCounts: top 10 actors over 90 days',
      target: 'p95 <= 50 ms on the 10M dataset',
      eventsPerRequest: 0,
      kind: 'load',
      compare: 'exact',
      requests: {
        gateway: graphql(k, TOP_ACTORS_QUERY, { filter: { since: p.c2.since, until: p.c2.until } }),
        floor: get(k, `/c2?${qs({ ...p.c2, first: 10 })}`),
      },
    },
    {
      id: 'S7',
      name: 'S7 graphql',
      title: 'recordEvent (one event per request)',
      target: 'throughput >= 0.7x a floor doing one INSERT per request',
      eventsPerRequest: 1,
      kind: 'load',
      compare: 'status',
      requests: {
        gateway: graphql(keys.ingestGateway, RECORD_MUTATION, { input: replicatedInput }),
        floor: post(keys.ingestFloor, '/s7', REPLICATED_EVENT),
        floorChain: post(keys.ingestFloorChain, '/s7-chain', REPLICATED_EVENT),
        // The lean floor keeps the same chain, in the chained floor's tenant (targets run one
        // at a time).
        lean: post(keys.ingestFloorChain, '/s7', REPLICATED_EVENT),
      },
    },
    {
      id: 'S7',
      name: 'S7 rest',
      title: 'Replicated POST /audit/v1/event (one event per request)',
      target: 'throughput >= 0.7x a floor doing one INSERT per request',
      eventsPerRequest: 1,
      kind: 'load',
      compare: 'status',
      requests: {
        gateway: post(keys.ingestGateway, '/audit/v1/event', REPLICATED_EVENT),
        floor: post(keys.ingestFloor, '/s7', REPLICATED_EVENT),
        floorChain: post(keys.ingestFloorChain, '/s7-chain', REPLICATED_EVENT),
        // The lean floor keeps the same chain, in the chained floor's tenant (targets run one
        // at a time).
        lean: post(keys.ingestFloorChain, '/s7', REPLICATED_EVENT),
      },
    },
    {
      id: 'S8',
      name: 'S8 rest',
      title: `batch route POST /audit/v1/events, ${batch.length} events per request`,
      target: '>= 25,000 events/s sustained',
      eventsPerRequest: batch.length,
      kind: 'load',
      compare: 'status',
      requests: {
        gateway: post(keys.ingestGateway, '/audit/v1/events', { events: batch }),
        floor: post(keys.ingestFloor, '/s8', { events: batch }),
        floorChain: post(keys.ingestFloorChain, '/s8-chain', { events: batch }),
        lean: post(keys.ingestFloorChain, '/s8', { events: batch }),
      },
    },
    {
      id: 'S8',
      name: 'S8 graphql',
      title: `recordEvents(inputs: [${batch.length} events])`,
      target: '>= 25,000 events/s sustained',
      eventsPerRequest: batch.length,
      kind: 'load',
      compare: 'status',
      requests: {
        gateway: graphql(keys.ingestGateway, RECORD_MANY_MUTATION, { inputs: batch }),
        floor: post(keys.ingestFloor, '/s8', { events: batch }),
        floorChain: post(keys.ingestFloorChain, '/s8-chain', { events: batch }),
        lean: post(keys.ingestFloorChain, '/s8', { events: batch }),
      },
    },
    ...(['ndjson', 'csv'] as const).map(
      (format): Scenario => ({
        id: 'E1',
        name: `E1 ${format}`,
        title: `GET /v1/exports/events.${format}, the largest tenant's ${p.largest.events} events in one request`,
        target: 'rows/s >= 0.8x floor; memory flat',
        eventsPerRequest: p.largest.events,
        kind: 'dump',
        compare: 'status',
        dumps: {
          gateway: {
            pages: 1,
            first: get(k, `/v1/exports/events.${format}`),
            next: () => get(k, '/'),
            complete: exportEnded,
          },
          floor: { pages: 1, first: get(k, `/e1-${format}`), next: () => get(k, '/'), complete: exportEnded },
        },
      }),
    ),
  ];
}
