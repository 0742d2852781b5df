// Retention policies and legal holds (tenant_retention), read and written as the table's owner
// inside `Database.admin`: the serving role has no grant on it. A hold and a prune of the same
// tenant serialize on the tenant's row: placing a hold takes it FOR NO KEY UPDATE, a prune FOR
// SHARE, so a prune either sees the hold or finishes before the hold is placed. Neither blocks
// appends (their foreign-key checks take FOR KEY SHARE).
import { eq, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { tenantRetention, tenants } from '../../db/schema.ts';
import type { RetentionPeriod } from '../../retention-period.ts';

export type LegalHold = { since: Date; by: string; reason: string };
export type RetentionSettings = { tenantId: number; period: RetentionPeriod | null; hold: LegalHold | null };

const columns = {
  tenantId: tenantRetention.tenantId,
  period: tenantRetention.period,
  holdSince: tenantRetention.holdSince,
  holdBy: tenantRetention.holdBy,
  holdReason: tenantRetention.holdReason,
};
type Row = {
  tenantId: number;
  period: string | null;
  holdSince: Date | null;
  holdBy: string | null;
  holdReason: string | null;
};

function toSettings(tenantId: number, row: Row | undefined): RetentionSettings {
  return {
    tenantId,
    period: (row?.period ?? null) as RetentionPeriod | null,
    hold:
      row?.holdSince && row.holdBy !== null && row.holdReason !== null
        ? { since: row.holdSince, by: row.holdBy, reason: row.holdReason }
        : null,
  };
}

/** The tenant's policy and hold (no row: the default, no hold). */
export async function getRetention(tx: Tx, tenantId: number): Promise<RetentionSettings> {
  const [row] = await tx.select(columns).from(tenantRetention).where(eq(tenantRetention.tenantId, tenantId));
  return toSettings(tenantId, row);
}

/** Every tenant that has a policy or a hold of its own; the others keep the default. */
export async function listRetention(tx: Tx): Promise<RetentionSettings[]> {
  const rows = await tx.select(columns).from(tenantRetention);
  return rows.map((r) => toSettings(r.tenantId, r));
}

/** Sets (or with null clears, back to the default) the tenant's period. */
export async function setRetentionPeriod(
  tx: Tx,
  tenantId: number,
  period: RetentionPeriod | null,
): Promise<void> {
  await tx
    .insert(tenantRetention)
    .values({ tenantId, period })
    .onConflictDoUpdate({ target: tenantRetention.tenantId, set: { period, updatedAt: sql`now()` } });
}

/**
 * Places or lifts the hold under the tenant's row lock, so no prune of the tenant runs across the
 * change. `change` gets the hold as it stands and returns the new one (or throws to refuse).
 */
export async function changeLegalHold(
  tx: Tx,
  tenantId: number,
  change: (current: LegalHold | null) => LegalHold | null,
): Promise<{ before: LegalHold | null; after: LegalHold | null }> {
  await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).for('no key update');
  const before = (await getRetention(tx, tenantId)).hold;
  const after = change(before);
  const hold = {
    holdSince: after?.since ?? null,
    holdBy: after?.by ?? null,
    holdReason: after?.reason ?? null,
  };
  await tx
    .insert(tenantRetention)
    .values({ tenantId, ...hold })
    .onConflictDoUpdate({ target: tenantRetention.tenantId, set: { ...hold, updatedAt: sql`now()` } });
  return { before, after };
}

/** The tenant's hold, with its row locked FOR SHARE until the transaction ends (a prune's first step). */
export async function lockLegalHold(tx: Tx, tenantId: number): Promise<LegalHold | null> {
  await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).for('share');
  return (await getRetention(tx, tenantId)).hold;
}
