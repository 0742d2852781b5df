// The head row of each tenant's chain: its newest sequence number and hash, and its last checkpoint.
import { eq } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { chainHeads } from '../../db/schema.ts';
import type { ChainHead } from '../model.ts';
import { inTenant } from './transaction.ts';

/** The head, locked for this transaction (created at sequence 0 on the tenant's first append). */
export async function lockHead(tx: Tx, tenantId: number): Promise<ChainHead> {
  const select = () =>
    tx
      .select({
        seq: chainHeads.seq,
        hash: chainHeads.hash,
        checkpointSeq: chainHeads.checkpointSeq,
        checkpointAt: chainHeads.checkpointAt,
      })
      .from(chainHeads)
      .where(eq(chainHeads.tenantId, tenantId))
      .for('update');
  let [row] = await select();
  if (!row) {
    await tx
      .insert(chainHeads)
      .values({ tenantId, seq: 0, hash: Buffer.alloc(32) })
      .onConflictDoNothing();
    [row] = await select();
  }
  if (!row) throw new Error(`chain head of tenant ${tenantId} could not be created`);
  return {
    seq: Number(row.seq),
    hash: Buffer.from(row.hash).toString('hex'),
    checkpointSeq: Number(row.checkpointSeq),
    checkpointAt: row.checkpointAt,
  };
}

export async function getChainHead(db: Db, tenantId: number): Promise<ChainHead | null> {
  return inTenant(db, tenantId, (tx) => readHead(tx, tenantId));
}

/** The head as this transaction sees it (no lock), for reads that must stay within its snapshot. */
export async function readHead(tx: Tx, tenantId: number): Promise<ChainHead | null> {
  const [row] = await tx.select().from(chainHeads).where(eq(chainHeads.tenantId, tenantId));
  return row
    ? {
        seq: Number(row.seq),
        hash: Buffer.from(row.hash).toString('hex'),
        checkpointSeq: Number(row.checkpointSeq),
        checkpointAt: row.checkpointAt,
      }
    : null;
}
