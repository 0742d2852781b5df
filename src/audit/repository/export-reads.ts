// Reads for filtered exports, in sequence order and keyset batches (one short transaction each),
// so an export of any length holds one batch in memory: the matching events for CSV, and for
// NDJSON the chain walk from the first matching event to the checkpoint, flagged by match.
import { and, asc, eq, gt, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import type { EventFilter } from '../filters.ts';
import type { AuditEvent } from '../model.ts';
import type { Restriction } from '../viewer.ts';
import { boundSearch, filterConditions, type SearchBound } from './event-reads.ts';
import { eventColumns, rowToEvent, t } from './event-rows.ts';
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

/** The matching events in (afterSeq, throughSeq], by sequence number. */
export async function* streamMatchingEvents(
  db: Db,
  tenantId: number,
  range: ExportRange,
): AsyncGenerator<AuditEvent[]> {
  const batchSize = range.batchSize ?? 2000;
  let after = range.afterSeq;
  for (;;) {
    const rows = await inTenant(db, tenantId, (tx) =>
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
    );
    if (rows.length > 0) yield rows.map(rowToEvent);
    if (rows.length < batchSize) return;
    after = Number(rows.at(-1)?.seq);
  }
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
  let after = first - 1;
  for (;;) {
    const rows = await inTenant(db, tenantId, (tx) =>
      boundSearch(tx, range.filter, range, () =>
        tx
          .select({ seq: t.seq, hash: t.hash, canonical: t.canonical, matches })
          .from(t)
          .where(and(eq(t.tenantId, tenantId), gt(t.seq, after), lte(t.seq, range.throughSeq)))
          .orderBy(asc(t.seq))
          .limit(batchSize),
      ),
    );
    if (rows.length > 0)
      yield rows.map((r) => ({
        seq: Number(r.seq),
        hash: Buffer.from(r.hash).toString('hex'),
        canonical: r.canonical,
        matches: r.matches === true || (r.matches as unknown) === 't',
      }));
    if (rows.length < batchSize) return;
    after = Number(rows.at(-1)?.seq);
  }
}
