// Appending to a tenant's chain: one transaction per batch that locks the head, looks up the
// idempotency keys the batch names, lets planAppend decide, and writes events, head, catalog and
// any checkpoint that fell due, and adds the events to the count rollups.
import { and, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { auditCatalog, chainHeads } from '../../db/schema.ts';
import { idempotencyKeysOf, type PriorRequest, planAppend, type Seal } from '../append-plan.ts';
import type { AppendOutcome, ChainHead, NewEvent } from '../model.ts';
import type { SignedStatement } from '../signer.ts';
import { lockHead } from './chain-heads.ts';
import { saveCheckpoint } from './checkpoints.ts';
import { addToCountRollups } from './count-rollups.ts';
import {
  appendColumns,
  eventColumns,
  INSERT_COLUMNS,
  type InsertRow,
  rowToEvent,
  t,
  toInsertRow,
} from './event-rows.ts';
import { textArray, writeInTenant } from './transaction.ts';

export type ChainHooks = {
  /** Canonical bytes and hash of an event placed after `prev`. */
  seal: Seal;
  /** A signed checkpoint of the new head when one is due, else null. */
  checkpoint: (head: ChainHead, now: Date) => SignedStatement | null;
};

/** The channel that wakes live tails on every instance: payload `<tenantId>:<seq>`. */
export const COMMIT_CHANNEL = 'audit_events';

/**
 * Appends events to the tenant's chain in one transaction. The head row lock serializes appends
 * per tenant, so sequence numbers have no gaps and idempotency keys are checked race-free.
 */
export async function appendEvents(
  db: Db,
  tenantId: number,
  events: NewEvent[],
  hooks: ChainHooks,
  { notify = false }: { notify?: boolean } = {},
): Promise<{ outcomes: AppendOutcome[]; head: ChainHead }> {
  return writeInTenant(db, tenantId, async (tx) => {
    const head = await lockHead(tx, tenantId);
    const prior = await priorRequests(tx, tenantId, idempotencyKeysOf(events));
    const plan = planAppend(events, head, prior, hooks.seal);
    if (plan.inserts.length === 0) return { outcomes: plan.outcomes, head };
    await insertEvents(
      tx,
      plan.inserts.map((i) => toInsertRow(i.event, i.idempotencyKey, i.requestHash, i.canonical)),
    );
    await addToCountRollups(
      tx,
      tenantId,
      plan.inserts.map((i) => i.event),
    );
    await tx
      .update(chainHeads)
      .set({ seq: plan.head.seq, hash: Buffer.from(plan.head.hash, 'hex') })
      .where(eq(chainHeads.tenantId, tenantId));
    await tx
      .insert(auditCatalog)
      .values(plan.catalog.map((c) => ({ tenantId, ...c })))
      .onConflictDoNothing();
    // Delivered to every LISTEN session when this transaction commits, and not at all if it
    // rolls back: a wake-up, never the data (readers read by sequence).
    if (notify) {
      await tx.execute(sql`select pg_notify(${COMMIT_CHANNEL}, ${`${tenantId}:${plan.head.seq}`})`);
    }
    return {
      outcomes: plan.outcomes,
      head: await saveCheckpoint(tx, tenantId, plan.head, hooks.checkpoint(plan.head, new Date())),
    };
  });
}

/** The stored events under these idempotency keys, with the hash of the request that stored each. */
async function priorRequests(tx: Tx, tenantId: number, keys: string[]): Promise<Map<string, PriorRequest>> {
  const prior = new Map<string, PriorRequest>();
  if (keys.length === 0) return prior;
  const rows = await tx
    .select({
      ...eventColumns,
      idempotencyKey: appendColumns.idempotencyKey,
      requestHash: appendColumns.requestHash,
    })
    .from(t)
    .where(and(eq(t.tenantId, tenantId), sql`${t.idempotencyKey} = any(${textArray(keys)})`));
  for (const r of rows) {
    prior.set(r.idempotencyKey as string, {
      requestHash: r.requestHash ? Buffer.from(r.requestHash) : null,
      event: rowToEvent(r),
    });
  }
  return prior;
}

/** A column's values as a text array element: JSON, ISO time and hex bytes are cast back in SQL. */
function asText(value: unknown, type: string): string | number | null {
  if (value === null || value === undefined) return null;
  if (type === 'jsonb') return JSON.stringify(value);
  if (type === 'timestamptz') return (value as Date).toISOString();
  if (type === 'bytea') return Buffer.from(value as Uint8Array).toString('hex');
  return value as string | number;
}

/**
 * Inserts a batch as `INSERT … SELECT FROM unnest(one array per column)`: 30 parameters whatever
 * the batch size. A VALUES list of 1000 events has 30,000, which cost more to build, send and
 * parse than to store.
 */
async function insertEvents(tx: Tx, rows: InsertRow[]): Promise<void> {
  const arrays = INSERT_COLUMNS.map(([key, type]) => {
    const values = rows.map((r) => asText(r[key], type));
    return sql`${sql.param(values)}::${sql.raw(type === 'integer' || type === 'bigint' ? type : 'text')}[]`;
  });
  const names = INSERT_COLUMNS.map(([key]) => sql.identifier(t[key].name));
  const picks = INSERT_COLUMNS.map(([, type], i) =>
    type === 'bytea'
      ? sql.raw(`decode(c${i}, 'hex')`)
      : type === 'jsonb' || type === 'timestamptz' || type === 'uuid'
        ? sql.raw(`c${i}::${type}`)
        : sql.raw(`c${i}`),
  );
  const aliases = sql.raw(INSERT_COLUMNS.map((_, i) => `c${i}`).join(', '));
  await tx.execute(
    sql`insert into ${t} (${sql.join(names, sql`, `)}) select ${sql.join(picks, sql`, `)} from unnest(${sql.join(arrays, sql`, `)}) as u(${aliases})`,
  );
}
