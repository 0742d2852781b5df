// The events table's monthly partitions on a Postgres server (drizzle/0008_time_partitions.sql):
// creating them ahead of need, and dropping a month that every tenant in it is past. The embedded
// database is not partitioned: there these find no partitions and do nothing.

import type { SQL } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import { resultRows, type Tx } from '../../db/client.ts';

/** One month of events: received_at in [from, to). */
export type Partition = { name: string; from: Date; to: Date };

/** What one tenant has in a partition: a run of its chain, and when it was received and occurred. */
export type PartitionShare = {
  tenantId: number;
  fromSeq: number;
  throughSeq: number;
  events: number;
  firstReceivedAt: Date;
  lastReceivedAt: Date;
  firstOccurredAt: Date;
  lastOccurredAt: Date;
};

async function rows<T>(tx: Tx, query: SQL): Promise<T[]> {
  return resultRows<T>(await tx.execute(query));
}

/**
 * Creates the monthly partitions from the month of `from` through the month of `through` that do
 * not exist yet (the migration's `audit_events_add_partitions`); returns how many. Owner only.
 */
export async function addPartitions(tx: Tx, from: Date, through: Date): Promise<number> {
  const [r] = await rows<{ created: number }>(
    tx,
    sql`select public.audit_events_add_partitions(${from.toISOString()}::timestamptz, ${through.toISOString()}::timestamptz) as created`,
  );
  return Number(r?.created ?? 0);
}

/** The monthly partitions that end at or before `before`, oldest first (never the default one). */
export async function partitionsEndingBy(tx: Tx, before: Date): Promise<Partition[]> {
  // The bounds as epoch milliseconds, whatever the session's TimeZone prints them as.
  const found = await rows<{ name: string; from_ms: string | null; to_ms: string | null }>(
    tx,
    sql`select c.relname as name,
               extract(epoch from (regexp_match(b.bound, 'FROM [(]''([^'']+)''[)]'))[1]::timestamptz) * 1000 as from_ms,
               extract(epoch from (regexp_match(b.bound, 'TO [(]''([^'']+)''[)]'))[1]::timestamptz) * 1000 as to_ms
          from pg_inherits i join pg_class c on c.oid = i.inhrelid,
               lateral (select pg_get_expr(c.relpartbound, c.oid) as bound) b
         where i.inhparent = to_regclass('public.audit_events')`,
  );
  const partitions: Partition[] = [];
  for (const { name, from_ms, to_ms } of found) {
    if (from_ms === null || to_ms === null) continue; // the DEFAULT partition
    const p = { name, from: new Date(Number(from_ms)), to: new Date(Number(to_ms)) };
    if (p.to.getTime() <= before.getTime()) partitions.push(p);
  }
  return partitions.sort((a, b) => a.from.getTime() - b.from.getTime());
}

/** Every tenant's share of the partition, read from the partition itself (one scan, no lock). */
export async function partitionShares(tx: Tx, p: Partition): Promise<PartitionShare[]> {
  const found = await rows<Record<string, string | number>>(
    tx,
    sql`select tenant_id, min(seq) as from_seq, max(seq) as through_seq, count(*) as events,
               min(received_at) as first_received, max(received_at) as last_received,
               min(occurred_at) as first_occurred, max(occurred_at) as last_occurred
          from ${sql.identifier(p.name)} group by tenant_id order by tenant_id`,
  );
  return found.map((r) => ({
    tenantId: Number(r.tenant_id),
    fromSeq: Number(r.from_seq),
    throughSeq: Number(r.through_seq),
    events: Number(r.events),
    firstReceivedAt: new Date(r.first_received as string),
    lastReceivedAt: new Date(r.last_received as string),
    firstOccurredAt: new Date(r.first_occurred as string),
    lastOccurredAt: new Date(r.last_occurred as string),
  }));
}

/**
 * Each tenant with events in the partition, and its newest sequence number there: a skip scan of
 * the tenant-leading key, one probe per tenant rather than a scan of the month.
 */
export async function partitionTenants(tx: Tx, p: Partition): Promise<Map<number, number>> {
  const part = sql.identifier(p.name);
  const found = await rows<{ tenant_id: number; through_seq: string }>(
    tx,
    sql`with recursive t(id) as (
          select min(tenant_id) from ${part}
          union all
          select (select min(tenant_id) from ${part} where tenant_id > t.id) from t where t.id is not null
        )
        select id as tenant_id, (select max(seq) from ${part} where tenant_id = t.id) as through_seq
          from t where id is not null`,
  );
  return new Map(found.map((r) => [Number(r.tenant_id), Number(r.through_seq)]));
}

/**
 * Takes the events table's exclusive lock, waiting at most `lockTimeoutMs` (so a long export
 * delays a drop instead of the drop queueing every request behind it), and returns
 * `partitionTenants` as they are now. The caller compares them with the shares it planned from:
 * equal, nothing was added since (a new event's number is above every stored one).
 */
export async function lockForDrop(tx: Tx, p: Partition, lockTimeoutMs: number): Promise<Map<number, number>> {
  await tx.execute(sql`select set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`);
  await tx.execute(sql`lock table public.audit_events in access exclusive mode`);
  return partitionTenants(tx, p);
}

/** Drops the partition, under the lock `lockForDrop` took. */
export async function dropPartition(tx: Tx, p: Partition): Promise<void> {
  await tx.execute(sql`drop table ${sql.identifier(p.name)}`);
}
