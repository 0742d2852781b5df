// Reading events: keyset and offset pages, counts, batch lookups by id, the catalog.
import { and, asc, desc, eq, gt, gte, lt, lte, type SQL, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { isQueryCanceled } from '../../db/errors.ts';
import { auditCatalog, chainHeads } from '../../db/schema.ts';
import { ValidationError } from '../../errors.ts';
import type { EventFilter, ListFilterName } from '../filters.ts';
import {
  type AuditEvent,
  type CatalogEntry,
  type Direction,
  type EventOrder,
  isUuid,
  type OrderField,
  type Position,
} from '../model.ts';
import type { Restriction } from '../viewer.ts';
import { type EventRow, eventColumns, type Projection, rowToEvent, t } from './event-rows.ts';
import { inTenant, readInTenant, textArray } from './transaction.ts';

/** SQL for the value an order sorts by; absent values sort as the empty string. */
function sortExpression(field: OrderField): SQL | null {
  switch (field) {
    case 'occurredAt':
      return null;
    case 'action':
      return sql`${t.action}`;
    case 'actor':
      return sql`coalesce(${t.actorId}, '')`;
    case 'targetKind':
      return sql`coalesce(${t.targetKind}, '')`;
    case 'group':
      return sql`coalesce(${t.groupId}, '')`;
  }
}

/**
 * The SQL each list filter compares (src/audit/filters.ts describes them); a restriction narrows
 * by the same expressions. The coalesce() forms match the expression indexes that also serve
 * ordering.
 */
export const FILTER_SQL: Record<ListFilterName, SQL> = {
  actions: sql`${t.action}`,
  actorIds: sql`coalesce(${t.actorId}, '')`,
  targetKinds: sql`coalesce(${t.targetKind}, '')`,
  groupIds: sql`coalesce(${t.groupId}, '')`,
  actorEmails: sql`${t.actorEmail}`,
  targetIds: sql`${t.targetId}`,
  ipAddresses: sql`${t.ipAddress}`,
};

/** What filter.search looks in: the expression migration 0003 indexes, argument for argument. */
const SEARCH_DOCUMENT = sql`public.audit_search_document(${t.action}, ${t.name}, ${t.title}, ${t.description}, ${t.actorName}, ${t.actorEmail}, ${t.targetName}, ${t.targetId}, ${t.metadata})`;

/**
 * A long hexadecimal token (a request id, a UUID, a hash): digits and at least one letter, so that
 * numbers, phone numbers and dates (whose ends are shared by many) are searched as before; ASCII,
 * so that folding only lowercases it. Random enough that its first and last few characters find
 * it among millions of events.
 */
const HEX_TOKEN = /^(?=(?:[^0-9]*[0-9]){4})(?=.*[A-Fa-f])[0-9A-Fa-f-]{13,}$/;
/** The characters at each end of a HEX_TOKEN that the trigram index is asked for. */
const HEX_WINDOW = 6;

/**
 * One search word's conditions. The index reads one posting list per trigram of a pattern, and a
 * hexadecimal id's trigrams are each common (16 characters, 14 trigrams, all of them in
 * thousands of other ids), so for such a word the index is asked for its two ends (8 trigrams,
 * about a third of the index work on the 10M dataset: 4.3 ms instead of 12.5–13) and the few events it returns are checked for
 * the whole word by `strpos` on the same folded document: the same matches as the plain LIKE.
 */
function searchConditions(word: string): SQL[] {
  const ends = hexTokenEnds(word);
  if (!ends) return [sql`${SEARCH_DOCUMENT} like public.audit_search_pattern(${word})`];
  return [
    sql`${SEARCH_DOCUMENT} like public.audit_search_pattern(${ends[0]})`,
    sql`${SEARCH_DOCUMENT} like public.audit_search_pattern(${ends[1]})`,
    sql`strpos(${SEARCH_DOCUMENT}, public.audit_search_fold(${word})) > 0`,
  ];
}

/** The two ends the index is asked for when `word` is a HEX_TOKEN; null for any other word. */
export function hexTokenEnds(word: string): [string, string] | null {
  return HEX_TOKEN.test(word) ? [word.slice(0, HEX_WINDOW), word.slice(-HEX_WINDOW)] : null;
}

export function filterConditions(tenantId: number, f: EventFilter, restriction?: Restriction): SQL[] {
  const where: SQL[] = [eq(t.tenantId, tenantId)];
  if (f.since) where.push(gte(t.occurredAt, f.since));
  if (f.until) where.push(lt(t.occurredAt, f.until));
  for (const [name, column] of Object.entries(FILTER_SQL) as [ListFilterName, SQL][]) {
    const values = f[name];
    if (values?.length) where.push(sql`${column} = any(${textArray(values)})`);
  }
  // Validated: words joined by single spaces, each with a run the trigram index can use.
  for (const word of f.search?.split(' ') ?? []) where.push(...searchConditions(word));
  if (restriction) where.push(...restrictionConditions(restriction));
  return where;
}

/** How long a statement with filter.search may run before it is cancelled. */
export type SearchBound = { searchTimeoutMs: number };

/**
 * Runs a read in the tenant's transaction; with filter.search, under a statement timeout, and
 * planned for its own words: a prepared statement's generic plan cannot tell a rare word (use the
 * trigram index) from a common one (walk the time index and stop at the page's end).
 */
export function readTenant<T>(
  db: Db,
  tenantId: number,
  filter: EventFilter,
  bound: SearchBound,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  return readInTenant(db, tenantId, (tx) => boundSearch(tx, filter, bound, () => fn(tx)));
}

/** Runs `fn` in `tx`; with filter.search, stopped after the search timeout with an error on it. */
export async function boundSearch<T>(
  tx: Tx,
  filter: EventFilter,
  bound: SearchBound,
  fn: () => Promise<T>,
): Promise<T> {
  if (!filter.search) return fn();
  await tx.execute(
    sql`select set_config('statement_timeout', ${String(bound.searchTimeoutMs)}, true), set_config('plan_cache_mode', 'force_custom_plan', true)`,
  );
  try {
    return await fn();
  } catch (error) {
    if (!isQueryCanceled(error)) throw error;
    throw new ValidationError(
      'filter.search',
      `matches too much to answer within ${bound.searchTimeoutMs / 1000} s; add a rarer word or a shorter time window`,
    );
  }
}

/** The fields a restriction can narrow by, in the order their conditions are written. */
const RESTRICTED_FIELDS = [
  'actions',
  'actorIds',
  'targetIds',
  'groupIds',
] as const satisfies readonly (keyof Restriction & ListFilterName)[];

/**
 * A viewer's slice, ANDed into every read. Unlike a filter, where an empty list means "no
 * condition", an empty list here matches nothing: a restriction can only take events away.
 */
function restrictionConditions(r: Restriction): SQL[] {
  const where: SQL[] = [];
  for (const name of RESTRICTED_FIELDS) {
    const values = r[name];
    if (!values) continue;
    where.push(values.length === 0 ? sql`false` : sql`${FILTER_SQL[name]} = any(${textArray([...values])})`);
  }
  return where;
}

export type ListQuery = SearchBound & {
  filter: EventFilter;
  /** The viewer's slice of the tenant, ANDed with the filter. */
  restriction?: Restriction | undefined;
  order: EventOrder;
  /** Rows strictly after this position in the scan direction. */
  after?: Position | undefined;
  /** And strictly before this one. */
  until?: Position | undefined;
  /** Scan against the order (for `last`/`before`); rows come back in scan order. */
  reverse?: boolean;
  limit: number;
  /** Read only these fields' columns; every column when absent. */
  projection?: Projection | undefined;
};

/** One keyset page. Ordered by (sort key, occurredAt, id), all in the same direction. */
export async function listEvents(db: Db, tenantId: number, q: ListQuery): Promise<AuditEvent[]> {
  return readTenant(db, tenantId, q.filter, q, (tx) => selectPage(tx, tenantId, q));
}

/**
 * A keyset page and the tenant's head sequence number read in the same snapshot (one REPEATABLE
 * READ transaction): every event of sequence up to `headSeq` was visible to the page's query and
 * none after it, which is what lets a live tail continue the page with no gap and no duplicate.
 */
export async function listEventsWithHead(
  db: Db,
  tenantId: number,
  q: ListQuery,
): Promise<{ events: AuditEvent[]; headSeq: number }> {
  return inTenant(
    db,
    tenantId,
    (tx) =>
      boundSearch(tx, q.filter, q, async () => {
        const events = await selectPage(tx, tenantId, q);
        return { events, headSeq: await selectHeadSeq(tx, tenantId) };
      }),
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

async function selectPage(tx: Tx, tenantId: number, q: ListQuery): Promise<AuditEvent[]> {
  const rows = await tx
    .select(q.projection?.columns ?? eventColumns)
    .from(t)
    .where(and(...filterConditions(tenantId, q.filter, q.restriction), ...keysetCondition(q)))
    .orderBy(...orderTerms(q.order, q.reverse ?? false))
    .limit(q.limit);
  return rows.map(q.projection ? q.projection.toEvent : (r) => rowToEvent(r as EventRow));
}

async function selectHeadSeq(tx: Tx, tenantId: number): Promise<number> {
  const [head] = await tx
    .select({ seq: chainHeads.seq })
    .from(chainHeads)
    .where(eq(chainHeads.tenantId, tenantId));
  return Number(head?.seq ?? 0);
}

/** The tenant's newest committed sequence number (0 before its first event). */
export async function getHeadSequence(db: Db, tenantId: number): Promise<number> {
  return inTenant(db, tenantId, (tx) => selectHeadSeq(tx, tenantId));
}

/**
 * Events with a sequence number in (afterSeq, throughSeq], in sequence (commit) order, at most
 * `limit`, narrowed by a filter and restriction when given. Sequence numbers are assigned under
 * the chain head's row lock and become visible in order, so a read by sequence never skips one
 * that commits later.
 */
export async function listEventsBySequence(
  db: Db,
  tenantId: number,
  q: {
    afterSeq: number;
    throughSeq?: number | undefined;
    filter?: EventFilter | undefined;
    restriction?: Restriction | undefined;
    limit: number;
  },
): Promise<AuditEvent[]> {
  return inTenant(db, tenantId, async (tx) => {
    const rows = await tx
      .select(eventColumns)
      .from(t)
      .where(
        and(
          ...filterConditions(tenantId, q.filter ?? {}, q.restriction),
          gt(t.seq, q.afterSeq),
          ...(q.throughSeq === undefined ? [] : [lte(t.seq, q.throughSeq)]),
        ),
      )
      .orderBy(asc(t.seq))
      .limit(q.limit);
    return rows.map(rowToEvent);
  });
}

function scanDirection(order: EventOrder, reverse: boolean): Direction {
  return reverse ? (order.direction === 'asc' ? 'desc' : 'asc') : order.direction;
}

function orderTerms(order: EventOrder, reverse: boolean): SQL[] {
  const dir = scanDirection(order, reverse);
  const by = dir === 'asc' ? asc : desc;
  const key = sortExpression(order.field);
  return [...(key ? [sql`${key} ${sql.raw(dir)}`] : []), by(t.occurredAt), by(t.id)];
}

function keysetCondition(q: ListQuery): SQL[] {
  const ascending = scanDirection(q.order, q.reverse ?? false) === 'asc';
  return [
    ...(q.after ? [beyond(q.order.field, q.after, ascending ? '>' : '<')] : []),
    ...(q.until ? [beyond(q.order.field, q.until, ascending ? '<' : '>')] : []),
  ];
}

/** Row comparison on (sort key, occurredAt, id): one index range, whatever the order. */
function beyond(field: OrderField, p: Position, op: '<' | '>'): SQL {
  const at = sql`${p.at.toISOString()}::timestamptz`;
  const id = sql`${p.id}::uuid`;
  const key = sortExpression(field);
  if (!key) return sql`(${t.occurredAt}, ${t.id}) ${sql.raw(op)} (${at}, ${id})`;
  return sql`(${key}, ${t.occurredAt}, ${t.id}) ${sql.raw(op)} (${p.key ?? ''}::text, ${at}, ${id})`;
}

/** Page by OFFSET, for the one dialect (Wasabi) whose contract is page numbers. */
export async function listEventsByOffset(
  db: Db,
  tenantId: number,
  q: SearchBound & {
    filter: EventFilter;
    restriction?: Restriction | undefined;
    order: EventOrder;
    offset: number;
    limit: number;
    /** Only these fields' columns; every column when absent. */
    projection?: Projection | undefined;
  },
): Promise<AuditEvent[]> {
  return readTenant(db, tenantId, q.filter, q, async (tx) => {
    const rows = await tx
      .select(q.projection?.columns ?? eventColumns)
      .from(t)
      .where(and(...filterConditions(tenantId, q.filter, q.restriction)))
      .orderBy(...orderTerms(q.order, false))
      .limit(q.limit)
      .offset(q.offset);
    return rows.map(q.projection ? q.projection.toEvent : (r) => rowToEvent(r as EventRow));
  });
}

export async function countEvents(
  db: Db,
  tenantId: number,
  filter: EventFilter,
  restriction: Restriction | undefined,
  bound: SearchBound,
): Promise<number> {
  const where = filterConditions(tenantId, filter, restriction);
  return readTenant(db, tenantId, filter, bound, async (tx) => {
    const [row] = await tx
      .select({ n: where.length === 1 ? WHOLE_TENANT_COUNT : sql<string>`count(*)` })
      .from(t)
      .where(and(...where));
    return Number(row?.n ?? 0);
  });
}

/**
 * Every event of a tenant, counted exactly from two probes of the (tenant, seq) index instead of
 * a scan (122 ms on a 165k-event tenant): a tenant's stored events are always one run of sequence
 * numbers. Appends are gap-free under the head lock, the append-only trigger refuses every DELETE
 * but a prune's, and a prune removes a prefix (seq <= n, chain-read.ts pruneThrough). Rows removed
 * any other way are tampering, which verification reports.
 */
const WHOLE_TENANT_COUNT = sql<string>`coalesce(max(${t.seq}) - min(${t.seq}) + 1, 0)`;

/**
 * How far from the time in its UUIDv7 an event's received_at may lie and still be found by the
 * first lookup below. The gateway makes both at the same instant; a day covers any clock step.
 */
const ID_TIME_SLACK = sql.raw(`interval '1 day'`);

/** The instant a UUIDv7 carries: its first 48 bits, milliseconds since the epoch. */
export function uuidTime(id: string): string {
  return new Date(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toISOString();
}

/**
 * Batch lookup for DataLoader: same length and order as `ids`, null where absent or outside
 * `restriction`.
 *
 * Each id is looked for only around the time its UUIDv7 carries, when the gateway received it: on
 * the partitioned table (drizzle/0008) Postgres then reads one month's key per id (the others are
 * pruned as it runs) instead of every month's, 0.55 ms for 50 ids as on one table, against 1.5 ms.
 * An id the first lookup misses (absent, outside the slice, or an event whose id does not carry
 * its receipt time) is looked for again everywhere, so nothing stored is missed.
 */
export async function getEventsByIds(
  db: Db,
  tenantId: number,
  ids: readonly string[],
  restriction?: Restriction,
  projection?: Projection,
): Promise<(AuditEvent | null)[]> {
  const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  if (wanted.length === 0) return ids.map(() => null);
  const columns = projection?.columns ?? eventColumns;
  const slice = restriction ? restrictionConditions(restriction) : [];
  const rows = await readInTenant(db, tenantId, async (tx) => {
    const near = await tx
      .select(columns)
      .from(
        // The times travel as text: Drizzle turns off postgres.js's serializer for timestamptz[].
        sql`unnest(${sql.param(wanted)}::uuid[], ${sql.param(wanted.map(uuidTime))}::text[]) as "wanted"("id", "at")`,
      )
      .innerJoin(
        t,
        and(
          eq(t.tenantId, tenantId),
          sql`${t.id} = "wanted"."id"`,
          sql`${t.receivedAt} between "wanted"."at"::timestamptz - ${ID_TIME_SLACK} and "wanted"."at"::timestamptz + ${ID_TIME_SLACK}`,
          ...slice,
        ),
      );
    const found = new Set(near.map((r) => r.id));
    const missed = wanted.filter((id) => !found.has(id));
    if (missed.length === 0) return near;
    const rest = await tx
      .select(columns)
      .from(t)
      .where(and(eq(t.tenantId, tenantId), sql`${t.id} = any(${sql.param(missed)}::uuid[])`, ...slice));
    return [...near, ...rest];
  });
  const toEvent = projection ? projection.toEvent : (r: Partial<EventRow>) => rowToEvent(r as EventRow);
  const byId = new Map(rows.map((r) => [r.id, toEvent(r)]));
  return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
}

/**
 * What a tenant's events hold, for filter pickers. The whole tenant reads the catalog table that
 * ingest keeps; a restricted slice is computed from its own events (the catalog would name
 * actions and kinds outside it).
 */
export async function getCatalog(
  db: Db,
  tenantId: number,
  restriction?: Restriction,
): Promise<{ entries: CatalogEntry[]; earliest: Date | null; latest: Date | null }> {
  return readInTenant(db, tenantId, async (tx) => {
    const within = and(eq(t.tenantId, tenantId), ...(restriction ? restrictionConditions(restriction) : []));
    const entries = restriction
      ? await tx
          .selectDistinct({
            targetKind: sql<string>`coalesce(${t.targetKind}, '')`,
            action: t.action,
            actorType: sql<string>`coalesce(${t.actorType}, '')`,
          })
          .from(t)
          .where(within)
      : await tx
          .select({
            targetKind: auditCatalog.targetKind,
            action: auditCatalog.action,
            actorType: auditCatalog.actorType,
          })
          .from(auditCatalog)
          .where(eq(auditCatalog.tenantId, tenantId));
    // Two index probes on (tenant_id, occurred_at), not a scan.
    const [first] = await tx
      .select({ at: t.occurredAt })
      .from(t)
      .where(within)
      .orderBy(asc(t.occurredAt))
      .limit(1);
    const [last] = await tx
      .select({ at: t.occurredAt })
      .from(t)
      .where(within)
      .orderBy(desc(t.occurredAt))
      .limit(1);
    return { entries, earliest: first?.at ?? null, latest: last?.at ?? null };
  });
}
