// The floor's SQL (bench/floor.ts), character for character as Drizzle renders the gateway's own
// statements (src/audit/repository/, src/auth/repository.ts). test/bench-floor-sql.test.ts checks
// that the gateway still sends every one of them, so the floor cannot drift from what it measures.

const COLUMNS =
  '"id", "tenant_id", "seq", "action", "name", "title", "description", "actor_id", "actor_email", "actor_name", ' +
  '"actor_type", "actor_company", "group_id", "target_kind", "target_id", "target_name", "target_email", ' +
  '"target_company", "additional_id", "feature_name", "feature_metas", "ip_address", "occurred_at", "sent_at", ' +
  '"received_at", "metadata", "hash"';
/**
 * The columns of the bench's GraphQL selection (bench/scenarios.ts EVENT_FIELDS), as the
 * gateway's projection (src/audit/repository/event-rows.ts FIELD_COLUMNS) lists them.
 */
const GRAPHQL_COLUMNS =
  '"id", "seq", "action", "actor_id", "actor_email", "actor_name", "actor_type", "actor_company", "group_id", ' +
  '"target_kind", "target_id", "target_name", "target_email", "target_company", "ip_address", "occurred_at", ' +
  '"metadata", "hash"';
/** The same, named with their table, as Drizzle writes them in a join. */
const QUALIFIED_GRAPHQL_COLUMNS = GRAPHQL_COLUMNS.split(', ')
  .map((c) => `"audit_events".${c}`)
  .join(', ');
const BY_TIME_DESC = 'order by "audit_events"."occurred_at" desc, "audit_events"."id" desc';
const BEFORE = '("audit_events"."occurred_at", "audit_events"."id") <';
const SEARCH_DOCUMENT =
  'public.audit_search_document("audit_events"."action", "audit_events"."name", "audit_events"."title", ' +
  '"audit_events"."description", "audit_events"."actor_name", "audit_events"."actor_email", ' +
  '"audit_events"."target_name", "audit_events"."target_id", "audit_events"."metadata")';

const INSERT_COLUMNS =
  '"tenant_id", "seq", "id", "action", "name", "title", "description", "actor_id", "actor_email", "actor_name", ' +
  '"actor_type", "actor_company", "group_id", "target_kind", "target_id", "target_name", "target_email", ' +
  '"target_company", "additional_id", "feature_name", "feature_metas", "ip_address", "occurred_at", "sent_at", ' +
  '"received_at", "metadata", "idempotency_key", "request_hash", "canonical", "hash"';

