// Reading the chain back for verification and export, and pruning its oldest events.
import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import type { StoredLink } from '../model.ts';
import type { SignedStatement } from '../signer.ts';
import { saveCheckpoint } from './checkpoints.ts';
import { rebuildCountRollups } from './count-rollups.ts';
import { type EventRow, eventColumns, rowToEvent, t } from './event-rows.ts';
import type { Partition, PartitionShare } from './partitions.ts';
import { type LegalHold, lockLegalHold } from './retention.ts';
import { inTenant, setTenant } from './transaction.ts';

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

/** What a prune removed: how many events, their sequence numbers and when they were received. */
export type PrunedRange = {
  removed: number;
  fromSeq: number | null;
  throughSeq: number;
  firstReceivedAt: Date | null;
  lastReceivedAt: Date | null;
};

/**
 * Removes the events up to `throughSeq` and stores the signed anchor that lets the rest of the
 * chain verify, in one transaction, unless the tenant is on legal hold (then nothing changes and
 * the hold comes back). Needs the table owner: the serving role cannot delete, and the
 * append-only trigger lets a DELETE through only inside a transaction marked as a prune.
 *
 * The one place events are removed: retention (the job and the explicit prune) goes through it.
 * When a whole month goes (`dropping`: its partition, and the tenant's share of it), the rows in
 * that partition are left to the caller, which drops the partition in this transaction; the
 * range returned and the rebuilt count rollups already leave them out.
 */
export async function pruneThrough(
  tx: Tx,
  tenantId: number,
  throughSeq: number,
  anchor: SignedStatement,
  dropping?: { partition: Partition; share: PartitionShare },
): Promise<PrunedRange | { onHold: LegalHold }> {
  const hold = await lockLegalHold(tx, tenantId);
  if (hold) return { onHold: hold };
  await setTenant(tx, tenantId);
  await tx.execute(sql`select set_config('audit.pruning', 'on', true)`);
  await saveCheckpoint(tx, tenantId, { seq: 0, hash: '', checkpointSeq: 0, checkpointAt: null }, anchor);
  const month = dropping?.partition;
  const share = dropping?.share;
  // Dropping a month that holds every one of the tenant's events through throughSeq (each number
  // from its first to throughSeq, none older elsewhere): nothing to delete in the other months,
  // and the DELETE would still open each of their indexes (45 ms a tenant on the 10M dataset).
  const monthHoldsAll =
    share !== undefined &&
    share.throughSeq === throughSeq &&
    share.events === share.throughSeq - share.fromSeq + 1 &&
    !(await hasEventsBefore(tx, tenantId, share.fromSeq));
  if (monthHoldsAll) {
    return finishPrune(tx, tenantId, throughSeq, null, dropping);
  }
  const deleted = tx.$with('deleted').as(
    tx
      .delete(t)
      .where(
        and(
          eq(t.tenantId, tenantId),
          sql`${t.seq} <= ${throughSeq}`,
          // Pruned from the plan: the statement never touches the month being dropped.
          month
            ? sql`(${t.receivedAt} < ${month.from.toISOString()}::timestamptz or ${t.receivedAt} >= ${month.to.toISOString()}::timestamptz)`
            : undefined,
        ),
      )
      .returning({ seq: t.seq, receivedAt: t.receivedAt, occurredAt: t.occurredAt }),
  );
  const [range] = await tx
    .with(deleted)
    .select({
      removed: sql<number>`count(*)`.mapWith(Number),
      fromSeq: sql<number | null>`min(${deleted.seq})`.mapWith(Number),
      firstReceivedAt: sql<Date | null>`min(${deleted.receivedAt})`.mapWith(t.receivedAt),
      lastReceivedAt: sql<Date | null>`max(${deleted.receivedAt})`.mapWith(t.receivedAt),
      firstOccurredAt: sql<Date | null>`min(${deleted.occurredAt})`.mapWith(t.occurredAt),
      lastOccurredAt: sql<Date | null>`max(${deleted.occurredAt})`.mapWith(t.occurredAt),
    })
    .from(deleted);
  return finishPrune(tx, tenantId, throughSeq, (range?.removed ?? 0) > 0 ? (range ?? null) : null, dropping);
}

