// SQL for the read log (`audit_reads`): appending a batch of one tenant's records, and listing
// them newest first with keyset paging.
import { and, desc, eq, getTableColumns, gte, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { classifyDatabaseError } from '../../db/errors.ts';
import { auditReads } from '../../db/schema.ts';
import { databaseFailed, transactionEnded, transactionStarted } from '../../metrics.ts';
import { inTenant, textArray } from './transaction.ts';

export type StoredRead = typeof auditReads.$inferSelect;
export type NewRead = typeof auditReads.$inferInsert;

export type ReadFilter = {
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
  keyIds?: string[] | undefined;
  surfaces?: string[] | undefined;
  kinds?: string[] | undefined;
};

/** Where a page of reads ended: newest first, so the next page holds older records. */
export type ReadPosition = { at: Date; id: string };

const columns = Object.values(getTableColumns(auditReads));
/** `(tenant_id integer, at timestamp (3) with time zone, …)`: the table's columns, for jsonb_to_recordset. */
const recordShape = sql.raw(`(${columns.map((c) => `"${c.name}" ${c.getSQLType()}`).join(', ')})`);
const columnList = sql.raw(`(${columns.map((c) => `"${c.name}"`).join(', ')})`);
const recordColumns = sql.raw(columns.map((c) => `r."${c.name}"`).join(', '));
const keysByName = Object.entries(getTableColumns(auditReads)).map(([key, c]) => [key, c.name] as const);

/**
 * Appends one tenant's records in one statement and one round trip, whatever their number: the
 * records travel as one jsonb array, and the tenant is set for row-level security by the
 * statement itself (set_config, local to the statement's own implicit transaction, in a CTE the
 * insert reads from, so it is set before any row is checked). The statement's text is fixed, so
 * it is prepared once. `inTenant` would cost four round trips (begin, set, insert, commit) per
 * flush and tenant, which is most of a record's cost when a flush holds only a few.
 */
export async function insertReads(db: Db, tenantId: number, rows: NewRead[]): Promise<void> {
  if (rows.length === 0) return;
  const records = rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [key, name] of keysByName) out[name] = row[key as keyof NewRead] ?? null;
    return out;
  });
  transactionStarted();
  try {
    await db.execute(sql`
      with tenant as materialized (select set_config('app.tenant_id', ${String(tenantId)}, true))
      insert into ${auditReads} ${columnList}
      select ${recordColumns} from tenant, jsonb_to_recordset(${JSON.stringify(records)}::jsonb) as r${recordShape}`);
  } catch (error) {
    throw databaseFailed(classifyDatabaseError(error));
  } finally {
    transactionEnded();
  }
}

export async function listReads(
  db: Db,
  tenantId: number,
  opts: { filter: ReadFilter; after?: ReadPosition | undefined; limit: number },
): Promise<StoredRead[]> {
  const { filter, after } = opts;
  const conditions: (SQL | undefined)[] = [
    eq(auditReads.tenantId, tenantId),
    filter.since ? gte(auditReads.at, filter.since) : undefined,
    filter.until ? lt(auditReads.at, filter.until) : undefined,
    filter.keyIds ? sql`${auditReads.keyId} = any(${textArray(filter.keyIds)})` : undefined,
    filter.surfaces ? sql`${auditReads.surface} = any(${textArray(filter.surfaces)})` : undefined,
    filter.kinds ? sql`${auditReads.kind} = any(${textArray(filter.kinds)})` : undefined,
    after
      ? or(lt(auditReads.at, after.at), and(eq(auditReads.at, after.at), lt(auditReads.id, after.id)))
      : undefined,
  ];
  return inTenant(db, tenantId, (tx) =>
    tx
      .select()
      .from(auditReads)
      .where(and(...conditions))
      .orderBy(desc(auditReads.at), desc(auditReads.id))
      .limit(opts.limit),
  );
}
