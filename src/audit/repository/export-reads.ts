// Reads for filtered exports, in sequence order and keyset batches (one short transaction each),
// so an export of any length holds one batch in memory: the matching events for CSV, and for
// NDJSON the chain walk from the first matching event to the checkpoint, flagged by match.
import { and, asc, eq, gt, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import type { EventFilter } from '../filters.ts';
import type { AuditEvent } from '../model.ts';
import type { Restriction } from '../viewer.ts';
import { boundSearch, filterConditions, type SearchBound } from './event-reads.ts';
import { eventColumns, hexOf, rowToEvent, t } from './event-rows.ts';
import { inTenant } from './transaction.ts';

export type ExportRange = SearchBound & {
  filter: EventFilter;
  restriction?: Restriction | undefined;
  /** Strictly after this sequence number. */
  afterSeq: number;
  /** Up to and including this one. */
  throughSeq: number;
  batchSize?: number | undefined;
};

/**
 * The keyset loop both export reads share: `read(after)` returns up to `batchSize` rows in
 * sequence order after `after`, each read its own short transaction; the next is read only when
 * the caller asks for it, so a reader that stops pulling stops the reads. (Reading one batch
 * ahead while the last is handled was tried: no throughput the bench could tell from noise, and
 * two batches held instead of one; bench E1.)
 */
async function* keysetBatches<R extends { seq: unknown }>(
  after: number,
  batchSize: number,
  read: (after: number) => Promise<R[]>,
): AsyncGenerator<R[]> {
  let from: number | null = after;
  while (from !== null) {
    const rows: R[] = await read(from);
    from = rows.length < batchSize ? null : Number(rows.at(-1)?.seq);
    if (rows.length > 0) yield rows;
  }
}

/** The matching events in (afterSeq, throughSeq], by sequence number. */
export async function* streamMatchingEvents(
  db: Db,
  tenantId: number,
  range: ExportRange,
): AsyncGenerator<AuditEvent[]> {
  const batchSize = range.batchSize ?? 2000;
  const batches = keysetBatches(range.afterSeq, batchSize, (after) =>
    inTenant(db, tenantId, (tx) =>
      boundSearch(tx, range.filter, range, () =>
        tx
          .select(eventColumns)
          .from(t)
          .where(
            and(
              ...filterConditions(tenantId, range.filter, range.restriction),
              gt(t.seq, after),
              lte(t.seq, range.throughSeq),
            ),
          )
          .orderBy(asc(t.seq))
          .limit(batchSize),
      ),
    ),
  );
  for await (const rows of batches) yield rows.map(rowToEvent);
}

export type WalkedLink = { seq: number; hash: string; canonical: string; matches: boolean };

/**
 * Every stored link from the first matching event after `afterSeq` through `throughSeq`, each
 * flagged with whether it matches the filter and restriction: what an export needs to check that
 * each event it exports reaches the checkpoint through unbroken links.
 */
export async function* walkFromFirstMatch(
  db: Db,
  tenantId: number,
  range: ExportRange,
): AsyncGenerator<WalkedLink[]> {
  const batchSize = range.batchSize ?? 2000;
  const conditions = filterConditions(tenantId, range.filter, range.restriction);
  const first = await inTenant(db, tenantId, (tx) =>
    boundSearch(tx, range.filter, range, async () => {
      const [row] = await tx
        .select({ seq: t.seq })
        .from(t)
        .where(and(...conditions, gt(t.seq, range.afterSeq), lte(t.seq, range.throughSeq)))
        .orderBy(asc(t.seq))
        .limit(1);
      return row ? Number(row.seq) : null;
    }),
  );
  if (first === null) return;
  const matches = sql<boolean>`(${and(...conditions)})`;
  const batches = keysetBatches(first - 1, batchSize, (after) =>
    inTenant(db, tenantId, (tx) =>
      boundSearch(tx, range.filter, range, () =>
        tx
          .select({ seq: t.seq, hash: t.hash, canonical: t.canonical, matches })
          .from(t)
          .where(and(eq(t.tenantId, tenantId), gt(t.seq, after), lte(t.seq, range.throughSeq)))
          .orderBy(asc(t.seq))
          .limit(batchSize),
      ),
    ),
  );
  for await (const rows of batches)
    yield rows.map((r) => ({
      seq: Number(r.seq),
      hash: hexOf(r.hash),
      canonical: r.canonical,
      matches: r.matches === true || (r.matches as unknown) === 't',
    }));
}
