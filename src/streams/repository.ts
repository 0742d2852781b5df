// SQL for log streams: the destinations a tenant configured, the events due to each, and the
// leases that let exactly one gateway instance deliver a stream at a time. Stream rows are read in
// the tenant's row-level-security context; the lease table (ids and times only) is read across
// tenants by the delivery worker.
import { and, asc, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { AuditEvent } from '../audit/model.ts';

export { getChainHead } from '../audit/repository/chain-heads.ts';

import { readHead } from '../audit/repository/chain-heads.ts';

import { rowToEvent } from '../audit/repository/event-rows.ts';
import { inTenant } from '../audit/repository/transaction.ts';
import type { Db, Tx } from '../db/client.ts';
import { auditEvents, logStreamLeases, logStreams, tenants } from '../db/schema.ts';

export type StreamKind = 'webhook' | 'nats';

/** A stream as the API shows it: everything but the secret. */
export type LogStreamRow = {
  tenantId: number;
  id: string;
  name: string;
  kind: StreamKind;
  config: Record<string, unknown>;
  actions: string[] | null;
  position: number;
  lastDeliveredSeq: number | null;
  lastDeliveredAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  failures: number;
  paused: boolean;
  createdAt: Date;
  /** The tenant's newest sequence number, read with the row (for the lag). */
  headSeq: number;
  nextAttemptAt: Date | null;
};

/** What the worker needs to deliver a stream, secret included. Never leaves the worker. */
export type StreamForDelivery = Omit<LogStreamRow, 'headSeq' | 'nextAttemptAt'> & {
  secret: string | null;
  tenantSlug: string;
};

const publicColumns = {
  tenantId: logStreams.tenantId,
  id: logStreams.id,
  name: logStreams.name,
  kind: logStreams.kind,
  config: logStreams.config,
  actions: logStreams.actions,
  position: logStreams.position,
  lastDeliveredSeq: logStreams.lastDeliveredSeq,
  lastDeliveredAt: logStreams.lastDeliveredAt,
  lastError: logStreams.lastError,
  lastErrorAt: logStreams.lastErrorAt,
  failures: logStreams.failures,
  paused: logStreams.paused,
  createdAt: logStreams.createdAt,
};

export type NewLogStream = {
  id: string;
  name: string;
  kind: StreamKind;
  config: Record<string, unknown>;
  secret: string | null;
  actions: string[] | null;
  /** Delivery starts after this sequence number (0: the whole history). */
  position: number;
};

export async function insertLogStream(db: Db, tenantId: number, stream: NewLogStream): Promise<void> {
  await inTenant(db, tenantId, async (tx) => {
    await tx.insert(logStreams).values({ tenantId, ...stream });
    await tx.insert(logStreamLeases).values({ tenantId, streamId: stream.id });
  });
}

/** The tenant's streams (all of them, or those with the given ids), oldest first, without secrets. */
export async function listLogStreams(db: Db, tenantId: number, ids?: string[]): Promise<LogStreamRow[]> {
  return inTenant(db, tenantId, async (tx) => {
    const headSeq = (await readHead(tx, tenantId))?.seq ?? 0;
    const rows = await tx
      .select({ ...publicColumns, nextAttemptAt: logStreamLeases.nextAttemptAt })
      .from(logStreams)
      .leftJoin(
        logStreamLeases,
        and(eq(logStreamLeases.tenantId, logStreams.tenantId), eq(logStreamLeases.streamId, logStreams.id)),
      )
      .where(and(eq(logStreams.tenantId, tenantId), ids ? inArray(logStreams.id, ids) : undefined))
      .orderBy(asc(logStreams.createdAt), asc(logStreams.id));
    return rows.map((r) => ({
      ...r,
      kind: r.kind as StreamKind,
      position: Number(r.position),
      lastDeliveredSeq: r.lastDeliveredSeq === null ? null : Number(r.lastDeliveredSeq),
      headSeq,
    }));
  });
}

export async function deleteLogStream(db: Db, tenantId: number, id: string): Promise<boolean> {
  return inTenant(db, tenantId, async (tx) => {
    const deleted = await tx
      .delete(logStreams)
      .where(and(eq(logStreams.tenantId, tenantId), eq(logStreams.id, id)))
      .returning({ id: logStreams.id });
    await tx
      .delete(logStreamLeases)
      .where(and(eq(logStreamLeases.tenantId, tenantId), eq(logStreamLeases.streamId, id)));
    return deleted.length > 0;
  });
}

export async function setLogStreamPaused(
  db: Db,
  tenantId: number,
  id: string,
  paused: boolean,
): Promise<boolean> {
  return inTenant(db, tenantId, async (tx) => {
    const updated = await tx
      .update(logStreams)
      .set({ paused })
      .where(and(eq(logStreams.tenantId, tenantId), eq(logStreams.id, id)))
      .returning({ id: logStreams.id });
    // A paused stream is not looked at for an hour (the worker also checks the flag); resuming
    // retries at once rather than after the last backoff.
    await tx
      .update(logStreamLeases)
      .set({ nextAttemptAt: paused ? sql`now() + interval '1 hour'` : sql`now()` })
      .where(and(eq(logStreamLeases.tenantId, tenantId), eq(logStreamLeases.streamId, id)));
    return updated.length > 0;
  });
}

export type StreamRef = { tenantId: number; streamId: string };

/** Streams of any tenant whose next attempt is due and that no other live instance holds. */
export async function findDueStreams(db: Db, holder: string, limit: number): Promise<StreamRef[]> {
  const l = logStreamLeases;
  return db
    .select({ tenantId: l.tenantId, streamId: l.streamId })
    .from(l)
    .where(
      and(
        lte(l.nextAttemptAt, sql`now()`),
        or(isNull(l.holder), eq(l.holder, holder), lt(l.leaseExpiresAt, sql`now()`)),
      ),
    )
    .orderBy(asc(l.nextAttemptAt))
    .limit(limit);
}

/**
 * Takes (or renews) the stream's lease for `leaseMs`, if it is free, expired or already ours.
 * One UPDATE: two instances racing for the same row are serialized by its row lock, and the
 * second sees the first's holder and gets nothing. Moving a past due time to now sends the stream
 * to the back of the queue, so with more due streams than one poll takes, each gets its turn
 * (a later due time, a backoff or a pause, is kept).
 */
export async function claimLease(db: Db, ref: StreamRef, holder: string, leaseMs: number): Promise<boolean> {
  const l = logStreamLeases;
  const rows = await db
    .update(l)
    .set({
      holder,
      leaseExpiresAt: sql`now() + ${leaseMs} * interval '1 millisecond'`,
      nextAttemptAt: sql`greatest(${l.nextAttemptAt}, now())`,
    })
    .where(
      and(
        eq(l.tenantId, ref.tenantId),
        eq(l.streamId, ref.streamId),
        or(isNull(l.holder), eq(l.holder, holder), lt(l.leaseExpiresAt, sql`now()`)),
      ),
    )
    .returning({ streamId: l.streamId });
  return rows.length > 0;
}

/** Gives back every lease this instance holds (on shutdown), so another instance takes over at once. */
export async function releaseLeases(db: Db, holder: string): Promise<void> {
  await db
    .update(logStreamLeases)
    .set({ holder: null, leaseExpiresAt: null })
    .where(eq(logStreamLeases.holder, holder));
}

export type PendingBatch = {
  stream: StreamForDelivery;
  /** Matching events after the stream's position, in sequence order. */
  events: AuditEvent[];
  /**
   * How far this read looked: the position to store once `events` are delivered. Past the last
   * event when the filter skipped the ones after it, never past the tenant's head as read here.
   */
  scannedThrough: number;
};

/**
 * The next batch for a stream: its row and up to `limit` matching events with a sequence number
 * above its position. Sequence numbers are assigned under the chain head's row lock and become
 * visible in order, so bounding the scan by the head read first leaves no gap behind it.
 */
export async function readPendingBatch(db: Db, ref: StreamRef, limit: number): Promise<PendingBatch | null> {
  return inTenant(db, ref.tenantId, async (tx) => {
    const [row] = await tx
      .select({ ...publicColumns, secret: logStreams.secret, tenantSlug: tenants.slug })
      .from(logStreams)
      .innerJoin(tenants, eq(tenants.id, logStreams.tenantId))
      .where(and(eq(logStreams.tenantId, ref.tenantId), eq(logStreams.id, ref.streamId)));
    if (!row) return null;
    const stream: StreamForDelivery = {
      ...row,
      kind: row.kind as StreamKind,
      position: Number(row.position),
      lastDeliveredSeq: row.lastDeliveredSeq === null ? null : Number(row.lastDeliveredSeq),
    };
    const headSeq = (await readHead(tx, ref.tenantId))?.seq ?? 0;
    if (headSeq <= stream.position) return { stream, events: [], scannedThrough: stream.position };
    const e = auditEvents;
    const rows = await tx
      .select()
      .from(e)
      .where(
        and(
          eq(e.tenantId, ref.tenantId),
          gt(e.seq, stream.position),
          lte(e.seq, headSeq),
          stream.actions ? inArray(e.action, stream.actions) : undefined,
        ),
      )
      .orderBy(asc(e.seq))
      .limit(limit);
    const events = rows.map(rowToEvent);
    const scannedThrough = events.length < limit ? headSeq : (events.at(-1)?.sequence ?? headSeq);
    return { stream, events, scannedThrough };
  });
}

/**
 * Stores a delivered batch: the position moves from `from` to `to`, only while this instance
 * still holds the lease and nobody else moved the position, so positions only ever advance and
 * a delivery that lost its lease cannot overwrite the new holder's progress.
 */
export async function recordDelivered(
  db: Db,
  ref: StreamRef,
  holder: string,
  delivery: { from: number; to: number; lastDeliveredSeq: number | null },
): Promise<boolean> {
  return inTenant(db, ref.tenantId, async (tx) => {
    if (!(await stillHeld(tx, ref, holder))) return false;
    const updated = await tx
      .update(logStreams)
      .set({
        position: delivery.to,
        failures: 0,
        ...(delivery.lastDeliveredSeq === null
          ? {}
          : { lastDeliveredSeq: delivery.lastDeliveredSeq, lastDeliveredAt: sql`now()` }),
      })
      .where(
        and(
          eq(logStreams.tenantId, ref.tenantId),
          eq(logStreams.id, ref.streamId),
          eq(logStreams.position, delivery.from),
        ),
      )
      .returning({ id: logStreams.id });
    return updated.length > 0;
  });
}

/** Stores a failed attempt and when to try again. */
export async function recordFailure(
  db: Db,
  ref: StreamRef,
  holder: string,
  failure: { error: string; retryInMs: number },
): Promise<void> {
  await inTenant(db, ref.tenantId, async (tx) => {
    if (!(await stillHeld(tx, ref, holder))) return;
    await tx
      .update(logStreams)
      .set({ lastError: failure.error, lastErrorAt: sql`now()`, failures: sql`${logStreams.failures} + 1` })
      .where(and(eq(logStreams.tenantId, ref.tenantId), eq(logStreams.id, ref.streamId)));
    await tx
      .update(logStreamLeases)
      .set({ nextAttemptAt: sql`now() + ${failure.retryInMs} * interval '1 millisecond'` })
      .where(and(eq(logStreamLeases.tenantId, ref.tenantId), eq(logStreamLeases.streamId, ref.streamId)));
  });
}

/** Locks our lease row for the rest of the transaction, if we still hold it. */
async function stillHeld(tx: Tx, ref: StreamRef, holder: string) {
  const l = logStreamLeases;
  const rows = await tx
    .select({ streamId: l.streamId })
    .from(l)
    .where(
      and(
        eq(l.tenantId, ref.tenantId),
        eq(l.streamId, ref.streamId),
        eq(l.holder, holder),
        gt(l.leaseExpiresAt, sql`now()`),
      ),
    )
    .for('update');
  return rows.length > 0;
}
