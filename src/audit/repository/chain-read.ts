// Reading the chain back for verification and export, and pruning its oldest events.
import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import type { StoredLink } from '../model.ts';
import type { SignedStatement } from '../signer.ts';
import { saveCheckpoint } from './checkpoints.ts';
import { rebuildCountRollups } from './count-rollups.ts';
import { type EventRow, eventColumns, rowToEvent, t } from './event-rows.ts';
import { inTenant } from './transaction.ts';

/**
 * Every stored event of the tenant from `fromSeq` (to `toSeq`), in sequence order, in keyset
 * batches so a chain of any length is read with bounded memory. Ordered by (seq, id), so even a
 * sequence number stored twice comes back deterministically.
 */
export async function* streamChain(
  db: Db,
  tenantId: number,
  range: { fromSeq: number; toSeq?: number | undefined; batchSize?: number },
): AsyncGenerator<StoredLink> {
  const batchSize = range.batchSize ?? 5000;
  let after: { seq: number; id: string } | null = null;
  for (;;) {
    const cursor: { seq: number; id: string } | null = after;
    const rows: (EventRow & { canonical: string })[] = await inTenant(db, tenantId, (tx) =>
      tx
        .select({ ...eventColumns, canonical: t.canonical })
        .from(t)
        .where(
          and(
            eq(t.tenantId, tenantId),
            gte(t.seq, range.fromSeq),
            range.toSeq === undefined ? undefined : sql`${t.seq} <= ${range.toSeq}`,
            cursor ? sql`(${t.seq}, ${t.id}) > (${cursor.seq}, ${cursor.id}::uuid)` : undefined,
          ),
        )
        .orderBy(asc(t.seq), asc(t.id))
        .limit(batchSize),
    );
    for (const r of rows) {
      const event = rowToEvent(r);
      yield { seq: event.sequence, hash: event.hash, canonical: r.canonical, event };
    }
    if (rows.length < batchSize) return;
    const last = rows.at(-1) as EventRow;
    after = { seq: Number(last.seq), id: last.id };
  }
}

/** The stored hash of one sequence number (the link a range verification starts from). */
export async function getLinkHash(db: Db, tenantId: number, seq: number): Promise<string | null> {
  return inTenant(db, tenantId, async (tx) => {
    const rows = await tx
      .select({ hash: t.hash })
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.seq, seq)))
      .limit(2);
    return rows.length === 1 && rows[0] ? Buffer.from(rows[0].hash).toString('hex') : null;
  });
}

/**
 * Removes the events up to `throughSeq` and stores the signed anchor that lets the rest of the
 * chain verify, in one transaction. Needs the table owner: the serving role cannot delete, and
 * the append-only trigger lets a DELETE through only inside a transaction marked as a prune.
 */
export async function pruneThrough(
  tx: Tx,
  tenantId: number,
  throughSeq: number,
  anchor: SignedStatement,
): Promise<number> {
  await tx.execute(sql`select set_config('app.tenant_id', ${String(tenantId)}, true)`);
  await tx.execute(sql`select set_config('audit.pruning', 'on', true)`);
  await saveCheckpoint(tx, tenantId, { seq: 0, hash: '', checkpointSeq: 0, checkpointAt: null }, anchor);
  const deleted = await tx
    .delete(t)
    .where(and(eq(t.tenantId, tenantId), sql`${t.seq} <= ${throughSeq}`))
    .returning({ at: t.occurredAt });
  // The rollups counted what is gone: recompute the slots it occurred in, in this transaction.
  if (deleted.length > 0) {
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const { at } of deleted) {
      first = Math.min(first, at.getTime());
      last = Math.max(last, at.getTime());
    }
    await rebuildCountRollups(tx, tenantId, new Date(first), new Date(last + 1));
  }
  return deleted.length;
}

/** The newest sequence number received before `cutoff`, counting only an unbroken prefix of the chain. */
export async function lastSeqReceivedBefore(
  db: Db,
  tenantId: number,
  cutoff: Date,
): Promise<{ seq: number; hash: string } | null> {
  return inTenant(db, tenantId, async (tx) => {
    const [firstKept] = await tx
      .select({ seq: t.seq })
      .from(t)
      .where(and(eq(t.tenantId, tenantId), gte(t.receivedAt, cutoff)))
      .orderBy(asc(t.seq))
      .limit(1);
    const bound = firstKept ? sql`${t.seq} < ${Number(firstKept.seq)}` : undefined;
    const [last] = await tx
      .select({ seq: t.seq, hash: t.hash })
      .from(t)
      .where(and(eq(t.tenantId, tenantId), lt(t.receivedAt, cutoff), bound))
      .orderBy(desc(t.seq))
      .limit(1);
    return last ? { seq: Number(last.seq), hash: Buffer.from(last.hash).toString('hex') } : null;
  });
}
