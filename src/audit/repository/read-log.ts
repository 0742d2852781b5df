// SQL for the read log (`audit_reads`): appending a batch of one tenant's records, and listing
// them newest first with keyset paging.
import { and, desc, eq, gte, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { auditReads } from '../../db/schema.ts';
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

/** Appends one tenant's records in one statement. */
export async function insertReads(db: Db, tenantId: number, rows: NewRead[]): Promise<void> {
  if (rows.length === 0) return;
  await inTenant(db, tenantId, (tx) => tx.insert(auditReads).values(rows));
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