/** `($1, …, $k), ($k+1, …)`: Drizzle's multi-row VALUES list. */
function valuesList(rows: number, width: number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const params = Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`);
    out.push(`(${params.join(', ')})`);
  }
  return out.join(', ');
}

export const FLOOR_SQL = {
  apiKey:
    'select "api_keys"."tenant_id", "tenants"."slug", "api_keys"."scopes", "api_keys"."secret_hash", ' +
    '"api_keys"."revoked_at", "tenants"."read_log" from "api_keys" inner join "tenants" on "tenants"."id" = "api_keys"."tenant_id" ' +
    'where "api_keys"."id" = $1',
  setTenant: "select set_config('app.tenant_id', $1, true)",
  byActionInWindow:
    `select ${GRAPHQL_COLUMNS} from "audit_events" where ("audit_events"."tenant_id" = $1 and ` +
    '"audit_events"."occurred_at" >= $2 and "audit_events"."occurred_at" < $3 and ' +
    `"audit_events"."action" = any($4::text[])) ${BY_TIME_DESC} limit $5`,
  afterCursor:
    `select ${GRAPHQL_COLUMNS} from "audit_events" where ("audit_events"."tenant_id" = $1 and ` +
    `${BEFORE} ($2::timestamptz, $3::uuid)) ${BY_TIME_DESC} limit $4`,
  /** Each id around its UUIDv7's time ($1 the ids, $2 their times, $3 the tenant; event-reads.ts getEventsByIds). */
  byIds:
    `select ${QUALIFIED_GRAPHQL_COLUMNS} from unnest($1::uuid[], $2::text[]) as "wanted"("id", "at") ` +
    'inner join "audit_events" on ("audit_events"."tenant_id" = $3 and "audit_events"."id" = "wanted"."id" and ' +
    `"audit_events"."received_at" between "wanted"."at"::timestamptz - interval '1 day' and "wanted"."at"::timestamptz + interval '1 day')`,
  catalog:
    'select "target_kind", "action", "actor_type" from "audit_catalog" where "audit_catalog"."tenant_id" = $1',
  earliest:
    'select "occurred_at" from "audit_events" where "audit_events"."tenant_id" = $1 ' +
    'order by "audit_events"."occurred_at" asc limit $2',
  latest:
    'select "occurred_at" from "audit_events" where "audit_events"."tenant_id" = $1 ' +
    'order by "audit_events"."occurred_at" desc limit $2',
  window:
    `select ${COLUMNS} from "audit_events" where ("audit_events"."tenant_id" = $1 and ` +
    `"audit_events"."occurred_at" >= $2 and "audit_events"."occurred_at" < $3) ${BY_TIME_DESC} limit $4`,
  windowAfter:
    `select ${COLUMNS} from "audit_events" where ("audit_events"."tenant_id" = $1 and ` +
    '"audit_events"."occurred_at" >= $2 and "audit_events"."occurred_at" < $3 and ' +
    `${BEFORE} ($4::timestamptz, $5::uuid)) ${BY_TIME_DESC} limit $6`,
  /** filter.search's bound: a statement timeout, and a plan made for the words at hand. */
  searchBound:
    "select set_config('statement_timeout', $1, true), set_config('plan_cache_mode', 'force_custom_plan', true)",
  search:
    `select ${GRAPHQL_COLUMNS} from "audit_events" where ("audit_events"."tenant_id" = $1 and ` +
    `${SEARCH_DOCUMENT} like public.audit_search_pattern($2)) ${BY_TIME_DESC} limit $3`,
  /** A long hexadecimal word (an id): the index is asked for its two ends, the whole is checked. */
  searchHexToken:
    `select ${GRAPHQL_COLUMNS} from "audit_events" where ("audit_events"."tenant_id" = $1 and ` +
    `${SEARCH_DOCUMENT} like public.audit_search_pattern($2) and ` +
    `${SEARCH_DOCUMENT} like public.audit_search_pattern($3) and ` +
    `strpos(${SEARCH_DOCUMENT}, public.audit_search_fold($4)) > 0) ${BY_TIME_DESC} limit $5`,
  /** Wasabi's page: the columns of its records only (src/rest/wasabi.ts WASABI_FIELDS). */
  offsetPage:
    'select "id", "seq", "action", "actor_id", "actor_email", "actor_name", "actor_type", "actor_company", ' +
    '"target_kind", "target_id", "target_name", "target_email", "target_company", "occurred_at" ' +
    'from "audit_events" where "audit_events"."tenant_id" = $1 ' +
    'order by "audit_events"."occurred_at" asc, "audit_events"."id" asc limit $2 offset $3',
  /** A whole tenant's count: its run of sequence numbers (event-reads.ts WHOLE_TENANT_COUNT). */
  count:
    'select coalesce(max("seq") - min("seq") + 1, 0) from "audit_events" where "audit_events"."tenant_id" = $1',
  maxSeq: 'select coalesce(max("seq"), 0) as "seq" from "audit_events" where "audit_events"."tenant_id" = $1',
  lockHead:
    'select "seq", "hash", "checkpoint_seq", "checkpoint_at" from "chain_heads" ' +
    'where "chain_heads"."tenant_id" = $1 for update',
  createHead:
    'insert into "chain_heads" ("tenant_id", "seq", "hash", "checkpoint_seq", "checkpoint_at") ' +
    'values ($1, $2, $3, default, default) on conflict do nothing',
  updateHead: 'update "chain_heads" set "seq" = $1, "hash" = $2 where "chain_heads"."tenant_id" = $3',
  /** E1: where a filtered export's chain walk starts, the walk in sequence order, and the CSV rows. */
  exportFirstMatch:
    'select "seq" from "audit_events" where ("audit_events"."tenant_id" = $1 and "audit_events"."seq" > $2 and ' +
    '"audit_events"."seq" <= $3) order by "audit_events"."seq" asc limit $4',
  exportWalk:
    'select "seq", "hash", "canonical", ("audit_events"."tenant_id" = $1) from "audit_events" where ' +
    '("audit_events"."tenant_id" = $2 and "audit_events"."seq" > $3 and "audit_events"."seq" <= $4) ' +
    'order by "audit_events"."seq" asc limit $5',
  exportEvents:
    `select ${COLUMNS} from "audit_events" where ("audit_events"."tenant_id" = $1 and "audit_events"."seq" > $2 and ` +
    '"audit_events"."seq" <= $3) order by "audit_events"."seq" asc limit $4',
  /** The repository's batch insert: one array per column, whatever the number of rows. */
  insertEvents:
    `insert into "audit_events" (${INSERT_COLUMNS}) select c0, c1, c2::uuid, ${Array.from({ length: 17 }, (_, i) => `c${i + 3}`).join(', ')}, ` +
    "c20::jsonb, c21, c22::timestamptz, c23::timestamptz, c24::timestamptz, c25::jsonb, c26, decode(c27, 'hex'), c28, " +
    `decode(c29, 'hex') from unnest($1::integer[], $2::bigint[], ${Array.from({ length: 28 }, (_, i) => `$${i + 3}::text[]`).join(', ')}) ` +
    `as u(${Array.from({ length: 30 }, (_, i) => `c${i}`).join(', ')})`,
  /**
   * The counts' floor (C1, C2): the plain GROUP BY over the same indexes, which is not the
   * gateway's statement (that one also ranks groups and folds the rest into "other" for any
   * query); test/bench-floor-sql.test.ts leaves these two out.
   */
  dailyHistogram:
    'select s.b, coalesce(c.n, 0) as n from (select g at time zone $5 as b from generate_series(' +
    "date_trunc('day', $2::timestamptz at time zone $5), " +
    "date_trunc('day', ($3::timestamptz - interval '1 microsecond') at time zone $5), interval '1 day') as g) as s " +
    'left join (select (date_trunc(\'day\', "occurred_at" at time zone $5) at time zone $5) as b, count(*) as n ' +
    'from "audit_events" where "tenant_id" = $1 and "occurred_at" >= $2 and "occurred_at" < $3 ' +
    'and "action" = any($4::text[]) group by 1) as c on c.b = s.b order by s.b',
  topActors:
    'select a, n, sum(n) over () as total, count(*) over () as groups from (' +
    'select coalesce("actor_id", \'\') as a, count(*) as n from "audit_events" ' +
    'where "tenant_id" = $1 and "occurred_at" >= $2 and "occurred_at" < $3 group by 1) as g ' +
    'order by n desc, a limit $4',
  insertCatalog: (rows: number) =>
    `insert into "audit_catalog" ("tenant_id", "target_kind", "action", "actor_type") values ${valuesList(rows, 4)} on conflict do nothing`,
};

/**
 * The lookup by id without the months named: what the gateway sent before time partitions, and
 * still sends for an id the first lookup missed (bench/partition-reads.ts compares the two).
 */
export const BY_IDS_ANYWHERE =
  `select ${GRAPHQL_COLUMNS} from "audit_events" where ("audit_events"."tenant_id" = $1 and ` +
  '"audit_events"."id" = any($2::uuid[]))';