/** What a prune removed, from the rows it deleted and the month it drops; rebuilds the rollups. */
async function finishPrune(
  tx: Tx,
  tenantId: number,
  throughSeq: number,
  deleted: {
    removed: number;
    fromSeq: number | null;
    firstReceivedAt: Date | null;
    lastReceivedAt: Date | null;
    firstOccurredAt: Date | null;
    lastOccurredAt: Date | null;
  } | null,
  dropping: { partition: Partition; share: PartitionShare } | undefined,
): Promise<PrunedRange> {
  const share = dropping?.share;
  const spans = [
    ...(deleted ? [deleted] : []),
    ...(share
      ? [
          {
            fromSeq: share.fromSeq,
            firstReceivedAt: share.firstReceivedAt,
            lastReceivedAt: share.lastReceivedAt,
            firstOccurredAt: share.firstOccurredAt,
            lastOccurredAt: share.lastOccurredAt,
          },
        ]
      : []),
  ];
  const least = (ds: (Date | null)[]) => extreme(ds, -1);
  const most = (ds: (Date | null)[]) => extreme(ds, 1);
  const first = least(spans.map((s) => s.firstOccurredAt));
  const last = most(spans.map((s) => s.lastOccurredAt));
  // The rollups counted what is gone: recompute the slots it occurred in, in this transaction.
  if (first && last) {
    await rebuildCountRollups(tx, tenantId, first, new Date(last.getTime() + 1), dropping?.partition);
  }
  const fromSeqs = spans.map((s) => s.fromSeq).filter((n): n is number => n !== null);
  return {
    removed: (deleted?.removed ?? 0) + (share?.events ?? 0),
    fromSeq: fromSeqs.length > 0 ? Math.min(...fromSeqs) : null,
    throughSeq,
    firstReceivedAt: least(spans.map((s) => s.firstReceivedAt)),
    lastReceivedAt: most(spans.map((s) => s.lastReceivedAt)),
  };
}

/** Whether the tenant has a stored event numbered below `seq`. */
async function hasEventsBefore(tx: Tx, tenantId: number, seq: number): Promise<boolean> {
  const [row] = await tx
    .select({ seq: t.seq })
    .from(t)
    .where(and(eq(t.tenantId, tenantId), lt(t.seq, seq)))
    .limit(1);
  return row !== undefined;
}

/** The earliest (sign -1) or latest (sign 1) of the dates given, null when none is. */
function extreme(dates: (Date | null)[], sign: -1 | 1): Date | null {
  let pick: Date | null = null;
  for (const d of dates) if (d && (!pick || sign * (d.getTime() - pick.getTime()) > 0)) pick = d;
  return pick;
}

/** The newest sequence number received before `cutoff`, counting only an unbroken prefix of the chain. */
export async function lastSeqReceivedBefore(
  db: Db,
  tenantId: number,
  cutoff: Date,
): Promise<{ seq: number; hash: string } | null> {
  return inTenant(db, tenantId, (tx) => lastSeqReceivedBeforeIn(tx, tenantId, cutoff));
}

/** `lastSeqReceivedBefore` in a transaction the tenant is set in. */
export async function lastSeqReceivedBeforeIn(
  tx: Tx,
  tenantId: number,
  cutoff: Date,
): Promise<{ seq: number; hash: string } | null> {
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
}

/**
 * `lastSeqReceivedBeforeIn` for many tenants in one transaction, one after another: each
 * statement is planned once for all of them (generic plans), where a connection of its own per
 * tenant would plan each statement again, over every partition (50 ms a plan with 20 months).
 */
export async function lastSeqsReceivedBefore(
  tx: Tx,
  wanted: { tenantId: number; cutoff: Date }[],
): Promise<({ seq: number; hash: string } | null)[]> {
  await preferGenericPlans(tx);
  const found = [];
  for (const { tenantId, cutoff } of wanted) {
    await setTenant(tx, tenantId);
    found.push(await lastSeqReceivedBeforeIn(tx, tenantId, cutoff));
  }
  return found;
}

/**
 * Plans each statement of the transaction once for any parameters, as serving sessions do
 * (db/client.ts servingSession): for work that repeats a statement per tenant on the partitioned
 * table, whose custom plans cost more to make than to run.
 */
export async function preferGenericPlans(tx: Tx): Promise<void> {
  await tx.execute(sql`select set_config('plan_cache_mode', 'force_generic_plan', true)`);
}
